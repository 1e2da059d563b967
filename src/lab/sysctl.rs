//! Network sysctls and `/proc/net` of one namespace, read and written by a thread inside it.
//! A sysctl changed in a namespace the lab did not create is put back at teardown.

use nix::errno::Errno;

use super::ledger::Object;
use super::{validate_net, Lab, LabError, Ns, Result};
use crate::engine::{procnet, sysctl, EngineError};

impl Lab {
    /// The value of a network sysctl in `ns`, as `sysctl -n KEY` prints it.
    pub fn sysctl_get(&mut self, ns: &Ns, key: &str) -> Result<String> {
        let parts = validate_net::sysctl_key(key)?;
        let file = self.ns_file(ns)?;
        sysctl::read(&file, &parts).map_err(|e| sysctl_error("read", ns, key, e))
    }

    /// Sets a network sysctl in `ns` (`sysctl -w KEY=VALUE` inside it).
    pub fn sysctl_set(&mut self, ns: &Ns, key: &str, value: &str) -> Result<()> {
        let parts = validate_net::sysctl_key(key)?;
        if value.contains('\n') || value.contains('\0') {
            return Err(LabError::Invalid {
                what: "sysctl value",
                value: value.into(),
                reason: "it must be a single line".into(),
            });
        }
        let file = self.ns_file(ns)?;
        let record = if self.owns(ns) {
            None
        } else {
            let path = parts.join("/");
            if self.sysctl_recorded(ns, &path) {
                None
            } else {
                let old = sysctl::read(&file, &parts).map_err(|e| sysctl_error("read", ns, key, e))?;
                Some(Object::Sysctl { ns: ns.key(), key: path, old })
            }
        };
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let done = sysctl::write(&file, &parts, value);
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        done.map_err(|e| match e.code() {
            Some(Errno::EINVAL) | Some(Errno::ERANGE) => LabError::Failed {
                op: format!("set sysctl {key} in {ns} to {value:?}"),
                detail: "the kernel refused that value".into(),
                errno: e.code(),
            },
            _ => sysctl_error("write", ns, key, e),
        })
    }

    /// Whether the ledger already holds this sysctl's value from before the lab.
    fn sysctl_recorded(&self, ns: &Ns, path: &str) -> bool {
        let Some(Ok(rec)) = self.ledger.as_ref().map(|l| l.read()) else { return false };
        rec.objects
            .iter()
            .chain(rec.pending.iter())
            .any(|o| matches!(o, Object::Sysctl { ns: n, key, .. } if *n == ns.key() && key == path))
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
        _ => LabError::from_engine(op, e),
    }
}
