//! The REPL's own commands, which start with `:`.

pub struct CommandDoc {
    pub name: &'static str,
    pub args: &'static str,
    pub summary: &'static str,
}

pub const COMMANDS: &[CommandDoc] = &[
    CommandDoc { name: "help", args: "[NAME]", summary: "this overview, or a function's forms, example and `ip` equivalent" },
    CommandDoc { name: "net", args: "", summary: "namespaces with their links, peers, states and addresses" },
    CommandDoc {
        name: "graph",
        args: "[dot|mermaid]",
        summary: "the lab's topology as Graphviz DOT (the default) or Mermaid, as `nslab graph` draws it",
    },
    CommandDoc { name: "save", args: "FILE", summary: "write the statements that took effect as a script `nslab run` replays" },
    CommandDoc { name: "keep", args: "", summary: "leave the lab standing when the REPL ends (`nslab down` removes it)" },
    CommandDoc { name: "quit", args: "", summary: "leave, like Ctrl-D: the lab is torn down unless :keep" },
];

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help(Option<String>),
    Net,
    /// `:graph`: true for Mermaid, false for DOT.
    Graph {
        mermaid: bool,
    },
    Save(String),
    Keep,
    Quit,
}

/// Parses a line that starts with `:`.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim().trim_start_matches(':');
    let (name, rest) = line.split_once(char::is_whitespace).map(|(n, r)| (n, r.trim())).unwrap_or((line, ""));
    let no_args = |c: Command| if rest.is_empty() { Ok(c) } else { Err(format!(":{name} takes no argument")) };
    match name {
        "help" | "h" | "?" => Ok(Command::Help((!rest.is_empty()).then(|| rest.to_string()))),
        "net" | "dump" => no_args(Command::Net),
        "graph" => match rest {
            "" | "dot" => Ok(Command::Graph { mermaid: false }),
            "mermaid" => Ok(Command::Graph { mermaid: true }),
            other => Err(format!(":graph draws as dot or mermaid, not {other:?}")),
        },
        "save" if rest.is_empty() => Err(":save needs a file name, like `:save lab.rhai`".into()),
        "save" => Ok(Command::Save(rest.to_string())),
        "keep" => no_args(Command::Keep),
        "quit" | "q" | "exit" => no_args(Command::Quit),
        _ => Err(format!("unknown command :{name}; :help lists the commands")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse(":help"), Ok(Command::Help(None)));
        assert_eq!(parse(":help  ping "), Ok(Command::Help(Some("ping".into()))));
        assert_eq!(parse(":save /tmp/a b.rhai"), Ok(Command::Save("/tmp/a b.rhai".into())));
        assert_eq!(parse(":q"), Ok(Command::Quit));
        assert_eq!(parse(":graph"), Ok(Command::Graph { mermaid: false }));
        assert_eq!(parse(":graph mermaid"), Ok(Command::Graph { mermaid: true }));
        assert!(parse(":graph png").unwrap_err().contains("dot or mermaid"));
        assert!(parse(":save").is_err());
        assert!(parse(":keep now").is_err());
        assert!(parse(":frobnicate").unwrap_err().contains(":help"));
    }
}
