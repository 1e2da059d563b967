//! The TCA_OPTIONS bytes of the tbf and netem qdiscs, built exactly as iproute2's `tc` builds them
//! (netlink-packet-route 0.34 has no typed options for either). Pure functions: the tests compare
//! them with what `tc qdisc replace ... tbf/netem ...` sent on this machine (captured with
//! `strace -e sendmsg -xx`).
//!
//! Kernel time in these structures is in "psched ticks". `/proc/net/psched` gives the ratio:
//! `t2us us2t clock_res` as hex words; iproute2's `tc_core_init` turns them into ticks per
//! microsecond (15.625 on every kernel since 2.6.x: a tick is 64 ns).

/// TCA_TBF_* attribute types (include/uapi/linux/pkt_sched.h).
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RTAB: u16 = 2;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
/// TCA_NETEM_* attribute types.
const TCA_NETEM_REORDER: u16 = 3;
const TCA_NETEM_CORRUPT: u16 = 4;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;

/// TC_LINKLAYER_ETHERNET: the rate table is for Ethernet-framed sizes.
const LINKLAYER_ETHERNET: u8 = 1;
/// What iproute2 assumes when no `mtu` is given to tbf: cell_log becomes 3 (2047 >> 3 = 255).
const RTAB_MTU: u32 = 2047;
const TIME_UNITS_PER_SEC: f64 = 1_000_000.0;
/// netem's default queue length in packets (`tc ... netem limit`).
pub const NETEM_DEFAULT_LIMIT: u32 = 1000;

/// The kernel's packet-scheduler clock, as `tc` sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    tick_in_usec: f64,
}

impl Clock {
    /// What every kernel since 2.6.x reports: `000003e8 00000040 000f4240 3b9aca00`.
    pub const STANDARD: Clock = Clock { tick_in_usec: 1000.0 / 64.0 };

    /// Parses `/proc/net/psched` like iproute2's `tc_core_init`.
    pub fn parse(text: &str) -> Option<Clock> {
        let mut words = text.split_whitespace().map(|w| u32::from_str_radix(w, 16).ok());
        let (mut t2us, us2t, clock_res) = (words.next()??, words.next()??, words.next()??);
        if us2t == 0 {
            return None;
        }
        // Compatibility hack kept by iproute2: a nanosecond clock advertises a multiplier of 1000
        // that really is 1.
        if clock_res == 1_000_000_000 {
            t2us = us2t;
        }
        let clock_factor = f64::from(clock_res) / TIME_UNITS_PER_SEC;
        Some(Clock { tick_in_usec: f64::from(t2us) / f64::from(us2t) * clock_factor })
    }

    /// The running kernel's clock, or the standard one if `/proc/net/psched` cannot be read.
    pub fn read() -> Clock {
        static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
        *CLOCK.get_or_init(|| {
            std::fs::read_to_string("/proc/net/psched").ok().and_then(|t| Clock::parse(&t)).unwrap_or(Clock::STANDARD)
        })
    }

    /// Microseconds to ticks: `tc_core_time2tick` (its argument is an unsigned int, so the
    /// time is truncated to whole microseconds first).
    pub fn time2tick(&self, usec: u32) -> u32 {
        saturate_u32(f64::from(usec) * self.tick_in_usec)
    }

    /// Ticks to microseconds: `tc_core_tick2time`.
    pub fn tick2usec(&self, ticks: u32) -> f64 {
        f64::from(ticks) / self.tick_in_usec
    }

    /// Ticks needed to send `size` bytes at `rate` bytes per second: `tc_calc_xmittime`.
    pub fn xmittime(&self, rate: u64, size: u32) -> u32 {
        self.time2tick(saturate_u32(TIME_UNITS_PER_SEC * (f64::from(size) / rate as f64)))
    }

    /// The largest number of microseconds that still fits in a 32-bit tick count.
    pub fn max_usec(&self) -> f64 {
        f64::from(u32::MAX) / self.tick_in_usec
    }
}

/// C's double → unsigned int conversion for the values tc produces (non-negative, and clamped
/// where C would be undefined).
fn saturate_u32(v: f64) -> u32 {
    if v.is_nan() || v <= 0.0 {
        0
    } else if v >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        v as u32
    }
}

/// One netlink attribute: 4-byte header (length, type), value, padding to 4 bytes.
fn push_attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + (len.next_multiple_of(4) - len), 0);
}

fn u32s(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

/// A token bucket, in tc's terms (`tc qdisc ... tbf rate R burst B latency L`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tbf {
    /// Bytes per second.
    pub rate: u64,
    /// Bucket size in bytes.
    pub burst: u32,
    /// How long a packet may wait in the queue, in microseconds: sets the queue limit.
    pub latency_us: u32,
}

impl Tbf {
    /// The queue limit in bytes tc derives from the latency: what arrives in that time, plus
    /// the bucket.
    pub fn limit(&self) -> u32 {
        saturate_u32(self.rate as f64 * f64::from(self.latency_us) / TIME_UNITS_PER_SEC + f64::from(self.burst))
    }

    /// The TCA_OPTIONS value: TCA_TBF_PARMS, TCA_TBF_BURST, TCA_TBF_RATE64 (rates of 2^32
    /// bytes/s and more), TCA_TBF_RTAB, in that order, as `tc` sends them.
    pub fn options(&self, clock: &Clock) -> Vec<u8> {
        // struct tc_ratespec carries a 32-bit rate; larger ones travel in TCA_TBF_RATE64.
        let rate32 = u32::try_from(self.rate).unwrap_or(u32::MAX);
        let (cell_log, rtab) = rate_table(clock, rate32);
        let mut parms = Vec::with_capacity(36);
        // struct tc_ratespec rate: cell_log, linklayer, overhead, cell_align, mpu, rate.
        parms.push(cell_log);
        parms.push(LINKLAYER_ETHERNET);
        parms.extend_from_slice(&0u16.to_ne_bytes());
        parms.extend_from_slice(&(-1i16).to_ne_bytes());
        parms.extend_from_slice(&0u16.to_ne_bytes());
        parms.extend_from_slice(&rate32.to_ne_bytes());
        // struct tc_ratespec peakrate: unused.
        parms.extend_from_slice(&[0; 12]);
        // limit, buffer (ticks to send the bucket), mtu (unused without a peak rate).
        parms.extend_from_slice(&u32s(&[self.limit(), clock.xmittime(self.rate, self.burst), 0]));

        let mut out = Vec::with_capacity(1080);
        push_attr(&mut out, TCA_TBF_PARMS, &parms);
        push_attr(&mut out, TCA_TBF_BURST, &self.burst.to_ne_bytes());
        if self.rate >= 1 << 32 {
            push_attr(&mut out, TCA_TBF_RATE64, &self.rate.to_ne_bytes());
        }
        push_attr(&mut out, TCA_TBF_RTAB, &u32s(&rtab));
        out
    }
}

/// `tc_calc_rtable`: ticks to send (i+1) << cell_log bytes, for i in 0..256.
fn rate_table(clock: &Clock, rate: u32) -> (u8, [u32; 256]) {
    let mut cell_log = 0u8;
    while (RTAB_MTU >> cell_log) > 255 {
        cell_log += 1;
    }
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        *slot = clock.xmittime(u64::from(rate), ((i as u32) + 1) << cell_log);
    }
    (cell_log, table)
}

/// A probability as netem wants it: a fraction of 2^32 - 1 (`rint(p * UINT32_MAX)` in tc).
pub fn probability(percent: f64) -> u32 {
    saturate_u32((percent / 100.0 * f64::from(u32::MAX)).round_ties_even())
}

/// Network emulation, in tc's terms (`tc qdisc ... netem delay D J loss L ...`). Probabilities
/// are fractions of 2^32 - 1 (see `probability`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Netem {
    pub delay_ns: u64,
    pub jitter_ns: u64,
    pub loss: u32,
    pub duplicate: u32,
    pub corrupt: u32,
    pub reorder: u32,
    /// Queue length in packets.
    pub limit: u32,
}

impl Netem {
    /// The TCA_OPTIONS value: a struct tc_netem_qopt followed by attributes (netem does not
    /// nest its options like other qdiscs do), in the order `tc` sends them. Times that do not
    /// fit the 32-bit tick fields also travel in nanoseconds (TCA_NETEM_LATENCY64/JITTER64).
    pub fn options(&self, clock: &Clock) -> Vec<u8> {
        let ticks = |ns: u64| -> (u32, bool) {
            let usec = ns / 1000;
            let fits = (usec as f64) <= clock.max_usec() && usec <= u64::from(u32::MAX);
            (if fits { clock.time2tick(usec as u32) } else { u32::MAX }, fits)
        };
        let (latency, latency_fits) = ticks(self.delay_ns);
        let (jitter, jitter_fits) = ticks(self.jitter_ns);
        // tc sets a gap of 1 whenever it reorders: every packet but the delayed ones goes first.
        let gap = u32::from(self.reorder > 0);
        let mut out = u32s(&[latency, self.limit, self.loss, gap, self.duplicate, jitter]);
        if self.reorder > 0 {
            push_attr(&mut out, TCA_NETEM_REORDER, &u32s(&[self.reorder, 0]));
        }
        if self.corrupt > 0 {
            push_attr(&mut out, TCA_NETEM_CORRUPT, &u32s(&[self.corrupt, 0]));
        }
        if !latency_fits {
            push_attr(&mut out, TCA_NETEM_LATENCY64, &(self.delay_ns as i64).to_ne_bytes());
        }
        if !jitter_fits {
            push_attr(&mut out, TCA_NETEM_JITTER64, &(self.jitter_ns as i64).to_ne_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes as strace -xx prints them ("\x28\x00...").
    fn hex(text: &str) -> Vec<u8> {
        text.split("\\x").filter(|s| !s.is_empty()).map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    #[test]
    fn psched_of_this_kind_of_kernel_gives_64ns_ticks() {
        let clock = Clock::parse("000003e8 00000040 000f4240 3b9aca00\n").unwrap();
        assert_eq!(clock, Clock::STANDARD);
        assert_eq!(clock.time2tick(100_000), 1_562_500);
        // The nanosecond-clock compatibility rule: t2us is replaced by us2t.
        let ns_clock = Clock::parse("000003e8 00000040 3b9aca00 3b9aca00").unwrap();
        assert_eq!(ns_clock.time2tick(1), 1000);
        assert_eq!(Clock::parse("garbage"), None);
        assert_eq!(Clock::parse("1 0 1"), None);
    }

    #[test]
    fn xmittime_truncates_like_tc() {
        // 32768 bytes at 1250000 B/s: 26214.4 us, truncated to 26214, times 15.625 = 409593.75.
        assert_eq!(Clock::STANDARD.xmittime(1_250_000, 32768), 409_593);
        assert_eq!(Clock::STANDARD.xmittime(1_250_000, 8), 93);
    }

    /// `tc qdisc replace dev va root tbf rate 10mbit burst 32kb latency 50ms`, as sent by
    /// iproute2 6.1 on this machine: the TCA_OPTIONS value, first 60 bytes (parms, burst, start
    /// of the rate table) and the last table entry.
    #[test]
    fn tbf_matches_tc_byte_for_byte() {
        let tbf = Tbf { rate: 1_250_000, burst: 32768, latency_us: 50_000 };
        let bytes = tbf.options(&Clock::STANDARD);
        let expected_head =
            hex("\\x28\\x00\\x01\\x00\\x03\\x01\\x00\\x00\\xff\\xff\\x00\\x00\\xd0\\x12\\x13\\x00\\x00\\x00\\x00\\x00\
             \\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x24\\x74\\x01\\x00\\xf9\\x3f\\x06\\x00\\x00\\x00\\x00\\x00\
             \\x08\\x00\\x06\\x00\\x00\\x80\\x00\\x00\\x04\\x04\\x02\\x00\\x5d\\x00\\x00\\x00\\xbb\\x00\\x00\\x00");
        assert_eq!(bytes.len(), 1076, "tc's TCA_OPTIONS had nla_len 1080, 1076 bytes of value");
        assert_eq!(&bytes[..60], &expected_head[..]);
        assert_eq!(&bytes[1072..], &hex("\\xf9\\x63\\x00\\x00"));
        assert_eq!(tbf.limit(), 95_268);
    }

    #[test]
    fn tbf_rates_above_32_bits_add_rate64() {
        // 40 Gbit/s = 5e9 bytes/s.
        let tbf = Tbf { rate: 5_000_000_000, burst: 1 << 20, latency_us: 1000 };
        let bytes = tbf.options(&Clock::STANDARD);
        assert_eq!(&bytes[12..16], &u32::MAX.to_ne_bytes(), "the 32-bit rate saturates");
        // parms (40) + burst (8), then the RATE64 attribute.
        assert_eq!(&bytes[48..52], &[12, 0, 4, 0]);
        assert_eq!(&bytes[52..60], &5_000_000_000u64.to_ne_bytes());
        assert_eq!(bytes.len(), 40 + 8 + 12 + 1028);
    }

    #[test]
    fn probabilities_round_like_tc() {
        assert_eq!(probability(1.0), 42_949_673);
        assert_eq!(probability(2.0), 85_899_346);
        assert_eq!(probability(0.5), 21_474_836);
        assert_eq!(probability(25.0), 1_073_741_824);
        assert_eq!(probability(100.0), u32::MAX);
        assert_eq!(probability(0.0), 0);
    }

    /// `tc qdisc replace dev vb root netem delay 100ms 10ms loss 1% duplicate 2% corrupt 0.5%
    /// reorder 25%`, as sent by iproute2 6.1 (the kernel here then refused it: no sch_netem).
    #[test]
    fn netem_matches_tc_byte_for_byte() {
        let netem = Netem {
            delay_ns: 100_000_000,
            jitter_ns: 10_000_000,
            loss: probability(1.0),
            duplicate: probability(2.0),
            corrupt: probability(0.5),
            reorder: probability(25.0),
            limit: NETEM_DEFAULT_LIMIT,
        };
        let expected =
            hex("\\x84\\xd7\\x17\\x00\\xe8\\x03\\x00\\x00\\x29\\x5c\\x8f\\x02\\x01\\x00\\x00\\x00\\x52\\xb8\\x1e\\x05\
             \\x5a\\x62\\x02\\x00\\x0c\\x00\\x03\\x00\\x00\\x00\\x00\\x40\\x00\\x00\\x00\\x00\\x0c\\x00\\x04\\x00\
             \\x14\\xae\\x47\\x01\\x00\\x00\\x00\\x00");
        assert_eq!(netem.options(&Clock::STANDARD), expected);
    }

    #[test]
    fn netem_simple_forms_match_tc() {
        let clock = Clock::STANDARD;
        // netem loss 1%
        let loss = Netem { loss: probability(1.0), limit: NETEM_DEFAULT_LIMIT, ..Default::default() };
        assert_eq!(
            loss.options(&clock),
            hex("\\x00\\x00\\x00\\x00\\xe8\\x03\\x00\\x00\\x29\\x5c\\x8f\\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00")
        );
        // netem delay 5s 1s
        let slow = Netem { delay_ns: 5_000_000_000, jitter_ns: 1_000_000_000, limit: NETEM_DEFAULT_LIMIT, ..Default::default() };
        assert_eq!(
            slow.options(&clock),
            hex("\\xc8\\x17\\xa8\\x04\\xe8\\x03\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x28\\x6b\\xee\\x00")
        );
    }

    #[test]
    fn netem_delays_beyond_32_bit_ticks_travel_in_nanoseconds() {
        // 300 s is more than 2^32 ticks of 64 ns (274.9 s).
        let long = Netem { delay_ns: 300_000_000_000, limit: 1, ..Default::default() };
        let bytes = long.options(&Clock::STANDARD);
        assert_eq!(&bytes[..4], &u32::MAX.to_ne_bytes());
        assert_eq!(&bytes[24..28], &[12, 0, 10, 0]);
        assert_eq!(&bytes[28..36], &300_000_000_000i64.to_ne_bytes());
    }
}
