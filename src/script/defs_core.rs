//! The core language: namespaces, exec, ping, assert and sleep.

use std::time::Duration;

use rhai::{Array, Dynamic};

use super::args;
use super::failure::{raise, CallFailure, FailureKind};
use super::native::{done, Call, Native, Out};
use super::values::{Exec, Netns, Ping};
use crate::lab::Ns;

pub const CORE: &[Native] = &[
    Native {
        name: "netns_add",
        forms: &["netns_add(name) -> Netns", "netns_add(name, #{on}) -> Netns"],
        summary: "Create a named network namespace, visible to `ip netns list` (its lo starts down); on: the machine it goes on (a lab across machines, `--hosts`), also written host(\"m2\").netns_add(name).",
        example: r#"let n = netns_add("netns1");"#,
        ip: "ip netns add NAME",
        call: netns_add,
    },
    Native {
        name: "netns",
        forms: &["netns(name) -> Netns", "netns(name, #{on}) -> Netns"],
        summary: "A handle to an existing namespace, including one made by `ip netns add`.",
        example: r#"let n = netns("netns1"); n.up("lo");"#,
        ip: "ip netns exec NAME ...",
        call: netns,
    },
    Native {
        name: "root",
        forms: &["root() -> Netns"],
        summary: "A handle to the namespace nslab runs in (the host's, or the sandbox's).",
        example: r#"move_to("netns1", "veth1", root());"#,
        ip: "(the default namespace)",
        call: |_| Ok(Dynamic::from(Netns { name: None, on: None })),
    },
    Native {
        name: "netns_del",
        forms: &["netns_del(ns)"],
        summary: "Delete a named namespace; links inside it go with it, except links the lab did not create and \
                  moved in, which go back where they came from first. A symbolic link in /run/netns is never followed.",
        example: r#"netns_del("netns1");"#,
        ip: "ip netns delete NAME",
        call: netns_del,
    },
    Native {
        name: "netns_list",
        forms: &["netns_list() -> array"],
        summary: "Names of all named namespaces, sorted.",
        example: r#"print(netns_list());"#,
        ip: "ip netns list",
        call: |c| {
            let names = c.lab().netns_list()?;
            Ok(names.into_iter().map(Dynamic::from).collect::<Array>().into())
        },
    },
    Native {
        name: "netns_exists",
        forms: &["netns_exists(name) -> bool"],
        summary: "Whether a named namespace exists; given a Netns handle, whether its namespace still does.",
        example: r#"if !netns_exists("lab") { netns_add("lab"); }"#,
        ip: "test -e /run/netns/NAME",
        call: netns_exists,
    },
    Native {
        name: "exec_in",
        forms: &["exec_in(ns, cmd) -> Exec"],
        summary: "Run a program inside a namespace (cmd: array of arguments, or a string split into words like a shell would, without a shell) and capture its output (past 16 MiB, the latest 8 MiB, after a line saying how much was dropped).",
        example: r#"let r = exec_in("netns1", "ip link list"); print(r.stdout);"#,
        ip: "ip netns exec NS CMD...",
        call: exec,
    },
    Native {
        name: "exec",
        forms: &["exec(cmd) -> Exec", "exec(ns, cmd) -> Exec"],
        summary: "Like exec_in; without a namespace it runs where nslab runs. As a method: n.exec(cmd).",
        example: r#"let n = netns("netns1"); print(n.exec("ip addr"));"#,
        ip: "ip netns exec NS CMD...",
        call: exec,
    },
    Native {
        name: "ping",
        forms: &[
            "ping(dst) -> Ping",
            "ping(ns, dst) -> Ping",
            "ping(dst, #{count, timeout, interval, ttl, size, from, dev}) -> Ping",
            "ping(ns, dst, #{count, timeout, interval, ttl, size, from, dev}) -> Ping",
        ],
        summary: "Send ICMP echo requests natively (IPv4 or IPv6); one request and one second to answer by default. \
                  ttl: TTL / hop limit sent (1-255); size: payload bytes (like ping -s, default 56); from: source \
                  address; dev: send through this link (SO_BINDTODEVICE). Never raises for an unreachable host: the \
                  Ping result tells (fields: ok, sent, received, loss, rtt_min, rtt_avg, rtt_max, dst, ttl, from, \
                  error, icmp_from).",
        example: r#"assert(ping("netns1", "10.1.1.2").ok); let p = ping("h1", "10.0.2.2", #{ttl: 1}); print(p.error);"#,
        ip: "ip netns exec NS ping -c COUNT -W TIMEOUT -i INTERVAL -t TTL -s SIZE -I FROM|DEV DST",
        call: ping,
    },
    Native {
        name: "assert",
        forms: &["assert(cond)", "assert(cond, message)"],
        summary: "Fail the script at this line unless cond is true.",
        example: r#"assert(ping("netns1", "10.1.1.2").ok, "veth pair must carry pings");"#,
        ip: "[ COND ] || exit 1",
        call: assert,
    },
    Native {
        name: "sleep",
        forms: &["sleep(seconds)"],
        summary: "Wait (interruptible with Ctrl-C).",
        example: r#"sleep(0.5);"#,
        ip: "sleep SECONDS",
        call: sleep,
    },
];

fn netns_add(c: &mut Call) -> Out {
    let name = c.string("name", "a namespace name")?;
    c.lab().netns_add(&name)?;
    Ok(Dynamic::from(Netns { name: Some(name), on: None }))
}

fn netns(c: &mut Call) -> Out {
    let name = c.string("name", "a namespace name")?;
    c.lab().netns_open(&name)?;
    Ok(Dynamic::from(Netns { name: Some(name), on: None }))
}

fn netns_del(c: &mut Call) -> Out {
    match c.ns()? {
        Ns::Named(name) => c.lab().netns_del(&name)?,
        Ns::Root => return Err(c.error("the root namespace cannot be deleted").into()),
    }
    done()
}

fn netns_exists(c: &mut Call) -> Out {
    let (_, v) = c.arg("name");
    // A handle names its namespace too (root() always exists).
    if let Some(h) = v.read_lock::<Netns>() {
        let name = h.name.clone();
        return Ok(name.is_none_or(|n| c.lab().netns_exists(&n)).into());
    }
    let Ok(name) = v.clone().into_string() else {
        let msg = format!("the argument of netns_exists must be a namespace name or a Netns handle, not {}", args::shown(v));
        return Err(c.error(msg).into());
    };
    Ok(c.lab().netns_exists(&name).into())
}

fn exec(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let (at, cmd) = c.arg("cmd");
    let argv = args::command(c.ctx(), cmd, at)?;
    let out = c.lab().exec(&ns, &argv)?;
    Ok(Dynamic::from(Exec::from_output(out)))
}

fn ping(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let dst = c.string("dst", "a destination address")?;
    let opts = super::defs_probe::ping_options(c, &c.opts()?)?;
    let report = c.lab().ping(&ns, &dst, &opts)?;
    Ok(Dynamic::from(Ping { dst, report }))
}

fn assert(c: &mut Call) -> Out {
    let (_, cond) = c.arg("cond");
    let Ok(ok) = cond.as_bool() else {
        return Err(c.error(format!("assert needs a true/false condition, not {}", args::shown(cond))).into());
    };
    if ok {
        return done();
    }
    let message = if c.has("message") { Some(args::text(c.ctx(), c.arg("message").1)) } else { None };
    let message = message.filter(|m| !m.trim().is_empty());
    let custom = message.is_some();
    let message = message.unwrap_or_else(|| "assertion failed".into());
    Err(raise(c.ctx(), CallFailure { message, hint: None, kind: FailureKind::Assertion { custom }, held: None }).into())
}

fn sleep(c: &mut Call) -> Out {
    let s = c.number("seconds", "the number of seconds")?;
    if !(0.0..=args::MAX_SECONDS).contains(&s) {
        return Err(c.error(format!("sleep needs a number of seconds from 0 to {}, not {s}", args::MAX_SECONDS)).into());
    }
    c.lab().sleep(Duration::from_secs_f64(s))?;
    done()
}
