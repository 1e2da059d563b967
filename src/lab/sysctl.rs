//! Network sysctls and `/proc/net` of one namespace, read and written by a thread inside it.
//! A sysctl changed in a namespace the lab did not create is a setting shared with the other
//! live labs, put back at teardown if it still holds the lab's value.

use nix::errno::Errno;

use std::fs::File;
use std::path::Path;

use super::ledger::{self, Object};
use super::shared_settings::{self, Access, Holder, TakeError, SHARED_DIR};
use super::{validate_net, Lab, LabError, Ns, Result};
use crate::engine::{netns, procnet, sysctl, EngineError, Result as EngineResult};

impl Lab {
    /// The value of a network sysctl in `ns`, as `sysctl -n KEY` prints it.
    pub fn sysctl_get(&mut self, ns: &Ns, key: &str) -> Result<String> {
        let parts = validate_net::sysctl_key(key)?;
        let file = self.ns_file(ns)?;
        sysctl::read(&file, &parts).map_err(|e| sysctl_error("read", ns, key, e))
    }

    /// Sets a network sysctl in `ns` (`sysctl -w KEY=VALUE` inside it).
    pub fn sysctl_set(&mut self, ns: &Ns, key: &str, value: &str) -> Result<()> {
        self.trace(|| format!("{}sysctl -qw {}", super::trace::inside(ns), super::trace::word(&format!("{key}={value}"))));
        let parts = validate_net::sysctl_key(key)?;
        if value.contains('\n') || value.contains('\0') {
            return Err(LabError::Invalid {
                what: "sysctl value",
                value: value.into(),
                reason: "it must be a single line".into(),
            });
        }
        let file = self.ns_file(ns)?;
        let done = if self.owns(ns) {
            self.note_sysctl(ns, &parts, || sysctl::read(&file, &parts).ok());
            sysctl::write(&file, &parts, value)
        } else {
            self.shared_sysctl_set(ns, &file, &parts, value)?
        };
        done.map_err(|e| match e.code() {
            // The kernel says no more; the value it holds shows the form it takes.
            Some(Errno::EINVAL) | Some(Errno::ERANGE) => LabError::Failed {
                op: format!("set sysctl {key} in {ns} to {value:?}"),
                detail: match sysctl::read(&file, &parts) {
                    Ok(now) => format!("the kernel refused that value (it holds {:?} now)", now.trim()),
                    Err(_) => "the kernel refused that value".into(),
                },
                errno: e.code(),
            },
            _ => sysctl_error("write", ns, key, e),
        })
    }

    /// Sets a sysctl outside the lab's namespaces: a setting shared with the other live labs
    /// (see `shared_settings.rs`), recorded with the value from before the first lab and the
    /// lab's own, so that teardown restores it only while it holds the lab's value.
    /// The outer error is the lab's (the ledger, another lab holding it), the inner the kernel's.
    fn shared_sysctl_set(&mut self, ns: &Ns, file: &File, parts: &[String], value: &str) -> Result<EngineResult<()>> {
        let path = parts.join("/");
        let key = parts.join(".");
        let ns_inode = netns::inode_of(file).map_err(|e| LabError::from_engine(format!("inspect {ns}"), e))?;
        // The ledger (and its directory) first: the shared record lives next to it.
        let id = self.ledger_mut()?.header.id.clone();
        let pid = std::process::id() as i32;
        let me = Holder { id, name: self.opts.name.clone(), pid, start: ledger::process_start(pid).unwrap_or(0) };
        let read = || sysctl::read(file, parts);
        let write = |v: &str| sysctl::write(file, parts, v);
        let access = Access { read: &read, write: &write };
        let mut intent = None;
        let taken = shared_settings::take(Path::new(SHARED_DIR), ns_inode, &path, &me, value, &access, |old| {
            let r = Object::Sysctl { ns: ns.key(), ns_inode, key: path.clone(), old: old.into(), new: value.into() };
            self.ledger_mut()?.intent(&r)?;
            intent = Some(r);
            Ok::<(), LabError>(())
        });
        match taken {
            Ok((old, new)) => {
                let made = Object::Sysctl { ns: ns.key(), ns_inode, key: path, old, new };
                self.ledger_mut()?.made(&made)?;
                Ok(Ok(()))
            }
            Err(TakeError::Held { by, value: held }) => Err(LabError::Failed {
                op: format!("set sysctl {key} in {ns} to {value:?}"),
                detail: format!(
                    "{by} holds it at {held:?}: a setting outside the labs' own namespaces is shared by the labs that \
                     run, and none changes it under another (ask for {held:?}, or wait until that lab ends)"
                ),
                errno: Some(Errno::EBUSY),
            }),
            Err(TakeError::Record(e)) => Err(e),
            Err(TakeError::Access(e)) => {
                if let Some(r) = &intent {
                    self.ledger_mut()?.failed(r)?;
                }
                Ok(Err(e))
            }
            Err(TakeError::Failed(detail)) => {
                if let Some(r) = &intent {
                    self.ledger_mut()?.failed(r)?;
                }
                Err(LabError::Failed { op: format!("set sysctl {key} in {ns} to {value:?}"), detail, errno: None })
            }
        }
    }

    /// Routes packets between the namespace's links, for IPv4 and IPv6
    /// (net.ipv4.ip_forward and net.ipv6.conf.all.forwarding).
    pub fn forwarding(&mut self, ns: &Ns, on: bool) -> Result<()> {
        let value = if on { "1" } else { "0" };
        self.sysctl_set(ns, "net.ipv4.ip_forward", value)?;
        match self.sysctl_set(ns, "net.ipv6.conf.all.forwarding", value) {
            // A kernel without IPv6 has no such key: there is nothing to forward then.
            Err(LabError::Failed { errno: Some(Errno::ENOENT), .. }) if !std::path::Path::new("/proc/sys/net/ipv6").exists() => {
                Ok(())
            }
            other => other,
        }
    }

    /// `/proc/net/FILE` as `ns` sees it.
    pub fn proc_net(&mut self, ns: &Ns, name: &str) -> Result<String> {
        validate_net::proc_net_file(name)?;
        let file = self.ns_file(ns)?;
        procnet::read(&file, name).map_err(|e| {
            let op = format!("read /proc/net/{name} in {ns}");
            match e.code() {
                Some(Errno::ENOENT) => {
                    let there = procnet::list(&file).map(|l| l.join(", ")).unwrap_or_default();
                    LabError::Failed {
                        op,
                        detail: format!("there is no such file; /proc/net has: {there}"),
                        errno: Some(Errno::ENOENT),
                    }
                }
                Some(Errno::EISDIR) => LabError::Failed {
                    op,
                    detail: "it is a directory; proc_net reads files directly in /proc/net".into(),
                    errno: Some(Errno::EISDIR),
                },
                _ => LabError::from_engine(op, e),
            }
        })
    }
}

fn sysctl_error(verb: &str, ns: &Ns, key: &str, e: EngineError) -> LabError {
    let op = format!("{verb} sysctl {key} in {ns}");
    match e.code() {
        Some(Errno::ENOENT) => LabError::Failed { op, detail: "there is no such key".into(), errno: Some(Errno::ENOENT) },
        Some(Errno::EISDIR) => LabError::Failed {
            op,
            detail: format!("{key} is a group of settings, not one; name one inside it (like \"net.ipv4.ip_forward\")"),
            errno: Some(Errno::EISDIR),
        },
        _ => LabError::from_engine(op, e),
    }
}
