//! What a lab knows of links: which it made outside its own namespaces, their indexes (a cache
//! of the kernel's answers), veth peers, the bridges it made, and the next index it chooses.

use std::collections::{HashMap, HashSet};

use super::Ns;

/// A link by namespace (None: nslab's own) and name.
pub(super) type LinkKey = (Option<String>, String);

/// The lab's knowledge of links.
pub(super) struct LinkBook {
    /// Links the lab created outside its own namespaces.
    pub made: HashSet<LinkKey>,
    /// Ifindexes looked up or chosen.
    pub indexes: HashMap<LinkKey, u32>,
    /// Veth peers the lab knows of, both directions.
    pub peers: HashMap<LinkKey, LinkKey>,
    /// Bridges the lab created (wherever), brought down before teardown (see `quiesce_bridges`).
    pub bridges: Vec<(Ns, String)>,
    /// The lab's namespaces holding a vxlan it made from another namespace (whose UDP socket
    /// and VNI stay taken there until the link goes: deleted before teardown, `cut_tunnels`).
    pub tunnels: HashSet<String>,
    /// The next ifindex nslab gives a link it creates (see `ifindex.rs`).
    pub next_index: u32,
}

impl LinkBook {
    pub fn new() -> LinkBook {
        LinkBook {
            made: HashSet::new(),
            indexes: HashMap::new(),
            peers: HashMap::new(),
            bridges: Vec::new(),
            tunnels: HashSet::new(),
            next_index: super::ifindex::FIRST_CHOSEN_INDEX,
        }
    }

    /// Forgets everything about the links of namespace `ns` (it is gone).
    pub fn forget_ns(&mut self, ns: &Option<String>) {
        self.indexes.retain(|(n, _), _| n != ns);
        self.peers.retain(|(n, _), (pn, _)| n != ns && pn != ns);
        if let Some(n) = ns {
            self.tunnels.remove(n);
        }
    }
}
