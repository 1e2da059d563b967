//! Checks of traffic options before anything is sent: what the kernel would refuse with a bare
//! errno (EINVAL for a source of the other family, EMSGSIZE for a too-big payload).

use std::net::IpAddr;

use super::LabError;
use crate::engine::icmp::{max_payload, PingOptions};

/// A source address must be of the destination's family; the payload must fit one datagram.
pub fn ping_options(dst: IpAddr, opts: &PingOptions) -> Result<(), LabError> {
    source_family(dst, opts.from)?;
    let max = max_payload(dst);
    if opts.size > max {
        return Err(LabError::Invalid {
            what: "ping size",
            value: opts.size.to_string(),
            reason: format!("an echo payload to {dst} holds at most {max} bytes"),
        });
    }
    Ok(())
}

/// `from` (a source address) must be of the family of `dst`.
pub fn source_family(dst: IpAddr, from: Option<IpAddr>) -> Result<(), LabError> {
    match from {
        Some(from) if from.is_ipv4() != dst.is_ipv4() => Err(LabError::Invalid {
            what: "source address",
            value: from.to_string(),
            reason: format!("it is not of the destination's family ({dst} is {})", if dst.is_ipv4() { "IPv4" } else { "IPv6" }),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_and_size_are_checked() {
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "fd00::1".parse().unwrap();
        let mut o = PingOptions { from: Some(v6), ..Default::default() };
        assert!(ping_options(v4, &o).unwrap_err().to_string().contains("not of the destination's family"));
        assert!(ping_options(v6, &o).is_ok());
        o.from = None;
        o.size = 65_508;
        assert!(ping_options(v4, &o).is_err());
        assert!(ping_options(v6, &o).is_ok());
    }
}
