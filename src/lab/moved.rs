//! Links the lab did not create but moved (`move_to`): recorded by where they came from (their
//! namespace, name and ifindex) and moved back there, under their name, before the namespace
//! they are in goes: deleting a namespace destroys the veths in it, and a link the lab moved
//! into one of its own would otherwise go with it.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;

use nix::errno::Errno;

use super::ledger::Object;
use super::teardown::TeardownReport;
use super::{Lab, LabError, Ns, Result};
use crate::engine::netlink::Conn;
use crate::engine::{netns, EngineError};

/// What the lab changed but did not create, in memory as well as in the ledger: later calls
/// and teardown need it without reading the ledger back.
#[derive(Default)]
pub(super) struct Changed {
    /// Foreign links moved, by where they are now: (namespace, ifindex) -> record.
    pub moved: HashMap<(Option<String>, u32), Object>,
    /// Root qdiscs set on foreign links: (namespace, ifindex) -> record.
    pub qdiscs: HashMap<(Option<String>, u32), Object>,
    /// Routes added outside the lab's namespaces, oldest first.
    pub routes: Vec<Object>,
}

impl Lab {
    /// The inode of a namespace: the identity records name it by.
    pub(super) fn ns_inode(&mut self, ns: &Ns) -> Result<u64> {
        let file = self.ns_file(ns)?;
        netns::inode_of(&file).map_err(|e| LabError::from_engine(format!("inspect {ns}"), e))
    }

    /// Whether the lab created this link (by its current place and ifindex): every link in one
    /// of its namespaces except foreign ones it moved in, and the ones it made elsewhere.
    pub(super) fn lab_made(&self, ns: &Ns, link: &str, index: u32) -> bool {
        if self.owns(ns) {
            !self.changed.moved.contains_key(&(ns.key(), index))
        } else {
            self.made_links.contains(&(ns.key(), link.to_string()))
        }
    }

    /// Notes a foreign link's move from `from` (where it is `index`) to `to`, before the move:
    /// the record of its first move stays its identity (where it came from). Returns the
    /// record to complete with `moved_foreign_done`, and the one of an earlier move, if any.
    pub(super) fn moving_foreign(&mut self, from: &Ns, link: &str, index: u32, to: &Ns) -> Result<(Object, Option<Object>)> {
        let to_inode = self.ns_inode(to)?;
        let previous = self.changed.moved.remove(&(from.key(), index));
        let record = match &previous {
            Some(Object::Moved { ns, ns_inode, name, index: home_index, up, .. }) => Object::Moved {
                ns: ns.clone(),
                ns_inode: *ns_inode,
                name: name.clone(),
                index: *home_index,
                up: *up,
                to: to.key(),
                to_inode,
                now: index,
            },
            _ => {
                let ns_inode = self.ns_inode(from)?;
                let conn = self.conn(from)?;
                let up = self.block_on(conn.link_by_index(index)).ok().flatten().is_some_and(|l| l.up);
                Object::Moved { ns: from.key(), ns_inode, name: link.into(), index, up, to: to.key(), to_inode, now: index }
            }
        };
        self.ledger_mut()?.intent(&record)?;
        Ok((record, previous))
    }

    /// Completes a foreign link's move: its ifindex where it arrived (the kernel keeps it when
    /// it is free there). Back where it came from, the link needs nothing more.
    pub(super) fn moved_foreign_done(&mut self, record: Object, to: &Ns, now: Option<u32>) -> Result<()> {
        let Object::Moved { ns, ns_inode, name, index, up, to_inode, now: expected, .. } = record else { return Ok(()) };
        let now = now.unwrap_or(expected);
        let record = Object::Moved { ns, ns_inode, name, index, up, to: to.key(), to_inode, now };
        if ns_inode == to_inode {
            return self.forget(&record);
        }
        self.ledger_mut()?.made(&record)?;
        self.changed.moved.insert((to.key(), now), record);
        Ok(())
    }

    /// Moves back the foreign links the lab moved into `ns`, before `ns` goes.
    pub(super) fn return_moved_from(&mut self, ns: &Ns) -> Result<()> {
        let here: Vec<u32> = self.changed.moved.keys().filter(|(n, _)| *n == ns.key()).map(|(_, i)| *i).collect();
        for now in here {
            let record = self.changed.moved.remove(&(ns.key(), now)).expect("listed");
            let Object::Moved { ns: home_ns, ns_inode, name, index, up, .. } = &record else { continue };
            let home = match home_ns {
                None => Ns::Root,
                Some(n) => Ns::named(n.clone()),
            };
            let home_file = self.ns_file(&home)?;
            if netns::inode_of(&home_file).ok() != Some(*ns_inode) {
                return Err(LabError::Failed {
                    op: format!("move link {name:?} back to {home}"),
                    detail: "that name now stands for another namespace than the one it came from".into(),
                    errno: None,
                });
            }
            let conn = self.conn(ns)?;
            self.block_on(move_back(&conn, now, &home_file, name, *index, *up))
                .map_err(|e| LabError::from_engine(format!("move link {name:?} back to {home}"), e))?;
            self.indexes.retain(|(n, _), i| !(*n == ns.key() && *i == now));
            self.forget(&record)?;
        }
        Ok(())
    }
}

/// Moves link `now` (on `conn`'s namespace) into `home` as `name`, under its old ifindex when
/// that is free there, and up if it was. Ok(false): the link is gone.
pub(super) async fn move_back(conn: &Conn, now: u32, home: &File, name: &str, index: u32, up: bool) -> Result<bool, EngineError> {
    if conn.link_by_index(now).await?.is_none() {
        return Ok(false);
    }
    match conn.move_as(now, home.as_raw_fd(), name, Some(index), up).await {
        // Its old number is taken there now: any number will do.
        Err(e) if e.code() == Some(Errno::EBUSY) => conn.move_as(now, home.as_raw_fd(), name, None, up).await.map(|()| true),
        other => other.map(|()| true),
    }
}

/// Teardown's first step after processes: every foreign link moved by the lab goes back where
/// it came from, while the namespaces it is in still stand. A link whose namespaces are not the
/// recorded ones any more is left, and said so.
pub(super) fn restore_all(objects: &[Object], home: &File, report: &mut TeardownReport) {
    let moved: Vec<&Object> = objects.iter().rev().filter(|o| matches!(o, Object::Moved { .. })).collect();
    if moved.is_empty() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let _guard = rt.enter();
    for obj in moved {
        let Object::Moved { ns, ns_inode, name, index, up, to, to_inode, now } = obj else { continue };
        let what = format!("link {name} (moved from {})", describe_ns(ns));
        let (Some(there), Some(back)) = (open_checked(to, *to_inode, home), open_checked(ns, *ns_inode, home)) else {
            report.left.push(format!("{what}: the namespaces it moved between are not the recorded ones any more"));
            continue;
        };
        let conn = match Conn::open(there.as_ref(), home) {
            Ok(c) => c,
            Err(e) => {
                report.failures.push(format!("{what}: {}", e.cause));
                continue;
            }
        };
        let back = back.as_ref().unwrap_or(home);
        match rt.block_on(move_back(&conn, *now, back, name, *index, *up)) {
            Ok(true) => report.moved += 1,
            Ok(false) => report.left.push(format!("{what}: no longer in {} (ifindex {now})", describe_ns(to))),
            Err(e) => report.failures.push(format!("{what}: could not move it back: {}", e.cause)),
        }
    }
}

pub(super) fn describe_ns(ns: &Option<String>) -> String {
    match ns {
        None => "the root namespace".into(),
        Some(n) => format!("namespace {n}"),
    }
}

/// Opens a namespace a record names, only if it is still the one recorded (by inode).
/// Some(None): where nslab runs (`home`).
pub(super) fn open_checked(ns: &Option<String>, inode: u64, home: &File) -> Option<Option<File>> {
    match ns {
        None => (netns::inode_of(home).ok() == Some(inode)).then_some(None),
        Some(name) => match netns::at_name(name) {
            netns::AtName::Namespace(found) if found == inode => netns::open_named(name).ok().map(Some),
            _ => None,
        },
    }
}
