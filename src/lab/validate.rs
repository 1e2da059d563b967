//! Checks made before the kernel is asked, so bad input fails at its own line with a clear reason.

use std::net::IpAddr;

use super::error::LabError;

/// IFNAMSIZ is 16 including the terminating NUL.
pub const MAX_IFNAME: usize = 15;

pub fn link_name(name: &str) -> Result<(), LabError> {
    let bad = |reason: String| Err(LabError::Invalid { what: "interface name", value: name.into(), reason });
    if name.is_empty() {
        return bad("it is empty".into());
    }
    if name.len() > MAX_IFNAME {
        return bad(format!("it is {} bytes long; the kernel allows at most {MAX_IFNAME}", name.len()));
    }
    if name == "." || name == ".." {
        return bad("the kernel reserves \".\" and \"..\"".into());
    }
    if let Some(c) = name.chars().find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control()) {
        return bad(format!("it contains {c:?}, which the kernel refuses in interface names"));
    }
    Ok(())
}

pub fn netns_name(name: &str) -> Result<(), LabError> {
    let bad = |reason: String| Err(LabError::Invalid { what: "namespace name", value: name.into(), reason });
    if name.is_empty() {
        return bad("it is empty".into());
    }
    if name == "." || name == ".." {
        return bad("it must be a plain file name, not \".\" or \"..\"".into());
    }
    if name.len() > 255 {
        return bad(format!("it is {} bytes long; a file name may have at most 255", name.len()));
    }
    if let Some(c) = name.chars().find(|c| *c == '/' || c.is_whitespace() || c.is_control()) {
        return bad(format!("it contains {c:?}; a namespace name must be a plain file name under /run/netns"));
    }
    Ok(())
}

/// The longest lab name: a file name's limit (NAME_MAX), as a lab is named after its script.
pub const MAX_LAB_NAME: usize = 255;

/// A lab's name: any file name (spaces and all), as the ledger records it. Refused is only what
/// a file name cannot be: empty, with a NUL or a '/', or longer than NAME_MAX.
pub fn lab_name(name: &str) -> Result<(), LabError> {
    let bad = |reason: String| Err(LabError::Invalid { what: "lab name", value: name.into(), reason });
    if name.is_empty() {
        return bad("it is empty; give one with --name".into());
    }
    if name.contains('\0') {
        return bad("it contains a NUL byte, which no file name (and no ledger entry) can hold".into());
    }
    if name.contains('/') {
        return bad("it contains '/': a lab name is a file name, not a path".into());
    }
    if name.len() > MAX_LAB_NAME {
        return bad(format!("it is {} bytes long; a lab name may have at most {MAX_LAB_NAME}, as a file name", name.len()));
    }
    Ok(())
}

/// An address with its prefix length, as `ip addr add` takes it ("10.1.1.1/24", "fd00::1/64").
/// Without a prefix it is a host address (/32 or /128), as with `ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub ip: IpAddr,
    pub prefix: u8,
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

pub fn cidr(text: &str) -> Result<Cidr, LabError> {
    let bad = |reason: String| Err(LabError::Invalid { what: "address", value: text.into(), reason });
    let (ip_text, prefix_text) = match text.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (text, None),
    };
    let Ok(ip) = ip_text.parse::<IpAddr>() else {
        return bad(format!("{ip_text:?} is not an IPv4 or IPv6 address (expected e.g. \"10.1.1.1/24\")"));
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return bad(format!("the prefix length {p:?} is not a number from 0 to {max}")),
        },
    };
    Ok(Cidr { ip, prefix })
}

/// Why `ip` cannot be a host's own address (of a link, a gateway, a tunnel end), if it cannot:
/// the unspecified address, the limited broadcast address, or a multicast group.
pub fn not_unicast(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(a) if a.is_unspecified() => Some("0.0.0.0 is the unspecified address (\"any\"), not a host's".into()),
        IpAddr::V4(a) if a.is_broadcast() => Some("255.255.255.255 is the limited broadcast address, not a host's".into()),
        IpAddr::V4(a) if a.is_multicast() => Some(format!("{a} is a multicast group address (224.0.0.0/4), not a host's")),
        IpAddr::V6(a) if a.is_unspecified() => Some(":: is the unspecified address (\"any\"), not a host's".into()),
        IpAddr::V6(a) if a.is_multicast() => Some(format!("{a} is a multicast group address (ff00::/8), not a host's")),
        _ => None,
    }
}

/// An address a link can have (`addr`): a unicast address with its prefix length.
pub fn link_cidr(text: &str) -> Result<Cidr, LabError> {
    let c = cidr(text)?;
    if let Some(why) = not_unicast(c.ip) {
        let example = if c.ip.is_ipv4() { "10.1.1.1/24" } else { "fd00::1/64" };
        return Err(LabError::Invalid {
            what: "address",
            value: text.into(),
            reason: format!("{why}; a link's address must be a unicast one, like {example:?}"),
        });
    }
    Ok(c)
}

/// The network a CIDR names, refusing one with host bits set ("10.9.0.1/24"): the kernel takes
/// only the network address as a route's destination ("10.9.0.0/24").
pub fn network(what: &'static str, text: &str) -> Result<Cidr, LabError> {
    let c = cidr(text).map_err(|e| match e {
        LabError::Invalid { value, reason, .. } => LabError::Invalid {
            what,
            value,
            reason: reason.replace("(expected e.g. \"10.1.1.1/24\")", "(expected e.g. \"10.1.0.0/24\" or \"default\")"),
        },
        other => other,
    })?;
    let net = masked(c);
    if net != c.ip {
        return Err(LabError::Invalid {
            what,
            value: text.into(),
            reason: format!("host bits are set; the network is {net}/{}", c.prefix),
        });
    }
    Ok(c)
}

/// The address with everything past the prefix length cleared.
fn masked(c: Cidr) -> IpAddr {
    match c.ip {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(c.prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(c.prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

pub fn ip(text: &str) -> Result<IpAddr, LabError> {
    ip_as("address", text)
}

/// An address without a prefix length; `what` names it in the message ("gateway").
pub fn ip_as(what: &'static str, text: &str) -> Result<IpAddr, LabError> {
    text.parse::<IpAddr>().map_err(|_| {
        let reason = match text.split_once('/') {
            Some((ip, _)) if ip.parse::<IpAddr>().is_ok() => {
                format!("it has a prefix length; give the address alone, like {ip:?}")
            }
            // Letters beyond hexadecimal digits: a host name, which nslab never looks up.
            _ if text.chars().any(|c| c.is_alphabetic() && !c.is_ascii_hexdigit()) => {
                "it is not an IPv4 or IPv6 address (host names are not looked up: give an address)".into()
            }
            _ => "it is not an IPv4 or IPv6 address".into(),
        };
        LabError::Invalid { what, value: text.into(), reason }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names() {
        assert!(link_name("veth0").is_ok());
        assert!(link_name("abcdefghijklmno").is_ok());
        let long = link_name("abcdefghijklmnop").unwrap_err().to_string();
        assert_eq!(long, "invalid interface name \"abcdefghijklmnop\": it is 16 bytes long; the kernel allows at most 15");
        assert!(link_name("a/b").is_err());
        assert!(link_name("a b").is_err());
        assert!(link_name("a:b").is_err());
        assert!(link_name("").is_err());
        assert!(link_name("..").is_err());
    }

    #[test]
    fn netns_names() {
        assert!(netns_name("netns1").is_ok());
        assert!(netns_name("a-b_c.d").is_ok());
        assert!(netns_name("a/b").is_err());
        assert!(netns_name("..").is_err());
        assert!(netns_name("").is_err());
        assert!(netns_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn link_addresses_are_unicast() {
        assert!(link_cidr("10.1.1.1/24").is_ok());
        assert!(link_cidr("fe80::1/64").is_ok());
        assert_eq!(
            link_cidr("224.0.0.5/24").unwrap_err().to_string(),
            "invalid address \"224.0.0.5/24\": 224.0.0.5 is a multicast group address (224.0.0.0/4), not a host's; \
             a link's address must be a unicast one, like \"10.1.1.1/24\""
        );
        for bad in ["0.0.0.0/8", "255.255.255.255/32", "::/64", "ff02::1/64", "239.1.1.1"] {
            assert!(link_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_have_no_host_bits() {
        assert_eq!(network("route destination", "10.9.0.0/24").unwrap().to_string(), "10.9.0.0/24");
        assert!(network("route destination", "10.9.0.1/32").is_ok());
        assert!(network("route destination", "0.0.0.0/0").is_ok());
        assert!(network("route destination", "fd00:1::/64").is_ok());
        assert_eq!(
            network("route destination", "10.9.0.1/24").unwrap_err().to_string(),
            "invalid route destination \"10.9.0.1/24\": host bits are set; the network is 10.9.0.0/24"
        );
        assert_eq!(
            network("route destination", "fd00:1::1/64").unwrap_err().to_string(),
            "invalid route destination \"fd00:1::1/64\": host bits are set; the network is fd00:1::/64"
        );
        assert!(network("route destination", "1.2.3.4/0").is_err());
    }

    #[test]
    fn lab_names_are_file_names() {
        for ok in ["my lab", "lab.v2", "ünïcode", "..", "tab\there", &"x".repeat(255)] {
            assert!(lab_name(ok).is_ok(), "{ok:?}");
        }
        assert_eq!(
            lab_name("a/b").unwrap_err().to_string(),
            "invalid lab name \"a/b\": it contains '/': a lab name is a file name, not a path"
        );
        assert!(lab_name("a\0b").unwrap_err().to_string().contains("NUL"));
        assert!(lab_name("").is_err());
        assert!(lab_name(&"x".repeat(256)).unwrap_err().to_string().contains("256 bytes long"));
    }

    #[test]
    fn cidrs() {
        assert_eq!(cidr("10.1.1.1/24").unwrap().to_string(), "10.1.1.1/24");
        assert_eq!(cidr("10.1.1.1").unwrap().prefix, 32);
        assert_eq!(cidr("fd00::1/64").unwrap().prefix, 64);
        assert_eq!(cidr("fd00::1").unwrap().prefix, 128);
        assert!(cidr("10.1.1.1/33").is_err());
        assert!(cidr("10.1.1/24").is_err());
        assert!(cidr("10.1.1.1/x").is_err());
        assert!(cidr("fd00::1/129").is_err());
        assert_eq!(
            cidr("10.1.1.300/24").unwrap_err().to_string(),
            "invalid address \"10.1.1.300/24\": \"10.1.1.300\" is not an IPv4 or IPv6 address (expected e.g. \"10.1.1.1/24\")"
        );
    }
}
