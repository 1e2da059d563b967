//! `nslab ls`, `nslab down` and `nslab clean`: labs that outlived their run.

use std::path::Path;

use super::report;
use crate::engine::netns;
use crate::lab::ledger::{self, Object, Record};
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

fn counts(rec: &Record) -> String {
    let all: Vec<&Object> = rec.objects.iter().chain(rec.pending.iter()).collect();
    let n = |f: fn(&Object) -> bool| all.iter().filter(|o| f(o)).count();
    let parts = [
        (n(|o| matches!(o, Object::Netns { .. })), "netns"),
        (n(|o| matches!(o, Object::Link { .. })), "links"),
        (n(|o| matches!(o, Object::Addr { .. })), "addrs"),
        (n(|o| matches!(o, Object::Route { .. })), "routes"),
        (n(|o| matches!(o, Object::Qdisc { .. })), "qdiscs"),
        (n(|o| matches!(o, Object::Process { .. })), "procs"),
        (n(|o| matches!(o, Object::Sysctl { .. })), "sysctls"),
    ];
    parts.iter().map(|(n, what)| format!("{n} {what}")).collect::<Vec<_>>().join(", ")
}

pub fn ls() -> i32 {
    let records = ledger::read_all(ledger_dir());
    println!("{:<20} {:<8} {:>8} {:<6} {:>5}  OBJECTS", "NAME", "ID", "PID", "STATE", "AGE");
    for rec in &records {
        let state = if rec.alive() { "alive" } else { "dead" };
        println!(
            "{:<20} {:<8} {:>8} {:<6} {:>5}  {}",
            rec.header.name,
            rec.header.id,
            rec.header.pid,
            state,
            age(rec.header.started),
            counts(rec)
        );
    }
    0
}

fn remove(rec: &Record) -> teardown::TeardownReport {
    let home = match netns::current() {
        Ok(f) => f,
        Err(e) => return teardown::TeardownReport { failures: vec![e.to_string()], ..Default::default() },
    };
    let objects: Vec<Object> = rec.objects.iter().chain(rec.pending.iter()).cloned().collect();
    let report = teardown::remove_dead(&objects, &home);
    if report.failures.is_empty() {
        let _ = std::fs::remove_file(&rec.path);
    }
    report
}

pub fn down(which: &str) -> i32 {
    let records = ledger::read_all(ledger_dir());
    let matching: Vec<&Record> = records.iter().filter(|r| r.header.id == which || r.header.name == which).collect();
    match matching.as_slice() {
        [] => {
            report::plain(format!("no lab named {which:?} is standing"), Some("`nslab ls` lists the labs that are".into()));
            1
        }
        [rec] => {
            if rec.alive() {
                // Its process still runs: ask it to tear down itself, as Ctrl-C would.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(rec.header.pid), nix::sys::signal::Signal::SIGTERM);
                eprintln!(
                    "lab {} (id {}) is running as pid {}: asked it to stop",
                    rec.header.name, rec.header.id, rec.header.pid
                );
                // Return once it is down, so that `nslab down x && ...` can rely on it.
                let deadline = std::time::Instant::now() + STOP_WAIT;
                while rec.alive() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                if rec.alive() {
                    eprintln!("lab {} (id {}) is still stopping after {} s", rec.header.name, rec.header.id, STOP_WAIT.as_secs());
                    return 1;
                }
                if !rec.path.exists() {
                    eprintln!("lab {} (id {}) tore itself down", rec.header.name, rec.header.id);
                    return 0;
                }
                // Its process is gone but left something (its teardown failed): finish the job.
                let Ok(rec) = ledger::read(&rec.path) else { return 1 };
                let report = remove(&rec);
                eprintln!("lab {} (id {}) {report}", rec.header.name, rec.header.id);
                return i32::from(!report.failures.is_empty());
            }
            let report = remove(rec);
            eprintln!("lab {} (id {}) {report}", rec.header.name, rec.header.id);
            i32::from(!report.failures.is_empty())
        }
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

pub fn clean() -> i32 {
    let mut status = 0;
    let mut cleaned = 0;
    for rec in ledger::read_all(ledger_dir()).iter().filter(|r| !r.alive()) {
        let report = remove(rec);
        eprintln!("lab {} (id {}) {report}", rec.header.name, rec.header.id);
        cleaned += 1;
        if !report.failures.is_empty() {
            status = 1;
        }
    }
    if cleaned == 0 {
        eprintln!("clean: no dead labs");
    }
    status
}
