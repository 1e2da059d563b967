//! `:save FILE`: the entries that took effect, as a script `nslab run` replays.

use std::path::Path;

use super::lex::{scan, Mode};

/// The script text: a header, then each entry, terminated so the next one parses on its own.
pub fn script(entries: &[String], lab: &str) -> String {
    let mut out = format!("// Recorded in the nslab REPL (lab {lab}). Replay it with: nslab run FILE\n\n");
    for entry in entries {
        out.push_str(entry);
        out.push_str(terminator(entry));
        out.push('\n');
    }
    out
}

/// What to add after an entry: the REPL takes a last statement without `;`, a script does not.
fn terminator(entry: &str) -> &'static str {
    let mut last = None;
    let (mode, _) = scan(entry, |_, c, m| {
        if m == Mode::Code && !c.is_whitespace() {
            last = Some(c);
        }
    });
    let trimmed = entry.trim_start();
    let definition = trimmed.starts_with("fn ") || trimmed.starts_with("private fn ");
    match last {
        None | Some(';') => "",
        Some('}') if definition => "",
        _ if mode == Mode::LineComment => "\n;",
        _ => ";",
    }
}

pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_terminated_once() {
        let entries =
            ["let n = netns_add(\"a\")", "n.up(\"lo\");", "fn f(x) {\n  x\n}", "f(1) // one", "#{a: 1}"].map(String::from);
        let text = script(&entries, "repl");
        let body: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(body, ["let n = netns_add(\"a\");", "n.up(\"lo\");", "fn f(x) {", "  x", "}", "f(1) // one", ";", "#{a: 1};"]);
        rhai::Engine::new_raw()
            .compile(text.replace("netns_add(\"a\")", "1").replace("n.up(\"lo\")", "1"))
            .expect("the saved script parses");
    }
}
