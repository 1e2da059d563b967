//! What a ledger line may say: the same rules the language applies before it creates anything
//! (plain namespace names, 15-byte link names, `net/...` sysctl keys without `..`, addresses
//! that parse, real pids). nslab never writes a line that breaks them, so one that does was
//! forged or damaged, and is never acted on (`nslab clean` would otherwise delete or write
//! whatever it names, as root).

use super::error::LabError;
use super::ledger::{Header, Object};
use super::{validate, validate_net};

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
            Object::Route { ns, dst, via, .. } => {
                namespace(ns)?;
                super::route_spec(dst, via).map(drop)
            }
            Object::Sysctl { ns, key, old, .. } => {
                namespace(ns)?;
                sysctl_path(key)?;
                sysctl_value(old)
            }
            Object::Qdisc { ns, link, .. } => {
                namespace(ns)?;
                validate::link_name(link)
            }
            Object::Process { pid, .. } => process(*pid),
        }
    }
}

impl Header {
    /// Ok when the header is one nslab wrote for the file `stem`.jsonl.
    pub fn check(&self, stem: &str) -> Check {
        // A lab's name is checked like a namespace name when the lab opens (`cli/run.rs`).
        validate::netns_name(&self.name).map_err(|_| invalid("lab name", &self.name, "it is not a plain file name"))?;
        if self.id.is_empty() || self.id.len() > 16 || !self.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("lab id", &self.id, "it must be 1 to 16 hexadecimal digits"));
        }
        if self.id != stem {
            return Err(invalid("lab id", &self.id, &format!("the ledger is named {stem}.jsonl; nslab names it after the id")));
        }
        process(self.pid)
    }
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

fn process(pid: i32) -> Check {
    if !(2..=MAX_PID).contains(&pid) {
        return Err(invalid("process id", &pid.to_string(), &format!("it must be from 2 to {MAX_PID}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(o: Object) {
        assert!(o.check().is_ok(), "{o:?}: {:?}", o.check());
    }

    fn bad(o: Object, says: &str) {
        let e = o.check().expect_err(&format!("{o:?} accepted")).to_string();
        assert!(e.contains(says), "{o:?}: {e}");
    }

    fn link(ns: Option<&str>, name: &str) -> Object {
        Object::Link { ns: ns.map(Into::into), name: name.into(), index: Some(5), peer_ns: None }
    }

    fn sysctl(key: &str, old: &str) -> Object {
        Object::Sysctl { ns: None, key: key.into(), old: old.into() }
    }

    #[test]
    fn objects_nslab_writes_pass() {
        ok(Object::Netns { name: "h1".into(), inode: Some(4026532000) });
        ok(link(None, "veth0"));
        ok(link(Some("a"), "abcdefghijklmno"));
        ok(Object::Addr { ns: Some("a".into()), link: "e0".into(), cidr: "10.0.0.1/24".into() });
        ok(Object::Route { ns: None, dst: "default".into(), via: "10.0.0.1".into() });
        ok(Object::Route { ns: None, dst: "fd00::/64".into(), via: String::new() });
        ok(sysctl("net/ipv4/ip_forward", "0"));
        ok(sysctl("net/ipv4/tcp_rmem", "4096\t131072\t6291456"));
        ok(Object::Qdisc { ns: None, link: "eth0".into() });
        ok(Object::Process { pid: 1234, start: 99 });
    }

    #[test]
    fn forged_objects_are_refused() {
        bad(Object::Netns { name: "../precious".into(), inode: None }, "plain file name");
        bad(Object::Netns { name: "..".into(), inode: None }, "namespace name");
        bad(Object::Netns { name: "a\0b".into(), inode: None }, "namespace name");
        bad(link(None, "abcdefghijklmnop"), "16 bytes long");
        bad(link(None, "a/b"), "interface name");
        bad(link(None, "a b"), "interface name");
        bad(link(Some("../x"), "e0"), "namespace name");
        bad(Object::Link { ns: None, name: "e0".into(), index: None, peer_ns: Some("x/y".into()) }, "namespace name");
        bad(Object::Addr { ns: None, link: "e0".into(), cidr: "10.0.0.300/24".into() }, "invalid address");
        bad(Object::Route { ns: None, dst: "10.0.0.0/33".into(), via: String::new() }, "invalid address");
        bad(Object::Route { ns: None, dst: "default".into(), via: "gw".into() }, "invalid address");
        bad(sysctl("kernel/hostname", "x"), "only network sysctls");
        bad(sysctl("kernel/core_pattern", "|/tmp/x"), "only network sysctls");
        bad(sysctl("net/../kernel/hostname", "x"), "relative part");
        bad(sysctl("net.ipv4.ip_forward", "0"), "paths below /proc/sys");
        bad(sysctl("net/ipv4/ip_forward", "0\n1"), "single line");
        bad(Object::Qdisc { ns: None, link: String::new() }, "it is empty");
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
        assert!(Header { id: "../x".into(), ..h.clone() }.check("../x").is_err());
        assert!(Header { pid: 0, ..h }.check("00ab12").is_err());
    }
}
