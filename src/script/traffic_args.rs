//! Options maps of the traffic functions (`ping`, `traceroute`, `tcp_connect`, ...), read into
//! the lab's option types with errors that name the key, the value and what would be valid.

use std::net::IpAddr;
use std::time::Duration;

use rhai::{Dynamic, Map, NativeCallContext};

use super::args;
use super::failure::{argument_error, Res};
use crate::engine::icmp::PingOptions;

pub const PING_KEYS: &[&str] = &["count", "timeout", "interval", "ttl", "size", "from", "dev"];

/// A number of seconds from `min` to nslab's maximum, or None when the key is absent.
pub fn seconds(ctx: &NativeCallContext, m: &Map, key: &str, min: f64) -> Res<Option<Duration>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    let s = args::number(ctx, v, &format!("the {key} option"))?;
    if !(s >= min && s <= args::MAX_SECONDS) {
        return Err(argument_error(
            ctx,
            format!("the {key} option of {} must be a number of seconds from {min} to {}, not {s}", ctx.fn_name(), args::MAX_SECONDS),
        ));
    }
    Ok(Some(Duration::from_secs_f64(s)))
}

/// An integer option within `lo..=hi`.
pub fn int_in(ctx: &NativeCallContext, m: &Map, key: &str, lo: i64, hi: i64) -> Res<Option<i64>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    let i = args::integer(ctx, v, &format!("the {key} option"))?;
    if !(lo..=hi).contains(&i) {
        return Err(argument_error(ctx, format!("the {key} option of {} must be from {lo} to {hi}, not {i}", ctx.fn_name())));
    }
    Ok(Some(i))
}

/// An IP address option ("10.0.0.1", "fd00::1").
pub fn address(ctx: &NativeCallContext, m: &Map, key: &str) -> Res<Option<IpAddr>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    let text = v.clone().into_string().map_err(|_| {
        argument_error(ctx, format!("the {key} option of {} must be an address like \"10.0.0.1\", not {}", ctx.fn_name(), args::shown(v)))
    })?;
    text.parse().map(Some).map_err(|_| {
        argument_error(ctx, format!("the {key} option of {} must be an IP address like \"10.0.0.1\" or \"fd00::1\", not {text:?}", ctx.fn_name()))
    })
}

/// A link name option.
pub fn link_name(ctx: &NativeCallContext, m: &Map, key: &str) -> Res<Option<String>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    match v.clone().into_string() {
        Ok(s) if !s.is_empty() && s.len() < 16 => Ok(Some(s)),
        _ => Err(argument_error(
            ctx,
            format!("the {key} option of {} must be a link name (1 to 15 characters), not {}", ctx.fn_name(), args::shown(v)),
        )),
    }
}

/// The options of `ping`: count, timeout, interval, ttl, size, from, dev.
pub fn ping_options(ctx: &NativeCallContext, v: &Dynamic, n: usize) -> Res<PingOptions> {
    let m = args::map(ctx, v, n, PING_KEYS)?;
    let mut opts = PingOptions::default();
    if let Some(c) = int_in(ctx, &m, "count", 1, i64::from(u32::MAX))? {
        opts.count = c as u32;
    }
    if let Some(t) = seconds(ctx, &m, "timeout", 0.001)? {
        opts.timeout = t;
    }
    if let Some(i) = seconds(ctx, &m, "interval", 0.0)? {
        opts.interval = i;
    }
    opts.ttl = int_in(ctx, &m, "ttl", 1, 255)?.map(|t| t as u8);
    // The upper bound depends on the destination's family: the lab checks it.
    if let Some(s) = int_in(ctx, &m, "size", 0, 65_527)? {
        opts.size = s as usize;
    }
    opts.from = address(ctx, &m, "from")?;
    opts.dev = link_name(ctx, &m, "dev")?;
    Ok(opts)
}
