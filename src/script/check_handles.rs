//! What the pre-flight check can tell from the catalog's forms about namespaces:
//! - a method call on a namespace handle (`h1.addr("eth0")`) puts the handle first, so the
//!   function must have a form of that many arguments whose first parameter is a namespace;
//!   `addr(link, cidr)` has none, and the call would fail at run time ("must be a link name,
//!   not Netns") after earlier lines had built things: an error here.
//! - a link named like a namespace of the script (`veth("h1", "eth0")` where `h1` is a
//!   namespace) almost always means the namespace was meant (`veth(h1, "eth0", ...)`): a warning.
//!
//! Namespaces are known by the script's own calls: `netns_add("h1")` / `netns("h1")` with a
//! literal name, and variables assigned from those (or `root()`).

use std::collections::BTreeSet;

use rhai::{ASTNode, Expr, Position, Stmt, AST};

use super::catalog;
use super::diag::{ScriptError, Source};

/// The functions that return a namespace handle, by the catalog (`-> Netns`).
fn returns_netns(name: &str) -> bool {
    catalog::find(name).is_some_and(|d| d.forms.iter().all(|f| f.trim_end().ends_with("-> Netns")))
}

/// The parameter names of a form: `addr(ns, link, cidr)` → ["ns", "link", "cidr"].
fn params(form: &str) -> Vec<String> {
    let Some(open) = form.find('(') else { return vec![] };
    let Some(close) = form.rfind(')') else { return vec![] };
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0i32, String::new());
    for c in form[open + 1..close].chars() {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn is_ns_param(p: &str) -> bool {
    p == "ns" || p.ends_with("_ns")
}

/// A parameter that names a link (or a bridge, a peer) that the call creates or finds by name.
fn is_link_param(p: &str) -> bool {
    matches!(p, "name" | "peer" | "link" | "bridge" | "dev")
}

/// The forms of `name` taking `argc` arguments.
fn forms_with(name: &str, argc: usize) -> Vec<Vec<String>> {
    catalog::find(name).map(|d| d.forms.iter().map(|f| params(f)).filter(|p| p.len() == argc).collect()).unwrap_or_default()
}

fn literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::StringConstant(s, _) => Some(s.as_str()),
        _ => None,
    }
}

/// A call as the check sees it.
struct Seen {
    name: String,
    /// Each argument's value when it is a string literal (a method call's receiver first).
    args: Vec<Option<String>>,
    pos: Position,
    /// For a method call on a variable, its name ("" for another receiver); None for a call.
    receiver: Option<String>,
}

/// Errors (method calls on a handle that take it in the wrong place) and warnings (link names
/// that are namespace names).
pub fn check(ast: &AST, source: &Source) -> (Vec<ScriptError>, Vec<ScriptError>) {
    let mut handles: BTreeSet<String> = BTreeSet::new();
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    let mut calls: Vec<Seen> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                if let Expr::FnCall(call, _) = &x.1 {
                    if returns_netns(&call.name) {
                        handles.insert(x.0.name.to_string());
                    }
                }
            }
            Some(ASTNode::Expr(Expr::FnCall(x, pos))) | Some(ASTNode::Stmt(Stmt::FnCall(x, pos)))
                if x.op_token.is_none() && !x.is_qualified() =>
            {
                if returns_netns(&x.name) {
                    if let Some(name) = x.args.first().and_then(literal) {
                        namespaces.insert(name.to_string());
                    }
                }
                let args = x.args.iter().map(|a| literal(a).map(str::to_string)).collect();
                calls.push(Seen { name: x.name.to_string(), args, pos: *pos, receiver: None });
            }
            Some(ASTNode::Expr(Expr::MethodCall(x, pos))) if !x.is_qualified() => {
                let receiver = match path.len().checked_sub(2).map(|i| &path[i]) {
                    Some(ASTNode::Expr(Expr::Dot(b, ..))) => match &b.lhs {
                        Expr::Variable(v, ..) => Some(v.1.to_string()),
                        _ => None,
                    },
                    _ => None,
                };
                let args = std::iter::once(None).chain(x.args.iter().map(|a| literal(a).map(str::to_string))).collect();
                calls.push(Seen { name: x.name.to_string(), args, pos: *pos, receiver: receiver.or(Some(String::new())) });
            }
            _ => {}
        }
        true
    });
    // Variables reassigned to something else are not followed: a handle stays a handle here.
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut warned: BTreeSet<(String, String)> = BTreeSet::new();
    for Seen { name, args, pos, receiver } in calls {
        let Some(def) = catalog::find(&name) else { continue };
        let forms = forms_with(&name, args.len());
        if let Some(var) = receiver.as_deref().filter(|v| handles.contains(*v)) {
            if !forms.is_empty() && !forms.iter().any(|p| p.first().is_some_and(|f| is_ns_param(f))) {
                let first = forms[0].first().cloned().unwrap_or_default();
                let with_ns: Vec<&str> =
                    def.forms.iter().copied().filter(|f| params(f).first().is_some_and(|p| is_ns_param(p))).collect();
                let help = if with_ns.is_empty() {
                    format!(
                        "{name} takes no namespace ({}): call it as {name}(...), not as a method of {var}",
                        def.forms.join("; ")
                    )
                } else {
                    let as_method: Vec<String> =
                        with_ns.iter().map(|f| format!("{var}.{name}({})", params(f)[1..].join(", "))).collect();
                    format!("with a namespace first: {}", as_method.join("; "))
                };
                errors.push(source.check_error(
                    format!(
                        "{var}.{name}(...) passes the namespace {var} as {name}'s `{first}`, which is not a namespace ({})",
                        forms.iter().map(|p| format!("{name}({})", p.join(", "))).collect::<Vec<_>>().join("; ")
                    ),
                    pos,
                    Some(help),
                ));
                continue;
            }
        }
        // Only calls that make or find links by name in a namespace (those with a form taking one).
        if returns_netns(&name) || !def.forms.iter().any(|f| params(f).first().is_some_and(|p| is_ns_param(p))) {
            continue;
        }
        // Which form fits is known only when no form of this count has a namespace first.
        let Some(params) = forms.iter().find(|p| !p.first().is_some_and(|f| is_ns_param(f))) else { continue };
        if forms.len() != 1 {
            continue;
        }
        for (param, value) in params.iter().zip(&args) {
            let Some(value) = value else { continue };
            if is_link_param(param) && namespaces.contains(value) && warned.insert((name.clone(), value.clone())) {
                warnings.push(source.check_error(
                    format!("{name}: the link name {value:?} is also the name of a namespace of this script"),
                    pos,
                    Some(format!(
                            "this makes a link called {value:?} in nslab's own namespace; to act in the namespace, pass it \
                         first: {}",
                            def.forms
                                .iter()
                                .filter(|f| self::params(f).first().is_some_and(|p| is_ns_param(p)))
                                .copied()
                                .collect::<Vec<_>>()
                                .join("; ")
                        )),
                ));
            }
        }
    }
    (errors, warnings)
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_parameters() {
        assert_eq!(super::params("addr(ns, link, cidr)"), ["ns", "link", "cidr"]);
        assert_eq!(super::params("bridge(ns, name, #{mtu, stp})"), ["ns", "name", "#{mtu, stp}"]);
        assert!(super::params("root() -> Netns").is_empty());
    }
}
