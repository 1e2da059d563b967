//! Native ping: ICMP echo over a socket created inside the target namespace.
//!
//! The `ping` binary is not installed where nslab runs, and measuring ourselves gives exact round
//! trip times: the clock is read right before `sendto` and right after `recvfrom` returns.

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvfrom, sendto, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrStorage};

use super::error::{EngineError, Result};

/// How `ping` sends its echo requests.
#[derive(Debug, Clone)]
pub struct PingOptions {
    /// Echo requests to send (`ping -c`).
    pub count: u32,
    /// How long each request waits for its reply (`ping -W`).
    pub timeout: Duration,
    /// Time between requests (`ping -i`).
    pub interval: Duration,
}

/// What a ping got back.
#[derive(Debug, Clone, Default)]
pub struct PingReport {
    /// Echo requests sent.
    pub sent: u32,
    /// Echo replies received.
    pub received: u32,
    /// Round trip times of the replies, in arrival order.
    pub rtts_ms: Vec<f64>,
    /// Why pinging stopped early or got no reply, in the C library's or ping's words.
    pub error: Option<String>,
}

/// Upper bound on one wait, so that `cancelled` is asked often enough for Ctrl-C to feel instant.
const CANCEL_CHECK: Duration = Duration::from_millis(50);
/// Echo payload size, as ping's default (64-byte ICMP message).
const PAYLOAD_LEN: usize = 56;
const ICMP_HEADER_LEN: usize = 8;
const IPV6_HEADER_LEN: usize = 40;

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_UNREACHABLE: u8 = 3;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMPV6_UNREACHABLE: u8 = 1;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

/// Pings `dst` from inside namespace `ns` (None = the namespace the thread is in; `home` is where
/// the thread returns to after creating the socket). `cancelled` is polled at least every 50 ms;
/// when it returns true, pinging stops and what was gathered so far is returned.
///
/// Behaves like `ping -c count -W timeout -i interval`: a reply counts if it arrives within
/// `timeout` of its request, and pinging ends once every request is answered or timed out.
/// A failing `sendto` ends sending and is reported in `error`; only failing to open the socket is
/// an `Err`.
pub fn ping(ns: Option<&File>, home: &File, dst: IpAddr, opts: &PingOptions, cancelled: &dyn Fn() -> bool) -> Result<PingReport> {
    // The socket belongs to the namespace it is created in; it can be used from anywhere after.
    let (fd, kind) = match ns {
        Some(ns) => super::netns::within(ns, home, || open_socket(dst))??,
        None => open_socket(dst)?,
    };
    let family = Family::of(dst);
    // The kernel replaces the identifier of datagram ICMP sockets with its own port number.
    let expected_id = match kind {
        SocketKind::Raw => Some(identifier()),
        SocketKind::Datagram => None,
    };
    let mut session = Session::new(opts.clone());
    let mut buf = [0u8; 2048];
    let target = SockaddrStorage::from(SocketAddr::new(dst, 0));

    while !cancelled() {
        let now = Instant::now();
        if let Some(seq) = session.due(now) {
            let packet = echo_request(family, expected_id.unwrap_or(0), seq);
            let sent_at = Instant::now();
            match sendto(fd.as_raw_fd(), &packet, &target, MsgFlags::empty()) {
                Ok(_) => session.record_sent(sent_at),
                Err(e) => session.fail(e.desc()),
            }
            continue;
        }
        let Some(wait) = session.wait(now) else { break };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        // Rounded up: a zero timeout just short of a deadline would spin.
        let ms = wait.min(CANCEL_CHECK).as_micros().div_ceil(1000) as u16;
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                session.fail(e.desc());
                break;
            }
        }
        // poll said readable, and nobody else reads this socket: recvfrom will not block.
        let (len, from) = match recvfrom::<SockaddrStorage>(fd.as_raw_fd(), &mut buf) {
            Ok(got) => got,
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => {
                session.fail(e.desc());
                break;
            }
        };
        let received_at = Instant::now();
        let Some(reply) = parse(family, kind, &buf[..len]) else { continue };
        if expected_id.is_some_and(|id| id != reply.id) {
            continue;
        }
        match reply.kind {
            // A raw socket sees all ICMP in the namespace: only the host we asked may answer.
            ReplyKind::Echo if from.as_ref().and_then(source_ip) == Some(dst) => session.record_reply(reply.seq, received_at),
            ReplyKind::Echo => {}
            ReplyKind::Unreachable(text) => session.record_unreachable(reply.seq, text),
        }
    }
    Ok(session.finish())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SocketKind {
    /// Needs CAP_NET_RAW; receives every ICMP message of the namespace.
    Raw,
    /// "Ping socket": needs the gid in the namespace's `net.ipv4.ping_group_range`. ICMP errors
    /// reach it only through IP_RECVERR, so unreachable hosts show as timeouts.
    Datagram,
}

fn open_socket(dst: IpAddr) -> Result<(OwnedFd, SocketKind)> {
    const OP: &str = "open an ICMP socket";
    let (family, protocol) = match dst {
        IpAddr::V4(_) => (AddressFamily::Inet, SockProtocol::Icmp),
        IpAddr::V6(_) => (AddressFamily::Inet6, SockProtocol::IcmpV6),
    };
    match socket(family, SockType::Raw, SockFlag::SOCK_CLOEXEC, protocol) {
        Ok(fd) => Ok((fd, SocketKind::Raw)),
        Err(Errno::EPERM | Errno::EACCES) => socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, protocol)
            .map(|fd| (fd, SocketKind::Datagram))
            .map_err(|e| EngineError::errno(OP, e)),
        Err(e) => Err(EngineError::errno(OP, e)),
    }
}

/// A fresh identifier per ping, so concurrent pings (threads or processes) in one namespace
/// do not take each other's replies. The odd step visits all 65536 values before repeating.
fn identifier() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    (std::process::id() as u16) ^ NEXT.fetch_add(0x9e37, Ordering::Relaxed)
}

fn source_ip(addr: &SockaddrStorage) -> Option<IpAddr> {
    match (addr.as_sockaddr_in(), addr.as_sockaddr_in6()) {
        (Some(v4), _) => Some(IpAddr::V4(v4.ip())),
        (_, Some(v6)) => Some(IpAddr::V6(v6.ip())),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Probe {
    Pending(Instant),
    Answered,
    /// An ICMP error came back for it: no reply will follow.
    Failed,
}

/// The bookkeeping of one ping run, apart from the socket, so that the timing rules are testable.
struct Session {
    opts: PingOptions,
    probes: Vec<Probe>,
    next_send: Option<Instant>,
    /// Every probe before this index is answered, failed or timed out.
    oldest_open: usize,
    sending_stopped: bool,
    report: PingReport,
    unreachable: Option<&'static str>,
}

impl Session {
    fn new(opts: PingOptions) -> Self {
        Session {
            opts,
            probes: Vec::new(),
            next_send: None,
            oldest_open: 0,
            sending_stopped: false,
            report: PingReport::default(),
            unreachable: None,
        }
    }

    fn sending_done(&self) -> bool {
        self.sending_stopped || self.probes.len() >= self.opts.count as usize
    }

    /// The sequence number to send now, if a request is due. Sequences start at 1, like ping's.
    fn due(&self, now: Instant) -> Option<u16> {
        let due = !self.sending_done() && self.next_send.is_none_or(|at| now >= at);
        due.then(|| (self.probes.len() + 1) as u16)
    }

    fn record_sent(&mut self, at: Instant) {
        self.probes.push(Probe::Pending(at));
        self.report.sent += 1;
        self.next_send = Some(at + self.opts.interval);
    }

    fn fail(&mut self, why: &str) {
        self.report.error.get_or_insert_with(|| why.to_string());
        self.sending_stopped = true;
    }

    /// How long to wait for replies before something is due, or None when the run is over.
    fn wait(&mut self, now: Instant) -> Option<Duration> {
        while let Some(&probe) = self.probes.get(self.oldest_open) {
            match probe {
                Probe::Pending(sent) if now < sent + self.opts.timeout => break,
                _ => self.oldest_open += 1,
            }
        }
        let expiry = match self.probes.get(self.oldest_open) {
            Some(Probe::Pending(sent)) => Some(*sent + self.opts.timeout),
            _ => None,
        };
        let next_send = self.next_send.filter(|_| !self.sending_done());
        let wake = [expiry, next_send].into_iter().flatten().min()?;
        Some(wake.saturating_duration_since(now))
    }

    /// The probe a sequence number refers to: the latest one sent with it (sequences wrap at 2^16).
    fn probe_index(&self, seq: u16) -> Option<usize> {
        let last = self.probes.len().checked_sub(1)?;
        let back = ((last + 1) as u16).wrapping_sub(seq) as usize;
        last.checked_sub(back)
    }

    fn record_reply(&mut self, seq: u16, at: Instant) {
        let Some(i) = self.probe_index(seq) else { return };
        // Duplicates and replies later than the timeout do not count, as with ping.
        if let Probe::Pending(sent) = self.probes[i] {
            let rtt = at.saturating_duration_since(sent);
            if rtt <= self.opts.timeout {
                self.probes[i] = Probe::Answered;
                self.report.received += 1;
                self.report.rtts_ms.push(rtt.as_secs_f64() * 1000.0);
            }
        }
    }

    fn record_unreachable(&mut self, seq: u16, text: &'static str) {
        let Some(i) = self.probe_index(seq) else { return };
        if let Probe::Pending(_) = self.probes[i] {
            self.probes[i] = Probe::Failed;
            self.unreachable.get_or_insert(text);
        }
    }

    fn finish(mut self) -> PingReport {
        if self.report.received == 0 && self.report.error.is_none() {
            self.report.error = self.unreachable.map(str::to_string);
        }
        self.report
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// The Internet checksum (RFC 1071): one's complement of the one's complement sum of 16-bit words.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo_request(family: Family, id: u16, seq: u16) -> Vec<u8> {
    let kind = match family {
        Family::V4 => ICMP_ECHO_REQUEST,
        Family::V6 => ICMPV6_ECHO_REQUEST,
    };
    let mut packet = vec![kind, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    // ping's pattern: byte i of the payload is i.
    packet.extend((0..PAYLOAD_LEN).map(|i| i as u8));
    // The kernel fills in the ICMPv6 checksum (it covers a pseudo-header we do not build).
    if family == Family::V4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ReplyKind {
    Echo,
    /// An ICMP "destination unreachable" about one of our requests, in ping's words.
    Unreachable(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Reply {
    kind: ReplyKind,
    id: u16,
    seq: u16,
}

/// Reads an echo reply, or an unreachable error quoting an echo request, from what the socket
/// returned. Raw IPv4 sockets deliver the IP header too; the others start at the ICMP header.
fn parse(family: Family, kind: SocketKind, data: &[u8]) -> Option<Reply> {
    let icmp = match (family, kind) {
        (Family::V4, SocketKind::Raw) => skip_ipv4_header(data, IPPROTO_ICMP)?,
        _ => data,
    };
    let (reply_type, unreachable_type) = match family {
        Family::V4 => (ICMP_ECHO_REPLY, ICMP_UNREACHABLE),
        Family::V6 => (ICMPV6_ECHO_REPLY, ICMPV6_UNREACHABLE),
    };
    let (&icmp_type, &code) = (icmp.first()?, icmp.get(1)?);
    if icmp_type == reply_type {
        let (id, seq) = id_and_seq(icmp)?;
        return Some(Reply { kind: ReplyKind::Echo, id, seq });
    }
    if icmp_type != unreachable_type {
        return None;
    }
    // The error quotes the IP header of our request and the start of its ICMP header.
    let quoted = icmp.get(ICMP_HEADER_LEN..)?;
    let (request, request_type) = match family {
        Family::V4 => (skip_ipv4_header(quoted, IPPROTO_ICMP)?, ICMP_ECHO_REQUEST),
        Family::V6 => {
            (*quoted.get(6)? == IPPROTO_ICMPV6).then_some(())?;
            (quoted.get(IPV6_HEADER_LEN..)?, ICMPV6_ECHO_REQUEST)
        }
    };
    if *request.first()? != request_type {
        return None;
    }
    let (id, seq) = id_and_seq(request)?;
    // Code 0 is "network unreachable" for both ICMP versions.
    let text = if code == 0 { "Destination Net Unreachable" } else { "Destination Host Unreachable" };
    Some(Reply { kind: ReplyKind::Unreachable(text), id, seq })
}

/// The payload of an IPv4 packet carrying `protocol`, after its IHL*4-byte header.
fn skip_ipv4_header(packet: &[u8], protocol: u8) -> Option<&[u8]> {
    let first = *packet.first()?;
    if first >> 4 != 4 || *packet.get(9)? != protocol {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    packet.get(header_len..)
}

fn id_and_seq(icmp: &[u8]) -> Option<(u16, u16)> {
    let header = icmp.get(..ICMP_HEADER_LEN)?;
    Some((u16::from_be_bytes([header[4], header[5]]), u16::from_be_bytes([header[6], header[7]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(count: u32, timeout_ms: u64, interval_ms: u64) -> PingOptions {
        PingOptions { count, timeout: Duration::from_millis(timeout_ms), interval: Duration::from_millis(interval_ms) }
    }

    /// An IPv4 header (no options) for `payload`, as a raw socket delivers it.
    fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let mut header = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, protocol, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
        let total = (header.len() + payload.len()) as u16;
        header[2..4].copy_from_slice(&total.to_be_bytes());
        header.extend_from_slice(payload);
        header
    }

    fn echo_reply(family: Family, id: u16, seq: u16) -> Vec<u8> {
        let mut packet = echo_request(family, id, seq);
        packet[0] = match family {
            Family::V4 => ICMP_ECHO_REPLY,
            Family::V6 => ICMPV6_ECHO_REPLY,
        };
        packet
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the words sum to 0xddf2, whose complement is 0x220d.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
    }

    #[test]
    fn checksum_pads_an_odd_length_with_zero() {
        assert_eq!(checksum(&[0x12, 0x34, 0x56]), checksum(&[0x12, 0x34, 0x56, 0x00]));
    }

    #[test]
    fn ipv4_request_carries_a_verifiable_checksum() {
        let packet = echo_request(Family::V4, 0xbeef, 7);
        assert_eq!(packet.len(), ICMP_HEADER_LEN + PAYLOAD_LEN);
        assert_eq!(&packet[..2], &[ICMP_ECHO_REQUEST, 0]);
        assert_eq!(id_and_seq(&packet), Some((0xbeef, 7)));
        // Summing a packet together with its checksum gives all ones, i.e. a complement of zero.
        assert_eq!(checksum(&packet), 0);
    }

    #[test]
    fn ipv6_request_leaves_the_checksum_to_the_kernel() {
        let packet = echo_request(Family::V6, 1, 2);
        assert_eq!(&packet[..4], &[ICMPV6_ECHO_REQUEST, 0, 0, 0]);
        assert_eq!(id_and_seq(&packet), Some((1, 2)));
    }

    #[test]
    fn raw_ipv4_reply_is_read_after_the_ip_header() {
        let data = ipv4(IPPROTO_ICMP, &echo_reply(Family::V4, 0x1234, 3));
        assert_eq!(parse(Family::V4, SocketKind::Raw, &data), Some(Reply { kind: ReplyKind::Echo, id: 0x1234, seq: 3 }));
    }

    #[test]
    fn raw_ipv4_header_options_are_skipped() {
        let mut data = ipv4(IPPROTO_ICMP, &[]);
        data[0] = 0x46;
        data.extend_from_slice(&[1, 1, 1, 0]); // four bytes of no-op options
        data.extend_from_slice(&echo_reply(Family::V4, 9, 10));
        assert_eq!(parse(Family::V4, SocketKind::Raw, &data), Some(Reply { kind: ReplyKind::Echo, id: 9, seq: 10 }));
    }

    #[test]
    fn datagram_and_ipv6_replies_start_at_the_icmp_header() {
        let v4 = echo_reply(Family::V4, 5, 6);
        assert_eq!(parse(Family::V4, SocketKind::Datagram, &v4), Some(Reply { kind: ReplyKind::Echo, id: 5, seq: 6 }));
        let v6 = echo_reply(Family::V6, 5, 6);
        assert_eq!(parse(Family::V6, SocketKind::Raw, &v6), Some(Reply { kind: ReplyKind::Echo, id: 5, seq: 6 }));
        assert_eq!(parse(Family::V6, SocketKind::Datagram, &v6), Some(Reply { kind: ReplyKind::Echo, id: 5, seq: 6 }));
    }

    #[test]
    fn requests_and_other_messages_are_not_replies() {
        // On loopback a raw socket also sees our own requests.
        let request = ipv4(IPPROTO_ICMP, &echo_request(Family::V4, 1, 1));
        assert_eq!(parse(Family::V4, SocketKind::Raw, &request), None);
        assert_eq!(parse(Family::V6, SocketKind::Raw, &echo_request(Family::V6, 1, 1)), None);
        let neighbour_solicitation = [135, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse(Family::V6, SocketKind::Raw, &neighbour_solicitation), None);
    }

    #[test]
    fn truncated_packets_are_ignored() {
        let reply = ipv4(IPPROTO_ICMP, &echo_reply(Family::V4, 1, 1));
        for len in 0..20 + ICMP_HEADER_LEN {
            assert_eq!(parse(Family::V4, SocketKind::Raw, &reply[..len]), None, "length {len}");
        }
        assert_eq!(parse(Family::V6, SocketKind::Raw, &[ICMPV6_ECHO_REPLY, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn ipv4_unreachable_quoting_our_request_is_recognised() {
        let quoted = ipv4(IPPROTO_ICMP, &echo_request(Family::V4, 0x4242, 8)[..ICMP_HEADER_LEN]);
        let mut error = vec![ICMP_UNREACHABLE, 1, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&quoted);
        let data = ipv4(IPPROTO_ICMP, &error);
        let host = Reply { kind: ReplyKind::Unreachable("Destination Host Unreachable"), id: 0x4242, seq: 8 };
        assert_eq!(parse(Family::V4, SocketKind::Raw, &data), Some(host));
        error[1] = 0;
        let net = Reply { kind: ReplyKind::Unreachable("Destination Net Unreachable"), ..host };
        assert_eq!(parse(Family::V4, SocketKind::Raw, &ipv4(IPPROTO_ICMP, &error)), Some(net));
    }

    #[test]
    fn ipv4_unreachable_about_other_traffic_is_ignored() {
        let udp = ipv4(17, &[0; 8]);
        let mut error = vec![ICMP_UNREACHABLE, 3, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&udp);
        assert_eq!(parse(Family::V4, SocketKind::Raw, &ipv4(IPPROTO_ICMP, &error)), None);
    }

    #[test]
    fn ipv6_unreachable_quoting_our_request_is_recognised() {
        let mut error = vec![ICMPV6_UNREACHABLE, 3, 0, 0, 0, 0, 0, 0];
        let mut header = [0u8; IPV6_HEADER_LEN];
        header[0] = 0x60;
        header[6] = IPPROTO_ICMPV6;
        error.extend_from_slice(&header);
        error.extend_from_slice(&echo_request(Family::V6, 77, 2));
        let expected = Reply { kind: ReplyKind::Unreachable("Destination Host Unreachable"), id: 77, seq: 2 };
        assert_eq!(parse(Family::V6, SocketKind::Raw, &error), Some(expected));
        error[8 + 6] = 17;
        assert_eq!(parse(Family::V6, SocketKind::Raw, &error), None);
    }

    #[test]
    fn session_sends_count_requests_interval_apart() {
        let mut s = Session::new(opts(3, 1000, 100));
        let t0 = Instant::now();
        assert_eq!(s.due(t0), Some(1));
        s.record_sent(t0);
        assert_eq!(s.due(t0 + Duration::from_millis(99)), None);
        assert_eq!(s.wait(t0), Some(Duration::from_millis(100)));
        assert_eq!(s.due(t0 + Duration::from_millis(100)), Some(2));
        s.record_sent(t0 + Duration::from_millis(100));
        s.record_sent(t0 + Duration::from_millis(200));
        assert_eq!(s.due(t0 + Duration::from_millis(300)), None);
        // Nothing more to send: wait for the oldest open request's deadline.
        assert_eq!(s.wait(t0 + Duration::from_millis(300)), Some(Duration::from_millis(700)));
        assert_eq!(s.report.sent, 3);
    }

    #[test]
    fn session_ends_as_soon_as_every_reply_is_in() {
        let mut s = Session::new(opts(2, 1000, 10));
        let t0 = Instant::now();
        s.record_sent(t0);
        s.record_sent(t0 + Duration::from_millis(10));
        s.record_reply(2, t0 + Duration::from_millis(11));
        s.record_reply(1, t0 + Duration::from_millis(12));
        assert_eq!(s.wait(t0 + Duration::from_millis(12)), None);
        let report = s.finish();
        assert_eq!((report.sent, report.received, report.error), (2, 2, None));
        assert_eq!(report.rtts_ms.len(), 2);
        assert!((report.rtts_ms[0] - 1.0).abs() < 1e-9 && (report.rtts_ms[1] - 12.0).abs() < 1e-9);
    }

    #[test]
    fn session_ends_after_the_last_timeout_without_replies() {
        let mut s = Session::new(opts(2, 500, 100));
        let t0 = Instant::now();
        s.record_sent(t0);
        s.record_sent(t0 + Duration::from_millis(100));
        assert_eq!(s.wait(t0 + Duration::from_millis(550)), Some(Duration::from_millis(50)));
        assert_eq!(s.wait(t0 + Duration::from_millis(600)), None);
        let report = s.finish();
        assert_eq!((report.sent, report.received, report.error), (2, 0, None));
    }

    #[test]
    fn late_duplicate_and_unknown_replies_do_not_count() {
        let mut s = Session::new(opts(2, 100, 10));
        let t0 = Instant::now();
        s.record_sent(t0);
        s.record_sent(t0);
        s.record_reply(1, t0 + Duration::from_millis(101));
        s.record_reply(2, t0 + Duration::from_millis(5));
        s.record_reply(2, t0 + Duration::from_millis(6));
        s.record_reply(3, t0 + Duration::from_millis(6));
        assert_eq!(s.finish().received, 1);
    }

    #[test]
    fn sequence_numbers_wrap_to_the_latest_probe() {
        let mut s = Session::new(opts(70_000, 1000, 0));
        let t0 = Instant::now();
        for _ in 0..65_537 {
            s.record_sent(t0);
        }
        assert_eq!(s.probe_index(1), Some(65_536));
        assert_eq!(s.probe_index(0), Some(65_535));
        assert_eq!(s.probe_index(2), Some(1));
        assert_eq!(Session::new(opts(1, 1, 1)).probe_index(1), None);
    }

    #[test]
    fn send_failure_stops_sending_and_is_reported() {
        let mut s = Session::new(opts(3, 1000, 10));
        let t0 = Instant::now();
        s.fail(Errno::ENETUNREACH.desc());
        assert_eq!(s.due(t0), None);
        assert_eq!(s.wait(t0), None);
        let report = s.finish();
        assert_eq!((report.sent, report.received), (0, 0));
        assert_eq!(report.error.as_deref(), Some("Network is unreachable"));
    }

    #[test]
    fn unreachable_is_reported_only_without_replies() {
        let mut s = Session::new(opts(1, 1000, 10));
        let t0 = Instant::now();
        s.record_sent(t0);
        s.record_unreachable(1, "Destination Host Unreachable");
        // A failed probe needs no more waiting.
        assert_eq!(s.wait(t0), None);
        assert_eq!(s.finish().error.as_deref(), Some("Destination Host Unreachable"));

        let mut s = Session::new(opts(2, 1000, 10));
        s.record_sent(t0);
        s.record_sent(t0);
        s.record_reply(1, t0);
        s.record_unreachable(2, "Destination Host Unreachable");
        let report = s.finish();
        assert_eq!((report.received, report.error), (1, None));
    }
}
