//! What a neighbour, forwarding-entry or flushed-address ledger line may say (see
//! `ledger_check.rs`): the same rules the language applies before it adds one.

use super::error::LabError;
use super::ledger::Object;
use super::validate;
use super::validate_neigh as v;
use crate::engine::neigh::{NUD_NOARP, NUD_PERMANENT, NUD_REACHABLE, NUD_STALE};

/// The IFA_F_* flags nslab puts back on an address it restores: those a user can set
/// (nodad, homeaddress, mngtmpaddr, noprefixroute, autojoin).
pub const SETTABLE_ADDR_FLAGS: u32 = 0x02 | 0x10 | 0x100 | 0x200 | 0x400;

fn invalid(what: &'static str, value: &str, reason: &str) -> LabError {
    LabError::Invalid { what, value: value.into(), reason: reason.into() }
}

fn namespace(ns: &Option<String>) -> Result<(), LabError> {
    ns.as_deref().map_or(Ok(()), validate::netns_name)
}

pub fn check(obj: &Object) -> Result<(), LabError> {
    match obj {
        Object::Neigh { ns, link, ip, mac, state, proxy, .. } => {
            namespace(ns)?;
            validate::link_name(link)?;
            v::neigh_ip(ip)?;
            if *proxy {
                return if mac.is_empty() { Ok(()) } else { Err(invalid("MAC address", mac, "a proxy entry has none")) };
            }
            v::any_mac(mac)?;
            if ![NUD_PERMANENT, NUD_REACHABLE, NUD_STALE, NUD_NOARP].contains(state) {
                return Err(invalid("neighbour state", &state.to_string(), "it is not one nslab sets"));
            }
            Ok(())
        }
        Object::Fdb { ns, link, mac, dst, vni, master, own, state, .. } => {
            namespace(ns)?;
            validate::link_name(link)?;
            v::any_mac(mac)?;
            if !dst.is_empty() {
                validate::ip_as("remote address", dst)?;
            }
            if let Some(n) = vni {
                v::vni(i64::from(*n))?;
            }
            if !master && !own {
                return Err(invalid("forwarding entry", mac, "it must be the bridge's (master) or the link's own (self)"));
            }
            if ![NUD_PERMANENT | NUD_NOARP, NUD_NOARP | NUD_REACHABLE, NUD_REACHABLE].contains(state) {
                return Err(invalid("forwarding entry state", &state.to_string(), "it is not one nslab sets"));
            }
            Ok(())
        }
        Object::Flushed { ns, link, cidr, peer, broadcast, flags, .. } => {
            namespace(ns)?;
            validate::link_name(link)?;
            let c = validate::cidr(cidr)?;
            if !peer.is_empty() {
                v::peer(peer, c.ip)?;
            }
            if !broadcast.is_empty() {
                v::broadcast(broadcast, c.ip, c.prefix)?;
            }
            if flags & !SETTABLE_ADDR_FLAGS != 0 {
                return Err(invalid("address flags", &format!("{flags:#x}"), "nslab restores only flags a user can set"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neigh(ip: &str, mac: &str, state: u16, proxy: bool) -> Object {
        Object::Neigh { ns: None, ns_inode: 1, link: "eth0".into(), index: 2, ip: ip.into(), mac: mac.into(), state, proxy }
    }

    fn fdb(mac: &str, dst: &str, vni: Option<u32>, master: bool, own: bool) -> Object {
        Object::Fdb {
            ns: None,
            ns_inode: 1,
            link: "vx0".into(),
            index: 5,
            mac: mac.into(),
            dst: dst.into(),
            vni,
            port: None,
            master,
            own,
            state: NUD_PERMANENT | NUD_NOARP,
        }
    }

    fn flushed(cidr: &str, peer: &str, flags: u32) -> Object {
        Object::Flushed {
            ns: Some("a".into()),
            ns_inode: 1,
            link: "eth0".into(),
            index: 2,
            cidr: cidr.into(),
            peer: peer.into(),
            broadcast: String::new(),
            scope: 0,
            flags,
            valid: u32::MAX,
            preferred: u32::MAX,
        }
    }

    #[test]
    fn what_nslab_writes_passes_forgeries_do_not() {
        for ok in [
            neigh("10.0.0.2", "02:00:00:00:00:02", NUD_PERMANENT, false),
            neigh("fd00::2", "02:00:00:00:00:02", NUD_STALE, false),
            neigh("10.0.0.9", "", 0, true),
            fdb("00:00:00:00:00:00", "10.0.0.2", Some(7), false, true),
            fdb("02:00:00:00:00:01", "", None, true, false),
            flushed("10.0.0.1/24", "", 0x200),
            flushed("10.2.0.1/32", "10.2.0.2", 0),
        ] {
            assert!(ok.check().is_ok(), "{ok:?}: {:?}", ok.check());
        }
        for (bad, says) in [
            (neigh("10.0.0.300", "02:00:00:00:00:02", NUD_PERMANENT, false), "invalid neighbour address"),
            (neigh("10.0.0.2", "02:00:00:00:00", NUD_PERMANENT, false), "invalid MAC address"),
            (neigh("10.0.0.2", "02:00:00:00:00:02", 0x20, false), "not one nslab sets"),
            (neigh("10.0.0.2", "02:00:00:00:00:02", 0, true), "a proxy entry has none"),
            (fdb("02:00:00:00:00:01", "evil", None, true, false), "invalid remote address"),
            (fdb("02:00:00:00:00:01", "", Some(1 << 24), false, true), "invalid VNI"),
            (fdb("02:00:00:00:00:01", "", None, false, false), "master"),
            (flushed("10.0.0.1/33", "", 0), "prefix length"),
            (flushed("10.0.0.1/24", "fd00::1", 0), "same family"),
            (flushed("10.0.0.1/24", "", 0x80), "only flags a user can set"),
        ] {
            let e = bad.check().expect_err(&format!("{bad:?} accepted")).to_string();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        let mut forged = neigh("10.0.0.2", "02:00:00:00:00:02", NUD_PERMANENT, false);
        if let Object::Neigh { link, .. } = &mut forged {
            *link = "../../x".into();
        }
        assert!(forged.check().is_err());
    }
}
