//! The pre-flight check: finds calls to unknown functions and calls with the wrong number of
//! arguments in a compiled script, before anything touches the kernel (Rhai itself only finds
//! them when the call is reached, after earlier lines have already built things).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use rhai::{ASTNode, Expr, Stmt};
use rhai::{Engine, Position, AST};

use super::catalog;
use super::diag::{ScriptError, Source};

/// Functions the Rhai language provides as keywords rather than as registered functions.
const KEYWORD_FUNCTIONS: &[&str] =
    &["print", "debug", "type_of", "Fn", "call", "curry", "eval", "is_def_fn", "is_def_var", "is_shared"];

/// Every callable name with the argument counts it accepts.
pub struct Known {
    arities: BTreeMap<String, BTreeSet<usize>>,
}

impl Known {
    pub fn from_engine(engine: &Engine) -> Known {
        let mut arities: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for sig in engine.gen_fn_signatures(true) {
            if let Some((name, n)) = parse_signature(&sig) {
                arities.entry(name).or_default().insert(n);
            }
        }
        Known { arities }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.arities.keys().map(String::as_str)
    }

    pub fn arities(&self, name: &str) -> Option<&BTreeSet<usize>> {
        self.arities.get(name)
    }
}

/// "name(a: T, b: U) -> R" → ("name", 2). Property accessors and operators are left out.
fn parse_signature(sig: &str) -> Option<(String, usize)> {
    let (name, rest) = sig.split_once('(')?;
    let name = name.trim();
    if name.is_empty() || name.contains('$') || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let close = {
        let mut depth = 1i32;
        let mut at = None;
        for (i, c) in rest.char_indices() {
            match c {
                '(' | '<' | '[' => depth += 1,
                ')' | '>' | ']' => {
                    depth -= 1;
                    if depth == 0 {
                        at = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        at?
    };
    Some((name.to_string(), catalog::form_arity(&format!("f({})", &rest[..close]))))
}

pub fn check(engine: &Engine, ast: &AST, source: &Source, known: &mut Option<Known>) -> Vec<ScriptError> {
    check_after(engine, ast, source, known, &Earlier::default())
}

/// What earlier REPL entries defined: variables in the scope and script functions with their arities.
#[derive(Debug, Default, Clone)]
pub struct Earlier {
    pub variables: HashSet<String>,
    pub functions: BTreeMap<String, BTreeSet<usize>>,
}

/// Like `check`, for one REPL entry: calls to what earlier entries defined are not flagged.
pub fn check_after(
    engine: &Engine,
    ast: &AST,
    source: &Source,
    known: &mut Option<Known>,
    earlier: &Earlier,
) -> Vec<ScriptError> {
    let mut script_fns: BTreeMap<String, BTreeSet<usize>> = earlier.functions.clone();
    for f in ast.iter_functions() {
        script_fns.entry(f.name.to_string()).or_default().insert(f.params.len());
    }
    // A variable holding a function pointer can be called like a function: never flag those.
    let mut variables: HashSet<String> = earlier.variables.clone();
    let mut calls: Vec<(String, usize, Position)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                variables.insert(x.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::For(x, ..))) => {
                variables.insert(x.0.name.to_string());
                if let Some(i) = &x.1 {
                    variables.insert(i.name.to_string());
                }
            }
            Some(ASTNode::Expr(Expr::FnCall(x, pos))) | Some(ASTNode::Stmt(Stmt::FnCall(x, pos)))
                if x.op_token.is_none() && !x.is_qualified() =>
            {
                calls.push((x.name.to_string(), x.args.len(), *pos));
            }
            Some(ASTNode::Expr(Expr::MethodCall(x, pos))) if !x.is_qualified() => {
                calls.push((x.name.to_string(), x.args.len() + 1, *pos));
            }
            _ => {}
        }
        true
    });
    for f in ast.iter_functions() {
        variables.extend(f.params.iter().map(|p| p.to_string()));
    }

    let mut problems = Vec::new();
    for (name, argc, pos) in calls {
        if KEYWORD_FUNCTIONS.contains(&name.as_str()) || variables.contains(&name) || !is_identifier(&name) {
            continue;
        }
        if script_fns.get(&name).is_some_and(|a| a.contains(&argc)) {
            continue;
        }
        let known = known.get_or_insert_with(|| Known::from_engine(engine));
        let native = known.arities(&name);
        if native.is_some_and(|a| a.contains(&argc)) {
            continue;
        }
        let mut accepted: BTreeSet<usize> = native.cloned().unwrap_or_default();
        accepted.extend(script_fns.get(&name).into_iter().flatten());
        if accepted.is_empty() {
            let near = closest(&name, known.names().chain(script_fns.keys().map(String::as_str)));
            let help = near.map(|n| format!("did you mean {n}?{}", forms_hint(&n)));
            problems.push(source.check_error(format!("unknown function {name}"), pos, help));
        } else {
            let counts: Vec<String> = accepted.iter().map(|n| n.to_string()).collect();
            let takes = match counts.len() {
                1 => counts[0].clone(),
                n => format!("{} or {}", counts[..n - 1].join(", "), counts[n - 1]),
            };
            let s = if argc == 1 { "" } else { "s" };
            let help = catalog::find(&name).map(|d| format!("forms: {}", d.forms.join("; ")));
            problems.push(source.check_error(
                format!("{name} takes {takes} arguments, but {argc} argument{s} given here"),
                pos,
                help,
            ));
        }
    }
    problems
}

fn forms_hint(name: &str) -> String {
    catalog::find(name).map(|d| format!(" ({})", d.forms.join("; "))).unwrap_or_default()
}

fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// The known name nearest to a misspelling, if one is close enough to be a likely typo.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    candidates.map(|c| (edit_distance(name, c), c)).filter(|(d, _)| *d <= limit).min().map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_parse_to_name_and_arity() {
        assert_eq!(parse_signature("veth(_: Dynamic, _: Dynamic) -> ()"), Some(("veth".into(), 2)));
        assert_eq!(parse_signature("netns_list() -> Array"), Some(("netns_list".into(), 0)));
        assert_eq!(parse_signature("get$name(_: &mut Netns) -> String"), None);
        assert_eq!(parse_signature("+(_: i64, _: i64) -> i64"), None);
        assert_eq!(parse_signature("f(x: Result<i64, String>, y: i64)"), Some(("f".into(), 2)));
    }

    #[test]
    fn typos_find_the_intended_name() {
        let names = ["netns_add", "netns_del", "veth", "addr"];
        assert_eq!(closest("netns_ad", names.into_iter()), Some("netns_add".into()));
        assert_eq!(closest("vet", names.into_iter()), Some("veth".into()));
        assert_eq!(closest("completely_else", names.into_iter()), None);
    }
}
