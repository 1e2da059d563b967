//! Background programs: spawn, kill, wait, output.
use std::time::Duration;

use rhai::Dynamic;

use super::args;
use super::native::{Call, Native, Out};
use super::processes::Proc;
use super::values::Exec;

pub const PROCESSES: &[Native] = &[
    Native {
        name: "shell",
        forms: &["shell() -> int", "shell(ns) -> int", "shell(ns, cmd) -> int"],
        summary: "Open an interactive shell ($SHELL, or cmd) on the terminal inside a namespace, placed as exec_in places \
                  programs; the script (or REPL) goes on when it exits, with its exit status. NSLAB_LAB and NSLAB_NETNS \
                  name where it is. An error when nslab's input is not a terminal.",
        example: r#"shell("h1"); // look around, then exit"#,
        ip: "ip netns exec NS $SHELL",
        call: shell,
    },
    Native {
        name: "spawn_in",
        forms: &["spawn_in(ns, cmd) -> Proc"],
        summary: "Start a program in the background inside a namespace (placed as exec_in places it, in its own process group) and return a handle: .pid, .running, .stdout, .stderr (output so far; past 16 MiB only the latest 8 MiB are kept, after a line saying how much was dropped), kill(), wait(), output(). The lab ends it, and everything it started, at teardown.",
        example: r#"let srv = spawn_in("h2", "nc -l -p 8080"); ... srv.kill();"#,
        ip: "ip netns exec NS CMD... &",
        call: spawn,
    },
    Native {
        name: "spawn",
        forms: &["spawn(cmd) -> Proc", "spawn(ns, cmd) -> Proc"],
        summary: "Like spawn_in; without a namespace it runs where nslab runs. As a method: n.spawn(cmd).",
        example: r#"let n = netns("h2"); let p = n.spawn(["sleep", "5"]);"#,
        ip: "CMD... &",
        call: spawn,
    },
    Native {
        name: "kill",
        forms: &["kill(proc) -> int"],
        summary: "End a spawned process and its whole process group (SIGKILL), waiting until they are gone; returns its exit status (137 when the kill ended it). As a method: p.kill().",
        example: r#"srv.kill();"#,
        ip: "kill -KILL -PGID",
        call: kill,
    },
    Native {
        name: "wait",
        forms: &["wait(proc) -> int", "wait(proc, seconds) -> int"],
        summary: "Wait for a spawned process to end and return its exit status (128 + signal if a signal ended it); with seconds, return () if it is still running then. Ctrl-C stops the wait.",
        example: r#"let code = p.wait(); assert(code == 0);"#,
        ip: "wait PID",
        call: wait,
    },
    Native {
        name: "output",
        forms: &["output(proc) -> Exec"],
        summary: "Wait for a spawned process to end and return its exit status and everything it wrote, as exec_in does.",
        example: r#"let r = spawn_in("h1", "ip -j addr").output(); print(r.stdout);"#,
        ip: "CMD... > out 2> err; wait",
        call: output,
    },
];

fn proc_arg(c: &Call) -> Result<Proc, Box<rhai::EvalAltResult>> {
    let (_, v) = c.arg("proc");
    if let Some(p) = v.read_lock::<Proc>() {
        return Ok(p.clone());
    }
    Err(c.error(format!("the first argument of {} must be a process (from spawn_in), not {}", c.ctx().fn_name(), args::shown(v))))
}

fn spawn(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let (at, cmd) = c.arg("cmd");
    let argv = args::command(c.ctx(), cmd, at)?;
    let pid = c.lab().spawn(&ns, &argv)?;
    Ok(Dynamic::from(Proc { pid, argv, ns, on: None }))
}

fn kill(c: &mut Call) -> Out {
    let p = proc_arg(c)?;
    let code = c.lab().proc_kill(p.pid)?;
    Ok((code as i64).into())
}

fn wait(c: &mut Call) -> Out {
    let p = proc_arg(c)?;
    if !c.has("seconds") {
        let code = c.lab().proc_wait(p.pid, None)?;
        return Ok((code.unwrap_or(-1) as i64).into());
    }
    let s = c.number("seconds", "the number of seconds")?;
    if !(0.0..=args::MAX_SECONDS).contains(&s) {
        return Err(c.error(format!("wait needs a number of seconds from 0 to {}, not {s}", args::MAX_SECONDS)).into());
    }
    let code = c.lab().proc_wait(p.pid, Some(Duration::from_secs_f64(s)))?;
    Ok(code.map(|c| Dynamic::from(c as i64)).unwrap_or(Dynamic::UNIT))
}

fn output(c: &mut Call) -> Out {
    let p = proc_arg(c)?;
    let out = c.lab().proc_output(p.pid)?;
    Ok(Dynamic::from(Exec::from_output(out)))
}

fn shell(c: &mut Call) -> Out {
    let ns = c.ns()?;
    let argv = if c.has("cmd") {
        let (at, cmd) = c.arg("cmd");
        args::command(c.ctx(), cmd, at)?
    } else {
        vec![std::env::var("SHELL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into())]
    };
    Ok((c.lab().interactive(&ns, &argv)? as i64).into())
}
