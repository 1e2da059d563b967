//! Tab completion: functions, methods and variables where code is typed; namespace and link
//! names (read live from the kernel) inside a string argument that takes one; commands after `:`.
//! Namespace names are the lab's own (created or opened); other names in /run/netns (other labs',
//! users') are offered, marked, only where opening an existing namespace is the point.

use rustyline::completion::Pair;

use super::commands::COMMANDS;
use super::cursor::{analyze, Call};
use crate::script::catalog;

/// What a variable holds, as far as completion cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Var {
    /// A namespace handle: Some(name), or None for `root()`.
    Netns(Option<String>),
    Text(String),
    Ping,
    Exec,
    Map(Vec<String>),
    Other,
}

/// Where completion looks names up.
pub trait World {
    /// The lab's namespaces: those it created and those it opened.
    fn namespaces(&self) -> Vec<String>;
    /// The other names in /run/netns.
    fn other_namespaces(&self) -> Vec<String>;
    /// Links of a named namespace, or of nslab's own (None).
    fn links(&self, ns: Option<&str>) -> Vec<String>;
    fn variables(&self) -> Vec<(String, Var)>;
    /// Every callable name: nslab's, Rhai's and the session's own functions.
    fn functions(&self) -> Vec<String>;
}

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "do", "until", "break", "continue", "return", "throw",
    "try", "catch", "switch", "import", "export", "as", "true", "false",
];
/// Functions that take the name of an existing namespace, anyone's: completing others' names
/// there helps; elsewhere (adding links, deleting) they are not the lab's to touch.
const OPENING: &[&str] = &["netns", "netns_exists"];
/// How a namespace that is not the lab's is shown in the list of candidates.
const NOT_OURS: &str = "  (not this lab's)";
const PING_FIELDS: &[&str] = &["ok", "sent", "received", "loss", "rtt_min", "rtt_avg", "rtt_max", "error", "dst"];
const EXEC_FIELDS: &[&str] = &["code", "ok", "stdout", "stderr"];

/// The parameters of a catalog form: "veth(ns, name, peer)" → ["ns", "name", "peer"].
pub fn params(form: &str) -> Vec<String> {
    let inside = form.split_once('(').map(|(_, r)| r).unwrap_or("");
    let inside = &inside[..inside.rfind(')').unwrap_or(inside.len())];
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in inside.chars() {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
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

fn is_ns_param(function: &str, p: &str) -> bool {
    p == "ns" || p.ends_with("_ns") || (p == "name" && function.starts_with("netns"))
}

/// Which names fit a string argument.
#[derive(Debug, PartialEq)]
enum Wanted {
    Namespaces,
    /// Links of the namespace given by this argument (None: nslab's own namespace).
    Links(Option<usize>),
}

/// For each form of `call` with an argument at the cursor: what names that argument takes.
fn wanted(call: &Call) -> Vec<Wanted> {
    let Some(doc) = catalog::find(&call.name) else { return Vec::new() };
    let index = call.args.len() + usize::from(call.receiver.is_some());
    let mut out = Vec::new();
    for form in doc.forms {
        let ps = params(form);
        if call.receiver.is_some() && ps.first().map(String::as_str) != Some("ns") {
            continue;
        }
        let Some(p) = ps.get(index) else { continue };
        let w = if is_ns_param(&call.name, p) {
            Wanted::Namespaces
        } else if ["link", "name", "peer", "dev"].contains(&p.as_str()) {
            // The namespace is the nearest namespace parameter before it.
            Wanted::Links(ps[..index].iter().rposition(|q| is_ns_param(&call.name, q)))
        } else {
            continue;
        };
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// The namespace an argument names: a string literal, or a variable holding a name or handle.
fn resolve_ns(arg: &str, world: &dyn World) -> Option<String> {
    let arg = arg.trim();
    if let Some(s) = arg.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Some(s.to_string());
    }
    world.variables().into_iter().find(|(n, _)| n == arg).and_then(|(_, v)| match v {
        Var::Netns(name) => name,
        Var::Text(s) => Some(s),
        _ => None,
    })
}

fn pairs(prefix: &str, names: impl IntoIterator<Item = String>, suffix: &str) -> Vec<Pair> {
    let mut names: Vec<String> = names.into_iter().filter(|n| n.starts_with(prefix)).collect();
    names.sort();
    names.dedup();
    names.into_iter().map(|n| Pair { display: n.clone(), replacement: format!("{n}{suffix}") }).collect()
}

pub fn complete(line: &str, pos: usize, world: &dyn World) -> (usize, Vec<Pair>) {
    if line.trim_start().starts_with(':') {
        return complete_command(line, pos, world);
    }
    let cur = analyze(line, pos);
    if let Some((start, quote)) = cur.string {
        let Some(call) = &cur.call else { return (pos, Vec::new()) };
        let mut names = Vec::new();
        let mut others = Vec::new();
        for w in wanted(call) {
            match w {
                Wanted::Namespaces => {
                    names.extend(world.namespaces());
                    if OPENING.contains(&call.name.as_str()) {
                        others.extend(world.other_namespaces());
                    }
                }
                Wanted::Links(at) => {
                    let ns = match (at, &call.receiver) {
                        (Some(0), Some(recv)) => resolve_ns(recv, world),
                        (Some(i), recv) => call.args.get(i - usize::from(recv.is_some())).and_then(|a| resolve_ns(a, world)),
                        (None, _) => None,
                    };
                    names.extend(world.links(ns.as_deref()));
                }
            }
        }
        let closed = line[pos..].starts_with(quote);
        let suffix = if closed { String::new() } else { quote.to_string() };
        let prefix = &line[start..pos];
        let mut found = pairs(prefix, names, &suffix);
        let theirs = pairs(prefix, others, &suffix).into_iter().filter(|p| !found.iter().any(|f| f.display == p.display));
        let marked: Vec<Pair> = theirs.map(|p| Pair { display: format!("{}{NOT_OURS}", p.display), ..p }).collect();
        found.extend(marked);
        return (start, found);
    }
    let prefix = &line[cur.word_start..pos];
    if let Some(recv) = &cur.receiver {
        let var = world.variables().into_iter().find(|(n, _)| n == recv).map(|(_, v)| v);
        let names: Vec<String> = match var {
            Some(Var::Ping) => PING_FIELDS.iter().map(|s| s.to_string()).collect(),
            Some(Var::Exec) => EXEC_FIELDS.iter().map(|s| s.to_string()).collect(),
            Some(Var::Map(keys)) => keys,
            Some(Var::Netns(_)) | None => netns_methods(),
            Some(Var::Text(_)) | Some(Var::Other) => world.functions(),
        };
        return (cur.word_start, pairs(prefix, names, ""));
    }
    let names =
        world.variables().into_iter().map(|(n, _)| n).chain(world.functions()).chain(KEYWORDS.iter().map(|k| k.to_string()));
    (cur.word_start, pairs(prefix, names, ""))
}

/// Functions callable as methods of a `Netns` handle, and its `name`.
fn netns_methods() -> Vec<String> {
    let mut names: Vec<String> = catalog::all()
        .filter(|d| d.forms.iter().any(|f| params(f).first().map(String::as_str) == Some("ns")))
        .map(|d| d.name.to_string())
        .collect();
    names.push("name".into());
    names
}

fn complete_command(line: &str, pos: usize, world: &dyn World) -> (usize, Vec<Pair>) {
    let before = &line[..pos];
    let start = before.len() - before.trim_start().len();
    match before.trim_start().split_once(' ') {
        None => (start + 1, pairs(&before[start + 1..], COMMANDS.iter().map(|c| c.name.to_string()), " ")),
        Some((":help", rest)) => {
            let at = pos - rest.len();
            let names = world.functions().into_iter().chain(COMMANDS.iter().map(|c| format!(":{}", c.name)));
            (at, pairs(rest, names, ""))
        }
        _ => (pos, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl World for Fake {
        fn namespaces(&self) -> Vec<String> {
            vec!["netns1".into(), "netns2".into(), "other".into()]
        }
        fn other_namespaces(&self) -> Vec<String> {
            vec!["nx9".into(), "theirs".into()]
        }
        fn links(&self, ns: Option<&str>) -> Vec<String> {
            match ns {
                None => vec!["lo".into(), "veth0".into()],
                Some("netns1") => vec!["lo".into(), "veth1".into()],
                Some(_) => vec!["lo".into()],
            }
        }
        fn variables(&self) -> Vec<(String, Var)> {
            vec![("n".into(), Var::Netns(Some("netns1".into()))), ("p".into(), Var::Ping), ("count".into(), Var::Other)]
        }
        fn functions(&self) -> Vec<String> {
            vec!["netns".into(), "netns_add".into(), "ping".into(), "print".into()]
        }
    }

    fn names(line: &str) -> (usize, Vec<String>) {
        let (start, pairs) = complete(line, line.len(), &Fake);
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn namespace_names_in_a_namespace_argument() {
        assert_eq!(names(r#"netns("ne"#), (7, vec!["netns1\"".into(), "netns2\"".into()]));
        assert_eq!(names(r#"up("o"#).1, vec!["other\""]);
        let (_, pairs) = complete(r#"netns("ne")"#, 9, &Fake);
        assert_eq!(pairs[0].replacement, "netns1", "no second quote when one follows");
    }

    #[test]
    fn other_namespaces_only_where_an_existing_one_is_opened_and_marked() {
        assert_eq!(names(r#"up("t"#).1, Vec::<String>::new(), "not offered where a link would be changed");
        assert_eq!(names(r#"netns_del("ne"#).1, vec!["netns1\"", "netns2\""]);
        let (_, found) = complete(r#"netns("n"#, 8, &Fake);
        let shown: Vec<(&str, &str)> = found.iter().map(|p| (p.display.as_str(), p.replacement.as_str())).collect();
        assert_eq!(
            shown,
            [("netns1", "netns1\""), ("netns2", "netns2\""), ("nx9  (not this lab's)", "nx9\"")],
            "the lab's own first, others marked"
        );
        assert_eq!(names(r#"netns_exists("th"#).1, vec!["theirs\""]);
    }

    #[test]
    fn link_names_of_the_namespace_argument() {
        assert_eq!(names(r#"up("netns1", "v"#).1, vec!["veth1\""]);
        assert_eq!(names(r#"up(n, "v"#).1, vec!["veth1\""]);
        assert_eq!(names(r#"n.addr("v"#).1, vec!["veth1\""]);
        assert_eq!(names(r#"addr("v"#).1, vec!["veth0\""], "addr(link, cidr) acts in nslab's namespace");
        assert_eq!(names(r#"move_to("veth0", "n"#).1, vec!["netns1\"", "netns2\""]);
    }

    #[test]
    fn functions_variables_and_methods() {
        assert_eq!(names("pr").1, vec!["print"]);
        assert_eq!(names("let x = co").1, vec!["const", "continue", "count"]);
        assert!(names("n.ad").1.contains(&"addr".to_string()));
        assert_eq!(names("p.rtt_m").1, vec!["rtt_max", "rtt_min"]);
    }

    #[test]
    fn commands_and_help_topics() {
        assert_eq!(names(":he"), (1, vec!["help ".to_string()]));
        assert_eq!(names(":help net"), (6, vec!["netns".to_string(), "netns_add".to_string()]));
    }
}
