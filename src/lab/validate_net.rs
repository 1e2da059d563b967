//! Checks for the network-settings functions (MTU, MAC address, sysctl keys, /proc/net files),
//! made before the kernel is asked.

use super::error::LabError;

/// The smallest MTU IPv4 works with (RFC 791), which is also what Ethernet-like links accept.
pub const MIN_MTU: i64 = 68;
/// The largest MTU any link takes here (`lo` has 65536; Ethernet-like links stop at 65535).
pub const MAX_MTU: i64 = 65536;

pub fn mtu(n: i64) -> Result<u32, LabError> {
    if !(MIN_MTU..=MAX_MTU).contains(&n) {
        return Err(LabError::Invalid {
            what: "MTU",
            value: n.to_string(),
            reason: format!("it must be from {MIN_MTU} (the IPv4 minimum) to {MAX_MTU}"),
        });
    }
    Ok(n as u32)
}

/// The largest MTU of an Ethernet-like link (veth, bridge, vxlan, macvlan, ...): ETH_MAX_MTU,
/// the `maxmtu` `ip -d link` shows for them.
pub const MAX_ETHER_MTU: i64 = 65535;

/// The MTU option of a link being created: the range every kind nslab creates accepts (68 for
/// IPv4, ETH_MAX_MTU); `kind` and `name` say which link, for the message.
pub fn link_mtu(n: i64, kind: &str, name: &str) -> Result<u32, LabError> {
    if !(MIN_MTU..=MAX_ETHER_MTU).contains(&n) {
        return Err(LabError::Invalid {
            what: "MTU",
            value: n.to_string(),
            reason: format!("{kind} {name:?} takes MTUs from {MIN_MTU} (the IPv4 minimum) to {MAX_ETHER_MTU}"),
        });
    }
    Ok(n as u32)
}

/// A veth's queue count per direction: the kernel takes 1 to 4096 (`ip link add ... numtxqueues N`).
pub fn veth_queues(n: i64, name: &str) -> Result<u32, LabError> {
    if !(1..=4096).contains(&n) {
        return Err(LabError::Invalid {
            what: "queue count",
            value: n.to_string(),
            reason: format!("veth {name:?} takes 1 to 4096 queues per direction"),
        });
    }
    Ok(n as u32)
}

/// A link's own (unicast) Ethernet address, as `ip link set DEV address` takes it.
pub fn mac(text: &str) -> Result<[u8; 6], LabError> {
    let bad = |reason: &str| LabError::Invalid { what: "MAC address", value: text.into(), reason: reason.into() };
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return Err(bad("it must be six hexadecimal bytes separated by colons, like \"02:00:00:00:00:01\""));
    }
    let mut bytes = [0u8; 6];
    for (b, p) in bytes.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(bad("it must be six hexadecimal bytes separated by colons, like \"02:00:00:00:00:01\""));
        }
        *b = u8::from_str_radix(p, 16)
            .map_err(|_| bad("it must be six hexadecimal bytes separated by colons, like \"02:00:00:00:00:01\""))?;
    }
    if bytes[0] & 1 == 1 {
        return Err(bad("it is a multicast address (the lowest bit of the first byte is set); a link's own address must be unicast, like \"02:00:00:00:00:01\""));
    }
    if bytes == [0; 6] {
        return Err(bad("the all-zero address cannot be a link's address"));
    }
    Ok(bytes)
}

/// A network sysctl key: dotted ("net.ipv4.ip_forward") or with slashes ("net/ipv4/conf/eth0.5/forwarding",
/// for names that contain dots, as with `sysctl`). Returns the path components below /proc/sys.
pub fn sysctl_key(key: &str) -> Result<Vec<String>, LabError> {
    let bad = |reason: String| LabError::Invalid { what: "sysctl key", value: key.into(), reason };
    let sep = if key.contains('/') { '/' } else { '.' };
    let parts: Vec<String> = key.split(sep).map(str::to_string).collect();
    if parts.first().map(String::as_str) != Some("net") {
        return Err(bad("only network sysctls (net.*) belong to a network namespace; nslab reads and writes no others".into()));
    }
    if parts.len() < 2 {
        return Err(bad("it names no setting below net (like \"net.ipv4.ip_forward\")".into()));
    }
    for p in &parts {
        if p.is_empty() || p == "." || p == ".." {
            return Err(bad(format!("it has an empty or relative part between {sep:?} separators")));
        }
        if let Some(c) = p.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(format!("it contains {c:?}")));
        }
    }
    Ok(parts)
}

/// A file directly in /proc/net ("dev", "snmp", "tcp6").
pub fn proc_net_file(name: &str) -> Result<(), LabError> {
    let bad = |reason: &str| LabError::Invalid { what: "/proc/net file name", value: name.into(), reason: reason.into() };
    if name.is_empty() || name == "." || name == ".." {
        return Err(bad("it must name a file in /proc/net, like \"dev\" or \"snmp\""));
    }
    if name.contains('/') || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("it must be a plain file name in /proc/net, without '/' (like \"dev\" or \"snmp\")"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtus() {
        assert_eq!(mtu(1500).unwrap(), 1500);
        assert_eq!(mtu(68).unwrap(), 68);
        assert_eq!(mtu(65536).unwrap(), 65536);
        assert_eq!(mtu(67).unwrap_err().to_string(), "invalid MTU \"67\": it must be from 68 (the IPv4 minimum) to 65536");
        assert!(mtu(-1).is_err());
        assert!(mtu(1 << 40).is_err());
    }

    #[test]
    fn link_mtus_name_the_link() {
        assert_eq!(link_mtu(65535, "veth", "x0").unwrap(), 65535);
        assert_eq!(
            link_mtu(-1, "veth", "x0").unwrap_err().to_string(),
            "invalid MTU \"-1\": veth \"x0\" takes MTUs from 68 (the IPv4 minimum) to 65535"
        );
        assert!(link_mtu(65536, "bridge", "br0").is_err());
        assert!(veth_queues(0, "x0").unwrap_err().to_string().contains("veth \"x0\" takes 1 to 4096"));
    }

    #[test]
    fn macs() {
        assert_eq!(mac("02:00:00:00:00:0a").unwrap(), [2, 0, 0, 0, 0, 10]);
        assert_eq!(mac("2:0:0:0:0:A").unwrap(), [2, 0, 0, 0, 0, 10]);
        assert!(mac("02:00:00:00:00").is_err());
        assert!(mac("02:00:00:00:00:0g").is_err());
        assert!(mac("02:00:00:00:00:100").is_err());
        assert!(mac("01:00:5e:00:00:01").unwrap_err().to_string().contains("multicast"));
        assert!(mac("00:00:00:00:00:00").is_err());
    }

    #[test]
    fn sysctl_keys() {
        assert_eq!(sysctl_key("net.ipv4.ip_forward").unwrap(), ["net", "ipv4", "ip_forward"]);
        assert_eq!(sysctl_key("net/ipv4/conf/eth0.5/forwarding").unwrap(), ["net", "ipv4", "conf", "eth0.5", "forwarding"]);
        assert_eq!(
            sysctl_key("kernel.hostname").unwrap_err().to_string(),
            "invalid sysctl key \"kernel.hostname\": only network sysctls (net.*) belong to a network namespace; \
             nslab reads and writes no others"
        );
        assert!(sysctl_key("net").is_err());
        assert!(sysctl_key("net..x").is_err());
        assert!(sysctl_key("net/../kernel/x").is_err());
        assert!(sysctl_key("netfilter.x").is_err());
    }

    #[test]
    fn proc_net_files() {
        assert!(proc_net_file("dev").is_ok());
        assert!(proc_net_file("if_inet6").is_ok());
        assert!(proc_net_file("../self").is_err());
        assert!(proc_net_file("stat/rt_cache").is_err());
        assert!(proc_net_file("..").is_err());
        assert!(proc_net_file("").is_err());
    }
}
