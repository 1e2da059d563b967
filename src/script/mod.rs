//! Script bindings: the Rhai engine with nslab's functions, running scripts against a lab.
//! Nothing here prints: output goes to the printer the caller provides.

pub(crate) mod args;
pub(crate) mod bindings;
pub mod catalog;
pub(crate) mod check;
pub(crate) mod check_handles;
pub(crate) mod defs_core;
pub(crate) mod defs_link_edit;
pub(crate) mod defs_links;
pub(crate) mod defs_machines;
pub(crate) mod defs_neigh;
pub(crate) mod defs_net;
pub(crate) mod defs_probe;
pub(crate) mod defs_processes;
pub(crate) mod defs_routes;
pub(crate) mod defs_testing;
pub(crate) mod defs_throughput_parts;
pub(crate) mod defs_traffic;
pub(crate) mod defs_view;
pub(crate) mod diag;
pub(crate) mod failure;
pub(crate) mod files;
pub mod harness;
pub(crate) mod held;
pub mod hints;
pub(crate) mod limits;
pub(crate) mod modules;
pub mod native;
pub(crate) mod processes;
pub(crate) mod reference;
pub(crate) mod registrar;
pub(crate) mod remote;
pub(crate) mod remote_cross;
pub(crate) mod remote_wide;
pub(crate) mod render_reach;
pub mod types;
pub(crate) mod values;
pub(crate) mod values_routes;
pub(crate) mod values_traffic;
pub mod wire;

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Position, Scope, AST};

pub use diag::{ErrorKind, ScriptError, Source};

use crate::lab::machines::Machines;
use crate::lab::Lab;

/// The lab the bindings act on. Empty while only checking a script: nothing may run then.
/// With it, where the calls the lab held back were made (see `held.rs`).
/// With a lab across machines, its agents (see `remote.rs`).
#[derive(Clone, Default)]
pub struct LabSlot(Rc<RefCell<Option<Lab>>>, held::HeldCalls, Rc<RefCell<Option<Machines>>>);

impl LabSlot {
    /// A slot holding `lab`.
    pub fn new(lab: Lab) -> LabSlot {
        LabSlot(Rc::new(RefCell::new(Some(lab))), held::HeldCalls::default(), Rc::default())
    }

    /// The lab's other machines, when it spans machines.
    pub fn machines(&self) -> Option<RefMut<'_, Machines>> {
        RefMut::filter_map(self.2.borrow_mut(), Option::as_mut).ok()
    }

    /// Whether the lab spans machines.
    pub fn spans_machines(&self) -> bool {
        self.2.borrow().is_some()
    }

    /// Makes the lab span `machines`.
    pub fn set_machines(&self, machines: Machines) {
        *self.2.borrow_mut() = Some(machines);
    }

    /// Takes the machines out (to end their parts of the lab).
    pub fn take_machines(&self) -> Option<Machines> {
        self.2.borrow_mut().take()
    }

    /// The lab, to read (panics when the slot is empty: only while checking).
    pub fn borrow(&self) -> Ref<'_, Lab> {
        Ref::map(self.0.borrow(), |l| l.as_ref().expect("a lab is present when scripts run"))
    }

    /// The lab, to change (panics when the slot is empty: only while checking).
    pub fn borrow_mut(&self) -> RefMut<'_, Lab> {
        RefMut::map(self.0.borrow_mut(), |l| l.as_mut().expect("a lab is present when scripts run"))
    }

    /// Takes the lab out, leaving the slot empty (to tear it down).
    pub fn take(&self) -> Option<Lab> {
        self.0.borrow_mut().take()
    }

    /// Whether there is no lab (the script is only being checked).
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_none()
    }

    /// Where each held-back call was made, by ticket (see `held.rs`).
    pub fn held(&self) -> &held::HeldCalls {
        &self.1
    }

    /// Carries out what the lab held back before a `print` or `debug` shows anything: what a
    /// script printed has happened. A print cannot fail, so a failure is kept and raised by the
    /// next call (or at the end). Skipped while a call is using the lab (a print from a closure
    /// it runs).
    fn flush_for_print(&self) {
        let Ok(mut slot) = self.0.try_borrow_mut() else { return };
        let Some(lab) = slot.as_mut() else { return };
        if let Err(e) = lab.flush() {
            self.1.keep_failure(e);
        }
    }
}

/// Where a script's `print` output goes.
pub type Printer = Rc<dyn Fn(&str)>;

/// A Rhai engine with nslab's functions, the lab they act on, and the variables scripts and
/// REPL entries have defined. [`Session::run`] runs a whole script.
pub struct Session {
    /// The Rhai engine, with nslab's functions registered.
    pub engine: Engine,
    /// The lab the functions act on.
    pub lab: LabSlot,
    /// Variables and constants defined so far (kept between REPL entries).
    pub scope: Scope<'static>,
    known: Option<check::Known>,
    /// What the last `compile` found worth a word but not an error.
    warnings: Vec<ScriptError>,
    /// The functions nslab registered, as (name, arity).
    pub registered: Vec<(&'static str, usize)>,
    /// The call log (when capturing) and the sub-tests of the scripts run.
    pub harness: harness::Harness,
    resolver: modules::Resolver,
    /// Limits given on the command line: they win over a script's `// limits:` line.
    limit_flags: limits::Overrides,
    limits: limits::Limits,
    /// The memory limit in force (see `limits::memory_budget`), watched between steps.
    memory_budget: Rc<Cell<u64>>,
}

/// Runs `f` (the interpreter) on a stack of `size` bytes, allocated for the call: Rhai recurses
/// in Rust for every nested call and expression, and the limits on both are only safe with a
/// stack sized for them (see `Limits::stack_size`). Below 8 MiB (a tight `ulimit -v`) the
/// thread's own stack is as good.
pub fn on_big_stack<R>(size: usize, f: impl FnOnce() -> R) -> R {
    if size < 8 << 20 {
        return f();
    }
    stacker::grow(size, f)
}

impl Session {
    /// A session acting on `lab`; `None` gives one that can only compile and check.
    pub fn new(lab: Option<Lab>, script_dir: &Path, printer: Printer) -> Session {
        let cancel = lab.as_ref().map(|l| l.cancel_flag()).unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
        let slot = match lab {
            Some(l) => LabSlot::new(l),
            None => LabSlot::default(),
        };
        let mut engine = Engine::new();
        let resolver = modules::Resolver::new(script_dir);
        engine.set_module_resolver(resolver.clone());
        let (p, l) = (printer.clone(), slot.clone());
        engine.on_print(move |s| {
            l.flush_for_print();
            p(s)
        });
        let (p, l) = (printer, slot.clone());
        engine.on_debug(move |s, src, pos| {
            l.flush_for_print();
            p(&format!("{}{pos:?} {s}", src.map(|s| format!("{s} ")).unwrap_or_default()))
        });
        // Ctrl-C stops Rhai code between steps; blocking calls watch the same flag. So does
        // memory running short: stopped here, the script's values are freed as the error
        // travels up, and the lab can still be torn down.
        let memory_budget = Rc::new(Cell::new(u64::MAX));
        let budget = memory_budget.clone();
        engine.on_progress(move |_| {
            if cancel.load(Ordering::Relaxed) {
                return Some(Dynamic::UNIT);
            }
            let held = crate::engine::heap::in_use() as u64;
            (held > budget.get()).then(|| Dynamic::from(limits::MemoryStop { held, budget: budget.get() }))
        });
        let mut reg = bindings::Registrar::new(&mut engine, slot.held().clone());
        bindings::register(&mut reg, &slot);
        let (registered, harness) = reg.finish();
        let mut session = Session {
            engine,
            lab: slot,
            scope: Scope::new(),
            known: None,
            warnings: Vec::new(),
            registered,
            harness,
            resolver,
            limit_flags: Vec::new(),
            limits: limits::Limits::default(),
            memory_budget,
        };
        session.apply_limits(limits::Limits::default());
        session
    }

    /// Limits from the command line (`--limit`); they win over a script's own `// limits:`.
    pub fn set_limit_flags(&mut self, flags: limits::Overrides) {
        self.limit_flags = flags;
        self.apply_limits(limits::Limits::default().with(&self.limit_flags));
    }

    /// The limits in force.
    pub fn limits(&self) -> limits::Limits {
        self.limits
    }

    fn apply_limits(&mut self, l: limits::Limits) {
        l.apply(&mut self.engine);
        let budget = limits::memory_budget(&l);
        self.memory_budget.set(budget);
        self.limits = l;
    }

    /// Runs a compiled AST (no held-back work carried out: see `eval`), on a stack big enough
    /// for the limits. `script`: the file it comes from (None: a REPL entry), so that a module
    /// importing it is seen as a cycle.
    pub fn eval_ast(&mut self, ast: &AST, script: Option<&Path>) -> Result<Dynamic, Box<EvalAltResult>> {
        self.resolver.set_root(script);
        let (engine, scope) = (&self.engine, &mut self.scope);
        on_big_stack(self.limits.stack(), || engine.eval_ast_with_scope::<Dynamic>(scope, ast))
    }

    /// Gives the script the string array `ARGS`.
    pub fn set_args(&mut self, args: &[String]) {
        let arr: Array = args.iter().cloned().map(Dynamic::from).collect();
        self.scope.push_constant("ARGS", arr);
    }

    /// Compiles and checks a script: its `// limits:` line, syntax, unknown functions, argument
    /// counts, and the modules it imports (readable, parsable, no cycle).
    pub fn compile(&mut self, source: &Source) -> Result<AST, Vec<ScriptError>> {
        let header = limits::header(&source.text).map_err(|(line, message)| {
            let pos = Position::new(u16::try_from(line).unwrap_or(u16::MAX), 1);
            vec![source.check_error(message, pos, None)]
        })?;
        self.apply_limits(limits::Limits::default().with(&header).with(&self.limit_flags));
        let (engine, scope, known, warnings) = (&self.engine, &self.scope, &mut self.known, &mut self.warnings);
        // Parsing and walking the tree (of the script and of its modules) recurse as deep as it
        // nests: on the interpreter's stack too.
        let limits = self.limits;
        on_big_stack(limits.stack(), || {
            let mut ast = engine.compile_with_scope(scope, &source.text).map_err(|e| vec![source.from_parse(&e, &limits)])?;
            ast.set_source(source.name.as_str());
            let mut problems = check::check(engine, &ast, source, known);
            let (wrong_handles, warned) = check_handles::check(&ast, source);
            problems.extend(wrong_handles);
            *warnings = warned;
            problems.extend(modules::check_imports(engine, &ast, source, &limits));
            if problems.is_empty() {
                Ok(ast)
            } else {
                Err(problems)
            }
        })
    }

    /// What the last `compile` warned about (a link named like a namespace), once.
    pub fn take_warnings(&mut self) -> Vec<ScriptError> {
        std::mem::take(&mut self.warnings)
    }

    /// Runs a compiled script; whatever the lab held back is carried out before it returns (also
    /// after an error: a REPL entry that failed half way leaves what came before it done), so its
    /// failure is reported as part of this run, at the call that asked for it.
    pub fn eval(&mut self, ast: &AST, source: &Source) -> Result<Dynamic, Box<ScriptError>> {
        let dir = script_dir(&source.name);
        let result = self.eval_ast(ast, Some(Path::new(&source.name)));
        let result = self.run_deferred(ast, result);
        let result = self.finish_held_back(result, Some(&source.name));
        result.map_err(|e| Box::new(source.from_eval(&e, &|name| load_module(&dir, name), &self.limits)))
    }

    /// Runs what the script deferred outside any `test` (newest first, all of them, also after a
    /// failure); the first failure of one fails a script that had not failed.
    pub(crate) fn run_deferred(
        &mut self,
        ast: &AST,
        mut result: Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        for d in self.harness.close_defers() {
            let engine = &self.engine;
            let done = on_big_stack(self.limits.stack(), || d.f.call::<Dynamic>(engine, ast, ()));
            if let (Ok(_), Err(e)) = (&result, done) {
                result = Err(d.locate(e));
            }
        }
        result
    }

    /// Carries out what the lab held back, after a script or a REPL entry ran (also after it
    /// failed: what came before the failure took effect). A failure of that is the run's, reported
    /// at the call that asked for it.
    pub fn carry_out_held_back(&mut self, result: Result<Dynamic, Box<EvalAltResult>>) -> Result<Dynamic, Box<EvalAltResult>> {
        self.finish_held_back(result, None)
    }

    /// `carry_out_held_back` for a run of the file `source` (None: a REPL entry).
    fn finish_held_back(
        &mut self,
        result: Result<Dynamic, Box<EvalAltResult>>,
        source: Option<&str>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        if self.lab.is_empty() {
            return result;
        }
        let held = self.lab.held().clone();
        let flushed = self.lab.borrow_mut().flush();
        let out = match (result, held.take_failure().map_or(flushed, Err)) {
            (Ok(_), Err(e)) => Err(held.relocate(failure::lab_error_at(rhai::Position::NONE, e), source)),
            (result, _) => result,
        };
        held.clear();
        out
    }

    /// Compiles, checks and runs a whole script.
    pub fn run(&mut self, source: &Source) -> Result<(), Vec<ScriptError>> {
        let ast = self.compile(source)?;
        self.eval(&ast, source).map(|_| ()).map_err(|e| vec![*e])
    }
}

/// The folder a script's relative imports and files are found from: the folder of `path`.
pub fn script_dir(path: &str) -> PathBuf {
    Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

fn load_module(dir: &Path, name: &str) -> Option<Source> {
    let candidates = [PathBuf::from(name), dir.join(name), dir.join(format!("{name}.rhai"))];
    candidates.into_iter().find_map(|p| files::read_script(&p).ok().map(|text| Source { name: p.display().to_string(), text }))
}
