//! TCP service probes: a listener that accepts and answers on a thread (its socket created in the
//! namespace), and a connection attempt with a timeout that reports instead of failing.

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::error::{EngineError, Result};
use super::netns;

/// How often the accepting thread looks at its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(50);
/// What the listener writes to each connection before closing it.
pub const GREETING: &[u8] = b"nslab\n";

/// A listening socket served by a thread; stopped (socket closed, thread joined) on `stop` or drop.
pub struct Listener {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    pub fn is_open(&self) -> bool {
        self.thread.is_some()
    }

    /// A listener with no socket and no thread (closed from the start), for unit tests.
    #[cfg(test)]
    pub fn unbound_for_tests(addr: SocketAddr) -> Listener {
        Listener { addr, stop: Arc::new(AtomicBool::new(true)), accepted: Arc::new(AtomicU64::new(0)), thread: None }
    }

    /// Closes the socket and waits for the thread (at most one `STOP_CHECK`).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Listens on `addr:port` (unspecified `addr`: every address; port 0: one the kernel picks) in
/// namespace `ns`, and answers each connection with [`GREETING`] and a close.
pub fn listen(ns: Option<&File>, home: &File, addr: IpAddr, port: u16) -> Result<Listener> {
    let open = || -> Result<Socket> {
        let op = format!("listen on TCP port {port}");
        let domain = if addr.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
        let s = Socket::new(domain, Type::STREAM.cloexec(), Some(Protocol::TCP)).map_err(|e| EngineError::io(&op, e))?;
        s.set_reuse_address(true).map_err(|e| EngineError::io(&op, e))?;
        s.bind(&SockAddr::from(SocketAddr::new(addr, port))).map_err(|e| EngineError::io(&op, e))?;
        s.listen(128).map_err(|e| EngineError::io(&op, e))?;
        s.set_nonblocking(true).map_err(|e| EngineError::io(&op, e))?;
        Ok(s)
    };
    let socket = match ns {
        Some(ns) => netns::within(ns, home, open)??,
        None => open()?,
    };
    let local = socket.local_addr().ok().and_then(|a| a.as_socket()).unwrap_or(SocketAddr::new(addr, port));
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let (s, a) = (stop.clone(), accepted.clone());
    let thread = std::thread::Builder::new()
        .name(format!("nslab-tcp-{}", local.port()))
        .spawn(move || serve(socket, &s, &a))
        .map_err(|e| EngineError::io("start the TCP listener's thread", e))?;
    Ok(Listener { addr: local, stop, accepted, thread: Some(thread) })
}

fn serve(socket: Socket, stop: &AtomicBool, accepted: &AtomicU64) {
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(STOP_CHECK.as_millis() as u16)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return,
        }
        if let Ok((conn, _)) = socket.accept() {
            accepted.fetch_add(1, Ordering::Relaxed);
            let mut stream: TcpStream = conn.into();
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(STOP_CHECK));
            let _ = stream.write_all(GREETING);
        }
    }
}

/// The outcome of one connection attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectReport {
    /// Whether the connection was established.
    pub ok: bool,
    /// Why not ("Connection refused", "No route to host", "timed out"); None when ok.
    pub error: Option<String>,
    /// Time to establish the connection, when it was.
    pub rtt: Option<Duration>,
}

/// Connects from namespace `ns` to `dst:port`, waiting at most `timeout`. Refusals, unreachable
/// destinations and timeouts are reported, not returned as errors; only failing to create the
/// socket is an `Err`.
pub fn connect(ns: Option<&File>, home: &File, dst: IpAddr, port: u16, timeout: Duration) -> Result<ConnectReport> {
    let open = || -> Result<Socket> {
        let domain = if dst.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
        let s = Socket::new(domain, Type::STREAM.cloexec(), Some(Protocol::TCP))
            .map_err(|e| EngineError::io("open a TCP socket", e))?;
        s.set_nonblocking(true).map_err(|e| EngineError::io("open a TCP socket", e))?;
        Ok(s)
    };
    let socket = match ns {
        Some(ns) => netns::within(ns, home, open)??,
        None => open()?,
    };
    let fail = |why: String| Ok(ConnectReport { ok: false, error: Some(why), rtt: None });
    let start = Instant::now();
    match socket.connect(&SockAddr::from(SocketAddr::new(dst, port))) {
        Ok(()) => return Ok(ConnectReport { ok: true, error: None, rtt: Some(start.elapsed()) }),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return fail(errno_words(&e)),
    }
    let deadline = start + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return fail(format!("timed out after {} s", timeout.as_secs_f64()));
        }
        let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLOUT)];
        let ms = left.as_micros().div_ceil(1000).min(u128::from(u16::MAX)) as u16;
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => break,
            Err(e) => return fail(e.desc().to_string()),
        }
    }
    let rtt = start.elapsed();
    match socket.take_error() {
        Ok(None) => Ok(ConnectReport { ok: true, error: None, rtt: Some(rtt) }),
        Ok(Some(e)) => fail(errno_words(&e)),
        Err(e) => fail(errno_words(&e)),
    }
}

/// The C library's words for an I/O error ("Connection refused").
fn errno_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// The wildcard address of a family.
pub fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}
