//! The ledger: an append-only record, under `/run/nslab/`, of every kernel object a lab is about
//! to create. It is written before the object exists, so that whatever happens to the process
//! (error, signal, `kill -9`), `nslab clean` knows exactly what to remove and nothing more.
//!
//! Root acts on what a ledger says, so it must not be forgeable into harm: the directory is 0755
//! and root's (or the caller's, `engine/trusted_dir.rs`); a ledger appears 0600 with its header
//! already written; only regular files the caller owns, of bounded size, are read (never
//! opened blocking); every line must obey the language's rules (`ledger_check.rs`). A running
//! lab keeps the replayed state in memory and tears down from that, never from the path.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::error::{LabError, Result};
pub use crate::engine::spawn::process_start;
use crate::engine::trusted_dir;

pub const LEDGER_DIR: &str = "/run/nslab";
/// A ledger larger than this is refused unread: about 500,000 objects, far beyond any lab.
pub const MAX_LEDGER_BYTES: u64 = 64 << 20;
const LEDGER_MODE: u32 = 0o600;

/// A kernel object a lab owns, or changed and must put back, named by what the kernel can
/// confirm (see `teardown.rs`: an object whose identity no longer matches is left alone).
/// Objects inside the lab's own namespaces are not listed one by one: deleting the namespace
/// removes them. `ns` names a namespace the lab did not create (None: where nslab runs) and
/// `ns_inode` is that namespace's identity when the record was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Object {
    /// A named namespace by its inode, known before the mount (the placeholder identity), so an
    /// interrupted create is still provable. `file`: the inode of the placeholder file, which is
    /// all that an interrupted create leaves at the name.
    Netns {
        name: String,
        inode: Option<u64>,
        #[serde(default)]
        file: Option<u64>,
    },
    /// A link in a namespace the lab did not create, by namespace and ifindex (`index`: chosen
    /// before creation and written in the intent; None when the kernel chose it). `peer_ns`: a
    /// namespace of the lab's holding its veth peer, whose deletion removes this link too.
    Link {
        ns: Option<String>,
        ns_inode: u64,
        name: String,
        index: Option<u32>,
        #[serde(default)]
        peer_ns: Option<String>,
    },
    /// An address added to a link the lab did not create, that link by ifindex (`index`; None in
    /// records from before it was kept: then by name).
    Addr {
        ns: Option<String>,
        #[serde(default)]
        ns_inode: Option<u64>,
        link: String,
        #[serde(default)]
        index: Option<u32>,
        cidr: String,
    },
    /// A route added in a namespace the lab did not create, by its whole key: table,
    /// destination ("default" or a CIDR), metric, type (RTN_*), output ifindex (None when the
    /// kernel chose it and the route was not seen made), gateway ("" for none) and protocol.
    Route {
        ns: Option<String>,
        ns_inode: u64,
        table: u32,
        dst: String,
        metric: u32,
        kind: u8,
        dev: Option<u32>,
        via: String,
        protocol: u8,
        /// A multipath route's nexthops, in the kernel's order (empty: a single path).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        nexthops: Vec<RouteHop>,
    },
    /// A policy rule added in a namespace the lab did not create, by every field it has
    /// (`from`/`to`: "" for all; `iif`/`oif`: "" for any; `fwmark` 0: none).
    Rule {
        ns: Option<String>,
        ns_inode: u64,
        v6: bool,
        priority: u32,
        table: u32,
        action: u8,
        from: String,
        to: String,
        iif: String,
        oif: String,
        fwmark: u32,
        fwmask: Option<u32>,
        protocol: u8,
    },
    /// A network sysctl set in a namespace the lab did not create: `key` is its path below
    /// /proc/sys ("net/ipv4/ip_forward"), `old` the value before the lab's first change, `new`
    /// the lab's value as the kernel reads it back. Restored only while it still holds `new`;
    /// shared with other live labs (see `shared_settings.rs`).
    Sysctl { ns: Option<String>, ns_inode: u64, key: String, old: String, new: String },
    /// A root qdisc (shape/impair) set on a link the lab did not create, outside its
    /// namespaces: the link by ifindex, the qdisc by the lab's handle. `saved`: the root qdisc it
    /// replaced (`#{replace: true}`), put back at teardown.
    Qdisc { ns: Option<String>, ns_inode: u64, link: String, index: u32, handle: u32, saved: Option<SavedQdisc> },
    /// A link the lab did not create, moved from `ns` (where it was `name`, ifindex `index`,
    /// `up` or not) to `to`, where it is ifindex `now`. Moved back, under its name and up if it
    /// was, before `to` goes.
    Moved {
        ns: Option<String>,
        ns_inode: u64,
        name: String,
        index: u32,
        #[serde(default)]
        up: bool,
        to: Option<String>,
        to_inode: u64,
        now: u32,
    },
    /// Settings the lab changed (`link_set`) on a link it did not create, outside its
    /// namespaces: the link by ifindex (its name confirms it), `old` each setting before the
    /// lab's first change of it, and the alternative names it added. Put back at teardown.
    /// `depth`: the sub-test checkpoints active when it was made (0: none); a sub-test's record
    /// holds the values from its start, so undoing it puts back no more than it changed.
    LinkSet {
        ns: Option<String>,
        ns_inode: u64,
        name: String,
        index: u32,
        old: super::link_set::SavedLink,
        #[serde(default)]
        depth: usize,
    },
    /// A neighbour entry (`proxy`: a proxy entry) added to a link the lab did not create, outside
    /// its namespaces; the link by ifindex. Removed only while the entry is as the lab left it
    /// (the same MAC, and the same state when that was permanent or noarp). See `lab/neigh.rs`.
    Neigh { ns: Option<String>, ns_inode: u64, link: String, index: u32, ip: String, mac: String, state: u16, proxy: bool },
    /// A forwarding entry added to a link the lab did not create, outside its namespaces: the
    /// bridge's (`master`) and/or the link's own (`own`, `bridge fdb ... self`), by MAC and the
    /// vxlan remote it names (`dst` "" for none). See `lab/fdb.rs`.
    Fdb {
        ns: Option<String>,
        ns_inode: u64,
        link: String,
        index: u32,
        mac: String,
        dst: String,
        vni: Option<u32>,
        port: Option<u16>,
        master: bool,
        own: bool,
        state: u16,
    },
    /// An address the lab flushed from a link it did not create, outside its namespaces: put
    /// back at teardown (if the link is still that ifindex and the address is not there), with
    /// its peer, broadcast, scope, settable flags and lifetimes. See `lab/addr_options.rs`.
    Flushed {
        ns: Option<String>,
        ns_inode: u64,
        link: String,
        index: u32,
        cidr: String,
        peer: String,
        broadcast: String,
        scope: u8,
        flags: u32,
        valid: u32,
        preferred: u32,
    },
    /// A background process (group leader); `start` is its start time in clock ticks, which
    /// tells it from a later process that reuses the pid.
    Process { pid: i32, start: u64 },
    /// The PID namespace the lab's programs run in, by its first process (its init): ending
    /// that ends everything in the namespace (see `engine::pidns`).
    Pidns { pid: i32, start: u64 },
    /// Another machine holding a part of the lab (a lab across machines), and the command that
    /// reaches its agent: `nslab down` and `clean` ask it to remove that part.
    Machine {
        name: String,
        via: String,
        /// The name of the lab's part there (see `machines::part_name`).
        part: String,
    },
}

/// One nexthop of a recorded multipath route: gateway ("" for none), output ifindex, weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteHop {
    pub via: String,
    pub dev: Option<u32>,
    pub weight: u16,
}

/// A root qdisc as the kernel dumped it: its kind, handle and TCA_OPTIONS bytes (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQdisc {
    pub kind: String,
    pub handle: u32,
    pub options: String,
}

impl Object {
    /// Whether two records describe the same object (see `key`).
    pub fn same(&self, other: &Object) -> bool {
        self.key() == other.key()
    }

    /// Two records describe the same object when these match (identity fields may be filled later).
    pub(crate) fn key(&self) -> String {
        match self {
            Object::Netns { name, .. } => format!("netns {name}"),
            Object::Link { ns, name, .. } => format!("link {ns:?} {name}"),
            Object::Addr { ns, link, cidr, .. } => format!("addr {ns:?} {link} {cidr}"),
            Object::Route { ns, table, dst, metric, via, .. } => format!("route {ns:?} {table} {dst} {metric} {via}"),
            Object::Rule { ns, v6, priority, table, action, from, to, iif, oif, fwmark, .. } => {
                format!("rule {ns:?} {v6} {priority} {table} {action} {from} {to} {iif} {oif} {fwmark}")
            }
            Object::Qdisc { ns, index, .. } => format!("qdisc {ns:?} {index}"),
            Object::Moved { ns, index, .. } => format!("moved {ns:?} {index}"),
            Object::LinkSet { ns, index, depth, .. } => format!("linkset {ns:?} {index} {depth}"),
            Object::Process { pid, .. } => format!("process {pid}"),
            Object::Pidns { pid, .. } => format!("pidns {pid}"),
            Object::Sysctl { ns, key, .. } => format!("sysctl {ns:?} {key}"),
            Object::Neigh { ns, index, ip, proxy, .. } => format!("neigh {ns:?} {index} {ip} {proxy}"),
            Object::Fdb { ns, index, mac, dst, vni, port, master, own, .. } => {
                format!("fdb {ns:?} {index} {mac} {dst} {vni:?} {port:?} {master} {own}")
            }
            Object::Flushed { ns, index, cidr, .. } => format!("flushed {ns:?} {index} {cidr}"),
            Object::Machine { name, .. } => format!("machine {name}"),
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
    /// The lab was left standing on purpose (`--keep`, `:keep`), at this time (seconds since
    /// the epoch): `clean` leaves it, `down` removes it.
    Kept(u64),
}

impl Event {
    fn object(&self) -> Option<&Object> {
        match self {
            Event::Intent(o) | Event::Made(o) | Event::Gone(o) | Event::Failed(o) => Some(o),
            Event::Kept(_) => None,
        }
    }
}

/// What a sequence of events leaves standing. Objects are looked up by key through an index, so
/// a lab of thousands of objects replays in linear time.
#[derive(Debug, Default)]
struct Replay {
    /// In the order they were (last) made; None where one was removed since.
    made: Vec<Option<Object>>,
    index: HashMap<String, usize>,
    pending: Vec<Object>,
}

impl Replay {
    fn apply(&mut self, event: Event) {
        match event {
            // A later intent for the same object says more about it (a namespace's placeholder).
            Event::Intent(o) => {
                let key = o.key();
                self.pending.retain(|p| p.key() != key);
                self.pending.push(o);
            }
            Event::Made(o) => {
                let key = self.settle(&o);
                self.index.insert(key, self.made.len());
                self.made.push(Some(o));
            }
            Event::Gone(o) => {
                self.settle(&o);
            }
            Event::Failed(o) => {
                let key = o.key();
                self.pending.retain(|p| p.key() != key);
            }
            Event::Kept(_) => {}
        }
    }

    /// Forgets the object as pending and as made; returns its key.
    fn settle(&mut self, o: &Object) -> String {
        let key = o.key();
        self.pending.retain(|p| p.key() != key);
        if let Some(i) = self.index.remove(&key) {
            self.made[i] = None;
        }
        key
    }

    fn objects(&self) -> Vec<Object> {
        self.made.iter().flatten().cloned().collect()
    }
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

/// Where a ledger stood at a moment: how many objects had been made, and what stood by key.
#[derive(Debug, Clone)]
pub struct Mark {
    made: usize,
    standing: HashMap<String, Option<Object>>,
}

/// A running lab's ledger: the open file it appends to and, in memory, what it lists.
pub struct Ledger {
    pub header: Header,
    path: PathBuf,
    file: File,
    /// The file's (device, inode): `close` unlinks the path only while it still names this file.
    identity: (u64, u64),
    state: Replay,
}

/// A ledger as read back from disk: the objects still standing, in creation order.
#[derive(Debug, Clone)]
pub struct Record {
    pub header: Header,
    pub path: PathBuf,
    pub objects: Vec<Object>,
    /// Objects whose creation was under way when the record ends.
    pub pending: Vec<Object>,
    /// Lines that could not be read or break the rules ("PATH:LINE: why"). They are never acted
    /// on, and a record with any is not trusted at all: `clean` and `down` remove nothing it
    /// lists and keep the file. (A last line cut short by a crash is not a problem.)
    pub problems: Vec<String>,
    /// Left standing on purpose (`--keep`): not dead, whatever became of its process.
    pub kept: bool,
    /// The file's (device, inode) when read.
    identity: (u64, u64),
}

/// Every ledger in a directory: those that could be read (possibly with problems) and, for the
/// others, why not ("PATH: why").
#[derive(Debug, Default)]
pub struct Scan {
    pub records: Vec<Record>,
    pub refused: Vec<String>,
}

impl Record {
    /// Its process still runs (a zombie, killed but not yet collected by its parent, does not).
    pub fn alive(&self) -> bool {
        process_start(self.header.pid) == Some(self.header.pid_start) && crate::engine::spawn::running(self.header.pid)
    }

    /// Every line was read and obeys the rules: only then may anything it lists be removed.
    pub fn trusted(&self) -> bool {
        self.problems.is_empty()
    }

    /// What teardown removes: the objects standing, then those under way.
    pub fn standing(&self) -> Vec<Object> {
        self.objects.iter().chain(self.pending.iter()).cloned().collect()
    }

    /// Deletes the ledger file, if its path still names the file that was read.
    pub fn discard(&self) {
        unlink_if_same(&self.path, self.identity);
    }
}

fn io_err(op: &str, e: std::io::Error) -> LabError {
    let errno = e.raw_os_error().map(nix::errno::Errno::from_raw);
    let detail = errno.and_then(crate::engine::limits::exhausted).unwrap_or_else(|| e.to_string());
    LabError::Failed { op: op.into(), detail, errno }
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

fn unlink_if_same(path: &Path, identity: (u64, u64)) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == identity) {
        let _ = std::fs::remove_file(path);
    }
}

impl Header {
    /// The link group (IFLA_GROUP) nslab gives the links this lab makes outside its own
    /// namespaces: "n" (0x6e) and the lab's 24-bit id. Set in the creating request, it is the
    /// kernel-visible mark that tells such a link from a namesake made by someone else, even
    /// when nslab was killed before it could note the link's ifindex.
    pub fn link_group(&self) -> u32 {
        0x6e00_0000 | (u32::from_str_radix(&self.id, 16).unwrap_or(0) & 0x00ff_ffff)
    }
}

impl Ledger {
    pub fn create(dir: &Path, name: &str) -> Result<Ledger> {
        trusted_dir::ensure(dir, "lab ledgers").map_err(|e| LabError::Failed {
            op: format!("record the lab in {}", dir.display()),
            detail: e.cause.to_string(),
            errno: e.code(),
        })?;
        let pid = std::process::id() as i32;
        let pid_start = process_start(pid).unwrap_or(0);
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        // Short, and mostly unique from the pid and its start time; but labs started side by side
        // can mix to the same id (pid N+1 a second after pid N), so a taken one is tried again.
        let mut attempt = 0u64;
        loop {
            let mix = pid as u64 ^ pid_start.rotate_left(20) ^ started ^ attempt.wrapping_mul(0x9e_3779);
            let id = format!("{:06x}", mix & 0xff_ffff);
            let header = Header { name: name.into(), id: id.clone(), pid, pid_start, started };
            let path = dir.join(format!("{id}.jsonl"));
            let mut line = serde_json::to_string(&header).expect("header serializes");
            line.push('\n');
            match publish(dir, &path, line.as_bytes()) {
                Ok(file) => {
                    let meta = file.metadata().map_err(|e| io_err("create the lab's ledger", e))?;
                    return Ok(Ledger { header, path, file, identity: identity(&meta), state: Replay::default() });
                }
                Err(e) if e.errno() == Some(Errno::EEXIST) && attempt < 16 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    fn append(&mut self, event: Event) -> Result<()> {
        let mut line = serde_json::to_string(&event).expect("event serializes");
        line.push('\n');
        // One write per event: with O_APPEND it lands whole even if the process dies right after.
        // Through the descriptor, not the path: the lab's record holds even if the path goes.
        self.file.write_all(line.as_bytes()).map_err(|e| io_err("write the lab's ledger", e))?;
        // The memory follows the file, so teardown removes what `clean` would have.
        self.state.apply(event);
        Ok(())
    }

    pub fn intent(&mut self, obj: &Object) -> Result<()> {
        self.append(Event::Intent(obj.clone()))
    }

    pub fn made(&mut self, obj: &Object) -> Result<()> {
        self.append(Event::Made(obj.clone()))
    }

    pub fn gone(&mut self, obj: &Object) -> Result<()> {
        self.append(Event::Gone(obj.clone()))
    }

    pub fn failed(&mut self, obj: &Object) -> Result<()> {
        self.append(Event::Failed(obj.clone()))
    }

    /// Notes that the lab is left standing on purpose (see `Record::kept`).
    pub fn kept(&mut self) -> Result<()> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.append(Event::Kept(now))
    }

    /// Where the ledger stands now, to undo back to (see `checkpoint.rs`).
    pub fn mark(&self) -> Mark {
        let standing = self.state.index.iter().map(|(k, &i)| (k.clone(), self.state.made[i].clone())).collect();
        Mark { made: self.state.made.len(), standing }
    }

    /// What was made since `mark` and still stands, in creation order.
    pub fn since(&self, mark: &Mark) -> Vec<Object> {
        self.state.made.iter().skip(mark.made).flatten().cloned().collect()
    }

    /// Records that `undone` (made since `mark`) is gone; an object that replaced one standing
    /// at the mark (a sysctl set again) stands as it was at the mark again.
    pub fn undone(&mut self, mark: &Mark, undone: &[Object]) -> Result<()> {
        for obj in undone {
            self.gone(obj)?;
            if let Some(Some(before)) = mark.standing.get(&obj.key()) {
                self.made(before)?;
            }
        }
        Ok(())
    }

    /// What the lab has standing, then what it was creating: what teardown removes.
    pub fn standing(&self) -> Vec<Object> {
        self.state.objects().into_iter().chain(self.state.pending.iter().cloned()).collect()
    }

    /// Removes the ledger file, if the path still names it: called once the lab is fully torn down.
    pub fn close(self) {
        unlink_if_same(&self.path, self.identity);
    }

    /// The lab's record as it stands, from memory (the file may be gone or unreadable).
    #[cfg(test)]
    pub fn read(&self) -> Result<Record> {
        Ok(Record {
            header: self.header.clone(),
            path: self.path.clone(),
            objects: self.state.objects(),
            pending: self.state.pending.clone(),
            problems: Vec::new(),
            kept: false,
            identity: self.identity,
        })
    }
}

/// Makes the ledger appear at `path` already 0600 and with its header, so that no reader ever
/// sees it empty or half-written: written as an unnamed file (O_TMPFILE), then linked (a link
/// never replaces an existing file). Filesystems without O_TMPFILE get an O_EXCL create.
fn publish(dir: &Path, path: &Path, header: &[u8]) -> Result<File> {
    let op = "create the lab's ledger";
    let open = |flags: libc::c_int, at: &Path| {
        OpenOptions::new().append(true).mode(LEDGER_MODE).custom_flags(flags | libc::O_NOFOLLOW).open(at)
    };
    let (mut file, unnamed) = match open(libc::O_TMPFILE, dir) {
        Ok(f) => (f, true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP) | Some(libc::EISDIR)) => {
            (open(libc::O_CREAT | libc::O_EXCL, path).map_err(|e| io_err(op, e))?, false)
        }
        Err(e) => return Err(io_err(op, e)),
    };
    // The umask may have taken bits from 0600 (never added any): make it exactly 0600.
    file.set_permissions(std::fs::Permissions::from_mode(LEDGER_MODE)).map_err(|e| io_err(op, e))?;
    file.write_all(header).map_err(|e| io_err("write the lab's ledger", e))?;
    if unnamed {
        // Linking through /proc/self/fd needs no privilege (AT_EMPTY_PATH would need
        // CAP_DAC_READ_SEARCH), and fails with EEXIST rather than replace a file.
        use nix::fcntl::{AtFlags, AT_FDCWD};
        use std::os::fd::AsRawFd;
        let fd_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        nix::unistd::linkat(AT_FDCWD, fd_path.as_str(), AT_FDCWD, path, AtFlags::AT_SYMLINK_FOLLOW)
            .map_err(|e| io_err(op, std::io::Error::from(e)))?;
    }
    Ok(file)
}

/// Reads one ledger file, refusing what is not a regular file of the caller's of sane size.
/// Never blocks: a FIFO or device is recognised before it is opened, and one swapped in since
/// is opened only non-blocking, then refused.
fn load(path: &Path) -> std::result::Result<(Vec<u8>, (u64, u64)), String> {
    let me = nix::unistd::geteuid().as_raw();
    let acceptable = |meta: &std::fs::Metadata| -> std::result::Result<(), String> {
        let kind = kind_of(meta.file_type());
        if kind != "regular file" {
            return Err(format!("it is a {kind}, not a regular file: not read"));
        }
        if meta.uid() != me {
            return Err(format!(
                "it belongs to uid {}, not to you (uid {me}): not read (only the user who ran a lab acts on its ledger)",
                meta.uid()
            ));
        }
        if meta.len() > MAX_LEDGER_BYTES {
            return Err(format!("it is {} bytes, more than any lab writes (at most {MAX_LEDGER_BYTES}): not read", meta.len()));
        }
        Ok(())
    };
    acceptable(&std::fs::symlink_metadata(path).map_err(|e| format!("cannot inspect it: {e}"))?)?;
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot open it: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot inspect it: {e}"))?;
    acceptable(&meta)?;
    let mut text = Vec::new();
    // Bounded even if the file grows while it is read.
    (&mut file).take(MAX_LEDGER_BYTES + 1).read_to_end(&mut text).map_err(|e| format!("cannot read it: {e}"))?;
    if text.len() as u64 > MAX_LEDGER_BYTES {
        return Err(format!("it grew past {MAX_LEDGER_BYTES} bytes while read: not read"));
    }
    Ok((text, identity(&meta)))
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        "regular file"
    } else if t.is_symlink() {
        "symbolic link"
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

/// Replays a ledger's text. Err: the header cannot be read or trusted, so nothing after it can.
fn parse(path: &Path, text: &[u8], identity: (u64, u64)) -> std::result::Result<Record, String> {
    if text.is_empty() {
        return Err("it is empty (nslab writes a header first): not a ledger nslab wrote".into());
    }
    // A line is complete when a newline ends it; only the last can be cut short (a crash in the
    // middle of a write).
    let complete = text.ends_with(b"\n");
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    if complete {
        lines.pop();
    }
    let last = lines.len();
    let header: Header = std::str::from_utf8(lines[0])
        .ok()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| "line 1 is not a lab's header: not a ledger nslab wrote".to_string())?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    header.check(&stem).map_err(|e| format!("line 1: {e}"))?;
    let mut state = Replay::default();
    let mut problems = Vec::new();
    let mut kept = false;
    for (i, line) in lines.iter().enumerate().skip(1) {
        let n = i + 1;
        let event = match std::str::from_utf8(line).map(serde_json::from_str::<Event>) {
            Ok(Ok(e)) => e,
            // Cut short by a crash: that write never finished, so nothing came of it.
            _ if n == last && !complete => break,
            Ok(Err(e)) => {
                problems.push(format!("{}:{n}: not a ledger entry ({e})", path.display()));
                continue;
            }
            Err(_) => {
                problems.push(format!("{}:{n}: not text (invalid UTF-8)", path.display()));
                continue;
            }
        };
        let Some(object) = event.object() else {
            kept = true;
            continue;
        };
        match object.check() {
            Ok(()) => state.apply(event),
            Err(e) => problems.push(format!("{}:{n}: {e}; never acted on", path.display())),
        }
    }
    Ok(Record { header, path: path.to_path_buf(), objects: state.objects(), pending: state.pending, problems, kept, identity })
}

/// Reads one ledger (see `load` and `parse` for what is refused).
pub fn read(path: &Path) -> Result<Record> {
    load(path).and_then(|(text, identity)| parse(path, &text, identity)).map_err(|why| LabError::Failed {
        op: format!("read the ledger {}", path.display()),
        detail: why,
        errno: None,
    })
}

/// Every ledger in `dir` (oldest first), and why others were not read. A directory others could
/// write to is not read at all: nothing in it can be trusted.
pub fn scan(dir: &Path) -> Scan {
    let mut scan = Scan::default();
    match trusted_dir::check(dir, "lab ledgers") {
        Ok(()) => {}
        Err(e) if e.code() == Some(nix::errno::Errno::ENOENT) => return scan,
        Err(e) => {
            scan.refused.push(format!("{}: {}", dir.display(), e.cause));
            return scan;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            scan.refused.push(format!("{}: cannot list it: {e}", dir.display()));
            return scan;
        }
    };
    let mut paths: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect();
    paths.sort();
    for path in paths {
        match load(&path).and_then(|(text, identity)| parse(&path, &text, identity)) {
            Ok(rec) => scan.records.push(rec),
            Err(why) => scan.refused.push(format!("{}: {why}", path.display())),
        }
    }
    // Oldest first; labs started in the same second by name, so that `ls` reads the same each time.
    scan.records
        .sort_by(|a, b| (a.header.started, &a.header.name, &a.header.id).cmp(&(b.header.started, &b.header.name, &b.header.id)));
    scan
}

/// Every ledger in `dir` that could be read, oldest first (for telling who owns what).
pub fn read_all(dir: &Path) -> Vec<Record> {
    scan(dir).records
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory for one test, removed when dropped.
    struct Dir(PathBuf);

    impl Dir {
        fn new(test: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("nslab-ledger-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn netns(name: &str, inode: Option<u64>) -> Object {
        Object::Netns { name: name.into(), inode, file: None }
    }

    /// A dead-looking ledger with `lines` after a valid header, written as given.
    fn ledger_file(dir: &Path, lines: &str) -> PathBuf {
        trusted_dir::ensure(dir, "test ledgers").unwrap();
        let header = Header { name: "t".into(), id: "0000aa".into(), pid: 99999, pid_start: 1, started: 1 };
        let path = dir.join("0000aa.jsonl");
        std::fs::write(&path, format!("{}\n{lines}", serde_json::to_string(&header).unwrap())).unwrap();
        path
    }

    fn problems(path: &Path) -> Vec<String> {
        read(path).unwrap().problems
    }

    #[test]
    fn replay_keeps_made_objects_in_order_and_drops_gone_ones() {
        let dir = Dir::new("replay");
        let mut ledger = Ledger::create(&dir.0, "t").unwrap();
        let c = netns("c", None);
        ledger.intent(&netns("a", None)).unwrap();
        ledger.made(&netns("a", Some(7))).unwrap();
        ledger.intent(&netns("b", None)).unwrap();
        ledger.gone(&netns("b", None)).unwrap();
        // A failed second attempt at an existing name must not forget the first.
        ledger.intent(&netns("a", None)).unwrap();
        ledger.failed(&netns("a", None)).unwrap();
        ledger.intent(&c).unwrap();
        ledger.intent(&netns("d", None)).unwrap();
        ledger.made(&netns("d", Some(8))).unwrap();
        // Made again: it moves to the end (it is newer than what was made in between).
        ledger.made(&netns("a", Some(9))).unwrap();
        let mem = ledger.read().unwrap();
        assert_eq!(mem.objects, vec![netns("d", Some(8)), netns("a", Some(9))]);
        assert_eq!(mem.pending, vec![c.clone()]);
        assert!(mem.alive());
        // The file says the same as the memory.
        let disk = read(ledger.path.as_path()).unwrap();
        assert_eq!((disk.objects, disk.pending, disk.problems), (mem.objects, mem.pending, vec![]));
        assert_eq!(disk.header, ledger.header);
        assert_eq!(ledger.standing(), vec![netns("d", Some(8)), netns("a", Some(9)), c]);
        ledger.close();
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
    }

    #[test]
    fn a_ledger_is_0600_complete_and_in_a_0755_directory() {
        let dir = Dir::new("modes");
        let ledger = Ledger::create(&dir.0, "t").unwrap();
        let meta = std::fs::symlink_metadata(ledger.path.as_path()).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.mode() & 0o7777, 0o600);
        assert_eq!(std::fs::metadata(&dir.0).unwrap().mode() & 0o7777, 0o755);
        assert_eq!(read(ledger.path.as_path()).unwrap().header, ledger.header);
        // Only the ledger: the unnamed file was linked, not copied.
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
        ledger.close();
    }

    #[test]
    fn a_running_lab_keeps_its_record_when_the_file_goes() {
        let dir = Dir::new("deleted");
        let mut ledger = Ledger::create(&dir.0, "t").unwrap();
        ledger.made(&netns("a", Some(1))).unwrap();
        std::fs::remove_file(ledger.path.as_path()).unwrap();
        ledger.intent(&netns("b", None)).unwrap();
        assert_eq!(ledger.standing(), vec![netns("a", Some(1)), netns("b", None)]);
        // Another file now has the path: closing leaves it.
        std::fs::write(ledger.path.as_path(), "someone else's").unwrap();
        let path = ledger.path.as_path().to_path_buf();
        ledger.close();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's");
    }

    #[test]
    fn torn_last_line_is_tolerated_other_damage_is_reported() {
        let dir = Dir::new("damage");
        let made_a = r#"{"made":{"netns":{"name":"a","inode":7}}}"#;
        let path = ledger_file(&dir.0, &format!("{made_a}\n{{\"made\":{{\"netns\":{{\"na"));
        let rec = read(&path).unwrap();
        assert_eq!((rec.objects, rec.problems), (vec![netns("a", Some(7))], vec![]));

        // The same cut in the middle is damage, reported with the file and line.
        let path = ledger_file(&dir.0, &format!("{{\"made\":{{\"netns\":{{\"na\n{made_a}\n"));
        let rec = read(&path).unwrap();
        assert!(!rec.trusted());
        assert_eq!(rec.problems.len(), 1);
        assert!(rec.problems[0].starts_with(&format!("{}:2: not a ledger entry", path.display())), "{:?}", rec.problems);
        assert_eq!(rec.objects, vec![netns("a", Some(7))]);

        // A whole last line without its newline is still read (and checked).
        let path = ledger_file(&dir.0, made_a);
        assert_eq!(read(&path).unwrap().objects, vec![netns("a", Some(7))]);
        let path = ledger_file(&dir.0, r#"{"made":{"netns":{"name":"../x","inode":7}}}"#);
        assert!(problems(&path)[0].contains(":2: invalid namespace name \"../x\""), "{:?}", problems(&path));

        // Not UTF-8; an empty line.
        std::fs::write(&path, [&std::fs::read(&path).unwrap()[..], b"\n\xff\xfe\n\n"].concat()).unwrap();
        let p = problems(&path);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[1].ends_with(":3: not text (invalid UTF-8)"), "{p:?}");
        assert!(p[2].contains(":4: not a ledger entry"), "{p:?}");
    }

    #[test]
    fn forged_lines_are_reported_and_never_replayed() {
        let dir = Dir::new("forged");
        let lines = [
            r#"{"intent":{"netns":{"name":"ok","inode":null}}}"#,
            r#"{"made":{"sysctl":{"ns":null,"ns_inode":1,"key":"kernel/hostname","old":"pwned","new":"x"}}}"#,
            r#"{"made":{"netns":{"name":"../../etc","inode":null}}}"#,
            r#"{"made":{"link":{"ns":null,"ns_inode":1,"name":"a-very-long-name0","index":null}}}"#,
            r#"{"made":{"process":{"pid":1,"start":1}}}"#,
        ];
        let path = ledger_file(&dir.0, &(lines.join("\n") + "\n"));
        let rec = read(&path).unwrap();
        assert_eq!(rec.pending, vec![netns("ok", None)]);
        assert!(rec.objects.is_empty());
        let at: Vec<String> = rec.problems.iter().map(|p| p.split(": ").next().unwrap().to_string()).collect();
        let want: Vec<String> = (3..=6).map(|n| format!("{}:{n}", path.display())).collect();
        assert_eq!(at, want, "{:?}", rec.problems);
        assert!(rec.problems.iter().all(|p| p.ends_with("never acted on")), "{:?}", rec.problems);
    }

    #[test]
    fn bad_headers_make_the_ledger_unreadable() {
        let dir = Dir::new("headers");
        trusted_dir::ensure(&dir.0, "test ledgers").unwrap();
        let path = dir.0.join("0000aa.jsonl");
        for (text, says) in [
            ("", "it is empty"),
            ("garbage\n", "line 1 is not a lab's header"),
            (r#"{"name":"t","id":"0000bb","pid":9,"pid_start":1,"started":1}"#, "named 0000aa.jsonl"),
            (r#"{"name":"../t","id":"0000aa","pid":9,"pid_start":1,"started":1}"#, "invalid lab name"),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = read(&path).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
            let scan = scan(&dir.0);
            assert!(scan.records.is_empty());
            assert!(scan.refused[0].starts_with(&format!("{}: ", path.display())) && scan.refused[0].contains(says));
        }
    }

    #[test]
    fn only_regular_files_of_ours_of_sane_size_are_read() {
        let dir = Dir::new("kinds");
        let real = ledger_file(&dir.0, "");
        let fifo = dir.0.join("fifo.jsonl");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        std::os::unix::fs::symlink(&real, dir.0.join("link.jsonl")).unwrap();
        std::fs::create_dir(dir.0.join("dir.jsonl")).unwrap();
        let big = dir.0.join("big.jsonl");
        File::create(&big).unwrap().set_len(MAX_LEDGER_BYTES + 1).unwrap();
        // Returns (a FIFO without a writer would block a plain open for ever).
        let scan = scan(&dir.0);
        assert_eq!(scan.records.len(), 1);
        let why = |name: &str| scan.refused.iter().find(|r| r.contains(name)).cloned().unwrap_or_default();
        assert!(why("fifo.jsonl").ends_with("it is a FIFO, not a regular file: not read"), "{:?}", scan.refused);
        assert!(why("link.jsonl").ends_with("it is a symbolic link, not a regular file: not read"));
        assert!(why("dir.jsonl").ends_with("it is a directory, not a regular file: not read"));
        assert!(why("big.jsonl").contains("more than any lab writes"), "{:?}", scan.refused);
        // Another user's ledger (only root can make one to test with).
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(&real, Some(65534), None).unwrap();
            let e = read(&real).unwrap_err().to_string();
            assert!(e.contains("it belongs to uid 65534, not to you (uid 0): not read"), "{e}");
        }
    }

    #[test]
    fn a_directory_others_may_write_is_not_read_or_written() {
        let dir = Dir::new("open-dir");
        ledger_file(&dir.0, "");
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
        let scan = scan(&dir.0);
        assert!(scan.records.is_empty());
        assert!(scan.refused[0].contains("group or others may write to it (mode 0777)"), "{:?}", scan.refused);
        let e = Ledger::create(&dir.0, "t").err().expect("refused").to_string();
        assert!(e.starts_with(&format!("cannot record the lab in {}: group or others", dir.0.display())), "{e}");
        assert!(scan_missing_is_empty());
    }

    fn scan_missing_is_empty() -> bool {
        let s = scan(Path::new("/nonexistent/nslab"));
        s.records.is_empty() && s.refused.is_empty()
    }

    #[test]
    fn labs_whose_ids_mix_alike_get_different_ledgers() {
        // Two ledgers of one process in one second: the same pid, start time and start second.
        let dir = std::env::temp_dir().join(format!("nslab-ledger-ids-{}", std::process::id()));
        let first = Ledger::create(&dir, "a").unwrap();
        let second = Ledger::create(&dir, "b").unwrap();
        assert_ne!(first.header.id, second.header.id);
        assert_eq!(read(second.path.as_path()).unwrap().header.name, "b");
        first.close();
        second.close();
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn process_start_is_read_for_self() {
        assert!(process_start(std::process::id() as i32).is_some());
        assert!(process_start(i32::MAX).is_none());
    }
}
