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
    /// Rules added outside the lab's namespaces, oldest first.
    pub rules: Vec<Object>,
    /// Settings changed on links (`link_set.rs`): (namespace, ifindex, checkpoint depth) -> record.
    pub link_sets: HashMap<(Option<String>, u32, usize), Object>,
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
            self.links.made.contains(&(ns.key(), link.to_string()))
        }
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
            // (Under another name when its own is taken there: the link itself matters more.)
            self.links.indexes.retain(|(n, _), i| !(*n == ns.key() && *i == now));
            self.forget(&record)?;
        }
        Ok(())
    }
}

/// What moving a link back did.
pub(super) enum Back {
    /// Back under its name.
    Named,
    /// Back, under another name (its own is taken there now): the one it had in the lab, or
    /// one the kernel picked from its name followed by a number.
    Renamed(String),
    /// Not where the record says (never moved, or gone).
    Missing,
}

/// Moves link `now` (on `conn`'s namespace) into `home` as `name`, under its old ifindex when
/// that is free there, and up if it was. Its name taken there, it goes back all the same: the
/// link matters more than its name.
pub(super) async fn move_back(conn: &Conn, now: u32, home: &File, name: &str, index: u32, up: bool) -> Result<Back, EngineError> {
    let Some(link) = conn.link_by_index(now).await? else { return Ok(Back::Missing) };
    let fd = home.as_raw_fd();
    // Its old number taken there now: any number will do.
    let send = |name: String| async move {
        match conn.move_as(now, fd, &name, Some(index), up).await {
            Err(e) if e.code() == Some(Errno::EBUSY) => conn.move_as(now, fd, &name, None, up).await,
            other => other,
        }
    };
    match send(name.to_string()).await {
        Ok(()) => Ok(Back::Named),
        Err(e) if e.code() == Some(Errno::EEXIST) => {
            // The kernel moves a link under its current name when that is free there and
            // renames it afterwards: the move done, only the rename was refused.
            if conn.link_by_index(now).await?.is_none() {
                return Ok(Back::Renamed(link.name));
            }
            // Its current name is taken there too: the kernel picks a free one ("%d").
            let base: String = name.chars().take(13).collect();
            send(format!("{base}%d")).await.map(|()| Back::Renamed(format!("{base} followed by a number")))
        }
        Err(e) => Err(e),
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
        let back_file = back.as_ref().unwrap_or(home);
        let moved_back = match rt.block_on(move_back(&conn, *now, back_file, name, *index, *up)) {
            // Deleted while it was being moved back: as if it were not there.
            Err(e) if super::teardown::already_gone(&e) => Ok(Back::Missing),
            other => other,
        };
        match moved_back {
            Ok(Back::Named) => report.moved += 1,
            Ok(Back::Renamed(current)) => {
                report.moved += 1;
                report.left.push(format!("{what}: moved back as {current}: its name is taken there now"));
            }
            // Never moved (nslab was killed before the move) or moved back already: nothing to
            // say. Anything else: say where it is not.
            Ok(Back::Missing) => {
                let home_conn = Conn::open(back.as_ref(), home);
                let at_home = home_conn
                    .ok()
                    .and_then(|c| rt.block_on(c.link_by_index(*index)).ok().flatten())
                    .is_some_and(|l| l.name == *name);
                if !at_home {
                    report.left.push(format!("{what}: no longer in {} (ifindex {now})", describe_ns(to)));
                }
            }
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
