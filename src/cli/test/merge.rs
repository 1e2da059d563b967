//! `nslab test --merge-junit OUT IN...`: joins the JUnit reports of a suite's shards
//! (`--partition K/N --junit IN`) into one, as if the suite had run on one machine: the
//! `<testsuite>` elements of every input, ordered by name, under one `<testsuites>` whose counts
//! and time are the sums. The inputs must be reports nslab wrote (one `<testsuites>` root).

use std::path::{Path, PathBuf};

/// One input: its root's counts and the text of its `<testsuite>` elements, by name.
struct Report {
    counts: [u64; 4], // tests, failures, errors, skipped
    time: f64,
    suites: Vec<(String, String)>,
}

/// The value of `name="..."` in a start tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[at..].find('"')?;
    Some(&tag[at..at + end])
}

fn parse(path: &Path, text: &str) -> Result<Report, String> {
    let not = |why: &str| format!("{} is not a JUnit report nslab wrote: {why}", path.display());
    let open = text.find("<testsuites").ok_or_else(|| not("no <testsuites> element"))?;
    let open_end = open + text[open..].find('>').ok_or_else(|| not("the <testsuites> tag does not end"))?;
    let root = &text[open..open_end];
    let close = text.rfind("</testsuites>").ok_or_else(|| not("no </testsuites>"))?;
    let number = |name: &str| -> Result<u64, String> {
        attribute(root, name).and_then(|v| v.parse().ok()).ok_or_else(|| not(&format!("<testsuites> has no number {name}")))
    };
    let counts = [number("tests")?, number("failures")?, number("errors")?, number("skipped")?];
    let time = attribute(root, "time").and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let body = &text[open_end + 1..close];
    let mut suites = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("<testsuite ") {
        let end =
            rest[start..].find("</testsuite>").ok_or_else(|| not("a <testsuite> does not end"))? + start + "</testsuite>".len();
        let suite = &rest[start..end];
        let name = attribute(suite, "name").unwrap_or_default().to_string();
        suites.push((name, format!("  {}\n", suite.trim())));
        rest = &rest[end..];
    }
    Ok(Report { counts, time, suites })
}

/// Merges `inputs` into `out`; the exit status (2 when an input cannot be read or used).
pub fn run(out: &Path, inputs: &[PathBuf]) -> i32 {
    if inputs.is_empty() {
        crate::cli::report::plain("--merge-junit needs the reports to merge: nslab test --merge-junit OUT IN...", None);
        return 2;
    }
    let mut counts = [0u64; 4];
    let mut time = 0.0;
    let mut suites = Vec::new();
    for path in inputs {
        let report = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|t| parse(path, &t));
        match report {
            Ok(r) => {
                for (c, n) in counts.iter_mut().zip(r.counts) {
                    *c += n;
                }
                time += r.time;
                suites.extend(r.suites);
            }
            Err(why) => {
                crate::cli::report::plain(why, None);
                return 2;
            }
        }
    }
    suites.sort_by(|a, b| a.0.cmp(&b.0));
    let body: String = suites.into_iter().map(|(_, s)| s).collect();
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"nslab test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\">\n{body}</testsuites>\n",
        counts[0], counts[1], counts[2], counts[3]
    );
    if let Err(e) = std::fs::write(out, text) {
        crate::cli::report::plain(format!("cannot write {}: {e}", out.display()), None);
        return 2;
    }
    note!(
        "merged {} into {}: {} tests, {} failures, {} errors, {} skipped",
        crate::cli::report::plural(inputs.len(), "report"),
        out.display(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    0
}

#[cfg(test)]
mod tests {
    #[test]
    fn attributes_are_read() {
        let tag = r#"<testsuites name="nslab test" tests="3" failures="1""#;
        assert_eq!(super::attribute(tag, "tests"), Some("3"));
        assert_eq!(super::attribute(tag, "failures"), Some("1"));
        assert_eq!(super::attribute(tag, "errors"), None);
    }
}
