//! Named namespaces: creating, opening, deleting, listing, and who owns a name.

use std::rc::Rc;

use nix::errno::Errno;

use super::ledger::Object;
use super::spaces::Space;
use super::{validate, Lab, LabError, Ns, Result};
use crate::engine::netns::{self, CreateError};

impl Lab {
    /// Who holds a namespace name: another lab (running, creating it right now, or dead), or
    /// the host.
    fn owner_of_netns(&self, name: &str) -> String {
        if self.spaces.owned.contains(name) {
            return " (this lab created it earlier)".into();
        }
        let listed = |o: &Object| matches!(o, Object::Netns { name: n, .. } if n == name);
        if let Some(owner) = self.other_owner(&listed) {
            return format!(" ({owner})");
        }
        if !is_mount_point(name) {
            // An empty file: what `ip netns add` shows mid-creation, or leaves when interrupted.
            return " (not a namespace mount: being created by another program, or left by an interrupted \
                    `ip netns add`; not created by nslab)"
                .into();
        }
        " (on the host, not created by nslab)".into()
    }

    /// Creates the network namespace `name` (`ip netns add NAME`), with `lo` up.
    pub fn netns_add(&mut self, name: &str) -> Result<()> {
        self.trace(|| format!("ip netns add {}", super::trace::word(name)));
        validate::netns_name(name)?;
        if self.spaces.owned.contains(name) {
            return Err(LabError::Exists {
                what: "namespace",
                name: name.into(),
                owner: " (this lab created it earlier)".into(),
            });
        }
        if !self.spaces.dir_ready {
            netns::prepare_dir().map_err(|e| LabError::from_engine("prepare /run/netns", e))?;
            self.spaces.dir_ready = true;
        }
        // A name already taken must never be written down as this lab's, even for an instant:
        // were nslab killed before noting the failure, `clean` would delete someone else's.
        if netns::netns_path(name).exists() {
            return Err(LabError::Exists { what: "namespace", name: name.into(), owner: self.owner_of_netns(name) });
        }
        // The intent names the namespace by its inode, learnt before the mount: were nslab
        // killed before noting the result, `clean` still tells it from a namesake made later.
        let mut recorded = None;
        let home = self.home.clone();
        let made = netns::create(name, &*home, |p| {
            let intent = Object::Netns { name: name.into(), inode: Some(p.inode), file: p.file };
            self.ledger_mut()?.intent(&intent)?;
            recorded = Some(intent);
            Ok::<(), LabError>(())
        });
        match made {
            Ok(file) => {
                let intent = recorded.expect("recorded before the mount");
                self.ledger_mut()?.made(&intent)?;
                self.spaces.owned.insert(name.into());
                self.count_namespaces();
                self.spaces.open.insert(name.into(), Space { file: Rc::new(file), conn: None, used: 0 });
                Ok(())
            }
            Err(CreateError::Record(e)) => Err(e),
            Err(CreateError::Engine(e)) => {
                if let Some(intent) = recorded {
                    self.ledger_mut()?.failed(&intent)?;
                }
                if e.code() == Some(Errno::EEXIST) {
                    return Err(LabError::Exists { what: "namespace", name: name.into(), owner: self.owner_of_netns(name) });
                }
                Err(LabError::from_engine(format!("create namespace {name:?}"), e))
            }
        }
    }

    /// Checks that a namespace exists (and opens it for later use).
    pub fn netns_open(&mut self, name: &str) -> Result<()> {
        self.space(name).map(|_| ())
    }

    /// Deletes a namespace (`ip netns del`), but never through a symlink, and for one of the
    /// lab's only the namespace it made. Foreign links the lab moved in go back first.
    pub fn netns_del(&mut self, name: &str) -> Result<()> {
        self.trace(|| format!("ip netns delete {}", super::trace::word(name)));
        validate::netns_name(name)?;
        if matches!(netns::at_name(name), netns::AtName::Missing) {
            return Err(LabError::NoSuchNetns(name.into()));
        }
        self.flush()?;
        self.return_moved_from(&Ns::named(name))?;
        // Its veths' ends elsewhere go now, not when the kernel gets round to it (see `link_del.rs`).
        let survivors = self.cut_outside_peers(name)?;
        // The namespace the lab has been working with under this name, if it opened it.
        let expected = self.spaces.open.get(name).and_then(|s| netns::inode_of(&s.file).ok());
        // Our own socket would keep the namespace alive: drop it first.
        self.forget_ns(name);
        netns::delete(name, expected).map_err(|e| LabError::from_engine(format!("delete namespace {name:?}"), e))?;
        if self.spaces.owned.remove(name) {
            self.count_namespaces();
            self.ledger_mut()?.gone(&Object::Netns { name: name.into(), inode: expected, file: None })?;
        }
        self.wait_survivors(name, survivors)
    }

    fn forget_ns(&mut self, name: &str) {
        self.spaces.open.remove(name);
        self.unsettled.forget_ns(&Ns::named(name));
        self.tcp.close_in(&Ns::named(name));
        self.receivers.close_in(&Ns::named(name));
        self.links.forget_ns(&Some(name.to_string()));
    }

    /// The names of the network namespaces there are (`ip netns list`).
    pub fn netns_list(&self) -> Result<Vec<String>> {
        netns::list().map_err(|e| LabError::from_engine("list namespaces", e))
    }

    /// Whether a network namespace named `name` exists.
    pub fn netns_exists(&self, name: &str) -> bool {
        validate::netns_name(name).is_ok() && netns::exists(name)
    }
}

/// Whether /run/netns/NAME has something mounted on it (a namespace has; the empty file left
/// while or after `ip netns add` runs has not). Looked at without opening it, which could block.
fn is_mount_point(name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let path = netns::netns_path(name);
    match (std::fs::symlink_metadata(&path), path.parent().map(std::fs::symlink_metadata)) {
        (Ok(entry), Some(Ok(dir))) => entry.dev() != dir.dev(),
        _ => false,
    }
}

impl Lab {
    /// The namespaces this lab created, sorted: what `pingall` covers.
    pub fn created_namespaces(&self) -> Vec<String> {
        let mut names: Vec<String> = self.spaces.owned.iter().cloned().collect();
        names.sort();
        names
    }

    /// The namespaces this lab works with, sorted: those it created and those it opened by name.
    pub fn lab_namespaces(&self) -> Vec<String> {
        let mut names: Vec<String> = self.spaces.owned.iter().chain(self.spaces.open.keys()).cloned().collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether this lab created the namespace.
    pub fn created_netns(&self, name: &str) -> bool {
        self.spaces.owned.contains(name)
    }

    /// The other names in /run/netns: other labs', other programs', half-made ones.
    pub fn other_namespaces(&self) -> Vec<String> {
        let mine = self.lab_namespaces();
        self.netns_list().unwrap_or_default().into_iter().filter(|n| !mine.contains(n)).collect()
    }
}
