//! A program on the user's terminal inside a namespace (`shell(ns)` in scripts and the REPL):
//! placed like `exec`'s programs, but in nslab's process group so that it reads the terminal,
//! and waited for; nslab goes on when it exits.

use std::io::IsTerminal;

use super::{Lab, LabError, Ns, Result};
use crate::engine::exec::{interactive_command, Placement};

impl Lab {
    /// Runs `argv` on the terminal in `ns` and returns its exit status (128 + signal).
    pub fn interactive(&mut self, ns: &Ns, argv: &[String]) -> Result<i32> {
        if !std::io::stdin().is_terminal() {
            return Err(LabError::Failed {
                op: format!("open a shell in {ns}"),
                detail: "it needs a terminal, and nslab's standard input is not one".into(),
                errno: None,
            });
        }
        self.flush()?;
        self.settle()?;
        let file = match ns {
            Ns::Root => None,
            Ns::Named(_) => Some(self.ns_file(ns)?),
        };
        let name = ns.key();
        let placement = Placement { ns: file.as_deref(), ns_name: name.as_deref(), pidns: None };
        let op = || format!("run {} in {ns}", argv.join(" "));
        let mut cmd = interactive_command(argv, &placement).map_err(|e| LabError::from_engine(op(), e))?;
        cmd.env("NSLAB_LAB", self.name()).env("NSLAB_NETNS", name.unwrap_or_default());
        let status = cmd.status().map_err(|e| LabError::Failed { op: op(), detail: e.to_string(), errno: None })?;
        Ok(status.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)))
    }
}
