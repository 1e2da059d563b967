//! Removing what a ledger lists, and nothing else. Used at the end of a run and by
//! `nslab down` / `nslab clean` for labs whose process is gone.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::time::{Duration, Instant};

use nix::errno::Errno;

use super::ledger::{process_start, Object};
use crate::engine::netlink::Conn;
use crate::engine::{netns, spawn, EngineError};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct TeardownReport {
    pub namespaces: usize,
    pub links: usize,
    pub addrs: usize,
    pub routes: usize,
    pub qdiscs: usize,
    pub processes: usize,
    /// Network sysctls set back to their values from before the lab.
    pub sysctls: usize,
    /// Objects that could not be removed, each with the reason.
    pub failures: Vec<String>,
}

impl std::fmt::Display for TeardownReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = Vec::new();
        for (n, one, many) in [
            (self.namespaces, "namespace", "namespaces"),
            (self.links, "link", "links"),
            (self.addrs, "address", "addresses"),
            (self.routes, "route", "routes"),
            (self.qdiscs, "qdisc", "qdiscs"),
            (self.processes, "process", "processes"),
            (self.sysctls, "sysctl restored", "sysctls restored"),
        ] {
            if n > 0 {
                parts.push(plural(n, one, many));
            }
        }
        if parts.is_empty() {
            write!(f, "torn down: nothing to remove")?;
        } else {
            write!(f, "torn down: {}", parts.join(", "))?;
        }
        if !self.failures.is_empty() {
            write!(f, "; {} could not be removed: {}", self.failures.len(), self.failures.join("; "))?;
        }
        Ok(())
    }
}

/// How often and how long to retry a namespace whose unmount races the kernel.
const NETNS_RETRIES: u32 = 20;
const NETNS_RETRY_PAUSE: Duration = Duration::from_millis(25);

/// Removes `objects` (in creation order), processes first, then namespaces, then what remains,
/// each group newest first. Deleting a namespace takes the links inside it and the veth pairs
/// that cross into it with it, far cheaper than deleting links one at a time.
/// `home` is the namespace nslab runs in.
pub fn remove(objects: &[Object], home: &File) -> TeardownReport {
    remove_with(objects, home, false)
}

/// `remove` for a lab whose process is gone (`nslab down`, `clean`): whatever still runs in its
/// namespaces is ended as well, before they go (see `stragglers.rs`).
pub fn remove_dead(objects: &[Object], home: &File) -> TeardownReport {
    remove_with(objects, home, true)
}

fn remove_with(objects: &[Object], home: &File, dead: bool) -> TeardownReport {
    // A link that goes with a deleted namespace is waited for (one RCU grace period after the
    // last socket in that namespace closed, 14-70 ms) so that nobody sees it after nslab returns;
    // in a sandbox nobody can, and the sandbox's namespace takes the link with it anyway.
    let wait_for_vanishing = !crate::engine::sandbox::entered();
    let mut report = TeardownReport::default();
    // Which groups have something running, read once for all processes.
    let live = if objects.iter().any(|o| matches!(o, Object::Process { .. })) { spawn::live_groups() } else { HashSet::new() };
    for obj in objects.iter().rev() {
        if let Object::Process { pid, start } = obj {
            match end_process(*pid, *start, live.contains(pid)) {
                Ok(true) => report.processes += 1,
                Ok(false) => {}
                Err(e) => report.failures.push(format!("process {pid}: {e}")),
            }
        }
    }
    // The PID namespaces of the lab's programs: everything still running in them ends.
    for obj in objects.iter().rev() {
        if let Object::Pidns { pid, start } = obj {
            match crate::engine::pidns::end_namespace(*pid, *start, Duration::from_secs(2)) {
                Ok(n) => report.processes += n,
                Err(e) => report.failures.push(format!("process namespace of {pid}: {e}")),
            }
        }
    }
    // Programs that left their process group and were orphaned, adopted by nslab (a daemon).
    let recorded: HashSet<i32> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Process { pid, .. } | Object::Pidns { pid, .. } => Some(*pid),
            _ => None,
        })
        .collect();
    report.processes += crate::engine::orphans::end_adopted(&recorded);
    // Namespaces: first decide which are still ours, then unmount them all before anything else
    // (see `unmount_all`), roughly in creation order: with a switch namespace holding a bridge,
    // the kernel's cleanup then finishes sooner. (Nothing depends on the order of the unmounts.)
    let ours: Vec<&str> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Netns { name, inode } if still_ours(name, *inode) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    if dead {
        match super::stragglers::end_in(&ours) {
            Ok(n) => report.processes += n,
            Err(e) => report.failures.push(e),
        }
    }
    unmount_all(&ours);
    for name in &ours {
        let _ = netns::unlink(name);
    }
    let mut deleted: HashSet<&str> = HashSet::new();
    for name in ours {
        // Whatever the fast pass could not remove is retried, then reported.
        match remove_netns(name) {
            Ok(_) => {
                report.namespaces += 1;
                deleted.insert(name);
            }
            Err(e) => report.failures.push(format!("namespace {name}: {}", e.cause)),
        }
    }
    for obj in objects.iter().rev() {
        if let Object::Sysctl { ns, key, old } = obj {
            match restore_sysctl(ns.as_deref(), key, old, home) {
                Ok(true) => report.sysctls += 1,
                Ok(false) => {}
                Err(e) => report.failures.push(format!("sysctl {key}: {}", e.cause)),
            }
        }
    }
    let rest: Vec<&Object> = objects
        .iter()
        .filter(|o| matches!(o, Object::Link { .. } | Object::Addr { .. } | Object::Route { .. } | Object::Qdisc { .. }))
        .collect();
    if rest.is_empty() {
        return report;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let _guard = rt.enter();
    let mut conns: HashMap<Option<String>, Conn> = HashMap::new();
    for obj in rest.into_iter().rev() {
        let ns = match obj {
            Object::Link { ns, .. } | Object::Addr { ns, .. } | Object::Route { ns, .. } | Object::Qdisc { ns, .. } => ns,
            _ => continue,
        };
        if !conns.contains_key(ns) {
            let file = match ns {
                Some(name) => match netns::open_named(name) {
                    Ok(f) => Some(f),
                    Err(_) => continue, // the namespace is gone, and everything in it
                },
                None => None,
            };
            match Conn::open(file.as_ref(), home) {
                Ok(c) => conns.insert(ns.clone(), c),
                Err(e) => {
                    report.failures.push(format!("{}: {}", describe(obj), e.cause));
                    continue;
                }
            };
        }
        let conn = &conns[ns];
        // The peer's namespace is gone (deleted now, or by the script): the link goes with it.
        let vanishing = matches!(obj, Object::Link { peer_ns: Some(p), .. } if deleted.contains(p.as_str()) || !netns::netns_path(p).exists());
        match rt.block_on(remove_in(conn, obj, vanishing, wait_for_vanishing)) {
            Ok(true) => match obj {
                Object::Link { .. } => report.links += 1,
                Object::Addr { .. } => report.addrs += 1,
                Object::Qdisc { .. } => report.qdiscs += 1,
                _ => report.routes += 1,
            },
            // Already gone because its peer's namespace was deleted just now: removed all the
            // same (without this the count depended on how fast the kernel cleaned up).
            Ok(false) if matches!(obj, Object::Link { peer_ns: Some(p), .. } if deleted.contains(p.as_str())) => {
                report.links += 1
            }
            Ok(false) => {}
            Err(e) => report.failures.push(format!("{}: {}", describe(obj), e.cause)),
        }
    }
    report
}

/// Unmounts from a few threads taking names in order: each unmount ends with an expedited RCU
/// grace period, and concurrent unmounts share one instead of queueing for their own.
fn unmount_all(names: &[&str]) {
    const THREADS: usize = 4;
    if names.len() < 2 * THREADS {
        names.iter().for_each(|name| drop(netns::unmount(name)));
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                while let Some(name) = names.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    let _ = netns::unmount(name);
                }
            });
        }
    });
}

fn describe(obj: &Object) -> String {
    match obj {
        Object::Link { name, .. } => format!("link {name}"),
        Object::Addr { link, cidr, .. } => format!("address {cidr} on {link}"),
        Object::Route { dst, .. } => format!("route {dst}"),
        Object::Qdisc { link, .. } => format!("qdisc on {link}"),
        Object::Netns { name, .. } => format!("namespace {name}"),
        Object::Process { pid, .. } => format!("process {pid}"),
        Object::Pidns { pid, .. } => format!("process namespace of {pid}"),
        Object::Sysctl { key, .. } => format!("sysctl {key}"),
    }
}

/// How long to wait for a link to go with its peer's namespace before deleting it by hand.
const VANISH_WAIT: Duration = Duration::from_secs(2);

/// Ok(false): already gone (or never made), nothing to do. `vanishing`: the link's veth peer was
/// in a namespace just deleted, so the kernel removes the link itself once it has cleaned that
/// namespace up; deleting it by hand would cost an RCU grace period (~17 ms) per link.
async fn remove_in(conn: &Conn, obj: &Object, vanishing: bool, wait: bool) -> Result<bool, EngineError> {
    match obj {
        // In a sandbox a link that goes with its peer's namespace is not even looked up.
        Object::Link { .. } if vanishing && !wait => Ok(true),
        Object::Link { name, index, .. } => {
            let Ok(link) = conn.link_by_name(name).await else { return Ok(false) };
            if vanishing {
                let deadline = Instant::now() + VANISH_WAIT;
                while Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    match conn.link_by_name(name).await {
                        Ok(l) if l.index == link.index => {}
                        _ => return Ok(true),
                    }
                }
            }
            // A different index means another link took the name: not ours.
            if index.is_some_and(|i| i != link.index) {
                return Ok(false);
            }
            match conn.del_link(link.index).await {
                Ok(()) => Ok(true),
                // Gone in the meantime: a namespace deleted just before takes its veth peers
                // with it a moment later (the kernel frees namespaces asynchronously).
                Err(e) if e.code() == Some(Errno::ENODEV) => Ok(false),
                Err(e) => Err(e),
            }
        }
        Object::Addr { link, cidr, .. } => {
            let Ok(link) = conn.link_by_name(link).await else { return Ok(false) };
            let Some((ip, prefix)) = cidr.split_once('/').and_then(|(ip, p)| Some((ip.parse().ok()?, p.parse().ok()?))) else {
                return Ok(false);
            };
            match conn.del_addr(link.index, ip, prefix).await {
                Ok(()) => Ok(true),
                Err(e) if e.code() == Some(Errno::EADDRNOTAVAIL) => Ok(false),
                Err(e) => Err(e),
            }
        }
        Object::Route { dst, via, .. } => {
            let Ok(spec) = super::route_spec(dst, via) else { return Ok(false) };
            match conn.del_route(&spec).await {
                Ok(()) => Ok(true),
                Err(e) if e.code() == Some(Errno::ESRCH) => Ok(false),
                Err(e) => Err(e),
            }
        }
        Object::Qdisc { link, .. } => {
            let Ok(link) = conn.link_by_name(link).await else { return Ok(false) };
            match conn.del_root_qdisc(link.index).await {
                Ok(()) => Ok(true),
                Err(e) if e.code() == Some(Errno::ENOENT) => Ok(false),
                Err(e) => Err(e),
            }
        }
        _ => Ok(false),
    }
}

/// Writes a sysctl's old value back; Ok(false) when its namespace is gone.
fn restore_sysctl(ns: Option<&str>, key: &str, old: &str, home: &File) -> Result<bool, EngineError> {
    let opened;
    let file = match ns {
        Some(name) => match netns::open_named(name) {
            Ok(f) => {
                opened = f;
                &opened
            }
            Err(_) => return Ok(false),
        },
        None => home,
    };
    let components: Vec<String> = key.split('/').map(str::to_string).collect();
    crate::engine::sysctl::write(file, &components, old).map(|_| true)
}

/// True when the name still stands for the namespace the lab made (for a namespace whose
/// creation was under way, `inode` is unknown: the name alone decides).
fn still_ours(name: &str, inode: Option<u64>) -> bool {
    if !netns::netns_path(name).exists() {
        return false;
    }
    match (inode, netns::open_named(name).and_then(|f| netns::inode_of(&f))) {
        // Someone else's namespace now carries the name: leave it alone.
        (Some(expected), Ok(found)) => found == expected,
        _ => true,
    }
}

/// Makes sure a namespace is gone, retrying an unmount that raced the kernel (EBUSY).
/// Ok(false) when it was gone already.
fn remove_netns(name: &str) -> Result<bool, EngineError> {
    let path = netns::netns_path(name);
    if !path.exists() {
        return Ok(false);
    }
    let mut last = None;
    for _ in 0..NETNS_RETRIES {
        match netns::delete(name) {
            Ok(()) => {}
            Err(e) if e.code() == Some(Errno::ENOENT) => return Ok(false),
            Err(e) => last = Some(e),
        }
        if !path.exists() {
            return Ok(true);
        }
        std::thread::sleep(NETNS_RETRY_PAUSE);
    }
    Err(last.unwrap_or_else(|| EngineError::message(format!("delete namespace {name}"), "it is still there after retrying")))
}

/// Ends a process group the lab started, if the pid still names that process (running, or a
/// zombie the lab kept so that its group could be found). `running`: something in the group
/// runs. Ok(true) when something was running.
fn end_process(pid: i32, start: u64, running: bool) -> Result<bool, String> {
    if process_start(pid) != Some(start) {
        return Ok(false);
    }
    if !spawn::end_group(pid, Duration::from_secs(2)) {
        return Err("its process group is still there 2 s after SIGKILL".into());
    }
    Ok(running)
}
