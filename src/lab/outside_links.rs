//! The lab's links outside its own namespaces, removed at teardown by their link group: one
//! RTM_DELLINK per namespace (`Conn::del_link_group`) instead of one per link, and without
//! waiting for the kernel's namespace cleanup to take a veth end whose peer's namespace is
//! deleted. That cleanup is one work queue for the whole machine: behind another lab's
//! teardown it took 100+ ms to reach a walkthrough's one root-side veth. Deleting a link costs
//! the requester one RCU barrier (`netdev_run_todo`), however many links one request deletes,
//! so per-link deletes cost N barriers and the group delete one; and the links are out of sight
//! before that barrier, so the request is sent by a child that waits it out alone
//! (`engine::group_delete`). Numbers: docs/kernel-notes.md.
//!
//! Identity: every link nslab makes outside its namespaces carries the lab's link group from
//! birth (`Header::link_group`). A namespace's group is deleted only when every link carrying
//! it is one the ledger lists (by ifindex and name, or by name where the index was never
//! noted). A link that carries the group but is not the lab's (someone set it) is left as it
//! is and said so, and the lab's links there go one by one, each identity-checked, as before.
//! (In the moment between the listing and the delete, only someone with CAP_NET_ADMIN there
//! who stamps the lab's group onto a link of theirs could have it deleted.)

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::thread::JoinHandle;

use nix::errno::Errno;

use super::ledger::Object;
use super::teardown::TeardownReport;
use crate::engine::group_delete;
use crate::engine::netlink::{Conn, LinkInfo};
use crate::engine::netns::{self, AtName};

/// A group removal, done or running on its own thread while teardown unmounts the lab's
/// namespaces (the delete sleeps in an RCU barrier meanwhile).
pub(super) struct Pending(Option<Removal>);

enum Removal {
    Running(JoinHandle<Outcome>),
    Done(Outcome),
}

/// What the group removal did: the positions (in the teardown's objects) of the link records it
/// settled (deleted, or already gone), and the report lines to add.
#[derive(Default)]
pub(super) struct Outcome {
    pub settled: HashSet<usize>,
    pub report: TeardownReport,
}

/// One lab link record outside the lab's namespaces.
#[derive(Clone)]
struct Record {
    pos: usize,
    name: String,
    index: Option<u32>,
    /// Its veth peer is in a lab namespace that is gone or about to go (then, in a sandbox,
    /// it needs no delete: it goes with its peer's namespace or with the sandbox).
    vanishing: bool,
}

/// A record of something on a link outside the lab's namespaces (by ifindex): it goes with the
/// link.
#[derive(Clone)]
struct Attached {
    pos: usize,
    /// The links it is on (a multipath route's every path).
    indexes: Vec<u32>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Addr,
    Route,
    Qdisc,
}

/// One namespace's share: its recorded inode, the lab's links there and what is on them.
struct Space {
    inode: u64,
    links: Vec<Record>,
    attached: Vec<Attached>,
}

/// Starts removing the lab's links outside its namespaces by `group`, on a thread of its own.
/// `deleting`: the namespaces this teardown deletes. `overlap`: teardown has other work to do
/// meanwhile (else the removal is done at once: starting and ending a thread costs more than
/// nothing on a busy machine). Nothing starts without a group or without such links.
pub(super) fn start(objects: &[Object], home: &File, group: Option<u32>, deleting: &HashSet<&str>, overlap: bool) -> Pending {
    let Some(group) = group else { return Pending(None) };
    // Per namespace (None: where nslab runs), with its recorded inode.
    let mut spaces: BTreeMap<Option<String>, Space> = BTreeMap::new();
    for (pos, obj) in objects.iter().enumerate() {
        let Object::Link { ns, ns_inode, name, index, peer_ns } = obj else { continue };
        let vanishing = peer_ns.as_deref().is_some_and(|p| deleting.contains(p) || matches!(netns::at_name(p), AtName::Missing));
        let space =
            spaces.entry(ns.clone()).or_insert_with(|| Space { inode: *ns_inode, links: Vec::new(), attached: Vec::new() });
        space.links.push(Record { pos, name: name.clone(), index: *index, vanishing });
    }
    // In a sandbox what vanishes with its peer's namespace (or with the sandbox, which ends with
    // nslab) is seen by nobody: a namespace holding only such links needs no delete.
    let sandboxed = crate::engine::sandbox::entered();
    spaces.retain(|_, space| !sandboxed || space.links.iter().any(|r| !r.vanishing));
    for (pos, obj) in objects.iter().enumerate() {
        let (ns, inode, indexes, kind) = match obj {
            Object::Addr { ns, ns_inode: Some(inode), index: Some(i), .. } => (ns, *inode, vec![*i], Kind::Addr),
            Object::Route { ns, ns_inode, dev: Some(i), .. } => (ns, *ns_inode, vec![*i], Kind::Route),
            // A multipath route goes with its links when every one of its paths does.
            Object::Route { ns, ns_inode, dev: None, nexthops, .. }
                if !nexthops.is_empty() && nexthops.iter().all(|h| h.dev.is_some()) =>
            {
                (ns, *ns_inode, nexthops.iter().filter_map(|h| h.dev).collect(), Kind::Route)
            }
            Object::Qdisc { ns, ns_inode, index, .. } => (ns, *ns_inode, vec![*index], Kind::Qdisc),
            _ => continue,
        };
        if let Some(space) = spaces.get_mut(ns).filter(|s| s.inode == inode) {
            space.attached.push(Attached { pos, indexes, kind });
        }
    }
    if spaces.is_empty() {
        return Pending(None);
    }
    if !overlap {
        return Pending(Some(Removal::Done(run(&spaces, home, group))));
    }
    let Ok(home) = home.try_clone() else { return Pending(None) };
    Pending(Some(Removal::Running(std::thread::spawn(move || run(&spaces, &home, group)))))
}

impl Pending {
    /// Waits for the removal to finish and adds what it did to `report`.
    pub(super) fn finish(self, report: &mut TeardownReport) -> HashSet<usize> {
        let done = match self.0 {
            None => return HashSet::new(),
            Some(Removal::Done(done)) => Ok(done),
            Some(Removal::Running(thread)) => thread.join(),
        };
        match done {
            Ok(done) => {
                report.links += done.report.links;
                report.addrs += done.report.addrs;
                report.routes += done.report.routes;
                report.qdiscs += done.report.qdiscs;
                report.left.extend(done.report.left);
                report.failures.extend(done.report.failures);
                done.settled
            }
            // Nothing settled: every link goes the one-by-one way.
            Err(_) => HashSet::new(),
        }
    }
}

fn run(spaces: &BTreeMap<Option<String>, Space>, home: &File, group: u32) -> Outcome {
    let mut out = Outcome::default();
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return out };
    let _guard = rt.enter();
    for (ns, space) in spaces {
        let records = &space.links;
        // Only the namespace the links were made in; anything else at the name is left to the
        // one-by-one path, which says so.
        let opened = super::moved::open_checked(ns, space.inode, home);
        let Some(file) = opened else { continue };
        let Ok(conn) = Conn::open(file.as_ref(), home) else { continue };
        let Ok(links) = rt.block_on(conn.links()) else { continue };
        let plan = plan(&links, records, group);
        let place = super::moved::describe_ns(ns);
        for link in &plan.strangers {
            out.report.left.push(format!(
                "link {} (ifindex {}) in {place}: it carries the lab's link group {group:#x} but the lab never made it: left as is",
                link.name, link.index
            ));
        }
        // A link gone with its peer's namespace was the lab's and is gone: counted, so the
        // count does not depend on how fast the kernel cleaned that namespace up.
        out.report.links += records.iter().filter(|r| r.vanishing && plan.absent.contains(&r.pos)).count();
        out.settled.extend(plan.absent.iter().copied());
        if plan.members.is_empty() || !plan.strangers.is_empty() {
            continue;
        }
        let members: Vec<usize> = plan.members.iter().map(|(pos, _)| *pos).collect();
        let named: Vec<(u32, String)> = links.iter().filter(|l| l.group == group).map(|l| (l.index, l.name.clone())).collect();
        match group_delete::delete(file.as_ref(), home, group, &named) {
            Ok(()) => {
                out.report.links += counted(&links, &plan.members);
                out.settled.extend(members);
                // Addresses, routes and qdiscs the lab put on those links went with them.
                let deleted: HashSet<u32> = plan.members.iter().map(|(_, index)| *index).collect();
                for a in space.attached.iter().filter(|a| a.indexes.iter().all(|i| deleted.contains(i))) {
                    match a.kind {
                        Kind::Addr => out.report.addrs += 1,
                        Kind::Route => out.report.routes += 1,
                        Kind::Qdisc => out.report.qdiscs += 1,
                    }
                    out.settled.insert(a.pos);
                }
            }
            // Gone meanwhile, with a namespace the kernel was cleaning up: the lab's all the same.
            Err(e) if e.code() == Some(Errno::ENODEV) => {
                out.report.links += counted(&links, &plan.members);
                out.settled.extend(members);
            }
            // Anything else: the one-by-one path tries each link and reports what fails.
            Err(_) => {}
        }
    }
    out
}

/// How many links the report counts for `members`: a veth pair with both ends here counts once,
/// as when one end is deleted and takes the other with it.
fn counted(links: &[LinkInfo], members: &[(usize, u32)]) -> usize {
    let indexes: HashSet<u32> = members.iter().map(|(_, i)| *i).collect();
    let second_ends = links
        .iter()
        .filter(|l| l.kind == "veth" && indexes.contains(&l.index) && l.peer_netnsid.is_none())
        .filter(|l| l.peer_index.is_some_and(|p| p < l.index && indexes.contains(&p)))
        .count();
    members.len() - second_ends
}

/// What one namespace's listing says about the lab's records there.
#[derive(Debug, Default, PartialEq)]
struct Plan {
    /// Records whose link carries the group now (with its ifindex): what the group delete removes.
    members: Vec<(usize, u32)>,
    /// Records whose link is not there any more.
    absent: Vec<usize>,
    /// Links carrying the group that no record accounts for.
    strangers: Vec<LinkInfo>,
}

/// Matches a namespace's links against the lab's records: a link in the group is the lab's when
/// a record names it by ifindex and name, or by name where the ifindex was never noted. A
/// record whose link is there but outside the group (someone changed it) is in no list: the
/// one-by-one path decides about it.
fn plan(links: &[LinkInfo], records: &[Record], group: u32) -> Plan {
    let mut plan = Plan::default();
    let mut claimed = HashSet::new();
    for link in links.iter().filter(|l| l.group == group) {
        let owner = records.iter().find(|r| r.name == link.name && r.index.is_none_or(|i| i == link.index));
        match owner {
            Some(r) if claimed.insert(r.pos) => plan.members.push((r.pos, link.index)),
            _ => plan.strangers.push(link.clone()),
        }
    }
    for r in records {
        let present = links.iter().any(|l| match r.index {
            Some(i) => l.index == i,
            None => l.name == r.name,
        });
        if !present {
            plan.absent.push(r.pos);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: u32 = 0x6e00_0abc;

    fn link(index: u32, name: &str, group: u32) -> LinkInfo {
        LinkInfo {
            index,
            name: name.into(),
            kind: "veth".into(),
            up: true,
            lower_up: true,
            operstate: "up".into(),
            mtu: 1500,
            mac: String::new(),
            peer_index: None,
            peer_netnsid: None,
            master: None,
            group,
            ..LinkInfo::default()
        }
    }

    fn record(pos: usize, name: &str, index: Option<u32>) -> Record {
        Record { pos, name: name.into(), index, vanishing: false }
    }

    #[test]
    fn the_group_goes_when_every_member_is_recorded() {
        let links = [link(1, "lo", 0), link(7, "veth0", G), link(9, "up0", G), link(4, "eth0", 0)];
        let records = [record(3, "veth0", Some(7)), record(5, "up0", None), record(8, "gone0", Some(12))];
        let p = plan(&links, &records, G);
        assert_eq!(p.members, vec![(3, 7), (5, 9)]);
        assert_eq!(p.absent, vec![8]);
        assert!(p.strangers.is_empty());
    }

    #[test]
    fn a_link_carrying_the_group_that_no_record_names_is_a_stranger() {
        // Same name as a record but another ifindex (a namesake made since), and one nobody noted.
        let links = [link(7, "veth0", G), link(8, "veth9", G), link(11, "other", G + 1)];
        let records = [record(3, "veth0", Some(6))];
        let p = plan(&links, &records, G);
        assert!(p.members.is_empty());
        assert_eq!(p.strangers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["veth0", "veth9"]);
        // The record's ifindex 6 is not there: its link is gone.
        assert_eq!(p.absent, vec![3]);
    }

    #[test]
    fn a_pair_with_both_ends_here_counts_once() {
        let mut a = link(7, "r0", G);
        let mut b = link(8, "r1", G);
        let mut c = link(9, "r2", G);
        (a.peer_index, b.peer_index) = (Some(8), Some(7));
        // r2's peer is in another namespace (its id there): counted on its own.
        (c.peer_index, c.peer_netnsid) = (Some(8), Some(0));
        assert_eq!(counted(&[a, b, c], &[(1, 7), (2, 8), (3, 9)]), 2);
    }

    #[test]
    fn a_recorded_link_whose_group_was_changed_is_left_to_the_one_by_one_path() {
        let links = [link(7, "veth0", 0)];
        let records = [record(3, "veth0", Some(7))];
        assert_eq!(plan(&links, &records, G), Plan::default());
    }
}
