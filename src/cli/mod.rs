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

pub(crate) mod agent;
pub(crate) mod docs;
pub(crate) mod export;
pub(crate) mod graph;
pub(crate) mod graph_machines;
pub(crate) mod graph_render;
pub(crate) mod labs;
pub(crate) mod labs_machines;
pub(crate) mod progress;
pub(crate) mod repl;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod shell;
pub(crate) mod test;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueHint};

/// Exit statuses, as each command's `--help` lists them.
const EXIT_RUN: &str = "\
Exit status:
  0        the script ran to its end (sub-tests passed or were skipped) and the lab was torn down or kept
  1        the script failed (an error, a failed check or sub-test), or the lab could not be torn down completely
  2        bad usage: an unreadable script, an invalid lab name, a misplaced option
  128+N    stopped by signal N (130: Ctrl-C, 143: SIGTERM); the lab was torn down first";
const EXIT_REPL: &str = "\
Exit status:
  0        the session ended normally (Ctrl-D, :quit) and the lab was torn down or kept
  1        the lab could not start, or could not be torn down completely
  2        bad usage: an invalid lab name or option
  128+N    ended by signal N (SIGTERM: 143, SIGHUP: 129); the lab was torn down first";
const EXIT_CHECK: &str = "\
Exit status:
  0        no problems found
  1        at least one script has problems (each is reported)
  2        bad usage: a script that cannot be read";
const EXIT_LS: &str = "\
Exit status:
  0        every ledger was read
  1        a ledger could not be read or is damaged (said on standard error; the others are listed)
  2        bad usage";
const EXIT_DOWN: &str = "\
Exit status:
  0        the lab is gone
  1        no such lab, another user's lab, or something could not be removed (its ledger is kept)
  2        bad usage";
const EXIT_CLEAN: &str = "\
Exit status:
  0        every dead lab is gone (or there was none)
  1        something could not be removed, or a ledger could not be read or trusted (it is kept)
  2        bad usage";
const EXIT_SHELL: &str = "\
Exit status:
  the shell's or CMD's own status
  1        no such lab or namespace, or the lab cannot be entered
  2        bad usage";
const EXIT_GRAPH: &str = "\
Exit status:
  0        written
  1        the script failed, the lab could not be read, or Graphviz (for --format svg) is missing or failed
  2        bad usage: no such script or standing lab, a script that cannot be read
  128+N    a script stopped by signal N; its lab was torn down first";
const EXIT_PRINT: &str = "\
Exit status:
  0        printed
  2        bad usage";

#[derive(Parser, Debug)]
#[command(
    name = "nslab",
    version,
    about = "Network-namespace labs as Rhai scripts, carried out natively through netlink",
    after_help = "\
Options before the script's own arguments are nslab's, wherever they stand (`nslab run --sandbox FILE` \
and `nslab run FILE --sandbox` are the same); after the script's first argument, use `--` to pass \
options to the script (`nslab run FILE -- --verbose`).

Exit status: as each command's --help says; 0 success, 1 failure, 2 bad usage, 128+N stopped by signal N."
)]
pub(crate) struct Cli {
    /// Work in a private user + mount + network namespace (the sandbox): nothing is visible on, or
    /// left on, the host. Without a command, open the REPL there.
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// When to colour error reports and progress: auto (on a terminal, unless NO_COLOR is set),
    /// always or never.
    #[arg(long, global = true, value_enum, default_value_t = report::ColorChoice::Auto, value_name = "WHEN")]
    pub color: report::ColorChoice,
    /// Print no progress (progress is only ever shown on a terminal).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run a lab script; the lab is torn down when it ends unless --keep.
    #[command(after_help = EXIT_RUN)]
    Run(RunArgs),
    /// Explore a lab interactively (the default without a command); Ctrl-D tears it down unless :keep.
    #[command(after_help = EXIT_REPL)]
    Repl(ReplArgs),
    /// Compile a script and report syntax errors, unknown functions, wrong argument counts and
    /// modules that cannot be imported (import cycles), without touching the kernel.
    #[command(after_help = EXIT_CHECK)]
    Check {
        /// The scripts to check (`-` reads one from standard input).
        #[arg(required = true, value_name = "FILES", value_hint = ValueHint::FilePath)]
        files: Vec<PathBuf>,
        #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = LimitArg::parse, long_help = LIMIT_HELP)]
        limits: Vec<LimitArg>,
    },
    /// List labs still standing: running, kept (--keep), dead (their process is gone) or damaged.
    #[command(after_help = EXIT_LS)]
    Ls {
        /// Print the list as JSON (an array of labs) on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Tear down a lab that is still standing: a kept one, a dead one, or ask a running one to stop.
    #[command(after_help = EXIT_DOWN)]
    Down {
        /// The lab's name or id, as `nslab ls` shows them.
        #[arg(value_name = "LAB")]
        lab: String,
    },
    /// Open a shell (or run CMD) in a namespace of a standing lab: one kept on the host
    /// (`run --keep`) or in its sandbox (`run --sandbox --keep`). Exits as the shell or CMD does.
    #[command(after_help = EXIT_SHELL)]
    Shell {
        /// The lab, by name or id (`nslab ls` lists them).
        #[arg(value_name = "LAB")]
        lab: String,
        /// The namespace to enter (for a sandbox lab, left out: the sandbox's own).
        #[arg(value_name = "NS")]
        ns: Option<String>,
        /// The program to run instead of $SHELL, after `--`.
        #[arg(last = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
    /// Tear down every dead lab (after kill -9, a crash, an OOM kill); labs kept with --keep stay.
    #[command(after_help = EXIT_CLEAN)]
    Clean {
        /// Also tear down the labs kept with --keep.
        #[arg(long)]
        kept: bool,
    },
    /// Draw a lab: a script (run in a sandbox, or across machines with --hosts FILE, drawn when
    /// it ends) or a lab left standing, as DOT, Mermaid, JSON or SVG.
    #[command(after_help = EXIT_GRAPH)]
    Graph(graph::GraphArgs),
    /// Write a lab (a script, or a lab left standing) as a bash script of `ip` commands that
    /// rebuilds it.
    #[command(after_help = EXIT_GRAPH)]
    Export(graph::ExportArgs),
    /// Print the language reference (Markdown), generated from the same catalog as `:help`.
    #[command(after_help = EXIT_PRINT)]
    Doc {
        /// Print only this function's entry.
        #[arg(value_name = "FUNCTION", value_parser = docs::function_names())]
        function: Option<String>,
        /// Print every function (forms, summary, example, ip equivalent) as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Run scenario scripts as tests, each in its own sandbox, and report PASS / FAIL / SKIP /
    /// TIMEOUT for each (also as TAP, JUnit XML or JSON).
    Test(test::TestArgs),
    /// Print a completion script for a shell, e.g. `nslab completions bash > ~/.local/share/bash-completion/completions/nslab`.
    #[command(after_help = EXIT_PRINT)]
    Completions {
        /// The shell to complete in.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `nslab man > nslab.1 && man -l nslab.1`.
    #[command(after_help = EXIT_PRINT)]
    Man,
    /// Serve this machine's part of a lab across machines, for the coordinator (`nslab run
    /// --hosts FILE` elsewhere) on standard input and output; started by an inventory's `via`
    /// command (`ssh m2 nslab agent`). When its input closes, the part is torn down.
    Agent,
    /// (internal) Run one scenario for `nslab test` and write its result as JSON.
    #[command(hide = true)]
    TestScenario(test::child::ChildArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// Set from the global --sandbox.
    #[arg(skip)]
    pub sandbox: bool,
    /// Leave the lab standing when the script ends; `nslab down` removes it later.
    #[arg(long)]
    pub keep: bool,
    /// The lab's name (default: the script's file name without .rhai).
    #[arg(long)]
    pub name: Option<String>,
    /// Spread the lab over the machines of this inventory (TOML: [hosts.NAME] address, dev,
    /// via); `netns_add(name, #{on: "m2"})` places a namespace on one.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub hosts: Option<PathBuf>,
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
    /// The lab script (`-`: read it from standard input).
    #[arg(value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub file: PathBuf,
    /// Passed to the script as the string array ARGS. nslab's own options go before them (before
    /// or after FILE); one among them is refused, unless `--` comes first (`nslab run FILE --
    /// --keep` passes --keep to the script).
    #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(clap::Args, Debug, Default)]
pub(crate) struct ReplArgs {
    /// Set from the global --sandbox.
    #[arg(skip)]
    pub sandbox: bool,
    /// Leave the lab standing when the REPL ends (as `:keep` does).
    #[arg(long)]
    pub keep: bool,
    /// The lab's name (default: repl).
    #[arg(long)]
    pub name: Option<String>,
    /// Spread the lab over the machines of this inventory (TOML: [hosts.NAME] address, dev,
    /// via); `netns_add(name, #{on: "m2"})` places a namespace on one.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub hosts: Option<PathBuf>,
    /// Set a limit on what entries may build (strings=128M, arrays=20M, ...); repeatable.
    #[arg(long = "limit", value_name = "KEY=VALUE", value_parser = LimitArg::parse, long_help = LIMIT_HELP)]
    pub limits: Vec<LimitArg>,
}

/// The command line's definition, for completions and the manual page.
pub(crate) fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
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
    report::set_color(cli.color);
    progress::set_quiet(cli.quiet);
    report::install_hook();
    crate::engine::limits::raise_open_files();
    match cli.command {
        Some(Command::Run(mut args)) => {
            args.sandbox = cli.sandbox;
            if let Some(code) = run::misplaced_option(&args) {
                return code;
            }
            run::run(args)
        }
        Some(Command::Repl(mut args)) => {
            args.sandbox = cli.sandbox;
            repl::repl(args)
        }
        Some(Command::Check { files, limits }) => run::check(&files, &limits),
        Some(Command::Ls { json }) => labs::ls(json),
        Some(Command::Down { lab }) => labs::down(&lab),
        Some(Command::Clean { kept }) => labs::clean(kept),
        Some(Command::Shell { lab, ns, cmd }) => shell::shell(&lab, ns.as_deref(), &cmd),
        Some(Command::Doc { function, json }) => docs::doc(function.as_deref(), json),
        Some(Command::Graph(args)) => graph::graph(args),
        Some(Command::Export(args)) => graph::export(args),
        Some(Command::Test(args)) => test::run(args),
        Some(Command::Completions { shell }) => docs::completions(shell),
        Some(Command::Man) => docs::man(),
        Some(Command::TestScenario(args)) => test::child::run(args),
        Some(Command::Agent) => agent::agent(),
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

    /// clap's own consistency checks (duplicate names, global flags clashing with local ones).
    #[test]
    fn command_line_is_consistent() {
        super::command().debug_assert();
    }

    /// Every positional argument and option says what it is in `--help`.
    #[test]
    fn every_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") || arg.is_hide_set() {
                    continue;
                }
                assert!(arg.get_help().is_some() || arg.get_long_help().is_some(), "{path} {id} has no description");
            }
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&super::command(), "nslab");
    }
}
