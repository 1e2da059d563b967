//! Rates, sizes, times and percentages as `tc` writes them ("10mbit", "32kb", "50ms", "1%"),
//! checked before the kernel is asked. Units follow iproute2 (case-insensitive, so "mbps" is
//! megabytes per second, as in `tc`); a bare number given by a script has the unit each
//! function documents.

use super::error::LabError;

/// A quantity as a script gives it: text with a unit, or a number.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount {
    Text(String),
    Number(f64),
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Amount::Text(t) => write!(f, "{t}"),
            Amount::Number(n) => write!(f, "{n}"),
        }
    }
}

fn invalid(what: &'static str, value: &Amount, reason: impl Into<String>) -> LabError {
    LabError::Invalid { what, value: value.to_string(), reason: reason.into() }
}

/// Splits "10.5mbit" into (10.5, "mbit"). None when there is no leading non-negative number.
fn number_and_unit(text: &str) -> Option<(f64, String)> {
    let text = text.trim();
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let number: f64 = text[..end].parse().ok()?;
    number.is_finite().then(|| (number, text[end..].trim().to_ascii_lowercase()))
}

/// (unit, bits per second) as iproute2's `get_rate64` knows them.
const RATE_UNITS: &[(&str, f64)] = &[
    ("bit", 1.0),
    ("kibit", 1024.0),
    ("kbit", 1e3),
    ("mibit", 1024.0 * 1024.0),
    ("mbit", 1e6),
    ("gibit", 1024.0 * 1024.0 * 1024.0),
    ("gbit", 1e9),
    ("tibit", 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("tbit", 1e12),
    ("bps", 8.0),
    ("kibps", 8.0 * 1024.0),
    ("kbps", 8e3),
    ("mibps", 8.0 * 1024.0 * 1024.0),
    ("mbps", 8e6),
    ("gibps", 8.0 * 1024.0 * 1024.0 * 1024.0),
    ("gbps", 8e9),
    ("tibps", 8.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("tbps", 8e12),
];

/// A rate in bytes per second: "10mbit", "1gbit", "500kbit" (as tc), or a number of bits per
/// second.
pub fn rate(value: &Amount) -> Result<u64, LabError> {
    let bits = match value {
        Amount::Number(n) => *n,
        Amount::Text(text) => {
            let parsed = number_and_unit(text).and_then(|(n, unit)| {
                let scale =
                    if unit.is_empty() { Some(1.0) } else { RATE_UNITS.iter().find(|(u, _)| *u == unit).map(|(_, s)| *s) };
                scale.map(|s| n * s)
            });
            parsed.ok_or_else(|| {
                invalid(
                    "rate",
                    value,
                    "expected a number and a unit like \"10mbit\", \"500kbit\" or \"1gbit\" (bit, kbit, mbit, gbit, tbit; \
                     bps, kbps, mbps, gbps for bytes per second), or a number of bits per second",
                )
            })?
        }
    };
    let bytes = bits / 8.0;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(invalid("rate", value, "it must be at least 8 bits per second"));
    }
    if bytes >= u64::MAX as f64 {
        return Err(invalid("rate", value, "it is too large: the kernel takes at most 2^64 - 1 bytes per second"));
    }
    Ok(bytes as u64)
}

/// A size in bytes: "32kb", "1mb", "1500b" or "1500" (as tc: kb = 1024 bytes, kbit = 128
/// bytes), or a number of bytes.
pub fn size(what: &'static str, value: &Amount) -> Result<u32, LabError> {
    let bytes = match value {
        Amount::Number(n) => *n,
        Amount::Text(text) => {
            let parsed = number_and_unit(text).and_then(|(n, unit)| {
                let scale = match unit.as_str() {
                    "" | "b" => 1.0,
                    "k" | "kb" => 1024.0,
                    "m" | "mb" => 1024.0 * 1024.0,
                    "g" | "gb" => 1024.0 * 1024.0 * 1024.0,
                    "kbit" => 1024.0 / 8.0,
                    "mbit" => 1024.0 * 1024.0 / 8.0,
                    "gbit" => 1024.0 * 1024.0 * 1024.0 / 8.0,
                    _ => return None,
                };
                Some(n * scale)
            });
            parsed.ok_or_else(|| {
                invalid(
                    what,
                    value,
                    "expected a number of bytes, or a number and a unit like \"32kb\" (b, kb, mb, gb; kbit, mbit)",
                )
            })?
        }
    };
    if !(bytes.is_finite() && (1.0..=f64::from(u32::MAX)).contains(&bytes)) {
        return Err(invalid(what, value, "it must be from 1 byte to 4 GiB - 1 (4294967295 bytes)"));
    }
    Ok(bytes as u32)
}

/// A duration in nanoseconds: "50ms", "1.5s", "100us", "10ns", or a number of seconds.
pub fn time_ns(what: &'static str, value: &Amount) -> Result<u64, LabError> {
    let ns = match value {
        Amount::Number(n) => *n * 1e9,
        Amount::Text(text) => {
            let parsed = number_and_unit(text).and_then(|(n, unit)| {
                let scale = match unit.as_str() {
                    "s" | "sec" | "secs" => 1e9,
                    "ms" | "msec" | "msecs" => 1e6,
                    "us" | "usec" | "usecs" => 1e3,
                    "ns" | "nsec" | "nsecs" => 1.0,
                    _ => return None,
                };
                Some(n * scale)
            });
            parsed.ok_or_else(|| {
                invalid(what, value, "expected a number and a unit like \"50ms\" (s, ms, us, ns), or a number of seconds")
            })?
        }
    };
    if !(ns.is_finite() && (0.0..=3600e9).contains(&ns)) {
        return Err(invalid(what, value, "it must be from 0 to an hour (3600 s)"));
    }
    Ok(ns as u64)
}

/// A percentage from 0 to 100: "1%", "0.5%" (the % may be left out), or a number of percent.
pub fn percent(what: &'static str, value: &Amount) -> Result<f64, LabError> {
    let p = match value {
        Amount::Number(n) => *n,
        Amount::Text(text) => {
            let parsed = number_and_unit(text).filter(|(_, unit)| unit.is_empty() || unit == "%").map(|(n, _)| n);
            parsed.ok_or_else(|| invalid(what, value, "expected a percentage like \"1%\" or \"0.5%\""))?
        }
    };
    if !(0.0..=100.0).contains(&p) {
        return Err(invalid(what, value, "a percentage must be from 0% to 100%"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Amount {
        Amount::Text(s.into())
    }

    #[test]
    fn rates_as_tc_reads_them() {
        assert_eq!(rate(&t("10mbit")).unwrap(), 1_250_000);
        assert_eq!(rate(&t("1gbit")).unwrap(), 125_000_000);
        assert_eq!(rate(&t("500kbit")).unwrap(), 62_500);
        assert_eq!(rate(&t("10Mbit")).unwrap(), 1_250_000);
        assert_eq!(rate(&t("1mibit")).unwrap(), 131_072);
        assert_eq!(rate(&t("1mbps")).unwrap(), 1_000_000, "bytes per second, as in tc");
        assert_eq!(rate(&t("8000")).unwrap(), 1000, "a bare number is bits per second");
        assert_eq!(rate(&t("2.5 mbit")).unwrap(), 312_500);
        assert_eq!(rate(&Amount::Number(20e6)).unwrap(), 2_500_000);
        assert_eq!(rate(&t("40gbit")).unwrap(), 5_000_000_000);
    }

    #[test]
    fn bad_rates_say_why() {
        assert_eq!(
            rate(&t("fast")).unwrap_err().to_string(),
            "invalid rate \"fast\": expected a number and a unit like \"10mbit\", \"500kbit\" or \"1gbit\" (bit, kbit, mbit, \
             gbit, tbit; bps, kbps, mbps, gbps for bytes per second), or a number of bits per second"
        );
        assert!(rate(&t("10 furlongs")).is_err());
        assert!(rate(&t("-5mbit")).is_err());
        assert_eq!(rate(&t("0mbit")).unwrap_err().to_string(), "invalid rate \"0mbit\": it must be at least 8 bits per second");
        assert!(rate(&Amount::Number(-1.0)).is_err());
    }

    #[test]
    fn sizes_as_tc_reads_them() {
        assert_eq!(size("burst", &t("32kb")).unwrap(), 32768);
        assert_eq!(size("burst", &t("32k")).unwrap(), 32768);
        assert_eq!(size("burst", &t("1mb")).unwrap(), 1 << 20);
        assert_eq!(size("burst", &t("1500")).unwrap(), 1500);
        assert_eq!(size("burst", &t("1500b")).unwrap(), 1500);
        assert_eq!(size("burst", &t("8kbit")).unwrap(), 1024);
        assert_eq!(size("burst", &Amount::Number(10000.0)).unwrap(), 10000);
        assert!(size("burst", &t("lots")).is_err());
        assert!(size("burst", &t("0")).is_err());
        assert!(size("burst", &t("5gb")).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(time_ns("latency", &t("50ms")).unwrap(), 50_000_000);
        assert_eq!(time_ns("latency", &t("1.5s")).unwrap(), 1_500_000_000);
        assert_eq!(time_ns("latency", &t("100us")).unwrap(), 100_000);
        assert_eq!(time_ns("latency", &t("7ns")).unwrap(), 7);
        assert_eq!(time_ns("latency", &Amount::Number(0.25)).unwrap(), 250_000_000);
        assert_eq!(
            time_ns("delay", &t("50")).unwrap_err().to_string(),
            "invalid delay \"50\": expected a number and a unit like \"50ms\" (s, ms, us, ns), or a number of seconds"
        );
        assert!(time_ns("delay", &Amount::Number(-1.0)).is_err());
    }

    #[test]
    fn percentages() {
        assert_eq!(percent("loss", &t("1%")).unwrap(), 1.0);
        assert_eq!(percent("loss", &t("0.5%")).unwrap(), 0.5);
        assert_eq!(percent("loss", &t("3")).unwrap(), 3.0);
        assert_eq!(percent("loss", &Amount::Number(100.0)).unwrap(), 100.0);
        assert_eq!(
            percent("loss", &t("200%")).unwrap_err().to_string(),
            "invalid loss \"200%\": a percentage must be from 0% to 100%"
        );
        assert!(percent("loss", &t("1%%")).is_err());
        assert!(percent("loss", &t("some")).is_err());
    }
}
