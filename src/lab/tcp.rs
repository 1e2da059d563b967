//! TCP service probes: `tcp_listen` (a lab-owned listener thread in a namespace), `tcp_connect`
//! and `wait_tcp`. A listener's socket keeps its namespace alive, so the lab closes the
//! listeners of a namespace before deleting it, and all of them at teardown.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::{validate, Lab, LabError, Ns, Result};
use crate::engine::tcp_probe::{self, ConnectReport, Listener};

/// A listener as the script holds it; closed when closed explicitly, when the last handle goes,
/// when its namespace is deleted, or at teardown.
#[derive(Clone)]
pub struct TcpService {
    pub ns: Ns,
    /// The machine it listens on, for a lab across machines; None: this one.
    pub on: Option<String>,
    /// Its number, unique in this process: how a listener sent to another machine's coordinator
    /// is found again when that coordinator names it in a later call.
    pub id: u64,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    /// Listening in this process.
    Here(Arc<Mutex<Listener>>),
    /// Held by another process (an agent's lab): what it said about it when it answered.
    Elsewhere { addr: SocketAddr, accepted: u64, open: bool },
}

/// The next `TcpService::id`. Never the same in two labs, nor (but by a 2^-64 chance) in two
/// processes: counted from a random start, so that a listener a coordinator names to the wrong
/// machine is not taken there for one of its own.
fn next_id() -> u64 {
    static START: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // std's hasher keys are random per process: hashing nothing gives a random number.
    let start = *START.get_or_init(|| RandomState::new().build_hasher().finish());
    start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

impl TcpService {
    fn here(ns: &Ns, inner: Arc<Mutex<Listener>>) -> TcpService {
        TcpService { ns: ns.clone(), on: None, id: next_id(), inner: Inner::Here(inner) }
    }

    /// A listener another process holds (`id` in its numbering), as it reported it: `accepted`
    /// and `open` are those of that moment.
    pub fn elsewhere(ns: Ns, on: Option<String>, id: u64, addr: SocketAddr, accepted: u64, open: bool) -> TcpService {
        TcpService { ns, on, id, inner: Inner::Elsewhere { addr, accepted, open } }
    }

    /// Whether it listens in this process (rather than being another process's, as reported).
    pub fn is_here(&self) -> bool {
        matches!(self.inner, Inner::Here(_))
    }

    /// The same listener: one `Arc` (here), or the same id (elsewhere).
    pub fn same(&self, other: &TcpService) -> bool {
        match (&self.inner, &other.inner) {
            (Inner::Here(a), Inner::Here(b)) => Arc::ptr_eq(a, b),
            _ => self.id == other.id && self.on == other.on,
        }
    }

    pub fn socket_addr(&self) -> SocketAddr {
        match &self.inner {
            Inner::Here(l) => lock(l).addr,
            Inner::Elsewhere { addr, .. } => *addr,
        }
    }

    pub fn port(&self) -> u16 {
        self.socket_addr().port()
    }

    pub fn addr(&self) -> IpAddr {
        self.socket_addr().ip()
    }

    pub fn accepted(&self) -> u64 {
        match &self.inner {
            Inner::Here(l) => lock(l).accepted(),
            Inner::Elsewhere { accepted, .. } => *accepted,
        }
    }

    pub fn is_open(&self) -> bool {
        match &self.inner {
            Inner::Here(l) => lock(l).is_open(),
            Inner::Elsewhere { open, .. } => *open,
        }
    }

    /// Closes it; one held elsewhere is closed by its holder (the call is forwarded there).
    pub fn close(&self) {
        if let Inner::Here(l) = &self.inner {
            lock(l).stop();
        }
    }

    /// A listener that accepts nothing (no socket, no thread), for unit tests of handles.
    #[cfg(test)]
    pub fn unbound_for_tests(ns: &Ns, addr: SocketAddr) -> TcpService {
        TcpService::here(ns, Arc::new(Mutex::new(Listener::unbound_for_tests(addr))))
    }
}

fn lock(l: &Mutex<Listener>) -> std::sync::MutexGuard<'_, Listener> {
    // A panic while holding it cannot leave the listener half-changed: take it anyway.
    l.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for TcpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.on {
            None => write!(f, "tcp_listen({}, {})", self.ns, self.socket_addr()),
            Some(m) => write!(f, "tcp_listen({} on {m}, {})", self.ns, self.socket_addr()),
        }
    }
}

/// The listeners the lab started (weakly: the script's handles own them), each with a serial
/// number so that a sub-test can close those it started.
#[derive(Default)]
pub(super) struct Listeners {
    started: Vec<(u64, Ns, Weak<Mutex<Listener>>)>,
    next: u64,
}

fn stop(w: &Weak<Mutex<Listener>>) {
    if let Some(l) = w.upgrade() {
        l.lock().unwrap_or_else(|e| e.into_inner()).stop();
    }
}

impl Listeners {
    fn add(&mut self, ns: &Ns, l: &Arc<Mutex<Listener>>) {
        self.started.retain(|(_, _, w)| w.strong_count() > 0);
        self.started.push((self.next, ns.clone(), Arc::downgrade(l)));
        self.next += 1;
    }

    /// The serial the next listener gets: a checkpoint's mark.
    pub(super) fn mark(&self) -> u64 {
        self.next
    }

    /// Closes the listeners started since `mark` (a sub-test's, when it ends).
    pub(super) fn close_since(&mut self, mark: u64) {
        self.started.iter().filter(|(n, ..)| *n >= mark).for_each(|(_, _, w)| stop(w));
        self.started.retain(|(n, ..)| *n < mark);
    }

    /// Closes the listeners in `ns` (before it is deleted: their sockets would keep it alive).
    pub(super) fn close_in(&mut self, ns: &Ns) {
        self.started.iter().filter(|(_, n, _)| n == ns).for_each(|(_, _, w)| stop(w));
        self.started.retain(|(_, n, _)| n != ns);
    }

    pub(super) fn close_all(&mut self) {
        self.started.drain(..).for_each(|(_, _, w)| stop(&w));
    }
}

/// How long one try of `wait_tcp` may take, and the pause between tries.
const WAIT_TRY: Duration = Duration::from_secs(1);
const WAIT_PAUSE: Duration = Duration::from_millis(50);

impl Lab {
    /// Listens on TCP `port` in `ns` (on `addr`, or every address of both families).
    pub fn tcp_listen(&mut self, ns: &Ns, port: u16, addr: Option<&str>) -> Result<TcpService> {
        let addr = addr.map(|a| validate::ip_as("listening address", a)).transpose()?;
        self.flush()?;
        let file = self.ns_file(ns)?;
        let op = format!("listen on TCP port {port} in {ns}");
        let listener = match addr {
            Some(a) => tcp_probe::listen(Some(&file), &self.home, a, port),
            // "::" takes IPv4 too (bindv6only is 0 by default); without IPv6, IPv4 alone.
            None => tcp_probe::listen(Some(&file), &self.home, tcp_probe::unspecified(true), port)
                .or_else(|_| tcp_probe::listen(Some(&file), &self.home, tcp_probe::unspecified(false), port)),
        };
        let listener = listener.map_err(|e| match e.code() {
            Some(nix::errno::Errno::EADDRINUSE) => {
                LabError::Failed { op: op.clone(), detail: format!("port {port} is already in use in {ns}"), errno: e.code() }
            }
            Some(nix::errno::Errno::EADDRNOTAVAIL) => LabError::Failed {
                op: op.clone(),
                detail: format!("{} is not an address of {ns}", addr.map(|a| a.to_string()).unwrap_or_default()),
                errno: e.code(),
            },
            _ => LabError::from_engine(op.clone(), e),
        })?;
        let inner = Arc::new(Mutex::new(listener));
        self.tcp.add(ns, &inner);
        Ok(TcpService::here(ns, inner))
    }

    /// One connection attempt from `ns` to `dst:port`; refused, unreachable and timed out are
    /// reported in the result.
    pub fn tcp_connect(&mut self, ns: &Ns, dst: &str, port: u16, timeout: Duration) -> Result<ConnectReport> {
        let ip: IpAddr = validate::ip_as("destination", dst)?;
        self.flush()?;
        self.settle()?;
        let file = self.ns_file(ns)?;
        tcp_probe::connect(Some(&file), &self.home, ip, port, timeout)
            .map_err(|e| LabError::from_engine(format!("connect to {dst} port {port} from {ns}"), e))
    }

    /// Tries to connect until something accepts, or fails after `timeout` with the last reason.
    pub fn wait_tcp(&mut self, ns: &Ns, dst: &str, port: u16, timeout: Duration) -> Result<ConnectReport> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let report = self.tcp_connect(ns, dst, port, left.clamp(Duration::from_millis(10), WAIT_TRY))?;
            if report.ok {
                return Ok(report);
            }
            if self.cancelled() {
                return Err(LabError::Interrupted);
            }
            if Instant::now() + WAIT_PAUSE >= deadline {
                return Err(LabError::Failed {
                    op: format!("wait for TCP port {port} on {dst} from {ns}"),
                    detail: format!(
                        "nothing accepted within {} s (last attempt: {})",
                        timeout.as_secs_f64(),
                        report.error.unwrap_or_default()
                    ),
                    errno: None,
                });
            }
            std::thread::sleep(WAIT_PAUSE);
        }
    }
}
