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
use nix::sys::socket::{sendto, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrStorage};

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
    /// TTL / hop limit of the requests (`ping -t`); None: the namespace's default.
    pub ttl: Option<u8>,
    /// Echo payload bytes (`ping -s`).
    pub size: usize,
    /// Source address to send from (`ping -I ADDR`): the socket is bound to it.
    pub from: Option<IpAddr>,
    /// Interface to send through (`ping -I DEV`): SO_BINDTODEVICE.
    pub dev: Option<String>,
}

impl Default for PingOptions {
    /// One request, a second to answer, ping's 56-byte payload.
    fn default() -> Self {
        PingOptions {
            count: 1,
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            ttl: None,
            size: DEFAULT_PAYLOAD,
            from: None,
            dev: None,
        }
    }
}

/// The largest echo payload: an IPv4 datagram holds 65535 bytes, less 20 of IP and 8 of ICMP
/// header (IPv6's payload length excludes its header: 65535 - 8).
pub fn max_payload(dst: IpAddr) -> usize {
    match dst {
        IpAddr::V4(_) => 65_507,
        IpAddr::V6(_) => 65_527,
    }
}

/// What a ping got back.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PingReport {
    /// Echo requests sent.
    pub sent: u32,
    /// Echo replies received.
    pub received: u32,
    /// Round trip times of the replies, in arrival order.
    pub rtts_ms: Vec<f64>,
    /// Why pinging stopped early or got no reply, in the C library's or ping's words; an ICMP
    /// error names its sender ("Time exceeded from 10.0.0.1").
    pub error: Option<String>,
    /// TTL (IPv4) or hop limit (IPv6) of the last echo reply.
    pub ttl: Option<u8>,
    /// The source address the requests left from (the bound one, or the kernel's choice).
    pub from: Option<IpAddr>,
    /// Who sent the first ICMP error about our requests (a router, or the destination).
    pub icmp_from: Option<IpAddr>,
    /// Round trip of that ICMP error.
    pub icmp_rtt_ms: Option<f64>,
    /// What the ICMP error said: "time exceeded", "unreachable" (or None without one).
    pub icmp_kind: Option<IcmpErrorKind>,
    /// The errno of a `sendto` that failed (with `error` its words): ENETUNREACH, EINVAL, ...
    pub send_errno: Option<i32>,
}

/// The kind of ICMP error that came back about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IcmpErrorKind {
    /// The TTL ran out on the way (a router's answer to `ttl`).
    TimeExceeded,
    /// Destination unreachable: net, host, port, protocol, prohibited.
    Unreachable,
    /// Parameter problem, packet too big, ...: neither of the above.
    Other,
}

/// Upper bound on one wait, so that `cancelled` is asked often enough for Ctrl-C to feel instant.
const CANCEL_CHECK: Duration = Duration::from_millis(50);
/// Echo payload size, as ping's default (64-byte ICMP message).
pub const DEFAULT_PAYLOAD: usize = 56;
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
/// Behaves like `ping -c count -W timeout -i interval [-t ttl] [-s size] [-I from|dev]`: a reply
/// counts if it arrives within `timeout` of its request, and pinging ends once every request is
/// answered, timed out or answered by an ICMP error. A failing `sendto` ends sending and is
/// reported in `error` and `send_errno`; failing to open, bind or configure the socket is an `Err`.
pub fn ping(ns: Option<&File>, home: &File, dst: IpAddr, opts: &PingOptions, cancelled: &dyn Fn() -> bool) -> Result<PingReport> {
    // The socket belongs to the namespace it is created in; it can be used from anywhere after.
    let (fd, kind, source) = match ns {
        Some(ns) => super::netns::within(ns, home, || open_configured(dst, opts))??,
        None => open_configured(dst, opts)?,
    };
    let family = Family::of(dst);
    // The kernel replaces the identifier of datagram ICMP sockets with its own port number.
    let expected_id = match kind {
        SocketKind::Raw => Some(identifier()),
        SocketKind::Datagram => None,
    };
    let mut session = Session::new(opts.clone());
    session.report.from = source;
    let mut buf = vec![0u8; opts.size + 1024];
    let target = SockaddrStorage::from(SocketAddr::new(dst, 0));

    while !cancelled() {
        let now = Instant::now();
        if let Some(seq) = session.due(now) {
            let packet = echo_request(family, expected_id.unwrap_or(0), seq, opts.size);
            let sent_at = Instant::now();
            match sendto(fd.as_raw_fd(), &packet, &target, MsgFlags::empty()) {
                Ok(_) => session.record_sent(sent_at),
                Err(e) => session.fail_send(e),
            }
            continue;
        }
        let Some(wait) = session.wait(now) else { break };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        // Rounded up: a zero timeout just short of a deadline would spin.
        let ms = wait.min(CANCEL_CHECK).as_micros().div_ceil(1000) as u16;
        let revents = match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => fds[0].revents().unwrap_or(PollFlags::empty()),
            Err(e) => {
                session.fail(e.desc());
                break;
            }
        };
        // A datagram socket hears of ICMP errors through its error queue (IP_RECVERR).
        if revents.contains(PollFlags::POLLERR) {
            if let Some((seq, error)) = read_error_queue(fd.as_raw_fd(), &mut buf) {
                session.record_error(seq, error, Instant::now());
            }
            continue;
        }
        // poll said readable, and nobody else reads this socket: recvmsg will not block.
        let (len, from, ttl) = match receive(fd.as_raw_fd(), &mut buf) {
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
            ReplyKind::Echo if from == Some(dst) => {
                let ttl = ttl.or_else(|| ipv4_ttl(family, kind, &buf[..len]));
                session.record_reply(reply.seq, received_at, ttl)
            }
            ReplyKind::Echo => {}
            ReplyKind::Error(what) => {
                if let Some(from) = from {
                    session.record_error(reply.seq, IcmpError { what, from }, received_at);
                }
            }
        }
    }
    Ok(session.finish())
}

/// An ICMP error about one of our requests: what it said and who said it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct IcmpError {
    what: ErrorText,
    from: IpAddr,
}

/// Opens the socket in the current namespace, applies the options, and finds the source address
/// the kernel will use (`from`, or what a connected UDP socket with the same binding is given).
fn open_configured(dst: IpAddr, opts: &PingOptions) -> Result<(OwnedFd, SocketKind, Option<IpAddr>)> {
    let (fd, kind) = open_socket(dst)?;
    configure(&fd, kind, dst, opts)?;
    Ok((fd, kind, source_for(dst, opts)))
}

fn configure(fd: &OwnedFd, kind: SocketKind, dst: IpAddr, opts: &PingOptions) -> Result<()> {
    use nix::sys::socket::{bind, setsockopt, sockopt};
    if let Some(dev) = &opts.dev {
        setsockopt(fd, sockopt::BindToDevice, &std::ffi::OsString::from(dev))
            .map_err(|e| EngineError::errno(format!("bind the ICMP socket to device {dev}"), e))?;
    }
    if let Some(from) = opts.from {
        bind(fd.as_raw_fd(), &SockaddrStorage::from(SocketAddr::new(from, 0)))
            .map_err(|e| EngineError::errno(format!("bind the ICMP socket to source address {from}"), e))?;
    }
    let op = "set the ICMP socket's options";
    let ttl = opts.ttl.map(i32::from);
    match dst {
        IpAddr::V4(_) => {
            if let Some(ttl) = ttl {
                setsockopt(fd, sockopt::Ipv4Ttl, &ttl).map_err(|e| EngineError::errno(op, e))?;
            }
            setsockopt(fd, sockopt::Ipv4RecvTtl, &true).map_err(|e| EngineError::errno(op, e))?;
            if kind == SocketKind::Datagram {
                setsockopt(fd, sockopt::Ipv4RecvErr, &true).map_err(|e| EngineError::errno(op, e))?;
            }
        }
        IpAddr::V6(_) => {
            if let Some(ttl) = ttl {
                setsockopt(fd, sockopt::Ipv6Ttl, &ttl).map_err(|e| EngineError::errno(op, e))?;
            }
            setsockopt(fd, sockopt::Ipv6RecvHopLimit, &true).map_err(|e| EngineError::errno(op, e))?;
            if kind == SocketKind::Datagram {
                setsockopt(fd, sockopt::Ipv6RecvErr, &true).map_err(|e| EngineError::errno(op, e))?;
            }
        }
    }
    Ok(())
}

/// The source address the kernel picks for `dst` under the same binding: connecting a UDP socket
/// runs the route lookup without sending anything. None when there is no route.
pub(crate) fn source_for(dst: IpAddr, opts: &PingOptions) -> Option<IpAddr> {
    if let Some(from) = opts.from.filter(|a| !a.is_unspecified()) {
        return Some(from);
    }
    let family = match dst {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(family, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).ok()?;
    if let Some(any) = opts.from {
        nix::sys::socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(SocketAddr::new(any, 0))).ok()?;
    }
    if let Some(dev) = &opts.dev {
        nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::BindToDevice, &std::ffi::OsString::from(dev)).ok()?;
    }
    nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(SocketAddr::new(dst, 9))).ok()?;
    let local: SockaddrStorage = nix::sys::socket::getsockname(fd.as_raw_fd()).ok()?;
    source_ip(&local)
}

/// Receives one datagram with its sender and the TTL / hop limit the kernel reports with it.
fn receive(fd: i32, buf: &mut [u8]) -> nix::Result<(usize, Option<IpAddr>, Option<u8>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::c_int, libc::c_int);
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
    let mut ttl = None;
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::Ipv4Ttl(t) => ttl = u8::try_from(t).ok(),
            ControlMessageOwned::Ipv6HopLimit(t) => ttl = u8::try_from(t).ok(),
            _ => {}
        }
    }
    let from = msg.address.as_ref().and_then(source_ip);
    Ok((msg.bytes, from, ttl))
}

/// Reads one message from the socket's error queue: the request it is about (its sequence) and
/// the ICMP error that came back. None for anything else (local errors, foreign messages).
fn read_error_queue(fd: i32, buf: &mut [u8]) -> Option<(u16, IcmpError)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6, libc::c_int, libc::c_int);
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_ERRQUEUE).ok()?;
    let mut error = None;
    for c in msg.cmsgs().ok()? {
        match c {
            ControlMessageOwned::Ipv4RecvErr(ee, Some(from)) if ee.ee_origin == libc::SO_EE_ORIGIN_ICMP => {
                let from = IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr)));
                error = Some(IcmpError { what: error_text(Family::V4, ee.ee_type, ee.ee_code)?, from });
            }
            ControlMessageOwned::Ipv6RecvErr(ee, Some(from)) if ee.ee_origin == libc::SO_EE_ORIGIN_ICMP6 => {
                let from = IpAddr::V6(std::net::Ipv6Addr::from(from.sin6_addr.s6_addr));
                error = Some(IcmpError { what: error_text(Family::V6, ee.ee_type, ee.ee_code)?, from });
            }
            _ => {}
        }
    }
    let bytes = msg.bytes;
    let (_, seq) = id_and_seq(iov[0].get(..bytes)?)?;
    Some((seq, error?))
}

/// The TTL in the IPv4 header a raw socket delivers, when no control message gave it.
fn ipv4_ttl(family: Family, kind: SocketKind, data: &[u8]) -> Option<u8> {
    (family == Family::V4 && kind == SocketKind::Raw).then(|| data.get(8).copied()).flatten()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SocketKind {
    /// Needs CAP_NET_RAW; receives every ICMP message of the namespace.
    Raw,
    /// "Ping socket": needs the gid in the namespace's `net.ipv4.ping_group_range`. ICMP errors
    /// reach it only through IP_RECVERR (its error queue).
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
    /// The first ICMP error about one of our requests.
    icmp_error: Option<IcmpError>,
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
            icmp_error: None,
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

    fn fail_send(&mut self, e: Errno) {
        if self.report.error.is_none() {
            self.report.send_errno = Some(e as i32);
        }
        self.fail(e.desc());
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

    fn record_reply(&mut self, seq: u16, at: Instant, ttl: Option<u8>) {
        let Some(i) = self.probe_index(seq) else { return };
        // Duplicates and replies later than the timeout do not count, as with ping.
        if let Probe::Pending(sent) = self.probes[i] {
            let rtt = at.saturating_duration_since(sent);
            if rtt <= self.opts.timeout {
                self.probes[i] = Probe::Answered;
                self.report.received += 1;
                self.report.rtts_ms.push(rtt.as_secs_f64() * 1000.0);
                self.report.ttl = ttl.or(self.report.ttl);
            }
        }
    }

    fn record_error(&mut self, seq: u16, error: IcmpError, at: Instant) {
        let Some(i) = self.probe_index(seq) else { return };
        if let Probe::Pending(sent) = self.probes[i] {
            self.probes[i] = Probe::Failed;
            if self.icmp_error.is_none() {
                self.icmp_error = Some(error);
                self.report.icmp_from = Some(error.from);
                self.report.icmp_kind = Some(error.what.kind);
                self.report.icmp_rtt_ms = Some(at.saturating_duration_since(sent).as_secs_f64() * 1000.0);
            }
        }
    }

    fn finish(mut self) -> PingReport {
        if self.report.received == 0 && self.report.error.is_none() {
            self.report.error = self.icmp_error.map(|e| format!("{} from {}", e.what.text, e.from));
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

fn echo_request(family: Family, id: u16, seq: u16, size: usize) -> Vec<u8> {
    let kind = match family {
        Family::V4 => ICMP_ECHO_REQUEST,
        Family::V6 => ICMPV6_ECHO_REQUEST,
    };
    let mut packet = vec![kind, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    // ping's pattern: byte i of the payload is i.
    packet.extend((0..size).map(|i| i as u8));
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
    /// An ICMP error (unreachable, time exceeded, ...) quoting one of our requests.
    Error(ErrorText),
}

/// An ICMP error in words, as ping's summary starts ("Destination unreachable (port)").
#[derive(Debug, Clone, Copy, PartialEq)]
struct ErrorText {
    kind: IcmpErrorKind,
    text: &'static str,
}

const ICMP_TIME_EXCEEDED: u8 = 11;
const ICMP_PARAMETER_PROBLEM: u8 = 12;
const ICMPV6_PACKET_TOO_BIG: u8 = 2;
const ICMPV6_TIME_EXCEEDED: u8 = 3;
const ICMPV6_PARAMETER_PROBLEM: u8 = 4;

/// The words for an ICMP error type and code; None for messages that are not errors.
fn error_text(family: Family, icmp_type: u8, code: u8) -> Option<ErrorText> {
    use IcmpErrorKind::*;
    let (kind, text) = match (family, icmp_type) {
        (Family::V4, ICMP_UNREACHABLE) => (
            Unreachable,
            match code {
                0 => "Destination unreachable (net)",
                1 => "Destination unreachable (host)",
                2 => "Destination unreachable (protocol)",
                3 => "Destination unreachable (port)",
                4 => "Destination unreachable (fragmentation needed)",
                9 | 10 | 13 => "Destination unreachable (administratively prohibited)",
                _ => "Destination unreachable",
            },
        ),
        (Family::V4, ICMP_TIME_EXCEEDED) => (TimeExceeded, "Time exceeded"),
        (Family::V4, ICMP_PARAMETER_PROBLEM) => (Other, "Parameter problem"),
        (Family::V6, ICMPV6_UNREACHABLE) => (
            Unreachable,
            match code {
                0 => "Destination unreachable (no route)",
                1 => "Destination unreachable (administratively prohibited)",
                3 => "Destination unreachable (address)",
                4 => "Destination unreachable (port)",
                5 | 6 => "Destination unreachable (rejected by policy)",
                _ => "Destination unreachable",
            },
        ),
        (Family::V6, ICMPV6_PACKET_TOO_BIG) => (Other, "Packet too big"),
        (Family::V6, ICMPV6_TIME_EXCEEDED) => (TimeExceeded, "Time exceeded"),
        (Family::V6, ICMPV6_PARAMETER_PROBLEM) => (Other, "Parameter problem"),
        _ => return None,
    };
    Some(ErrorText { kind, text })
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Reply {
    kind: ReplyKind,
    id: u16,
    seq: u16,
}

/// Reads an echo reply, or an ICMP error quoting an echo request, from what the socket
/// returned. Raw IPv4 sockets deliver the IP header too; the others start at the ICMP header.
fn parse(family: Family, kind: SocketKind, data: &[u8]) -> Option<Reply> {
    let icmp = match (family, kind) {
        (Family::V4, SocketKind::Raw) => skip_ipv4_header(data, IPPROTO_ICMP)?,
        _ => data,
    };
    let reply_type = match family {
        Family::V4 => ICMP_ECHO_REPLY,
        Family::V6 => ICMPV6_ECHO_REPLY,
    };
    let (&icmp_type, &code) = (icmp.first()?, icmp.get(1)?);
    if icmp_type == reply_type {
        let (id, seq) = id_and_seq(icmp)?;
        return Some(Reply { kind: ReplyKind::Echo, id, seq });
    }
    let text = error_text(family, icmp_type, code)?;
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
    Some(Reply { kind: ReplyKind::Error(text), id, seq })
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
        PingOptions {
            count,
            timeout: Duration::from_millis(timeout_ms),
            interval: Duration::from_millis(interval_ms),
            ..Default::default()
        }
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
        let mut packet = echo_request(family, id, seq, DEFAULT_PAYLOAD);
        packet[0] = match family {
            Family::V4 => ICMP_ECHO_REPLY,
            Family::V6 => ICMPV6_ECHO_REPLY,
        };
        packet
    }

    fn router_says(icmp_type: u8, code: u8) -> IcmpError {
        IcmpError { what: error_text(Family::V4, icmp_type, code).unwrap(), from: "10.0.0.1".parse().unwrap() }
    }

    #[test]
    fn time_exceeded_and_port_unreachable_are_named() {
        let mut s = Session::new(opts(1, 1000, 10));
        let t0 = Instant::now();
        s.record_sent(t0);
        s.record_error(1, router_says(ICMP_TIME_EXCEEDED, 0), t0);
        assert_eq!(s.finish().error.as_deref(), Some("Time exceeded from 10.0.0.1"));
        assert_eq!(error_text(Family::V4, ICMP_UNREACHABLE, 3).unwrap().text, "Destination unreachable (port)");
        assert_eq!(error_text(Family::V6, ICMPV6_TIME_EXCEEDED, 0).unwrap().kind, IcmpErrorKind::TimeExceeded);
        assert_eq!(error_text(Family::V6, ICMPV6_UNREACHABLE, 4).unwrap().text, "Destination unreachable (port)");
        assert_eq!(error_text(Family::V4, ICMP_ECHO_REQUEST, 0), None);
    }

    #[test]
    fn payload_size_is_pings_s() {
        assert_eq!(echo_request(Family::V4, 1, 1, 0).len(), ICMP_HEADER_LEN);
        let big = echo_request(Family::V4, 1, 1, 1400);
        assert_eq!(big.len(), ICMP_HEADER_LEN + 1400);
        assert_eq!(checksum(&big), 0);
    }

    #[test]
    fn reply_ttl_is_kept() {
        let mut s = Session::new(opts(1, 1000, 10));
        let t0 = Instant::now();
        s.record_sent(t0);
        s.record_reply(1, t0, Some(62));
        assert_eq!(s.finish().ttl, Some(62));
    }

    #[test]
    fn send_errno_is_kept() {
        let mut s = Session::new(opts(1, 1000, 10));
        s.fail_send(Errno::EINVAL);
        let report = s.finish();
        assert_eq!(report.send_errno, Some(libc::EINVAL));
        assert_eq!(report.error.as_deref(), Some("Invalid argument"));
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
        let packet = echo_request(Family::V4, 0xbeef, 7, DEFAULT_PAYLOAD);
        assert_eq!(packet.len(), ICMP_HEADER_LEN + DEFAULT_PAYLOAD);
        assert_eq!(&packet[..2], &[ICMP_ECHO_REQUEST, 0]);
        assert_eq!(id_and_seq(&packet), Some((0xbeef, 7)));
        // Summing a packet together with its checksum gives all ones, i.e. a complement of zero.
        assert_eq!(checksum(&packet), 0);
    }

    #[test]
    fn ipv6_request_leaves_the_checksum_to_the_kernel() {
        let packet = echo_request(Family::V6, 1, 2, DEFAULT_PAYLOAD);
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
        let request = ipv4(IPPROTO_ICMP, &echo_request(Family::V4, 1, 1, DEFAULT_PAYLOAD));
        assert_eq!(parse(Family::V4, SocketKind::Raw, &request), None);
        assert_eq!(parse(Family::V6, SocketKind::Raw, &echo_request(Family::V6, 1, 1, DEFAULT_PAYLOAD)), None);
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
        let quoted = ipv4(IPPROTO_ICMP, &echo_request(Family::V4, 0x4242, 8, DEFAULT_PAYLOAD)[..ICMP_HEADER_LEN]);
        let mut error = vec![ICMP_UNREACHABLE, 1, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&quoted);
        let data = ipv4(IPPROTO_ICMP, &error);
        let host = Reply { kind: ReplyKind::Error(error_text(Family::V4, ICMP_UNREACHABLE, 1).unwrap()), id: 0x4242, seq: 8 };
        assert_eq!(parse(Family::V4, SocketKind::Raw, &data), Some(host));
        error[1] = 0;
        let net = Reply { kind: ReplyKind::Error(error_text(Family::V4, ICMP_UNREACHABLE, 0).unwrap()), ..host };
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
        error.extend_from_slice(&echo_request(Family::V6, 77, 2, DEFAULT_PAYLOAD));
        let expected = Reply { kind: ReplyKind::Error(error_text(Family::V6, ICMPV6_UNREACHABLE, 3).unwrap()), id: 77, seq: 2 };
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
        s.record_reply(2, t0 + Duration::from_millis(11), None);
        s.record_reply(1, t0 + Duration::from_millis(12), None);
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
        s.record_reply(1, t0 + Duration::from_millis(101), None);
        s.record_reply(2, t0 + Duration::from_millis(5), None);
        s.record_reply(2, t0 + Duration::from_millis(6), None);
        s.record_reply(3, t0 + Duration::from_millis(6), None);
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
        s.record_error(1, router_says(ICMP_UNREACHABLE, 1), t0 + Duration::from_millis(3));
        // A failed probe needs no more waiting.
        assert_eq!(s.wait(t0), None);
        let report = s.finish();
        assert_eq!(report.error.as_deref(), Some("Destination unreachable (host) from 10.0.0.1"));
        assert_eq!(report.icmp_from, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(report.icmp_kind, Some(IcmpErrorKind::Unreachable));
        assert!((report.icmp_rtt_ms.unwrap() - 3.0).abs() < 1e-9);

        let mut s = Session::new(opts(2, 1000, 10));
        s.record_sent(t0);
        s.record_sent(t0);
        s.record_reply(1, t0, None);
        s.record_error(2, router_says(ICMP_UNREACHABLE, 1), t0);
        let report = s.finish();
        assert_eq!((report.received, report.error), (1, None));
    }
}
