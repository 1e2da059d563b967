//! A native UDP throughput test (what `iperf -u -b RATE` measures): the sender paces datagrams
//! at the asked rate; the receiver counts them and computes loss and jitter as RFC 3550 and
//! iperf do. Each datagram carries its sequence number and its send time (CLOCK_MONOTONIC): the
//! jitter is made of differences of transit times, so a constant offset between the two ends'
//! clocks (two machines) cancels out. The halves may run in two processes (`start_receiver`,
//! `send`); `measure` runs both here.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::time::{clock_gettime, ClockId};

use super::error::{EngineError, Result};
use super::netns;

/// How long the receiver keeps reading after the sender's last datagram (queued packets in a
/// shaped link's qdisc still arrive).
const DRAIN: Duration = Duration::from_millis(500);
const HEADER: usize = 16;

#[derive(Debug, Clone)]
pub struct UdpOptions {
    pub dst: IpAddr,
    /// 0: a free port the kernel picks.
    pub port: u16,
    /// Bits per second to send at.
    pub rate_bps: f64,
    pub duration: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UdpReport {
    pub sent: u64,
    pub received: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// The sending time.
    pub seconds: f64,
    /// RFC 3550 interarrival jitter, in seconds.
    pub jitter: f64,
}

impl UdpReport {
    /// Received payload bits per second of sending time.
    pub fn bits_per_second(&self) -> f64 {
        if self.seconds <= 0.0 {
            0.0
        } else {
            self.bytes as f64 * 8.0 / self.seconds
        }
    }

    /// Datagrams lost, in percent of those sent.
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            100.0 * self.sent.saturating_sub(self.received) as f64 / self.sent as f64
        }
    }
}

/// The datagram size iperf uses: a full Ethernet frame's payload without fragmenting.
pub fn payload_len(dst: IpAddr) -> usize {
    if dst.is_ipv4() {
        1470
    } else {
        1450
    }
}

fn now_ns() -> u64 {
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is always there");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// RFC 3550 section 6.4.1 (and iperf): J += (|D| - J) / 16, D the change in transit time
/// between consecutive arrivals.
#[derive(Debug, Default)]
pub struct Jitter {
    last_transit: Option<f64>,
    pub value: f64,
}

impl Jitter {
    pub fn arrival(&mut self, sent_ns: u64, received_ns: u64) {
        let transit = (received_ns as f64 - sent_ns as f64) / 1e9;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            self.value += (d - self.value) / 16.0;
        }
        self.last_transit = Some(transit);
    }
}

/// What the receiving half counted: datagrams, payload bytes, and the jitter in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Arrived {
    pub received: u64,
    pub bytes: u64,
    pub jitter: f64,
}

/// What the sending half did: datagrams sent, over the sending time in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sent {
    pub sent: u64,
    pub seconds: f64,
}

impl UdpReport {
    /// The two halves' counts as one report.
    pub fn of(sent: Sent, arrived: Arrived) -> UdpReport {
        let Arrived { received, bytes, jitter } = arrived;
        UdpReport { sent: sent.sent, received, bytes, seconds: sent.seconds, jitter }
    }
}

/// The receiving half: a socket bound in the receiving namespace, read by a thread of its own
/// until `finish` (or `stop`).
pub struct UdpReceiver {
    port: u16,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<Arrived>>,
}

impl UdpReceiver {
    /// The port it receives on (the kernel's choice when 0 was asked).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What arrived, once the sender is done: what is still on the way (queued in a shaped
    /// link's qdisc) is waited for, then the thread stops.
    pub fn finish(mut self) -> Arrived {
        std::thread::sleep(DRAIN);
        self.done.store(true, Ordering::Relaxed);
        self.thread.take().map(|t| t.join().unwrap_or_default()).unwrap_or_default()
    }

    /// Ends it without a result.
    pub fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for UdpReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind_in(ns: Option<&File>, home: &File, ipv6: bool, port: u16, op: &str) -> Result<UdpSocket> {
    let any = if ipv6 { "::" } else { "0.0.0.0" };
    let open = || UdpSocket::bind((any, port)).map_err(|e| EngineError::io(op, e));
    match ns {
        Some(ns) => netns::within(ns, home, open)?,
        None => open(),
    }
}

/// Starts the receiving half in namespace `to` (None: where the thread is) on `port` (0: a
/// free one), for IPv4 or IPv6.
pub fn start_receiver(to: Option<&File>, home: &File, ipv6: bool, port: u16) -> Result<UdpReceiver> {
    let socket = bind_in(to, home, ipv6, port, &format!("listen on UDP port {port}"))?;
    let port = socket.local_addr().map_err(|e| EngineError::io("find the UDP port", e))?.port();
    let done = Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    // The largest datagram either family sends.
    let len = payload_len(Ipv4Addr::UNSPECIFIED.into()).max(payload_len(Ipv6Addr::UNSPECIFIED.into()));
    let thread = std::thread::Builder::new()
        .name(format!("nslab-udp-{port}"))
        .spawn(move || receive(&socket, &stop, len))
        .map_err(|e| EngineError::io("start the receiving thread", e))?;
    Ok(UdpReceiver { port, done, thread: Some(thread) })
}

/// The sending half: datagrams from namespace `from` to `dst:port` at the asked rate for the
/// asked time. Returns Ok(None) when `cancelled` said stop.
pub fn send(from: Option<&File>, home: &File, opts: &UdpOptions, cancelled: &dyn Fn() -> bool) -> Result<Option<Sent>> {
    let sender = bind_in(from, home, opts.dst.is_ipv6(), 0, "open a UDP socket")?;
    sender.connect(SocketAddr::new(opts.dst, opts.port)).map_err(|e| EngineError::io(format!("send UDP to {}", opts.dst), e))?;
    let (sent, seconds) = pace(&sender, opts, payload_len(opts.dst), cancelled)?;
    Ok((!cancelled()).then_some(Sent { sent, seconds }))
}

/// Sends from namespace `from` to namespace `to` (None: where the thread is) at the asked rate
/// for the asked time: the two halves, in this process. Returns Ok(None) when `cancelled` said
/// stop.
pub fn measure(
    from: Option<&File>,
    to: Option<&File>,
    home: &File,
    opts: &UdpOptions,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<UdpReport>> {
    let receiver = start_receiver(to, home, opts.dst.is_ipv6(), opts.port)?;
    let sending = UdpOptions { port: receiver.port(), ..opts.clone() };
    let Some(sent) = send(from, home, &sending, cancelled)? else { return Ok(None) };
    let arrived = receiver.finish();
    if cancelled() {
        return Ok(None);
    }
    Ok(Some(UdpReport::of(sent, arrived)))
}

/// Paces datagrams at the rate: datagram i leaves at i × (bits per datagram / rate).
fn pace(socket: &UdpSocket, opts: &UdpOptions, len: usize, cancelled: &dyn Fn() -> bool) -> Result<(u64, f64)> {
    let gap = len as f64 * 8.0 / opts.rate_bps;
    let mut buf = vec![0u8; len];
    let start = Instant::now();
    let mut seq: u64 = 0;
    loop {
        let due = Duration::from_secs_f64(seq as f64 * gap);
        if due >= opts.duration || cancelled() {
            break;
        }
        let elapsed = start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
        buf[..8].copy_from_slice(&seq.to_be_bytes());
        buf[8..HEADER].copy_from_slice(&now_ns().to_be_bytes());
        match socket.send(&buf) {
            // A datagram the local queue refused is sent and lost, as iperf counts it.
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::EAGAIN)) => {}
            Err(e) => return Err(EngineError::io(format!("send UDP to {}", opts.dst), e)),
        }
        seq += 1;
    }
    Ok((seq, start.elapsed().as_secs_f64().min(opts.duration.as_secs_f64())))
}

/// Reads until `done`.
fn receive(socket: &UdpSocket, done: &AtomicBool, len: usize) -> Arrived {
    let mut buf = vec![0u8; len + 64];
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut jitter = Jitter::default();
    let _ = socket.set_nonblocking(true);
    while !done.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(20u16)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => break,
        }
        while let Ok(n) = socket.recv(&mut buf) {
            if n < HEADER {
                continue;
            }
            let sent_ns = u64::from_be_bytes(buf[8..HEADER].try_into().expect("8 bytes"));
            jitter.arrival(sent_ns, now_ns());
            count += 1;
            bytes += n as u64;
        }
    }
    Arrived { received: count, bytes, jitter: jitter.value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_transit_has_no_jitter_and_a_step_is_smoothed() {
        let mut j = Jitter::default();
        for i in 0..10 {
            j.arrival(i * 1_000_000, i * 1_000_000 + 500_000);
        }
        assert_eq!(j.value, 0.0);
        // One arrival 1.6 ms later than the rest: J = 1.6 ms / 16.
        j.arrival(10_000_000, 12_100_000);
        assert!((j.value - 0.0001).abs() < 1e-12, "{}", j.value);
    }

    #[test]
    fn loss_and_rate() {
        let r = UdpReport { sent: 100, received: 90, bytes: 90 * 1470, seconds: 2.0, jitter: 0.0 };
        assert!((r.loss_percent() - 10.0).abs() < 1e-9);
        assert!((r.bits_per_second() - 90.0 * 1470.0 * 8.0 / 2.0).abs() < 1e-6);
    }
}
