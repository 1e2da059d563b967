//! Vxlans the lab made into its own namespaces from another namespace (`vxlan(ns, name,
//! #{underlay})`, one end of a link across machines): deleted before teardown unmounts those
//! namespaces. The kernel's cleanup of an unmounted namespace would take them only later (25-50
//! ms measured, longer behind other work), their UDP sockets and VNIs staying taken in the
//! underlay after nslab has returned: a rerun of the script would find its VNI taken.
//!
//! Each is born in a link group of its own there (`TUNNEL_GROUP`), so that one RTM_DELLINK per
//! namespace deletes them, sent by a child that waits out the kernel's RCU barrier
//! (`engine::group_delete`); namespaces are done a few at a time (the kernel's part is serialised
//! by the RTNL, the waiting overlaps). Measured, 50 namespaces with one tunnel each (idle
//! machine): teardown 25 ms without tunnels; with them 115 ms deleting one namespace's after
//! another (listing and regrouping each first), 85 ms this way. In a sandbox nothing is done:
//! nobody outside sees the underlay, and the sandbox ends with nslab.

use std::fs::File;

use super::{Lab, Ns};
use crate::engine::group_delete;
use crate::engine::link_props::LinkProps;

/// The link group of a tunnel in a lab namespace. Any value would do: only that namespace,
/// which goes with the lab, sees it.
pub(super) const TUNNEL_GROUP: u32 = 0x6e64_0001;

/// How many namespaces' deletes run at once.
const THREADS: usize = 4;

impl Lab {
    /// Deletes the lab's tunnels in its namespaces (best effort: teardown removes the namespaces
    /// either way). Links moved in from outside are left: they go back where they came from.
    pub(super) fn cut_tunnels(&mut self) {
        if crate::engine::sandbox::entered() {
            return;
        }
        let mut work: Vec<(File, Vec<(u32, String)>)> = Vec::new();
        for name in std::mem::take(&mut self.links.tunnels) {
            let ns = Ns::named(name);
            let Ok(conn) = self.conn(&ns) else { continue };
            let Ok(links) = self.block_on(conn.links()) else { continue };
            let mut marked = Vec::new();
            for l in links.iter().filter(|l| l.kind == "vxlan" && l.peer_netnsid.is_some()) {
                if !self.lab_made(&ns, &l.name, l.index) {
                    continue;
                }
                // Made inside a test() it carries the lab's group instead (its undo needs it).
                if l.group != TUNNEL_GROUP {
                    let props = LinkProps { group: Some(TUNNEL_GROUP), ..LinkProps::default() };
                    if self.block_on(conn.set_props(l.index, &props)).is_err() {
                        continue;
                    }
                }
                marked.push((l.index, l.name.clone()));
            }
            let Ok(file) = self.ns_file(&ns) else { continue };
            if let (false, Ok(file)) = (marked.is_empty(), file.try_clone()) {
                work.push((file, marked));
            }
        }
        if work.is_empty() {
            return;
        }
        let home: &File = &self.home;
        let per_thread = work.len().div_ceil(THREADS);
        std::thread::scope(|s| {
            for chunk in work.chunks(per_thread) {
                s.spawn(move || {
                    for (file, marked) in chunk {
                        let _ = group_delete::delete(Some(file), home, TUNNEL_GROUP, marked);
                    }
                });
            }
        });
    }
}
