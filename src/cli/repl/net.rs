//! `:net`: every namespace with its links, their kind, state, addresses and veth peers,
//! like Mininet's `net` and `dump`, read live from the kernel through the lab.

use crate::lab::{Lab, LabError, LinkView, Ns};

/// The root namespace first (as "root"), then each named namespace.
pub fn gather(lab: &mut Lab) -> Result<Vec<(String, Vec<LinkView>)>, LabError> {
    let mut spaces = vec![("root".to_string(), lab.links(&Ns::Root)?)];
    for name in lab.netns_list()? {
        // A namespace can vanish between listing and reading (another program deleted it).
        match lab.links(&Ns::named(&name)) {
            Ok(links) => spaces.push((name, links)),
            Err(LabError::NoSuchNetns(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(spaces)
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

pub fn render(spaces: &[(String, Vec<LinkView>)]) -> String {
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
        let text = render(&spaces);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "root");
        assert_eq!(lines[1], "  lo     -     up    127.0.0.1/8");
        assert_eq!(lines[2], "  veth0  veth  up    10.1.1.2/24  peer veth1 in netns1");
        assert_eq!(lines[4], "  lo     -     down");
        assert_eq!(lines[6], "empty  (no links)");
    }
}
