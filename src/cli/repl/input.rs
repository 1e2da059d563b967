//! When is an entry complete? An unclosed `{`, `(`, `[`, a backtick string, or a `"` string
//! whose line ends with `\` continues on the next line. Rhai's parser decides: an error at the very
//! end of the input (DESIGN.md §4) means more is to come; any other error is the user's to see.

use rhai::{Engine, LexError, OptimizationLevel, ParseErrorType};

use crate::script::Source;

pub struct Completeness {
    parser: Engine,
    /// Whether two empty lines end an entry whatever it holds (for people, not for programs).
    pub blank_lines_end: bool,
}

impl Default for Completeness {
    fn default() -> Self {
        let mut parser = Engine::new_raw();
        parser.set_optimization_level(OptimizationLevel::None);
        parser.set_max_expr_depths(256, 256);
        Completeness { parser, blank_lines_end: true }
    }
}

impl Completeness {
    /// True when `text` ends in the middle of a statement and should go on on the next line.
    pub fn unfinished(&self, text: &str) -> bool {
        if text.trim_start().starts_with(':') || text.trim().is_empty() {
            return false;
        }
        // Two empty lines in a row end the entry whatever it holds (and show its error).
        if self.blank_lines_end && text.ends_with("\n\n") {
            return false;
        }
        let Err(err) = self.parser.compile(text) else { return false };
        let source = Source { name: String::new(), text: text.to_string() };
        let offset = source.offset(err.position()).unwrap_or(text.len());
        let at_end = offset >= text.trim_end().len();
        match err.err_type() {
            ParseErrorType::UnexpectedEOF => true,
            ParseErrorType::MissingToken(..) => at_end,
            ParseErrorType::BadInput(LexError::UnterminatedString) => {
                // A backtick string may hold line breaks; a "..." string continues only after `\`.
                text[offset.min(text.len())..].starts_with('`') || text.trim_end_matches([' ', '\t']).ends_with('\\')
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_and_strings_continue() {
        let c = Completeness::default();
        for text in [
            "fn double(x) {",
            "ping(n, \"10.0.0.1\",",
            "let a = [1,",
            "let m = #{count: 3,",
            "let s = `two",
            "let s = \"a\\",
            "let x =",
            "if up {\n  1",
        ] {
            assert!(c.unfinished(text), "{text:?} should continue");
        }
    }

    #[test]
    fn complete_or_wrong_input_ends() {
        let c = Completeness::default();
        for text in ["1 + 1", "fn f() { 1 }", "f(1))", "let = 3", "}", "let s = \"ab", ":help ping", "", "let x = (\n\n"] {
            assert!(!c.unfinished(text), "{text:?} should end");
        }
    }
}
