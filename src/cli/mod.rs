//! The command line: parses arguments, sets up the sandbox and signals, prints, sets exit codes.

pub mod labs;
pub mod repl;
pub mod report;
pub mod run;
pub mod test;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "nslab", version, about = "Network-namespace labs as Rhai scripts, carried out natively through netlink")]
pub struct Cli {
    /// Work in the sandbox (as `run --sandbox`); without a command, open the REPL there.
    #[arg(long)]
    pub sandbox: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a lab script; the lab is torn down when it ends unless --keep.
    Run(RunArgs),
    /// Explore a lab interactively (the default without a command); Ctrl-D tears it down unless :keep.
    Repl(ReplArgs),
    /// Compile a script and report syntax errors, unknown functions and wrong argument
    /// counts, without touching the kernel.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List labs still standing.
    Ls,
    /// Tear down a lab that is still standing (by name or id).
    Down { lab: String },
    /// Tear down every lab whose process is gone (after kill -9, a crash, an OOM kill).
    Clean,
    /// Print the language reference (Markdown), generated from the same catalog as `:help`.
    Doc,
    /// Run scenario scripts as tests, each in its own sandbox, and report PASS / FAIL / SKIP /
    /// TIMEOUT for each (also as TAP, JUnit XML or JSON).
    Test(test::TestArgs),
    /// (internal) Run one scenario for `nslab test` and write its result as JSON.
    #[command(hide = true)]
    TestScenario(test::child::ChildArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Run in a private user + mount + network namespace: nothing is visible on, or left on, the host.
    #[arg(long)]
    pub sandbox: bool,
    /// Leave the lab standing when the script ends; `nslab down` removes it later.
    #[arg(long)]
    pub keep: bool,
    /// The lab's name (default: the script's file name without .rhai).
    #[arg(long)]
    pub name: Option<String>,
    /// Open the REPL on the lab once the script has run (or failed).
    #[arg(short, long)]
    pub interactive: bool,
    pub file: PathBuf,
    /// Passed to the script as the string array ARGS.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(clap::Args, Debug, Default)]
pub struct ReplArgs {
    /// Work in a private user + mount + network namespace: nothing is visible on, or left on, the host.
    #[arg(long)]
    pub sandbox: bool,
    /// Leave the lab standing when the REPL ends (as `:keep` does).
    #[arg(long)]
    pub keep: bool,
    /// The lab's name (default: repl).
    #[arg(long)]
    pub name: Option<String>,
}

/// Runs the command line; returns the process exit status.
pub fn main() -> i32 {
    // Before anything else: run again as a lab's PID namespace init, this process never returns.
    crate::engine::pidns::serve_if_asked();
    let cli = Cli::parse();
    report::install_hook();
    crate::engine::limits::raise_open_files();
    match cli.command {
        Some(Command::Run(mut args)) => {
            args.sandbox |= cli.sandbox;
            run::run(args)
        }
        Some(Command::Repl(mut args)) => {
            args.sandbox |= cli.sandbox;
            repl::repl(args)
        }
        Some(Command::Check { files }) => run::check(&files),
        Some(Command::Ls) => labs::ls(),
        Some(Command::Down { lab }) => labs::down(&lab),
        Some(Command::Clean) => labs::clean(),
        Some(Command::Doc) => {
            print!("{}", crate::script::reference::markdown());
            0
        }
        Some(Command::Test(args)) => test::run(args),
        Some(Command::TestScenario(args)) => test::child::run(args),
        None => repl::repl(ReplArgs { sandbox: cli.sandbox, ..ReplArgs::default() }),
    }
}
