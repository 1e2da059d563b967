//! What a ledger line may say: the same rules the language applies before it creates anything
//! (plain namespace names, 15-byte link names, `net/...` sysctl keys without `..`, addresses
//! that parse, real pids). nslab never writes a line that breaks them, so one that does was
//! forged or damaged, and is never acted on (`nslab clean` would otherwise delete or write
//! whatever it names, as root).

use super::error::LabError;
use super::ledger::{Header, Object, SavedQdisc};
use super::{validate, validate_net};
use crate::engine::{route, rule, tc};

/// The largest pid the kernel can hand out (PID_MAX_LIMIT on 64-bit).
const MAX_PID: i32 = 4_194_304;
/// A sysctl value nslab records is one line read from /proc/sys; none is near this long.
const MAX_SYSCTL_VALUE: usize = 4096;

type Check = Result<(), LabError>;

impl Object {
    /// Ok when every field is one nslab could have written. Each variant's fields are checked in
    /// its own function, so a field added later is one more line there.
    pub fn check(&self) -> Check {
        match self {
            Object::Netns { name, .. } => validate::netns_name(name),
            Object::Link { ns, name, peer_ns, .. } => {
                namespace(ns)?;
                validate::link_name(name)?;
                namespace(peer_ns)
            }
            Object::Addr { ns, link, cidr, .. } => {
                namespace(ns)?;
                validate::link_name(link)?;
                validate::cidr(cidr).map(drop)
            }
            Object::Route { ns, dst, via, table, kind, protocol, nexthops, .. } => {
                namespace(ns)?;
                let spec = super::route_spec(dst, via)?;
                route_fields(dst, *table, *kind, *protocol)?;
                for h in nexthops {
                    let hop = super::route_spec(dst, &h.via)?;
                    if !h.via.is_empty() && hop.v6 != spec.v6 && spec.dst.is_some() {
                        return Err(invalid("route", dst, "a nexthop's gateway is of another family"));
                    }
                    if !(1..=256).contains(&h.weight) {
                        return Err(invalid("route", dst, "a nexthop's weight is from 1 to 256"));
                    }
                }
                Ok(())
            }
            Object::Rule { ns, v6, table, action, from, to, iif, oif, protocol, .. } => {
                namespace(ns)?;
                for (what, p) in [("rule source", from), ("rule destination", to)] {
                    if !p.is_empty() {
                        let c = validate::network(what, p)?;
                        if c.ip.is_ipv6() != *v6 {
                            return Err(invalid(what, p, "it is not of the rule's family"));
                        }
                    }
                }
                for name in [iif, oif] {
                    if !name.is_empty() {
                        validate::link_name(name)?;
                    }
                }
                // nslab marks every rule it adds as its own, and adds only these actions.
                if *protocol != route::NSLAB_PROTOCOL || !rule::ACTIONS.iter().any(|(_, a)| a == action) {
                    return Err(invalid(
                        "rule",
                        &format!("priority {table}"),
                        "nslab's rules carry its own protocol number and a lookup, blackhole, unreachable or prohibit action",
                    ));
                }
                Ok(())
            }
            Object::Sysctl { ns, key, old, new, .. } => {
                namespace(ns)?;
                sysctl_path(key)?;
                sysctl_value(old)?;
                sysctl_value(new)
            }
            Object::Qdisc { ns, link, handle, saved, .. } => {
                namespace(ns)?;
                validate::link_name(link)?;
                if !tc::is_nslab_handle(*handle) {
                    return Err(invalid("qdisc handle", &tc::handle_text(*handle), "it is not one nslab gives"));
                }
                saved.as_ref().map_or(Ok(()), saved_qdisc)
            }
            Object::Moved { ns, name, to, .. } => {
                namespace(ns)?;
                validate::link_name(name)?;
                namespace(to)
            }
            Object::LinkSet { ns, name, old, .. } => {
                namespace(ns)?;
                validate::link_name(name)?;
                old.alias.as_deref().map_or(Ok(()), |a| super::validate_links::alias(a, name).map(drop))?;
                old.mac.as_deref().filter(|m| !m.is_empty()).map_or(Ok(()), |m| validate_net::mac(m).map(drop))?;
                old.altnames.iter().try_for_each(|a| super::validate_links::altname(a))
            }
            Object::Process { pid, .. } | Object::Pidns { pid, .. } => process(*pid),
            // `down` and `clean` run `via` (a trusted ledger is root's or the user's own; see
            // docs/ledger-trust.md): one line of text, for a machine of a valid name.
            Object::Machine { name, via, part } => {
                super::inventory::machine_name(name).map_err(|reason| LabError::Invalid {
                    what: "machine name",
                    value: name.clone(),
                    reason,
                })?;
                validate::lab_name(part)?;
                if via.trim().is_empty() || via.contains(['\n', '\r', '\0']) {
                    return Err(LabError::Invalid { what: "via command", value: via.clone(), reason: "one line of text".into() });
                }
                Ok(())
            }
            Object::Neigh { .. } | Object::Fdb { .. } | Object::Flushed { .. } => super::ledger_neigh::check(self),
        }
    }
}

impl Header {
    /// Ok when the header is one nslab wrote for the file `stem`.jsonl.
    pub fn check(&self, stem: &str) -> Check {
        // The same rule a lab's name is held to when the lab opens (`cli/session.rs`).
        validate::lab_name(&self.name)?;
        if self.id.is_empty() || self.id.len() > 16 || !self.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("lab id", &self.id, "it must be 1 to 16 hexadecimal digits"));
        }
        if self.id != stem {
            return Err(invalid("lab id", &self.id, &format!("the ledger is named {stem}.jsonl; nslab names it after the id")));
        }
        process(self.pid)
    }
}

/// A route nslab could have added: a real table (not 0, "unspec"), a type it creates, and a
/// protocol other than the kernel's own marks (0 to 2: unspec, redirect, kernel), so that no
/// record can name a route the kernel made for an address.
fn route_fields(dst: &str, table: u32, kind: u8, protocol: u8) -> Check {
    if table == 0 || !route::TYPES.iter().any(|(_, k)| *k == kind) || protocol < 3 {
        return Err(invalid(
            "route",
            dst,
            "nslab's routes are in a numbered table, of a type it creates, with its own protocol number or one the script gave (3 to 255)",
        ));
    }
    Ok(())
}

fn invalid(what: &'static str, value: &str, reason: &str) -> LabError {
    LabError::Invalid { what, value: value.into(), reason: reason.into() }
}

/// The namespace an object is in: None is where nslab ran.
fn namespace(ns: &Option<String>) -> Check {
    ns.as_deref().map_or(Ok(()), validate::netns_name)
}

/// A sysctl key as recorded: the path below /proc/sys, with '/' ("net/ipv4/ip_forward").
fn sysctl_path(key: &str) -> Check {
    let parts = validate_net::sysctl_key(key)?;
    if parts.join("/") != key {
        return Err(invalid("sysctl key", key, "nslab records keys as paths below /proc/sys, like \"net/ipv4/ip_forward\""));
    }
    Ok(())
}

fn sysctl_value(value: &str) -> Check {
    if value.len() > MAX_SYSCTL_VALUE || value.contains(['\n', '\0']) {
        return Err(invalid("sysctl value", value, "it must be a single line of at most 4096 bytes"));
    }
    Ok(())
}

/// The largest qdisc options nslab records (a root qdisc's TCA_OPTIONS is a few hundred bytes).
const MAX_QDISC_OPTIONS: usize = 8192;

/// A root qdisc someone configured, to be put back: a plain kind and hex options.
fn saved_qdisc(q: &SavedQdisc) -> Check {
    if q.kind.is_empty()
        || q.kind.len() > 15
        || !q.kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(invalid("qdisc kind", &q.kind, "it must be a qdisc's name, like \"tbf\""));
    }
    if q.options.len() > 2 * MAX_QDISC_OPTIONS
        || !q.options.len().is_multiple_of(2)
        || !q.options.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(invalid("qdisc options", &q.options, "they must be at most 8192 bytes in hexadecimal"));
    }
    Ok(())
}

fn process(pid: i32) -> Check {
    if !(2..=MAX_PID).contains(&pid) {
        return Err(invalid("process id", &pid.to_string(), &format!("it must be from 2 to {MAX_PID}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::ledger::RouteHop;
    use super::*;

    fn ok(o: Object) {
        assert!(o.check().is_ok(), "{o:?}: {:?}", o.check());
    }

    fn bad(o: Object, says: &str) {
        let e = o.check().expect_err(&format!("{o:?} accepted")).to_string();
        assert!(e.contains(says), "{o:?}: {e}");
    }

    fn link(ns: Option<&str>, name: &str) -> Object {
        Object::Link { ns: ns.map(Into::into), ns_inode: 1, name: name.into(), index: Some(5), peer_ns: None }
    }

    fn sysctl(key: &str, old: &str) -> Object {
        Object::Sysctl { ns: None, ns_inode: 1, key: key.into(), old: old.into(), new: "1".into() }
    }

    fn addr(cidr: &str) -> Object {
        Object::Addr { ns: Some("a".into()), ns_inode: Some(1), link: "e0".into(), index: Some(3), cidr: cidr.into() }
    }

    fn route(dst: &str, via: &str) -> Object {
        Object::Route {
            ns: None,
            ns_inode: 1,
            table: route::MAIN_TABLE,
            dst: dst.into(),
            metric: 0,
            kind: route::UNICAST,
            dev: None,
            via: via.into(),
            protocol: route::NSLAB_PROTOCOL,
            nexthops: Vec::new(),
        }
    }

    fn rule(ns: Option<&str>, from: &str, iif: &str, action: u8, protocol: u8) -> Object {
        Object::Rule {
            ns: ns.map(Into::into),
            ns_inode: 1,
            v6: false,
            priority: 100,
            table: 100,
            action,
            from: from.into(),
            to: String::new(),
            iif: iif.into(),
            oif: String::new(),
            fwmark: 0,
            fwmask: None,
            protocol,
        }
    }

    fn qdisc(link: &str, handle: u32, saved: Option<(&str, &str)>) -> Object {
        let saved = saved.map(|(kind, options)| SavedQdisc { kind: kind.into(), handle: 0x5_0000, options: options.into() });
        Object::Qdisc { ns: None, ns_inode: 1, link: link.into(), index: 2, handle, saved }
    }

    #[test]
    fn objects_nslab_writes_pass() {
        ok(Object::Netns { name: "h1".into(), inode: Some(4026532000), file: Some(12) });
        ok(link(None, "veth0"));
        ok(link(Some("a"), "abcdefghijklmno"));
        ok(addr("10.0.0.1/24"));
        ok(route("default", "10.0.0.1"));
        ok(route("fd00::/64", ""));
        ok(sysctl("net/ipv4/ip_forward", "0"));
        ok(sysctl("net/ipv4/tcp_rmem", "4096\t131072\t6291456"));
        ok(qdisc("eth0", 0x1ab0_0000, None));
        ok(qdisc("eth0", 0x1ab1_0000, Some(("tbf", "0c00"))));
        ok(Object::Moved {
            ns: None,
            ns_inode: 1,
            name: "eth0".into(),
            index: 2,
            up: true,
            to: Some("a".into()),
            to_inode: 2,
            now: 2,
        });
        ok(Object::Process { pid: 1234, start: 99 });
    }

    #[test]
    fn forged_objects_are_refused() {
        bad(Object::Netns { name: "../precious".into(), inode: None, file: None }, "plain file name");
        bad(Object::Netns { name: "..".into(), inode: None, file: None }, "namespace name");
        bad(Object::Netns { name: "a\0b".into(), inode: None, file: None }, "namespace name");
        bad(link(None, "abcdefghijklmnop"), "16 bytes long");
        bad(link(None, "a/b"), "interface name");
        bad(link(None, "a b"), "interface name");
        bad(link(Some("../x"), "e0"), "namespace name");
        bad(
            Object::Link { ns: None, ns_inode: 1, name: "e0".into(), index: None, peer_ns: Some("x/y".into()) },
            "namespace name",
        );
        bad(addr("10.0.0.300/24"), "invalid address");
        bad(route("10.0.0.0/33", ""), "invalid route destination");
        bad(route("default", "gw"), "invalid gateway");
        // A key that would match someone else's route: another table or protocol.
        let Object::Route { ns, ns_inode, dst, metric, kind, dev, via, .. } = route("default", "10.0.0.1") else {
            unreachable!()
        };
        let foreign = |table, protocol| Object::Route {
            ns: ns.clone(),
            ns_inode,
            table,
            dst: dst.clone(),
            metric,
            kind,
            dev,
            via: via.clone(),
            protocol,
            nexthops: Vec::new(),
        };
        // The kernel's own marks (a connected or local route of the machine's), table 0.
        bad(foreign(254, 2), "its own protocol number or one the script gave");
        bad(foreign(255, 0), "its own protocol number or one the script gave");
        bad(foreign(0, route::NSLAB_PROTOCOL), "in a numbered table");
        let typed = |k| match foreign(255, route::NSLAB_PROTOCOL) {
            Object::Route { ns, ns_inode, table, dst, metric, dev, via, protocol, nexthops, .. } => {
                Object::Route { ns, ns_inode, table, dst, metric, kind: k, dev, via, protocol, nexthops }
            }
            other => other,
        };
        bad(typed(3), "of a type it creates");
        ok(typed(route::LOCAL));
        ok(typed(6));
        ok(foreign(100, 4));
        let hop = |v: &str, weight| match route("10.9.0.0/24", "") {
            Object::Route { ns, ns_inode, table, dst, metric, kind, dev, via, protocol, .. } => Object::Route {
                ns,
                ns_inode,
                table,
                dst,
                metric,
                kind,
                dev,
                via,
                protocol,
                nexthops: vec![RouteHop { via: v.into(), dev: Some(2), weight }],
            },
            other => other,
        };
        ok(hop("10.1.0.2", 1));
        bad(hop("fd00::2", 1), "it is IPv6 but");
        bad(hop("10.1.0.2", 0), "from 1 to 256");
        bad(hop("10.1.0.2/24", 1), "invalid gateway");
        ok(rule(Some("a"), "10.0.0.0/8", "", 1, route::NSLAB_PROTOCOL));
        bad(rule(Some("../x"), "", "", 1, route::NSLAB_PROTOCOL), "namespace name");
        bad(rule(None, "10.0.0.1/8", "", 1, route::NSLAB_PROTOCOL), "host bits");
        bad(rule(None, "fd00::/8", "", 1, route::NSLAB_PROTOCOL), "rule's family");
        bad(rule(None, "", "a/b", 1, route::NSLAB_PROTOCOL), "interface name");
        bad(rule(None, "", "", 1, 2), "own protocol number");
        bad(rule(None, "", "", 2, route::NSLAB_PROTOCOL), "own protocol number");
        bad(qdisc("eth0", 0x0005_0000, None), "not one nslab gives");
        bad(qdisc("eth0", 0x1ab0_0000, Some(("../x", "00"))), "qdisc's name");
        bad(qdisc("eth0", 0x1ab0_0000, Some(("tbf", "0g"))), "hexadecimal");
        bad(
            Object::Moved { ns: None, ns_inode: 1, name: "a/b".into(), index: 2, up: true, to: None, to_inode: 2, now: 2 },
            "interface name",
        );
        bad(sysctl("kernel/hostname", "x"), "only network sysctls");
        bad(sysctl("kernel/core_pattern", "|/tmp/x"), "only network sysctls");
        bad(sysctl("net/../kernel/hostname", "x"), "relative part");
        bad(sysctl("net.ipv4.ip_forward", "0"), "paths below /proc/sys");
        bad(sysctl("net/ipv4/ip_forward", "0\n1"), "single line");
        bad(qdisc("", 0x1ab0_0000, None), "it is empty");
        bad(
            Object::Sysctl { ns: None, ns_inode: 1, key: "net/ipv4/ip_forward".into(), old: "0".into(), new: "1\n2".into() },
            "single line",
        );
        bad(Object::Process { pid: 1, start: 1 }, "from 2 to");
        bad(Object::Process { pid: -5, start: 1 }, "from 2 to");
        bad(Object::Process { pid: i32::MAX, start: 1 }, "from 2 to");
    }

    #[test]
    fn headers() {
        let h = Header { name: "lab".into(), id: "00ab12".into(), pid: 100, pid_start: 5, started: 7 };
        assert!(h.check("00ab12").is_ok());
        assert!(h.check("ffffff").unwrap_err().to_string().contains("named ffffff.jsonl"));
        assert!(Header { name: "../x".into(), ..h.clone() }.check("00ab12").is_err());
        // Any file name is a lab name ("my lab.rhai" makes "my lab"); no path, no NUL.
        assert!(Header { name: "my lab (v2)".into(), ..h.clone() }.check("00ab12").is_ok());
        assert!(Header { name: "a\0b".into(), ..h.clone() }.check("00ab12").is_err());
        assert!(Header { id: "../x".into(), ..h.clone() }.check("../x").is_err());
        assert!(Header { pid: 0, ..h }.check("00ab12").is_err());
    }
}
