//! What a test run records while a script runs: a log of every call to nslab's functions (its
//! arguments, result and duration), kept only when capturing is on, and the outcomes of named
//! sub-tests (`test("name", || ...)`). The registrar logs calls; the testing bindings record
//! sub-tests; the runner takes both when the script ends.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, FnPtr};

use super::diag::{ScriptError, Source};
use super::failure::{CallFailure, FailureKind};
use super::values::{Exec, Netns, Ping};
use super::Session;

/// The most calls the log keeps: the latest ones (a loop can make millions).
pub const MAX_CALLS: usize = 10_000;

/// One call to a native function.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The function's name.
    pub name: &'static str,
    /// Its arguments, as the script would write them.
    pub args: Vec<String>,
    /// Script line of the call, when known.
    pub line: Option<usize>,
    /// How many logged calls enclose this one (calls made from a closure that `test` runs).
    pub depth: usize,
    /// When the call started, from the first call of the run.
    pub start: Duration,
    /// How long the call took.
    pub duration: Duration,
    /// The returned value, or the error message.
    pub result: Result<String, String>,
}

/// How a sub-test ended.
#[derive(Debug)]
pub enum SubtestOutcome {
    /// The sub-test ran to its end.
    Passed,
    /// The sub-test failed with this error.
    Failed(ScriptError),
    /// The sub-test was skipped, for this reason.
    Skipped(ScriptError),
    /// Ctrl-C, SIGTERM or a test runner's timeout stopped it (and the whole script).
    Interrupted,
}

/// One `test(name, || ...)` sub-test and how it ended.
#[derive(Debug)]
pub struct Subtest {
    /// The name given to `test`; nested sub-tests are named "outer / inner".
    pub name: String,
    /// How long it ran.
    pub duration: Duration,
    /// How it ended.
    pub outcome: SubtestOutcome,
}

enum Ended {
    Passed,
    Failed(Box<EvalAltResult>),
    Interrupted,
}

struct Record {
    name: String,
    duration: Duration,
    ended: Ended,
}

#[derive(Default)]
struct State {
    capture: bool,
    started: Option<Instant>,
    depth: usize,
    /// The latest `MAX_CALLS` calls; `first` is the number of the oldest one kept.
    calls: VecDeque<CallRecord>,
    first: usize,
    subtests: Vec<Record>,
    path: Vec<String>,
    /// Closures given to `defer`, per enclosing `test` (the first frame is the script's).
    defers: Vec<Vec<Deferred>>,
}

/// Shared by the registrar, the testing bindings and the session.
#[derive(Clone, Default)]
pub struct Harness(Rc<RefCell<State>>);

impl Harness {
    /// Turns the call log on or off.
    pub fn capture_calls(&self, on: bool) {
        self.0.borrow_mut().capture = on;
    }

    /// Whether native calls are being recorded.
    pub fn capturing(&self) -> bool {
        self.0.borrow().capture
    }

    /// Notes the start of a call; returns its index for `end_call`.
    pub(crate) fn begin_call(&self, name: &'static str, args: Vec<String>, line: Option<usize>) -> usize {
        let mut s = self.0.borrow_mut();
        let now = Instant::now();
        let start = now - *s.started.get_or_insert(now);
        let depth = s.depth;
        s.depth += 1;
        if s.calls.len() >= MAX_CALLS {
            s.calls.pop_front();
            s.first += 1;
        }
        s.calls.push_back(CallRecord { name, args, line, depth, start, duration: Duration::ZERO, result: Ok(String::new()) });
        s.first + s.calls.len() - 1
    }

    pub(crate) fn end_call(&self, index: usize, duration: Duration, result: Result<String, String>) {
        let mut s = self.0.borrow_mut();
        s.depth = s.depth.saturating_sub(1);
        let Some(at) = index.checked_sub(s.first) else { return };
        if let Some(c) = s.calls.get_mut(at) {
            c.duration = duration;
            c.result = result;
        }
    }

    /// The calls logged (the latest `MAX_CALLS`), and how many earlier ones were not kept.
    pub fn take_calls(&self) -> (Vec<CallRecord>, usize) {
        let mut s = self.0.borrow_mut();
        let dropped = std::mem::take(&mut s.first);
        (std::mem::take(&mut s.calls).into(), dropped)
    }

    /// Keeps `f` (deferred at `at`) to run when the enclosing `test` (or the script) ends.
    pub(crate) fn defer(&self, f: FnPtr, at: rhai::Position) {
        let mut s = self.0.borrow_mut();
        if s.defers.is_empty() {
            s.defers.push(Vec::new());
        }
        s.defers.last_mut().expect("a frame").push(Deferred { f, at });
    }

    /// Opens a frame for the closures a `test` body defers.
    pub(crate) fn open_defers(&self) {
        let mut s = self.0.borrow_mut();
        if s.defers.is_empty() {
            s.defers.push(Vec::new());
        }
        s.defers.push(Vec::new());
    }

    /// Closes the innermost frame (the script's when no `test` runs): its closures, to run
    /// newest first.
    pub(crate) fn close_defers(&self) -> Vec<Deferred> {
        let mut frame = self.0.borrow_mut().defers.pop().unwrap_or_default();
        frame.reverse();
        frame
    }

    /// Runs a sub-test's body and records how it ended. A failure is recorded, not returned: the
    /// script goes on with the next statement. An interruption is returned, to stop everything.
    pub(crate) fn run_subtest(
        &self,
        name: &str,
        body: impl FnOnce() -> Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<(), Box<EvalAltResult>> {
        let full = {
            let mut s = self.0.borrow_mut();
            s.path.push(name.to_string());
            s.path.join(" / ")
        };
        let start = Instant::now();
        let result = body();
        let duration = start.elapsed();
        let mut s = self.0.borrow_mut();
        s.path.pop();
        match result {
            Ok(_) => s.subtests.push(Record { name: full, duration, ended: Ended::Passed }),
            Err(e) if is_interruption(&e) => {
                s.subtests.push(Record { name: full, duration, ended: Ended::Interrupted });
                return Err(e);
            }
            Err(e) => s.subtests.push(Record { name: full, duration, ended: Ended::Failed(e) }),
        }
        Ok(())
    }
}

fn is_interruption(e: &EvalAltResult) -> bool {
    match e {
        // Memory running short stops a sub-test like a failure, not like Ctrl-C.
        EvalAltResult::ErrorTerminated(token, _) => !token.is::<super::limits::MemoryStop>(),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => is_interruption(inner),
        EvalAltResult::ErrorRuntime(payload, _) => {
            payload.read_lock::<CallFailure>().is_some_and(|f| f.kind == FailureKind::Interrupted)
        }
        _ => false,
    }
}

/// The error inside a closure's frame: the closure itself is no place to point at.
fn without_closure_frame(e: EvalAltResult) -> Box<EvalAltResult> {
    match e {
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) if name.starts_with("anon$") => inner,
        other => Box::new(other),
    }
}

impl Session {
    /// The sub-tests run so far, in the order they ended, with failures as diagnostics.
    pub fn take_subtests(&mut self, source: &Source) -> Vec<Subtest> {
        let records = std::mem::take(&mut self.harness.0.borrow_mut().subtests);
        let dir = super::script_dir(&source.name);
        records
            .into_iter()
            .map(|r| {
                let outcome = match r.ended {
                    Ended::Passed => SubtestOutcome::Passed,
                    Ended::Interrupted => SubtestOutcome::Interrupted,
                    Ended::Failed(e) => {
                        let e =
                            source.from_eval(&without_closure_frame(*e), &|name| super::load_module(&dir, name), &self.limits);
                        if e.kind == super::ErrorKind::Skipped {
                            SubtestOutcome::Skipped(e)
                        } else {
                            SubtestOutcome::Failed(e)
                        }
                    }
                };
                Subtest { name: r.name, duration: r.duration, outcome }
            })
            .collect()
    }
}

/// Longest text kept for one argument or result in the call log.
const MAX_SHOWN: usize = 160;

/// Text formatted up to a bound: formatting stops there, so a value of millions of elements
/// costs no more than a short one.
struct Bounded(String);

impl std::fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = (MAX_SHOWN * 4).saturating_sub(self.0.len());
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.0.push_str(&s[..cut]);
        Err(std::fmt::Error)
    }
}

fn bounded(args: std::fmt::Arguments) -> String {
    let mut out = Bounded(String::new());
    let _ = std::fmt::write(&mut out, args);
    out.0
}

/// A value as the call log shows it: strings quoted, handles and results as scripts print them.
pub fn describe(v: &Dynamic) -> String {
    let text = if let Some(n) = v.read_lock::<Netns>() {
        bounded(format_args!("{}", *n))
    } else if let Some(p) = v.read_lock::<Ping>() {
        bounded(format_args!("{}", *p))
    } else if let Some(e) = v.read_lock::<Exec>() {
        bounded(format_args!("exit {}: {}", e.code, *e))
    } else if let Some(f) = v.read_lock::<FnPtr>() {
        if f.is_anonymous() {
            "<closure>".into()
        } else {
            format!("Fn({:?})", f.fn_name())
        }
    } else if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        bounded(format_args!("{:?}", s.as_str()))
    } else {
        bounded(format_args!("{v:?}"))
    };
    let flat = text.trim_end().replace('\n', " ⏎ ");
    if flat.chars().count() > MAX_SHOWN {
        let cut: String = flat.chars().take(MAX_SHOWN).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

/// An error as the call log shows it: the message a failed native call carries.
pub fn describe_error(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorRuntime(payload, _) => match payload.read_lock::<CallFailure>() {
            Some(f) => f.message.clone(),
            None => payload.to_string(),
        },
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => describe_error(inner),
        other => other.to_string(),
    }
}

/// A closure `defer` keeps, and where `defer` was called.
pub(crate) struct Deferred {
    pub f: FnPtr,
    pub at: rhai::Position,
}

impl Deferred {
    /// A failure of the closure, placed at its `defer` when it has no place of its own (it was
    /// called from nslab, not from the script); a closure that wants arguments is said so.
    pub fn locate(&self, mut e: Box<EvalAltResult>) -> Box<EvalAltResult> {
        if let EvalAltResult::ErrorFunctionNotFound(name, _) = e.as_ref() {
            if name.starts_with("anon$") || name.starts_with(self.f.fn_name()) {
                let message = "the function given to defer must take no arguments: it is called with none when the test (or the script) ends";
                return EvalAltResult::ErrorRuntime(message.into(), self.at).into();
            }
        }
        if e.position().is_none() {
            e.set_position(self.at);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_short_and_on_one_line() {
        assert_eq!(describe(&Dynamic::from("h1")), "\"h1\"");
        assert_eq!(describe(&Dynamic::from(Netns { name: Some("h1".into()), on: None })), "netns(\"h1\")");
        assert_eq!(describe(&Dynamic::UNIT), "()");
        let long = "x".repeat(500);
        assert!(describe(&Dynamic::from(long)).ends_with('…'));
        assert_eq!(describe(&Dynamic::from("a\nb".to_string())), "\"a\\nb\"");
    }
}
