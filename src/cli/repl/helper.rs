//! The rustyline helper: completion, hints, multi-line validation and a little colour.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::{CmdKind, Highlighter, MatchingBracketHighlighter};
use rustyline::hint::{Hint, Hinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::complete::{self, Var, World};
use super::input::Completeness;
use crate::lab::Ns;
use crate::script::LabSlot;

/// What the session knows by name, refreshed after each entry.
#[derive(Default)]
pub struct Names {
    pub variables: Vec<(String, Var)>,
    /// nslab's, Rhai's and the session's functions.
    pub functions: Vec<String>,
    /// Signatures of the session's own functions.
    pub signatures: BTreeMap<String, Vec<String>>,
}

/// Names from the session, namespaces and links from the kernel at the moment Tab is pressed.
pub struct LiveWorld {
    pub lab: LabSlot,
    pub names: Rc<RefCell<Names>>,
}

impl World for LiveWorld {
    fn namespaces(&self) -> Vec<String> {
        if self.lab.is_empty() {
            return Vec::new();
        }
        self.lab.borrow().lab_namespaces()
    }

    fn other_namespaces(&self) -> Vec<String> {
        if self.lab.is_empty() {
            return Vec::new();
        }
        self.lab.borrow().other_namespaces()
    }

    fn links(&self, ns: Option<&str>) -> Vec<String> {
        if self.lab.is_empty() {
            return Vec::new();
        }
        let ns = ns.map(Ns::named).unwrap_or(Ns::Root);
        self.lab.borrow_mut().links(&ns).map(|ls| ls.into_iter().map(|l| l.name).collect()).unwrap_or_default()
    }

    fn variables(&self) -> Vec<(String, Var)> {
        self.names.borrow().variables.clone()
    }

    fn functions(&self) -> Vec<String> {
        self.names.borrow().functions.clone()
    }
}

pub struct ReplHelper {
    world: LiveWorld,
    completeness: Completeness,
    color: bool,
    brackets: MatchingBracketHighlighter,
    files: FilenameCompleter,
}

impl ReplHelper {
    pub fn new(world: LiveWorld, color: bool) -> ReplHelper {
        ReplHelper {
            world,
            completeness: Completeness::default(),
            color,
            brackets: MatchingBracketHighlighter::new(),
            files: FilenameCompleter::new(),
        }
    }
}

/// A hint that is only shown: the right arrow does not insert a signature.
pub struct Signature(String);

impl Hint for Signature {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        if line.trim_start().starts_with(":save ") {
            return self.files.complete(line, pos, ctx);
        }
        Ok(complete::complete(line, pos, &self.world))
    }
}

impl Hinter for ReplHelper {
    type Hint = Signature;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<Signature> {
        let names = self.world.names.clone();
        let defined = move |name: &str| names.borrow().signatures.get(name).cloned().unwrap_or_default();
        super::hint::hint(line, pos, terminal_width(), &defined).map(Signature)
    }
}

/// Columns of the terminal on stdout (80 when it does not say).
fn terminal_width() -> usize {
    let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes a winsize into the struct it is given, which lives on this stack.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if self.completeness.unfinished(ctx.input()) { ValidationResult::Incomplete } else { ValidationResult::Valid(None) })
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        if self.color {
            self.brackets.highlight(line, pos)
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(&'s self, prompt: &'p str, default: bool) -> Cow<'b, str> {
        if self.color && default {
            Cow::Owned(format!("\x1b[1;32m{prompt}\x1b[0m"))
        } else {
            Cow::Borrowed(prompt)
        }
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        self.color && self.brackets.highlight_char(line, pos, kind)
    }
}

impl Helper for ReplHelper {}
