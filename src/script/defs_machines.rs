//! Labs across machines: `host`, and the placement of namespaces (`netns_add(name, #{on})`).

use rhai::Dynamic;

use super::native::{Call, Native, Out};
use super::remote::{known_machine, Host};

pub const MACHINES: &[Native] = &[Native {
    name: "host",
    forms: &["host(name) -> Host"],
    summary: "A machine of the inventory (`--hosts FILE`; `local` is the one running the script): h.netns_add(name) places a namespace there, and a function given h instead of a namespace acts in that machine's own namespace (h.exec(\"ip link\")).",
    example: r#"let m2 = host("m2"); let n = m2.netns_add("netns1");"#,
    ip: "ssh m2 ip netns add NAME",
    call: host,
}];

fn host(c: &mut Call) -> Out {
    let name = c.string("name", "a machine's name")?;
    known_machine(c, &name)?;
    Ok(Dynamic::from(Host { name }))
}
