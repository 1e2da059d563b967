//! Checks for neighbour, forwarding-entry and address-option input, made before the kernel is
//! asked: MAC and IP syntax and family, state names, VNI and port ranges, lifetimes, scopes.

use std::net::{IpAddr, Ipv4Addr};

use super::error::LabError;
use crate::engine::addr_options::FOREVER;
use crate::engine::neigh::{NUD_NOARP, NUD_PERMANENT, NUD_REACHABLE, NUD_STALE};

fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> LabError {
    LabError::Invalid { what, value: value.into(), reason: reason.into() }
}

/// Any Ethernet address, as a neighbour or forwarding entry names it (all-zero and multicast
/// ones included: a vxlan's flood entry is 00:00:00:00:00:00).
pub fn any_mac(text: &str) -> Result<[u8; 6], LabError> {
    let bad = || invalid("MAC address", text, "it must be six hexadecimal bytes separated by colons, like \"02:00:00:00:00:01\"");
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut bytes = [0u8; 6];
    for (b, p) in bytes.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(bytes)
}

/// A neighbour's address: a unicast IPv4 or IPv6 address, without a prefix length.
pub fn neigh_ip(text: &str) -> Result<IpAddr, LabError> {
    let ip = super::validate::ip_as("neighbour address", text)?;
    if let Some(why) = super::validate::not_unicast(ip) {
        return Err(invalid("neighbour address", text, format!("{why}; a neighbour entry is for one host's unicast address")));
    }
    Ok(ip)
}

/// The states `neigh` takes, as NUD_* bits.
pub fn neigh_state(text: &str) -> Result<u16, LabError> {
    match text {
        "permanent" => Ok(NUD_PERMANENT),
        "reachable" => Ok(NUD_REACHABLE),
        "stale" => Ok(NUD_STALE),
        "noarp" => Ok(NUD_NOARP),
        _ => Err(invalid("neighbour state", text, "it must be \"permanent\", \"reachable\", \"stale\" or \"noarp\"")),
    }
}

/// The states `fdb` takes, as the NUD_* bits `bridge fdb add` sends for them.
pub fn fdb_state(text: &str) -> Result<u16, LabError> {
    match text {
        "permanent" => Ok(NUD_PERMANENT | NUD_NOARP),
        "static" => Ok(NUD_NOARP | NUD_REACHABLE),
        "dynamic" => Ok(NUD_REACHABLE),
        _ => Err(invalid("forwarding entry state", text, "it must be \"permanent\", \"static\" or \"dynamic\"")),
    }
}

/// The largest VXLAN network identifier (24 bits).
pub const MAX_VNI: i64 = (1 << 24) - 1;

pub fn vni(n: i64) -> Result<u32, LabError> {
    if !(0..=MAX_VNI).contains(&n) {
        return Err(invalid("VNI", &n.to_string(), format!("a VXLAN network identifier is from 0 to {MAX_VNI}")));
    }
    Ok(n as u32)
}

pub fn udp_port(n: i64) -> Result<u16, LabError> {
    if !(1..=65535).contains(&n) {
        return Err(invalid("UDP port", &n.to_string(), "it must be from 1 to 65535"));
    }
    Ok(n as u16)
}

/// An address lifetime as given: seconds, or forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    Seconds(i64),
    Forever,
}

/// The (valid, preferred) lifetimes in seconds for the kernel (FOREVER: none), from what was
/// given: only `valid` makes the address preferred as long as it is valid; only `preferred`
/// keeps it valid forever.
pub fn lifetimes(valid: Option<Lifetime>, preferred: Option<Lifetime>) -> Result<(Option<u32>, Option<u32>), LabError> {
    let secs = |what: &'static str, l: Lifetime, min: i64| -> Result<u32, LabError> {
        match l {
            Lifetime::Forever => Ok(FOREVER),
            Lifetime::Seconds(n) if (min..i64::from(FOREVER)).contains(&n) => Ok(n as u32),
            Lifetime::Seconds(n) => {
                Err(invalid(what, &n.to_string(), format!("it must be from {min} to {} seconds, or \"forever\"", FOREVER - 1)))
            }
        }
    };
    if valid.is_none() && preferred.is_none() {
        return Ok((None, None));
    }
    // A valid lifetime of 0 would remove the address as it is added: the kernel refuses it.
    let v = valid.map(|l| secs("valid_lft", l, 1)).transpose()?.unwrap_or(FOREVER);
    let p = preferred.map(|l| secs("preferred_lft", l, 0)).transpose()?.unwrap_or(v);
    if p > v {
        let shown = |n: u32| if n == FOREVER { "forever".to_string() } else { format!("{n} s") };
        return Err(invalid(
            "preferred_lft",
            &shown(p),
            format!(
                "it is longer than the valid lifetime ({}); an address is preferred at most as long as it is valid",
                shown(v)
            ),
        ));
    }
    Ok((Some(v), Some(p)))
}

/// An address scope by name ("global", "site", "link", "host", "nowhere") or number (0-255).
pub fn scope(text: &str) -> Result<u8, LabError> {
    match text {
        "global" | "universe" => Ok(0),
        "site" => Ok(200),
        "link" => Ok(253),
        "host" => Ok(254),
        "nowhere" => Ok(255),
        _ => text.parse::<u8>().map_err(|_| {
            invalid("scope", text, "it must be \"global\", \"site\", \"link\", \"host\", \"nowhere\" or a number from 0 to 255")
        }),
    }
}

/// A scope's name as `ip addr` prints it (a number for the others).
pub fn scope_name(n: u8) -> String {
    match n {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// The peer of a point-to-point address: a unicast address of the local address's family.
pub fn peer(text: &str, local: IpAddr) -> Result<IpAddr, LabError> {
    let ip = super::validate::ip_as("peer address", text)?;
    if ip.is_ipv4() != local.is_ipv4() {
        return Err(invalid("peer address", text, format!("it is not of the same family as the local address {local}")));
    }
    if let Some(why) = super::validate::not_unicast(ip) {
        return Err(invalid("peer address", text, format!("{why}; a peer is the other end's unicast address")));
    }
    Ok(ip)
}

/// An IPv4 broadcast address, or "+" for the network's last address (as `ip addr add ... brd +`).
pub fn broadcast(text: &str, local: IpAddr, prefix: u8) -> Result<Ipv4Addr, LabError> {
    let IpAddr::V4(local) = local else {
        return Err(invalid("broadcast address", text, format!("{local} is an IPv6 address, and IPv6 has no broadcast")));
    };
    if text == "+" {
        let host = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
        return Ok(Ipv4Addr::from(u32::from(local) | host));
    }
    match super::validate::ip_as("broadcast address", text)? {
        IpAddr::V4(b) => Ok(b),
        IpAddr::V6(_) => {
            Err(invalid("broadcast address", text, "it must be an IPv4 address (or \"+\" for the network's last one)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(any_mac("00:00:00:00:00:00").unwrap(), [0; 6]);
        assert_eq!(any_mac("33:33:00:00:00:01").unwrap()[0], 0x33);
        for bad in ["", "02:00:00:00:00", "02:00:00:00:00:00:01", "02:00:00:00:00:0g", "020:0:0:0:0:0"] {
            let e = any_mac(bad).unwrap_err().to_string();
            assert!(e.contains("six hexadecimal bytes"), "{bad}: {e}");
        }
    }

    #[test]
    fn lifetimes_default_and_order() {
        assert_eq!(lifetimes(None, None).unwrap(), (None, None));
        assert_eq!(lifetimes(Some(Lifetime::Seconds(100)), None).unwrap(), (Some(100), Some(100)));
        assert_eq!(lifetimes(None, Some(Lifetime::Seconds(5))).unwrap(), (Some(FOREVER), Some(5)));
        assert_eq!(lifetimes(Some(Lifetime::Forever), Some(Lifetime::Forever)).unwrap(), (Some(FOREVER), Some(FOREVER)));
        let e = lifetimes(Some(Lifetime::Seconds(10)), Some(Lifetime::Seconds(20))).unwrap_err().to_string();
        assert!(e.contains("longer than the valid lifetime (10 s)"), "{e}");
        let e = lifetimes(Some(Lifetime::Seconds(10)), Some(Lifetime::Forever)).unwrap_err().to_string();
        assert!(e.contains("\"forever\""), "{e}");
        assert!(lifetimes(Some(Lifetime::Seconds(0)), None).unwrap_err().to_string().contains("from 1 to"));
        assert!(lifetimes(None, Some(Lifetime::Seconds(-1))).is_err());
    }

    #[test]
    fn scopes_broadcasts_and_peers() {
        assert_eq!(scope("link").unwrap(), 253);
        assert_eq!(scope("77").unwrap(), 77);
        assert!(scope("galaxy").unwrap_err().to_string().contains("\"global\""));
        assert_eq!(scope_name(77), "77");
        let local: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(broadcast("+", local, 24).unwrap(), Ipv4Addr::new(10, 0, 0, 255));
        assert_eq!(broadcast("+", local, 32).unwrap(), Ipv4Addr::new(10, 0, 0, 1));
        assert!(broadcast("+", "fd00::1".parse().unwrap(), 64).unwrap_err().to_string().contains("no broadcast"));
        assert!(peer("fd00::2", local).unwrap_err().to_string().contains("same family"));
        assert!(vni(1 << 24).unwrap_err().to_string().contains("0 to 16777215"));
        assert!(udp_port(0).is_err());
        assert!(neigh_state("incomplete").unwrap_err().to_string().contains("\"noarp\""));
        assert!(fdb_state("local").unwrap_err().to_string().contains("\"dynamic\""));
        assert!(neigh_ip("224.0.0.1").is_err());
    }
}
