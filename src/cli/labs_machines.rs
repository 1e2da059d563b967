//! `ls`, `down` and `clean` of a lab across machines: the coordinator's ledger names the other
//! machines (and how to reach them); their agents are asked for their parts.

use std::time::Duration;

use serde_json::{json, Value};

use crate::lab::ledger::{self, Object, Record};
use crate::lab::machines::{ask_once, Failure, Reply, Request};
use crate::lab::teardown::TeardownReport;

/// How long a machine may take to answer `ls`.
const STATUS_WAIT: Duration = Duration::from_secs(20);
/// How long a machine may take to remove its part.
const DOWN_WAIT: Duration = Duration::from_secs(120);

/// The other machines a lab's ledger names, with their via commands (a trusted ledger only:
/// the commands are run).
pub fn machines_of(rec: &Record) -> Vec<(String, String, String)> {
    if !rec.trusted() {
        return Vec::new();
    }
    rec.objects
        .iter()
        .chain(rec.pending.iter())
        .filter_map(|o| match o {
            Object::Machine { name, via, part } => Some((name.clone(), via.clone(), part.clone())),
            _ => None,
        })
        .collect()
}

/// Asks every machine `rec` names (in parallel, each through its via) the request `ask` makes of
/// the lab's part name there; each machine's answer, in the ledger's order.
pub fn ask_every(rec: &Record, ask: fn(String) -> Request, wait: Duration) -> Vec<(String, Result<Reply, String>)> {
    let machines = machines_of(rec);
    std::thread::scope(|s| {
        let handles: Vec<_> = machines
            .iter()
            .map(|(name, via, part)| {
                let req = ask(part.clone());
                s.spawn(move || (name.clone(), ask_once(name, via, &req, wait)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("no panic")).collect()
    })
}

/// Asks every machine of `rec` to remove its part of the lab, in parallel; what they removed,
/// and (as failures) the machines that could not be reached or could not remove everything.
pub fn down_remote(rec: &Record) -> TeardownReport {
    let mut report = TeardownReport::default();
    for (machine, answer) in ask_every(rec, |lab| Request::Down { lab }, DOWN_WAIT) {
        match answer {
            Ok(Reply::Ended { report: Some(part), .. }) => report.merge(part.on_machine(&machine)),
            Ok(Reply::Ended { report: None, .. }) => {}
            Ok(Reply::Err(f)) => report.failures.push(format!("on {machine}: {}", f.message)),
            Ok(other) => report.failures.push(format!("on {machine}: its agent answered {other:?}")),
            Err(e) => report.failures.push(e),
        }
    }
    report
}

/// What each machine of `rec` says of its part: (machine, its labs of that name or why not).
pub fn status_remote(rec: &Record) -> Vec<(String, Result<Value, String>)> {
    ask_every(rec, |lab| Request::Status { lab }, STATUS_WAIT)
        .into_iter()
        .map(|(machine, answer)| {
            let answer = match answer {
                Ok(Reply::Ok(v)) => Ok(v),
                Ok(Reply::Err(f)) => Err(f.message),
                Ok(other) => Err(format!("its agent answered {other:?}")),
                Err(e) => Err(e),
            };
            (machine, answer)
        })
        .collect()
}

/// One machine's answer for `ls`, as text: "running: 10 netns, ..." per lab, or why not.
pub fn status_text(answer: &Result<Value, String>) -> String {
    match answer {
        Err(e) => format!("unknown ({e})"),
        Ok(Value::Array(labs)) if labs.is_empty() => "nothing left".into(),
        Ok(Value::Array(labs)) => labs
            .iter()
            .map(|l| {
                format!(
                    "{} (id {}): {}",
                    l["state"].as_str().unwrap_or("?"),
                    l["id"].as_str().unwrap_or("?"),
                    l["objects"].as_str().unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Ok(other) => format!("{other}"),
    }
}

/// On an agent: the labs of this name standing here, for the coordinator's `ls`.
pub fn status_part(lab: &str) -> Reply {
    let scan = ledger::scan(std::path::Path::new(ledger::LEDGER_DIR));
    let labs: Vec<Value> = scan
        .records
        .iter()
        .filter(|r| r.header.name == lab)
        .map(|r| json!({"id": r.header.id, "state": super::labs::state_of(r), "objects": super::labs::objects_text(r)}))
        .collect();
    Reply::Ok(Value::Array(labs))
}

/// On an agent: removes what lab `lab` left here (not a lab still running here: its
/// coordinator is alive and ends it).
pub fn down_part(lab: &str) -> Reply {
    // A part whose agent is still ending (its coordinator just died, its channel just closed)
    // is waited for: it removes itself.
    let deadline = std::time::Instant::now() + DOWN_WAIT;
    let mut scan = ledger::scan(std::path::Path::new(ledger::LEDGER_DIR));
    while scan.records.iter().any(|r| r.header.name == lab && r.alive()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        scan = ledger::scan(std::path::Path::new(ledger::LEDGER_DIR));
    }
    let mut report = TeardownReport::default();
    let mut found = false;
    for rec in scan.records.iter().filter(|r| r.header.name == lab && !r.alive()) {
        found = true;
        if !rec.trusted() {
            report.failures.push(format!("the ledger {} cannot be trusted: it is left", rec.path.display()));
            continue;
        }
        report.merge(super::labs::remove_here(rec));
    }
    if !found && scan.records.iter().any(|r| r.header.name == lab) {
        return Reply::Err(Failure { message: format!("lab {lab} is still running here"), hint: None, kind: "lab".into() });
    }
    Reply::Ended { report: Some(report), kept: None }
}

/// How long a guard waits for its coordinator to be gone once their channel closed.
const GUARD_WAIT: Duration = Duration::from_secs(30);

/// On the guard (`Request::Guard`): once coordinator `pid` (started at `start`) is gone,
/// removes what its ledgers still list, unless kept (or untrusted). The exit status.
pub fn guard_part(pid: i32, start: u64) -> i32 {
    let deadline = std::time::Instant::now() + GUARD_WAIT;
    while crate::engine::spawn::running(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let scan = ledger::scan(std::path::Path::new(ledger::LEDGER_DIR));
    let mut failed = false;
    for rec in scan.records.iter().filter(|r| r.header.pid == pid && r.header.pid_start == start) {
        if rec.alive() || rec.kept || !rec.trusted() {
            continue;
        }
        let report = super::labs::remove_whole(rec);
        note!("lab {} (id {}), its coordinator gone: {report}", rec.header.name, rec.header.id);
        failed |= report.failed();
    }
    i32::from(failed)
}
