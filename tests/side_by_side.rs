//! Labs side by side: many host-mode labs in one namespace, next to other labs' and users'
//! namespaces and links. Each test runs nslab without `--sandbox` inside a private network +
//! mount namespace with its own /run, and checks the kernel's view with `ip -j`.

use crate::support::{cpu_heavy, in_private_netns, json, scratch, sections, unwrap};

fn names(v: &serde_json::Value, key: &str) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|x| x[key].as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

/// `ip -j` prints nothing at all for an empty list of namespaces.
fn json_list(text: &str) -> serde_json::Value {
    if text.trim().is_empty() {
        serde_json::Value::Array(vec![])
    } else {
        json(text)
    }
}

/// A link from `ip -j link` output by name.
fn link<'a>(links: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    links.as_array().unwrap().iter().find(|l| l["ifname"] == name).unwrap_or_else(|| panic!("no link {name} in {links}"))
}

/// One of twenty labs: two namespaces joined by a veth; a veth from the root namespace into the
/// lab (asked for root side first); a pair made in the root namespace with one end then moved
/// into the lab (the `p3a`/`p3b` of the report); and a pair left in the root namespace. Every
/// lab numbers the same way, so before numbers were chosen only in the lab's own namespaces,
/// their root-side ends collided.
fn lab_script(i: u32) -> String {
    format!(
        r#"
        let a = netns_add("s{i}a");
        let b = netns_add("s{i}b");
        a.up("lo");
        b.up("lo");
        veth(a, "e0", b, "e0", #{{up: true}});
        a.addr("e0", "10.{i}.0.1/24");
        b.addr("e0", "10.{i}.0.2/24");
        veth(root(), "h{i}", a, "up0");
        addr("h{i}", "10.{i}.1.2/24");
        a.addr("up0", "10.{i}.1.1/24");
        up("h{i}");
        a.up("up0");
        veth("p{i}a", "p{i}b");
        move_to("p{i}a", b);
        b.addr("p{i}a", "10.{i}.2.1/24");
        addr("p{i}b", "10.{i}.2.2/24");
        b.up("p{i}a");
        up("p{i}b");
        veth("q{i}a", "q{i}b");
        up("q{i}a");
        assert(ping("10.{i}.1.1").ok);
        assert(ping("10.{i}.2.1").ok);
        assert(a.ping("10.{i}.0.2").ok);
        // Numbers: chosen (4096 and up) in the lab's namespaces, the kernel's in the root one,
        // and never shared by the two ends of a pair.
        let pairs = [[a, "e0", b, "e0"], [root(), "h{i}", a, "up0"], [b, "p{i}a", root(), "p{i}b"]];
        for p in pairs {{
            let x = link(p[0], p[1]);
            let y = link(p[2], p[3]);
            assert(x.index != y.index, `${{p[1]}} and ${{p[3]}} share ${{x.index}}`);
        }}
        for l in [link(a, "e0"), link(b, "e0"), link(a, "up0"), link(b, "p{i}a")] {{
            assert(l.index >= 4096, `${{l.name}} is numbered ${{l.index}}`);
        }}
        for l in [link("h{i}"), link("p{i}b"), link("q{i}a"), link("q{i}b")] {{
            assert(l.index < 4096, `${{l.name}} in the root namespace is numbered ${{l.index}} by the lab`);
        }}
        "#
    )
}

#[test]
fn twenty_host_mode_labs_at_once_all_pass_and_tear_down() {
    let _cpu = cpu_heavy();
    let dir = scratch("side-by-side-20");
    for i in 1..=20 {
        std::fs::write(dir.join(format!("lab{i}.rhai")), lab_script(i)).unwrap();
    }
    let run = in_private_netns(&format!(
        r#"cd {d}
        for i in $(seq 1 20); do ($NSLAB run lab$i.rhai > out$i 2>&1; echo "status $?" >> out$i) & done
        wait
        for i in $(seq 1 20); do echo "=lab$i"; cat out$i; done
        echo "=netns"; ip -j netns list
        echo "=links"; ip -j link
        echo "=ledgers"; ls -A /run/nslab"#,
        d = dir.display()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let s = sections(&run.stdout);
    for i in 1..=20 {
        let out = &s[&format!("lab{i}")];
        assert!(out.ends_with("status 0\n"), "lab {i} failed: {out}\n{run:?}");
        assert!(out.contains("torn down: 2 namespaces"), "lab {i}: {out}");
    }
    assert_eq!(json_list(&s["netns"]), serde_json::json!([]), "{run:?}");
    assert_eq!(names(&json(&s["links"]), "ifname"), ["lo"], "{run:?}");
    assert_eq!(s["ledgers"].trim(), "", "{run:?}");
}

#[test]
fn whole_lab_operations_see_only_the_labs_namespaces() {
    let dir = scratch("side-by-side-own");
    let other = r#"
        let b = netns_add("b1");
        veth(b, "e0", root(), "rb", #{up: true});
        b.addr("e0", "10.30.0.2/24");
        addr("rb", "10.30.0.1/24");
    "#;
    let mine = r#"
        let a1 = netns_add("a1");
        let a2 = netns_add("a2");
        veth(a1, "e0", a2, "e0", #{up: true});
        a1.addr("e0", "10.31.0.1/24");
        a2.addr("e0", "10.31.0.2/24");
        // Opened, not created: used, but not the lab's to probe as a whole.
        netns("foreign").up("lo");
        let r = pingall(#{timeout: 2});
        print(`=pingall ${r.namespaces} ${r.ok} ${r.sent} ${r.received}`);
        print(`=netns_list ${netns_list()}`);
    "#;
    std::fs::write(dir.join("other.rhai"), other).unwrap();
    std::fs::write(dir.join("mine.rhai"), mine).unwrap();
    let run = in_private_netns(&format!(
        r#"cd {d}
        ip netns add foreign && ip -n foreign link add f0 type veth peer name f1 && \
          ip -n foreign addr add 10.32.0.1/24 dev f0 && ip -n foreign link set f0 up || exit 8
        $NSLAB run --keep --name other other.rhai 2>&1 || exit 9
        # What an interrupted (or still running) `ip netns add` leaves: an empty file.
        touch /run/netns/half
        printf ':net\n' | $NSLAB run -i mine.rhai 2>&1; echo "=status"; echo $?
        echo "=down"; $NSLAB down other 2>&1
        echo "=netns"; ip -j netns list
        echo "=links"; ip -j link
        echo "=ledgers"; ls -A /run/nslab"#,
        d = dir.display()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let s = sections(&run.stdout);
    assert_eq!(s["status"].trim(), "0", "{run:?}");
    assert!(run.stdout.contains("=pingall [\"a1\", \"a2\"] true 2 2"), "only a1 and a2 take part: {run:?}");
    assert!(
        run.stdout.contains(r#"=netns_list ["a1", "a2", "b1", "foreign", "half"]"#),
        "netns_list() still lists the host's names: {run:?}"
    );
    // :net shows the lab's namespaces, marks the one it only opened, and counts the others.
    let net = &run.stdout[run.stdout.find("root\n").expect(":net printed")..];
    let heads: Vec<&str> = net.lines().filter(|l| !l.starts_with(' ') && !l.starts_with('=')).collect();
    assert_eq!(
        heads[..5],
        [
            "root",
            "a1",
            "a2",
            "foreign (opened, not created by this lab)",
            "(not shown: 2 other namespaces on the host, not this lab's: b1, half)"
        ],
        "{run:?}"
    );
    assert!(net.contains("  rb  "), ":net shows the root namespace's links: {net}");
    let mut netns = names(&json_list(&s["netns"]), "name");
    netns.sort();
    assert_eq!(netns, ["foreign", "half"], "the labs removed their own namespaces only: {run:?}");
    assert_eq!(names(&json(&s["links"]), "ifname"), ["lo"], "{run:?}");
    assert_eq!(s["ledgers"].trim(), "", "{run:?}");
}

#[test]
fn veth_numbers_taken_behind_the_labs_back_are_skipped() {
    let dir = scratch("side-by-side-taken");
    let text = r#"
        let a = netns_add("a");
        let b = netns_add("b");
        // Links made behind the lab's back in its namespaces, at the numbers it would choose
        // next: the first end's (EEXIST: the request then names an existing device) ...
        exec_in(a, "ip link add x0 index 4096 type veth peer name x1");
        veth(a, "e0", b, "e0");
        // ... and the peer's (EBUSY). Pairs are numbered from one counter, two at a time.
        let next = link(b, "e0").index + 2;
        exec_in(b, `ip link add y0 index ${next} type veth peer name y1`);
        veth(a, "e1", b, "e1");
    "#;
    std::fs::write(dir.join("taken.rhai"), text).unwrap();
    let run = in_private_netns(&format!(
        r#"cd {d}
        $NSLAB run --keep --name taken taken.rhai 2>&1; echo "=status"; echo $?
        echo "=a"; ip -n a -j link
        echo "=b"; ip -n b -j link
        echo "=down"; $NSLAB down taken 2>&1
        echo "=netns"; ip -j netns list"#,
        d = dir.display()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let s = sections(&run.stdout);
    assert_eq!(s["status"].trim(), "0", "{run:?}");
    let (a, b) = (json(&s["a"]), json(&s["b"]));
    assert_eq!(link(&a, "x0")["ifindex"], 4096, "the foreign link kept its number: {run:?}");
    let foreign: Vec<&serde_json::Value> = ["x0", "x1"].iter().map(|n| &link(&a, n)["ifindex"]).collect();
    let foreign_b: Vec<&serde_json::Value> = ["y0", "y1"].iter().map(|n| &link(&b, n)["ifindex"]).collect();
    for end in ["e0", "e1"] {
        let (x, y) = (link(&a, end), link(&b, end));
        assert_eq!(x["link_index"], y["ifindex"], "{end} in a is {end} in b's peer: {run:?}");
        assert_ne!(x["ifindex"], y["ifindex"], "the ends of {end} share a number: {run:?}");
        assert!(!foreign.contains(&&x["ifindex"]) && !foreign_b.contains(&&y["ifindex"]), "{end}: {run:?}");
        assert!(x["ifindex"].as_u64().unwrap() >= 4096 && y["ifindex"].as_u64().unwrap() >= 4096, "{run:?}");
    }
    assert!(s["down"].contains("torn down: 2 namespaces"), "{run:?}");
    assert_eq!(json_list(&s["netns"]), serde_json::json!([]), "{run:?}");
}

#[test]
fn a_veth_end_the_kernel_numbers_like_its_peer_is_made_again() {
    let dir = scratch("side-by-side-shared");
    let text = r#"
        let a = netns_add("a");
        // In f (not the lab's) the kernel numbers the peer: 4096, the first number the lab
        // gives its own end in a.
        let f = netns("f");
        assert(link(f, "v2047").index == 4095, "f's next number is 4096");
        veth(a, "e0", f, "e0");
        veth(f, "e1", a, "e1");
    "#;
    std::fs::write(dir.join("shared.rhai"), text).unwrap();
    // After lo (1), each pair takes two numbers: 2047 pairs leave f's next one at 4096.
    let batch: String =
        (1..=2047).map(|i| format!("link add v{i} numtxqueues 1 type veth peer name w{i} numtxqueues 1\n")).collect();
    std::fs::write(dir.join("batch"), batch).unwrap();
    let run = in_private_netns(&format!(
        r#"cd {d}
        ip netns add f && ip -n f -batch batch || exit 8
        $NSLAB run --keep --name shared shared.rhai 2>&1; echo "=status"; echo $?
        echo "=a"; ip -n a -j link
        echo "=f"; ip -n f -j link show e0; ip -n f -j link show e1
        echo "=down"; $NSLAB down shared 2>&1
        echo "=left"; ip -j netns list; ip -n f -j link show e0"#,
        d = dir.display()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let s = sections(&run.stdout);
    assert_eq!(s["status"].trim(), "0", "{run:?}");
    let a = json(&s["a"]);
    let f: Vec<serde_json::Value> = s["f"].lines().map(json).collect();
    for (end, theirs) in [("e0", &f[0][0]), ("e1", &f[1][0])] {
        let mine = link(&a, end);
        assert_eq!(mine["link_index"], theirs["ifindex"], "{end}: {run:?}");
        assert_ne!(mine["ifindex"], theirs["ifindex"], "the ends of {end} share a number: {run:?}");
        assert!(mine["ifindex"].as_u64().unwrap() >= 4096, "the lab numbers its own end of {end}: {run:?}");
    }
    assert!(s["down"].contains("torn down: 1 namespace"), "{run:?}");
    assert!(s["left"].contains("\"name\":\"f\""), "f stays: {run:?}");
    assert!(run.stderr.contains("Device \"e0\" does not exist"), "e0 went with a: {run:?}");
}

/// A ledger of a lab that is creating `object` right now: `pid` runs (with `start`, its start
/// time) and its ledger announces the object without recording it as made.
fn fake_ledger(id: &str, pid: &str, start: &str, object: &str) -> String {
    format!(
        r#"printf '%s\n' '{{"name":"other","id":"{id}","pid":'{pid}',"pid_start":'{start}',"started":1}}' \
          '{{"intent":{object}}}' > /run/nslab/{id}.jsonl && chmod 600 /run/nslab/{id}.jsonl"#
    )
}

#[test]
fn a_clash_with_a_name_another_lab_is_creating_names_that_lab() {
    let dir = scratch("side-by-side-pending");
    std::fs::write(dir.join("ns.rhai"), r#"netns_add("busy");"#).unwrap();
    std::fs::write(dir.join("link.rhai"), r#"veth("hx", "zz");"#).unwrap();
    std::fs::write(dir.join("half.rhai"), r#"netns_add("half");"#).unwrap();
    let run = in_private_netns(&format!(
        r#"cd {d}
        sleep 1001 & S=$!
        ST=$(cut -d' ' -f22 /proc/$S/stat)
        {live_ns}
        {live_link}
        ip netns add busy && ip link add hx type veth peer name hy || exit 8
        echo "=ns"; $NSLAB run ns.rhai 2>&1
        echo "=link"; $NSLAB run link.rhai 2>&1
        kill $S; wait $S
        echo "=ns-dead"; $NSLAB run ns.rhai 2>&1
        touch /run/netns/half
        echo "=half"; $NSLAB run half.rhai 2>&1
        echo "=netns"; ip -j netns list
        echo "=links"; ip -j link"#,
        d = dir.display(),
        live_ns = fake_ledger("abc123", "$S", "$ST", r#"{"netns":{"name":"busy","inode":null}}"#),
        live_link = fake_ledger("abc124", "$S", "$ST", r#"{"link":{"ns":null,"ns_inode":1,"name":"hx","index":null}}"#),
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let s = sections(&run.stdout);
    let ns = unwrap(&s["ns"]);
    assert!(
        ns.contains("namespace \"busy\" already exists (being created by lab \"other\", id abc123, pid "),
        "the clash names the lab creating it: {run:?}"
    );
    assert!(!ns.contains("not created by nslab"), "{run:?}");
    let link = unwrap(&s["link"]);
    assert!(
        link.contains("link \"hx\" already exists in the root namespace (being created by lab \"other\", id abc124, pid "),
        "{run:?}"
    );
    // Once that lab is dead, the same name is reported as its leftover.
    let dead = unwrap(&s["ns-dead"]);
    assert!(dead.contains("namespace \"busy\" already exists (left half-made by lab \"other\", id abc123"), "{run:?}");
    let half = unwrap(&s["half"]);
    assert!(
        half.contains("namespace \"half\" already exists (not a namespace mount: being created by another program"),
        "{run:?}"
    );
    // Nothing of theirs was touched.
    let mut netns = names(&json_list(&s["netns"]), "name");
    netns.sort();
    assert_eq!(netns, ["busy", "half"], "{run:?}");
    let mut links = names(&json(&s["links"]), "ifname");
    links.sort();
    assert_eq!(links, ["hx", "hy", "lo"], "{run:?}");
}
