//! Link shaping: a token bucket (tbf) or network emulation (netem) as a link's root qdisc,
//! changeable while the lab runs, and removable (`tc qdisc replace/del dev LINK root`).

use nix::errno::Errno;

use super::ledger::{Object, SavedQdisc};
use super::units::{self, Amount};
use super::{Lab, LabError, Ns, Result};
use crate::engine::tc;
use crate::engine::tc_options::{self, Clock, Netem, Tbf};

/// What `shape` asks for; burst and latency have defaults (see `Tbf` below).
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeSpec {
    pub rate: Amount,
    pub burst: Option<Amount>,
    pub latency: Option<Amount>,
    /// Replace a root qdisc someone else configured on a link the lab did not create (it is
    /// put back at teardown); without it, that is refused.
    pub replace: bool,
}

/// What `impair` asks for: every field is optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImpairSpec {
    pub delay: Option<Amount>,
    pub jitter: Option<Amount>,
    pub loss: Option<Amount>,
    pub duplicate: Option<Amount>,
    pub corrupt: Option<Amount>,
    pub reorder: Option<Amount>,
    /// As `ShapeSpec::replace`.
    pub replace: bool,
}

/// How long a packet may wait in tbf's queue when no latency is given. Long enough that TCP
/// keeps the link busy after backing off at the queue's end (measured: see tests/traffic.rs).
pub const DEFAULT_LATENCY_NS: u64 = 50_000_000;
/// The default bucket: 10 ms worth of the rate (fast links need it: with 16 KiB at 1 Gbit/s TCP
/// got 55-75% of the rate), and at least four full frames (a large bucket on a slow link lets
/// a burst through at line rate: 32 KiB at 1 Mbit/s measured 106% over 2 s).
pub const DEFAULT_BURST_TIME_NS: u64 = 10_000_000;
pub const DEFAULT_BURST_FRAMES: u32 = 4;
/// Link-layer header tbf adds to the MTU when it checks a packet against the bucket (Ethernet).
const ETH_HEADER: u32 = 14;

/// The bucket used when `burst` is left out.
pub fn default_burst(rate: u64, mtu: u32) -> u32 {
    let by_time = (rate as u128 * u128::from(DEFAULT_BURST_TIME_NS) / 1_000_000_000) as u64;
    let floor = DEFAULT_BURST_FRAMES * (mtu + ETH_HEADER);
    u32::try_from(by_time).unwrap_or(u32::MAX).max(floor)
}

impl ShapeSpec {
    /// The tbf parameters, checked; `mtu` is the link's (a bucket smaller than one packet would
    /// pass nothing).
    pub fn tbf(&self, mtu: u32, clock: &Clock) -> Result<Tbf> {
        let rate = units::rate(&self.rate)?;
        let burst = match &self.burst {
            Some(b) => {
                let burst = units::size("burst", b)?;
                if burst < mtu + ETH_HEADER {
                    return Err(LabError::Invalid {
                        what: "burst",
                        value: b.to_string(),
                        reason: format!(
                            "it is smaller than one full packet on this link ({} bytes: mtu {mtu} plus the link header), \
                             so full-size packets could never pass",
                            mtu + ETH_HEADER
                        ),
                    });
                }
                burst
            }
            None => default_burst(rate, mtu),
        };
        let latency_ns = match &self.latency {
            Some(l) => units::time_ns("latency", l)?,
            None => DEFAULT_LATENCY_NS,
        };
        let burst_usec = f64::from(burst) * 1e6 / rate as f64;
        if burst_usec > clock.max_usec() {
            // The bucket must drain within the kernel's 32-bit tick count: the lowest rate that
            // does, in whole bytes per second (what the rate becomes), shown in bits.
            let max_s = clock.max_usec() / 1e6;
            let lowest = (f64::from(burst) * 1e6 / clock.max_usec()).ceil() as u64;
            let lowest = format!("{}bit", lowest * 8);
            return Err(match &self.burst {
                None => LabError::Invalid {
                    what: "rate",
                    value: self.rate.to_string(),
                    reason: format!(
                        "the lowest rate on a link with mtu {mtu} is {lowest}: the default bucket, four full packets \
                         ({burst} bytes), must drain within the kernel's limit of {max_s:.0} s"
                    ),
                },
                Some(b) => {
                    let largest = (rate as f64 * max_s).floor() as u64;
                    let or_burst = if largest >= u64::from(mtu + ETH_HEADER) {
                        format!(", or a burst of at most {largest} bytes at this rate")
                    } else {
                        String::new()
                    };
                    LabError::Invalid {
                        what: "burst",
                        value: b.to_string(),
                        reason: format!(
                            "at rate {} it lasts {:.0} s, and the kernel's token bucket holds at most {max_s:.0} s: \
                             give a rate of at least {lowest} for this burst{or_burst}",
                            self.rate,
                            burst_usec / 1e6,
                        ),
                    }
                }
            });
        }
        Ok(Tbf { rate, burst, latency_us: u32::try_from(latency_ns / 1000).unwrap_or(u32::MAX) })
    }
}

impl ImpairSpec {
    /// The netem parameters, checked (netem's own rules: jitter and reordering need a delay).
    pub fn netem(&self) -> Result<Netem> {
        let time = |what: &'static str, v: &Option<Amount>| v.as_ref().map(|v| units::time_ns(what, v)).transpose();
        let prob = |what: &'static str, v: &Option<Amount>| -> Result<u32> {
            Ok(v.as_ref().map(|v| units::percent(what, v)).transpose()?.map(tc_options::probability).unwrap_or(0))
        };
        let delay_ns = time("delay", &self.delay)?.unwrap_or(0);
        let jitter_ns = time("jitter", &self.jitter)?.unwrap_or(0);
        let netem = Netem {
            delay_ns,
            jitter_ns,
            loss: prob("loss", &self.loss)?,
            duplicate: prob("duplicate", &self.duplicate)?,
            corrupt: prob("corrupt", &self.corrupt)?,
            reorder: prob("reorder", &self.reorder)?,
            limit: tc_options::NETEM_DEFAULT_LIMIT,
        };
        let needs_delay = |what: &'static str, value: &Option<Amount>, set: bool| -> Result<()> {
            if set && delay_ns == 0 {
                return Err(LabError::Invalid {
                    what,
                    value: value.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                    reason: format!("{what} needs a delay (netem varies or reorders delayed packets): add delay: \"10ms\""),
                });
            }
            Ok(())
        };
        needs_delay("jitter", &self.jitter, jitter_ns > 0)?;
        needs_delay("reorder", &self.reorder, netem.reorder > 0)?;
        Ok(netem)
    }
}

impl Lab {
    /// Limits a link's egress rate with a token bucket (tbf) as its root qdisc, replacing any
    /// root qdisc it had: calling it again changes the rate in place.
    pub fn shape(&mut self, ns: &Ns, link: &str, spec: &ShapeSpec) -> Result<()> {
        // Input errors first, before the kernel is asked anything.
        units::rate(&spec.rate)?;
        if let Some(b) = &spec.burst {
            units::size("burst", b)?;
        }
        if let Some(l) = &spec.latency {
            units::time_ns("latency", l)?;
        }
        let mtu = self.link_mtu(ns, link)?;
        let clock = Clock::read();
        let tbf = spec.tbf(mtu, &clock)?;
        self.trace(|| {
            let (rate, burst, latency) = (tbf.rate * 8, tbf.burst, tbf.latency_us);
            let dev = super::trace::word(link);
            format!(
                "{}tc qdisc replace dev {dev} root tbf rate {rate}bit burst {burst} latency {latency}us",
                super::trace::inside(ns)
            )
        });
        let options = tbf.options(&clock);
        self.set_root_qdisc(ns, link, "tbf", options, "shape", spec.replace)
    }

    /// Rate and emulation on one link (Mininet's `TCLink(bw, delay)`): netem as the root qdisc
    /// (delay, jitter, loss) with a tbf under its class for the rate, when one is given. netem
    /// goes first: on a kernel without sch_netem that add fails and the link is left as it was.
    pub fn shape_emulated(&mut self, ns: &Ns, link: &str, rate: Option<&ShapeSpec>, emulation: &ImpairSpec) -> Result<()> {
        let clock = Clock::read();
        let netem = emulation.netem()?.options(&clock);
        let tbf = match rate {
            Some(spec) => {
                units::rate(&spec.rate)?;
                let mtu = self.link_mtu(ns, link)?;
                Some(spec.tbf(mtu, &clock)?.options(&clock))
            }
            None => None,
        };
        self.set_root_qdisc(ns, link, "netem", netem, "shape", emulation.replace)?;
        let Some(tbf) = tbf else { return Ok(()) };
        let index = self.index(ns, link)?;
        let conn = self.conn(ns)?;
        let op = || format!("shape link {link:?} in {ns}");
        let root = self.block_on(conn.root_qdisc(index)).map_err(|e| LabError::from_engine(op(), e))?;
        let root = root.map(|q| q.handle).ok_or_else(|| LabError::Failed {
            op: op(),
            detail: "its netem root qdisc is gone right after it was set".into(),
            errno: None,
        })?;
        // netem's one class is minor 1; the root's removal takes the child with it.
        self.block_on(conn.put_child_qdisc(index, root | 1, "tbf", tbf, tc::CHILD_HANDLE))
            .map_err(|e| LabError::from_engine(op(), e))
    }

    /// Emulates a worse network on a link's egress (netem as root qdisc): delay, jitter, loss,
    /// duplication, corruption, reordering. Replaces any root qdisc the link had.
    pub fn impair(&mut self, ns: &Ns, link: &str, spec: &ImpairSpec) -> Result<()> {
        self.trace(|| {
            let mut w = String::new();
            for (key, v) in [
                ("delay", &spec.delay),
                ("loss", &spec.loss),
                ("duplicate", &spec.duplicate),
                ("corrupt", &spec.corrupt),
                ("reorder", &spec.reorder),
            ] {
                if let Some(v) = v {
                    w += &format!(" {key} {v}");
                    if key == "delay" {
                        if let Some(j) = &spec.jitter {
                            w += &format!(" {j}");
                        }
                    }
                }
            }
            format!("{}tc qdisc replace dev {} root netem{w}", super::trace::inside(ns), super::trace::word(link))
        });
        let options = spec.netem()?.options(&Clock::read());
        self.set_root_qdisc(ns, link, "netem", options, "impair", spec.replace)
    }

    /// Removes a link's root qdisc (shaping or impairment), returning it to the default. On a
    /// link the lab did not create, only the lab's own qdisc goes, and what it replaced comes
    /// back. Returns false when there was none to remove; that is not an error.
    pub fn unshape(&mut self, ns: &Ns, link: &str) -> Result<bool> {
        self.trace(|| format!("{}tc qdisc del dev {} root", super::trace::inside(ns), super::trace::word(link)));
        let index = self.index(ns, link)?;
        if !self.lab_made(ns, link, index) {
            return self.unshape_foreign(ns, link, index);
        }
        match self.on_link(ns, link, "unshape", |conn, index| async move { conn.del_root_qdisc(index, None).await }) {
            Ok(()) => Ok(true),
            // The default root qdisc has handle 0: "Cannot delete qdisc with handle of zero".
            Err(LabError::Failed { errno: Some(Errno::ENOENT), .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn unshape_foreign(&mut self, ns: &Ns, link: &str, index: u32) -> Result<bool> {
        let conn = self.conn(ns)?;
        let op = || format!("unshape link {link:?} in {ns}");
        let current = self.block_on(conn.root_qdisc(index)).map_err(|e| LabError::from_engine(op(), e))?;
        let Some(record) = self.changed.qdiscs.remove(&(ns.key(), index)) else {
            return match current {
                Some(q) if !q.is_default() => Err(LabError::Failed {
                    op: op(),
                    detail: format!(
                        "its root qdisc ({} {}) was not set by this lab, and the lab did not create the link: \
                         unshape removes only the lab's own shaping",
                        q.kind,
                        tc::handle_text(q.handle)
                    ),
                    errno: Some(Errno::EPERM),
                }),
                _ => Ok(false),
            };
        };
        let Object::Qdisc { handle, saved, .. } = &record else { return Ok(false) };
        if current.as_ref().map(|q| q.handle) != Some(*handle) {
            // Replaced or removed since by someone else: nothing of the lab's is left there.
            self.forget(&record)?;
            return Ok(false);
        }
        let done = match saved {
            Some(old) => self.block_on(conn.put_root_qdisc(index, &old.kind, hex_decode(&old.options), old.handle)),
            None => self.block_on(conn.del_root_qdisc(index, Some(*handle))),
        };
        done.map_err(|e| LabError::from_engine(op(), e))?;
        self.forget(&record)?;
        Ok(true)
    }

    fn link_mtu(&mut self, ns: &Ns, link: &str) -> Result<u32> {
        super::validate::link_name(link)?;
        let conn = self.conn(ns)?;
        let info = self.block_on(conn.link_by_name(link)).map_err(|e| self.link_error(ns, link, "find", e))?;
        Ok(info.mtu)
    }

    fn set_root_qdisc(
        &mut self,
        ns: &Ns,
        link: &str,
        kind: &'static str,
        options: Vec<u8>,
        verb: &str,
        replace: bool,
    ) -> Result<()> {
        let index = self.index(ns, link)?;
        let unsupported = |e| match e {
            // The kernel says "Specified qdisc kind is unknown" with ENOENT; EOPNOTSUPP is the
            // other answer a kernel without the scheduler may give.
            LabError::Failed { errno: Some(Errno::ENOENT | Errno::EOPNOTSUPP), .. } | LabError::Unsupported { .. } => {
                LabError::Unsupported { op: format!("{verb} link {link:?} in {ns}"), feature: format!("{kind} (sch_{kind})") }
            }
            other => other,
        };
        let own = self.lab_made(ns, link, index);
        // While a checkpoint is active the lab's own links' qdiscs are recorded too, so that
        // the checkpoint can put back what was there.
        if own && self.checkpoints.is_empty() {
            return self
                .on_link(ns, link, verb, |conn, index| {
                    let options = options.clone();
                    async move { conn.replace_root_qdisc(index, kind, options).await.map(|_| ()) }
                })
                .map_err(unsupported);
        }
        // A link the lab did not create: its root qdisc is someone's configuration, unless it is
        // the kernel's default or the lab's own from an earlier call.
        let conn = self.conn(ns)?;
        let op = || format!("{verb} link {link:?} in {ns}");
        let current = self.block_on(conn.root_qdisc(index)).map_err(|e| LabError::from_engine(op(), e))?;
        let earlier = self.changed.qdiscs.get(&(ns.key(), index)).cloned();
        let saved = match (&current, &earlier) {
            (Some(q), Some(Object::Qdisc { handle, saved, .. })) if q.handle == *handle => saved.clone(),
            (Some(q), _) if !q.is_default() => {
                if !replace && !own {
                    return Err(LabError::Failed {
                        op: op(),
                        detail: format!(
                            "the link has a root qdisc someone configured ({} {}), and the lab did not create the link: \
                             pass #{{replace: true}} to replace it (it is put back when the lab ends)",
                            q.kind,
                            tc::handle_text(q.handle)
                        ),
                        errno: Some(Errno::EEXIST),
                    });
                }
                Some(SavedQdisc { kind: q.kind.clone(), handle: q.handle, options: hex_encode(&q.options) })
            }
            _ => None,
        };
        let handle = tc::next_handle(current.as_ref());
        let record = Object::Qdisc { ns: ns.key(), ns_inode: self.ns_inode(ns)?, link: link.into(), index, handle, saved };
        self.ledger_mut()?.intent(&record)?;
        let done = self
            .block_on(conn.put_root_qdisc(index, kind, options, handle))
            .map_err(|e| self.link_error(ns, link, verb, e))
            .map_err(unsupported);
        match &done {
            Ok(()) => {
                self.ledger_mut()?.made(&record)?;
                self.changed.qdiscs.insert((ns.key(), index), record);
            }
            Err(_) => self.ledger_mut()?.failed(&record)?,
        }
        done
    }
}

/// Qdisc options as the ledger keeps them.
pub(super) fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes back; a malformed text gives what parses up to it.
pub(super) fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len() / 2).map_while(|i| text.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<Amount> {
        Some(Amount::Text(s.into()))
    }

    #[test]
    fn shape_defaults() {
        let spec = ShapeSpec { rate: Amount::Text("20mbit".into()), burst: None, latency: None, replace: false };
        let tbf = spec.tbf(1500, &Clock::STANDARD).unwrap();
        assert_eq!(tbf.rate, 2_500_000);
        assert_eq!(tbf.burst, 25_000);
        assert_eq!(tbf.latency_us, 50_000);
        // Fast links get 10 ms of the rate.
        assert_eq!(default_burst(125_000_000, 1500), 1_250_000);
        // Slow links get four full frames.
        assert_eq!(default_burst(125_000, 1500), 6056);
        assert_eq!(default_burst(1000, 9000), 36_056);
    }

    #[test]
    fn burst_must_hold_a_packet() {
        let spec = ShapeSpec { rate: Amount::Text("1mbit".into()), burst: t("1000"), latency: None, replace: false };
        assert_eq!(
            spec.tbf(1500, &Clock::STANDARD).unwrap_err().to_string(),
            "invalid burst \"1000\": it is smaller than one full packet on this link (1514 bytes: mtu 1500 plus the link \
             header), so full-size packets could never pass"
        );
    }

    #[test]
    fn burst_must_fit_the_tick_counter() {
        let spec = ShapeSpec { rate: Amount::Text("8bit".into()), burst: t("1mb"), latency: None, replace: false };
        assert_eq!(
            spec.tbf(1500, &Clock::STANDARD).unwrap_err().to_string(),
            "invalid burst \"1mb\": at rate 8bit it lasts 1048576 s, and the kernel's token bucket holds at most 275 s: \
             give a rate of at least 30520bit for this burst"
        );
        let spec = ShapeSpec { rate: Amount::Text("100bit".into()), burst: t("10kb"), latency: None, replace: false };
        let e = spec.tbf(1500, &Clock::STANDARD).unwrap_err().to_string();
        assert!(e.ends_with("or a burst of at most 3298 bytes at this rate"), "{e}");
    }

    /// A rate too low for the default bucket names the lowest that works, and that one does.
    #[test]
    fn lowest_rate_with_the_default_burst() {
        let spec = |rate: &str| ShapeSpec { rate: Amount::Text(rate.into()), burst: None, latency: None, replace: false };
        assert_eq!(
            spec("8").tbf(1500, &Clock::STANDARD).unwrap_err().to_string(),
            "invalid rate \"8\": the lowest rate on a link with mtu 1500 is 184bit: the default bucket, four full packets \
             (6056 bytes), must drain within the kernel's limit of 275 s"
        );
        assert!(spec("184bit").tbf(1500, &Clock::STANDARD).is_ok());
        assert!(spec("176bit").tbf(1500, &Clock::STANDARD).is_err());
    }

    #[test]
    fn qdisc_options_round_trip_as_hex() {
        let bytes = vec![0, 1, 0xab, 0xff, 16];
        assert_eq!(hex_encode(&bytes), "0001abff10");
        assert_eq!(hex_decode(&hex_encode(&bytes)), bytes);
    }

    #[test]
    fn impair_rules() {
        let jitter_alone = ImpairSpec { jitter: t("10ms"), ..Default::default() };
        assert_eq!(
            jitter_alone.netem().unwrap_err().to_string(),
            "invalid jitter \"10ms\": jitter needs a delay (netem varies or reorders delayed packets): add delay: \"10ms\""
        );
        assert!(ImpairSpec { reorder: t("25%"), ..Default::default() }.netem().is_err());
        let full = ImpairSpec {
            delay: t("100ms"),
            jitter: t("10ms"),
            loss: t("1%"),
            duplicate: t("2%"),
            corrupt: t("0.5%"),
            reorder: t("25%"),
            replace: false,
        };
        let netem = full.netem().unwrap();
        assert_eq!((netem.delay_ns, netem.jitter_ns, netem.loss), (100_000_000, 10_000_000, 42_949_673));
        assert_eq!(
            ImpairSpec { loss: t("200%"), ..Default::default() }.netem().unwrap_err().to_string(),
            "invalid loss \"200%\": a percentage must be from 0% to 100%"
        );
    }
}
