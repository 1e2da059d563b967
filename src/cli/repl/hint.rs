//! The hint shown after the cursor: the forms of the function whose arguments are being typed.

use super::complete::params;
use super::cursor::analyze;
use crate::script::catalog;

/// The prompt's width, which the line shares with the hint.
const PROMPT_WIDTH: usize = 7;

/// `defined` gives the signatures of the session's own functions by name; `width` is the
/// terminal's, and the hint is cut to stay on the line.
pub fn hint(line: &str, pos: usize, width: usize, defined: &dyn Fn(&str) -> Vec<String>) -> Option<String> {
    if pos < line.len() || line.trim_start().starts_with(':') {
        return None;
    }
    let call = analyze(line, pos).call?;
    let index = call.args.len() + usize::from(call.receiver.is_some());
    let forms: Vec<String> = match catalog::find(&call.name) {
        Some(doc) => {
            let fits = |f: &&&str| {
                let ps = params(f);
                (call.receiver.is_none() || ps.first().map(String::as_str) == Some("ns"))
                    && (ps.len() > index || (ps.is_empty() && index == 0))
            };
            let chosen: Vec<String> = doc.forms.iter().filter(fits).map(|f| f.to_string()).collect();
            if chosen.is_empty() {
                doc.forms.iter().map(|f| f.to_string()).collect()
            } else {
                chosen
            }
        }
        None => defined(&call.name),
    };
    if forms.is_empty() {
        return None;
    }
    let last_line = line.rsplit('\n').next().unwrap_or(line);
    let prompt = if last_line.len() == line.len() { PROMPT_WIDTH } else { 0 };
    let room = width.saturating_sub(prompt + last_line.chars().count() + 4 + 1);
    if room < 12 {
        return None;
    }
    let mut text = compact(&forms);
    if text.chars().count() > room {
        text = text.chars().take(room - 1).collect::<String>() + "…";
    }
    Some(format!("    {text}"))
}

/// `f(a) -> R`, `f(a, b) -> R` → `f(a) | (a, b) -> R`.
fn compact(forms: &[String]) -> String {
    let split = |f: &str| -> (String, String) {
        match f.split_once(" -> ") {
            Some((sig, ret)) => (sig.to_string(), ret.to_string()),
            None => (f.to_string(), String::new()),
        }
    };
    let parts: Vec<(String, String)> = forms.iter().map(|f| split(f)).collect();
    let same_return = parts.iter().all(|(_, r)| *r == parts[0].1);
    let shown: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, (sig, ret))| {
            let sig =
                if i == 0 { sig.clone() } else { sig.find('(').map(|p| sig[p..].to_string()).unwrap_or_else(|| sig.clone()) };
            if same_return || ret.is_empty() {
                sig
            } else {
                format!("{sig} -> {ret}")
            }
        })
        .collect();
    let mut text = shown.join(" | ");
    if same_return && !parts[0].1.is_empty() {
        text = format!("{text} -> {}", parts[0].1);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn the_forms_that_take_the_argument_being_typed() {
        assert_eq!(
            hint("ping(", 5, 200, &none).unwrap().trim(),
            "ping(dst) | (ns, dst) | (dst, #{count, timeout, interval, ttl, size, from, dev}) | (ns, dst, #{count, timeout, interval, ttl, size, from, dev}) -> Ping"
        );
        assert_eq!(
            hint("ping(n, \"1.2.3.4\", ", 19, 200, &none).unwrap().trim(),
            "ping(ns, dst, #{count, timeout, interval, ttl, size, from, dev}) -> Ping"
        );
        assert_eq!(hint("n.up(", 5, 200, &none).unwrap().trim(), "up(ns, link)");
    }

    #[test]
    fn session_functions_and_nothing_elsewhere() {
        assert_eq!(
            hint("double(", 7, 200, &|n| if n == "double" { vec!["double(x)".into()] } else { vec![] }).unwrap().trim(),
            "double(x)"
        );
        assert_eq!(hint("ping(1)", 7, 200, &none), None);
        assert_eq!(hint("ping(", 3, 200, &none), None, "only at the end of the line");
        let cut = hint("ping(", 5, 60, &none).unwrap();
        assert_eq!(cut.chars().count() + 7 + 5, 59, "stays within the width: {cut}");
        assert!(cut.ends_with('…'));
    }
}
