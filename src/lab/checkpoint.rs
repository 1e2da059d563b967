//! Undoing part of a running lab: a sub-test (`test(name, || ...)` in scripts) takes a
//! checkpoint when it starts and undoes back to it when it ends, so one failure does not leave
//! state behind that fails the next sub-test too.
//!
//! What to undo is read from the ledger: everything made since the checkpoint. Outside the lab's
//! namespaces every change is recorded anyway; inside a namespace that existed at the checkpoint
//! changes are recorded too while a checkpoint is active (`records`), since the namespace does not
//! go at the end of the sub-test. Sysctls in such a namespace are put back from memory: were the
//! lab to die, they would go with the namespace.

use std::collections::HashSet;

use super::ledger::{Mark, Object};
use super::teardown::{self, TeardownReport};
use super::{Lab, Ns, Result};

/// Where the lab stood when a sub-test started.
pub struct Checkpoint {
    depth: usize,
    mark: Option<Mark>,
}

/// What an active checkpoint keeps in memory.
#[derive(Default)]
pub(super) struct Frame {
    /// The lab's namespaces when it was taken: changes in them are recorded until it ends.
    owned: HashSet<String>,
    /// Sysctls changed in those namespaces since, with the value to put back, oldest first.
    sysctls: Vec<(Ns, Vec<String>, String)>,
    /// The TCP listeners' mark: those started since close when the sub-test ends.
    tcp: u64,
    /// The throughput receivers' mark, likewise.
    receivers: u64,
}

impl Lab {
    /// Notes where the lab stands, to `undo_to` later. Held-back work is carried out first: it
    /// belongs before the checkpoint.
    pub fn checkpoint(&mut self) -> Result<Checkpoint> {
        self.flush()?;
        // The ledger is made here if the lab has none yet: what the sub-test makes is then
        // everything after an empty mark.
        let mark = Some(self.ledger_mut()?.mark());
        self.checkpoints.push(Frame {
            owned: self.spaces.owned.clone(),
            sysctls: Vec::new(),
            tcp: self.tcp.mark(),
            receivers: self.receivers.mark(),
        });
        Ok(Checkpoint { depth: self.checkpoints.len(), mark })
    }

    /// Whether a change in `ns` is recorded: always outside the lab's namespaces, and inside
    /// one that existed when an active checkpoint was taken.
    pub(super) fn records(&self, ns: &Ns) -> bool {
        match ns {
            Ns::Root => true,
            Ns::Named(n) => !self.spaces.owned.contains(n) || self.checkpoints.iter().any(|f| f.owned.contains(n)),
        }
    }

    /// Whether a change to `link` in `ns` is recorded: as `records`, but a link the lab made
    /// outside its namespaces takes its changes with it when it goes, unless a checkpoint, which
    /// may not remove it, is active.
    pub(super) fn records_on_link(&self, ns: &Ns, link: &str) -> bool {
        self.records(ns) && (!self.checkpoints.is_empty() || !self.links.made.contains(&(ns.key(), link.to_string())))
    }

    /// Remembers a sysctl's value before a change in one of the lab's namespaces, when an active
    /// checkpoint must put it back.
    pub(super) fn note_sysctl(&mut self, ns: &Ns, parts: &[String], old: impl FnOnce() -> Option<String>) {
        let Ns::Named(n) = ns else { return };
        let Some(frame) = self.checkpoints.last_mut() else { return };
        if !frame.owned.contains(n) || frame.sysctls.iter().any(|(s, p, _)| s == ns && p == parts) {
            return;
        }
        if let Some(old) = old() {
            frame.sysctls.push((ns.clone(), parts.to_vec(), old));
        }
    }

    /// Removes what was made since `cp` and puts back what was changed, newest first. What
    /// cannot be removed stays recorded, for the lab's teardown.
    pub fn undo_to(&mut self, cp: Checkpoint) -> TeardownReport {
        // Held-back work of the sub-test is the sub-test's: carried out, then undone.
        let _ = self.flush();
        self.checkpoints.truncate(cp.depth);
        let frame = self.checkpoints.pop().unwrap_or_default();
        self.tcp.close_since(frame.tcp);
        self.receivers.close_since(frame.receivers);
        let mut report = TeardownReport::default();
        for (ns, parts, old) in frame.sysctls.iter().rev() {
            let file = self.ns_file(ns).ok();
            match file.map(|f| crate::engine::sysctl::write(&f, parts, old)) {
                Some(Ok(())) => report.sysctls += 1,
                Some(Err(e)) => report.failures.push(format!("sysctl {} in {ns}: {}", parts.join("."), e.cause)),
                None => {}
            }
        }
        let (Some(mark), Some(ledger)) = (cp.mark.as_ref(), self.ledger.as_ref()) else { return report };
        // The programs' PID namespace serves the whole lab, whenever it was made.
        let made: Vec<Object> = ledger.since(mark).into_iter().filter(|o| !matches!(o, Object::Pidns { .. })).collect();
        if made.is_empty() {
            return report;
        }
        let group = ledger.header.link_group();
        self.forget_undone(&made);
        let home = self.home.clone();
        let removed = teardown::remove_part(&made, &home, Some(group));
        if !removed.failed() {
            if let Some(l) = self.ledger.as_mut() {
                let _ = l.undone(mark, &made);
            }
        }
        report.merge(removed);
        report
    }

    /// Lets go of what the lab knows of objects about to be removed: their connections (a socket
    /// keeps a namespace alive), names and indexes.
    fn forget_undone(&mut self, made: &[Object]) {
        let mut spaces: HashSet<&str> = HashSet::new();
        let mut links: HashSet<(Option<String>, String)> = HashSet::new();
        for obj in made {
            match obj {
                Object::Netns { name, .. } => {
                    spaces.insert(name.as_str());
                }
                Object::Link { ns, name, .. } => {
                    links.insert((ns.clone(), name.clone()));
                }
                _ => {}
            }
        }
        let gone = |ns: &Option<String>, name: &str| {
            ns.as_deref().is_some_and(|n| spaces.contains(n)) || links.contains(&(ns.clone(), name.to_string()))
        };
        for name in &spaces {
            self.spaces.open.remove(*name);
            self.spaces.owned.remove(*name);
        }
        self.links.made.retain(|(ns, name)| !gone(ns, name));
        self.links.indexes.retain(|(ns, name), _| !gone(ns, name));
        self.links.peers.retain(|(ns, name), (pns, pname)| !gone(ns, name) && !gone(pns, pname));
        self.links.bridges.retain(|(ns, name)| !gone(&ns.key(), name));
        let made: HashSet<String> = made.iter().map(Object::key).collect();
        self.changed.moved.retain(|_, o| !made.contains(&o.key()));
        self.changed.qdiscs.retain(|_, o| !made.contains(&o.key()));
        self.changed.routes.retain(|o| !made.contains(&o.key()));
        self.changed.rules.retain(|o| !made.contains(&o.key()));
        self.unsettled = Default::default();
    }
}
