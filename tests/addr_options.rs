//! Address options (`addr(..., #{nodad, valid_lft, preferred_lft, broadcast, noprefixroute,
//! peer, scope})`), `addrs()` flags and lifetimes, and `addr_flush`, checked against `ip -j addr
//! show` and `ip -j route show`; a flush of a link the lab did not create is undone at teardown.

use serde_json::Value;

use crate::support::{in_private_netns, json, run_nslab, script, sections};

fn section(s: &std::collections::HashMap<String, String>, name: &str) -> Value {
    json(s.get(name).unwrap_or_else(|| panic!("no section {name} in {s:?}")))
}

/// The `addr_info` entries of every link in `ip -j addr show` output.
fn addr_infos(v: &Value) -> Vec<Value> {
    v.as_array().unwrap().iter().flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default()).collect()
}

fn info<'a>(infos: &'a [Value], local: &str) -> &'a Value {
    infos.iter().find(|a| a["local"] == local).unwrap_or_else(|| panic!("no address {local} in {infos:?}"))
}

#[test]
fn options_are_what_ip_addr_shows() {
    let path = script(
        "addr-opts",
        "lab.rhai",
        r#"
        let n = netns_add("n");
        veth(n, "v0", "v1");
        up(n, "v0"); up(n, "v1");
        addr(n, "v0", "fd00::1/64", #{nodad: true});
        addr(n, "v0", "fd00::2/64");
        // Read at once: DAD has not had time to end for fd00::2.
        let now = addrs(n).filter(|a| a.link == "v0");
        let one = |ip| now.filter(|a| a.address == ip)[0];
        assert(one.call("fd00::1").flags.contains("nodad") && !one.call("fd00::1").flags.contains("tentative"), `${now}`);
        assert(one.call("fd00::2").flags.contains("tentative"), `${now}`);
        addr(n, "v0", "10.1.0.1/24", #{valid_lft: 100, preferred_lft: 50});
        n.addr("v0", "10.2.0.1/24", #{valid_lft: 300});
        addr(n, "v0", "10.3.0.1/24", #{broadcast: "+", preferred_lft: 0});
        addr(n, "v0", "10.4.0.1/24", #{broadcast: "10.4.0.9", noprefixroute: true});
        addr(n, "v0", "10.5.0.1/32", #{peer: "10.5.0.2", scope: "link"});
        addr(n, "v0", "10.6.0.1/24", #{scope: 77, valid_lft: "forever"});
        addr(n, "v0", "10.7.0.1/24", #{scope: "host"});
        let a = addrs(n).filter(|a| a.link == "v0");
        let one = |ip| a.filter(|x| x.address == ip)[0];
        let l = one.call("10.1.0.1");
        assert(l.valid_lft <= 100 && l.valid_lft >= 98 && l.preferred_lft <= 50 && l.flags.contains("dynamic"), `${l}`);
        assert(one.call("10.2.0.1").preferred_lft == one.call("10.2.0.1").valid_lft, "only valid_lft: preferred as long");
        assert(one.call("10.3.0.1").flags.contains("deprecated") && one.call("10.3.0.1").valid_lft == "forever");
        assert(one.call("10.3.0.1").broadcast == "10.3.0.255");
        assert(one.call("10.4.0.1").flags.contains("noprefixroute") && one.call("10.4.0.1").broadcast == "10.4.0.9");
        let p = one.call("10.5.0.1");
        assert(p.peer == "10.5.0.2" && p.scope == "link" && p.prefix == 32, `${p}`);
        assert(one.call("10.6.0.1").scope == "77" && one.call("10.6.0.1").flags.contains("permanent"));
        assert(one.call("10.7.0.1").scope == "host");
        assert(one.call("10.7.0.1").valid_lft == "forever" && one.call("10.7.0.1").preferred_lft == "forever");
        print("=addrs"); print(exec(n, "ip -j addr show dev v0").stdout);
        print("=routes"); print(exec(n, "ip -j route show").stdout);
        // Duplicate address detection that fails: the peer already has the address.
        addr(n, "v1", "fd00::7/64", #{nodad: true});
        addr(n, "v0", "fd00::7/64");
        wait_until(|| addrs(n).some(|a| a.link == "v0" && a.address == "fd00::7" && a.flags.contains("dadfailed")), 10);
        print("=dad"); print(exec(n, "ip -j addr show dev v0").stdout);
        let flushed = addr_flush(n, "v0");
        print("=flushed"); print(flushed);
        assert(!addrs(n).some(|a| a.link == "v0"));
        assert(addrs(n).some(|a| a.link == "v1"), "only that link's");
        print("=after"); print(exec(n, "ip -j addr show dev v0").stdout);
        "#,
    );
    let run = run_nslab(&["run", "--sandbox", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    let infos = addr_infos(&section(&s, "addrs"));
    let nodad = info(&infos, "fd00::1");
    assert_eq!((nodad["nodad"].as_bool(), nodad.get("tentative")), (Some(true), None), "{nodad}");
    let l = info(&infos, "10.1.0.1");
    assert!(l["valid_life_time"].as_u64().unwrap() <= 100 && l["preferred_life_time"].as_u64().unwrap() <= 50, "{l}");
    assert_eq!(l["dynamic"], true);
    let l = info(&infos, "10.2.0.1");
    assert_eq!(l["valid_life_time"], l["preferred_life_time"], "{l}");
    let l = info(&infos, "10.3.0.1");
    // Valid forever makes it permanent: the kernel then shows no finite lifetime, only the flag.
    assert_eq!((l["broadcast"].as_str(), l["deprecated"].as_bool()), (Some("10.3.0.255"), Some(true)), "{l}");
    let l = info(&infos, "10.4.0.1");
    assert_eq!((l["broadcast"].as_str(), l["noprefixroute"].as_bool()), (Some("10.4.0.9"), Some(true)), "{l}");
    let l = info(&infos, "10.5.0.1");
    assert_eq!(
        (l["address"].as_str(), l["scope"].as_str(), l["prefixlen"].as_u64()),
        (Some("10.5.0.2"), Some("link"), Some(32)),
        "{l}"
    );
    assert_eq!(info(&infos, "10.6.0.1")["scope"], "77");
    assert_eq!(info(&infos, "10.7.0.1")["scope"], "host");
    let routes = section(&s, "routes");
    let dsts: Vec<&str> = routes.as_array().unwrap().iter().map(|r| r["dst"].as_str().unwrap()).collect();
    assert!(dsts.contains(&"10.1.0.0/24") && !dsts.contains(&"10.4.0.0/24"), "noprefixroute adds no route: {routes}");
    let dad = addr_infos(&section(&s, "dad"));
    assert_eq!(info(&dad, "fd00::7")["dadfailed"], true, "{dad:?}");
    // fd00::1, fd00::2, fd00::7, the link-local one, and seven IPv4 addresses.
    assert_eq!(s["flushed"].trim(), "11", "{s:?}");
    assert!(addr_infos(&section(&s, "after")).is_empty(), "{s:?}");
}

#[test]
fn a_flush_of_a_link_the_lab_did_not_create_is_undone() {
    let path = script(
        "addr-flush-foreign",
        "lab.rhai",
        r#"
        addr("h0", "10.0.0.9/24");
        addr("h0", "10.9.0.1/24", #{noprefixroute: true});
        print("=flushed"); print(addr_flush("h0"));
        assert(!addrs().some(|a| a.link == "h0"));
        // The lab's own again, after the flush: it goes at teardown, the flushed ones come back.
        addr("h0", "10.0.0.1/24");
        print("=during"); print(exec("ip -j addr show dev h0").stdout);
        "#,
    );
    let run = in_private_netns(&format!(
        r#"set -e
        ip link add h0 type veth peer name h1
        ip addr add 10.0.0.1/24 dev h0
        ip addr add 10.0.0.2/24 dev h0
        ip addr add 10.5.0.1 peer 10.5.0.2/32 dev h0 scope link
        ip addr add fd00::1/64 dev h0 nodad noprefixroute
        set +e
        echo =before; ip -j addr show dev h0
        $NSLAB run {} 2>/run/tmp/report
        echo =report; cat /run/tmp/report
        echo =back; ip -j addr show dev h0
        echo =routes; ip -j route show"#,
        path.display()
    ));
    assert_eq!(run.code, 0, "{run:?}");
    let s = sections(&run.stdout);
    assert_eq!(s["flushed"].trim(), "6", "four of the host's, two of the lab's: {s:?}");
    let during = section(&s, "during");
    assert_eq!(addr_infos(&during).len(), 1, "{during}");
    assert_eq!(s["report"].trim(), "torn down: 1 address, 4 flushed addresses put back", "{run:?}");
    let before = addr_infos(&section(&s, "before"));
    let back = addr_infos(&section(&s, "back"));
    let key = |a: &Value| {
        let flags: Vec<&str> = ["secondary", "nodad", "noprefixroute"].into_iter().filter(|f| a[*f] == true).collect();
        format!("{} {} {} {} {:?}", a["local"], a["address"], a["prefixlen"], a["scope"], flags)
    };
    assert_eq!(
        back.iter().map(key).collect::<Vec<_>>(),
        before.iter().map(key).collect::<Vec<_>>(),
        "put back as they were, primary first"
    );
    assert!(!back.iter().any(|a| a["local"] == "10.0.0.9" || a["local"] == "10.9.0.1"), "the lab's own stay gone: {back:?}");
}
