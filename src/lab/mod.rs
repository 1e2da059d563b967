//! The lab: the user's objects (namespaces, links, addresses, processes) and their lifecycle.
//! It speaks in names, checks input before the kernel sees it, records what it creates in the
//! ledger, and turns engine failures into errors about the user's objects.

mod addr_options;
mod bridges;
pub(crate) mod census;
mod checkpoint;
pub(crate) mod diagnose;
pub(crate) mod diagnosis;
mod fdb;
mod holding;
mod ifindex;
mod interactive;
mod ledger_neigh;
mod link_book;
mod link_del;
pub(crate) mod link_set;
mod links;
mod moved;
mod namespaces;
mod neigh;
mod outside_links;
mod probe;
mod route_args;
mod route_list;
mod route_records;
mod routes;
mod rules;
mod spaces;
mod steps;
pub(crate) mod trace;
mod tunnels;
mod veth;

pub(crate) mod error;
pub(crate) mod features;
pub mod inventory;
pub(crate) mod ledger;
mod ledger_check;
pub(crate) mod link_kinds;
pub mod machines;
pub(crate) mod matrix;
mod owners;
mod parallel;
pub(crate) mod pingall;
pub(crate) mod processes;
pub(crate) mod reach;
mod settings;
pub(crate) mod shaping;
pub(crate) mod shared_settings;
mod stragglers;
mod sysctl;
pub(crate) mod tcp;
pub(crate) mod teardown;
mod teardown_neigh;
pub(crate) mod throughput;
pub(crate) mod throughput_parts;
pub(crate) mod topology;
pub(crate) mod topology_merge;
pub(crate) mod traceroute;
pub(crate) mod units;
pub(crate) mod validate;
pub(crate) mod validate_links;
pub(crate) mod validate_neigh;
pub(crate) mod validate_net;
pub(crate) mod validate_routes;
pub(crate) mod validate_traffic;
pub(crate) mod view;

use std::fs::File;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;

pub use addr_options::AddrOptions;
pub use error::{LabError, Result};
// What the language hands to the lab and gets back, named here so that the layers above need
// not know where in the engine they are defined.
pub use crate::engine::icmp::{PingOptions, PingReport};
pub use crate::engine::netlink::LinkOptions;
pub use crate::engine::tcp_probe::ConnectReport;
pub use fdb::{FdbOptions, FdbView};
pub use holding::{Outcome, Ticket};
use ledger::{Ledger, Object};
pub use neigh::NeighView;
pub use route_args::{HopArgs, RouteArgs};
pub use route_list::RouteGetArgs;
pub use route_records::route_spec;
pub use rules::RuleArgs;
pub use teardown::TeardownReport;
pub use validate_routes::NameOrNumber;
pub use view::{AddrView, LinkView, NextHopView, RouteGetView, RouteView, RuleView};

use crate::engine::netlink::Conn;
use crate::engine::{netns, EngineError};

/// Which namespace an operation acts in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Ns {
    /// The namespace nslab itself runs in: the host's, or the sandbox's.
    Root,
    /// A namespace the lab made (or found), by name.
    Named(String),
}

impl Ns {
    /// The namespace named `name`.
    pub fn named(name: impl Into<String>) -> Ns {
        Ns::Named(name.into())
    }

    fn key(&self) -> Option<String> {
        match self {
            Ns::Root => None,
            Ns::Named(n) => Some(n.clone()),
        }
    }
}

impl std::fmt::Display for Ns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ns::Root => write!(f, "the root namespace"),
            Ns::Named(n) => write!(f, "namespace {n:?}"),
        }
    }
}

/// Connections kept open into named namespaces; the least recently used beyond this is closed.
/// A netlink socket keeps its namespace alive until an RCU grace period (~15 ms) after it is
/// closed, so closing idle ones during the build lets the kernel start cleaning up most
/// namespaces the moment teardown unmounts them; it also halves the files and memory a big lab
/// holds (RSS 27 -> 22 MB at 500 namespaces). Reopening costs ~25 µs.
const OPEN_CONNECTIONS: usize = 32;

/// What a new lab is called and where its ledger is kept.
pub struct LabOptions {
    /// The lab's name, as `nslab ls` shows it.
    pub name: String,
    /// Where the ledger file goes (by default under /run).
    pub ledger_dir: std::path::PathBuf,
}

impl LabOptions {
    /// Options for a lab named `name`, with its ledger in the default place.
    pub fn new(name: impl Into<String>) -> LabOptions {
        LabOptions { name: name.into(), ledger_dir: ledger::LEDGER_DIR.into() }
    }
}

/// A lab: the namespaces, links, addresses, routes and processes it has made, recorded in a
/// ledger so that [`Lab::teardown`] removes exactly those. All methods take names; input is
/// checked before the kernel sees it, and errors name the user's objects.
pub struct Lab {
    rt: tokio::runtime::Runtime,
    home: Rc<File>,
    /// The namespaces the lab works with and its connections into them (`spaces.rs`).
    spaces: spaces::Spaces,
    /// What the lab knows of links: which it made, their indexes and peers (`link_book.rs`).
    links: link_book::LinkBook,
    /// Work held back until something looks (`holding.rs`).
    held: holding::Held,
    /// What the lab changed but did not create (see `moved.rs`).
    changed: moved::Changed,
    /// Created with the first object, so labs that create nothing leave no trace.
    ledger: Option<Ledger>,
    opts: LabOptions,
    /// Links brought up since the last wait before traffic: they may still be settling.
    unsettled: probe::Unsettled,
    cancel: Arc<AtomicBool>,
    procs: processes::Procs,
    /// TCP listeners started by `tcp_listen`.
    tcp: tcp::Listeners,
    /// Receiving halves of throughput tests (`throughput_parts.rs`).
    receivers: throughput_parts::Receivers,
    /// Active checkpoints, outermost first (see `checkpoint.rs`).
    checkpoints: Vec<checkpoint::Frame>,
    /// Where `--trace` lines go (see `trace.rs`).
    trace: Option<trace::TraceSink>,
}

/// How a program run to its end finished, and what it wrote.
pub struct ExecOutput {
    /// Exit code (128 + the signal's number when a signal ended it).
    pub code: i32,
    /// What it wrote to standard output.
    pub stdout: String,
    /// What it wrote to standard error.
    pub stderr: String,
}

impl Lab {
    /// Opens a new, empty lab: starts its ledger and its runtime. Nothing is made in the kernel yet.
    pub fn new(opts: LabOptions) -> Result<Lab> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| LabError::Failed {
            op: "start the netlink runtime".into(),
            detail: e.to_string(),
            errno: None,
        })?;
        let home = netns::current().map_err(|e| LabError::from_engine("find the current namespace", e))?;
        Ok(Lab {
            rt,
            home: Rc::new(home),
            spaces: spaces::Spaces::default(),
            links: link_book::LinkBook::new(),
            held: holding::Held::default(),
            changed: moved::Changed::default(),
            ledger: None,
            opts,
            unsettled: probe::Unsettled::default(),
            cancel: Arc::new(AtomicBool::new(false)),
            procs: processes::Procs::default(),
            tcp: tcp::Listeners::default(),
            receivers: throughput_parts::Receivers::default(),
            checkpoints: Vec::new(),
            trace: None,
        })
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.opts.name
    }

    /// The lab's id, once it has created something.
    pub fn id(&self) -> Option<&str> {
        self.ledger.as_ref().map(|l| l.header.id.as_str())
    }

    pub(crate) fn ledger_mut(&mut self) -> Result<&mut Ledger> {
        if self.ledger.is_none() {
            let ledger = Ledger::create(&self.opts.ledger_dir, &self.opts.name).map_err(|e| match e.errno() {
                Some(Errno::EACCES) | Some(Errno::EPERM) | Some(Errno::EROFS) => {
                    LabError::PermissionDenied { op: format!("record the lab in {}", self.opts.ledger_dir.display()) }
                }
                _ => e,
            })?;
            self.ledger = Some(ledger);
        }
        Ok(self.ledger.as_mut().expect("just created"))
    }

    /// Set by Ctrl-C / SIGTERM; long operations stop when they see it.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    // ---- namespaces -------------------------------------------------------------------------

    fn space(&mut self, name: &str) -> Result<&mut spaces::Space> {
        if !self.spaces.open.contains_key(name) {
            validate::netns_name(name)?;
            let file = netns::open_named(name).map_err(|e| match e.code() {
                Some(Errno::ENOENT) => LabError::NoSuchNetns(name.into()),
                _ => LabError::from_engine(format!("open namespace {name:?}"), e),
            })?;
            self.spaces.open.insert(name.into(), spaces::Space { file: Rc::new(file), conn: None, used: 0 });
        }
        Ok(self.spaces.open.get_mut(name).expect("just inserted"))
    }

    fn ns_file(&mut self, ns: &Ns) -> Result<Rc<File>> {
        self.flush()?;
        match ns {
            Ns::Root => Ok(self.home.clone()),
            Ns::Named(name) => Ok(self.space(name)?.file.clone()),
        }
    }

    fn conn(&mut self, ns: &Ns) -> Result<Conn> {
        self.flush()?;
        let _guard = self.rt.enter();
        let open_err = |e: EngineError| LabError::from_engine(format!("talk to {ns}"), e);
        match ns {
            Ns::Root => {
                if self.spaces.root_conn.is_none() {
                    self.spaces.root_conn = Some(Conn::open(None, &self.home).map_err(open_err)?);
                }
                Ok(self.spaces.root_conn.clone().expect("just opened"))
            }
            Ns::Named(name) => {
                let home = self.home.clone();
                if self.space(name)?.conn.is_none() {
                    self.close_idle_connection();
                }
                self.spaces.clock += 1;
                let clock = self.spaces.clock;
                let space = self.space(name)?;
                space.used = clock;
                if space.conn.is_none() {
                    space.conn = Some(Conn::open(Some(&space.file), &home).map_err(open_err)?);
                }
                Ok(space.conn.clone().expect("just opened"))
            }
        }
    }

    /// Makes room for one more connection (see `OPEN_CONNECTIONS`).
    fn close_idle_connection(&mut self) {
        let open = self.spaces.open.values().filter(|s| s.conn.is_some()).count();
        if open < OPEN_CONNECTIONS {
            return;
        }
        if let Some(oldest) = self.spaces.open.values_mut().filter(|s| s.conn.is_some()).min_by_key(|s| s.used) {
            oldest.conn = None;
        }
    }

    fn owns(&self, ns: &Ns) -> bool {
        match ns {
            Ns::Root => false,
            Ns::Named(n) => self.spaces.owned.contains(n),
        }
    }

    // ---- links ------------------------------------------------------------------------------

    fn index(&mut self, ns: &Ns, link: &str) -> Result<u32> {
        validate::link_name(link)?;
        let key = (ns.key(), link.to_string());
        if let Some(i) = self.links.indexes.get(&key) {
            return Ok(*i);
        }
        let conn = self.conn(ns)?;
        let info = self.block_on(conn.link_by_name(link)).map_err(|e| self.link_error(ns, link, "find", e))?;
        self.links.indexes.insert(key, info.index);
        Ok(info.index)
    }

    fn link_error(&self, ns: &Ns, link: &str, verb: &str, e: EngineError) -> LabError {
        match e.code() {
            Some(Errno::ENODEV) => LabError::NoSuchLink { ns: ns.to_string(), link: link.into() },
            _ => LabError::from_engine(format!("{verb} link {link:?} in {ns}"), e),
        }
    }

    /// Runs a request on a link by index; if the kernel no longer knows the remembered index
    /// (someone else changed the namespace), looks the name up again and retries once.
    fn on_link<T, F, Fut>(&mut self, ns: &Ns, link: &str, verb: &str, request: F) -> Result<T>
    where
        F: Fn(Conn, u32) -> Fut,
        Fut: Future<Output = crate::engine::Result<T>>,
    {
        let index = self.index(ns, link)?;
        let conn = self.conn(ns)?;
        match self.block_on(request(conn.clone(), index)) {
            Err(e) if e.code() == Some(Errno::ENODEV) => {
                self.links.indexes.remove(&(ns.key(), link.to_string()));
                let index = self.index(ns, link)?;
                self.block_on(request(conn, index)).map_err(|e| self.link_error(ns, link, verb, e))
            }
            other => other.map_err(|e| self.link_error(ns, link, verb, e)),
        }
    }

    /// Notes in the ledger that an object is gone, if the ledger could have listed it.
    fn forget(&mut self, obj: &Object) -> Result<()> {
        match self.ledger.as_mut() {
            Some(l) => l.gone(obj),
            None => Ok(()),
        }
    }

    // ---- lifecycle --------------------------------------------------------------------------

    /// Removes everything the lab created and closes its ledger.
    pub fn teardown(mut self) -> TeardownReport {
        // A veth pair still held back was never created: nothing to remove; a bridge held down
        // need not come up only to go.
        self.held.veth = None;
        self.held.bridge_up = None;
        self.tcp.close_all();
        self.receivers.close_all();
        self.cut_tunnels();
        let Some(ledger) = self.ledger.take() else { return TeardownReport::default() };
        // From memory, not the file: its path may be gone or replaced, and reading it would need
        // a descriptor the lab may not have left (a lab at the open-file limit).
        let objects = ledger.standing();
        self.quiesce_bridges();
        // Sockets and files keep namespaces alive, and teardown needs descriptors of its own:
        // let go of all of them first.
        self.spaces.open.clear();
        self.spaces.root_conn = None;
        let home = self.home.clone();
        let standing = self.spaces.standing.clone();
        // The programs' PID namespace stays until `remove` has ended it and counted what ran.
        let Lab { rt, procs: _programs, .. } = self;
        rt.shutdown_background();
        let report = teardown::remove_counting(&objects, &home, Some(ledger.header.link_group()), &standing);
        if !report.failed() {
            ledger.close();
        }
        report
    }

    /// Brings the lab's bridges down before their ports go. A port leaving a running bridge makes
    /// the kernel revisit every other port's multicast state, so deleting a bridge's N ports one
    /// by one (as deleting their namespaces does) costs O(N²); with the bridge down that work is
    /// skipped. Measured at 500 ports: the kernel's cleanup finishes ~100 ms (20%) sooner.
    fn quiesce_bridges(&mut self) {
        for (ns, name) in std::mem::take(&mut self.links.bridges) {
            // Only a bridge whose index is at hand: a lookup is not worth it for a small one.
            let Some(&index) = self.links.indexes.get(&(ns.key(), name)) else { continue };
            if let Ok(conn) = self.conn(&ns) {
                let _ = self.rt.block_on(conn.set_up(index, false));
            }
        }
    }

    /// A counter of the namespaces the lab has standing, readable from another thread (the
    /// command line draws progress from it; nothing below the command line prints).
    pub fn progress(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        self.spaces.standing.clone()
    }

    fn count_namespaces(&self) {
        self.spaces.standing.store(self.spaces.owned.len(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Lets go of the lab without tearing it down and without marking it kept: its ledger
    /// stays for `nslab clean`, which finds it dead once this process ends. Its id.
    pub fn keep_for_clean(mut self) -> Option<String> {
        self.ledger.take().map(|l| l.header.id.clone())
    }

    /// Leaves the lab standing; its ledger stays so `nslab down` can remove it later.
    /// Returns the lab's id, or None when it created nothing.
    pub fn keep(mut self) -> Option<String> {
        // Whatever was held back is part of the lab the user keeps, its programs too.
        let _ = self.flush();
        let _ = self.procs.keep();
        self.ledger.take().map(|mut l| {
            // Unrecorded, the lab would look dead to `clean`, which would remove it.
            let _ = l.kept();
            l.header.id.clone()
        })
    }

    /// Waits this long before checking again, in loops that wait for the kernel.
    pub fn pause(&self, d: Duration) -> Result<()> {
        let step = Duration::from_millis(20).min(d);
        let end = std::time::Instant::now() + d;
        while std::time::Instant::now() < end {
            if self.cancelled() {
                return Err(LabError::Interrupted);
            }
            std::thread::sleep(step);
        }
        Ok(())
    }
}
