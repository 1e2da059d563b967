//! Registers nslab's types and every native function of the catalog's tables with Rhai.

use rhai::{Dynamic, Engine};

use super::failure::CallFailure;
pub use super::registrar::{Registrar, SharedLab};
use super::remote::Host;
use super::values::{Exec, Netns, Ping};
use super::values_traffic::PingAll;

pub fn register(reg: &mut Registrar, lab: &SharedLab) {
    register_types(reg.engine());
    super::processes::register_types(reg, lab);
    super::defs_probe::register_types(reg.engine(), lab);
    for table in super::catalog::groups() {
        super::native::register(reg, lab, table);
    }
}

fn register_types(engine: &mut Engine) {
    // What `catch (e)` receives when an nslab call fails.
    engine
        .register_type_with_name::<CallFailure>("Error")
        .register_get("message", |f: &mut CallFailure| f.message.clone())
        .register_get("hint", |f: &mut CallFailure| f.hint.clone().unwrap_or_default())
        .register_fn("to_string", |f: &mut CallFailure| f.message.clone())
        .register_fn("to_debug", |f: &mut CallFailure| f.message.clone());
    engine
        .register_type_with_name::<Netns>("Netns")
        .register_get("name", |n: &mut Netns| n.name.clone().unwrap_or_default())
        .register_get("machine", |n: &mut Netns| n.on.clone().unwrap_or_else(|| crate::lab::inventory::LOCAL.into()))
        .register_fn("to_string", |n: &mut Netns| n.to_string())
        .register_fn("to_debug", |n: &mut Netns| n.to_string())
        .register_fn("==", |a: Netns, b: Netns| a == b);
    engine
        .register_type_with_name::<Host>("Host")
        .register_get("name", |h: &mut Host| h.name.clone())
        .register_fn("to_string", |h: &mut Host| h.to_string())
        .register_fn("to_debug", |h: &mut Host| h.to_string())
        .register_fn("==", |a: Host, b: Host| a == b);
    engine
        .register_type_with_name::<Exec>("Exec")
        .register_get("code", |e: &mut Exec| e.code)
        .register_get("ok", |e: &mut Exec| e.ok())
        .register_get("stdout", |e: &mut Exec| e.stdout.clone())
        .register_get("stderr", |e: &mut Exec| e.stderr.clone())
        .register_fn("to_string", |e: &mut Exec| e.to_string())
        .register_fn("to_debug", |e: &mut Exec| e.to_string());
    engine
        .register_type_with_name::<Ping>("Ping")
        .register_get("ok", |p: &mut Ping| p.ok())
        .register_get("sent", |p: &mut Ping| p.report.sent as i64)
        .register_get("received", |p: &mut Ping| p.report.received as i64)
        .register_get("loss", |p: &mut Ping| p.loss())
        .register_get("rtt_min", |p: &mut Ping| p.rtt_min())
        .register_get("rtt_avg", |p: &mut Ping| p.rtt_avg())
        .register_get("rtt_max", |p: &mut Ping| p.rtt_max())
        .register_get("error", |p: &mut Ping| p.error())
        .register_get("dst", |p: &mut Ping| p.dst.clone())
        .register_get("ttl", |p: &mut Ping| p.report.ttl.map_or(Dynamic::UNIT, |t| Dynamic::from(i64::from(t))))
        .register_get("from", |p: &mut Ping| p.report.from.map_or(Dynamic::UNIT, |a| Dynamic::from(a.to_string())))
        .register_get("icmp_from", |p: &mut Ping| p.report.icmp_from.map_or(Dynamic::UNIT, |a| Dynamic::from(a.to_string())))
        .register_fn("to_string", |p: &mut Ping| p.to_string())
        .register_fn("to_debug", |p: &mut Ping| p.to_string());
    engine
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
