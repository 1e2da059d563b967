//! The bridge forwarding database: entries in a bridge's table (`master`, through one of its
//! ports) and in a link's own (`self`: a vxlan's remotes, a bridge device's, a NIC's address
//! list) (`bridge fdb`). Recorded and undone like neighbour entries (see `neigh.rs`).

use std::net::IpAddr;

use nix::errno::Errno;

use super::ledger::Object;
use super::validate_neigh as v;
use super::{Lab, LabError, Ns, Result};
use crate::engine::neigh::{fdb_state_name, FdbEntry, FdbSpec};
use crate::engine::netlink::format_mac;

/// A forwarding entry as the user gives it (everything optional but the link and MAC).
#[derive(Debug, Clone, Default)]
pub struct FdbOptions {
    /// A vxlan remote's address.
    pub dst: Option<String>,
    /// The remote's VNI (default: the vxlan's own).
    pub vni: Option<i64>,
    /// The remote's UDP port (default: the vxlan's own).
    pub port: Option<i64>,
    /// In the bridge's table (`master`).
    pub master: Option<bool>,
    /// In the link's own table (`self`).
    pub own: Option<bool>,
    /// "permanent" (default), "static", "dynamic".
    pub state: Option<String>,
}

/// A forwarding entry, as `fdbs()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FdbView {
    /// The link it is on.
    pub dev: String,
    /// The Ethernet address.
    pub mac: String,
    /// A vxlan remote ("" for none).
    pub dst: String,
    /// Reported only where it differs from the vxlan's own.
    pub vni: Option<u32>,
    /// Reported only where it differs from the vxlan's own.
    pub port: Option<u16>,
    /// "permanent", "static" or "dynamic".
    pub state: String,
    /// In the bridge's table (its name in `bridge`).
    pub master: bool,
    /// In the link's own table.
    pub own: bool,
    /// The bridge of a port's entry ("" for none).
    pub bridge: String,
}

fn matches(e: &FdbEntry, spec: &FdbSpec, mac: &str) -> bool {
    matches_any(e, spec, mac, false)
}

/// Whether a dumped entry is the one `spec` names. A vxlan dumps the VNI and port of a remote
/// only where they differ from its own, so an absent one matches any. `any_dst`: a spec without
/// a remote names every remote of the MAC (as `bridge fdb del` without dst deletes them all).
fn matches_any(e: &FdbEntry, spec: &FdbSpec, mac: &str, any_dst: bool) -> bool {
    e.index == spec.index
        && e.mac == mac
        && (e.dst == spec.dst || (spec.dst.is_none() && any_dst))
        && (e.vni.is_none() || spec.vni.is_none() || e.vni == spec.vni)
        && (e.port.is_none() || spec.port.is_none() || e.port == spec.port)
        // A bridge reports the entries of its own device (added with self) as its table's.
        && ((spec.master && e.master) || (spec.own && (e.own || e.bridge == Some(e.index))))
}

impl Lab {
    /// The entry's request: which table (master when `dev` is a bridge port and neither is
    /// given, self otherwise), the remote, checked against the link.
    fn fdb_spec(&mut self, ns: &Ns, dev: &str, mac: &str, o: &FdbOptions) -> Result<FdbSpec> {
        let bytes = v::any_mac(mac)?;
        let dst = o.dst.as_deref().map(|d| super::validate::ip_as("remote address", d)).transpose()?;
        let vni = o.vni.map(v::vni).transpose()?;
        let port = o.port.map(v::udp_port).transpose()?;
        let state = v::fdb_state(o.state.as_deref().unwrap_or("permanent"))?;
        let index = self.index(ns, dev)?;
        let conn = self.conn(ns)?;
        let link = self
            .block_on(conn.link_by_index(index))
            .map_err(|e| self.link_error(ns, dev, "find", e))?
            .ok_or_else(|| LabError::NoSuchLink { ns: ns.to_string(), link: dev.into() })?;
        let port_of_bridge = link.master.is_some();
        // One given: the other is its opposite (`self: false` means the bridge's table).
        let (master, own) = match (o.master, o.own) {
            (None, None) => (port_of_bridge, !port_of_bridge),
            (Some(m), None) => (m, !m),
            (None, Some(s)) => (!s, s),
            (Some(m), Some(s)) => (m, s),
        };
        if !master && !own {
            return Err(LabError::Invalid {
                what: "forwarding entry",
                value: mac.into(),
                reason: "master and self are both false: it must go to the bridge's table (master) or the link's own (self)"
                    .into(),
            });
        }
        if master && !port_of_bridge {
            return Err(LabError::Refused(format!(
                "link {dev:?} in {ns} is not a bridge port, so there is no bridge table for it (master); \
                 give #{{self: true}} for the link's own table"
            )));
        }
        if (dst.is_some() || vni.is_some() || port.is_some()) && link.kind != "vxlan" {
            return Err(LabError::Refused(format!(
                "dst, vni and port name a vxlan remote; link {dev:?} in {ns} is a {} link, not a vxlan",
                if link.kind.is_empty() { "plain" } else { &link.kind }
            )));
        }
        if (dst.is_some() || vni.is_some() || port.is_some()) && !own {
            return Err(LabError::Refused(format!(
                "dst, vni and port go in the vxlan's own table: give #{{self: true}} for {dev:?} (it is a bridge port)"
            )));
        }
        Ok(FdbSpec { index, mac: bytes, dst, vni, port, master, own, state })
    }

    /// Adds a forwarding entry (`bridge fdb add MAC dev DEV ...`). For a vxlan's all-zero or
    /// multicast MAC (its flood list) each call adds one more remote (`bridge fdb append`).
    pub fn fdb(&mut self, ns: &Ns, dev: &str, mac: &str, o: &FdbOptions) -> Result<()> {
        let spec = self.fdb_spec(ns, dev, mac, o)?;
        let mac_text = format_mac(&spec.mac);
        let flood = spec.own && (spec.mac == [0; 6] || spec.mac[0] & 1 == 1) && spec.dst.is_some();
        // Said once the table is known: `bridge` with neither master nor self picks no table.
        self.trace(|| {
            let state = o.state.as_deref().unwrap_or("permanent");
            let verb = if flood { "append" } else { "add" };
            format!("{} fdb {verb} {mac_text} dev {}{} {state}", bridge_cmd(ns), super::trace::word(dev), fdb_words(&spec))
        });
        if flood {
            // Appending a remote the list has already succeeds without a change: say so instead.
            if self.fdb_entries(ns)?.iter().any(|e| matches(e, &spec, &mac_text)) {
                return Err(LabError::Exists {
                    what: "forwarding entry",
                    name: mac_text,
                    owner: format!(" on link {dev:?} in {ns} with that remote"),
                });
            }
        }
        let record = if self.records_on_link(ns, dev) {
            let ns_inode = self.ns_inode(ns)?;
            Some(fdb_record(ns, ns_inode, dev, &spec))
        } else {
            None
        };
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let conn = self.conn(ns)?;
        let done = self.block_on(conn.fdb_add(&spec, flood));
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        let Err(e) = done else { return Ok(()) };
        Err(match e.code() {
            Some(Errno::EEXIST) => {
                let there: Vec<String> = self
                    .fdbs(ns, Some(dev))?
                    .into_iter()
                    .filter(|f| f.mac == mac_text)
                    .map(|f| if f.dst.is_empty() { f.state } else { format!("dst {} {}", f.dst, f.state) })
                    .collect();
                LabError::Exists {
                    what: "forwarding entry",
                    name: mac_text,
                    owner: format!(" on link {dev:?} in {ns} ({}): remove it first with fdb_del", there.join("; ")),
                }
            }
            // A bridge takes dynamic entries only on a port that learns (up, with carrier).
            Some(Errno::EPERM) if spec.master => LabError::Failed {
                op: format!("add forwarding entry {mac_text} on {dev:?} in {ns}"),
                detail: "the bridge takes a dynamic entry only on a port in the learning or forwarding state \
                         (up, with carrier): bring the port up, or add it as \"static\" or \"permanent\""
                    .into(),
                errno: Some(Errno::EPERM),
            },
            Some(Errno::EINVAL) if spec.own && o.state.as_deref().is_some_and(|s| s != "permanent") && spec.dst.is_none() => {
                LabError::Failed {
                    op: format!("add forwarding entry {mac_text} on {dev:?} in {ns}"),
                    detail: "a link's own address list takes only permanent entries".into(),
                    errno: Some(Errno::EINVAL),
                }
            }
            Some(Errno::EAFNOSUPPORT) if spec.dst.is_some() => LabError::Failed {
                op: format!("add forwarding entry {mac_text} on {dev:?} in {ns}"),
                detail: format!(
                    "the remote {} is not of the vxlan's own family: a vxlan's remotes are all IPv4 or all IPv6, \
                     like its local address",
                    spec.dst.map(|d| d.to_string()).unwrap_or_default()
                ),
                errno: Some(Errno::EAFNOSUPPORT),
            },
            _ => self.link_error(ns, dev, &format!("add forwarding entry {mac_text} on"), e),
        })
    }

    /// Deletes a forwarding entry (a vxlan's: the remote `dst` / `vni` names) (`bridge fdb del`).
    pub fn fdb_del(&mut self, ns: &Ns, dev: &str, mac: &str, o: &FdbOptions) -> Result<()> {
        let spec = self.fdb_spec(ns, dev, mac, &FdbOptions { state: None, port: None, ..o.clone() })?;
        let mac_text = format_mac(&spec.mac);
        self.trace(|| format!("{} fdb del {mac_text} dev {}{}", bridge_cmd(ns), super::trace::word(dev), fdb_words(&spec)));
        // Looked up first: the kernel's answers for a missing entry differ by table (ENOENT from
        // a bridge or vxlan, EINVAL from a link's address list).
        let present = self.fdb_entries(ns)?.iter().any(|e| matches_any(e, &spec, &mac_text, true));
        let conn = self.conn(ns)?;
        let deleted = if present { self.block_on(conn.fdb_del(&spec)).map(|()| true) } else { Ok(false) };
        let missing = match deleted {
            Ok(gone) => !gone,
            Err(e) if matches!(e.code(), Some(Errno::ENOENT | Errno::ENXIO)) => true,
            Err(e) => return Err(self.link_error(ns, dev, &format!("delete forwarding entry {mac_text} on"), e)),
        };
        if missing {
            let there: Vec<String> = self
                .fdbs(ns, Some(dev))?
                .into_iter()
                .map(|f| if f.dst.is_empty() { f.mac } else { format!("{} dst {}", f.mac, f.dst) })
                .collect();
            let table = if spec.master { "the bridge's table" } else { "its own table" };
            let has = if there.is_empty() { "it has none".to_string() } else { format!("its entries: {}", there.join(", ")) };
            let what = spec.dst.map(|d| format!("{mac_text} dst {d}")).unwrap_or(mac_text);
            return Err(LabError::Refused(format!("link {dev:?} in {ns} has no entry {what} in {table}; {has}")));
        }
        // Whichever of the lab's entries on this link is no longer there is no longer the lab's.
        let Some(ledger) = self.ledger.as_ref() else { return Ok(()) };
        let mine: Vec<Object> = ledger
            .standing()
            .into_iter()
            .filter(|r| matches!(r, Object::Fdb { ns: n, index, mac: m, .. } if *n == ns.key() && *index == spec.index && *m == mac_text))
            .collect();
        if mine.is_empty() {
            return Ok(());
        }
        let entries = self.fdb_entries(ns)?;
        for r in mine {
            let still = fdb_record_spec(&r).is_some_and(|s| entries.iter().any(|e| matches(e, &s, &mac_text)));
            if !still {
                self.forget(&r)?;
            }
        }
        Ok(())
    }

    /// The forwarding entries of `ns`, of `dev` only when given (`bridge fdb show [dev DEV]`).
    pub fn fdbs(&mut self, ns: &Ns, dev: Option<&str>) -> Result<Vec<FdbView>> {
        let only = dev.map(|d| self.index(ns, d)).transpose()?;
        let conn = self.conn(ns)?;
        let links = self.block_on(conn.links()).map_err(|e| LabError::from_engine(format!("list links in {ns}"), e))?;
        let entries = self.fdb_entries(ns)?;
        let name_of = |i: u32| links.iter().find(|l| l.index == i).map(|l| l.name.clone()).unwrap_or_default();
        Ok(entries
            .into_iter()
            .filter(|e| only.is_none_or(|i| e.index == i))
            .map(|e| FdbView {
                dev: name_of(e.index),
                dst: e.dst.map(|d| d.to_string()).unwrap_or_default(),
                vni: e.vni,
                port: e.port,
                state: fdb_state_name(e.state).into(),
                master: e.master,
                own: e.own,
                bridge: e.bridge.map(name_of).unwrap_or_default(),
                mac: e.mac,
            })
            .collect())
    }

    fn fdb_entries(&mut self, ns: &Ns) -> Result<Vec<FdbEntry>> {
        let conn = self.conn(ns)?;
        self.block_on(conn.fdb_dump()).map_err(|e| LabError::from_engine(format!("list forwarding entries in {ns}"), e))
    }
}

/// `bridge` for `ns`: `bridge -n NAME` for a named namespace.
fn bridge_cmd(ns: &Ns) -> String {
    match ns {
        Ns::Root => "bridge".into(),
        Ns::Named(n) => format!("bridge -n {}", super::trace::word(n)),
    }
}

/// An entry's table and remote as `bridge fdb` words.
fn fdb_words(s: &FdbSpec) -> String {
    let mut out = String::new();
    if s.master {
        out += " master";
    }
    if s.own {
        out += " self";
    }
    if let Some(d) = s.dst {
        out += &format!(" dst {d}");
    }
    if let Some(v) = s.vni {
        out += &format!(" vni {v}");
    }
    if let Some(p) = s.port {
        out += &format!(" port {p}");
    }
    out
}

fn fdb_record(ns: &Ns, ns_inode: u64, dev: &str, s: &FdbSpec) -> Object {
    Object::Fdb {
        ns: ns.key(),
        ns_inode,
        link: dev.into(),
        index: s.index,
        mac: format_mac(&s.mac),
        dst: s.dst.map(|d| d.to_string()).unwrap_or_default(),
        vni: s.vni,
        port: s.port,
        master: s.master,
        own: s.own,
        state: s.state,
    }
}

/// The request a ledger record names (None: it does not parse).
pub(super) fn fdb_record_spec(r: &Object) -> Option<FdbSpec> {
    let Object::Fdb { index, mac, dst, vni, port, master, own, state, .. } = r else { return None };
    let dst: Option<IpAddr> = if dst.is_empty() { None } else { Some(dst.parse().ok()?) };
    Some(FdbSpec {
        index: *index,
        mac: v::any_mac(mac).ok()?,
        dst,
        vni: *vni,
        port: *port,
        master: *master,
        own: *own,
        state: *state,
    })
}

/// Whether the dumped entries still hold the entry a record names, as the lab left it.
pub(super) fn fdb_still_there(entries: &[FdbEntry], spec: &FdbSpec) -> bool {
    let mac = format_mac(&spec.mac);
    entries.iter().any(|e| matches(e, spec, &mac) && fdb_state_name(e.state) == fdb_state_name(spec.state))
}
