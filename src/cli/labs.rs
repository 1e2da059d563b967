//! `nslab ls`, `nslab down` and `nslab clean`: labs that outlived their run.

use std::path::Path;

use super::report;
use crate::engine::netns;
use crate::lab::ledger::{self, Object, Record, Scan};
use crate::lab::teardown;

/// How long `down` waits for a running lab to tear itself down.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn ledger_dir() -> &'static Path {
    Path::new(ledger::LEDGER_DIR)
}

fn age(started: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(started);
    let s = now.saturating_sub(started);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// What a lab has standing: its namespaces and objects outside them (from its ledger), and what
/// is inside its namespaces (from the kernel, `lab::census`; None when that cannot be read).
#[derive(Debug, Default, serde::Serialize)]
struct Counts {
    namespaces: usize,
    links: usize,
    addrs: usize,
    routes: usize,
    qdiscs: usize,
    processes: usize,
    sysctls: usize,
    moved: usize,
}

impl Counts {
    fn of(rec: &Record) -> Counts {
        let all: Vec<&Object> = rec.objects.iter().chain(rec.pending.iter()).collect();
        let n = |f: fn(&Object) -> bool| all.iter().filter(|o| f(o)).count();
        let mut c = Counts {
            namespaces: n(|o| matches!(o, Object::Netns { .. })),
            links: n(|o| matches!(o, Object::Link { .. })),
            addrs: n(|o| matches!(o, Object::Addr { .. })),
            routes: n(|o| matches!(o, Object::Route { .. })),
            qdiscs: n(|o| matches!(o, Object::Qdisc { .. })),
            processes: n(|o| matches!(o, Object::Process { .. })),
            sysctls: n(|o| matches!(o, Object::Sysctl { .. })),
            moved: n(|o| matches!(o, Object::Moved { .. })),
        };
        // Inside its namespaces: only a trusted ledger's names are looked at.
        if rec.trusted() {
            let names: Vec<String> = all
                .iter()
                .filter_map(|o| match o {
                    Object::Netns { name, .. } => Some(name.clone()),
                    _ => None,
                })
                .collect();
            if let Ok(inside) = crate::lab::census::count(&names) {
                c.links += inside.links;
                c.addrs += inside.addrs;
                c.routes += inside.routes;
            }
        }
        c
    }

    /// "1 netns, 2 links, 1 addr, 1 route, 1 proc": what is there, nothing when empty.
    fn text(&self) -> String {
        let parts = [
            (self.namespaces, "netns", "netns"),
            (self.links, "link", "links"),
            (self.addrs, "addr", "addrs"),
            (self.routes, "route", "routes"),
            (self.qdiscs, "qdisc", "qdiscs"),
            (self.processes, "proc", "procs"),
            (self.sysctls, "sysctl", "sysctls"),
            (self.moved, "moved", "moved"),
        ];
        let shown: Vec<String> = parts
            .iter()
            .filter(|(n, ..)| *n > 0)
            .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
            .collect();
        if shown.is_empty() {
            "nothing".into()
        } else {
            shown.join(", ")
        }
    }
}

/// running (its process runs), kept (left standing on purpose), dead, or damaged (its ledger
/// cannot be trusted).
fn state(rec: &Record) -> &'static str {
    if !rec.trusted() {
        "damaged"
    } else if rec.alive() {
        "alive"
    } else if rec.kept {
        "kept"
    } else {
        "dead"
    }
}

/// One lab as `ls --json` prints it.
#[derive(serde::Serialize)]
struct LabJson<'a> {
    name: &'a str,
    id: &'a str,
    pid: i32,
    /// "alive", "kept", "dead" or "damaged".
    state: &'static str,
    /// Kept inside its sandbox (by a holder process), not on the host.
    sandbox: bool,
    /// Seconds since the epoch (None for a sandbox lab).
    started: Option<u64>,
    /// Its ledger (None for a sandbox lab: its ledger is inside the sandbox).
    ledger: Option<String>,
    objects: Counts,
    problems: &'a [String],
    /// Its parts on other machines (a lab across machines), as their agents said.
    machines: Vec<serde_json::Value>,
}

/// Says which ledgers could not be read, and why; true if any.
fn report_refused(cmd: &str, scan: &Scan) -> bool {
    for why in &scan.refused {
        note!("{cmd}: skipped {why}");
    }
    !scan.refused.is_empty()
}

/// A ledger with lines nslab did not write: nothing in it is acted on (see `Record::problems`).
fn report_damaged(cmd: &str, rec: &Record) {
    for problem in &rec.problems {
        note!("{cmd}: {problem}");
    }
    let n = rec.problems.len();
    note!(
        "{cmd}: lab {} (id {}) left alone: {n} line{} of its ledger {} could not be read or break nslab's rules, \
         so none of it is trusted; nothing was removed and the ledger is kept (check what it lists by hand, then \
         delete it)",
        rec.header.name,
        rec.header.id,
        if n == 1 { "" } else { "s" },
        rec.path.display()
    );
}

/// `ls` exits 1 when a ledger could not be read or is damaged (reported on stderr).
pub fn ls(json: bool) -> i32 {
    let scan = ledger::scan(ledger_dir());
    let sandboxed = crate::engine::sandbox_hold::kept();
    if json {
        let mut labs: Vec<LabJson> = scan
            .records
            .iter()
            .map(|rec| LabJson {
                name: &rec.header.name,
                id: &rec.header.id,
                pid: rec.header.pid,
                state: state(rec),
                sandbox: false,
                started: Some(rec.header.started),
                ledger: Some(rec.path.display().to_string()),
                objects: Counts::of(rec),
                problems: &rec.problems,
                machines: super::labs_machines::status_remote(rec)
                    .into_iter()
                    .map(|(name, answer)| match answer {
                        Ok(labs) => serde_json::json!({"machine": name, "labs": labs}),
                        Err(e) => serde_json::json!({"machine": name, "error": e}),
                    })
                    .collect(),
            })
            .collect();
        labs.extend(sandboxed.iter().map(|k| LabJson {
            name: &k.name,
            id: &k.id,
            pid: k.pid,
            state: "kept",
            sandbox: true,
            started: None,
            ledger: None,
            objects: Counts { namespaces: k.namespaces.len(), ..Counts::default() },
            problems: &[],
            machines: Vec::new(),
        }));
        out!("{}", serde_json::to_string_pretty(&labs).expect("labs serialize"));
    } else {
        out!("{:<20} {:<8} {:>8} {:<7} {:>5}  OBJECTS", "NAME", "ID", "PID", "STATE", "AGE");
        for rec in &scan.records {
            out!(
                "{:<20} {:<8} {:>8} {:<7} {:>5}  {}",
                rec.header.name,
                rec.header.id,
                rec.header.pid,
                state(rec),
                age(rec.header.started),
                Counts::of(rec).text()
            );
            for (machine, answer) in super::labs_machines::status_remote(rec) {
                out!("{:<20} on {machine}: {}", "", super::labs_machines::status_text(&answer));
            }
        }
        for k in &sandboxed {
            let objects = format!("{} in its sandbox", report::plural(k.namespaces.len(), "namespace"));
            out!("{:<20} {:<8} {:>8} {:<7} {:>5}  {objects}", k.name, k.id, k.pid, "kept", "-");
        }
    }
    let mut status = i32::from(report_refused("ls", &scan));
    for rec in scan.records.iter().filter(|r| !r.trusted()) {
        for problem in &rec.problems {
            note!("ls: {problem}");
        }
        status = 1;
    }
    status
}

/// `remove`, for the guard of a lab across machines.
pub(crate) fn remove_whole(rec: &Record) -> teardown::TeardownReport {
    remove(rec)
}

/// Removes what a trusted record lists (its parts on other machines first), then the ledger
/// (if nothing failed).
fn remove(rec: &Record) -> teardown::TeardownReport {
    let mut report = super::labs_machines::down_remote(rec);
    let here = remove_here_only(rec);
    report.merge(here);
    if !report.failed() {
        rec.discard();
    }
    report
}

/// Removes what a trusted record lists on this machine, and the ledger if nothing failed (an
/// agent's part of a lab across machines).
pub(crate) fn remove_here(rec: &Record) -> teardown::TeardownReport {
    let report = remove_here_only(rec);
    if !report.failed() {
        rec.discard();
    }
    report
}

fn remove_here_only(rec: &Record) -> teardown::TeardownReport {
    let home = match netns::current() {
        Ok(f) => f,
        Err(e) => return teardown::TeardownReport { failures: vec![e.to_string()], ..Default::default() },
    };
    teardown::remove_dead(&rec.standing(), &home, Some(rec.header.link_group()))
}

/// A lab's state as `ls` shows it.
pub(crate) fn state_of(rec: &Record) -> &'static str {
    state(rec)
}

/// What a lab has standing, as `ls` shows it.
pub(crate) fn objects_text(rec: &Record) -> String {
    Counts::of(rec).text()
}

/// Removes a dead lab's objects, unless its ledger is damaged. The exit status.
fn remove_dead(cmd: &str, rec: &Record) -> i32 {
    if !rec.trusted() {
        report_damaged(cmd, rec);
        return 1;
    }
    let report = remove(rec);
    note!("lab {} (id {}) {report}", rec.header.name, rec.header.id);
    i32::from(report.failed())
}

pub fn down(which: &str) -> i32 {
    let kept: Vec<_> = crate::engine::sandbox_hold::kept().into_iter().filter(|k| k.id == which || k.name == which).collect();
    if let [k] = kept.as_slice() {
        return match crate::engine::sandbox_hold::end(k) {
            Ok(()) => {
                note!("lab {} (id {}) ended with its sandbox", k.name, k.id);
                0
            }
            Err(e) => {
                report::plain(e.to_string(), None);
                1
            }
        };
    }
    let scan = ledger::scan(ledger_dir());
    let matching: Vec<&Record> = scan.records.iter().filter(|r| r.header.id == which || r.header.name == which).collect();
    match matching.as_slice() {
        [] if !scan.refused.is_empty() => {
            // The lab may be in a ledger this user may not read (another user's, 0600).
            let n = scan.refused.len();
            report::plain(
                format!("no lab named {which:?} among the labs you can read"),
                Some(format!(
                    "{n} ledger{} could not be read: {}. A lab is taken down by the user who ran it (root for \
                     labs run as root)",
                    if n == 1 { "" } else { "s" },
                    scan.refused.join("; ")
                )),
            );
            1
        }
        [] => {
            report::plain(
                format!("no lab named {which:?} is standing"),
                Some("`nslab ls` lists the labs that are standing, by name and id".into()),
            );
            1
        }
        // A running lab tears down from its own memory: a damaged file does not matter to it.
        [rec] if rec.alive() => stop(rec),
        [rec] => remove_dead("down", rec),
        many => {
            let ids: Vec<&str> = many.iter().map(|r| r.header.id.as_str()).collect();
            report::plain(
                format!("{} labs are named {which:?}", many.len()),
                Some(format!("name one by id: {}", ids.join(", "))),
            );
            1
        }
    }
}

/// Asks a running lab to tear itself down, as Ctrl-C would, and waits until it has.
fn stop(rec: &Record) -> i32 {
    let (name, id, pid) = (&rec.header.name, &rec.header.id, rec.header.pid);
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM) {
        Ok(()) => note!("lab {name} (id {id}) is running as pid {pid}: asked it to stop"),
        Err(nix::errno::Errno::EPERM) => {
            report::plain(
                format!("lab {name} (id {id}, pid {pid}) belongs to another user: cannot ask it to stop"),
                Some("run `nslab down` as the user who runs the lab (or as root)".into()),
            );
            return 1;
        }
        // Ended just now: what it left is removed below.
        Err(_) => {}
    }
    // Return once it is down, so that `nslab down x && ...` can rely on it.
    let deadline = std::time::Instant::now() + STOP_WAIT;
    while rec.alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    if rec.alive() {
        note!("lab {name} (id {id}) is still stopping after {} s", STOP_WAIT.as_secs());
        return 1;
    }
    if std::fs::symlink_metadata(&rec.path).is_err() {
        note!("lab {name} (id {id}) tore itself down");
        return 0;
    }
    // Its process is gone but left something (its teardown failed): finish the job.
    match ledger::read(&rec.path) {
        Ok(rec) => remove_dead("down", &rec),
        Err(e) => {
            report::plain(e.to_string(), Some("the ledger is kept; check what it lists by hand".into()));
            1
        }
    }
}

/// Tears down every dead lab, and with `kept` the labs kept on purpose too. Exits 1 when
/// something could not be removed, or a ledger could not be read or trusted (those are kept, and
/// nothing they list is touched).
pub fn clean(kept: bool) -> i32 {
    let scan = ledger::scan(ledger_dir());
    let mut status = i32::from(report_refused("clean", &scan));
    let mut removed = 0;
    let mut left = Vec::new();
    for rec in scan.records.iter().filter(|r| !r.alive()) {
        if rec.kept && !kept && rec.trusted() {
            left.push(format!("{} (id {})", rec.header.name, rec.header.id));
            continue;
        }
        removed += 1;
        status |= remove_dead("clean", rec);
    }
    // Shared-settings records a lab killed before it wrote them left empty, and their directory.
    crate::lab::shared_settings::prune(&ledger_dir().join("shared"));
    if removed == 0 && status == 0 {
        note!("clean: no dead labs");
    }
    if !left.is_empty() {
        note!(
            "clean: left {} kept on purpose: {} (`nslab down LAB` or `nslab clean --kept` removes them)",
            report::plural(left.len(), "lab"),
            left.join(", ")
        );
    }
    status
}
