//! `nslab graph` and `nslab export`: a lab's topology drawn (DOT, Mermaid, SVG) or written as
//! JSON or as a replayable `ip` script. The lab is either a script, run in a sandbox and read
//! when it ends (before teardown), or a lab left standing (`run --keep`), read from the kernel.
//! With `--hosts FILE`, the script runs across the inventory's machines (no sandbox, as `nslab
//! run --hosts`), and every machine's part is read (see `graph_machines`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::session::{self, Interrupt, Keep, Plan, EXIT_FAILED, EXIT_USAGE};
use super::{export, graph_machines, graph_render, report};
use crate::engine::sandbox_hold::{self, Kept};
use crate::lab::ledger::{self, Record};
use crate::lab::topology::Topology;

/// How `nslab graph` writes the topology.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Format {
    /// Graphviz DOT.
    #[default]
    Dot,
    /// A Mermaid flowchart (GitHub renders it in Markdown).
    Mermaid,
    /// The topology as JSON: nodes (namespaces with their links, addresses, routes) and edges
    /// (see docs/topology.md).
    Json,
    /// SVG, drawn by Graphviz's `dot -Tsvg`.
    Svg,
}

#[derive(clap::Args, Debug)]
pub(crate) struct GraphArgs {
    /// A lab script (run in a sandbox, or across machines with --hosts, and read when it ends;
    /// `-` reads it from standard input), or the name or id of a lab left standing (`nslab run
    /// --keep`), read from the kernel (on every machine, for a lab kept across machines).
    #[arg(value_name = "FILE|LAB", value_hint = clap::ValueHint::AnyPath)]
    pub target: String,
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    pub format: Format,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Show each namespace's routes (in JSON: include them).
    #[arg(long)]
    pub routes: bool,
    /// A script's lab name (default: the file name without .rhai).
    #[arg(long)]
    pub name: Option<String>,
    /// Run the script across the machines of this inventory (as `nslab run --hosts`, without
    /// a sandbox) and draw every machine's part, each machine in a colour of its own.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub hosts: Option<PathBuf>,
    /// Passed to a script as the string array ARGS.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct ExportArgs {
    /// A lab script (run in a sandbox and read when it ends; `-` reads it from standard input),
    /// or the name or id of a lab left standing (`nslab run --keep`), read from the kernel.
    #[arg(value_name = "LAB|FILE", value_hint = clap::ValueHint::AnyPath)]
    pub target: String,
    /// Write the lab as a bash script of `ip`, `tc` and `bridge` commands that rebuilds it.
    #[arg(long, required = true)]
    pub ip: bool,
    /// A script's lab name (default: the file name without .rhai).
    #[arg(long)]
    pub name: Option<String>,
    /// Refused: a script of `ip` commands rebuilds one machine's lab (draw a lab across
    /// machines with `nslab graph --hosts FILE SCRIPT`).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub hosts: Option<PathBuf>,
    /// Passed to a script as the string array ARGS.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn graph(args: GraphArgs) -> i32 {
    let mut topology = match read(&args.target, args.name.as_deref(), &args.args, args.hosts.as_deref()) {
        Ok(t) => t,
        Err(status) => return status,
    };
    if !args.routes {
        for n in &mut topology.nodes {
            n.routes.clear();
        }
    }
    if topology.nodes.is_empty() {
        note!(
            "graph: lab {} had no namespaces or links left to draw (a script that deletes what it made ends empty)",
            topology.lab
        );
    }
    let opts = graph_render::Options { routes: args.routes };
    let format = if args.json { Format::Json } else { args.format };
    let text = match format {
        Format::Dot => graph_render::dot(&topology, opts),
        Format::Mermaid => graph_render::mermaid(&topology, opts),
        Format::Json => serde_json::to_string_pretty(&topology).expect("a topology serializes") + "\n",
        Format::Svg => match svg(&graph_render::dot(&topology, opts)) {
            Ok(svg) => svg,
            Err((message, hint)) => {
                report::plain(message, hint);
                return EXIT_FAILED;
            }
        },
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    0
}

pub fn export(args: ExportArgs) -> i32 {
    debug_assert!(args.ip, "clap requires --ip");
    if args.hosts.is_some() {
        report::plain(
            "nslab export --ip writes one machine's lab as ip commands: it cannot rebuild a lab across machines (--hosts)",
            Some(format!(
                "draw it with `nslab graph --hosts FILE {}` (--json for all of it), or export a lab on one machine",
                args.target
            )),
        );
        return EXIT_USAGE;
    }
    match read(&args.target, args.name.as_deref(), &args.args, None) {
        Ok(t) => {
            let _ = std::io::stdout().write_all(export::script(&t).as_bytes());
            0
        }
        Err(status) => status,
    }
}

/// Draws DOT as SVG with Graphviz; says how to get it when it is not installed.
fn svg(dot: &str) -> Result<String, (String, Option<String>)> {
    use std::process::{Command, Stdio};
    let child = Command::new("dot").arg("-Tsvg").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err((
                "--format svg needs Graphviz's `dot` program, which is not installed".into(),
                Some("install Graphviz (`apt install graphviz`, `dnf install graphviz`, `brew install graphviz`), or write --format dot, mermaid or json".into()),
            ))
        }
        Err(e) => return Err((format!("cannot run Graphviz's `dot`: {e}"), None)),
    };
    let mut stdin = child.stdin.take().expect("piped");
    let input = dot.to_string();
    // Written from a thread: `dot` may fill its output pipe before it has read all its input.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|e| (format!("cannot run Graphviz's `dot`: {e}"), None))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err((format!("Graphviz's `dot -Tsvg` failed: {}", String::from_utf8_lossy(&out.stderr).trim()), None));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The topology of a script (run in a sandbox) or of a standing lab.
fn read(target: &str, name: Option<&str>, args: &[String], hosts: Option<&Path>) -> Result<Topology, i32> {
    let path = Path::new(target);
    if path.is_file() || target == "-" {
        return from_script(path, name, args, hosts);
    }
    if hosts.is_some() {
        report::plain(
            format!("no script file {target:?}: --hosts runs a script across machines"),
            Some("give a lab script's path; a standing lab is drawn with `nslab graph LAB` (without --hosts)".into()),
        );
        return Err(EXIT_USAGE);
    }
    if !args.is_empty() || name.is_some() {
        report::plain(
            format!("no script file {target:?}"),
            Some("a standing lab takes no script arguments and no --name".into()),
        );
        return Err(EXIT_USAGE);
    }
    from_lab(target)
}

fn from_script(path: &Path, name: Option<&str>, args: &[String], hosts: Option<&Path>) -> Result<Topology, i32> {
    // Across machines the lab is real on each of them: no sandbox (as `nslab run --hosts`).
    let sandbox = match hosts {
        None => Some(session::enter_sandbox().map_err(|r| r.report())?),
        Some(_) => None,
    };
    let source = super::run::read_source(path)?;
    let name = match name {
        Some(n) => n.to_string(),
        None if path == Path::new("-") => "stdin".into(),
        None => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "lab".into()),
    };
    let plan = Plan {
        name: &name,
        dir: &crate::script::script_dir(&source.name),
        sandbox,
        limits: &[],
        args,
        interrupt: Interrupt::EndsSession,
        hosts,
    };
    // The script's own output goes to stderr: stdout is the picture's.
    let to_stderr: crate::script::Printer = Rc::new(|s: &str| note!("{s}"));
    let mut session = session::Session::open_printing(plan, to_stderr).map_err(|r| r.report())?;
    let outcome = session.run(|s| s.run(&source));
    let read = match outcome {
        Ok(Ok(())) => session.run(graph_machines::read).ok(),
        Ok(Err(errors)) => {
            for e in errors {
                report::print(e);
            }
            None
        }
        Err(_) => None,
    };
    let sig = session.signal();
    let ending = session.finish(Keep::No);
    let read = match read {
        Some(Ok(t)) => Some(t),
        Some(Err((message, hint))) => {
            report::plain(message, hint);
            None
        }
        None => None,
    };
    match read {
        Some(t) if sig.is_none() && ending.complete() => Ok(t),
        _ => Err(session::exit_status(sig, EXIT_FAILED, ending.complete())),
    }
}

fn from_lab(which: &str) -> Result<Topology, i32> {
    // A lab kept in its sandbox (`run --sandbox --keep`) is read from inside it: its holder's
    // user and mount namespaces (where its ledger is) and its network namespace.
    let kept: Vec<Kept> = sandbox_hold::kept().into_iter().filter(|k| k.id == which || k.name == which).collect();
    if let [k] = kept.as_slice() {
        let entered = sandbox_hold::enter(k).and_then(|net| {
            nix::sched::setns(&net, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| crate::engine::EngineError::errno(format!("enter the kept sandbox of lab {}", k.name), e))
        });
        if let Err(e) = entered {
            report::plain(e.to_string(), None);
            return Err(EXIT_FAILED);
        }
    }
    let scan = ledger::scan(Path::new(ledger::LEDGER_DIR));
    let matching: Vec<&Record> = scan.records.iter().filter(|r| r.header.id == which || r.header.name == which).collect();
    let rec = match matching.as_slice() {
        [rec] => *rec,
        [] => {
            report::plain(
                format!("no script file or standing lab named {which:?}"),
                Some("give a lab script's path, or the name or id of a lab `nslab ls` lists".into()),
            );
            return Err(EXIT_USAGE);
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|r| r.header.id.as_str()).collect();
            report::plain(
                format!("{} labs are named {which:?}", many.len()),
                Some(format!("name one by id: {}", ids.join(", "))),
            );
            return Err(EXIT_USAGE);
        }
    };
    if !rec.trusted() {
        report::plain(
            format!("lab {} (id {}) has a damaged ledger: it is not read", rec.header.name, rec.header.id),
            Some(format!("`nslab ls` says what is wrong with {}", rec.path.display())),
        );
        return Err(EXIT_FAILED);
    }
    // A lab that makes nothing reads the kept one's namespaces (no ledger is started).
    let read = graph_machines::read_standing(rec);
    // A lab across machines: the other machines' parts too.
    let read = match read {
        Ok(local) if !super::labs_machines::machines_of(rec).is_empty() => graph_machines::with_other_machines(rec, local),
        other => other,
    };
    read.map_err(|(message, hint)| {
        report::plain(message, hint);
        EXIT_FAILED
    })
}
