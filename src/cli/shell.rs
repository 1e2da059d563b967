//! `nslab shell LAB [NS] [-- CMD...]`: a shell (or CMD) in a namespace of a standing lab: one
//! kept on the host (`run --keep`), or one kept in its sandbox (`run --sandbox --keep`), whose
//! namespaces are entered through its holder (see `engine/sandbox_hold.rs`).

use std::fs::File;
use std::path::Path;

use super::report;
use crate::engine::exec::{interactive_command, Placement};
use crate::engine::netns;
use crate::engine::sandbox_hold::{self, Kept};
use crate::lab::ledger::{self, Object};

/// The exit status: the program's, or 1 when it could not start.
pub fn shell(lab: &str, ns: Option<&str>, cmd: &[String]) -> i32 {
    match open(lab, ns) {
        Ok((file, name, label)) => run(&file, name.as_deref(), &label, cmd),
        Err((message, hint)) => {
            report::plain(message, hint);
            1
        }
    }
}

type Refused = (String, Option<String>);

/// The namespace to enter, its name, and the lab's name.
fn open(lab: &str, ns: Option<&str>) -> Result<(File, Option<String>, String), Refused> {
    let kept: Vec<Kept> = sandbox_hold::kept().into_iter().filter(|k| k.id == lab || k.name == lab).collect();
    if let [k] = kept.as_slice() {
        return open_in_sandbox(k, ns);
    }
    if kept.len() > 1 {
        let ids: Vec<&str> = kept.iter().map(|k| k.id.as_str()).collect();
        return Err((format!("{} labs are named {lab:?}", kept.len()), Some(format!("name one by id: {}", ids.join(", ")))));
    }
    let scan = ledger::scan(Path::new(ledger::LEDGER_DIR));
    let found: Vec<&ledger::Record> = scan.records.iter().filter(|r| r.header.id == lab || r.header.name == lab).collect();
    let rec = match found.as_slice() {
        [rec] => *rec,
        [] => return Err((format!("no lab named {lab:?} is standing"), Some("`nslab ls` lists the standing labs".into()))),
        many => {
            let ids: Vec<&str> = many.iter().map(|r| r.header.id.as_str()).collect();
            return Err((format!("{} labs are named {lab:?}", many.len()), Some(format!("name one by id: {}", ids.join(", ")))));
        }
    };
    let names: Vec<(String, Option<u64>)> = rec
        .objects
        .iter()
        .filter_map(|o| match o {
            Object::Netns { name, inode, .. } => Some((name.clone(), *inode)),
            _ => None,
        })
        .collect();
    let list = || names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    let Some(ns) = ns else {
        return Err((format!("name a namespace of lab {}", rec.header.name), Some(format!("its namespaces: {}", list()))));
    };
    let Some((_, inode)) = names.iter().find(|(n, _)| n == ns) else {
        return Err((format!("lab {} has no namespace {ns:?}", rec.header.name), Some(format!("its namespaces: {}", list()))));
    };
    // The name must still be the lab's namespace, not someone's namesake made since.
    let file = netns::open_named(ns).map_err(|e| (format!("cannot open namespace {ns:?}: {}", e.cause), None))?;
    if inode.is_some() && netns::inode_of(&file).ok() != *inode {
        return Err((format!("namespace {ns:?} is not lab {}'s any more", rec.header.name), None));
    }
    Ok((file, Some(ns.to_string()), rec.header.name.clone()))
}

fn open_in_sandbox(k: &Kept, ns: Option<&str>) -> Result<(File, Option<String>, String), Refused> {
    let home = sandbox_hold::enter(k).map_err(|e| (e.to_string(), None))?;
    let Some(ns) = ns else { return Ok((home, None, k.name.clone())) };
    if !k.namespaces.iter().any(|n| n == ns) {
        return Err((
            format!("lab {} has no namespace {ns:?}", k.name),
            Some(format!("its namespaces: {}", k.namespaces.join(", "))),
        ));
    }
    let file = netns::open_named(ns).map_err(|e| (format!("cannot open namespace {ns:?}: {}", e.cause), None))?;
    Ok((file, Some(ns.to_string()), k.name.clone()))
}

fn run(file: &File, name: Option<&str>, lab: &str, cmd: &[String]) -> i32 {
    let argv: Vec<String> = if cmd.is_empty() {
        vec![std::env::var("SHELL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into())]
    } else {
        cmd.to_vec()
    };
    let placement = Placement { ns: Some(file), ns_name: name, pidns: None };
    let mut command = match interactive_command(&argv, &placement) {
        Ok(c) => c,
        Err(e) => {
            report::plain(e.to_string(), None);
            return 1;
        }
    };
    command.env("NSLAB_LAB", lab).env("NSLAB_NETNS", name.unwrap_or(""));
    match command.status() {
        Ok(status) => status.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)),
        Err(e) => {
            report::plain(format!("cannot run {}: {e}", argv[0]), None);
            127
        }
    }
}
