//! One REPL session: takes entries (statements or `:commands`), runs them, prints what they give.
//! The terminal and the piped front ends both feed it.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rhai::Dynamic;

use super::commands::{self, Command};
use super::complete::Var;
use super::eval::Evaluator;
use super::helper::Names;
use super::{help, net, save, show};
use crate::cli::report;
use crate::cli::session::Keep;
use crate::script::check::Known;
use crate::script::values::{Exec, Netns, Ping};
use crate::script::{ErrorKind, ScriptError, Session};

pub enum Flow {
    Go,
    Quit,
}

pub struct Shell<'s> {
    pub session: &'s mut Session,
    pub eval: Evaluator,
    pub names: Rc<RefCell<Names>>,
    known: Known,
    pub keep: Keep,
    pub sandbox: bool,
    pub color: bool,
    /// Entries that failed.
    pub failures: usize,
    cancel: Arc<AtomicBool>,
    /// Set by SIGTERM / SIGHUP: leave as soon as possible.
    stop: Arc<AtomicBool>,
}

impl<'s> Shell<'s> {
    pub fn new(
        session: &'s mut Session,
        cancel: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
        sandbox: bool,
        keep: Keep,
        color: bool,
    ) -> Shell<'s> {
        let known = Known::from_engine(&session.engine);
        let mut shell = Shell {
            session,
            eval: Evaluator::default(),
            names: Rc::default(),
            known,
            keep,
            sandbox,
            color,
            failures: 0,
            cancel,
            stop,
        };
        shell.refresh_names();
        shell
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn handle(&mut self, entry: &str) -> Flow {
        let text = entry.trim();
        if text.is_empty() {
            return Flow::Go;
        }
        if text.starts_with(':') {
            return match commands::parse(text) {
                Ok(c) => self.command(c),
                Err(msg) => {
                    self.fail(&msg);
                    Flow::Go
                }
            };
        }
        self.statement(entry.trim_end())
    }

    fn statement(&mut self, text: &str) -> Flow {
        // A Ctrl-C that came while no statement ran must not stop this one.
        self.cancel.store(false, Ordering::Relaxed);
        let result = self.eval.eval(self.session, text);
        self.cancel.store(false, Ordering::Relaxed);
        match result {
            Ok(value) => self.echo(&value),
            Err(errors) => {
                self.failures += 1;
                self.print_errors(&errors);
            }
        }
        self.refresh_names();
        if self.stopped() {
            Flow::Quit
        } else {
            Flow::Go
        }
    }

    fn echo(&self, value: &Dynamic) {
        if let Some(text) = show::show(&self.session.engine, value) {
            out!("{text}");
        }
    }

    pub fn print_errors(&self, errors: &[ScriptError]) {
        for e in errors {
            if e.kind == ErrorKind::Interrupted {
                note!("interrupted");
            } else {
                note!("{}", report::render(e, self.color).trim_end());
            }
        }
    }

    fn fail(&mut self, msg: &str) {
        self.failures += 1;
        if self.color {
            note!("\x1b[31merror:\x1b[0m {msg}");
        } else {
            note!("error: {msg}");
        }
    }

    fn command(&mut self, command: Command) -> Flow {
        match command {
            Command::Help(None) => out!("{}", help::overview()),
            Command::Help(Some(name)) => match help::topic(&name, &self.eval.signatures(&name), self.known.arities(&name)) {
                Ok(text) => out!("{text}"),
                Err(msg) => self.fail(&msg),
            },
            Command::Net => {
                let gathered = net::gather(&mut self.session.lab.borrow_mut());
                match gathered {
                    Ok(spaces) => out!("{}", net::render(&spaces)),
                    Err(e) => self.fail(&e.to_string()),
                }
            }
            Command::Save(path) => {
                let name = self.session.lab.borrow().name().to_string();
                let text = save::script(&self.eval.took_effect, &name);
                match save::write(Path::new(&path), &text) {
                    Ok(()) => note!("saved {} entries to {path}", self.eval.took_effect.len()),
                    Err(e) => self.fail(&format!("cannot write {path}: {e}")),
                }
            }
            Command::Keep => {
                self.keep = Keep::Yes;
                if self.sandbox {
                    note!("the lab will be left standing in its sandbox when you leave; `nslab shell` enters it, `nslab down` removes it");
                } else {
                    note!("the lab will be left standing when you leave; `nslab down` removes it");
                }
            }
            Command::Quit => return Flow::Quit,
        }
        Flow::Go
    }

    /// Updates what completion and hints know: variables and the session's functions.
    fn refresh_names(&mut self) {
        let mut variables: Vec<(String, Var)> = Vec::new();
        // Newest first: a variable declared again hides the older one.
        for (name, _, value) in self.session.scope.iter_raw() {
            if !variables.iter().any(|(n, _)| n == name) {
                variables.push((name.to_string(), classify(value)));
            }
        }
        let defined = self.eval.functions();
        let mut functions: Vec<String> = self.known.names().map(str::to_string).collect();
        functions.extend(defined.keys().cloned());
        let signatures = defined.keys().map(|n| (n.clone(), self.eval.signatures(n))).collect();
        *self.names.borrow_mut() = Names { variables, functions, signatures };
    }
}

fn classify(v: &Dynamic) -> Var {
    if let Some(n) = v.read_lock::<Netns>() {
        return Var::Netns(n.name.clone());
    }
    if v.is_string() {
        return Var::Text(v.clone().into_string().unwrap_or_default());
    }
    if v.is::<Ping>() {
        return Var::Ping;
    }
    if v.is::<Exec>() {
        return Var::Exec;
    }
    if let Some(m) = v.read_lock::<rhai::Map>() {
        return Var::Map(m.keys().map(|k| k.to_string()).collect());
    }
    Var::Other
}
