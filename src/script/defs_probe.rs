//! Probes: traceroute, TCP services (tcp_listen, tcp_connect, wait_tcp), and the options of
//! `ping` (whose definition is in `defs_core.rs`).

use std::net::IpAddr;
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, Map};

use super::failure::Res;
use super::native::{Call, Native, Opts, Out};
use crate::lab::tcp::TcpService;
use crate::lab::traceroute::{TraceOptions, TraceProto};
use crate::lab::ConnectReport;
use crate::lab::PingOptions;

pub const PROBE: &[Native] = &[
    Native {
        name: "explain",
        forms: &["explain(ns, dst) -> array", "explain(ns, dst, #{arrived_from}) -> array"],
        summary: "The hop-by-hop account of the path from ns to the address dst that a failed expect_reach gives, \
                  without sending a packet: a line per namespace crossed (what the kernel does there, what stands in \
                  the way). arrived_from: the packets come into ns from elsewhere with that source address (ns must \
                  forward them, and the reply find its way back): how a lab across machines goes on past a link \
                  between machines.",
        example: r#"for line in explain("h1", "10.0.2.2") { print(line); }"#,
        ip: "ip netns exec NS ip route get DST; ip neigh; sysctl net.ipv4.ip_forward (at each hop)",
        call: explain,
    },
    Native {
        name: "traceroute",
        forms: &[
            "traceroute(dst) -> array",
            "traceroute(ns, dst) -> array",
            "traceroute(dst, #{max_hops, timeout, proto}) -> array",
            "traceroute(ns, dst, #{max_hops, timeout, proto}) -> array",
        ],
        summary: "Trace the path to dst natively: probes with TTL 1, 2, ... (one per hop) until the destination \
                  answers. Returns an array of Hop maps #{ttl, addr, rtt} (addr the router that answered, or () where \
                  nothing did; rtt in seconds, or ()). proto: \"icmp\" (echo requests, default) or \"udp\" (ports \
                  from 33434); max_hops default 30; timeout: seconds per probe (default 1).",
        example: r#"for h in traceroute("h1", "10.0.3.2") { print(`${h.ttl} ${h.addr}`); }"#,
        ip: "ip netns exec NS traceroute -n -q 1 [-I|-U] -m MAX_HOPS -w TIMEOUT DST",
        call: traceroute,
    },
    Native {
        name: "tcp_listen",
        forms: &[
            "tcp_listen(port) -> TcpListener",
            "tcp_listen(ns, port) -> TcpListener",
            "tcp_listen(port, #{addr}) -> TcpListener",
            "tcp_listen(ns, port, #{addr}) -> TcpListener",
        ],
        summary: "Listen on a TCP port (0: one the kernel picks) in a namespace, on addr or on every address; each \
                  connection is accepted, answered with \"nslab\\n\" and closed. The handle (fields: port, addr, \
                  accepted, open; method close()) stops listening when closed, when the last copy is dropped, when \
                  its namespace is deleted, or when the lab ends.",
        example: r#"let srv = tcp_listen("h2", 8080); wait_tcp("h1", "10.0.0.2", 8080, 5); srv.close();"#,
        ip: "ip netns exec NS nc -lk PORT",
        call: tcp_listen,
    },
    Native {
        name: "tcp_connect",
        forms: &[
            "tcp_connect(dst, port) -> map",
            "tcp_connect(ns, dst, port) -> map",
            "tcp_connect(dst, port, #{timeout}) -> map",
            "tcp_connect(ns, dst, port, #{timeout}) -> map",
        ],
        summary: "Try one TCP connection; never raises for a refused, unreachable or silent destination. Returns a \
                  TcpConnect map #{ok, error, rtt}: error \"Connection refused\", \"No route to host\", \"timed out after 1 s\" \
                  (\"\" when ok); rtt: seconds to connect, or (). timeout: seconds (default 1).",
        example: r#"let r = tcp_connect("h1", "10.0.0.2", 80); assert(!r.ok && r.error == "Connection refused");"#,
        ip: "ip netns exec NS nc -z -w TIMEOUT DST PORT",
        call: tcp_connect,
    },
    Native {
        name: "wait_tcp",
        forms: &["wait_tcp(dst, port, timeout) -> map", "wait_tcp(ns, dst, port, timeout) -> map"],
        summary: "Wait until something accepts TCP connections on dst:port (tries every 50 ms); returns what \
                  tcp_connect returns, or fails after timeout seconds naming the last reason.",
        example: r#"exec("h2", ["sh", "-c", "sleep 1; nc -l 8080"]); wait_tcp("h1", "10.0.0.2", 8080, 5);"#,
        ip: "until ip netns exec NS nc -z DST PORT; do sleep 0.05; done",
        call: wait_tcp,
    },
];

/// The options of `ping`: count, timeout, interval, ttl, size, from, dev.
pub fn ping_options(c: &Call, o: &Opts) -> Res<PingOptions> {
    let mut opts = PingOptions::default();
    if let Some(n) = int_in(c, o, "count", 1, i64::from(u32::MAX))? {
        opts.count = n as u32;
    }
    if let Some(t) = o.seconds("timeout", 0.001)? {
        opts.timeout = t;
    }
    if let Some(i) = o.seconds("interval", 0.0)? {
        opts.interval = i;
    }
    opts.ttl = int_in(c, o, "ttl", 1, 255)?.map(|t| t as u8);
    // The bound for the destination's family is the lab's to check.
    if let Some(s) = int_in(c, o, "size", 0, 65_527)? {
        opts.size = s as usize;
    }
    opts.from = address(c, o, "from")?;
    opts.dev = o.text("dev", "a link name")?;
    Ok(opts)
}

/// An integer option from `lo` to `hi`.
fn int_in(c: &Call, o: &Opts, key: &str, lo: i64, hi: i64) -> Res<Option<i64>> {
    let Some(n) = o.integer(key)? else { return Ok(None) };
    if !(lo..=hi).contains(&n) {
        return Err(c.error(format!("the {key} option of {} must be from {lo} to {hi}, not {n}", c.ctx().fn_name())));
    }
    Ok(Some(n))
}

/// An address option ("10.0.0.1", "fd00::1").
fn address(c: &Call, o: &Opts, key: &str) -> Res<Option<IpAddr>> {
    let Some(text) = o.text(key, "an IP address")? else { return Ok(None) };
    text.parse().map(Some).map_err(|_| {
        c.error(format!(
            "the {key} option of {} must be an IP address like \"10.0.0.1\" or \"fd00::1\", not {text:?}",
            c.ctx().fn_name()
        ))
    })
}

/// The `port` argument, from `lo` to 65535.
fn port(c: &Call, lo: i64) -> Res<u16> {
    let p = c.integer("port", "the port")?;
    u16::try_from(p)
        .ok()
        .filter(|p| i64::from(*p) >= lo)
        .ok_or_else(|| c.error(format!("the port of {} must be from {lo} to 65535, not {p}", c.ctx().fn_name())))
}

fn seconds_value(d: Option<Duration>) -> Dynamic {
    d.map_or(Dynamic::UNIT, |d| Dynamic::from(d.as_secs_f64()))
}

fn traceroute(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let dst = c.string("dst", "a destination address")?;
    let o = c.opts()?;
    let mut opts = TraceOptions::default();
    if let Some(m) = int_in(c, &o, "max_hops", 1, 255)? {
        opts.max_hops = m as u8;
    }
    if let Some(t) = o.seconds_in("timeout", 0.001, 60.0)? {
        opts.timeout = t;
    }
    opts.proto = match o.string("proto")?.as_deref() {
        None | Some("icmp") => TraceProto::Icmp,
        Some("udp") => TraceProto::Udp,
        Some(other) => {
            return Err(c.error(format!("the proto option of traceroute must be \"icmp\" or \"udp\", not {other:?}")).into())
        }
    };
    let hops = c.lab().traceroute(&ns, &dst, &opts)?;
    let hops: Array = hops
        .into_iter()
        .map(|h| {
            let mut m = Map::new();
            m.insert("ttl".into(), i64::from(h.ttl).into());
            m.insert("addr".into(), h.addr.map_or(Dynamic::UNIT, |a| a.to_string().into()));
            m.insert("rtt".into(), h.rtt_ms.map_or(Dynamic::UNIT, |ms| (ms / 1000.0).into()));
            Dynamic::from(m)
        })
        .collect();
    Ok(hops.into())
}

fn tcp_listen(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let port = port(c, 0)?;
    let o = c.opts()?;
    let addr = o.text("addr", "an IP address")?;
    let service = c.lab().tcp_listen(&ns, port, addr.as_deref())?;
    Ok(Dynamic::from(service))
}

fn connect_map(r: ConnectReport) -> Dynamic {
    let mut m = Map::new();
    m.insert("ok".into(), r.ok.into());
    m.insert("error".into(), r.error.unwrap_or_default().into());
    m.insert("rtt".into(), seconds_value(r.rtt));
    m.into()
}

fn tcp_connect(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let dst = c.string("dst", "a destination address")?;
    let port = port(c, 1)?;
    let timeout = c.opts()?.seconds_in("timeout", 0.001, 3600.0)?.unwrap_or(Duration::from_secs(1));
    let report = c.lab().tcp_connect(&ns, &dst, port, timeout)?;
    Ok(connect_map(report))
}

fn wait_tcp(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let dst = c.string("dst", "a destination address")?;
    let port = port(c, 1)?;
    let t = c.number("timeout", "the timeout")?;
    if !(0.001..=3600.0).contains(&t) {
        return Err(c.error(format!("the timeout of wait_tcp must be a number of seconds from 0.001 to 3600, not {t}")).into());
    }
    let report = c.lab().wait_tcp(&ns, &dst, port, Duration::from_secs_f64(t))?;
    Ok(connect_map(report))
}

/// The handle `tcp_listen` returns.
pub fn register_types(engine: &mut Engine, lab: &super::registrar::SharedLab) {
    // A listener an agent holds answers there (see `remote.rs`); port and addr do not change.
    let remote = |lab: &super::registrar::SharedLab, s: &TcpService, expr: &str| -> Option<Dynamic> {
        let m = s.on.as_deref().filter(|_| !s.is_here())?;
        super::remote::on_handle(lab, m, expr, Dynamic::from(s.clone())).ok()
    };
    let (l1, l2, l3) = (lab.clone(), lab.clone(), lab.clone());
    engine
        .register_type_with_name::<TcpService>("TcpListener")
        .register_get("port", |s: &mut TcpService| i64::from(s.port()))
        .register_get("addr", |s: &mut TcpService| s.addr().to_string())
        .register_get("accepted", move |s: &mut TcpService| match remote(&l1, s, "__a0.accepted") {
            Some(v) => v.as_int().unwrap_or(0),
            None => s.accepted() as i64,
        })
        .register_get("open", move |s: &mut TcpService| match remote(&l2, s, "__a0.open") {
            Some(v) => v.as_bool().unwrap_or(false),
            None => s.is_open(),
        })
        .register_fn("close", move |s: &mut TcpService| {
            if remote(&l3, s, "__a0.close()").is_none() {
                s.close()
            }
        })
        .register_fn("to_string", |s: &mut TcpService| format!("{s:?}"))
        .register_fn("to_debug", |s: &mut TcpService| format!("{s:?}"));
}

fn explain(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let text = c.string("dst", "an address")?;
    let dst: IpAddr =
        text.parse().map_err(|_| c.error(format!("explain needs an address to explain the path to, not {text:?}")))?;
    let arrived = match c.opts()?.string("arrived_from")? {
        None => None,
        Some(t) => Some(
            t.parse::<IpAddr>()
                .map_err(|_| c.error(format!("the arrived_from option of explain must be an address, not {t:?}")))?,
        ),
    };
    let d = {
        let mut lab = c.lab();
        lab.flush()?;
        lab.diagnose_onward(&ns, dst, arrived)
    };
    Ok(super::render_reach::diagnosis(&d).into_iter().map(Dynamic::from).collect::<Array>().into())
}
