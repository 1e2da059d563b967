//! `import "name"`: modules are files beside the script (`name.rhai`), found as Rhai's
//! FileModuleResolver finds them, read with the limits of `files`, and loaded once per run.
//! Modules that import each other, directly or through others, would load each other until the
//! stack overflowed: the cycle is an error at the import that starts it, naming every file in it,
//! both when the script runs and when `nslab check` walks the imports without running anything.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Expr, Module, ModuleResolver, Position, Scope, Shared, Stmt, AST};

type SharedModule = Shared<Module>;

use super::diag::{ScriptError, Source};
use super::failure::{CallFailure, FailureKind};
use super::files;

/// Messages of import cycles start so: an error an outer import passes on unchanged.
const CYCLE: &str = "import cycle: ";

const CYCLE_HINT: &str =
    "modules cannot import each other, directly or through others: move what they share into a module that imports neither";

/// One module being loaded: its file (as `identity` gives it, and as shown), and where (line)
/// its importer imports it.
#[derive(Clone)]
struct Loading {
    file: PathBuf,
    name: String,
    line: usize,
}

#[derive(Default)]
struct State {
    /// The script being run (identity, name shown): a module importing it closes a cycle too.
    root: Option<(PathBuf, String)>,
    /// The modules being loaded, outermost first.
    loading: Vec<Loading>,
    cache: BTreeMap<PathBuf, SharedModule>,
}

/// The engine's module resolver; the session keeps a handle to name the script being run.
#[derive(Clone)]
pub struct Resolver {
    base: PathBuf,
    state: Rc<RefCell<State>>,
}

/// The file an import names: relative to the script's directory, with the extension `.rhai`
/// (replacing one it has), as Rhai's FileModuleResolver makes it.
pub fn file_for(base: &Path, path: &str) -> PathBuf {
    let mut file = if Path::new(path).is_relative() { base.join(path) } else { PathBuf::from(path) };
    file.set_extension("rhai");
    file
}

/// A file as the same file, however it was named.
fn identity(file: &Path) -> PathBuf {
    std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf())
}

fn shown(base: &Path, file: &Path) -> String {
    file.strip_prefix(base).unwrap_or(file).display().to_string()
}

/// "a.rhai imports b.rhai (line 1), which imports a.rhai (line 3)": `chain` is the files in
/// order, each with the line of the import that leads to the next one.
fn cycle_message(chain: &[(String, usize)], closing: &str) -> String {
    let mut text = String::from(CYCLE);
    text += &chain[0].0;
    for (i, (_, line)) in chain.iter().enumerate() {
        let next = chain.get(i + 1).map(|(f, _)| f.as_str()).unwrap_or(closing);
        text += &format!("{} {next} (line {line})", if i == 0 { " imports" } else { ", which imports" });
    }
    text
}

fn failure(message: String, hint: Option<String>, pos: Position) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(CallFailure { message, hint, kind: FailureKind::Argument, held: None }), pos).into()
}

fn is_cycle(err: &EvalAltResult) -> bool {
    matches!(err, EvalAltResult::ErrorRuntime(p, _) if p.read_lock::<CallFailure>().is_some_and(|f| f.message.starts_with(CYCLE)))
}

impl Resolver {
    pub fn new(base: &Path) -> Resolver {
        Resolver { base: base.to_path_buf(), state: Rc::default() }
    }

    /// Names the script about to run (None: REPL entries).
    pub fn set_root(&self, script: Option<&Path>) {
        self.state.borrow_mut().root = script.map(|p| (identity(p), shown(&self.base, p)));
    }

    fn load(
        &self,
        engine: &Engine,
        global: &mut rhai::GlobalRuntimeState,
        scope: &mut Scope,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let file = file_for(&self.base, path);
        let id = identity(&file);
        if let Some(m) = self.state.borrow().cache.get(&id) {
            return Ok(m.clone());
        }
        if let Some(message) = self.cycle_through(&id, &shown(&self.base, &file), pos) {
            return Err(failure(message, Some(CYCLE_HINT.into()), pos));
        }
        let text = files::read_script(&file).map_err(|e| {
            if e.not_found() {
                Box::new(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos))
            } else {
                let hint = e.hint();
                failure(format!("import {path:?}: {e}"), hint, pos)
            }
        })?;
        let mut ast = engine
            .compile_with_scope(&Scope::new(), &text)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.to_string(), e.into(), pos)))?;
        ast.set_source(path);
        let name = shown(&self.base, &file);
        self.state.borrow_mut().loading.push(Loading { file: id.clone(), name, line: pos.line().unwrap_or(0) });
        let module = Module::eval_ast_as_new_raw(engine, scope, global, &ast);
        self.state.borrow_mut().loading.pop();
        let module: SharedModule = match module {
            Ok(m) => m.into(),
            // Reported where the outermost import of the cycle is, in the script that was run.
            Err(mut e) if is_cycle(&e) => {
                e.set_position(pos);
                return Err(e);
            }
            Err(e) => return Err(Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos))),
        };
        self.state.borrow_mut().cache.insert(id, module.clone());
        Ok(module)
    }

    /// The cycle importing `id` (at `pos`, in the module loaded last) would close, if any.
    fn cycle_through(&self, id: &Path, name: &str, pos: Position) -> Option<String> {
        let s = self.state.borrow();
        // The files in loading order, each with the line that imports the next one.
        let mut files: Vec<(&PathBuf, &String)> = s.root.iter().map(|(f, n)| (f, n)).collect();
        files.extend(s.loading.iter().map(|l| (&l.file, &l.name)));
        let start = files.iter().position(|(f, _)| f.as_path() == id)?;
        let lines = s.loading.iter().map(|l| l.line).chain(std::iter::once(pos.line().unwrap_or(0)));
        // Without a root, loading[i] was imported at loading[i].line by loading[i - 1].
        let skip = usize::from(s.root.is_none());
        let chain: Vec<(String, usize)> =
            files.iter().zip(lines.skip(skip)).skip(start).map(|((_, n), line)| (n.to_string(), line)).collect();
        Some(cycle_message(&chain, name))
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let global = &mut engine.new_global_runtime_state();
        self.load(engine, global, &mut Scope::new(), path, pos)
    }

    fn resolve_raw(
        &self,
        engine: &Engine,
        global: &mut rhai::GlobalRuntimeState,
        scope: &mut Scope,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        self.load(engine, global, scope, path, pos)
    }
}

/// The imports of an AST whose path is written as a string: (path, position of the path, as
/// Rhai reports a failing import).
fn imports(ast: &AST) -> Vec<(String, Position)> {
    let mut found = Vec::new();
    ast.walk(&mut |path: &[rhai::ASTNode]| {
        if let Some(rhai::ASTNode::Stmt(Stmt::Import(x, _))) = path.last() {
            if let Expr::StringConstant(s, pos) = &x.0 {
                found.push((s.to_string(), *pos));
            }
        }
        true
    });
    found
}

/// What following an import found wrong.
enum Problem {
    /// Reported at the script's import that leads there.
    AtImport(String, Option<String>),
    /// Placed in the module already (a syntax error at its line).
    InModule(Box<ScriptError>),
}

/// For `nslab check`: follows the imports of a script through the files they name (without
/// running anything) and reports, at the script's import that leads there, a module that cannot
/// be read or parsed and every import cycle.
pub fn check_imports(engine: &Engine, ast: &AST, source: &Source, limits: &super::limits::Limits) -> Vec<ScriptError> {
    let base = super::script_dir(&source.name);
    let root = identity(Path::new(&source.name));
    let mut walk = Walk { engine, base: &base, done: HashSet::new(), problems: Vec::new(), limits };
    let mut errors = Vec::new();
    for (path, pos) in imports(ast) {
        let mut chain = vec![(root.clone(), shown(&base, Path::new(&source.name)), pos.line().unwrap_or(0))];
        walk.problems.clear();
        walk.visit(&path, &mut chain);
        for problem in walk.problems.drain(..) {
            errors.push(match problem {
                Problem::AtImport(message, hint) => source.check_error(message, pos, hint),
                Problem::InModule(mut e) => {
                    source.imported_here(&mut e, pos, &path);
                    *e
                }
            });
        }
    }
    errors
}

struct Walk<'a> {
    engine: &'a Engine,
    base: &'a Path,
    /// Modules whose imports were followed already.
    done: HashSet<PathBuf>,
    problems: Vec<Problem>,
    /// The limits in force, to name one a module's syntax reaches.
    limits: &'a super::limits::Limits,
}

impl Walk<'_> {
    /// Follows the import of `path` from the last file of `chain` (file, name, line of the
    /// import that leads on).
    fn visit(&mut self, path: &str, chain: &mut Vec<(PathBuf, String, usize)>) {
        let file = file_for(self.base, path);
        let id = identity(&file);
        let name = shown(self.base, &file);
        if let Some(start) = chain.iter().position(|(f, ..)| *f == id) {
            let files: Vec<(String, usize)> = chain[start..].iter().map(|(_, n, l)| (n.clone(), *l)).collect();
            self.problems.push(Problem::AtImport(cycle_message(&files, &name), Some(CYCLE_HINT.into())));
            return;
        }
        if !self.done.insert(id.clone()) {
            return;
        }
        let text = match files::read_script(&file) {
            Ok(t) => t,
            Err(e) if e.not_found() => {
                self.problems.push(Problem::AtImport(
                    format!("no module {path:?}: there is no file {}", file.display()),
                    Some("import \"NAME\" reads NAME.rhai in the directory of the script that was run".into()),
                ));
                return;
            }
            Err(e) => {
                self.problems.push(Problem::AtImport(format!("import {path:?}: {e}"), e.hint()));
                return;
            }
        };
        let ast = match self.engine.compile(&text) {
            Ok(a) => a,
            Err(e) => {
                let module = Source { name: file.display().to_string(), text };
                self.problems.push(Problem::InModule(Box::new(module.from_parse(&e, self.limits))));
                return;
            }
        };
        for (next, pos) in imports(&ast) {
            chain.push((id.clone(), name.clone(), pos.line().unwrap_or(0)));
            self.visit(&next, chain);
            chain.pop();
        }
    }
}
