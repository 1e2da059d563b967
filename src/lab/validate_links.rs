//! Checks for changing links and for kind options (`link_set`, vxlan/bridge options at creation,
//! bridge port options), made before the kernel is asked. Limits are the kernel's.

use super::error::LabError;

/// IFALIASZ - 1: the longest alias the kernel keeps, in bytes.
pub const MAX_ALIAS: usize = 255;
/// ALTIFNAMSIZ - 1: the longest alternative name, in bytes.
pub const MAX_ALTNAME: usize = 127;
/// BR_MIN_PATH_COST / BR_MAX_PATH_COST.
pub const PORT_COST: (i64, i64) = (1, 65535);
/// The highest bridge port priority (BR_MAX_PORT_PRIORITY): it is the top 6 bits of the port id.
pub const MAX_PORT_PRIORITY: i64 = 63;
/// The longest bridge ageing time, in seconds: the kernel takes it in hundredths (u32).
pub const MAX_AGEING_SECONDS: f64 = u32::MAX as f64 / 100.0;

fn invalid(what: &'static str, value: impl ToString, reason: String) -> LabError {
    LabError::Invalid { what, value: value.to_string(), reason }
}

pub fn alias(text: &str, link: &str) -> Result<String, LabError> {
    if text.len() > MAX_ALIAS {
        let reason = format!("it is {} bytes long; link {link:?} takes an alias of at most {MAX_ALIAS} bytes", text.len());
        return Err(invalid("alias", text, reason));
    }
    if text.contains('\0') {
        return Err(invalid("alias", text, "it contains a NUL character, which ends a kernel string".into()));
    }
    Ok(text.to_string())
}

/// An alternative name: the rules of an interface name, but up to 127 bytes.
pub fn altname(text: &str) -> Result<(), LabError> {
    let bad = |reason: String| Err(invalid("alternative name", text, reason));
    if text.is_empty() {
        return bad("it is empty".into());
    }
    if text.len() > MAX_ALTNAME {
        return bad(format!("it is {} bytes long; the kernel allows at most {MAX_ALTNAME}", text.len()));
    }
    if text == "." || text == ".." {
        return bad("the kernel reserves \".\" and \"..\"".into());
    }
    if let Some(c) = text.chars().find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control()) {
        return bad(format!("it contains {c:?}, which the kernel refuses in interface names"));
    }
    Ok(())
}

/// A name to look a link up by: its name or one of its alternative names.
pub fn link_or_altname(text: &str) -> Result<(), LabError> {
    if text.len() <= super::validate::MAX_IFNAME {
        super::validate::link_name(text)
    } else {
        altname(text)
    }
}

pub fn txqueuelen(n: i64, link: &str) -> Result<u32, LabError> {
    u32::try_from(n)
        .map_err(|_| invalid("txqueuelen", n, format!("link {link:?} takes a transmit queue length from 0 to {}", u32::MAX)))
}

/// nslab's link groups: 0x6e and a lab's 24-bit id, the mark by which teardown and `clean` know
/// a lab's links outside its namespaces (`Header::link_group`).
pub const LAB_GROUPS: std::ops::RangeInclusive<u32> = 0x6e00_0000..=0x6eff_ffff;

pub fn group(n: i64, link: &str) -> Result<u32, LabError> {
    let g =
        u32::try_from(n).map_err(|_| invalid("link group", n, format!("link {link:?} takes a group from 0 to {}", u32::MAX)))?;
    if LAB_GROUPS.contains(&g) {
        return Err(invalid(
            "link group",
            n,
            format!(
                "groups {} to {} are nslab's marks of its labs' links (teardown deletes by them); link {link:?} takes any other \
                 group from 0 to {}",
                LAB_GROUPS.start(),
                LAB_GROUPS.end(),
                u32::MAX
            ),
        ));
    }
    Ok(g)
}

/// A byte-sized IP header field of a VXLAN link (`ttl`, `tos`).
pub fn header_byte(what: &'static str, n: i64, link: &str) -> Result<u8, LabError> {
    u8::try_from(n).map_err(|_| invalid(what, n, format!("vxlan {link:?} takes a {what} from 0 to 255")))
}

/// The UDP source port range of a VXLAN link, `[lo, hi]`.
pub fn srcport(lo: i64, hi: i64, link: &str) -> Result<(u16, u16), LabError> {
    let shown = format!("[{lo}, {hi}]");
    let port =
        |p: i64| u16::try_from(p).map_err(|_| invalid("srcport", &shown, format!("vxlan {link:?} takes ports from 0 to 65535")));
    let (l, h) = (port(lo)?, port(hi)?);
    if l > h {
        return Err(invalid("srcport", &shown, format!("the range of vxlan {link:?} is [low, high] with low <= high")));
    }
    Ok((l, h))
}

/// A bridge's ageing time in seconds, as the kernel's hundredths.
pub fn ageing_time(seconds: f64, bridge: &str) -> Result<u32, LabError> {
    if !seconds.is_finite() || !(0.0..=MAX_AGEING_SECONDS).contains(&seconds) {
        return Err(invalid(
            "ageing_time",
            seconds,
            format!("bridge {bridge:?} takes an ageing time from 0 to {MAX_AGEING_SECONDS} seconds"),
        ));
    }
    Ok((seconds * 100.0).round() as u32)
}

pub fn port_cost(n: i64, port: &str) -> Result<u32, LabError> {
    let (lo, hi) = PORT_COST;
    if !(lo..=hi).contains(&n) {
        return Err(invalid("port cost", n, format!("bridge port {port:?} takes a path cost from {lo} to {hi}")));
    }
    Ok(n as u32)
}

pub fn port_priority(n: i64, port: &str) -> Result<u16, LabError> {
    if !(0..=MAX_PORT_PRIORITY).contains(&n) {
        return Err(invalid("port priority", n, format!("bridge port {port:?} takes a priority from 0 to {MAX_PORT_PRIORITY}")));
    }
    Ok(n as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_the_kernels() {
        assert!(alias(&"a".repeat(255), "x").is_ok());
        let e = alias(&"a".repeat(256), "x").unwrap_err().to_string();
        assert!(e.contains("256 bytes long") && e.contains("at most 255"), "{e}");
        assert!(altname(&"b".repeat(127)).is_ok());
        assert!(altname(&"b".repeat(128)).unwrap_err().to_string().contains("at most 127"));
        assert!(altname("a/b").is_err() && altname("").is_err() && altname("..").is_err());
        assert!(link_or_altname(&"c".repeat(40)).is_ok());
        assert_eq!(txqueuelen(0, "x").unwrap(), 0);
        assert!(txqueuelen(-1, "x").unwrap_err().to_string().contains("from 0 to 4294967295"));
        assert!(group(1 << 32, "x").is_err());
        assert!(group(0x6e12_3456, "x").unwrap_err().to_string().contains("nslab's marks"));
        assert_eq!(group(0x6f00_0000, "x").unwrap(), 0x6f00_0000);
        assert_eq!(header_byte("ttl", 255, "v").unwrap(), 255);
        assert!(header_byte("ttl", 256, "v").unwrap_err().to_string().contains("ttl from 0 to 255"));
        assert_eq!(srcport(1000, 2000, "v").unwrap(), (1000, 2000));
        let e = srcport(2000, 1000, "v").unwrap_err().to_string();
        assert!(e.contains("[2000, 1000]") && e.contains("low <= high"), "{e}");
        assert!(srcport(0, 70000, "v").is_err());
        assert_eq!(ageing_time(300.0, "br").unwrap(), 30000);
        assert_eq!(ageing_time(0.5, "br").unwrap(), 50);
        assert!(ageing_time(-1.0, "br").is_err() && ageing_time(f64::NAN, "br").is_err());
        assert!(port_cost(0, "p").unwrap_err().to_string().contains("from 1 to 65535"));
        assert_eq!(port_cost(65535, "p").unwrap(), 65535);
        assert!(port_priority(64, "p").unwrap_err().to_string().contains("from 0 to 63"));
    }
}
