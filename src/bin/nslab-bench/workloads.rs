//! The workloads, written once per tool: an nslab script, a bash script of `ip` commands, and
//! `ip -batch` files (with a small shell wrapper, since `ip -batch` cannot switch namespace per
//! line). Every tool builds the same topology with the same names and addresses.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Workload {
    /// N namespaces in a chain, a veth pair between neighbours, a /30 on each link, all up.
    W1,
    /// N hosts on a bridge in a switch namespace, 10.0.0.0/16, then one ping from the first to the last.
    W2,
    /// The walkthrough (scripts/walkthrough.rhai), one namespace and one veth pair.
    W3,
    /// W3 started right after another lab (nslab, W1 of N namespaces) has torn down: the
    /// kernel is still cleaning that lab's namespaces up (its work queue is the machine's).
    W3AfterTeardown,
    /// W3 started when another lab (nslab, W1 of N namespaces) starts its teardown, and run
    /// while it tears down.
    W3DuringTeardown,
    /// Ending K root-side veth ends: one delete per link, one group delete, or deleting their
    /// peers' namespace and waiting for the kernel (`ends.rs`).
    EndsEach,
    EndsGroup,
    /// The group delete sent by another process, not waited for: what nslab does.
    EndsGroupDetached,
    EndsWait,
    /// Labs across machines (`machines.rs`): W1 with its namespaces round-robin on three
    /// simulated machines, the same W1 on one of them, and `throughput` over one link across
    /// machines and over a local veth pair.
    W1Spread,
    W1OneMachine,
    TputAcross,
    TputLocal,
    /// `nslab run` of an empty script.
    Empty,
    /// `nslab check scripts/walkthrough.rhai`.
    Check,
}

impl Workload {
    pub fn title(self) -> &'static str {
        match self {
            Workload::W1 => "W1 chain",
            Workload::W2 => "W2 star",
            Workload::W3 => "W3 walkthrough",
            Workload::W3AfterTeardown => "W3 right after another lab's W1 teardown",
            Workload::W3DuringTeardown => "W3 while another lab tears down a W1",
            Workload::EndsEach => "ending links: each",
            Workload::EndsGroup => "ending links: group",
            Workload::EndsGroupDetached => "ending links: group, detached",
            Workload::EndsWait => "ending links: wait",
            Workload::W1Spread => "W1 chain over three machines",
            Workload::W1OneMachine => "W1 chain on one machine",
            Workload::TputAcross => "throughput across machines",
            Workload::TputLocal => "throughput over a local veth",
            Workload::Empty => "start-up: nslab run of an empty script",
            Workload::Check => "start-up: nslab check scripts/walkthrough.rhai",
        }
    }

    pub fn parse(s: &str) -> Option<Workload> {
        match s.to_ascii_lowercase().as_str() {
            "w1" => Some(Workload::W1),
            "w2" => Some(Workload::W2),
            "w3" => Some(Workload::W3),
            "w3-after" => Some(Workload::W3AfterTeardown),
            "w3-during" => Some(Workload::W3DuringTeardown),
            "empty" => Some(Workload::Empty),
            "check" => Some(Workload::Check),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tool {
    /// A generated .rhai script run with `nslab run` (fastest idioms: veths born in their namespaces).
    Nslab,
    /// W3 only: `nslab run --sandbox scripts/walkthrough.rhai`, the README's main command. The
    /// sandbox's namespace ends with nslab, so nslab does not wait for the kernel to remove the
    /// walkthrough's root-side veth (the plain `nslab` row does, so that nothing is seen after it).
    NslabSandbox,
    /// nslab written the walkthrough's way: `veth(a, b)` where nslab runs, then `move_to` each end
    /// (only with `--tools nslab-move`: it measures how fast that idiom is made).
    NslabMove,
    /// A bash script with one `ip` process per operation, written the walkthrough's way:
    /// create the veth pair, then move its ends (`ip link set X netns NS`).
    Bash,
    /// The same operations through `ip -batch` (one batch for the root namespace, one `ip -n NS -batch`
    /// per namespace for its addresses and link states), also the walkthrough's way.
    IpBatch,
    /// `ip -batch` with each veth end born directly in its namespace
    /// (`ip link add A netns X type veth peer name B netns Y`): the fastest iproute2 form.
    IpBatchBorn,
}

impl Tool {
    /// The tools measured by default.
    pub const DEFAULT: [Tool; 4] = [Tool::Nslab, Tool::Bash, Tool::IpBatch, Tool::IpBatchBorn];
    /// Every tool, in the order the tables list them.
    pub const ALL: [Tool; 6] = [Tool::Nslab, Tool::NslabSandbox, Tool::NslabMove, Tool::Bash, Tool::IpBatch, Tool::IpBatchBorn];

    pub fn label(self) -> &'static str {
        match self {
            Tool::Nslab => "nslab",
            Tool::NslabSandbox => "nslab --sandbox",
            Tool::NslabMove => "nslab, veth + move_to",
            Tool::Bash => "bash + ip",
            Tool::IpBatch => "ip -batch",
            Tool::IpBatchBorn => "ip -batch, born in ns",
        }
    }

    pub fn parse(s: &str) -> Option<Tool> {
        match s {
            "nslab" => Some(Tool::Nslab),
            "nslab-move" => Some(Tool::NslabMove),
            "nslab-sandbox" => Some(Tool::NslabSandbox),
            "bash" => Some(Tool::Bash),
            "ip-batch" | "batch" => Some(Tool::IpBatch),
            "ip-batch-born" | "born" => Some(Tool::IpBatchBorn),
            _ => None,
        }
    }
}

/// Which of nslab's idioms the generated scripts use: the fastest the binary offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Idioms {
    /// No `bridge()`/`master()`: W2 makes the bridge with one `exec_in(sw, "ip link add br0 type
    /// bridge")` and enslaves every port with one `exec_in(sw, ["ip", "-batch", FILE])`.
    Exec,
    /// `bridge(ns, name)` and `master(ns, link, bridge)`, links brought up with `up()`.
    Functions,
    /// As Functions, plus veth options applied at birth: `#{up: true}` (W1, W2) and
    /// `#{master: "br0"}` (W2), so no separate `up()`/`master()` calls for veths.
    Birth,
}

impl Idioms {
    pub fn describe(self) -> &'static str {
        match self {
            Idioms::Exec => "no bridge()/master() in nslab: W2's bridge is made and its ports enslaved by exec_in + ip",
            Idioms::Functions => "bridge() and master(), up() per link",
            Idioms::Birth => "veth(ns, a, ns, b, #{up, master}): ends born up (and enslaved), bridge()",
        }
    }

    pub fn parse(s: &str) -> Option<Idioms> {
        match s {
            "exec" => Some(Idioms::Exec),
            "functions" => Some(Idioms::Functions),
            "birth" => Some(Idioms::Birth),
            _ => None,
        }
    }
}

/// The other lab's script in the busy W3 workloads (a W1 of N namespaces, run by nslab).
pub const BUSY_LOAD: &str = "load-w1.rhai";

impl Workload {
    /// The busy variants of W3: another lab tears down N namespaces around it.
    pub fn busy(self) -> bool {
        matches!(self, Workload::W3AfterTeardown | Workload::W3DuringTeardown)
    }

    /// The walkthrough, alone or with another lab tearing down.
    pub fn walkthrough(self) -> bool {
        self == Workload::W3 || self.busy()
    }
}

/// A file to write before the run: path relative to the work directory, and its contents.
pub struct File {
    pub name: String,
    pub text: String,
}

/// What a tool runs for one workload: the build command (a file in the work directory, run by
/// `nslab run` or `bash`), an optional teardown command, and the files they need.
pub struct Plan {
    pub files: Vec<File>,
    /// The build (for nslab: the whole run, build and teardown; markers on stdout separate them).
    pub build: String,
    pub teardown: Option<String>,
    /// Namespaces the build leaves standing (checked for the peers before teardown).
    pub namespaces: usize,
}

/// W1: the /30 of link `i` (1-based): 10.0.0.0 + 4i, ends .1 and .2 of it.
pub fn w1_addr(i: usize, end: usize) -> String {
    let v = (10u32 << 24) + (i as u32) * 4 + end as u32;
    format!("{}.{}.{}.{}/30", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255)
}

/// W2: host `i` (1-based) in 10.0.0.0/16.
pub fn w2_ip(i: usize) -> String {
    format!("10.0.{}.{}", i / 256, i % 256)
}

const BASH_HEAD: &str = "#!/bin/bash\nset -e\n";

pub fn plan(workload: Workload, tool: Tool, n: usize, dir: &Path, idioms: Idioms) -> Plan {
    match (workload, tool) {
        (Workload::W1, Tool::Nslab) => nslab_w1(n, false, idioms),
        (Workload::W1, Tool::NslabMove) => nslab_w1(n, true, idioms),
        (Workload::W1, Tool::Bash) => bash_w1(n),
        (Workload::W1, Tool::IpBatch) => batch_w1(n, false, dir),
        (Workload::W1, Tool::IpBatchBorn) => batch_w1(n, true, dir),
        (Workload::W2, Tool::Nslab) => nslab_w2(n, dir, idioms, false),
        (Workload::W2, Tool::NslabMove) => nslab_w2(n, dir, idioms, true),
        (Workload::W2, Tool::Bash) => bash_w2(n),
        (Workload::W2, Tool::IpBatch) => batch_w2(n, false, dir),
        (Workload::W2, Tool::IpBatchBorn) => batch_w2(n, true, dir),
        (Workload::W1 | Workload::W2, Tool::NslabSandbox) => unreachable!("the sandbox row is W3's (see main)"),
        (Workload::W3, Tool::Nslab | Tool::NslabMove | Tool::NslabSandbox) => {
            Plan { files: vec![], build: String::new(), teardown: None, namespaces: 0 }
        }
        (Workload::W3, Tool::Bash) => bash_w3(),
        (Workload::W3, _) => batch_w3(dir),
        // The W3 run's files plus the other lab's script (`BUSY_LOAD`).
        (Workload::W3AfterTeardown | Workload::W3DuringTeardown, _) => {
            let mut p = plan(Workload::W3, tool, 1, dir, idioms);
            let load = nslab_w1(n, false, idioms);
            p.files.extend(load.files.into_iter().map(|f| File { name: format!("load-{}", f.name), text: f.text }));
            p
        }
        (Workload::Empty, _) => Plan {
            files: vec![File { name: "empty.rhai".into(), text: String::new() }],
            build: "empty.rhai".into(),
            teardown: None,
            namespaces: 0,
        },
        (Workload::Check, _) => Plan { files: vec![], build: String::new(), teardown: None, namespaces: 0 },
        // ends.rs and machines.rs write their own files.
        (
            Workload::EndsEach
            | Workload::EndsGroup
            | Workload::EndsGroupDetached
            | Workload::EndsWait
            | Workload::W1Spread
            | Workload::W1OneMachine
            | Workload::TputAcross
            | Workload::TputLocal,
            _,
        ) => Plan { files: vec![], build: String::new(), teardown: None, namespaces: 0 },
    }
}

fn nslab_w1(n: usize, moved: bool, idioms: Idioms) -> Plan {
    let birth = idioms == Idioms::Birth && !moved;
    let (how, make) = if moved {
        (
            "made where nslab runs, then each end moved",
            "veth(`l${i}a`, `l${i}b`);\n    move_to(`l${i}a`, a);\n    move_to(`l${i}b`, b);",
        )
    } else if birth {
        ("each end born up in its namespace", "veth(a, `l${i}a`, b, `l${i}b`, #{up: true});")
    } else {
        ("each end born in its namespace", "veth(a, `l${i}a`, b, `l${i}b`);")
    };
    let ups = if birth { "" } else { "\n    up(a, `l${i}a`);\n    up(b, `l${i}b`);" };
    let text = format!(
        r#"// W1: a chain of {n} namespaces, a veth pair between neighbours ({how}),
// a /30 on each link, both ends up.
let n = {n};
for i in 1..=n {{
    netns_add(`n${{i}}`);
}}
for i in 1..n {{
    let a = `n${{i}}`;
    let b = `n${{i + 1}}`;
    let base = 10 * 16777216 + i * 4;
    let net = `${{base / 16777216}}.${{(base / 65536) % 256}}.${{(base / 256) % 256}}.`;
    let last = base % 256;
    {make}
    addr(a, `l${{i}}a`, `${{net}}${{last + 1}}/30`);
    addr(b, `l${{i}}b`, `${{net}}${{last + 2}}/30`);{ups}
}}
// Observe the last link, so that nothing nslab may hold back is left undone at the marker.
assert(link(`n${{n}}`, `l${{n - 1}}b`).state == "up");
print("@built");
"#
    );
    let name = if moved { "w1-move.rhai" } else { "w1.rhai" };
    Plan { files: vec![File { name: name.into(), text }], build: name.into(), teardown: None, namespaces: n }
}

fn bash_w1(n: usize) -> Plan {
    let mut b = String::from(BASH_HEAD);
    for i in 1..=n {
        let _ = writeln!(b, "ip netns add n{i}");
    }
    for i in 1..n {
        let j = i + 1;
        let _ = writeln!(b, "ip link add l{i}a type veth peer name l{i}b");
        let _ = writeln!(b, "ip link set l{i}a netns n{i}");
        let _ = writeln!(b, "ip link set l{i}b netns n{j}");
        let _ = writeln!(b, "ip -n n{i} addr add {} dev l{i}a", w1_addr(i, 1));
        let _ = writeln!(b, "ip -n n{j} addr add {} dev l{i}b", w1_addr(i, 2));
        let _ = writeln!(b, "ip -n n{i} link set l{i}a up");
        let _ = writeln!(b, "ip -n n{j} link set l{i}b up");
    }
    let names: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
    Plan {
        files: vec![File { name: "w1-build.sh".into(), text: b }, bash_teardown("w1-teardown.sh", &names)],
        build: "w1-build.sh".into(),
        teardown: Some("w1-teardown.sh".into()),
        namespaces: n,
    }
}

fn bash_teardown(file: &str, names: &[String]) -> File {
    let mut t = String::from(BASH_HEAD);
    for name in names {
        let _ = writeln!(t, "ip netns del {name}");
    }
    File { name: file.into(), text: t }
}

fn batch_teardown(prefix: &str, names: &[String], dir: &Path) -> Vec<File> {
    let mut t = String::new();
    for name in names {
        let _ = writeln!(t, "netns del {name}");
    }
    let batch = format!("{prefix}-teardown.batch");
    let wrapper = format!("{BASH_HEAD}ip -batch {}\n", dir.join(&batch).display());
    vec![File { name: batch, text: t }, File { name: format!("{prefix}-teardown.sh"), text: wrapper }]
}

/// Per-namespace batches: `ip -n NS -batch FILE` for each, listed in a wrapper script.
struct Batches {
    root: String,
    per_ns: Vec<(String, String)>,
}

impl Batches {
    fn into_files(self, prefix: &str, dir: &Path) -> (Vec<File>, String) {
        let mut files = Vec::new();
        let mut wrapper = String::from(BASH_HEAD);
        let root = format!("{prefix}-root.batch");
        let _ = writeln!(wrapper, "ip -batch {}", dir.join(&root).display());
        files.push(File { name: root, text: self.root });
        for (ns, text) in self.per_ns {
            let name = format!("{prefix}-{ns}.batch");
            let _ = writeln!(wrapper, "ip -n {ns} -batch {}", dir.join(&name).display());
            files.push(File { name, text });
        }
        let build = format!("{prefix}-build.sh");
        files.push(File { name: build.clone(), text: wrapper });
        (files, build)
    }
}

fn batch_w1(n: usize, born: bool, dir: &Path) -> Plan {
    let mut root = String::new();
    for i in 1..=n {
        let _ = writeln!(root, "netns add n{i}");
    }
    let mut per_ns: Vec<String> = vec![String::new(); n + 1];
    for i in 1..n {
        let j = i + 1;
        if born {
            let _ = writeln!(root, "link add l{i}a netns n{i} type veth peer name l{i}b netns n{j}");
        } else {
            let _ = writeln!(root, "link add l{i}a type veth peer name l{i}b");
            let _ = writeln!(root, "link set l{i}a netns n{i}");
            let _ = writeln!(root, "link set l{i}b netns n{j}");
        }
        let _ = writeln!(per_ns[i], "addr add {} dev l{i}a", w1_addr(i, 1));
        let _ = writeln!(per_ns[j], "addr add {} dev l{i}b", w1_addr(i, 2));
        let _ = writeln!(per_ns[i], "link set l{i}a up");
        let _ = writeln!(per_ns[j], "link set l{i}b up");
    }
    let prefix = if born { "w1-born" } else { "w1-batch" };
    let per_ns = per_ns
        .into_iter()
        .enumerate()
        .skip(1)
        .filter(|(_, text)| !text.is_empty())
        .map(|(i, text)| (format!("n{i}"), text))
        .collect();
    let (mut files, build) = Batches { root, per_ns }.into_files(prefix, dir);
    let names: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
    files.extend(batch_teardown(prefix, &names, dir));
    Plan { files, build, teardown: Some(format!("{prefix}-teardown.sh")), namespaces: n }
}

fn w2_bridge_batch(n: usize) -> String {
    let mut t = String::new();
    for i in 1..=n {
        let _ = writeln!(t, "link set s{i} master br0");
    }
    t
}

fn nslab_w2(n: usize, dir: &Path, idioms: Idioms, moved: bool) -> Plan {
    let mut files = Vec::new();
    let birth = idioms == Idioms::Birth && !moved;
    let make = if moved {
        "veth(`s${i}`, h);\n    move_to(`s${i}`, \"sw\");\n    move_to(h, h);"
    } else if birth {
        "veth(\"sw\", `s${i}`, h, h, #{up: true, master: \"br0\"});"
    } else {
        "veth(\"sw\", `s${i}`, h, h);"
    };
    let (make_bridge, per_port, after_loop) = match idioms {
        Idioms::Exec => {
            let batch = dir.join("w2-nslab-master.batch");
            files.push(File { name: "w2-nslab-master.batch".into(), text: w2_bridge_batch(n) });
            (
                "let made = exec_in(\"sw\", \"ip link add br0 type bridge\");\nassert(made.ok, made.stderr);".to_string(),
                "\n    up(h, h);\n    up(\"sw\", `s${i}`);\n    // (ports are enslaved after the loop, by one `ip -batch`)"
                    .to_string(),
                format!(
                    "let enslaved = exec_in(\"sw\", [\"ip\", \"-batch\", \"{}\"]);\nassert(enslaved.ok, enslaved.stderr);\n",
                    batch.display()
                ),
            )
        }
        _ if birth => ("bridge(\"sw\", \"br0\");".to_string(), String::new(), String::new()),
        _ => (
            "bridge(\"sw\", \"br0\");".to_string(),
            "\n    up(h, h);\n    master(\"sw\", `s${i}`, \"br0\");\n    up(\"sw\", `s${i}`);".to_string(),
            String::new(),
        ),
    };
    let last = w2_ip(n);
    let text = format!(
        r#"// W2: {n} hosts on a bridge in a switch namespace, 10.0.0.0/16, then one ping from h1 to h{n}.
let n = {n};
netns_add("sw");
{make_bridge}
up("sw", "br0");
for i in 1..=n {{
    let h = `h${{i}}`;
    netns_add(h);
    {make}
    addr(h, h, `10.0.${{i / 256}}.${{i % 256}}/16`);{per_port}
}}
{after_loop}// Observe the last port, so that nothing nslab may hold back is left undone at the marker.
assert(link("sw", `s${{n}}`).master == "br0");
print("@built");
let t = timestamp();
let p = ping("h1", "{last}");
let took = t.elapsed;
assert(p.ok, `ping from h1 to {last} failed: ${{p.error}}`);
print(`@pinged ${{took}}`);
"#
    );
    let name = if moved { "w2-move.rhai" } else { "w2.rhai" };
    files.push(File { name: name.into(), text });
    Plan { files, build: name.into(), teardown: None, namespaces: n + 1 }
}

fn w2_names(n: usize) -> Vec<String> {
    std::iter::once("sw".to_string()).chain((1..=n).map(|i| format!("h{i}"))).collect()
}

fn bash_w2(n: usize) -> Plan {
    let mut b = String::from(BASH_HEAD);
    b.push_str("ip netns add sw\nip -n sw link add br0 type bridge\nip -n sw link set br0 up\n");
    for i in 1..=n {
        let _ = writeln!(b, "ip netns add h{i}");
        let _ = writeln!(b, "ip link add s{i} type veth peer name h{i}");
        let _ = writeln!(b, "ip link set s{i} netns sw");
        let _ = writeln!(b, "ip link set h{i} netns h{i}");
        let _ = writeln!(b, "ip -n h{i} addr add {}/16 dev h{i}", w2_ip(i));
        let _ = writeln!(b, "ip -n h{i} link set h{i} up");
        let _ = writeln!(b, "ip -n sw link set s{i} master br0");
        let _ = writeln!(b, "ip -n sw link set s{i} up");
    }
    Plan {
        files: vec![File { name: "w2-build.sh".into(), text: b }, bash_teardown("w2-teardown.sh", &w2_names(n))],
        build: "w2-build.sh".into(),
        teardown: Some("w2-teardown.sh".into()),
        namespaces: n + 1,
    }
}

fn batch_w2(n: usize, born: bool, dir: &Path) -> Plan {
    let mut root = String::from("netns add sw\n");
    let mut sw = String::from("link add br0 type bridge\nlink set br0 up\n");
    let mut per_ns = Vec::new();
    for i in 1..=n {
        let _ = writeln!(root, "netns add h{i}");
        if born {
            let _ = writeln!(root, "link add s{i} netns sw type veth peer name h{i} netns h{i}");
        } else {
            let _ = writeln!(root, "link add s{i} type veth peer name h{i}");
            let _ = writeln!(root, "link set s{i} netns sw");
            let _ = writeln!(root, "link set h{i} netns h{i}");
        }
        per_ns.push((format!("h{i}"), format!("addr add {}/16 dev h{i}\nlink set h{i} up\n", w2_ip(i))));
        let _ = writeln!(sw, "link set s{i} master br0\nlink set s{i} up");
    }
    per_ns.insert(0, ("sw".to_string(), sw));
    let prefix = if born { "w2-born" } else { "w2-batch" };
    let (mut files, build) = Batches { root, per_ns }.into_files(prefix, dir);
    files.extend(batch_teardown(prefix, &w2_names(n), dir));
    Plan { files, build, teardown: Some(format!("{prefix}-teardown.sh")), namespaces: n + 1 }
}

/// The walkthrough's `ip` commands (its pings left out: there is no `ping` binary here).
fn bash_w3() -> Plan {
    let text = format!(
        "{BASH_HEAD}ip netns add netns1
ip netns list
ip netns exec netns1 ip link list
ip -n netns1 link set lo up
ip link add veth0 type veth peer name veth1
ip link set veth1 netns netns1
ip -n netns1 addr add 10.1.1.1/24 dev veth1
ip -n netns1 link set veth1 up
ip addr add 10.1.1.2/24 dev veth0
ip link set veth0 up
ip netns del netns1
"
    );
    Plan { files: vec![File { name: "w3.sh".into(), text }], build: "w3.sh".into(), teardown: None, namespaces: 0 }
}

fn batch_w3(dir: &Path) -> Plan {
    let root = "netns add netns1\nnetns list\nlink add veth0 type veth peer name veth1\nlink set veth1 netns netns1\n\
                addr add 10.1.1.2/24 dev veth0\nlink set veth0 up\n";
    let ns1 = "link set lo up\naddr add 10.1.1.1/24 dev veth1\nlink set veth1 up\n";
    let wrapper = format!(
        "{BASH_HEAD}ip -batch {root}\nip netns exec netns1 ip link list\nip -n netns1 -batch {ns1}\nip netns del netns1\n",
        root = dir.join("w3-root.batch").display(),
        ns1 = dir.join("w3-netns1.batch").display(),
    );
    Plan {
        files: vec![
            File { name: "w3-root.batch".into(), text: root.into() },
            File { name: "w3-netns1.batch".into(), text: ns1.into() },
            File { name: "w3-batch.sh".into(), text: wrapper },
        ],
        build: "w3-batch.sh".into(),
        teardown: None,
        namespaces: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w1_addresses_are_consecutive_30s() {
        assert_eq!(w1_addr(1, 1), "10.0.0.5/30");
        assert_eq!(w1_addr(1, 2), "10.0.0.6/30");
        assert_eq!(w1_addr(64, 1), "10.0.1.1/30");
        assert_eq!(w1_addr(499, 2), "10.0.7.206/30");
    }

    #[test]
    fn w2_addresses_stay_in_the_16() {
        assert_eq!(w2_ip(1), "10.0.0.1");
        assert_eq!(w2_ip(256), "10.0.1.0");
        assert_eq!(w2_ip(500), "10.0.1.244");
    }

    #[test]
    fn peers_make_the_same_number_of_links() {
        let dir = Path::new("/run/bench");
        for born in [false, true] {
            let p = batch_w1(10, born, dir);
            let root = &p.files[0].text;
            let veths = root.lines().filter(|l| l.contains("type veth")).count();
            assert_eq!(veths, 9);
        }
        let b = bash_w2(5);
        assert_eq!(b.files[0].text.lines().filter(|l| l.contains("master br0")).count(), 5);
    }
}
