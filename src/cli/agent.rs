//! `nslab agent`: this machine's part of a lab across machines, driven by the coordinator
//! (`nslab run --hosts FILE` on another machine) through standard input and output, one JSON
//! object per line (see `lab::machines`). It runs the lab here as any lab runs (ledger,
//! identity checks, teardown); when its input closes, the coordinator is gone, and it tears
//! its part down. It opens no port: who may start it is the transport's business (SSH keys,
//! Kubernetes RBAC).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rhai::{Dynamic, Scope, AST};
use serde_json::json;

use super::session::EXIT_FAILED;
use super::session::{self, Interrupt, Keep, Plan, Teardown};
use crate::lab::machines::{Failure, Reply, Request};
use crate::script::remote::failure_of;
use crate::script::wire;

/// What the reader thread passes on: a request, or the end of the input.
type Incoming = Option<Request>;

pub fn agent() -> i32 {
    // The channel is the standard output this process was given; anything else that would
    // print there (a panic message, a library's warning) goes to standard error instead.
    // SAFETY: dup and dup2 on the process's own standard descriptors.
    let channel_fd = unsafe { libc::dup(1) };
    if channel_fd < 0 {
        note!("nslab agent: cannot keep its standard output: {}", std::io::Error::last_os_error());
        return EXIT_FAILED;
    }
    // SAFETY: as above; fd 2 stays open.
    unsafe { libc::dup2(2, 1) };
    // SAFETY: channel_fd was just made by dup and is owned here alone.
    let mut out = unsafe { File::from_raw_fd(channel_fd) };
    let cancel: Arc<Mutex<Option<Arc<AtomicBool>>>> = Arc::default();
    let incoming = read_requests(cancel.clone());
    let (lab, machine) = match incoming.recv() {
        Ok(Some(Request::Hello { lab, machine, version })) => {
            if version != env!("CARGO_PKG_VERSION") {
                let message = format!("the coordinator runs nslab {version}, this machine nslab {}", env!("CARGO_PKG_VERSION"));
                let _ = answer(&mut out, &Reply::Err(Failure { message, hint: None, kind: "lab".into() }));
                return EXIT_FAILED;
            }
            (lab, machine)
        }
        Ok(Some(Request::Down { lab })) => {
            let reply = super::labs_machines::down_part(&lab);
            let failed = !matches!(&reply, Reply::Ended { report: Some(r), .. } if !r.failed());
            let _ = answer(&mut out, &reply);
            return i32::from(failed);
        }
        Ok(Some(Request::Status { lab })) => {
            let _ = answer(&mut out, &super::labs_machines::status_part(&lab));
            return 0;
        }
        Ok(Some(Request::Guard { pid, start })) => {
            let _ = answer(&mut out, &Reply::Ok(serde_json::Value::Null));
            // Nothing more comes: the channel closing is the only message.
            while let Ok(Some(_)) = incoming.recv() {}
            return super::labs_machines::guard_part(pid, start);
        }
        Ok(Some(Request::Topology { lab })) => {
            let _ = answer(&mut out, &super::graph_machines::topology_part(&lab));
            return 0;
        }
        Ok(Some(other)) => {
            let message = format!("the first request must be hello, not {other:?}");
            let _ = answer(&mut out, &Reply::Err(Failure { message, hint: None, kind: "lab".into() }));
            return EXIT_FAILED;
        }
        _ => return 0,
    };
    let dir = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let plan =
        Plan { name: &lab, dir: &dir, sandbox: None, limits: &[], args: &[], interrupt: Interrupt::EndsSession, hosts: None };
    let printer: crate::script::Printer = std::rc::Rc::new(|s: &str| note!("{s}"));
    let mut session = match session::Session::open_printing(plan, printer) {
        Ok(s) => s,
        Err(refusal) => {
            let failure = Failure { message: refusal.message, hint: refusal.hint, kind: "lab".into() };
            let _ = answer(&mut out, &Reply::Err(failure));
            return EXIT_FAILED;
        }
    };
    let flag = session.script.lab.borrow().cancel_flag();
    *cancel.lock().unwrap_or_else(|e| e.into_inner()) = Some(flag.clone());
    if answer(&mut out, &Reply::Ok(json!({"machine": machine, "pid": std::process::id()}))).is_err() {
        let _ = session.finish(Keep::No);
        return EXIT_FAILED;
    }
    let mut compiled: HashMap<String, AST> = HashMap::new();
    let mut checkpoints = Vec::new();
    loop {
        let request = match incoming.recv_timeout(Duration::from_millis(100)) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) if session.signal().is_none() => continue,
            // A signal (SIGTERM from the machine's owner) or the input gone: the part ends.
            Err(_) => None,
        };
        match request {
            Some(Request::Eval { expr, args }) => {
                flag.store(false, Ordering::Relaxed);
                let reply = session.run(|s| eval(s, &mut compiled, &expr, &args)).unwrap_or_else(|panic| {
                    Reply::Err(Failure { message: format!("nslab agent failed: {panic}"), hint: None, kind: "lab".into() })
                });
                if answer(&mut out, &reply).is_err() {
                    break;
                }
            }
            Some(Request::Checkpoint) => {
                let reply = match session.script.lab.borrow_mut().checkpoint() {
                    Ok(cp) => {
                        checkpoints.push(cp);
                        Reply::Ok(serde_json::Value::Null)
                    }
                    Err(e) => Reply::Err(failure_of(&crate::script::failure::lab_error_at(rhai::Position::NONE, e))),
                };
                if answer(&mut out, &reply).is_err() {
                    break;
                }
            }
            Some(Request::Undo) => {
                let reply = match checkpoints.pop() {
                    Some(cp) => Reply::Ended { report: Some(session.script.lab.borrow_mut().undo_to(cp)), kept: None },
                    None => Reply::Err(Failure { message: "no checkpoint to undo to".into(), hint: None, kind: "lab".into() }),
                };
                if answer(&mut out, &reply).is_err() {
                    break;
                }
            }
            Some(Request::End { keep }) => {
                let ending = session.finish(if keep { Keep::Yes } else { Keep::No });
                let reply = match ending.teardown {
                    Teardown::Done(report) => Reply::Ended { report: Some(report), kept: None },
                    Teardown::Kept => Reply::Ended { report: None, kept: Some(lab.clone()) },
                    Teardown::Crashed(what) => {
                        Reply::Err(Failure { message: format!("teardown failed: {what}"), hint: None, kind: "lab".into() })
                    }
                };
                let _ = answer(&mut out, &reply);
                return 0;
            }
            Some(other) => {
                let message = format!("unexpected request {other:?}");
                if answer(&mut out, &Reply::Err(Failure { message, hint: None, kind: "lab".into() })).is_err() {
                    break;
                }
            }
            None => break,
        }
    }
    // The coordinator is gone (or a signal came): this machine's part goes.
    let ending = session.finish(Keep::No);
    i32::from(!ending.complete())
}

/// Reads requests on a thread of its own, so that a `cancel` reaches the lab while a step runs.
fn read_requests(cancel: Arc<Mutex<Option<Arc<AtomicBool>>>>) -> mpsc::Receiver<Incoming> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stop = || {
            if let Some(flag) = cancel.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                flag.store(true, Ordering::Relaxed);
            }
        };
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<Request>(&line) {
                Ok(Request::Cancel) => stop(),
                Ok(req) => {
                    if tx.send(Some(req)).is_err() {
                        return;
                    }
                }
                Err(e) => note!("nslab agent: ignored a line that is not a request ({e})"),
            }
        }
        stop();
        let _ = tx.send(None);
    });
    rx
}

/// Runs one step: `expr` with `args` as `__a0`, `__a1`, ...; what the lab held back is carried
/// out before the answer, so a failure belongs to this step.
fn eval(s: &mut crate::script::Session, compiled: &mut HashMap<String, AST>, expr: &str, args: &[serde_json::Value]) -> Reply {
    let fail = |message: String| Reply::Err(Failure { message, hint: None, kind: "lab".into() });
    if !compiled.contains_key(expr) {
        match s.engine.compile(expr) {
            Ok(ast) => compiled.insert(expr.to_string(), ast),
            Err(e) => return fail(format!("cannot compile {expr:?}: {e}")),
        };
    }
    let ast = &compiled[expr];
    let mut scope = Scope::new();
    for (i, a) in args.iter().enumerate() {
        match wire::decode(a, None) {
            Ok(v) => scope.push_dynamic(format!("__a{i}"), v),
            Err(e) => return fail(format!("cannot read argument {i}: {e}")),
        };
    }
    let result = s.engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast);
    let flushed = s.lab.borrow_mut().flush();
    match (result, flushed) {
        (Err(e), _) => Reply::Err(failure_of(&e)),
        (Ok(_), Err(e)) => Reply::Err(failure_of(&crate::script::failure::lab_error_at(rhai::Position::NONE, e))),
        (Ok(v), Ok(())) => match wire::encode(&v) {
            Ok(v) => Reply::Ok(v),
            Err(e) => fail(format!("cannot send the answer back: {e}")),
        },
    }
}

/// Writes one answer line.
fn answer(out: &mut File, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}
