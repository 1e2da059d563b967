//! Ports and masters: attaching a link to a bridge (or bond, or vrf) and freeing it again.

use nix::errno::Errno;

use super::{Lab, LabError, Ns, Result};

/// The kinds of link the kernel lets other links join as ports (`ip link set LINK master M`).
pub(super) const TAKES_PORTS: &[&str] = &["bridge", "bond", "vrf", "team", "openvswitch"];

/// "a veth link", "a link without a kind" (lo, a physical NIC).
pub(super) fn kind_text(kind: &str) -> String {
    if kind.is_empty() {
        "a link without a kind".into()
    } else {
        format!("a {kind} link")
    }
}

impl Lab {
    /// Makes `link` a port of `master` (`ip link set LINK master BRIDGE`); both in `ns`.
    pub fn master(&mut self, ns: &Ns, link: &str, master: &str) -> Result<()> {
        self.trace(|| {
            format!("{} link set {} master {}", super::trace::ip(ns), super::trace::word(link), super::trace::word(master))
        });
        self.passing(|lab| lab.master_now(ns, link, master))
    }

    fn master_now(&mut self, ns: &Ns, link: &str, master: &str) -> Result<()> {
        let m = self.index(ns, master)?;
        let op = format!("attach link {link:?} to {master:?} in {ns}");
        let done = self.on_link(ns, link, "attach", |conn, index| async move { conn.set_master(index, Some(m)).await });
        match done {
            Err(LabError::Failed { errno: Some(Errno::EOPNOTSUPP), .. }) => {
                // The kernel says EOPNOTSUPP: "Device does not allow enslaving to it".
                let conn = self.conn(ns)?;
                let kind = kind_text(&self.block_on(conn.link_by_name(master)).map(|l| l.kind).unwrap_or_default());
                Err(LabError::Failed {
                    op,
                    detail: format!("{master:?} is {kind}, not a bridge, bond or vrf, so it cannot take ports"),
                    errno: Some(Errno::EOPNOTSUPP),
                })
            }
            Err(LabError::Failed { errno: Some(Errno::ELOOP), .. }) => {
                Err(LabError::Failed { op, detail: "that would put a link inside itself".into(), errno: Some(Errno::ELOOP) })
            }
            other => other,
        }
    }

    /// Frees `link` from its master (`ip link set LINK nomaster`); nothing happens if it has none.
    pub fn nomaster(&mut self, ns: &Ns, link: &str) -> Result<()> {
        self.trace(|| format!("{} link set {} nomaster", super::trace::ip(ns), super::trace::word(link)));
        self.on_link(ns, link, "detach", |conn, index| async move { conn.set_master(index, None).await })
    }
}
