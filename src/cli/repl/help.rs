//! `:help` and `:help NAME`, written from the catalog the reference docs come from.

use std::fmt::Write;

use super::commands::COMMANDS;
use crate::script::catalog::{self, Native};

pub fn overview() -> String {
    let mut out =
        String::from("Type statements of the nslab language; their values are echoed. `:help NAME` tells more.\n\nFunctions:\n");
    let width = catalog::all().map(|d| d.name.len()).max().unwrap_or(0);
    for d in catalog::all() {
        let _ = writeln!(out, "  {:width$}  {}", d.name, first_sentence(d.summary));
    }
    let types: Vec<&str> = crate::script::types::TYPES.iter().map(|t| t.name).collect();
    let _ = writeln!(out, "\nResult types (`:help TYPE` lists the fields): {}", types.join(", "));
    out.push_str("\nCommands:\n");
    for c in COMMANDS {
        let _ = writeln!(out, "  {:14}  {}", format!(":{} {}", c.name, c.args).trim_end(), c.summary);
    }
    out.push_str(
        "\nKeys: Tab completes functions, methods, variables, namespaces and links; Ctrl-C stops the running\n\
         statement; Ctrl-D leaves (the lab is torn down unless :keep). An unclosed bracket or `string\n\
         continues on the next line; two empty lines end it.",
    );
    out
}

/// Help on one function or command; `defined` gives the signatures of script functions.
pub fn topic(name: &str, defined: &[String], builtin: Option<&std::collections::BTreeSet<usize>>) -> Result<String, String> {
    let bare = name.trim_start_matches(':');
    if name.starts_with(':') || (catalog::find(bare).is_none() && defined.is_empty() && builtin.is_none()) {
        if let Some(c) = COMMANDS.iter().find(|c| c.name == bare) {
            return Ok(format!(":{} {}\n\n  {}", c.name, c.args, c.summary).replace(" \n", "\n"));
        }
    }
    if let Some(d) = catalog::find(name) {
        return Ok(function(d));
    }
    if let Some(t) = crate::script::types::find(name) {
        return Ok(format!("{}\n\n  {}", t.name, crate::script::types::describe(t).replace('\n', "\n  ")));
    }
    if !defined.is_empty() {
        return Ok(format!("{}\n\n  defined in this session", defined.join("\n")));
    }
    if let Some(arities) = builtin {
        let counts: Vec<String> = arities.iter().map(|n| n.to_string()).collect();
        return Ok(format!("{name}: a Rhai built-in taking {} arguments; see https://rhai.rs/book/", counts.join(" or ")));
    }
    let near: Vec<&str> = catalog::all().map(|d| d.name).filter(|n| n.contains(name) || name.contains(n)).collect();
    let mut msg = format!("no function or command named {name:?}");
    if !near.is_empty() {
        let _ = write!(msg, "; did you mean {}?", near.join(", "));
    }
    Err(msg)
}

fn function(d: &Native) -> String {
    let mut out = d.forms.join("\n");
    let _ = write!(out, "\n\n  {}\n\n  example:  {}\n  ip:       {}", d.summary, d.example, d.ip);
    out
}

fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(i) => &text[..=i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_has_forms_doc_example_and_ip() {
        let text = topic("ping", &[], None).unwrap();
        assert!(text.starts_with("ping(dst) -> Ping\nping(ns, dst) -> Ping\n"), "{text}");
        assert!(text.contains("example:  assert(ping("), "{text}");
        assert!(text.contains("ip:       ip netns exec NS ping"), "{text}");
    }

    #[test]
    fn commands_functions_of_the_session_and_unknown_names() {
        assert!(topic(":save", &[], None).unwrap().starts_with(":save FILE"));
        assert!(topic("double", &["double(x)".into()], None).unwrap().contains("defined in this session"));
        assert!(topic("netns_ad", &[], None).unwrap_err().contains("netns_add"));
        assert!(overview().contains("  veth "));
    }
}
