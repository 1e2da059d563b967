//! A light scanner for REPL input: which characters are code, and which lie in strings or
//! comments. Enough to find brackets, commas and statement ends without a full parse.

/// Where a character stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Code,
    /// Inside a string or character literal opened by this quote (the closing quote included).
    Str(char),
    LineComment,
    BlockComment,
}

/// Visits every character with its mode. An opening quote is reported as `Code`; the characters
/// after it, up to and including the closing quote, as `Str`. Returns the mode at the end of `text`
/// and, when that is `Str`, the offset just after the opening quote.
pub fn scan(text: &str, mut visit: impl FnMut(usize, char, Mode)) -> (Mode, usize) {
    let mut mode = Mode::Code;
    let mut string_start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        match mode {
            Mode::Code => {
                visit(i, c, Mode::Code);
                match (c, next) {
                    ('"' | '`' | '\'', _) => {
                        mode = Mode::Str(c);
                        string_start = i + 1;
                    }
                    ('/', Some('/')) => {
                        mode = Mode::LineComment;
                        visit(i + 1, '/', Mode::LineComment);
                        chars.next();
                    }
                    ('/', Some('*')) => {
                        mode = Mode::BlockComment;
                        visit(i + 1, '*', Mode::BlockComment);
                        chars.next();
                    }
                    _ => {}
                }
            }
            Mode::Str(q) => {
                visit(i, c, mode);
                if c == '\\' {
                    if let Some((j, n)) = chars.next() {
                        visit(j, n, mode);
                    }
                } else if c == q {
                    mode = Mode::Code;
                }
            }
            Mode::LineComment => {
                visit(i, c, mode);
                if c == '\n' {
                    mode = Mode::Code;
                }
            }
            Mode::BlockComment => {
                visit(i, c, mode);
                if c == '*' && next == Some('/') {
                    let (j, n) = chars.next().expect("peeked");
                    visit(j, n, mode);
                    mode = Mode::Code;
                }
            }
        }
    }
    (mode, string_start)
}

/// Offsets just after each `;` at the outermost level of `text` (statement ends).
pub fn statement_ends(text: &str) -> Vec<usize> {
    let mut depth = 0i32;
    let mut ends = Vec::new();
    scan(text, |i, c, mode| {
        if mode != Mode::Code {
            return;
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                // A block statement (`if`, `for`, ...) ends with its brace, without a `;`.
                if depth == 0 && c == '}' {
                    ends.push(i + 1);
                }
            }
            ';' if depth == 0 => ends.push(i + 1),
            _ => {}
        }
    });
    ends
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modes(text: &str) -> String {
        let mut out = String::new();
        scan(text, |_, _, m| {
            out.push(match m {
                Mode::Code => 'c',
                Mode::Str(_) => 's',
                Mode::LineComment | Mode::BlockComment => '/',
            })
        });
        out
    }

    #[test]
    fn strings_and_comments_are_told_apart() {
        assert_eq!(modes(r#"a("x\"y")"#), "cccsssssc");
        assert_eq!(modes("a // b(\nc"), "ccc/////c");
        assert_eq!(modes("/* ( */x"), "c//////c");
    }

    #[test]
    fn the_end_mode_says_whether_a_string_is_open() {
        assert_eq!(scan(r#"netns("ne"#, |_, _, _| {}), (Mode::Str('"'), 7));
        assert_eq!(scan(r#"netns("ne")"#, |_, _, _| {}).0, Mode::Code);
    }

    #[test]
    fn statement_ends_skip_nested_and_quoted_semicolons() {
        let text = r#"let a = "x;y"; f(|| { 1; 2 }); if a { b(); } c"#;
        let ends = statement_ends(text);
        let cut: Vec<&str> = ends.iter().map(|e| &text[..*e]).collect();
        assert_eq!(cut.len(), 3, "{cut:?}");
        assert!(cut[0].ends_with(r#""x;y";"#));
        assert!(cut[1].ends_with("2 });"));
        assert!(cut[2].ends_with("b(); }"), "{cut:?}");
    }
}
