//! Evaluating one REPL entry against the session: variables live on in the session's scope,
//! functions in a kept AST (merged entry by entry, statements cleared). Remembers every entry, so
//! errors can point into the entry where a failing function was defined, and the text that took
//! effect, for `:save`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rhai::{Dynamic, EvalAltResult, AST};

use super::lex;
use crate::script::check::{self, Earlier, Known};
use crate::script::{ScriptError, Session, Source};

#[derive(Default)]
pub struct Evaluator {
    /// Every script function defined so far; no statements.
    kept: AST,
    /// Function name → index in `entries` of the entry that defined it last.
    origins: HashMap<String, usize>,
    entries: Vec<Source>,
    /// The text of each entry that took effect, in order: what `:save` writes.
    pub took_effect: Vec<String>,
    known: Option<Known>,
}

impl Evaluator {
    /// Runs one entry. On failure the errors point into it (or into the entry that defined the
    /// function that failed); the statements before the failing one still took effect.
    pub fn eval(&mut self, session: &mut Session, text: &str) -> Result<Dynamic, Vec<ScriptError>> {
        let number = self.entries.len() + 1;
        let source = Source { name: format!("input {number}"), text: text.to_string() };
        self.entries.push(source.clone());
        let (engine, scope) = (&session.engine, &session.scope);
        let mut ast = crate::script::on_big_stack(session.limits().stack(), || engine.compile_with_scope(scope, text))
            .map_err(|e| vec![source.from_parse(&e)])?;
        ast.set_source(source.name.as_str());

        let mut earlier = Earlier {
            variables: session.scope.iter_raw().map(|(name, ..)| name.to_string()).collect(),
            functions: self.functions(),
        };
        for f in ast.iter_functions() {
            earlier.functions.entry(f.name.to_string()).or_default().insert(f.params.len());
        }
        // Only the statements: a function body may call a function the user defines later.
        let problems = check::check_after(&session.engine, &ast.clone_statements_only(), &source, &mut self.known, &earlier);
        if !problems.is_empty() {
            return Err(problems);
        }

        // Rhai defines all of an entry's functions before running its statements.
        let merged = self.kept.merge(&ast);
        self.kept = merged.clone_functions_only();
        for f in ast.iter_functions() {
            self.origins.insert(f.name.to_string(), number - 1);
        }
        let result = session.eval_ast(&merged, None);
        let result = session.run_deferred(&merged, result);
        match session.carry_out_held_back(result) {
            Ok(value) => {
                self.took_effect.push(text.trim_end().to_string());
                Ok(value)
            }
            Err(err) => {
                let err = self.relocate(*err);
                if let Some(prefix) = prefix_before_failure(&ast, &source, &err) {
                    self.took_effect.push(prefix);
                }
                let load = |name: &str| {
                    self.entries.iter().find(|s| s.name == name).cloned().or_else(|| {
                        crate::script::files::read_script(std::path::Path::new(name))
                            .ok()
                            .map(|text| Source { name: name.to_string(), text })
                    })
                };
                Err(vec![source.from_eval(&err, &load)])
            }
        }
    }

    /// Records text that took effect outside the REPL (the script of `nslab run -i`).
    pub fn record(&mut self, text: &str) {
        self.took_effect.push(text.trim_end().to_string());
    }

    /// The script functions defined so far, with the argument counts each accepts.
    pub fn functions(&self) -> BTreeMap<String, BTreeSet<usize>> {
        let mut fns: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for f in self.kept.iter_functions().filter(|f| !f.name.starts_with("anon$")) {
            fns.entry(f.name.to_string()).or_default().insert(f.params.len());
        }
        fns
    }

    /// Signatures of the script functions named `name`, like `double(x)`.
    pub fn signatures(&self, name: &str) -> Vec<String> {
        self.kept.iter_functions().filter(|f| f.name == name).map(|f| format!("{}({})", f.name, f.params.join(", "))).collect()
    }

    /// Rhai names the running entry as the source of every script function: name the entry that
    /// defined each one instead.
    fn relocate(&self, err: EvalAltResult) -> EvalAltResult {
        match err {
            EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) => {
                let src = self.origins.get(&name).map(|i| self.entries[*i].name.clone()).unwrap_or(src);
                EvalAltResult::ErrorInFunctionCall(name, src, Box::new(self.relocate(*inner)), pos)
            }
            other => other,
        }
    }
}

/// The text of the statements that ran before the failing top-level statement, if any.
fn prefix_before_failure(ast: &AST, source: &Source, err: &EvalAltResult) -> Option<String> {
    let pos = match err {
        EvalAltResult::ErrorInFunctionCall(.., pos) => *pos,
        other => other.position(),
    };
    let failed_at = source.offset(pos)?;
    let failed_stmt = ast.statements().iter().filter_map(|s| source.offset(s.position())).filter(|s| *s <= failed_at).max()?;
    let cut = lex::statement_ends(&source.text).into_iter().filter(|e| *e <= failed_stmt).max()?;
    let prefix = source.text[..cut].trim_end();
    (!prefix.trim().is_empty()).then(|| prefix.to_string())
}
