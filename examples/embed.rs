//! Embedding nslab as a library: build a two-namespace lab from Rust through the lab API,
//! then run a Rhai snippet against the same lab, and tear it down.
//!
//! Run it where it cannot touch the host's network, e.g.:
//!     unshare --mount --net --propagation private sh -c \
//!       'mount -t tmpfs tmpfs /run && cargo run --example embed'
//! or from a program that calls `nslab::engine::sandbox::enter()` first, as this one does when
//! given `--sandbox` (it must happen before any thread starts).

use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use nslab::engine::icmp::PingOptions;
use nslab::engine::netlink::LinkOptions;
use nslab::lab::{Lab, LabOptions, Ns};
use nslab::script::{Session, Source};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // First thing: lets the lab's programs run in a PID namespace that ends with this program
    // (nslab runs this program again as that namespace's init).
    nslab::engine::pidns::serve_if_asked();
    if std::env::args().any(|a| a == "--sandbox") {
        nslab::engine::sandbox::enter()?;
    }
    let mut lab = Lab::new(LabOptions::new("embed-example"))?;
    let (a, b) = (Ns::named("a"), Ns::named("b"));
    lab.netns_add("a")?;
    lab.netns_add("b")?;
    lab.veth(&a, "eth0", &b, "eth0", &LinkOptions::default())?;
    lab.addr(&a, "eth0", "10.0.0.1/24")?;
    lab.addr(&b, "eth0", "10.0.0.2/24")?;
    lab.set_up(&a, "eth0", true)?;
    lab.set_up(&b, "eth0", true)?;
    let opts =
        PingOptions { count: 3, timeout: Duration::from_secs(1), interval: Duration::from_millis(10), ..Default::default() };
    let report = lab.ping(&a, "10.0.0.2", &opts)?;
    println!("from Rust: {} of {} echo requests answered", report.received, report.sent);

    // The same lab, driven by a script.
    let mut session = Session::new(Some(lab), Path::new("."), Rc::new(|s: &str| println!("{s}")));
    let source = Source {
        name: "inline.rhai".into(),
        text: r#"
            let r = ping("b", "10.0.0.1");
            print(`from Rhai: reply ${r.ok}, ${links("b").len()} links in b`);
        "#
        .into(),
    };
    if let Err(errors) = session.run(&source) {
        for e in errors {
            eprintln!("{:?}", miette::Report::new(e));
        }
    }
    let lab = session.lab.take().expect("the session holds the lab");
    println!("{}", lab.teardown());
    Ok(())
}
