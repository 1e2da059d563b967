//! The namespaces a lab works with: those it created (everything in them is the lab's), the
//! ones it opened by name, and its connections into them, kept open for reuse.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crate::engine::netlink::Conn;

/// An opened namespace: its file keeps it reachable, its connection is made on first use.
pub(super) struct Space {
    pub file: Rc<File>,
    pub conn: Option<Conn>,
    /// When the connection was last asked for (the lab's `clock`).
    pub used: u64,
}

/// The lab's namespaces and connections.
#[derive(Default)]
pub(super) struct Spaces {
    /// Named namespaces opened, by name.
    pub open: HashMap<String, Space>,
    /// Namespaces this lab created: everything inside them is the lab's too.
    pub owned: HashSet<String>,
    /// The connection in the namespace nslab runs in.
    pub root_conn: Option<Conn>,
    /// Counts connection requests, to close the least recently used.
    pub clock: u64,
    /// Whether /run/netns has been made ready.
    pub dir_ready: bool,
    /// How many namespaces the lab has standing, for the command line's progress line.
    pub standing: Arc<AtomicUsize>,
}
