//! Running programs and sending pings inside namespaces.

use std::net::IpAddr;
use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nix::errno::Errno;

use super::{validate, ExecOutput, Lab, LabError, Ns, Result};
use crate::engine::exec;
use crate::engine::icmp::{PingOptions, PingReport};
use crate::engine::netlink::LinkInfo;

impl Lab {
    pub fn exec(&mut self, ns: &Ns, argv: &[String]) -> Result<ExecOutput> {
        self.flush()?;
        if argv.is_empty() {
            return Err(LabError::Invalid { what: "command", value: String::new(), reason: "it is empty".into() });
        }
        let file = match ns {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(ns)?),
        };
        let ns_name = ns.key();
        let placement = exec::Placement { ns: file.as_deref(), ns_name: ns_name.as_deref() };
        let cancel = self.cancel.clone();
        let out: Output = exec::run(argv, &placement, &|| cancel.load(Ordering::Relaxed)).map_err(|e| match e.code() {
            Some(Errno::ENOENT) => LabError::Failed {
                op: format!("run {:?} in {ns}", argv[0]),
                detail: "no such program (is it installed and on PATH?)".into(),
                errno: Some(Errno::ENOENT),
            },
            _ => LabError::from_engine(format!("run {:?} in {ns}", argv[0]), e),
        })?;
        if self.cancelled() {
            return Err(LabError::Interrupted);
        }
        use std::os::unix::process::ExitStatusExt;
        let code = out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
        Ok(ExecOutput {
            code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Waits (at most a second) until links brought up have been activated by the kernel's link
    /// watcher, which runs asynchronously: a packet sent on a link in between is silently dropped,
    /// and a first ping right after `up` would fail for no reason the user could see.
    /// Both directions matter (the reply leaves through the peer), so every namespace touched
    /// since the last ping is checked.
    fn settle(&mut self) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        for ns in std::mem::take(&mut self.unsettled) {
            let Ok(conn) = self.conn(&ns) else { continue }; // deleted since: nothing to wait for
            loop {
                let links = self.block_on(conn.links()).map_err(|e| LabError::from_engine(format!("list links in {ns}"), e))?;
                if !links.iter().any(LinkInfo::settling) || std::time::Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    pub fn ping(&mut self, ns: &Ns, dst: &str, opts: &PingOptions) -> Result<PingReport> {
        let ip: IpAddr = validate::ip(dst)?;
        self.flush()?;
        self.settle()?;
        let file = match ns {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(ns)?),
        };
        let cancel = self.cancel.clone();
        let report = crate::engine::icmp::ping(file.as_deref(), &self.home, ip, opts, &|| cancel.load(Ordering::Relaxed))
            .map_err(|e| LabError::from_engine(format!("ping {dst} from {ns}"), e))?;
        if self.cancelled() {
            return Err(LabError::Interrupted);
        }
        Ok(report)
    }
}
