//! Removing what a ledger lists, and nothing else. Used at the end of a run and by
//! `nslab down` / `nslab clean` for labs whose process is gone.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use std::path::Path;

use nix::errno::Errno;

use super::ledger::{process_start, Object};
use super::shared_settings::{self, Access, Released, SHARED_DIR};
use crate::engine::netlink::Conn;
use crate::engine::netns::AtName;
use crate::engine::{netns, spawn, tc, EngineError};

/// What teardown removed, by kind.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TeardownReport {
    /// Network namespaces deleted.
    pub namespaces: usize,
    /// Links deleted.
    pub links: usize,
    /// Addresses removed.
    pub addrs: usize,
    /// Routes removed.
    pub routes: usize,
    /// Policy rules removed.
    pub rules: usize,
    /// Queueing disciplines removed.
    pub qdiscs: usize,
    /// Processes ended.
    pub processes: usize,
    /// Network sysctls set back to their values from before the lab.
    pub sysctls: usize,
    /// Links the lab did not create, moved back where they came from.
    pub moved: usize,
    /// Neighbour (and proxy) entries removed.
    pub neighbours: usize,
    /// Forwarding (bridge fdb) entries removed.
    pub fdb: usize,
    /// Addresses the lab flushed, put back.
    pub restored: usize,
    /// Objects that could not be removed, each with the reason.
    pub failures: Vec<String>,
    /// Objects left as they are because they are no longer (provably) the lab's, or someone
    /// changed them since: each with what was found.
    pub left: Vec<String>,
}

impl TeardownReport {
    /// Whether something of the lab's could not be removed (its ledger stays, for `nslab clean`).
    /// What was already gone, or left because it is no longer the lab's, is no failure. `run`
    /// and `test` both fail a run on this, and only on this.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// This report as one of machine `machine`'s: what it could not remove or left says where.
    pub fn on_machine(mut self, machine: &str) -> TeardownReport {
        for line in self.failures.iter_mut().chain(self.left.iter_mut()) {
            *line = format!("on {machine}: {line}");
        }
        self
    }

    /// Adds what `other` counted and found.
    pub fn merge(&mut self, other: TeardownReport) {
        self.namespaces += other.namespaces;
        self.links += other.links;
        self.addrs += other.addrs;
        self.routes += other.routes;
        self.rules += other.rules;
        self.qdiscs += other.qdiscs;
        self.processes += other.processes;
        self.sysctls += other.sysctls;
        self.moved += other.moved;
        self.neighbours += other.neighbours;
        self.fdb += other.fdb;
        self.restored += other.restored;
        self.failures.extend(other.failures);
        self.left.extend(other.left);
    }
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
            (self.rules, "rule", "rules"),
            (self.qdiscs, "qdisc", "qdiscs"),
            (self.processes, "process", "processes"),
            (self.sysctls, "sysctl restored", "sysctls restored"),
            (self.moved, "link moved back", "links moved back"),
            (self.neighbours, "neighbour entry", "neighbour entries"),
            (self.fdb, "forwarding entry", "forwarding entries"),
            (self.restored, "flushed address put back", "flushed addresses put back"),
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
        if !self.left.is_empty() {
            write!(f, "; left: {}", self.left.join("; "))?;
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
/// `group`: the lab's link group (`Header::link_group`), which identifies its links outside
/// its namespaces whose ifindex was never noted.
/// Counts `standing` down as each namespace goes (for a progress line the command line draws
/// from another thread).
pub fn remove_counting(objects: &[Object], home: &File, group: Option<u32>, standing: &AtomicUsize) -> TeardownReport {
    remove_with(objects, home, group, Some(false), Some(standing))
}

/// `remove_counting` for part of a running lab (what a sub-test made, see `checkpoint.rs`): programs
/// the rest of the lab started, adopted by nslab, keep running.
pub fn remove_part(objects: &[Object], home: &File, group: Option<u32>) -> TeardownReport {
    remove_with(objects, home, group, None, None)
}

/// `remove_counting` for a lab whose process is gone (`nslab down`, `clean`): whatever still runs in its
/// namespaces is ended as well, before they go (see `stragglers.rs`).
pub fn remove_dead(objects: &[Object], home: &File, group: Option<u32>) -> TeardownReport {
    remove_with(objects, home, group, Some(true), None)
}

/// `whole`: Some(dead) for a whole lab (dead: its process is gone); None for part of a running lab.
fn remove_with(
    objects: &[Object],
    home: &File,
    group: Option<u32>,
    whole: Option<bool>,
    standing: Option<&AtomicUsize>,
) -> TeardownReport {
    let dead = whole.unwrap_or(false);
    // A link the group removal did not settle (one whose group someone changed, a namespace
    // holding a stranger in the lab's group, or part of a lab) and that goes with a deleted
    // namespace is waited for, so that nobody sees it after nslab returns; in a sandbox nobody
    // can, and the sandbox's namespace takes the link with it anyway.
    let wait_for_vanishing = !crate::engine::sandbox::entered();
    let mut report = TeardownReport::default();
    // The lab's links outside its namespaces go first, by their link group, one request per
    // namespace (see `outside_links.rs`): on a thread of its own while the lab's processes end and
    // its namespaces are unmounted, since the delete mostly waits for an RCU barrier. (Links
    // moved in from outside carry no lab group: they go back below, as before.)
    // (The namespaces this teardown deletes: those still the lab's; looked at only when there
    // are such links, which a lab of namespaces alone has not.)
    let outside_links = objects.iter().any(|o| matches!(o, Object::Link { .. }));
    let deleting: HashSet<&str> = objects
        .iter()
        .filter(|_| outside_links)
        .filter_map(|o| match o {
            Object::Netns { name, inode: Some(inode), .. } => {
                matches!(netns::at_name(name), AtName::Namespace(found) if found == *inode).then_some(name.as_str())
            }
            _ => None,
        })
        .collect();
    let overlap = !deleting.is_empty() || objects.iter().any(|o| matches!(o, Object::Process { .. } | Object::Pidns { .. }));
    // (Only for a whole lab: the group is the whole lab's, and part of it is removed one by one.)
    let outside = super::outside_links::start(objects, home, group.filter(|_| whole.is_some()), &deleting, overlap);
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
    if whole.is_some() {
        report.processes += crate::engine::orphans::end_adopted(&recorded);
    }
    // Links the lab did not create go back where they came from while their namespaces stand.
    super::moved::restore_all(objects, home, &mut report);
    // Namespaces: first decide which are still ours, by inode (anything else at the name is left
    // and said so), then unmount them all before anything else (see `unmount_all`), roughly in
    // creation order: with a switch namespace holding a bridge, the kernel's cleanup then
    // finishes sooner. (Nothing depends on the order of the unmounts.)
    let mut ours: Vec<(&str, u64)> = Vec::new();
    for obj in objects {
        let Object::Netns { name, inode, file } = obj else { continue };
        match still_ours(name, *inode, *file) {
            Held::Namespace(inode) => ours.push((name.as_str(), inode)),
            // Left by a create killed before the mount, or by a teardown that could unmount but
            // not unlink: the name is all that is left of the namespace.
            Held::Placeholder => match netns::unlink(name) {
                Ok(()) => report.namespaces += 1,
                Err(e) if e.code() == Some(Errno::ENOENT) => {}
                Err(e) => report.failures.push(format!("namespace {name}: {}", e.cause)),
            },
            Held::Nothing => {}
            Held::Other(what) => report.left.push(format!("namespace {name}: {what}")),
        }
    }
    let names: Vec<&str> = ours.iter().map(|(n, _)| *n).collect();
    if dead {
        match super::stragglers::end_in(&names) {
            Ok(n) => report.processes += n,
            Err(e) => report.failures.push(e),
        }
    }
    unmount_all(&names);
    for name in &names {
        // Fails (EBUSY) while the name is still a mount point: then `remove_netns` retries.
        let _ = netns::unlink(name);
    }
    let mut deleted: HashSet<&str> = HashSet::new();
    for (name, inode) in ours {
        // Whatever the fast pass could not remove is retried, then reported.
        match remove_netns(name, inode) {
            Ok(()) => {
                report.namespaces += 1;
                deleted.insert(name);
                if let Some(n) = standing {
                    let _ = n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
                }
            }
            Err(e) => report.failures.push(format!("namespace {name}: {}", e.cause)),
        }
    }
    for obj in objects.iter().rev() {
        if let Object::Sysctl { ns, ns_inode, key: path, old, new } = obj {
            let key = path.replace('/', ".");
            let Some(opened) = super::moved::open_checked(ns, *ns_inode, home) else {
                if ns.as_deref().is_some_and(|n| matches!(netns::at_name(n), AtName::Missing)) {
                    // Its namespace is gone, and the setting with it: only the lab's hold on it
                    // (the shared record) is let go.
                    let _ = release_gone(*ns_inode, path, old, new);
                    continue;
                }
                let ns = super::moved::describe_ns(ns);
                report.left.push(format!("sysctl {key}: {ns} is not the namespace it was set in any more: left as is"));
                continue;
            };
            match restore_sysctl(opened.as_ref().unwrap_or(home), *ns_inode, path, old, new) {
                Ok(Released::Restored) => report.sysctls += 1,
                // Back already, or gone with its link: nothing to restore either way.
                Ok(Released::AlreadyBack | Released::Gone) => {}
                Ok(Released::Changed { now, labs }) => report.left.push(format!(
                    "sysctl {key}: changed since by someone else (now {now:?}, the lab's value was {labs:?}): left as is"
                )),
                Ok(Released::StillHeld(by)) => report.left.push(format!(
                    "sysctl {key}: still held by {} (it is restored when the last lab holding it ends)",
                    by.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(", ")
                )),
                Err(e) => report.failures.push(format!("sysctl {key}: {e}")),
            }
        }
    }
    let settled = outside.finish(&mut report);
    let rest: Vec<&Object> = objects
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            !settled.contains(i)
                && matches!(
                    o,
                    Object::Link { .. }
                        | Object::Addr { .. }
                        | Object::Route { .. }
                        | Object::Rule { .. }
                        | Object::Qdisc { .. }
                        | Object::LinkSet { .. }
                        | Object::Neigh { .. }
                        | Object::Fdb { .. }
                        | Object::Flushed { .. }
                )
        })
        .map(|(_, o)| o)
        .collect();
    if rest.is_empty() {
        return report;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let _guard = rt.enter();
    // Per namespace: a connection and the namespace's inode (None: gone, or not a namespace).
    let mut conns: HashMap<Option<String>, Option<(Conn, u64)>> = HashMap::new();
    for obj in rest.into_iter().rev() {
        let (ns, recorded) = match obj {
            Object::Link { ns, ns_inode, .. }
            | Object::Route { ns, ns_inode, .. }
            | Object::Rule { ns, ns_inode, .. }
            | Object::Qdisc { ns, ns_inode, .. }
            | Object::LinkSet { ns, ns_inode, .. }
            | Object::Neigh { ns, ns_inode, .. }
            | Object::Fdb { ns, ns_inode, .. }
            | Object::Flushed { ns, ns_inode, .. } => (ns, Some(*ns_inode)),
            Object::Addr { ns, ns_inode, .. } => (ns, *ns_inode),
            _ => continue,
        };
        if !conns.contains_key(ns) {
            let opened = match ns {
                Some(name) => match netns::at_name(name) {
                    netns::AtName::Namespace(inode) => netns::open_named(name).ok().map(|f| (Some(f), inode)),
                    _ => None,
                },
                None => netns::inode_of(home).ok().map(|inode| (None, inode)),
            };
            let conn = match opened {
                // The namespace is gone, and everything in it.
                None => None,
                Some((file, inode)) => match Conn::open(file.as_ref(), home) {
                    Ok(c) => Some((c, inode)),
                    Err(e) => {
                        report.failures.push(format!("{}: {}", describe(obj), e.cause));
                        continue;
                    }
                },
            };
            conns.insert(ns.clone(), conn);
        }
        let Some((conn, inode)) = &conns[ns] else { continue };
        if recorded.is_some_and(|r| r != *inode) {
            report.left.push(format!(
                "{}: {} is not the namespace it was made in any more",
                describe(obj),
                super::moved::describe_ns(ns)
            ));
            continue;
        }
        // The peer's namespace is gone (deleted now, or by the script): the link goes with it.
        // Part of a running lab removes such a link itself: the kernel's cleanup of the namespace
        // comes later, and the script goes on at once.
        let vanishing = whole.is_some()
            && matches!(obj, Object::Link { peer_ns: Some(p), .. } if deleted.contains(p.as_str()) || !netns::netns_path(p).exists());
        match rt.block_on(remove_in(conn, obj, group, vanishing, wait_for_vanishing)) {
            Ok(Outcome::Done) => match obj {
                Object::Link { .. } => report.links += 1,
                Object::Addr { .. } => report.addrs += 1,
                Object::Qdisc { .. } => report.qdiscs += 1,
                Object::Rule { .. } => report.rules += 1,
                Object::LinkSet { .. } => {}
                Object::Neigh { .. } => report.neighbours += 1,
                Object::Fdb { .. } => report.fdb += 1,
                Object::Flushed { .. } => report.restored += 1,
                _ => report.routes += 1,
            },
            // Already gone because its peer's namespace was deleted just now: removed all the
            // same (without this the count depended on how fast the kernel cleaned up).
            Ok(Outcome::Absent) if matches!(obj, Object::Link { peer_ns: Some(p), .. } if deleted.contains(p.as_str())) => {
                report.links += 1
            }
            Ok(Outcome::Absent) => {}
            Ok(Outcome::Left(why)) => report.left.push(format!("{}: {why}", describe(obj))),
            // Gone while it was being removed (its link, or the link's namespace, went first):
            // nothing is left to remove. (Not a saved qdisc that could not be put back: ENOENT
            // is also the kernel's "unknown qdisc kind".)
            Err(e)
                if already_gone(&e)
                    && !matches!(obj, Object::Qdisc { saved: Some(_), .. } if e.code() != Some(Errno::ENODEV)) => {}
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
        Object::Route { dst, via, metric, .. } if via.is_empty() => format!("route {dst} metric {metric}"),
        Object::Route { dst, via, metric, .. } => format!("route {dst} via {via} metric {metric}"),
        Object::Rule { .. } => match super::rules::rule_of_record(obj) {
            Some(r) => format!("rule {}", super::rules::describe(&r)),
            None => "rule".into(),
        },
        Object::Qdisc { link, handle, .. } => format!("qdisc {} on {link}", tc::handle_text(*handle)),
        Object::Netns { name, .. } => format!("namespace {name}"),
        Object::Process { pid, .. } => format!("process {pid}"),
        Object::Pidns { pid, .. } => format!("process namespace of {pid}"),
        Object::Machine { name, .. } => format!("its part on machine {name}"),
        Object::Sysctl { key, .. } => format!("sysctl {key}"),
        Object::Moved { name, .. } => format!("link {name}"),
        Object::LinkSet { name, .. } => format!("settings of link {name}"),
        Object::Neigh { ip, link, proxy: false, .. } => format!("neighbour {ip} on {link}"),
        Object::Neigh { ip, link, .. } => format!("proxy neighbour {ip} on {link}"),
        Object::Fdb { mac, dst, link, .. } if dst.is_empty() => format!("forwarding entry {mac} on {link}"),
        Object::Fdb { mac, dst, link, .. } => format!("forwarding entry {mac} dst {dst} on {link}"),
        Object::Flushed { cidr, link, .. } => format!("flushed address {cidr} on {link}"),
    }
}

/// How long to wait for a link to go with its peer's namespace before deleting it by hand.
const VANISH_WAIT: Duration = Duration::from_secs(2);

/// What became of one object.
enum Outcome {
    /// Removed (or put back as it was).
    Done,
    /// Already gone, or never made: nothing to do.
    Absent,
    /// Not (provably) the lab's any more: left as it is, for this reason.
    Left(String),
}

/// Removes one object if it is still the lab's. `vanishing`: the link's veth peer was in a
/// namespace just deleted, so the kernel removes the link itself once it has cleaned that
/// namespace up; deleting it by hand would cost an RCU grace period (~17 ms) per link.
async fn remove_in(conn: &Conn, obj: &Object, group: Option<u32>, vanishing: bool, wait: bool) -> Result<Outcome, EngineError> {
    match obj {
        // In a sandbox a link that goes with its peer's namespace is not even looked up.
        Object::Link { .. } if vanishing && !wait => Ok(Outcome::Done),
        Object::Link { name, index: None, .. } => {
            // The kernel chose its number and nslab stopped before noting it: the lab's link
            // group, set in the creating request, tells it from a namesake made since.
            match conn.link_by_name(name).await {
                Ok(link) if group.is_some_and(|g| g == link.group) => match conn.del_link(link.index).await {
                    Ok(()) => Ok(Outcome::Done),
                    Err(e) if e.code() == Some(Errno::ENODEV) => Ok(Outcome::Absent),
                    Err(e) => Err(e),
                },
                Ok(_) => Ok(Outcome::Left(
                    "its ifindex was never recorded and it is not in the lab's link group: someone else's namesake, left as is"
                        .into(),
                )),
                Err(_) => Ok(Outcome::Absent),
            }
        }
        Object::Link { name, index: Some(index), .. } => {
            let Some(link) = conn.link_by_index(*index).await? else { return Ok(Outcome::Absent) };
            if link.name != *name {
                return Ok(Outcome::Left(format!("ifindex {index} is now {:?}, another link: left as is", link.name)));
            }
            if vanishing {
                let deadline = Instant::now() + VANISH_WAIT;
                while Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    if conn.link_by_index(*index).await?.is_none() {
                        return Ok(Outcome::Done);
                    }
                }
            }
            match conn.del_link(*index).await {
                Ok(()) => Ok(Outcome::Done),
                // Gone in the meantime: a namespace deleted just before takes its veth peers
                // with it a moment later (the kernel frees namespaces asynchronously).
                Err(e) if e.code() == Some(Errno::ENODEV) => Ok(Outcome::Absent),
                Err(e) => Err(e),
            }
        }
        Object::Addr { link, index, cidr, .. } => {
            let link = match index {
                Some(i) => match conn.link_by_index(*i).await? {
                    Some(l) if l.name == *link => l,
                    Some(l) => {
                        return Ok(Outcome::Left(format!("ifindex {i} is now {:?}, another link: left as is", l.name)));
                    }
                    None => return Ok(Outcome::Absent),
                },
                None => match conn.link_by_name(link).await {
                    Ok(l) => l,
                    Err(_) => return Ok(Outcome::Absent),
                },
            };
            let Some((ip, prefix)) = cidr.split_once('/').and_then(|(ip, p)| Some((ip.parse().ok()?, p.parse().ok()?))) else {
                return Ok(Outcome::Absent);
            };
            match conn.del_addr(link.index, ip, prefix).await {
                Ok(()) => Ok(Outcome::Done),
                Err(e) if e.code() == Some(Errno::EADDRNOTAVAIL) => Ok(Outcome::Absent),
                Err(e) => Err(e),
            }
        }
        // Only a route with the whole recorded key, nslab's protocol included, and deleted by
        // that key: the kernel would take the first route matching a partial one.
        Object::Route { .. } => {
            let Some(key) = super::route_records::route_key(obj) else { return Ok(Outcome::Absent) };
            Ok(if conn.del_route_exact(&key).await? { Outcome::Done } else { Outcome::Absent })
        }
        // Only a rule equal in every field, nslab's protocol included, and only when the
        // kernel would take that one for the request.
        Object::Rule { .. } => {
            let Some(rule) = super::rules::rule_of_record(obj) else { return Ok(Outcome::Absent) };
            Ok(if conn.del_rule_exact(&rule).await? { Outcome::Done } else { Outcome::Absent })
        }
        // Only the root qdisc with the lab's handle, on the link with the recorded ifindex; what
        // it replaced comes back.
        Object::Qdisc { index, handle, saved, .. } => {
            if conn.link_by_index(*index).await?.is_none() {
                return Ok(Outcome::Absent);
            }
            match conn.root_qdisc(*index).await? {
                Some(q) if q.handle == *handle => {
                    match saved {
                        Some(old) => {
                            let options = super::shaping::hex_decode(&old.options);
                            conn.put_root_qdisc(*index, &old.kind, options, old.handle).await?
                        }
                        None => conn.del_root_qdisc(*index, Some(*handle)).await?,
                    }
                    Ok(Outcome::Done)
                }
                // The qdisc it was to replace is still there: the lab never replaced it.
                Some(q) if saved.as_ref().is_some_and(|s| s.handle == q.handle) => Ok(Outcome::Absent),
                Some(q) if !q.is_default() => Ok(Outcome::Left(format!(
                    "the link's root qdisc is now {} {}, not the lab's: left as is",
                    q.kind,
                    tc::handle_text(q.handle)
                ))),
                _ => Ok(Outcome::Absent),
            }
        }
        Object::LinkSet { name, index, old, .. } => Ok(match super::link_set::restore(conn, name, *index, old).await? {
            super::link_set::Restored::Done => Outcome::Done,
            super::link_set::Restored::Absent => Outcome::Absent,
            super::link_set::Restored::Left(why) => Outcome::Left(why),
        }),
        Object::Neigh { .. } | Object::Fdb { .. } | Object::Flushed { .. } => {
            Ok(match super::teardown_neigh::undo(conn, obj).await? {
                super::teardown_neigh::Undo::Done => Outcome::Done,
                super::teardown_neigh::Undo::Absent => Outcome::Absent,
                super::teardown_neigh::Undo::Left(why) => Outcome::Left(why),
            })
        }
        _ => Ok(Outcome::Absent),
    }
}

/// Whether a failure says the object (or the link it is on) no longer exists: the kernel's
/// answers for a deleted link (ENODEV), route (ESRCH), qdisc or file (ENOENT) and address
/// (EADDRNOTAVAIL). Teardown counts such an object as done.
pub(super) fn already_gone(e: &EngineError) -> bool {
    matches!(e.code(), Some(Errno::ENODEV | Errno::ESRCH | Errno::ENOENT | Errno::EADDRNOTAVAIL))
}

/// Lets go of the lab's hold on a shared sysctl whose namespace is gone (nothing to restore).
fn release_gone(ns_inode: u64, key: &str, old: &str, new: &str) -> Result<Released, String> {
    let gone = || Err(EngineError::errno("read", Errno::ENOENT));
    let read = || gone();
    let write = |_: &str| gone().map(drop);
    let access = Access { read: &read, write: &write };
    shared_settings::release(Path::new(SHARED_DIR), ns_inode, key, old, new, &access)
}

/// Leaves a sysctl the lab set outside its namespaces (a shared setting): restored by the last
/// lab holding it, and only while it still holds the labs' value.
fn restore_sysctl(ns: &File, ns_inode: u64, key: &str, old: &str, new: &str) -> Result<Released, String> {
    let components: Vec<String> = key.split('/').map(str::to_string).collect();
    let read = || crate::engine::sysctl::read(ns, &components);
    let write = |v: &str| crate::engine::sysctl::write(ns, &components, v);
    let access = Access { read: &read, write: &write };
    shared_settings::release(Path::new(SHARED_DIR), ns_inode, key, old, new, &access)
}

/// What a namespace record's name holds now.
enum Held {
    /// The namespace the lab made (this inode).
    Namespace(u64),
    /// The empty file an interrupted create of the lab's left.
    Placeholder,
    Nothing,
    /// Something else: left as it is.
    Other(String),
}

/// Whether the name still stands for the namespace the lab made: its inode (recorded before
/// the mount) decides; a symlink is never followed.
fn still_ours(name: &str, inode: Option<u64>, file: Option<u64>) -> Held {
    match (netns::at_name(name), inode) {
        (AtName::Missing, _) => Held::Nothing,
        (AtName::Namespace(found), Some(expected)) if found == expected => Held::Namespace(found),
        (AtName::Namespace(found), Some(expected)) => Held::Other(format!(
            "the name now stands for another namespace (inode {found}, the lab's was {expected}): left as is"
        )),
        (AtName::Namespace(_), None) => {
            Held::Other("its identity was never recorded, so it cannot be told from a namesake: left as is".into())
        }
        (AtName::File(found), _) if file == Some(found) => Held::Placeholder,
        // Killed between recording the namespace and noting its placeholder file: an empty file
        // at the name, made O_EXCL by the lab (anyone else's would have a namespace on it).
        (AtName::File(_), Some(_)) if file.is_none() => Held::Placeholder,
        (AtName::File(_), _) => Held::Other("an empty file that is not the lab's placeholder: left as is".into()),
        (AtName::Symlink, _) => Held::Other("the name is a symbolic link now; nslab never follows one: left as is".into()),
        (AtName::Other, _) => Held::Other("the name holds something other than a namespace: left as is".into()),
    }
}

/// Makes sure the lab's namespace (inode `inode`) is gone, retrying an unmount that raced the
/// kernel (EBUSY). Never through a symlink, and never another namespace.
fn remove_netns(name: &str, inode: u64) -> Result<(), EngineError> {
    let op = || format!("delete namespace {name}");
    let mut last = None;
    for _ in 0..NETNS_RETRIES {
        match netns::at_name(name) {
            AtName::Missing => return Ok(()),
            AtName::Namespace(found) if found == inode => {
                if let Err(e) = netns::unmount(name) {
                    last = Some(e);
                }
            }
            // What the unmount left: the file the namespace was mounted on.
            AtName::File(_) => {
                if let Err(e) = netns::unlink(name) {
                    last = Some(e);
                }
            }
            _ => return Err(EngineError::message(op(), "the name changed while it was being removed: left as is")),
        }
        if matches!(netns::at_name(name), AtName::Missing) {
            return Ok(());
        }
        std::thread::sleep(NETNS_RETRY_PAUSE);
    }
    Err(last.unwrap_or_else(|| EngineError::message(op(), "it is still there after retrying")))
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
