//! `--json`: the whole run as one JSON document (see `outcome::RunReport`).

use super::outcome::{RunReport, ScenarioResult, Summary};

/// Version of the document's shape; raised when a field changes meaning or goes away.
pub const VERSION: u32 = 1;

pub fn render(results: &[ScenarioResult], summary: &Summary) -> String {
    let report = RunReport { version: VERSION, summary: summary.clone(), scenarios: results.to_vec() };
    serde_json::to_string_pretty(&report).expect("a report serializes")
}
