//! How errors look: miette reports, in colour on a terminal and plain (but identical in shape)
//! elsewhere, so tests and CI logs can compare them exactly.

use std::io::IsTerminal;

use miette::{GraphicalReportHandler, GraphicalTheme};

pub fn install_hook() {
    let _ = miette::set_hook(Box::new(|_| {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let mut opts = miette::MietteHandlerOpts::new().terminal_links(false).unicode(true);
        if !tty {
            opts = opts.color(false).width(100);
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
