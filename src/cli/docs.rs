//! `nslab doc`, `nslab completions` and `nslab man`: what nslab says about itself, derived from
//! the command line's definition (clap) and the function catalog (`script::catalog`).

use std::io::Write;

use crate::script::catalog::{self, Native};

/// The functions `nslab doc FUNCTION` accepts (and shells complete): the catalog's names.
pub fn function_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(catalog::all().map(|d| clap::builder::PossibleValue::new(d.name)))
}

/// One function as `doc --json` lists it.
#[derive(serde::Serialize)]
struct FunctionDoc {
    name: &'static str,
    forms: &'static [&'static str],
    summary: &'static str,
    example: &'static str,
    ip: &'static str,
}

/// A result type as `doc --json` lists it.
#[derive(serde::Serialize)]
struct TypeJson {
    name: &'static str,
    summary: &'static str,
    /// A map (`r["dst"]` works too) rather than a handle.
    map: bool,
    fields: Vec<FieldJson>,
}

#[derive(serde::Serialize)]
struct FieldJson {
    name: &'static str,
    #[serde(rename = "type")]
    ty: &'static str,
    meaning: &'static str,
}

/// The whole reference as `doc --json` prints it.
#[derive(serde::Serialize)]
struct Reference {
    functions: Vec<FunctionDoc>,
    types: Vec<TypeJson>,
}

impl FunctionDoc {
    fn of(d: &'static Native) -> FunctionDoc {
        FunctionDoc { name: d.name, forms: d.forms, summary: d.summary, example: d.example, ip: d.ip }
    }
}

fn write_out(text: &str) -> i32 {
    // A reader that went away (`| head`) is not an error worth a report.
    let _ = std::io::stdout().write_all(text.as_bytes());
    0
}

pub fn doc(function: Option<&str>, json: bool) -> i32 {
    let chosen: Vec<&'static Native> = catalog::all().filter(|d| function.is_none_or(|f| f == d.name)).collect();
    if json {
        let functions: Vec<FunctionDoc> = chosen.into_iter().map(FunctionDoc::of).collect();
        let text = match function {
            Some(_) => serde_json::to_string_pretty(&functions[0]),
            None => {
                let types = crate::script::types::TYPES
                    .iter()
                    .map(|t| TypeJson {
                        name: t.name,
                        summary: t.summary,
                        map: t.map,
                        fields: t.fields.iter().map(|&(name, ty, meaning)| FieldJson { name, ty, meaning }).collect(),
                    })
                    .collect();
                serde_json::to_string_pretty(&Reference { functions, types })
            }
        };
        return write_out(&format!("{}\n", text.expect("documentation serializes")));
    }
    match function {
        Some(_) => write_out(&crate::script::reference::entry(chosen[0])),
        None => write_out(&crate::script::reference::markdown()),
    }
}

pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut super::command(), "nslab", &mut out);
    let _ = std::io::stdout().write_all(&out);
    0
}

/// Text for roff: backslashes, hyphens, and a line's leading dot or quote made literal.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) {
        format!("\\&{t}")
    } else {
        t
    }
}

/// The manual page: clap_mangen's sections, then the commands, the script functions (from the
/// catalog) and the exit status.
pub fn man_page() -> String {
    let cmd = super::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out: Vec<u8> = Vec::new();
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    let _ = man.render_subcommands_section(&mut out);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    text.push_str(".SH \"COMMAND DETAILS\"\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut sub = sub.clone();
        let usage = sub.render_usage().to_string();
        text.push_str(&format!(".SS {}\n", roff(sub.get_name())));
        text.push_str(&format!(".nf\n{}\n.fi\n", roff(usage.trim_start_matches("Usage: "))));
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            text.push_str(&format!("{}\n.PP\n", roff(&about.to_string())));
        }
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version")) {
            let name = match (arg.get_long(), arg.get_value_names()) {
                (Some(l), _) => format!("\\-\\-{}", roff(l)),
                (None, Some(v)) => format!("<{}>", v.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ")),
                (None, None) => arg.get_id().to_string(),
            };
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            text.push_str(&format!(".TP\n{name}\n{}\n", roff(&help)));
        }
        if let Some(after) = sub.get_after_help() {
            text.push_str(&format!(".PP\n.nf\n{}\n.fi\n", roff(&after.to_string())));
        }
    }
    text.push_str(".SH FUNCTIONS\nThe functions scripts call (\\fBnslab doc\\fR prints them in full):\n");
    for d in catalog::all() {
        text.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n.br\n", roff(d.name), roff(d.summary)));
        for f in d.forms {
            text.push_str(&format!("\\fI{}\\fR\n.br\n", roff(f)));
        }
        text.push_str(&format!("Like: {}\n", roff(d.ip)));
    }
    text.push_str(
        ".SH \"EXIT STATUS\"\n0 on success, 1 on failure, 2 for bad usage, 128+N when stopped by signal N; each \
         command's section above lists its own.\n",
    );
    text.push_str(".SH ENVIRONMENT\n.TP\nNO_COLOR\nWhen set (and not empty), no colour with \\-\\-color auto.\n");
    text
}

pub fn man() -> i32 {
    write_out(&man_page())
}

#[cfg(test)]
mod tests {
    #[test]
    fn roff_escapes() {
        assert_eq!(super::roff("a-b \\x"), "a\\-b \\ex");
        assert_eq!(super::roff(".hidden"), "\\&.hidden");
    }

    /// The manual lists every function of the catalog.
    #[test]
    fn man_lists_every_function() {
        let page = super::man_page();
        for d in crate::script::catalog::all() {
            assert!(page.contains(&format!("\\fB{}\\fR", super::roff(d.name))), "{} missing", d.name);
        }
    }
}
