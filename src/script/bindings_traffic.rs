//! Traffic functions: link shaping and impairment (tc qdiscs), `pingall`, `throughput`.

use std::time::Duration;

use rhai::{Dynamic, Map, NativeCallContext};

use super::args;
use super::bindings::{Registrar, SharedLab};
use super::failure::{argument_error, lab_error, Res};
use super::values_traffic::PingAll;
use crate::engine::icmp::PingOptions;
use crate::lab::shaping::{ImpairSpec, ShapeSpec};
use crate::lab::throughput::ThroughputSpec;
use crate::lab::units::Amount;
use crate::lab::Ns;

const SHAPE_KEYS: &[&str] = &["rate", "burst", "latency", "replace"];
const IMPAIR_KEYS: &[&str] = &["delay", "jitter", "loss", "duplicate", "corrupt", "reorder", "replace"];
const PINGALL_KEYS: &[&str] = &["count", "timeout"];
const THROUGHPUT_KEYS: &[&str] = &["seconds", "port", "dst"];

/// An option given as text with a unit ("10mbit") or as a number (unit per option).
fn amount(ctx: &NativeCallContext, m: &Map, key: &str, example: &str) -> Res<Option<Amount>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    if v.is_string() {
        return Ok(Some(Amount::Text(v.clone().into_string().expect("checked"))));
    }
    if let Ok(i) = v.as_int() {
        return Ok(Some(Amount::Number(i as f64)));
    }
    if let Ok(f) = v.as_float() {
        return Ok(Some(Amount::Number(f)));
    }
    Err(argument_error(
        ctx,
        format!("the {key} option of {} must be a string like {example:?} or a number, not {}", ctx.fn_name(), args::shown(v)),
    ))
}

fn shape_spec(ctx: &NativeCallContext, v: &Dynamic, n: usize) -> Res<ShapeSpec> {
    let m = args::map(ctx, v, n, SHAPE_KEYS)?;
    let rate =
        amount(ctx, &m, "rate", "10mbit")?.ok_or_else(|| argument_error(ctx, "shape needs a rate, like #{rate: \"10mbit\"}"))?;
    Ok(ShapeSpec {
        rate,
        burst: amount(ctx, &m, "burst", "32kb")?,
        latency: amount(ctx, &m, "latency", "50ms")?,
        replace: replace(ctx, &m)?,
    })
}

fn impair_spec(ctx: &NativeCallContext, v: &Dynamic, n: usize) -> Res<ImpairSpec> {
    let m = args::map(ctx, v, n, IMPAIR_KEYS)?;
    Ok(ImpairSpec {
        delay: amount(ctx, &m, "delay", "100ms")?,
        jitter: amount(ctx, &m, "jitter", "10ms")?,
        loss: amount(ctx, &m, "loss", "1%")?,
        duplicate: amount(ctx, &m, "duplicate", "1%")?,
        corrupt: amount(ctx, &m, "corrupt", "1%")?,
        reorder: amount(ctx, &m, "reorder", "25%")?,
        replace: replace(ctx, &m)?,
    })
}

/// The `replace` option: replace a root qdisc someone configured on a link the lab did not create.
fn replace(ctx: &NativeCallContext, m: &Map) -> Res<bool> {
    match m.get("replace") {
        None => Ok(false),
        Some(v) => v.as_bool().map_err(|_| {
            argument_error(ctx, format!("the replace option of {} must be true or false, not {}", ctx.fn_name(), args::shown(v)))
        }),
    }
}

/// One request per pair and a second to answer, like Mininet's `pingall`.
fn default_pingall() -> PingOptions {
    PingOptions { interval: Duration::from_millis(200), ..Default::default() }
}

fn seconds(ctx: &NativeCallContext, m: &Map, key: &str, min: f64, max: f64) -> Res<Option<Duration>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    let s = args::number(ctx, v, &format!("the {key} option"))?;
    if !(s >= min && s <= max) {
        return Err(argument_error(
            ctx,
            format!("the {key} option of {} must be a number of seconds from {min} to {max}, not {s}", ctx.fn_name()),
        ));
    }
    Ok(Some(Duration::from_secs_f64(s)))
}

fn pingall_options(ctx: &NativeCallContext, v: &Dynamic) -> Res<PingOptions> {
    let m = args::map(ctx, v, 0, PINGALL_KEYS)?;
    let mut opts = default_pingall();
    if let Some(c) = m.get("count") {
        let c = args::integer(ctx, c, "the count option")?;
        opts.count = u32::try_from(c)
            .ok()
            .filter(|c| (1..=1000).contains(c))
            .ok_or_else(|| argument_error(ctx, format!("the count option of pingall must be from 1 to 1000, not {c}")))?;
    }
    if let Some(t) = seconds(ctx, &m, "timeout", 0.001, 3600.0)? {
        opts.timeout = t;
    }
    Ok(opts)
}

fn throughput_spec(ctx: &NativeCallContext, v: &Dynamic) -> Res<ThroughputSpec> {
    let m = args::map(ctx, v, 2, THROUGHPUT_KEYS)?;
    let mut spec = ThroughputSpec::default();
    if let Some(d) = seconds(ctx, &m, "seconds", 0.01, 3600.0)? {
        spec.duration = d;
    }
    if let Some(p) = m.get("port") {
        let p = args::integer(ctx, p, "the port option")?;
        spec.port = u16::try_from(p)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| argument_error(ctx, format!("the port option of throughput must be from 1 to 65535, not {p}")))?;
    }
    if let Some(d) = m.get("dst") {
        spec.dst = Some(args::string(ctx, d, 2, "an address")?);
    }
    Ok(spec)
}

pub fn register(reg: &mut Registrar, lab: &SharedLab) {
    register_types(reg);
    register_shaping(reg, lab);
    register_reach(reg, lab);
}

fn register_types(reg: &mut Registrar) {
    reg.engine()
        .register_type_with_name::<PingAll>("PingAll")
        .register_get("ok", |p: &mut PingAll| p.ok())
        .register_get("pairs", |p: &mut PingAll| p.pairs())
        .register_get("namespaces", |p: &mut PingAll| p.namespaces())
        .register_get("sent", |p: &mut PingAll| p.sent())
        .register_get("received", |p: &mut PingAll| p.received())
        .register_get("dropped", |p: &mut PingAll| p.dropped())
        .register_get("summary", |p: &mut PingAll| p.summary())
        .register_fn("to_string", |p: &mut PingAll| p.to_string())
        .register_fn("to_debug", |p: &mut PingAll| p.to_string());
}

fn register_shaping(reg: &mut Registrar, lab: &SharedLab) {
    let l = lab.clone();
    reg.add("shape", move |ctx: NativeCallContext, link: Dynamic, opts: Dynamic| -> Res<()> {
        let link = args::string(&ctx, &link, 0, "a link name")?;
        let spec = shape_spec(&ctx, &opts, 1)?;
        l.borrow_mut().shape(&Ns::Root, &link, &spec).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("shape", move |ctx: NativeCallContext, ns: Dynamic, link: Dynamic, opts: Dynamic| -> Res<()> {
        let ns = args::ns(&ctx, &ns, 0)?;
        let link = args::string(&ctx, &link, 1, "a link name")?;
        let spec = shape_spec(&ctx, &opts, 2)?;
        l.borrow_mut().shape(&ns, &link, &spec).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("impair", move |ctx: NativeCallContext, link: Dynamic, opts: Dynamic| -> Res<()> {
        let link = args::string(&ctx, &link, 0, "a link name")?;
        let spec = impair_spec(&ctx, &opts, 1)?;
        l.borrow_mut().impair(&Ns::Root, &link, &spec).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("impair", move |ctx: NativeCallContext, ns: Dynamic, link: Dynamic, opts: Dynamic| -> Res<()> {
        let ns = args::ns(&ctx, &ns, 0)?;
        let link = args::string(&ctx, &link, 1, "a link name")?;
        let spec = impair_spec(&ctx, &opts, 2)?;
        l.borrow_mut().impair(&ns, &link, &spec).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("unshape", move |ctx: NativeCallContext, link: Dynamic| -> Res<()> {
        let link = args::string(&ctx, &link, 0, "a link name")?;
        l.borrow_mut().unshape(&Ns::Root, &link).map(|_| ()).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("unshape", move |ctx: NativeCallContext, ns: Dynamic, link: Dynamic| -> Res<()> {
        let ns = args::ns(&ctx, &ns, 0)?;
        let link = args::string(&ctx, &link, 1, "a link name")?;
        l.borrow_mut().unshape(&ns, &link).map(|_| ()).map_err(|e| lab_error(&ctx, e))
    });
}

fn register_reach(reg: &mut Registrar, lab: &SharedLab) {
    let l = lab.clone();
    reg.add("pingall", move |ctx: NativeCallContext| -> Res<PingAll> {
        l.borrow_mut().pingall(&default_pingall()).map(PingAll).map_err(|e| lab_error(&ctx, e))
    });
    let l = lab.clone();
    reg.add("pingall", move |ctx: NativeCallContext, opts: Dynamic| -> Res<PingAll> {
        let opts = pingall_options(&ctx, &opts)?;
        l.borrow_mut().pingall(&opts).map(PingAll).map_err(|e| lab_error(&ctx, e))
    });
    let measure = |l: &SharedLab, ctx: &NativeCallContext, from: &Dynamic, to: &Dynamic, spec: ThroughputSpec| -> Res<f64> {
        let from = args::ns(ctx, from, 0)?;
        let to = args::ns(ctx, to, 1)?;
        let report = l.borrow_mut().throughput(&from, &to, &spec).map_err(|e| lab_error(ctx, e))?;
        Ok(report.bits_per_second())
    };
    let l = lab.clone();
    reg.add("throughput", move |ctx: NativeCallContext, from: Dynamic, to: Dynamic| {
        measure(&l, &ctx, &from, &to, ThroughputSpec::default())
    });
    let l = lab.clone();
    reg.add("throughput", move |ctx: NativeCallContext, from: Dynamic, to: Dynamic, opts: Dynamic| {
        let spec = throughput_spec(&ctx, &opts)?;
        measure(&l, &ctx, &from, &to, spec)
    });
}
