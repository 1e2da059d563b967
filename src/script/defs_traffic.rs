//! Traffic: shaping and impairment (tc qdiscs), pingall, throughput.
use std::time::Duration;

use rhai::Dynamic;

use super::args;
use super::native::{done, Call, Native, Opts, Out};
use super::values_traffic::PingAll;
use crate::lab::shaping::{ImpairSpec, ShapeSpec};
use crate::lab::throughput::{ThroughputSpec, DEFAULT_UDP_RATE};
use crate::lab::units;
use crate::lab::units::Amount;
use crate::lab::PingOptions;

pub const TRAFFIC: &[Native] = &[
    Native {
        name: "shape",
        forms: &[
            "shape(link, #{rate, burst, latency, delay, jitter, loss, replace})",
            "shape(ns, link, #{rate, burst, latency, delay, jitter, loss, replace})",
        ],
        summary: "Limit a link's egress rate with a token bucket (tbf root qdisc); calling it again changes the rate. \
                  With delay, jitter or loss (\"10ms\", \"1ms\", \"1%\" or seconds / percent) it is Mininet's \
                  TCLink(bw, delay): netem as the root qdisc and the tbf under it; that needs a kernel with sch_netem \
                  (without it shape fails naming sch_netem and the link is left as it was). \
                  rate: \"10mbit\", \"500kbit\", \"1gbit\" (tc's units) or bits per second; burst: \"32kb\" or bytes \
                  (default: 10 ms of the rate, and at least 4 full packets, 4 × (mtu + 14) bytes: 6056 at mtu 1500); \
                  latency: how long packets may queue, \"50ms\" or seconds (default 50 ms). The bucket must drain within \
                  the kernel's limit of about 275 s, which sets the lowest rate (184bit at mtu 1500 with the default \
                  burst). On a link the lab did not create that has a root qdisc someone configured, it is refused \
                  unless replace: true (that qdisc comes back when the lab ends).",
        example: r#"shape("a", "eth0", #{rate: "20mbit"}); shape("a", "eth0", #{rate: "1mbit", burst: "64kb", latency: "20ms"});"#,
        ip: "tc qdisc replace dev LINK root tbf rate RATE burst BURST latency LATENCY",
        call: shape,
    },
    Native {
        name: "impair",
        forms: &[
            "impair(link, #{delay, jitter, loss, duplicate, corrupt, reorder, replace})",
            "impair(ns, link, #{delay, jitter, loss, duplicate, corrupt, reorder, replace})",
        ],
        summary: "Emulate a worse network on a link's egress (netem root qdisc): delay and jitter (\"100ms\", \"10ms\" or \
                  seconds), loss, duplicate, corrupt and reorder (\"1%\" or percent); jitter and reorder need a delay. \
                  replace: as for shape. Needs a kernel with sch_netem.",
        example: r#"impair("a", "eth0", #{delay: "100ms", jitter: "10ms", loss: "1%"});"#,
        ip: "tc qdisc replace dev LINK root netem delay D J loss L duplicate P corrupt P reorder P",
        call: impair,
    },
    Native {
        name: "unshape",
        forms: &["unshape(link)", "unshape(ns, link)"],
        summary: "Remove a link's shaping or impairment (its root qdisc); nothing happens when it has none. On a link \
                  the lab did not create, only the lab's own qdisc goes, and what it replaced comes back.",
        example: r#"unshape("a", "eth0");"#,
        ip: "tc qdisc del dev LINK root",
        call: unshape,
    },
    Native {
        name: "pingall",
        forms: &["pingall() -> PingAll", "pingall(#{among, count, timeout, elsewhere}) -> PingAll"],
        summary: "Every host of the lab pings every global address of every other, in parallel: the hosts are the \
                  namespaces this lab created that have a global address (not nslab's own, nor other labs' or users'; \
                  a switch namespace holding only a bridge is no host), or those among names (namespaces the lab \
                  created or opened). The summary names the pairs that got no reply. The result prints as a table with a summary line; .ok (all \
                  answered), .pairs (maps: from, to, dst, ok, sent, received, loss, rtt, error), .sent, .received, \
                  .dropped (percent), .summary, .namespaces. Defaults: 1 request per address, 1 s to answer. \
                  In a lab across machines the hosts of every machine take part; elsewhere (#{name: [addresses]}) \
                  adds destinations that other machines hold, which is how each machine's part is asked.",
        example: r#"let r = pingall(); print(r); assert(r.ok);"#,
        ip: "mininet> pingall",
        call: pingall,
    },
    Native {
        name: "throughput",
        forms: &["throughput(from_ns, to_ns) -> float", "throughput(from_ns, to_ns, #{seconds, port, dst, udp, rate}) -> float"],
        summary: "TCP throughput from one namespace to another in bits per second, measured at the receiver (no iperf \
                  needed). Sends for `seconds` (default 2); connects to dst (default: to_ns's first global address, IPv4 \
                  first) on port (default: a free one). Ctrl-C stops it. With udp: true it is iperf -u: datagrams of \
                  1470 bytes (1450 over IPv6) paced at rate (\"10mbit\" or bits per second, default 1 Mbit/s), and \
                  it returns a UdpThroughput map #{bps, loss, jitter, sent, received}: the received rate in bits \
                  per second, the datagrams lost in \
                  percent, and the RFC 3550 interarrival jitter in seconds. In a lab across machines the two \
                  namespaces may live on two machines: the receiving half runs on to_ns's, the sending half on \
                  from_ns's (throughput_receive, throughput_send).",
        example: r#"let bps = throughput("a", "b", #{seconds: 1}); print(`${bps / 1e6} Mbit/s`);"#,
        ip: "iperf3 -s (in to_ns); iperf3 -c DST -t SECONDS (in from_ns)",
        call: throughput,
    },
];

type Res<T> = Result<T, Box<rhai::EvalAltResult>>;

/// An option given as text with a unit ("10mbit") or as a number (unit per option).
pub(super) fn amount(c: &Call, o: &Opts, key: &str, example: &str) -> Res<Option<Amount>> {
    let Some(v) = o.get(key) else { return Ok(None) };
    if v.is_string() {
        return Ok(Some(Amount::Text(v.clone().into_string().expect("checked"))));
    }
    if let Ok(i) = v.as_int() {
        return Ok(Some(Amount::Number(i as f64)));
    }
    if let Ok(f) = v.as_float() {
        return Ok(Some(Amount::Number(f)));
    }
    Err(c.error(format!(
        "the {key} option of {} must be a string like {example:?} or a number, not {}",
        c.ctx().fn_name(),
        args::shown(v)
    )))
}

fn shape(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    let o = c.opts()?;
    let replace = o.boolean("replace")?.unwrap_or(false);
    let emulation = ImpairSpec {
        delay: amount(c, &o, "delay", "100ms")?,
        jitter: amount(c, &o, "jitter", "10ms")?,
        loss: amount(c, &o, "loss", "1%")?,
        replace,
        ..Default::default()
    };
    let emulated = emulation.delay.is_some() || emulation.jitter.is_some() || emulation.loss.is_some();
    let rate = amount(c, &o, "rate", "10mbit")?;
    let (burst, latency) = (amount(c, &o, "burst", "32kb")?, amount(c, &o, "latency", "50ms")?);
    let Some(rate) = rate else {
        if !emulated {
            return Err(c
                .error("shape needs a rate or a delay, jitter or loss, like #{rate: \"10mbit\", delay: \"10ms\"}")
                .into());
        }
        if burst.is_some() || latency.is_some() {
            return Err(c.error("the burst and latency options of shape belong to a rate: add rate: \"10mbit\"").into());
        }
        c.lab().shape_emulated(&ns, &link, None, &emulation)?;
        return done();
    };
    let spec = ShapeSpec { rate, burst, latency, replace };
    if emulated {
        c.lab().shape_emulated(&ns, &link, Some(&spec), &emulation)?;
    } else {
        c.lab().shape(&ns, &link, &spec)?;
    }
    done()
}

fn impair(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    let o = c.opts()?;
    let spec = ImpairSpec {
        delay: amount(c, &o, "delay", "100ms")?,
        jitter: amount(c, &o, "jitter", "10ms")?,
        loss: amount(c, &o, "loss", "1%")?,
        duplicate: amount(c, &o, "duplicate", "1%")?,
        corrupt: amount(c, &o, "corrupt", "1%")?,
        reorder: amount(c, &o, "reorder", "25%")?,
        replace: o.boolean("replace")?.unwrap_or(false),
    };
    c.lab().impair(&ns, &link, &spec)?;
    done()
}

fn unshape(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let link = c.string("link", "a link name")?;
    c.lab().unshape(&ns, &link)?;
    done()
}

/// One request per pair and a second to answer, like Mininet's `pingall`.
fn pingall(c: &mut Call) -> Out {
    let o = c.opts()?;
    let mut opts = PingOptions { interval: Duration::from_millis(200), ..Default::default() };
    if let Some(n) = o.integer("count")? {
        opts.count = u32::try_from(n)
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| c.error(format!("the count option of pingall must be from 1 to 1000, not {n}")))?;
    }
    if let Some(t) = o.seconds_in("timeout", 0.001, 3600.0)? {
        opts.timeout = t;
    }
    let among = match o.get("among") {
        None => None,
        Some(v) => {
            let Some(items) = v.clone().try_cast::<rhai::Array>() else {
                return Err(c
                    .error(format!("the among option of pingall must be an array of namespaces, not {}", args::shown(v)))
                    .into());
            };
            let names = items
                .iter()
                .enumerate()
                .map(|(k, item)| match args::ns(c.ctx(), item, 0) {
                    Ok(crate::lab::Ns::Named(n)) => Ok(n),
                    _ => Err(c.error(format!(
                        "item {k} of the among option of pingall must be a namespace of the lab (a name or a Netns handle), not {}",
                        args::shown(item)
                    ))),
                })
                .collect::<Result<Vec<String>, _>>()?;
            Some(names)
        }
    };
    let mut elsewhere = Vec::new();
    if let Some(v) = o.get("elsewhere") {
        let wrong = || {
            c.error(format!(
                "the elsewhere option of pingall must be a map of names to arrays of addresses, not {}",
                args::shown(v)
            ))
        };
        let map = v.clone().try_cast::<rhai::Map>().ok_or_else(wrong)?;
        for (name, addrs) in map {
            let list = addrs.try_cast::<rhai::Array>().ok_or_else(wrong)?;
            let ips = list
                .iter()
                .map(|a| a.clone().into_string().ok().and_then(|t| t.parse::<std::net::IpAddr>().ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(wrong)?;
            elsewhere.push((name.to_string(), ips));
        }
    }
    Ok(Dynamic::from(PingAll(c.lab().pingall_with(&opts, among.as_deref(), &elsewhere)?)))
}

fn throughput(c: &mut Call) -> Out {
    let o = c.opts()?;
    let mut spec = ThroughputSpec::default();
    if let Some(d) = o.seconds_in("seconds", 0.01, 3600.0)? {
        spec.duration = d;
    }
    if let Some(p) = o.integer("port")? {
        spec.port = u16::try_from(p)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| c.error(format!("the port option of throughput must be from 1 to 65535, not {p}")))?;
    }
    if let Some(d) = o.get("dst") {
        spec.dst = Some(args::string(c.ctx(), d, 2, "an address")?);
    }
    let from = c.ns_of("from_ns")?;
    let to = c.ns_of("to_ns")?;
    let rate = amount(c, &o, "rate", "10mbit")?;
    if o.boolean("udp")?.unwrap_or(false) {
        // units::rate gives bytes per second.
        let rate = match &rate {
            Some(r) => {
                let bps = units::rate(r)? as f64 * 8.0;
                if !(1000.0..=1e11).contains(&bps) {
                    return Err(c
                        .error(format!("the rate of a UDP throughput test must be from 1kbit to 100gbit, not {r}"))
                        .into());
                }
                bps
            }
            None => DEFAULT_UDP_RATE,
        };
        let r = c.lab().throughput_udp(&from, &to, &spec, rate)?;
        return Ok(udp_report_map(&r));
    }
    if rate.is_some() {
        return Err(c.error("the rate option of throughput paces UDP: add udp: true (TCP takes what the path gives)").into());
    }
    let report = c.lab().throughput(&from, &to, &spec)?;
    Ok(report.bits_per_second().into())
}

/// The UdpThroughput map of a UDP test's report.
pub(super) fn udp_report_map(r: &crate::lab::throughput_parts::UdpReport) -> Dynamic {
    let mut m = rhai::Map::new();
    m.insert("bps".into(), r.bits_per_second().into());
    m.insert("loss".into(), r.loss_percent().into());
    m.insert("jitter".into(), r.jitter.into());
    m.insert("sent".into(), (r.sent as i64).into());
    m.insert("received".into(), (r.received as i64).into());
    m.into()
}

#[cfg(test)]
mod tests {
    use crate::engine::tc_options::Clock;
    use crate::lab::shaping::{self, ShapeSpec};
    use crate::lab::units::Amount;

    /// The defaults and limits the reference states for shape are the code's.
    #[test]
    fn shape_documents_the_code() {
        let doc = super::TRAFFIC.iter().find(|d| d.name == "shape").unwrap().summary;
        let ms = shaping::DEFAULT_BURST_TIME_NS / 1_000_000;
        let frames = shaping::DEFAULT_BURST_FRAMES;
        let at_1500 = shaping::default_burst(1, 1500);
        assert!(doc.contains(&format!("default: {ms} ms of the rate, and at least {frames} full packets, {frames} × (mtu + 14) bytes: {at_1500} at mtu 1500")), "{doc}");
        assert!(doc.contains(&format!("(default {} ms)", shaping::DEFAULT_LATENCY_NS / 1_000_000)), "{doc}");
        assert!(doc.contains(&format!("about {:.0} s", Clock::STANDARD.max_usec() / 1e6)), "{doc}");
        // The lowest rate stated works, and a bit less does not.
        let spec = |rate: &str| ShapeSpec { rate: Amount::Text(rate.into()), burst: None, latency: None, replace: false };
        assert!(doc.contains("(184bit at mtu 1500 with the default burst)"));
        assert!(spec("184bit").tbf(1500, &Clock::STANDARD).is_ok());
        assert!(spec("176bit").tbf(1500, &Clock::STANDARD).is_err());
    }
}
