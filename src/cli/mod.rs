//! The command line: parses arguments, sets up the sandbox and signals, prints, sets exit codes.

/// `println!` and `eprintln!` that never panic: those panic when the terminal hangs up or the
/// reader of a pipe goes away, and nslab must still tear its lab down after that. Nothing in
/// the command line prints any other way.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub(crate) mod labs;
pub(crate) mod repl;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod shell;
pub(crate) mod test;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "nslab", version, about = "Network-namespace labs as Rhai scripts, carried out natively through netlink")]
pub(crate) struct Cli {
    /// Work in the sandbox (as `run --sandbox`); without a command, open the REPL there.
    #[arg(long)]
    pub sandbox: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run a lab script; the lab is torn down when it ends unless --keep.
    Run(RunArgs),
    /// Explore a lab interactively (the default without a command); Ctrl-D tears it down unless :keep.
    Repl(ReplArgs),
    /// Compile a script and report syntax errors, unknown functions, wrong argument counts and
    /// modules that cannot be imported (import cycles), without touching the kernel.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = LimitArg::parse, long_help = LIMIT_HELP)]
        limits: Vec<LimitArg>,
    },
    /// List labs still standing.
    Ls,
    /// Tear down a lab that is still standing (by name or id).
    Down { lab: String },
    /// Open a shell (or run CMD) in a namespace of a standing lab: one kept on the host
    /// (`run --keep`) or in its sandbox (`run --sandbox --keep`). Exits as the shell or CMD does.
    Shell {
        /// The lab, by name or id (`nslab ls` lists them).
        lab: String,
        /// The namespace to enter (for a sandbox lab, left out: the sandbox's own).
        ns: Option<String>,
        /// The program to run instead of $SHELL, after `--`.
        #[arg(last = true)]
        cmd: Vec<String>,
    },
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
pub(crate) struct RunArgs {
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
    /// Print each operation, as it starts, as the ip/tc/sysctl command line that does the same
    /// (on stderr, after "+ ").
    #[arg(long)]
    pub trace: bool,
    /// Set a limit on what the script may build (strings=128M, arrays=20M, ...); repeatable.
    #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = LimitArg::parse, long_help = LIMIT_HELP)]
    pub limits: Vec<LimitArg>,
    pub file: PathBuf,
    /// Passed to the script as the string array ARGS.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(clap::Args, Debug, Default)]
pub(crate) struct ReplArgs {
    /// Work in a private user + mount + network namespace: nothing is visible on, or left on, the host.
    #[arg(long)]
    pub sandbox: bool,
    /// Leave the lab standing when the REPL ends (as `:keep` does).
    #[arg(long)]
    pub keep: bool,
    /// The lab's name (default: repl).
    #[arg(long)]
    pub name: Option<String>,
    /// Set a limit on what entries may build (strings=128M, arrays=20M, ...); repeatable.
    #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = LimitArg::parse, long_help = LIMIT_HELP)]
    pub limits: Vec<LimitArg>,
}

/// One `--limit KEY=VALUE[,KEY=VALUE...]`, checked when parsed.
#[derive(Debug, Clone)]
pub(crate) struct LimitArg {
    /// As given, to pass on (to a scenario's process).
    pub text: String,
    pub set: crate::script::limits::Overrides,
}

impl LimitArg {
    fn parse(text: &str) -> Result<LimitArg, String> {
        Ok(LimitArg { text: text.to_string(), set: crate::script::limits::parse(text)? })
    }

    /// All the limits given, in order (a later one wins).
    pub fn all(args: &[LimitArg]) -> crate::script::limits::Overrides {
        args.iter().flat_map(|a| a.set.iter().copied()).collect()
    }
}

/// `--help` for `--limit`; a test checks it against the defaults in `script::limits`.
pub const LIMIT_HELP: &str = "\
Set a limit on what a script may build or how deep it may go, as KEY=VALUE (several separated by \
commas, or the option repeated). A script that reaches a limit stops with an error naming it; the \
lab is torn down as after any error. A script sets its own limits with a line among its first \
comment lines, like `// limits: strings=128M, arrays=20M`; this option wins over that line.
Bytes take K, M, G, T (KiB, MiB, GiB, TiB); counts take k, M, G (thousand, million, billion).
  strings     64M        bytes of text in one value
  arrays      10M        elements in one array (bytes in one blob), nested ones included
  maps        1M         entries in one map, nested ones included
  calls       128        nested function calls
  depth       256        levels of nesting in one expression
  modules     1k         modules imported
  operations  unlimited  steps the script runs
  memory      2G         bytes of memory nslab holds
";

/// Runs the command line; returns the process exit status.
pub fn main() -> i32 {
    // Before anything else: run again as a lab's PID namespace init, this process never returns.
    crate::engine::pidns::serve_if_asked();
    crate::engine::heap::init();
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
        Some(Command::Check { files, limits }) => run::check(&files, &limits),
        Some(Command::Ls) => labs::ls(),
        Some(Command::Down { lab }) => labs::down(&lab),
        Some(Command::Clean) => labs::clean(),
        Some(Command::Shell { lab, ns, cmd }) => shell::shell(&lab, ns.as_deref(), &cmd),
        Some(Command::Doc) => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(crate::script::reference::markdown().as_bytes());
            0
        }
        Some(Command::Test(args)) => test::run(args),
        Some(Command::TestScenario(args)) => test::child::run(args),
        None => repl::repl(ReplArgs { sandbox: cli.sandbox, ..ReplArgs::default() }),
    }
}

#[cfg(test)]
mod tests {
    /// `--help` lists every limit with the default the script layer applies.
    #[test]
    fn limit_help_matches_the_defaults() {
        let table = crate::script::limits::help_text();
        assert!(super::LIMIT_HELP.ends_with(&table), "LIMIT_HELP's table should be:\n{table}");
    }
}
