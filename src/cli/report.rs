//! How errors look: miette reports, in colour on a terminal and plain (but identical in shape)
//! elsewhere, so tests and CI logs can compare them exactly. `--color` and NO_COLOR decide.

use std::io::IsTerminal;
use std::sync::OnceLock;

use miette::{GraphicalReportHandler, GraphicalTheme};

/// `--color`: when to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    /// Always, also into a pipe or a file.
    Always,
    /// Never.
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Sets the choice for the whole process (once, from the command line).
pub fn set_color(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// Whether output to a stream (a terminal or not, as `tty` says) is coloured.
pub fn color_for(tty: bool) -> bool {
    match CHOICE.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        // https://no-color.org: set and not empty.
        ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Whether standard error is coloured.
pub fn stderr_color() -> bool {
    color_for(std::io::stderr().is_terminal())
}

pub fn install_hook() {
    let _ = miette::set_hook(Box::new(|_| {
        let mut opts = miette::MietteHandlerOpts::new().terminal_links(false).unicode(true);
        opts = if stderr_color() { opts.color(true) } else { opts.color(false) };
        if !std::io::stderr().is_terminal() {
            opts = opts.width(100);
        }
        Box::new(opts.build())
    }));
}

/// Renders a diagnostic to a string the way it is printed (used by the REPL and tests).
pub fn render(diag: &dyn miette::Diagnostic, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let mut out = String::new();
    let _ = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false).render_report(&mut out, diag);
    out
}

pub fn print(diag: impl miette::Diagnostic + Send + Sync + 'static) {
    note!("{:?}", miette::Report::new(diag));
}

/// An error that is not about a place in a script (a missing file, a lab that cannot start).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct PlainError {
    pub message: String,
    #[help]
    pub help: Option<String>,
}

pub fn plain(message: impl Into<String>, help: Option<String>) {
    print(PlainError { message: message.into(), help });
}

/// "1 scenario", "2 scenarios".
pub fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
