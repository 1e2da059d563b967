//! What `route`, `route_del`, `routes`, `route_get`, `rule` and `rule_del` accept, checked
//! before the kernel sees it: table, type, scope, protocol and action names, weights, families.

use std::net::IpAddr;

use super::error::LabError;
use super::validate;
use crate::engine::{route, rule};

/// A value a script may give as a name or a number (a table, a scope, a protocol).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOrNumber {
    /// Given as text.
    Name(String),
    /// Given as an integer.
    Number(i64),
}

impl std::fmt::Display for NameOrNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameOrNumber::Name(s) => write!(f, "{s}"),
            NameOrNumber::Number(n) => write!(f, "{n}"),
        }
    }
}

fn invalid(what: &'static str, value: impl std::fmt::Display, reason: impl Into<String>) -> LabError {
    LabError::Invalid { what, value: value.to_string(), reason: reason.into() }
}

/// A routing table: 1 to 4294967295, or "main" (254), "local" (255), "default" (253).
pub fn table(t: &NameOrNumber) -> Result<u32, LabError> {
    const WHY: &str = "a table is a number from 1 to 4294967295 or \"main\", \"local\" or \"default\"";
    match t {
        NameOrNumber::Name(n) => match n.as_str() {
            "main" => Ok(route::MAIN_TABLE),
            "local" => Ok(route::LOCAL_TABLE),
            "default" => Ok(route::DEFAULT_TABLE),
            _ => n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| invalid("table", t, WHY)),
        },
        NameOrNumber::Number(n) => u32::try_from(*n).ok().filter(|n| *n > 0).ok_or_else(|| invalid("table", t, WHY)),
    }
}

/// Which tables `routes` lists: None for every table ("all" or 0).
pub fn table_filter(t: &NameOrNumber) -> Result<Option<u32>, LabError> {
    match t {
        NameOrNumber::Name(n) if n == "all" => Ok(None),
        NameOrNumber::Number(0) => Ok(None),
        _ => table(t).map(Some).map_err(|_| {
            invalid(
                "table",
                t,
                "give a number from 1 to 4294967295, \"main\", \"local\", \"default\", or \"all\" (or 0) for every table",
            )
        }),
    }
}

/// A route type nslab creates ("unicast", "local", "blackhole", "unreachable", "prohibit", "throw").
pub fn route_type(name: &str) -> Result<u8, LabError> {
    route::TYPES.iter().find(|(n, _)| *n == name).map(|(_, k)| *k).ok_or_else(|| {
        let names: Vec<String> = route::TYPES.iter().map(|(n, _)| format!("{n:?}")).collect();
        invalid("route type", name, format!("it must be one of {}", names.join(", ")))
    })
}

/// A route scope: "global" (or "universe"), "site", "link", "host", or 0 to 255.
pub fn scope(s: &NameOrNumber) -> Result<u8, LabError> {
    const WHY: &str = "a scope is \"global\", \"site\", \"link\", \"host\" or a number from 0 to 255";
    match s {
        NameOrNumber::Name(n) => match n.as_str() {
            "global" | "universe" => Ok(0),
            "site" => Ok(200),
            "link" => Ok(route::SCOPE_LINK),
            "host" => Ok(route::SCOPE_HOST),
            _ => n.parse::<u8>().map_err(|_| invalid("scope", s, WHY)),
        },
        NameOrNumber::Number(n) => u8::try_from(*n).map_err(|_| invalid("scope", s, WHY)),
    }
}

/// A routing protocol a route may be marked with: a name iproute2 knows ("static", "bird", ...,
/// and "nslab") or 3 to 255. 0 to 2 (unspec, redirect, kernel) are the kernel's own marks.
pub fn protocol(p: &NameOrNumber) -> Result<u8, LabError> {
    let number = match p {
        NameOrNumber::Name(n) => {
            route::PROTOCOLS.iter().find(|(name, _)| name == n).map(|(_, x)| i64::from(*x)).or_else(|| n.parse().ok())
        }
        NameOrNumber::Number(n) => Some(*n),
    };
    match number.and_then(|n| u8::try_from(n).ok()) {
        Some(n) if n >= 3 => Ok(n),
        _ => {
            let names: Vec<&str> = route::PROTOCOLS.iter().filter(|(_, n)| *n >= 3).map(|(s, _)| *s).collect();
            Err(invalid(
                "route protocol",
                p,
                format!("it must be a number from 3 to 255 or one of {} (0 to 2 mark the kernel's own routes)", names.join(", ")),
            ))
        }
    }
}

/// A multipath nexthop's weight: 1 to 256 (`ip route ... nexthop ... weight N`).
pub fn weight(w: i64) -> Result<u16, LabError> {
    u16::try_from(w)
        .ok()
        .filter(|w| (1..=256).contains(w))
        .ok_or_else(|| invalid("nexthop weight", w, "it must be from 1 to 256"))
}

/// A family name: "inet" (false) or "inet6" (true).
pub fn family(name: &str) -> Result<bool, LabError> {
    match name {
        "inet" | "ipv4" => Ok(false),
        "inet6" | "ipv6" => Ok(true),
        _ => Err(invalid("family", name, "it must be \"inet\" (IPv4) or \"inet6\" (IPv6)")),
    }
}

/// A rule action ("lookup", "blackhole", "unreachable", "prohibit").
pub fn action(name: &str) -> Result<u8, LabError> {
    rule::ACTIONS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a).ok_or_else(|| {
        let names: Vec<String> = rule::ACTIONS.iter().map(|(n, _)| format!("{n:?}")).collect();
        invalid("rule action", name, format!("it must be one of {}", names.join(", ")))
    })
}

/// A rule's or route's address selector: "all"/"default" (None), an address (a host: /32 or
/// /128) or a network without host bits.
pub fn prefix(what: &'static str, text: &str) -> Result<Option<(IpAddr, u8)>, LabError> {
    if text == "all" || text == "default" {
        return Ok(None);
    }
    let c = validate::network(what, text)?;
    Ok(Some((c.ip, c.prefix)))
}

/// A firewall mark with an optional mask: a number, or text "MARK" / "MARK/MASK" (decimal or 0x
/// hexadecimal), as `ip rule ... fwmark 0x10/0xff` takes it.
pub fn fwmark(m: &NameOrNumber) -> Result<(u32, Option<u32>), LabError> {
    const WHY: &str = "a mark is a number from 1 to 4294967295, or text \"MARK/MASK\" like \"0x10/0xff\"";
    let num = |t: &str| -> Option<u32> {
        let t = t.trim();
        match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => t.parse().ok(),
        }
    };
    let (mark, mask) = match m {
        NameOrNumber::Number(n) => (u32::try_from(*n).ok(), None),
        NameOrNumber::Name(t) => match t.split_once('/') {
            Some((a, b)) => (num(a), Some(num(b).ok_or_else(|| invalid("fwmark", m, WHY))?)),
            None => (num(t), None),
        },
    };
    match mark {
        Some(mark) if mark != 0 || mask.is_some_and(|k| k != 0) => Ok((mark, mask.filter(|k| *k != u32::MAX))),
        _ => Err(invalid("fwmark", m, WHY)),
    }
}

/// An address that must be of the route's or rule's family; `v6` None: not decided yet.
pub fn same_family(what: &'static str, ip: IpAddr, v6: Option<bool>, other: &str) -> Result<(), LabError> {
    match v6 {
        Some(v6) if v6 != ip.is_ipv6() => {
            Err(invalid(what, ip, format!("it is {} but {other} is {}", fam(ip.is_ipv6()), fam(v6))))
        }
        _ => Ok(()),
    }
}

fn fam(v6: bool) -> &'static str {
    if v6 {
        "IPv6"
    } else {
        "IPv4"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NameOrNumber::{Name, Number};

    fn says<T: std::fmt::Debug>(r: Result<T, LabError>, text: &str) {
        let e = r.expect_err("refused").to_string();
        assert!(e.contains(text), "{e}");
    }

    #[test]
    fn tables() {
        assert_eq!(table(&Name("main".into())).unwrap(), 254);
        assert_eq!(table(&Name("local".into())).unwrap(), 255);
        assert_eq!(table(&Name("default".into())).unwrap(), 253);
        assert_eq!(table(&Number(100)).unwrap(), 100);
        assert_eq!(table(&Name("100".into())).unwrap(), 100);
        says(table(&Name("mian".into())), "invalid table \"mian\": a table is a number from 1");
        says(table(&Number(0)), "invalid table \"0\"");
        says(table(&Number(-1)), "invalid table \"-1\"");
        assert_eq!(table_filter(&Name("all".into())).unwrap(), None);
        assert_eq!(table_filter(&Number(0)).unwrap(), None);
        says(table_filter(&Name("x".into())), "\"all\" (or 0) for every table");
    }

    #[test]
    fn types_scopes_protocols() {
        assert_eq!(route_type("blackhole").unwrap(), 6);
        assert_eq!(route_type("throw").unwrap(), 9);
        says(route_type("broadcast"), "it must be one of \"unicast\", \"local\"");
        assert_eq!(scope(&Name("link".into())).unwrap(), 253);
        assert_eq!(scope(&Number(200)).unwrap(), 200);
        says(scope(&Name("planet".into())), "a scope is \"global\"");
        assert_eq!(protocol(&Name("static".into())).unwrap(), 4);
        assert_eq!(protocol(&Number(42)).unwrap(), 42);
        assert_eq!(protocol(&Name("nslab".into())).unwrap(), 110);
        says(protocol(&Name("kernel".into())), "0 to 2 mark the kernel's own routes");
        says(protocol(&Number(256)), "from 3 to 255");
    }

    #[test]
    fn weights_marks_families_actions() {
        assert_eq!(weight(1).unwrap(), 1);
        assert_eq!(weight(256).unwrap(), 256);
        says(weight(0), "nexthop weight \"0\"");
        says(weight(257), "from 1 to 256");
        assert_eq!(fwmark(&Number(16)).unwrap(), (16, None));
        assert_eq!(fwmark(&Name("0x10/0xff".into())).unwrap(), (16, Some(255)));
        says(fwmark(&Number(0)), "a mark is a number");
        says(fwmark(&Name("x".into())), "a mark is a number");
        assert!(family("inet6").unwrap());
        says(family("ipx"), "\"inet\" (IPv4) or \"inet6\"");
        assert_eq!(action("prohibit").unwrap(), 8);
        says(action("goto"), "it must be one of \"lookup\"");
        assert_eq!(prefix("rule source", "all").unwrap(), None);
        assert!(prefix("rule source", "10.0.0.1").unwrap().is_some_and(|p| p.1 == 32));
        says(prefix("rule source", "10.0.0.1/24"), "host bits are set");
        says(
            same_family("gateway", "fd00::1".parse().unwrap(), Some(false), "10.0.0.0/24"),
            "it is IPv6 but 10.0.0.0/24 is IPv4",
        );
    }
}
