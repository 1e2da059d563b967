//! A native TCP throughput test between two namespaces (what `iperf3 -c` measures, without the
//! binary), in two halves that may run in two processes (on two machines): the receiver's
//! listening socket is created inside the receiving namespace and served by a thread of its
//! own; the sender's socket inside the sending one (a socket belongs to the namespace it was
//! created in). The sender sends for the given time and closes; the receiver counts what had
//! arrived by then (see `receive`) and reads the rest to the end. `measure` runs both here.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::error::{EngineError, Result};
use super::netns;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Where the sender connects: an address the receiving namespace answers on.
    pub dst: IpAddr,
    /// The listening port; 0 lets the kernel choose a free one.
    pub port: u16,
    /// How long to send and measure.
    pub duration: Duration,
    /// How long the connection may take to be established.
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchReport {
    /// Bytes that reached the receiver within the window.
    pub bytes: u64,
    /// The window: from the accepted connection to the end of sending (shorter if the sender
    /// stopped early).
    pub seconds: f64,
}

impl BenchReport {
    pub fn bits_per_second(&self) -> f64 {
        if self.seconds <= 0.0 {
            0.0
        } else {
            self.bytes as f64 * 8.0 / self.seconds
        }
    }
}

/// Upper bound on one wait, so that `cancelled` is asked often enough for Ctrl-C to feel instant.
const CANCEL_CHECK: Duration = Duration::from_millis(50);
const SEND_CHUNK: usize = 128 * 1024;
/// Unsent bytes the sender may keep queued in its socket (TCP_NOTSENT_LOWAT): what is left to
/// drain after it stops, so the run ends soon after `duration` even on a slow link.
const UNSENT_LIMIT: u32 = 64 * 1024;
/// How long the receiver waits at least, after the sending time, for the rest to arrive.
const MIN_DRAIN: Duration = Duration::from_secs(2);
const RECV_CHUNK: usize = 256 * 1024;

/// Whether to stop: the lab's Ctrl-C, shared with a half that runs on a thread of its own.
pub type Cancel = Arc<dyn Fn() -> bool + Send + Sync>;

/// How long a receiver waits for its connection before giving up by itself (a coordinator on
/// another machine tells the sender to connect after the receiver answered; the lab also ends
/// it at teardown).
pub const ACCEPT_WITHIN: Duration = Duration::from_secs(120);
/// How long `Receiver::finish` waits for the connection still to be accepted once the sender is
/// done (it was queued when the sender's connect returned).
pub const ACCEPT_GRACE: Duration = Duration::from_secs(2);

/// The receiving half of a measurement: a socket listening in the receiving namespace and a
/// thread that accepts one connection and counts what arrives (see `receive`).
pub struct Receiver {
    port: u16,
    shared: Arc<Flags>,
    thread: Option<JoinHandle<Result<Option<BenchReport>>>>,
}

#[derive(Default)]
struct Flags {
    accepted: AtomicBool,
    stop: AtomicBool,
}

impl Receiver {
    /// The port it listens on (the kernel's choice when 0 was asked).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What arrived, once the sender is done: waits for the receiving thread (which reads to the
    /// sender's end of stream). Ok(None) when cancelled; an error when no connection came.
    pub fn finish(mut self, grace: Duration) -> Result<Option<BenchReport>> {
        let until = Instant::now() + grace;
        let finished = |r: &Receiver| r.thread.as_ref().is_none_or(|t| t.is_finished());
        while !self.shared.accepted.load(Ordering::Acquire) && !finished(&self) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        let accepted = self.shared.accepted.load(Ordering::Acquire);
        if !accepted {
            self.shared.stop.store(true, Ordering::Relaxed);
        }
        let out = match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(EngineError::message("receive TCP data", "the receiving thread failed"))),
            None => Ok(None),
        };
        match out {
            Ok(None) if !accepted => {
                Err(EngineError::errno(format!("accept the connection on port {}", self.port), Errno::ETIMEDOUT))
            }
            other => other,
        }
    }

    /// Ends it without a result (closes its sockets, joins its thread).
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the receiving half in namespace `to` (None: where the thread is; `home` is where it
/// returns after creating the socket): listens on `port` (0: a free one) for IPv4 or IPv6, and
/// measures `duration` from the accepted connection.
pub fn start_receiver(
    to: Option<&File>,
    home: &File,
    ipv6: bool,
    port: u16,
    duration: Duration,
    cancelled: Cancel,
) -> Result<Receiver> {
    let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
    let listener = match to {
        Some(ns) => netns::within(ns, home, || listen(domain, port))??,
        None => listen(domain, port)?,
    };
    let port = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| a.port())
        .ok_or_else(|| EngineError::message("listen for TCP", "the listening socket has no port"))?;
    let shared = Arc::new(Flags::default());
    let flags = shared.clone();
    let thread = std::thread::Builder::new()
        .name(format!("nslab-bench-{port}"))
        .spawn(move || {
            let stop = || flags.stop.load(Ordering::Relaxed) || cancelled();
            let Some(stream) = accept(&listener, port, ACCEPT_WITHIN, &stop)? else { return Ok(None) };
            drop(listener);
            flags.accepted.store(true, Ordering::Release);
            let start = Instant::now();
            let deadline = start + duration;
            let give_up = deadline + duration.max(MIN_DRAIN);
            let report = receive(&stream, start, deadline, give_up, &stop)?;
            Ok((!stop()).then_some(report))
        })
        .map_err(|e| EngineError::io("start the receiving thread", e))?;
    Ok(Receiver { port, shared, thread: Some(thread) })
}

/// The sending half: connects from namespace `from` to `dst:port` and sends for `duration`
/// from the established connection, then closes. Returns the bytes sent, or None when
/// cancelled.
pub fn send(from: Option<&File>, home: &File, opts: &BenchOptions, cancelled: &dyn Fn() -> bool) -> Result<Option<u64>> {
    let domain = if opts.dst.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
    let new_sender = || -> Result<Socket> {
        let open = || -> Result<Socket> {
            let op = "open a TCP socket";
            let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(|e| EngineError::io(op, e))?;
            socket.set_tcp_notsent_lowat(UNSENT_LIMIT).map_err(|e| EngineError::io(op, e))?;
            Ok(socket)
        };
        match from {
            Some(ns) => netns::within(ns, home, open)?,
            None => open(),
        }
    };
    let target = SocketAddr::new(opts.dst, opts.port);
    let Some(sender) = connect(&new_sender, target, opts.connect_timeout, cancelled)? else {
        return Ok(None);
    };
    let sent = send_until(&sender, Instant::now() + opts.duration, cancelled)?;
    Ok((!cancelled()).then_some(sent))
}

/// Measures TCP throughput from namespace `from` to namespace `to` (None: where the thread is;
/// `home` is where it returns after creating each socket): the two halves, in this process.
/// Returns Ok(None) when `cancelled` said stop.
pub fn measure(
    from: Option<&File>,
    to: Option<&File>,
    home: &File,
    opts: &BenchOptions,
    cancelled: Cancel,
) -> Result<Option<BenchReport>> {
    let receiver = start_receiver(to, home, opts.dst.is_ipv6(), opts.port, opts.duration, cancelled.clone())?;
    let sending = BenchOptions { port: receiver.port(), ..opts.clone() };
    if send(from, home, &sending, &*cancelled)?.is_none() {
        return Ok(None);
    }
    receiver.finish(ACCEPT_GRACE)
}

fn listen(domain: Domain, port: u16) -> Result<Socket> {
    let op = "listen for TCP";
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(|e| EngineError::io(op, e))?;
    socket.set_reuse_address(true).map_err(|e| EngineError::io(op, e))?;
    let any: IpAddr = if domain == Domain::IPV4 { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    socket
        .bind(&SockAddr::from(SocketAddr::new(any, port)))
        .map_err(|e| EngineError::io(format!("listen on TCP port {port}"), e))?;
    socket.listen(1).map_err(|e| EngineError::io(op, e))?;
    socket.set_nonblocking(true).map_err(|e| EngineError::io(op, e))?;
    Ok(socket)
}

/// Waits for `fd` to become ready, at most `wait` (and at most 50 ms, to watch for cancelling).
fn wait_for(fd: &impl AsFd, flags: PollFlags, wait: Duration) -> Result<bool> {
    let ms = wait.min(CANCEL_CHECK).as_micros().div_ceil(1000) as u16;
    let mut fds = [PollFd::new(fd.as_fd(), flags)];
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(n) => Ok(n > 0),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(EngineError::errno("wait on a TCP socket", e)),
    }
}

/// Connects a socket made by `new_socket`, waiting at most `timeout`. A source address that is
/// not usable yet (an IPv6 address still in duplicate address detection: EADDRNOTAVAIL) is
/// waited for, with a fresh socket per attempt.
fn connect(
    new_socket: &dyn Fn() -> Result<Socket>,
    target: SocketAddr,
    timeout: Duration,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<TcpStream>> {
    let op = format!("connect to {target}");
    let deadline = Instant::now() + timeout;
    'attempt: loop {
        let socket = new_socket()?;
        socket.set_nonblocking(true).map_err(|e| EngineError::io(&op, e))?;
        match socket.connect(&SockAddr::from(target)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) && Instant::now() < deadline => {
                for _ in 0..2 {
                    if cancelled() {
                        return Ok(None);
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                continue 'attempt;
            }
            Err(e) => return Err(EngineError::io(op, e)),
        }
        loop {
            if cancelled() {
                return Ok(None);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(EngineError::errno(op, Errno::ETIMEDOUT));
            }
            if wait_for(&socket, PollFlags::POLLOUT, deadline - now)? {
                break;
            }
        }
        if let Some(e) = socket.take_error().map_err(|e| EngineError::io(&op, e))? {
            return Err(EngineError::io(op, e));
        }
        return Ok(Some(socket.into()));
    }
}

fn accept(listener: &Socket, port: u16, within: Duration, cancelled: &dyn Fn() -> bool) -> Result<Option<TcpStream>> {
    let op = format!("accept the connection on port {port}");
    let deadline = Instant::now() + within;
    loop {
        if cancelled() {
            return Ok(None);
        }
        match listener.accept() {
            Ok((socket, _)) => {
                socket.set_nonblocking(true).map_err(|e| EngineError::io(&op, e))?;
                return Ok(Some(socket.into()));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(EngineError::io(op, e)),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(EngineError::errno(op, Errno::ETIMEDOUT));
        }
        wait_for(listener, PollFlags::POLLIN, deadline - now)?;
    }
}

/// Sends until the deadline, the receiver stops (its socket closed: the connection is reset), or
/// cancelling; then closes its direction (what is still queued is delivered before the end of
/// stream).
fn send_until(stream: &TcpStream, deadline: Instant, cancelled: &dyn Fn() -> bool) -> Result<u64> {
    let chunk = vec![0x5a_u8; SEND_CHUNK];
    let mut sent = 0u64;
    let mut writer = stream;
    loop {
        let now = Instant::now();
        if now >= deadline || cancelled() {
            break;
        }
        match writer.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                wait_for(stream, PollFlags::POLLOUT, deadline - now)?;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // The receiver gave up first: it reports what it got.
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => break,
            Err(e) => return Err(EngineError::io("send TCP data", e)),
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    Ok(sent)
}

/// The receiving socket's counters (TCP_INFO): bytes delivered in order, and data segments that
/// arrived in any order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Arrivals {
    bytes_in_order: u64,
    segments: u64,
}

fn arrivals(stream: &TcpStream) -> Result<Arrivals> {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain old data; the kernel writes at most `len` bytes into it and
    // reports how many it wrote (older kernels fill a prefix, leaving the rest zero).
    let info = unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        if rc != 0 {
            return Err(EngineError::io("read TCP statistics", std::io::Error::last_os_error()));
        }
        info
    };
    Ok(Arrivals { bytes_in_order: info.tcpi_bytes_received, segments: u64::from(info.tcpi_data_segs_in) })
}

/// Bytes that had reached the receiver at the deadline: the segments that had arrived then, times
/// the connection's bytes per arriving segment (from the final counts, when every byte is in; this
/// also discounts duplicates and short segments).
fn bytes_arrived(at_deadline: Arrivals, at_end: Arrivals) -> u64 {
    if at_end.segments == 0 {
        return at_deadline.bytes_in_order;
    }
    let per_segment = at_end.bytes_in_order as f64 / at_end.segments as f64;
    // Never less than what was already readable in order.
    ((at_deadline.segments as f64 * per_segment) as u64).max(at_deadline.bytes_in_order).min(at_end.bytes_in_order)
}

/// Reads until the sender's end of stream (or `give_up`, or cancelling), and reports the bytes
/// that had arrived by `deadline` over the time from `start` to `deadline`. Counting only what
/// was readable at the deadline would miss data the link already carried: a segment dropped at a
/// shaper's queue holds back everything after it until it is retransmitted (seen: up to 25% of a
/// 2 s run at 5 Mbit/s).
fn receive(
    stream: &TcpStream,
    start: Instant,
    deadline: Instant,
    give_up: Instant,
    cancelled: &dyn Fn() -> bool,
) -> Result<BenchReport> {
    let mut buf = vec![0u8; RECV_CHUNK];
    let mut reader = stream;
    let mut at_deadline = None;
    loop {
        let now = Instant::now();
        if at_deadline.is_none() && now >= deadline {
            at_deadline = Some(arrivals(stream)?);
        }
        if now >= give_up || cancelled() {
            break;
        }
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let until = if at_deadline.is_none() { deadline } else { give_up };
                wait_for(stream, PollFlags::POLLIN, until.saturating_duration_since(now))?;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(EngineError::io("receive TCP data", e)),
        }
    }
    let at_end = arrivals(stream)?;
    let (measured, window) = match at_deadline {
        Some(at) => (bytes_arrived(at, at_end), deadline - start),
        // The sender stopped early (or Ctrl-C): all there is.
        None => (at_end.bytes_in_order, Instant::now() - start),
    };
    Ok(BenchReport { bytes: measured, seconds: window.as_secs_f64() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_per_second_of_a_window() {
        assert_eq!(BenchReport { bytes: 1_250_000, seconds: 1.0 }.bits_per_second(), 10_000_000.0);
        assert_eq!(BenchReport { bytes: 5, seconds: 0.0 }.bits_per_second(), 0.0);
    }

    #[test]
    fn arrivals_count_segments_held_back_by_a_hole() {
        // 1000 segments of 1448 bytes had arrived, but a hole kept half of them unreadable.
        let at_deadline = Arrivals { bytes_in_order: 724_000, segments: 1000 };
        let at_end = Arrivals { bytes_in_order: 2_896_000, segments: 2000 };
        assert_eq!(bytes_arrived(at_deadline, at_end), 1_448_000);
        // Never less than what was readable, never more than everything.
        assert_eq!(bytes_arrived(Arrivals { bytes_in_order: 10, segments: 0 }, at_end), 10);
        assert_eq!(bytes_arrived(Arrivals { bytes_in_order: 0, segments: 5000 }, at_end), 2_896_000);
        assert_eq!(bytes_arrived(at_deadline, Arrivals::default()), 724_000);
    }
}
