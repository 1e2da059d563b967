//! The lab: the user's objects (namespaces, links, addresses, processes) and their lifecycle.
//! It speaks in names, checks input before the kernel sees it, records what it creates in the
//! ledger, and turns engine failures into errors about the user's objects.

pub mod error;
pub mod ledger;
pub mod reach;
pub mod shaping;
pub mod teardown;
pub mod throughput;
pub mod units;
pub mod validate;
pub mod view;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::future::Future;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::process::Output;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;

pub use error::{LabError, Result};
use ledger::{Ledger, Object};
pub use teardown::TeardownReport;
pub use view::{AddrView, LinkView, RouteView};

use crate::engine::icmp::{PingOptions, PingReport};
use crate::engine::netlink::{Conn, LinkInfo, LinkOptions};
use crate::engine::route::RouteSpec;
use crate::engine::{exec, netns, EngineError};

/// Which namespace an operation acts in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ns {
    /// The namespace nslab itself runs in: the host's, or the sandbox's.
    Root,
    Named(String),
}

impl Ns {
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

/// An opened namespace: its file keeps it reachable, its connection is made on first use.
struct Space {
    file: Rc<File>,
    conn: Option<Conn>,
}

pub struct LabOptions {
    pub name: String,
    pub ledger_dir: std::path::PathBuf,
}

impl LabOptions {
    pub fn new(name: impl Into<String>) -> LabOptions {
        LabOptions { name: name.into(), ledger_dir: ledger::LEDGER_DIR.into() }
    }
}

pub struct Lab {
    rt: tokio::runtime::Runtime,
    home: Rc<File>,
    root_conn: Option<Conn>,
    spaces: HashMap<String, Space>,
    /// Namespaces this lab created: everything inside them is the lab's too.
    owned: HashSet<String>,
    /// Links the lab created outside its own namespaces.
    made_links: HashSet<(Option<String>, String)>,
    indexes: HashMap<(Option<String>, String), u32>,
    /// Veth peers the lab knows of, both directions: (ns, name) -> (ns, name).
    peers: HashMap<(Option<String>, String), (Option<String>, String)>,
    /// Created with the first object, so labs that create nothing leave no trace.
    ledger: Option<Ledger>,
    opts: LabOptions,
    netns_dir_ready: bool,
    cancel: Arc<AtomicBool>,
}

pub struct ExecOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Lab {
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
            root_conn: None,
            spaces: HashMap::new(),
            owned: HashSet::new(),
            made_links: HashSet::new(),
            indexes: HashMap::new(),
            peers: HashMap::new(),
            ledger: None,
            opts,
            netns_dir_ready: false,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn name(&self) -> &str {
        &self.opts.name
    }

    /// The lab's id, once it has created something.
    pub fn id(&self) -> Option<&str> {
        self.ledger.as_ref().map(|l| l.header.id.as_str())
    }

    fn ledger_mut(&mut self) -> Result<&mut Ledger> {
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

    fn space(&mut self, name: &str) -> Result<&mut Space> {
        if !self.spaces.contains_key(name) {
            validate::netns_name(name)?;
            let file = netns::open_named(name).map_err(|e| match e.code() {
                Some(Errno::ENOENT) => LabError::NoSuchNetns(name.into()),
                _ => LabError::from_engine(format!("open namespace {name:?}"), e),
            })?;
            self.spaces.insert(name.into(), Space { file: Rc::new(file), conn: None });
        }
        Ok(self.spaces.get_mut(name).expect("just inserted"))
    }

    fn ns_file(&mut self, ns: &Ns) -> Result<Rc<File>> {
        match ns {
            Ns::Root => Ok(self.home.clone()),
            Ns::Named(name) => Ok(self.space(name)?.file.clone()),
        }
    }

    fn conn(&mut self, ns: &Ns) -> Result<Conn> {
        let _guard = self.rt.enter();
        let open_err = |e: EngineError| LabError::from_engine(format!("talk to {ns}"), e);
        match ns {
            Ns::Root => {
                if self.root_conn.is_none() {
                    self.root_conn = Some(Conn::open(None, &self.home).map_err(open_err)?);
                }
                Ok(self.root_conn.clone().expect("just opened"))
            }
            Ns::Named(name) => {
                let home = self.home.clone();
                let space = self.space(name)?;
                if space.conn.is_none() {
                    space.conn = Some(Conn::open(Some(&space.file), &home).map_err(open_err)?);
                }
                Ok(space.conn.clone().expect("just opened"))
            }
        }
    }

    /// Who holds a namespace name: another live lab, a dead one, or the host.
    fn owner_of_netns(&self, name: &str) -> String {
        for rec in ledger::read_all(&self.opts.ledger_dir) {
            if Some(rec.header.id.as_str()) == self.id() {
                if rec.objects.iter().any(|o| matches!(o, Object::Netns { name: n, .. } if n == name)) {
                    return " (this lab created it earlier)".into();
                }
                continue;
            }
            if rec.objects.iter().any(|o| matches!(o, Object::Netns { name: n, .. } if n == name)) {
                let state = if rec.alive() { "running" } else { "dead: `nslab clean` removes it" };
                return format!(" (owned by lab {:?}, id {}, pid {}, {state})", rec.header.name, rec.header.id, rec.header.pid);
            }
        }
        " (on the host, not created by nslab)".into()
    }

    pub fn netns_add(&mut self, name: &str) -> Result<()> {
        validate::netns_name(name)?;
        if self.owned.contains(name) {
            return Err(LabError::Exists {
                what: "namespace",
                name: name.into(),
                owner: " (this lab created it earlier)".into(),
            });
        }
        if !self.netns_dir_ready {
            netns::prepare_dir().map_err(|e| LabError::from_engine("prepare /run/netns", e))?;
            self.netns_dir_ready = true;
        }
        let intent = Object::Netns { name: name.into(), inode: None };
        self.ledger_mut()?.intent(&intent)?;
        match netns::create(name, &*self.home) {
            Ok(file) => {
                let inode = netns::inode_of(&file).ok();
                self.ledger_mut()?.made(&Object::Netns { name: name.into(), inode })?;
                self.owned.insert(name.into());
                self.spaces.insert(name.into(), Space { file: Rc::new(file), conn: None });
                Ok(())
            }
            Err(e) => {
                self.ledger_mut()?.failed(&intent)?;
                if e.code() == Some(Errno::EEXIST) {
                    return Err(LabError::Exists { what: "namespace", name: name.into(), owner: self.owner_of_netns(name) });
                }
                Err(LabError::from_engine(format!("create namespace {name:?}"), e))
            }
        }
    }

    /// Checks that a namespace exists (and opens it for later use).
    pub fn netns_open(&mut self, name: &str) -> Result<()> {
        self.space(name).map(|_| ())
    }

    pub fn netns_del(&mut self, name: &str) -> Result<()> {
        validate::netns_name(name)?;
        if !netns::netns_path(name).exists() {
            return Err(LabError::NoSuchNetns(name.into()));
        }
        // Our own socket would keep the namespace alive: drop it first.
        self.forget_ns(name);
        netns::delete(name).map_err(|e| LabError::from_engine(format!("delete namespace {name:?}"), e))?;
        if self.owned.remove(name) {
            self.ledger_mut()?.gone(&Object::Netns { name: name.into(), inode: None })?;
        }
        Ok(())
    }

    fn forget_ns(&mut self, name: &str) {
        self.spaces.remove(name);
        let key = Some(name.to_string());
        self.indexes.retain(|(ns, _), _| *ns != key);
        self.peers.retain(|(ns, _), (pns, _)| *ns != key && *pns != key);
    }

    pub fn netns_list(&self) -> Result<Vec<String>> {
        netns::list().map_err(|e| LabError::from_engine("list namespaces", e))
    }

    pub fn netns_exists(&self, name: &str) -> bool {
        validate::netns_name(name).is_ok() && netns::exists(name)
    }

    fn owns(&self, ns: &Ns) -> bool {
        match ns {
            Ns::Root => false,
            Ns::Named(n) => self.owned.contains(n),
        }
    }

    // ---- links ------------------------------------------------------------------------------

    fn index(&mut self, ns: &Ns, link: &str) -> Result<u32> {
        validate::link_name(link)?;
        let key = (ns.key(), link.to_string());
        if let Some(i) = self.indexes.get(&key) {
            return Ok(*i);
        }
        let conn = self.conn(ns)?;
        let info = self.block_on(conn.link_by_name(link)).map_err(|e| self.link_error(ns, link, "find", e))?;
        self.indexes.insert(key, info.index);
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
                self.indexes.remove(&(ns.key(), link.to_string()));
                let index = self.index(ns, link)?;
                self.block_on(request(conn, index)).map_err(|e| self.link_error(ns, link, verb, e))
            }
            other => other.map_err(|e| self.link_error(ns, link, verb, e)),
        }
    }

    /// Creates a veth pair: `name` in `ns`, `peer` in `peer_ns`, each end born in its namespace.
    pub fn veth(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, opts: &LinkOptions) -> Result<()> {
        validate::link_name(name)?;
        validate::link_name(peer)?;
        if ns == peer_ns && name == peer {
            return Err(LabError::Invalid {
                what: "veth pair",
                value: name.into(),
                reason: "both ends have the same name".into(),
            });
        }
        let conn = self.conn(ns)?;
        let peer_file = if peer_ns == ns { None } else { Some(self.ns_file(peer_ns)?) };
        let ends = [(ns, name), (peer_ns, peer)];
        let records: Vec<Object> = ends
            .iter()
            .filter(|(n, _)| !self.owns(n))
            .map(|(n, l)| Object::Link { ns: n.key(), name: l.to_string(), index: None })
            .collect();
        for r in &records {
            self.ledger_mut()?.intent(r)?;
        }
        let made = self.block_on(conn.add_veth(name, peer, peer_file.as_deref(), opts));
        if let Err(e) = made {
            for r in &records {
                self.ledger_mut()?.failed(r)?;
            }
            return Err(self.veth_error(ns, name, peer_ns, peer, e));
        }
        for (n, l) in ends {
            if !self.owns(n) {
                let index = self.index(n, l).ok();
                self.ledger_mut()?.made(&Object::Link { ns: n.key(), name: l.into(), index })?;
                self.made_links.insert((n.key(), l.into()));
            }
        }
        self.peers.insert((ns.key(), name.into()), (peer_ns.key(), peer.into()));
        self.peers.insert((peer_ns.key(), peer.into()), (ns.key(), name.into()));
        Ok(())
    }

    fn veth_error(&mut self, ns: &Ns, name: &str, peer_ns: &Ns, peer: &str, e: EngineError) -> LabError {
        if e.code() == Some(Errno::EEXIST) {
            // Say which end clashed: the kernel only says "File exists".
            for (n, l) in [(ns, name), (peer_ns, peer)] {
                if self.index(n, l).is_ok() {
                    return LabError::Exists { what: "link", name: l.into(), owner: format!(" in {n}") };
                }
            }
        }
        if e.code() == Some(Errno::EOPNOTSUPP) {
            return LabError::Unsupported { op: format!("create veth pair {name}/{peer}"), feature: "veth".into() };
        }
        LabError::from_engine(format!("create veth pair {name:?}/{peer:?}"), e)
    }

    /// Moves a link to another namespace (`ip link set LINK netns NS`).
    pub fn move_to(&mut self, from: &Ns, link: &str, to: &Ns) -> Result<()> {
        let target = self.ns_file(to)?;
        if from == to {
            return Ok(());
        }
        let fd = target.as_raw_fd();
        self.on_link(from, link, "move", |conn, index| async move { conn.move_to(index, fd).await })?;
        let old_key = (from.key(), link.to_string());
        self.indexes.remove(&old_key);
        if self.made_links.remove(&old_key) {
            self.forget(&Object::Link { ns: from.key(), name: link.into(), index: None })?;
        }
        if !self.owns(to) {
            let index = self.index(to, link).ok();
            self.ledger_mut()?.made(&Object::Link { ns: to.key(), name: link.into(), index })?;
            self.made_links.insert((to.key(), link.into()));
        }
        if let Some(peer) = self.peers.remove(&old_key) {
            self.peers.insert(peer.clone(), (to.key(), link.into()));
            self.peers.insert((to.key(), link.into()), peer);
        }
        Ok(())
    }

    pub fn set_up(&mut self, ns: &Ns, link: &str, up: bool) -> Result<()> {
        let verb = if up { "bring up" } else { "bring down" };
        self.on_link(ns, link, verb, |conn, index| async move { conn.set_up(index, up).await })
    }

    pub fn addr(&mut self, ns: &Ns, link: &str, cidr: &str) -> Result<()> {
        let cidr = validate::cidr(cidr)?;
        let record = (!self.owns(ns) && !self.made_links.contains(&(ns.key(), link.to_string()))).then(|| Object::Addr {
            ns: ns.key(),
            link: link.into(),
            cidr: cidr.to_string(),
        });
        self.index(ns, link)?;
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let done =
            self.on_link(
                ns,
                link,
                "add an address to",
                |conn, index| async move { conn.add_addr(index, cidr.ip, cidr.prefix).await },
            );
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        done.map_err(|e| match e {
            LabError::Failed { errno: Some(Errno::EEXIST), .. } => {
                LabError::Exists { what: "address", name: cidr.to_string(), owner: format!(" on link {link:?} in {ns}") }
            }
            other => other,
        })
    }

    pub fn addr_del(&mut self, ns: &Ns, link: &str, cidr: &str) -> Result<()> {
        let cidr = validate::cidr(cidr)?;
        self.on_link(ns, link, "remove an address from", |conn, index| async move {
            conn.del_addr(index, cidr.ip, cidr.prefix).await
        })?;
        self.forget(&Object::Addr { ns: ns.key(), link: link.into(), cidr: cidr.to_string() })
    }

    /// Notes in the ledger that an object is gone, if the ledger could have listed it.
    fn forget(&mut self, obj: &Object) -> Result<()> {
        match self.ledger.as_mut() {
            Some(l) => l.gone(obj),
            None => Ok(()),
        }
    }

    // Dumps run one after another: the kernel allows one dump at a time per socket (EBUSY).
    pub fn links(&mut self, ns: &Ns) -> Result<Vec<LinkView>> {
        let conn = self.conn(ns)?;
        let (links, addrs) = self
            .block_on(async { Ok::<_, EngineError>((conn.links().await?, conn.addrs().await?)) })
            .map_err(|e| LabError::from_engine(format!("list links in {ns}"), e))?;
        let name_of = |i: u32| links.iter().find(|l| l.index == i).map(|l| l.name.clone()).unwrap_or_default();
        let views = links
            .iter()
            .map(|l: &LinkInfo| {
                let (peer, peer_netns) = self.peer_of(ns, l, &name_of);
                LinkView {
                    name: l.name.clone(),
                    index: l.index,
                    kind: l.kind.clone(),
                    state: if l.up { "up".into() } else { "down".into() },
                    carrier: l.lower_up,
                    mtu: l.mtu,
                    mac: l.mac.clone(),
                    peer,
                    peer_netns,
                    master: l.master.map(name_of).unwrap_or_default(),
                    addresses: addrs
                        .iter()
                        .filter(|a| a.index == l.index)
                        .map(|a| format!("{}/{}", a.address, a.prefix))
                        .collect(),
                }
            })
            .collect();
        Ok(views)
    }

    fn peer_of(&self, ns: &Ns, l: &LinkInfo, name_of: &dyn Fn(u32) -> String) -> (String, String) {
        if l.kind != "veth" {
            return (String::new(), String::new());
        }
        if let Some((pns, pname)) = self.peers.get(&(ns.key(), l.name.clone())) {
            let where_ = if *pns == ns.key() { String::new() } else { pns.clone().unwrap_or_else(|| "root".into()) };
            return (pname.clone(), where_);
        }
        match (l.peer_index, l.peer_netnsid) {
            (Some(i), None) => (name_of(i), String::new()),
            _ => (String::new(), String::new()),
        }
    }

    pub fn addrs(&mut self, ns: &Ns) -> Result<Vec<AddrView>> {
        let conn = self.conn(ns)?;
        let (links, addrs) = self
            .block_on(async { Ok::<_, EngineError>((conn.links().await?, conn.addrs().await?)) })
            .map_err(|e| LabError::from_engine(format!("list addresses in {ns}"), e))?;
        Ok(addrs
            .iter()
            .map(|a| AddrView {
                link: links.iter().find(|l| l.index == a.index).map(|l| l.name.clone()).unwrap_or_default(),
                index: a.index,
                family: if a.address.is_ipv4() { "inet".into() } else { "inet6".into() },
                address: a.address.to_string(),
                prefix: a.prefix,
                cidr: format!("{}/{}", a.address, a.prefix),
                scope: a.scope.clone(),
            })
            .collect())
    }

    // ---- routes -----------------------------------------------------------------------------

    pub fn route(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> Result<()> {
        let spec = self.route_spec(ns, dst, via, dev, metric)?;
        let record = (!self.owns(ns)).then(|| Object::Route { ns: ns.key(), dst: dst.into(), via: via.unwrap_or("").into() });
        if let Some(r) = &record {
            self.ledger_mut()?.intent(r)?;
        }
        let conn = self.conn(ns)?;
        let done = self.block_on(conn.add_route(&spec));
        match (&done, &record) {
            (Ok(()), Some(r)) => self.ledger_mut()?.made(r)?,
            (Err(_), Some(r)) => self.ledger_mut()?.failed(r)?,
            _ => {}
        }
        done.map_err(|e| match e.code() {
            Some(Errno::EEXIST) => LabError::Exists { what: "route", name: dst.into(), owner: format!(" in {ns}") },
            Some(Errno::ENETUNREACH) => LabError::Failed {
                op: format!("add route {dst} in {ns}"),
                detail: format!("the gateway {} is not on any directly connected network there", via.unwrap_or("?")),
                errno: Some(Errno::ENETUNREACH),
            },
            _ => LabError::from_engine(format!("add route {dst} in {ns}"), e),
        })
    }

    pub fn route_del(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>) -> Result<()> {
        let spec = self.route_spec(ns, dst, via, dev, None)?;
        let conn = self.conn(ns)?;
        self.block_on(conn.del_route(&spec)).map_err(|e| match e.code() {
            Some(Errno::ESRCH) => LabError::Failed {
                op: format!("delete route {dst} in {ns}"),
                detail: "no such route".into(),
                errno: Some(Errno::ESRCH),
            },
            _ => LabError::from_engine(format!("delete route {dst} in {ns}"), e),
        })?;
        self.forget(&Object::Route { ns: ns.key(), dst: dst.into(), via: via.unwrap_or("").into() })
    }

    fn route_spec(&mut self, ns: &Ns, dst: &str, via: Option<&str>, dev: Option<&str>, metric: Option<u32>) -> Result<RouteSpec> {
        let mut spec = route_spec(dst, via.unwrap_or(""))?;
        if let Some(dev) = dev {
            spec.dev = Some(self.index(ns, dev)?);
        }
        if via.is_none() && dev.is_none() {
            return Err(LabError::Invalid {
                what: "route",
                value: dst.into(),
                reason: "it needs a gateway (via) or a device (dev)".into(),
            });
        }
        spec.metric = metric;
        Ok(spec)
    }

    pub fn routes(&mut self, ns: &Ns) -> Result<Vec<RouteView>> {
        let conn = self.conn(ns)?;
        let (links, routes) = self
            .block_on(async { Ok::<_, EngineError>((conn.links().await?, conn.routes().await?)) })
            .map_err(|e| LabError::from_engine(format!("list routes in {ns}"), e))?;
        Ok(routes
            .iter()
            .map(|r| RouteView {
                dst: r.dst.map(|(ip, len)| format!("{ip}/{len}")).unwrap_or_else(|| "default".into()),
                via: r.via.map(|v| v.to_string()).unwrap_or_default(),
                dev: r.dev.and_then(|i| links.iter().find(|l| l.index == i)).map(|l| l.name.clone()).unwrap_or_default(),
                metric: r.metric,
                protocol: r.protocol.clone(),
                scope: r.scope.clone(),
                family: if r.v6 { "inet6".into() } else { "inet".into() },
            })
            .collect())
    }

    // ---- processes and packets --------------------------------------------------------------

    pub fn exec(&mut self, ns: &Ns, argv: &[String]) -> Result<ExecOutput> {
        if argv.is_empty() {
            return Err(LabError::Invalid { what: "command", value: String::new(), reason: "it is empty".into() });
        }
        let file = match ns {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(ns)?),
        };
        let ns_name = ns.key();
        let placement = exec::Placement { ns: file.as_deref(), ns_name: ns_name.as_deref() };
        let cancel = self.cancel.clone();
        let out: Output = exec::run(argv, &placement, &|| cancel.load(Ordering::Relaxed)).map_err(|e| match e.code() {
            Some(Errno::ENOENT) => LabError::Failed {
                op: format!("run {:?} in {ns}", argv[0]),
                detail: "no such program (is it installed and on PATH?)".into(),
                errno: Some(Errno::ENOENT),
            },
            _ => LabError::from_engine(format!("run {:?} in {ns}", argv[0]), e),
        })?;
        if self.cancelled() {
            return Err(LabError::Interrupted);
        }
        use std::os::unix::process::ExitStatusExt;
        let code = out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
        Ok(ExecOutput {
            code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    pub fn ping(&mut self, ns: &Ns, dst: &str, opts: &PingOptions) -> Result<PingReport> {
        let ip: IpAddr = validate::ip(dst)?;
        let file = match ns {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(ns)?),
        };
        let cancel = self.cancel.clone();
        let report = crate::engine::icmp::ping(file.as_deref(), &self.home, ip, opts, &|| cancel.load(Ordering::Relaxed))
            .map_err(|e| LabError::from_engine(format!("ping {dst} from {ns}"), e))?;
        if self.cancelled() {
            return Err(LabError::Interrupted);
        }
        Ok(report)
    }

    // ---- lifecycle --------------------------------------------------------------------------

    /// Removes everything the lab created and closes its ledger.
    pub fn teardown(mut self) -> TeardownReport {
        let Some(ledger) = self.ledger.take() else { return TeardownReport::default() };
        let record = ledger.read();
        // Sockets and files keep namespaces alive: let go of all of them first.
        self.spaces.clear();
        self.root_conn = None;
        let home = self.home.clone();
        let Lab { rt, .. } = self;
        rt.shutdown_background();
        match record {
            Ok(rec) => {
                let report = teardown::remove(&rec.objects.iter().chain(rec.pending.iter()).cloned().collect::<Vec<_>>(), &home);
                if report.failures.is_empty() {
                    ledger.close();
                }
                report
            }
            Err(e) => TeardownReport { failures: vec![e.to_string()], ..Default::default() },
        }
    }

    /// Leaves the lab standing; its ledger stays so `nslab down` can remove it later.
    /// Returns the lab's id, or None when it created nothing.
    pub fn keep(mut self) -> Option<String> {
        self.ledger.take().map(|l| l.header.id.clone())
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

/// A route's destination and gateway, parsed ("default", "10.0.0.0/8"; "" for no gateway).
pub fn route_spec(dst: &str, via: &str) -> Result<RouteSpec> {
    let mut spec = RouteSpec::default();
    if dst != "default" {
        let c = validate::cidr(dst)?;
        spec.dst = Some((c.ip, c.prefix));
        spec.v6 = c.ip.is_ipv6();
    }
    if !via.is_empty() {
        let gw = validate::ip(via)?;
        if spec.dst.is_some() && gw.is_ipv6() != spec.v6 {
            return Err(LabError::Invalid {
                what: "gateway",
                value: via.into(),
                reason: format!("it is not of the same family as {dst}"),
            });
        }
        spec.v6 = gw.is_ipv6();
        spec.via = Some(gw);
    }
    Ok(spec)
}
