//! Script errors as miette diagnostics: the file, the line and column, the failing call
//! underlined, the cause in words, and a hint where one helps.

use super::limits::Limits;
use miette::{LabeledSpan, NamedSource, SourceSpan};
use rhai::{EvalAltResult, LexError, ParseError, ParseErrorType, Position};

use super::failure::{CallFailure, FailureKind};

/// What kind of failure a script error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The script does not parse.
    Syntax,
    /// Found by the pre-flight check (unknown function, wrong argument count).
    Check,
    /// Failed while running.
    Runtime,
    /// An `assert` or `assert_eq` failed.
    Assertion,
    /// Ctrl-C, a signal or a timeout stopped the script.
    Interrupted,
    /// `skip(reason)` or an unmet `require(feature)` ended the script; the message is the reason.
    Skipped,
}

/// An error in a script, pointing at the place in its source.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct ScriptError {
    /// What went wrong.
    pub message: String,
    /// The script's text, to point into.
    #[source_code]
    pub src: NamedSource<String>,
    /// The places in the script the error is about.
    #[label(collection)]
    pub labels: Vec<LabeledSpan>,
    /// What would help, when something would.
    #[help]
    pub help: Option<String>,
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// 1-based line and column of the primary label, for programs that read errors.
    pub line: usize,
    /// 1-based column of the primary label.
    pub column: usize,
    /// Where, in the script that was run, the failing code in another file was called from.
    #[related]
    pub called_from: Vec<CalledFrom>,
}

/// Where, in another file, the failing code was reached from: the call into an imported
/// module's function ("called from here"), or the import that ran a module ("imported here").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
#[diagnostic(severity(Advice))]
pub struct CalledFrom {
    pub message: String,
    #[source_code]
    pub src: NamedSource<String>,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
}

/// A script's name and text, to point into.
#[derive(Debug, Clone)]
pub struct Source {
    /// The script's name (its path, or a label such as `<repl>`).
    pub name: String,
    /// The script's text.
    pub text: String,
}

/// A UTF-8 byte-order mark, which some editors write at the start of a file. Rhai reads it as an
/// empty statement (see `bom_token`), counted as column 1 of line 1; reports leave it out.
pub const BOM: &str = "\u{feff}";

/// Turns a byte-order mark at the very start of a script or module into `;`, an empty statement,
/// so that Rhai's positions (and everything after it) stay as they are. Anywhere else it is the
/// invisible character the lexer refuses.
pub fn bom_token(token: rhai::Token, pos: Position) -> rhai::Token {
    match &token {
        rhai::Token::LexError(e)
            if pos == Position::new(1, 1) && matches!(&**e, rhai::LexError::UnexpectedInput(s) if s == BOM) =>
        {
            rhai::Token::SemiColon
        }
        _ => token,
    }
}

impl Source {
    /// The text as reports show it: without a leading byte-order mark.
    pub fn body(&self) -> &str {
        self.text.strip_prefix(BOM).unwrap_or(&self.text)
    }

    /// The line and column (1-based, in characters) a Rhai position has in `body`: Rhai counts a
    /// leading byte-order mark as the first column of line 1.
    pub fn place(&self, pos: Position) -> Option<(usize, usize)> {
        let (line, col) = (pos.line()?, pos.position().unwrap_or(1));
        if line == 1 && self.text.starts_with(BOM) {
            return Some((1, col.saturating_sub(1).max(1)));
        }
        Some((line, col))
    }

    /// Byte offset in `body` of a Rhai position (1-based line, 1-based column in characters).
    pub fn offset(&self, pos: Position) -> Option<usize> {
        let (line, col) = self.place(pos)?;
        let mut offset = 0;
        for (i, l) in self.body().split_inclusive('\n').enumerate() {
            if i + 1 == line {
                let within: usize = l.chars().take(col.saturating_sub(1)).map(char::len_utf8).sum();
                return Some(offset + within);
            }
            offset += l.len();
        }
        Some(self.body().len())
    }

    /// The extent of the call starting at `offset`: the name and its balanced argument list.
    pub fn call_span(&self, offset: usize) -> SourceSpan {
        let bytes = self.body().as_bytes();
        let mut end = offset;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let mut i = end;
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'(' {
            if let Some(close) = matching_paren(self.body(), i) {
                end = close + 1;
            }
        }
        (offset, end.max(offset + 1).min(bytes.len().max(offset)) - offset).into()
    }

    /// The extent of an `import "..."` statement at `offset` (Rhai places it at the string).
    fn import_span(&self, offset: usize) -> SourceSpan {
        let rest = &self.body()[offset..];
        let end = rest.find([';', '\n']).unwrap_or(rest.len());
        (offset, end.max(1).min(rest.len().max(1))).into()
    }

    /// The source text of a call's arguments, for `assertion failed: <condition>`.
    pub fn call_arguments(&self, offset: usize) -> Option<String> {
        let span = self.call_span(offset);
        let text = &self.body()[span.offset()..span.offset() + span.len()];
        let open = text.find('(')?;
        Some(text[open + 1..text.len().checked_sub(1)?].trim().to_string())
    }

    /// Adds the import at `pos` in this file as the related place of an error found in the
    /// module it imports (`nslab check` follows imports without running them).
    pub fn imported_here(&self, e: &mut ScriptError, pos: Position, name: &str) {
        if let Ok(o) = self.placed(pos) {
            e.called_from.push(CalledFrom {
                message: "imported here".into(),
                src: self.named(),
                span: self.import_span(o),
                label: format!("import {name:?}"),
            });
        }
    }

    fn named(&self) -> NamedSource<String> {
        NamedSource::new(&self.name, self.body().to_string()).with_language("Rust")
    }

    /// Where a label can point at `pos`, or why none can: Rhai counts lines and columns in 16
    /// bits (stopping at 65535, so past that a position is only "there or later"), and miette
    /// cannot draw a label more than 65535 columns into a line (it panics). Columns are counted
    /// generously here (a tab as 4, anything else as 2).
    fn placed(&self, pos: Position) -> Result<usize, &'static str> {
        let Some(offset) = self.offset(pos) else { return Err("") };
        let body = self.body();
        if pos.line() == Some(usize::from(u16::MAX)) && body.lines().nth(usize::from(u16::MAX)).is_some() {
            return Err("nslab counts lines only up to 65535");
        }
        let line_start = body[..offset.min(body.len())].rfind('\n').map_or(0, |i| i + 1);
        let prefix = body.get(line_start..offset).unwrap_or("");
        if pos.position() == Some(usize::from(u16::MAX))
            || prefix.chars().map(|c| if c == '\t' { 4 } else { 2 }).sum::<usize>() >= 65_000
        {
            return Err("the line is too long to show");
        }
        Ok(offset)
    }

    fn error(&self, message: String, pos: Position, label: &str, help: Option<String>, kind: ErrorKind) -> ScriptError {
        let labels = self
            .placed(pos)
            .map(|o| vec![LabeledSpan::new_primary_with_span(Some(label.to_string()), self.call_span(o))])
            .unwrap_or_default();
        // A place no label can show is named in words.
        let help = match self.placed(pos) {
            Err(why) if !why.is_empty() => {
                let last = |n: Option<usize>| match n {
                    Some(n) if n == usize::from(u16::MAX) => format!("{n} or later"),
                    n => n.unwrap_or(0).to_string(),
                };
                let at = format!("at {}, line {}, column {} ({why})", self.name, last(pos.line()), last(pos.position()));
                Some(help.map_or(at.clone(), |h| format!("{at}\n{h}")))
            }
            _ => help,
        };
        ScriptError {
            message,
            src: self.named(),
            labels,
            help,
            kind,
            line: self.place(pos).map_or(0, |p| p.0),
            column: self.place(pos).map_or(0, |p| p.1),
            called_from: Vec::new(),
        }
    }

    /// An error found by the pre-flight check at `pos`.
    pub fn check_error(&self, message: String, pos: Position, help: Option<String>) -> ScriptError {
        self.error(message, pos, "here", help, ErrorKind::Check)
    }

    /// An error for a script that does not parse.
    /// An error for a script that does not parse; `limits`: those in force, to name one hit.
    pub fn from_parse(&self, err: &ParseError, limits: &Limits) -> ScriptError {
        self.syntax_error(err.err_type(), err.position(), limits)
    }

    fn syntax_error(&self, err: &ParseErrorType, pos: Position, limits: &Limits) -> ScriptError {
        let what = match err {
            // An invisible character is named, or the message would show nothing.
            ParseErrorType::BadInput(LexError::UnexpectedInput(c))
                if c.chars().count() == 1 && c.chars().all(|c| c.is_control() || !is_visible(c)) =>
            {
                let c = c.chars().next().expect("one character");
                let bom = if c == '\u{feff}' { " (a byte-order mark: only the very start of a file may have one)" } else { "" };
                format!("unexpected invisible character U+{:04X}{bom}", c as u32)
            }
            other => other.to_string(),
        };
        // A limit (nesting too deep): which one, and how to raise it.
        let (message, help) = match super::limits::explain_parse(err, limits) {
            Some((m, h)) => (m, Some(h)),
            None => (format!("syntax error: {what}"), None),
        };
        let mut e = self.error(message, pos, "here", help, ErrorKind::Syntax);
        // A syntax error points at a token, not a call.
        if let (Some(o), Some(l)) = (self.offset(pos), e.labels.first_mut()) {
            *l = LabeledSpan::new_primary_with_span(
                Some("here".into()),
                SourceSpan::from((o, 1usize.min(self.body().len().saturating_sub(o)))),
            );
        }
        e
    }

    /// Converts a runtime error. `load` reads the text of another file (an imported module)
    /// by the source name Rhai reports for it.
    /// `limits`: those in force, to name one a script reached.
    pub fn from_eval(&self, err: &EvalAltResult, load: &dyn Fn(&str) -> Option<Source>, limits: &Limits) -> ScriptError {
        // Unwrap calls into script functions down to the failing call; remember where each was called.
        let mut frames: Vec<(String, Position)> = Vec::new();
        let mut inner = err;
        let mut source: Option<Source> = None;
        while let EvalAltResult::ErrorInFunctionCall(name, src, next, pos) = inner {
            frames.push((name.clone(), *pos));
            // The innermost frame says where the failing code is: this file, or another one.
            if src == &self.name {
                source = None;
            } else if !src.is_empty() {
                source = load(src).filter(|s| s.name != self.name).or(source);
            }
            inner = next;
        }
        let here = source.as_ref().unwrap_or(self);
        let pos = inner.position();
        let mut e = match inner {
            // A limit: which one, and how to raise it.
            _ if super::limits::explain(inner, limits).is_some() => {
                let (message, help) = super::limits::explain(inner, limits).expect("just seen");
                here.error(message, pos, "here", Some(help), ErrorKind::Runtime)
            }
            // The failure is in a module this file imports: shown in the module, at its own
            // line, with the import as the related place.
            EvalAltResult::ErrorInModule(name, failure, import) if load(name).is_some() => {
                let module = load(name).expect("checked");
                let mut e = match &**failure {
                    EvalAltResult::ErrorParsing(p, at) => module.syntax_error(p, *at, limits),
                    other => module.from_eval(other, load, limits),
                };
                if let Some(o) = here.offset(*import) {
                    e.called_from.push(CalledFrom {
                        message: "imported here".into(),
                        src: here.named(),
                        span: here.import_span(o),
                        label: format!("import {name:?}"),
                    });
                }
                e
            }
            // The module's text cannot be read back to point into: its message, at the import.
            EvalAltResult::ErrorInModule(name, failure, _) => {
                let inner = here.from_eval(failure, load, limits);
                let mut e =
                    here.error(format!("{} (in module {name:?})", inner.message), pos, "imported here", inner.help, inner.kind);
                e.called_from = inner.called_from;
                e
            }
            EvalAltResult::ErrorModuleNotFound(name, _) => {
                // Where Rhai's file resolver looks: next to the script that was run, as .rhai.
                let file = super::script_dir(&self.name).join(name).with_extension("rhai");
                here.error(
                    format!("no module {name:?}: there is no file {}", file.display()),
                    pos,
                    "imported here",
                    Some("import \"NAME\" reads NAME.rhai in the directory of the script that was run".into()),
                    ErrorKind::Runtime,
                )
            }
            EvalAltResult::ErrorRuntime(payload, _) if payload.is::<CallFailure>() => {
                let f = payload.clone().cast::<CallFailure>();
                match f.kind {
                    FailureKind::Assertion { custom } => {
                        let what = if custom {
                            f.message
                        } else {
                            here.offset(pos).and_then(|o| here.call_arguments(o)).unwrap_or_default()
                        };
                        let msg =
                            if what.is_empty() { "assertion failed".to_string() } else { format!("assertion failed: {what}") };
                        here.error(msg, pos, "this assertion", None, ErrorKind::Assertion)
                    }
                    FailureKind::Interrupted => {
                        here.error("interrupted".into(), pos, "stopped here", None, ErrorKind::Interrupted)
                    }
                    FailureKind::Expectation => here.error(f.message, pos, "this check failed", f.hint, ErrorKind::Assertion),
                    FailureKind::Skip => here.error(f.message, pos, "skipped here", None, ErrorKind::Skipped),
                    FailureKind::Lab | FailureKind::Argument => {
                        here.error(f.message, pos, "this call failed", f.hint, ErrorKind::Runtime)
                    }
                }
            }
            EvalAltResult::ErrorTerminated(..) => {
                here.error("interrupted".into(), pos, "stopped here", None, ErrorKind::Interrupted)
            }
            EvalAltResult::ErrorRuntime(payload, _) => {
                here.error(format!("script error: {payload}"), pos, "thrown here", None, ErrorKind::Runtime)
            }
            EvalAltResult::ErrorFunctionNotFound(sig, _) => here.error(
                format!("no function {sig}"),
                pos,
                "not found",
                Some("check the name and the argument types; `nslab check` lists the functions".into()),
                ErrorKind::Runtime,
            ),
            other => {
                // Rhai appends " (line L, position C)": the report shows that graphically.
                let text = other.to_string();
                let text = text.strip_suffix(&format!(" ({pos})")).unwrap_or(&text).to_string();
                here.error(text, pos, "here", None, ErrorKind::Runtime)
            }
        };
        // The failing code is in another file: show where this script called into it.
        if let (Some(_), Some((name, call))) = (&source, frames.first()) {
            if let Ok(o) = self.placed(*call) {
                e.called_from.push(CalledFrom {
                    message: "called from here".into(),
                    src: self.named(),
                    span: self.call_span(o),
                    label: format!("in {name}()"),
                });
            }
        }
        // Point at where the failing function was called, too, when that is in this file.
        if source.is_none() {
            // A closure (anon$...) is no name to show; the call that ran it is already labelled.
            // A recursion passes the same call many times: label each place once.
            let mut seen = std::collections::HashSet::new();
            for (name, call) in frames.iter().filter(|(n, p)| !p.is_none() && !n.starts_with("anon$")) {
                if !seen.insert(*call) {
                    continue;
                }
                if let Ok(o) = self.placed(*call) {
                    e.labels.push(LabeledSpan::new_with_span(Some(format!("in {name}(), called here")), self.call_span(o)));
                }
            }
        }
        e
    }
}

/// Whether a character shows when printed (format characters such as U+FEFF and U+200B do not).
fn is_visible(c: char) -> bool {
    !matches!(c, '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}' | '\u{fff0}'..='\u{fffb}')
        && !c.is_whitespace()
}

fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'"' | b'`' | b'\'' => quote = Some(b),
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> Source {
        Source { name: "t.rhai".into(), text: text.into() }
    }

    #[test]
    fn offsets_count_characters_per_line() {
        let s = src("let a = 1;\n// ü\nup(\"x\");\n");
        assert_eq!(s.offset(Position::new(3, 1)), Some(17));
        assert_eq!(&s.text[17..19], "up");
    }

    #[test]
    fn call_span_covers_balanced_arguments_and_strings() {
        let s = src(r#"x; addr("n", "a)b", f(1)); y"#);
        let span = s.call_span(3);
        assert_eq!(&s.text[span.offset()..span.offset() + span.len()], r#"addr("n", "a)b", f(1))"#);
        assert_eq!(s.call_arguments(3).unwrap(), r#""n", "a)b", f(1)"#);
    }

    #[test]
    fn a_byte_order_mark_is_left_out_of_places_and_spans() {
        let s = src("\u{feff}up(\"x\");\nup(\"y\");\n");
        // Rhai counts the mark as column 1 of line 1.
        assert_eq!(s.place(Position::new(1, 2)), Some((1, 1)));
        assert_eq!(s.place(Position::new(2, 1)), Some((2, 1)));
        assert_eq!(s.offset(Position::new(1, 2)), Some(0));
        assert_eq!(s.offset(Position::new(2, 1)), Some(9));
        assert_eq!(s.call_arguments(0).unwrap(), "\"x\"");
        let e = s.check_error("x".into(), Position::new(1, 2), None);
        assert_eq!((e.line, e.column), (1, 1));
        assert_eq!(e.src.inner().as_str(), "up(\"x\");\nup(\"y\");\n");
    }

    #[test]
    fn only_a_leading_byte_order_mark_is_an_empty_statement() {
        let bom = || rhai::Token::LexError(Box::new(LexError::UnexpectedInput(BOM.into())));
        assert_eq!(bom_token(bom(), Position::new(1, 1)), rhai::Token::SemiColon);
        assert_eq!(bom_token(bom(), Position::new(1, 5)), bom());
    }

    #[test]
    fn call_span_of_a_name_without_arguments() {
        let s = src("foo + 1");
        let span = s.call_span(0);
        assert_eq!(span.len(), 3);
    }
}
