//! `:net`: the lab's namespaces with their links, their kind, state, addresses and veth peers,
//! like Mininet's `net` and `dump`, read live from the kernel through the lab. Other names in
//! /run/netns (other labs', users', half-made ones) are not shown, only counted.

use crate::lab::{Lab, LabError, LinkView, Ns};

/// What `:net` shows.
pub struct Net {
    /// "root", then the lab's namespaces (those it opened but did not create marked so).
    pub spaces: Vec<(String, Vec<LinkView>)>,
    /// The other names in /run/netns.
    pub others: Vec<String>,
}

/// Marks a namespace the lab works in but did not create.
pub const OPENED: &str = " (opened, not created by this lab)";

/// The root namespace first (as "root"), then each namespace of the lab's.
pub fn gather(lab: &mut Lab) -> Result<Net, LabError> {
    let mut spaces = vec![("root".to_string(), lab.links(&Ns::Root)?)];
    for name in lab.lab_namespaces() {
        // A namespace can vanish between listing and reading (another program deleted it).
        match lab.links(&Ns::named(&name)) {
            Ok(links) => {
                let label = if lab.created_netns(&name) { name } else { format!("{name}{OPENED}") };
                spaces.push((label, links));
            }
            Err(LabError::NoSuchNetns(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Net { spaces, others: lab.other_namespaces() })
}

fn state(l: &LinkView) -> &'static str {
    match (l.state.as_str(), l.carrier) {
        ("up", true) => "up",
        ("up", false) => "up, no carrier",
        _ => "down",
    }
}

fn relation(l: &LinkView) -> String {
    let mut parts = Vec::new();
    if !l.peer.is_empty() {
        let place = if l.peer_netns.is_empty() { String::new() } else { format!(" in {}", l.peer_netns) };
        parts.push(format!("peer {}{place}", l.peer));
    }
    if !l.master.is_empty() {
        parts.push(format!("master {}", l.master));
    }
    parts.join(", ")
}

pub fn render(net: &Net) -> String {
    let mut out = render_spaces(&net.spaces);
    if !net.others.is_empty() {
        const SHOWN: usize = 5;
        let mut names = net.others.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
        if net.others.len() > SHOWN {
            names.push_str(", ...");
        }
        let n = net.others.len();
        let what = if n == 1 { "namespace" } else { "namespaces" };
        out.push_str(&format!("\n(not shown: {n} other {what} on the host, not this lab's: {names})"));
    }
    out
}

fn render_spaces(spaces: &[(String, Vec<LinkView>)]) -> String {
    let all = spaces.iter().flat_map(|(_, links)| links.iter());
    let name_w = all.clone().map(|l| l.name.len()).max().unwrap_or(0);
    let kind_w = all.clone().map(|l| l.kind.len().max(1)).max().unwrap_or(1);
    let state_w = all.clone().map(|l| state(l).len()).max().unwrap_or(0);
    let addr_w = all.map(|l| l.addresses.join(" ").len()).max().unwrap_or(0);
    let mut out = String::new();
    for (ns, links) in spaces {
        out.push_str(ns);
        if links.is_empty() {
            out.push_str("  (no links)");
        }
        out.push('\n');
        for l in links {
            let kind = if l.kind.is_empty() { "-" } else { l.kind.as_str() };
            let line = format!(
                "  {:name_w$}  {kind:kind_w$}  {:state_w$}  {:addr_w$}  {}",
                l.name,
                state(l),
                l.addresses.join(" "),
                relation(l)
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str, kind: &str, up: bool, addrs: &[&str], peer: &str, peer_ns: &str) -> LinkView {
        LinkView {
            name: name.into(),
            index: 1,
            kind: kind.into(),
            state: if up { "up" } else { "down" }.into(),
            carrier: up && name != "veth9",
            mtu: 1500,
            mac: String::new(),
            peer: peer.into(),
            peer_netns: peer_ns.into(),
            master: String::new(),
            addresses: addrs.iter().map(|a| a.to_string()).collect(),
            ..LinkView::default()
        }
    }

    #[test]
    fn namespaces_links_states_addresses_and_peers() {
        let spaces = vec![
            (
                "root".to_string(),
                vec![
                    link("lo", "", true, &["127.0.0.1/8"], "", ""),
                    link("veth0", "veth", true, &["10.1.1.2/24"], "veth1", "netns1"),
                ],
            ),
            (
                "netns1".to_string(),
                vec![link("lo", "", false, &[], "", ""), link("veth1", "veth", true, &["10.1.1.1/24"], "veth0", "root")],
            ),
            ("empty".to_string(), vec![]),
        ];
        let text = render(&Net { spaces, others: vec![] });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "root");
        assert_eq!(lines[1], "  lo     -     up    127.0.0.1/8");
        assert_eq!(lines[2], "  veth0  veth  up    10.1.1.2/24  peer veth1 in netns1");
        assert_eq!(lines[4], "  lo     -     down");
        assert_eq!(lines[6], "empty  (no links)");
        assert_eq!(lines.len(), 7, "nothing about other namespaces when there are none");
    }

    #[test]
    fn other_namespaces_are_counted_not_shown() {
        let spaces = vec![("root".to_string(), vec![link("lo", "", true, &[], "", "")])];
        let one = render(&Net { spaces: spaces.clone(), others: vec!["theirs".into()] });
        assert_eq!(one.lines().last().unwrap(), "(not shown: 1 other namespace on the host, not this lab's: theirs)");
        let others: Vec<String> = (0..7).map(|i| format!("n{i}")).collect();
        let many = render(&Net { spaces, others });
        assert_eq!(
            many.lines().last().unwrap(),
            "(not shown: 7 other namespaces on the host, not this lab's: n0, n1, n2, n3, n4, ...)"
        );
    }
}
