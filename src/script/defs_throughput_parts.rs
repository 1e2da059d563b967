//! The halves of `throughput`, for a lab across machines: a receiver started where the
//! receiving namespace lives, a sender where the sending one lives, and the receiver's result.
//! `throughput(a, b)` with `a` and `b` on two machines runs them (`remote_cross.rs`); a script
//! can call them too.

use rhai::{Dynamic, Map};

use super::failure::Res;
use super::native::{Call, Native, Opts, Out};
use crate::lab::throughput::{ThroughputSpec, DEFAULT_UDP_RATE};
use crate::lab::throughput_parts::{Arrived, Received, SendReport, Sent, UdpReport};
use crate::lab::units;

pub const THROUGHPUT_PARTS: &[Native] = &[
    Native {
        name: "throughput_receive",
        forms: &[
            "throughput_receive() -> map",
            "throughput_receive(ns) -> map",
            "throughput_receive(#{port, seconds, udp, dst}) -> map",
            "throughput_receive(ns, #{port, seconds, udp, dst}) -> map",
        ],
        summary: "The receiving half of throughput, for a lab across machines: listens in a namespace on port \
                  (default: a free one) for one TCP connection (or UDP datagrams with udp: true) and counts what \
                  arrives for `seconds` (default 2) from the connection, on a thread of its own. Returns #{id, port, \
                  dst}: dst is the address to send to (the dst option, else the namespace's first global address). \
                  throughput_result(id) gives the count; the receiver also ends with its namespace or the lab.",
        example: r#"let r = throughput_receive("b", #{seconds: 1}); throughput_send("a", r.dst, r.port, #{seconds: 1}); print(throughput_result(r.id).bps);"#,
        ip: "iperf3 -s -1 -p PORT (in ns)",
        call: receive,
    },
    Native {
        name: "throughput_send",
        forms: &[
            "throughput_send(dst, port) -> map",
            "throughput_send(ns, dst, port) -> map",
            "throughput_send(dst, port, #{seconds, udp, rate}) -> map",
            "throughput_send(ns, dst, port, #{seconds, udp, rate}) -> map",
        ],
        summary: "The sending half of throughput, for a lab across machines: connects from a namespace to dst \
                  port and sends TCP for `seconds` (default 2), or with udp: true datagrams paced at rate \
                  (\"10mbit\" or bits per second, default 1 Mbit/s). Returns #{bytes} (TCP: bytes sent) or #{sent, \
                  seconds} (UDP: datagrams sent, sending time).",
        example: r#"let r = throughput_receive("b"); throughput_send("a", r.dst, r.port);"#,
        ip: "iperf3 -c DST -p PORT -t SECONDS (in ns)",
        call: send,
    },
    Native {
        name: "throughput_result",
        forms: &["throughput_result(id) -> map"],
        summary: "What the receiver throughput_receive started counted, once its sender is done; the receiver \
                  ends. TCP: #{bps, bytes, seconds} (bits per second over the measured window); UDP: #{received, \
                  bytes, jitter} (datagrams, payload bytes, RFC 3550 jitter in seconds).",
        example: r#"let r = throughput_receive("b"); throughput_send("a", r.dst, r.port); let bps = throughput_result(r.id).bps;"#,
        ip: "(iperf3 -s's report)",
        call: result,
    },
];

/// The options both halves share: seconds and port, and whether it is UDP.
fn spec_of(c: &Call, o: &Opts) -> Res<(ThroughputSpec, bool)> {
    let mut spec = ThroughputSpec::default();
    if let Some(d) = o.seconds_in("seconds", 0.01, 3600.0)? {
        spec.duration = d;
    }
    if let Some(p) = o.integer("port")? {
        spec.port = u16::try_from(p)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| c.error(format!("the port option of {} must be from 1 to 65535, not {p}", c.ctx().fn_name())))?;
    }
    Ok((spec, o.boolean("udp")?.unwrap_or(false)))
}

fn receive(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let o = c.opts()?;
    let (mut spec, udp) = spec_of(c, &o)?;
    spec.dst = o.text("dst", "an address")?;
    let r = c.lab().throughput_receive(&ns, &spec, udp)?;
    let mut m = Map::new();
    m.insert("id".into(), (r.id as i64).into());
    m.insert("port".into(), i64::from(r.port).into());
    m.insert("dst".into(), r.dst.to_string().into());
    Ok(m.into())
}

fn send(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let dst = c.string("dst", "a destination address")?;
    let p = c.integer("port", "the port")?;
    let port = u16::try_from(p)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| c.error(format!("the port of throughput_send must be from 1 to 65535, not {p}")))?;
    let o = c.opts()?;
    let (spec, udp) = spec_of(c, &o)?;
    let rate = super::defs_traffic::amount(c, &o, "rate", "10mbit")?;
    let udp_rate = match (udp, rate) {
        (false, Some(_)) => {
            return Err(c
                .error("the rate option of throughput_send paces UDP: add udp: true (TCP takes what the path gives)")
                .into())
        }
        (false, None) => None,
        (true, None) => Some(DEFAULT_UDP_RATE),
        // units::rate gives bytes per second.
        (true, Some(r)) => {
            let bps = units::rate(&r)? as f64 * 8.0;
            if !(1000.0..=1e11).contains(&bps) {
                return Err(c.error(format!("the rate of a UDP throughput test must be from 1kbit to 100gbit, not {r}")).into());
            }
            Some(bps)
        }
    };
    let mut m = Map::new();
    match c.lab().throughput_send(&ns, &dst, port, &spec, udp_rate)? {
        SendReport::Tcp { bytes } => {
            m.insert("bytes".into(), (bytes as i64).into());
        }
        SendReport::Udp(s) => {
            m.insert("sent".into(), (s.sent as i64).into());
            m.insert("seconds".into(), s.seconds.into());
        }
    }
    Ok(m.into())
}

fn result(c: &mut Call) -> Out {
    let id = c.integer("id", "the id")?;
    let id = u64::try_from(id).map_err(|_| c.error(format!("the id of throughput_result must be a receiver's id, not {id}")))?;
    let mut m = Map::new();
    match c.lab().throughput_result(id)? {
        Received::Tcp(r) => {
            m.insert("bps".into(), r.bits_per_second().into());
            m.insert("bytes".into(), (r.bytes as i64).into());
            m.insert("seconds".into(), r.seconds.into());
        }
        Received::Udp(a) => {
            m.insert("received".into(), (a.received as i64).into());
            m.insert("bytes".into(), (a.bytes as i64).into());
            m.insert("jitter".into(), a.jitter.into());
        }
    }
    Ok(m.into())
}

/// The map `throughput(.., #{udp: true})` returns, from the two halves' maps.
pub fn udp_map(sent: &Map, received: &Map) -> Dynamic {
    let int = |m: &Map, k: &str| m.get(k).and_then(|v| v.as_int().ok()).unwrap_or(0).max(0) as u64;
    let float = |m: &Map, k: &str| m.get(k).and_then(|v| v.as_float().ok()).unwrap_or(0.0);
    let r = UdpReport::of(
        Sent { sent: int(sent, "sent"), seconds: float(sent, "seconds") },
        Arrived { received: int(received, "received"), bytes: int(received, "bytes"), jitter: float(received, "jitter") },
    );
    super::defs_traffic::udp_report_map(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_make_the_udp_map_of_throughput() {
        let mut sent = Map::new();
        sent.insert("sent".into(), 100_i64.into());
        sent.insert("seconds".into(), 2.0_f64.into());
        let mut received = Map::new();
        received.insert("received".into(), 90_i64.into());
        received.insert("bytes".into(), (90_i64 * 1470).into());
        received.insert("jitter".into(), 0.001_f64.into());
        let m = udp_map(&sent, &received).cast::<Map>();
        assert_eq!(m["sent"].as_int().unwrap(), 100);
        assert_eq!(m["received"].as_int().unwrap(), 90);
        assert!((m["loss"].as_float().unwrap() - 10.0).abs() < 1e-9);
        assert!((m["bps"].as_float().unwrap() - 90.0 * 1470.0 * 8.0 / 2.0).abs() < 1e-6);
        assert_eq!(m["jitter"].as_float().unwrap(), 0.001);
    }
}
