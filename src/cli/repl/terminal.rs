//! The REPL on a terminal: line editing, completion, hints, history.

use std::path::Path;

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};

use super::helper::{LiveWorld, ReplHelper};
use super::shell::{Flow, Shell};

const PROMPT: &str = "nslab> ";

pub fn run(shell: &mut Shell, history: Option<&Path>) {
    let config =
        Config::builder().auto_add_history(false).history_ignore_space(true).completion_type(CompletionType::List).build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            note!("note: no line editing ({e}); reading plain lines");
            return super::piped::run(shell);
        }
    };
    let world = LiveWorld { lab: shell.session.lab.clone(), names: shell.names.clone() };
    editor.set_helper(Some(ReplHelper::new(world, shell.color)));
    if let Some(h) = history {
        let _ = editor.load_history(h);
    }
    loop {
        if shell.stopped() {
            break;
        }
        match editor.readline(PROMPT) {
            Ok(entry) => {
                if !entry.trim().is_empty() {
                    let _ = editor.add_history_entry(entry.as_str());
                    if let Some(h) = history {
                        // Written entry by entry, so a killed session keeps its history too;
                        // a history that cannot be written is not worth an interruption.
                        let _ = editor.append_history(h);
                    }
                }
                if let Flow::Quit = shell.handle(&entry) {
                    break;
                }
            }
            // Ctrl-C at the prompt drops the line being typed (or a SIGTERM woke us: see above).
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                note!("error reading input: {e}");
                break;
            }
        }
    }
}
