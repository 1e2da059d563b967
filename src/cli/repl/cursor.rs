//! What the cursor is in: a string, the argument list of a call, a word after a `.`.
//! Completion and hints start from here.

use super::lex::{scan, Mode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    /// The identifier before the `.` of a method call (`n.up(`).
    pub receiver: Option<String>,
    /// The arguments before the one the cursor is in, as typed (trimmed).
    pub args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Inside a string literal: the offset its text starts at, and its quote.
    pub string: Option<(usize, char)>,
    /// The innermost call whose argument list is open at the cursor.
    pub call: Option<Call>,
    /// Where the identifier being typed starts (the cursor itself when there is none).
    pub word_start: usize,
    /// The identifier before a `.` that directly precedes the word (`n.u` → `n`).
    pub receiver: Option<String>,
}

const NOT_CALLS: &[&str] = &["if", "while", "for", "switch", "fn", "return", "throw", "in", "loop", "do", "until", "else"];

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifier ending at `end` (exclusive), and where it starts.
fn ident_before(text: &str, end: usize) -> Option<(usize, &str)> {
    let start = text[..end].char_indices().rev().take_while(|(_, c)| is_ident(*c)).last().map(|(i, _)| i)?;
    let word = &text[start..end];
    word.chars().next().filter(|c| !c.is_ascii_digit()).map(|_| (start, word))
}

/// `name` in `recv.name(`, with `recv` when it is a plain identifier.
fn callee(text: &str, open: usize) -> Option<(String, Option<String>)> {
    let end = text[..open].trim_end().len();
    let (start, name) = ident_before(text, end)?;
    if NOT_CALLS.contains(&name) {
        return None;
    }
    let receiver =
        text[..start].strip_suffix('.').and_then(|before| ident_before(text, before.len())).map(|(_, r)| r.to_string());
    Some((name.to_string(), receiver))
}

struct Open {
    bracket: char,
    call: Option<(String, Option<String>)>,
    arg_start: usize,
    args: Vec<String>,
}

pub fn analyze(text: &str, pos: usize) -> Cursor {
    let before = &text[..pos];
    let mut stack: Vec<Open> = Vec::new();
    let (mode, string_start) = scan(before, |i, c, mode| {
        if mode != Mode::Code {
            return;
        }
        match c {
            '(' | '[' | '{' => {
                let call = if c == '(' { callee(before, i) } else { None };
                stack.push(Open { bracket: c, call, arg_start: i + 1, args: Vec::new() });
            }
            ')' | ']' | '}' => {
                stack.pop();
            }
            ',' => {
                if let Some(top) = stack.last_mut() {
                    top.args.push(before[top.arg_start..i].trim().to_string());
                    top.arg_start = i + 1;
                }
            }
            _ => {}
        }
    });
    let string = match mode {
        Mode::Str(q) if q != '\'' => Some((string_start, q)),
        _ => None,
    };
    // Inside `#{...}` of `ping(n, "x", #{`: still in ping's third argument.
    let call = stack.iter().rev().find(|o| o.bracket == '(' && o.call.is_some()).map(|o| {
        let (name, receiver) = o.call.clone().expect("checked");
        Call { name, receiver, args: o.args.clone() }
    });
    let (word_start, receiver) = if string.is_some() || matches!(mode, Mode::LineComment | Mode::BlockComment) {
        (pos, None)
    } else {
        let start = before.char_indices().rev().take_while(|(_, c)| is_ident(*c)).last().map(|(i, _)| i).unwrap_or(pos);
        let receiver = before[..start].strip_suffix('.').and_then(|b| ident_before(before, b.len())).map(|(_, r)| r.to_string());
        (start, receiver)
    };
    Cursor { string, call, word_start, receiver }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_end(text: &str) -> Cursor {
        analyze(text, text.len())
    }

    #[test]
    fn a_string_argument_of_a_call() {
        let c = at_end(r#"let x = netns("ne"#);
        assert_eq!(c.string, Some((15, '"')));
        assert_eq!(c.call, Some(Call { name: "netns".into(), receiver: None, args: vec![] }));
    }

    #[test]
    fn later_arguments_and_methods() {
        let c = at_end(r#"n.addr("veth1", "10."#);
        let call = c.call.unwrap();
        assert_eq!((call.name.as_str(), call.receiver.as_deref(), call.args.len()), ("addr", Some("n"), 1));
        let c = at_end(r#"ping(n, "10.0.0.1", #{count: 3, ti"#);
        let call = c.call.unwrap();
        assert_eq!((call.name.as_str(), call.args.clone()), ("ping", vec!["n".to_string(), "\"10.0.0.1\"".to_string()]));
        assert_eq!(c.word_start, 32);
    }

    #[test]
    fn words_after_a_dot_and_closed_calls() {
        let c = at_end("let p = ping(\"1.1.1.1\"); p.rt");
        assert_eq!(c.call, None);
        assert_eq!(c.receiver.as_deref(), Some("p"));
        assert_eq!(&"let p = ping(\"1.1.1.1\"); p.rt"[c.word_start..], "rt");
        assert_eq!(at_end("if (x").call, None, "if is not a call");
    }
}
