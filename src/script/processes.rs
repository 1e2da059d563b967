//! Background processes in scripts: `spawn_in(ns, cmd)` returns a `Proc` handle with `.pid`,
//! `.running`, `.stdout`/`.stderr` (output so far) and the functions `kill`, `wait`, `output`,
//! also usable as methods (`p.kill()`). The lab ends every process it started at teardown.

use std::time::Duration;

use rhai::{Dynamic, NativeCallContext, Token};

use super::args;
use super::bindings::{Registrar, SharedLab};
use super::catalog::FnDoc;
use super::failure::{argument_error, lab_error, Res};
use super::values::Exec;
use crate::lab::{ExecOutput, Ns};

/// A process started by `spawn_in`.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub argv: Vec<String>,
    pub ns: Ns,
}

impl std::fmt::Display for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {} ({}) in {}", self.pid, self.argv.join(" "), self.ns)
    }
}

pub const PROCESSES: &[FnDoc] = &[
    FnDoc {
        name: "spawn_in",
        forms: &["spawn_in(ns, cmd) -> Proc"],
        summary: "Start a program in the background inside a namespace (placed as exec_in places it, in its own process group) and return a handle: .pid, .running, .stdout, .stderr (output so far; past 16 MiB only the latest 8 MiB are kept, after a line saying how much was dropped), kill(), wait(), output(). The lab ends it, and everything it started, at teardown.",
        example: r#"let srv = spawn_in("h2", "nc -l -p 8080"); ... srv.kill();"#,
        ip: "ip netns exec NS CMD... &",
    },
    FnDoc {
        name: "spawn",
        forms: &["spawn(cmd) -> Proc", "spawn(ns, cmd) -> Proc"],
        summary: "Like spawn_in; without a namespace it runs where nslab runs. As a method: n.spawn(cmd).",
        example: r#"let n = netns("h2"); let p = n.spawn(["sleep", "5"]);"#,
        ip: "CMD... &",
    },
    FnDoc {
        name: "kill",
        forms: &["kill(proc) -> int"],
        summary: "End a spawned process and its whole process group (SIGKILL), waiting until they are gone; returns its exit status (137 when the kill ended it). As a method: p.kill().",
        example: r#"srv.kill();"#,
        ip: "kill -KILL -PGID",
    },
    FnDoc {
        name: "wait",
        forms: &["wait(proc) -> int", "wait(proc, seconds) -> int"],
        summary: "Wait for a spawned process to end and return its exit status (128 + signal if a signal ended it); with seconds, return () if it is still running then. Ctrl-C stops the wait.",
        example: r#"let code = p.wait(); assert(code == 0);"#,
        ip: "wait PID",
    },
    FnDoc {
        name: "output",
        forms: &["output(proc) -> Exec"],
        summary: "Wait for a spawned process to end and return its exit status and everything it wrote, as exec_in does.",
        example: r#"let r = spawn_in("h1", "ip -j addr").output(); print(r.stdout);"#,
        ip: "CMD... > out 2> err; wait",
    },
];

fn proc_arg(ctx: &NativeCallContext, v: &Dynamic) -> Res<Proc> {
    if let Some(p) = v.read_lock::<Proc>() {
        return Ok(p.clone());
    }
    Err(argument_error(
        ctx,
        format!("the first argument of {} must be a process (from spawn_in), not {}", ctx.fn_name(), args::shown(v)),
    ))
}

pub fn register(reg: &mut Registrar, lab: &SharedLab) {
    // Rhai reserves `spawn` as a keyword for a future feature; nslab's language names it.
    #[allow(deprecated)] // "not deprecated, but considered volatile" (rhai's own words)
    // The engine has one token mapper: it also lets a script start with a byte-order mark.
    reg.engine().on_parse_token(|token, pos, _| match token {
        Token::Reserved(s) if s.as_str() == "spawn" => Token::Identifier(s),
        other => super::diag::bom_token(other, pos),
    });
    let l = lab.clone();
    reg.engine()
        .register_type_with_name::<Proc>("Proc")
        .register_get("pid", |p: &mut Proc| p.pid as i64)
        .register_get("cmd", |p: &mut Proc| p.argv.join(" "))
        .register_get("running", move |p: &mut Proc| l.borrow_mut().proc_running(p.pid).unwrap_or(false))
        .register_fn("to_string", |p: &mut Proc| p.to_string())
        .register_fn("to_debug", |p: &mut Proc| p.to_string());
    for (name, stdout) in [("stdout", true), ("stderr", false)] {
        let l = lab.clone();
        reg.engine().register_get(name, move |p: &mut Proc| {
            let (out, err) = l.borrow_mut().proc_output_so_far(p.pid).unwrap_or_default();
            if stdout {
                out
            } else {
                err
            }
        });
    }

    let start = |l: &SharedLab, ctx: &NativeCallContext, ns: Ns, cmd: &Dynamic, n: usize| -> Res<Proc> {
        let argv = args::command(ctx, cmd, n)?;
        let pid = l.borrow_mut().spawn(&ns, &argv).map_err(|e| lab_error(ctx, e))?;
        Ok(Proc { pid, argv, ns })
    };
    for name in ["spawn_in", "spawn"] {
        let l = lab.clone();
        reg.add(name, move |ctx: NativeCallContext, ns: Dynamic, cmd: Dynamic| {
            let ns = args::ns(&ctx, &ns, 0)?;
            start(&l, &ctx, ns, &cmd, 1)
        });
    }
    let l = lab.clone();
    reg.add("spawn", move |ctx: NativeCallContext, cmd: Dynamic| start(&l, &ctx, Ns::Root, &cmd, 0));

    let l = lab.clone();
    reg.add("kill", move |ctx: NativeCallContext, p: Dynamic| -> Res<i64> {
        let p = proc_arg(&ctx, &p)?;
        let code = l.borrow_mut().proc_kill(p.pid).map_err(|e| lab_error(&ctx, e))?;
        Ok(code as i64)
    });
    let l = lab.clone();
    reg.add("wait", move |ctx: NativeCallContext, p: Dynamic| -> Res<i64> {
        let p = proc_arg(&ctx, &p)?;
        let code = l.borrow_mut().proc_wait(p.pid, None).map_err(|e| lab_error(&ctx, e))?;
        Ok(code.unwrap_or(-1) as i64)
    });
    let l = lab.clone();
    reg.add("wait", move |ctx: NativeCallContext, p: Dynamic, seconds: Dynamic| -> Res<Dynamic> {
        let p = proc_arg(&ctx, &p)?;
        let s = args::number(&ctx, &seconds, "the number of seconds")?;
        if !(0.0..=args::MAX_SECONDS).contains(&s) {
            return Err(argument_error(&ctx, format!("wait needs a number of seconds from 0 to {}, not {s}", args::MAX_SECONDS)));
        }
        let code = l.borrow_mut().proc_wait(p.pid, Some(Duration::from_secs_f64(s))).map_err(|e| lab_error(&ctx, e))?;
        Ok(code.map(|c| Dynamic::from(c as i64)).unwrap_or(Dynamic::UNIT))
    });
    let l = lab.clone();
    reg.add("output", move |ctx: NativeCallContext, p: Dynamic| -> Res<Exec> {
        let p = proc_arg(&ctx, &p)?;
        let out: ExecOutput = l.borrow_mut().proc_output(p.pid).map_err(|e| lab_error(&ctx, e))?;
        Ok(Exec::from_output(out))
    });
}
