//! The ledger: an append-only record, under `/run/nslab/`, of every kernel object a lab is about
//! to create. It is written before the object exists, so that whatever happens to the process
//! (error, signal, `kill -9`), `nslab clean` knows exactly what to remove and nothing more.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{LabError, Result};
pub use crate::engine::spawn::process_start;

pub const LEDGER_DIR: &str = "/run/nslab";

/// A kernel object a lab owns. Objects inside the lab's own namespaces are not listed one by one:
/// deleting the namespace removes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    /// A named namespace; `inode` identifies it once made, so a namesake is never touched.
    Netns { name: String, inode: Option<u64> },
    /// A link in a namespace the lab did not create (`ns` None: where nslab runs). `peer_ns`:
    /// a namespace of the lab's holding its veth peer, whose deletion removes this link too.
    Link {
        ns: Option<String>,
        name: String,
        index: Option<u32>,
        #[serde(default)]
        peer_ns: Option<String>,
    },
    /// An address added to a link the lab did not create.
    Addr { ns: Option<String>, link: String, cidr: String },
    /// A route added in a namespace the lab did not create.
    Route { ns: Option<String>, dst: String, via: String },
    /// A network sysctl changed in a namespace the lab did not create: `key` is its path below
    /// /proc/sys ("net/ipv4/ip_forward"), `old` the value before the lab's first change.
    Sysctl { ns: Option<String>, key: String, old: String },
    /// A root qdisc (shape/impair) set on a link the lab did not create, outside its namespaces.
    Qdisc { ns: Option<String>, link: String },
    /// A background process (group leader); `start` is its start time in clock ticks, which
    /// tells it from a later process that reuses the pid.
    Process { pid: i32, start: u64 },
    /// The PID namespace the lab's programs run in, by its first process (its init): ending
    /// that ends everything in the namespace (see `engine::pidns`).
    Pidns { pid: i32, start: u64 },
}

impl Object {
    /// Two records describe the same object when these match (identity fields may be filled later).
    fn key(&self) -> String {
        match self {
            Object::Netns { name, .. } => format!("netns {name}"),
            Object::Link { ns, name, .. } => format!("link {ns:?} {name}"),
            Object::Addr { ns, link, cidr } => format!("addr {ns:?} {link} {cidr}"),
            Object::Route { ns, dst, .. } => format!("route {ns:?} {dst}"),
            Object::Qdisc { ns, link } => format!("qdisc {ns:?} {link}"),
            Object::Process { pid, .. } => format!("process {pid}"),
            Object::Pidns { pid, .. } => format!("pidns {pid}"),
            Object::Sysctl { ns, key, .. } => format!("sysctl {ns:?} {key}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Event {
    /// About to create: if the process dies now, the object may or may not exist.
    Intent(Object),
    /// Created, with its identity filled in.
    Made(Object),
    /// Removed.
    Gone(Object),
    /// The creation announced by the last `Intent` for this object failed: nothing was made.
    Failed(Object),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    pub name: String,
    pub id: String,
    pub pid: i32,
    /// The owning process's start time (clock ticks since boot), to tell it from pid reuse.
    pub pid_start: u64,
    /// Seconds since the epoch.
    pub started: u64,
}

pub struct Ledger {
    pub header: Header,
    path: PathBuf,
    file: File,
}

/// A ledger as read back from disk: the objects still standing, in creation order.
#[derive(Debug, Clone)]
pub struct Record {
    pub header: Header,
    pub path: PathBuf,
    pub objects: Vec<Object>,
    /// Objects whose creation was under way when the record ends.
    pub pending: Vec<Object>,
}

impl Record {
    /// Its process still runs (a zombie, killed but not yet collected by its parent, does not).
    pub fn alive(&self) -> bool {
        process_start(self.header.pid) == Some(self.header.pid_start) && crate::engine::spawn::running(self.header.pid)
    }
}

fn io_err(op: &str, e: std::io::Error) -> LabError {
    LabError::Failed { op: op.into(), detail: e.to_string(), errno: e.raw_os_error().map(nix::errno::Errno::from_raw) }
}

impl Ledger {
    pub fn create(dir: &Path, name: &str) -> Result<Ledger> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("create the ledger directory", e))?;
        let pid = std::process::id() as i32;
        let pid_start = process_start(pid).unwrap_or(0);
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        // Short, unique among live labs: the pid and its start time make it so.
        let id = format!("{:06x}", (pid as u64 ^ pid_start.rotate_left(20) ^ started) & 0xff_ffff);
        let header = Header { name: name.into(), id: id.clone(), pid, pid_start, started };
        let path = dir.join(format!("{id}.jsonl"));
        let mut file =
            OpenOptions::new().create_new(true).append(true).open(&path).map_err(|e| io_err("create the lab's ledger", e))?;
        let line = serde_json::to_string(&header).expect("header serializes");
        writeln!(file, "{line}").map_err(|e| io_err("write the lab's ledger", e))?;
        Ok(Ledger { header, path, file })
    }

    fn append(&mut self, event: &Event) -> Result<()> {
        let mut line = serde_json::to_string(event).expect("event serializes");
        line.push('\n');
        // One write per event: with O_APPEND it lands whole even if the process dies right after.
        self.file.write_all(line.as_bytes()).map_err(|e| io_err("write the lab's ledger", e))
    }

    pub fn intent(&mut self, obj: &Object) -> Result<()> {
        self.append(&Event::Intent(obj.clone()))
    }

    pub fn made(&mut self, obj: &Object) -> Result<()> {
        self.append(&Event::Made(obj.clone()))
    }

    pub fn gone(&mut self, obj: &Object) -> Result<()> {
        self.append(&Event::Gone(obj.clone()))
    }

    pub fn failed(&mut self, obj: &Object) -> Result<()> {
        self.append(&Event::Failed(obj.clone()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the ledger file: called once the lab is fully torn down.
    pub fn close(self) {
        let _ = std::fs::remove_file(&self.path);
    }

    pub fn read(&self) -> Result<Record> {
        read(&self.path)
    }
}

pub fn read(path: &Path) -> Result<Record> {
    let file = File::open(path).map_err(|e| io_err("read a lab's ledger", e))?;
    let mut lines = BufReader::new(file).lines();
    let bad =
        || LabError::Failed { op: "read a lab's ledger".into(), detail: format!("{} is damaged", path.display()), errno: None };
    let first = lines.next().ok_or_else(bad)?.map_err(|e| io_err("read a lab's ledger", e))?;
    let header: Header = serde_json::from_str(&first).map_err(|_| bad())?;
    let mut objects: Vec<Object> = Vec::new();
    let mut pending: Vec<Object> = Vec::new();
    for line in lines {
        let Ok(line) = line else { break };
        // A line cut short by a crash is the last one: stop there.
        let Ok(event) = serde_json::from_str::<Event>(&line) else { break };
        match event {
            Event::Intent(o) => pending.push(o),
            Event::Made(o) => {
                pending.retain(|p| p.key() != o.key());
                objects.retain(|p| p.key() != o.key());
                objects.push(o);
            }
            Event::Gone(o) => {
                pending.retain(|p| p.key() != o.key());
                objects.retain(|p| p.key() != o.key());
            }
            Event::Failed(o) => pending.retain(|p| p.key() != o.key()),
        }
    }
    Ok(Record { header, path: path.to_path_buf(), objects, pending })
}

/// Every ledger in `dir`, oldest first.
pub fn read_all(dir: &Path) -> Vec<Record> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    let mut records: Vec<Record> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter_map(|p| read(&p).ok())
        .collect();
    records.sort_by_key(|r| (r.header.started, r.header.id.clone()));
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_keeps_made_objects_in_order_and_drops_gone_ones() {
        let dir = std::env::temp_dir().join(format!("nslab-ledger-test-{}", std::process::id()));
        let mut ledger = Ledger::create(&dir, "t").unwrap();
        let a = Object::Netns { name: "a".into(), inode: None };
        let b = Object::Netns { name: "b".into(), inode: None };
        let c = Object::Netns { name: "c".into(), inode: None };
        ledger.intent(&a).unwrap();
        ledger.made(&Object::Netns { name: "a".into(), inode: Some(7) }).unwrap();
        ledger.intent(&b).unwrap();
        ledger.gone(&b).unwrap();
        // A failed second attempt at an existing name must not forget the first.
        ledger.intent(&a).unwrap();
        ledger.failed(&a).unwrap();
        ledger.intent(&c).unwrap();
        let rec = ledger.read().unwrap();
        assert_eq!(rec.objects, vec![Object::Netns { name: "a".into(), inode: Some(7) }]);
        assert_eq!(rec.pending, vec![c]);
        assert!(rec.alive());
        assert_eq!(rec.header.name, "t");
        ledger.close();
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn process_start_is_read_for_self() {
        assert!(process_start(std::process::id() as i32).is_some());
        assert!(process_start(i32::MAX).is_none());
    }
}
