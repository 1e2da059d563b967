//! Reachability matrices: from an expectation (for each source namespace, the namespaces it must
//! reach), the plan of which namespace pings which addresses, and the per-pair verdicts once the
//! probes ran, with a diagnosis for each pair that must connect and does not.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::diagnosis::Diagnosis;
use super::reach::{Probe, ProbeOptions, ProbeOutcome, NO_REACH_WINDOW};
use super::{Lab, Ns, Result};

/// Which namespace pings which addresses, and what each pair is expected to do.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixPlan {
    /// For each source namespace (sorted), the namespaces it must reach.
    pub want: BTreeMap<String, Vec<String>>,
    /// Every namespace named, as a source or a destination: the columns, sorted.
    pub names: Vec<String>,
    /// The global addresses each namespace of `names` is pinged at.
    pub addrs: BTreeMap<String, Vec<IpAddr>>,
    /// The pairs to probe: those that must connect first (they end at the first reply), then
    /// those that must not; each in the order of `want` and `names`. No namespace pings itself.
    pub pairs: Vec<PlannedPair>,
}

/// One source → destination pair of a matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPair {
    /// The namespace that pings.
    pub from: String,
    /// The namespace whose addresses it pings.
    pub to: String,
    /// Whether it must reach them.
    pub expected: bool,
}

impl MatrixPlan {
    /// The plan for `want`, given each named namespace's addresses.
    pub fn new(want: BTreeMap<String, Vec<String>>, addrs: BTreeMap<String, Vec<IpAddr>>) -> MatrixPlan {
        let mut pairs = Vec::new();
        let names = Self::names(&want);
        for expected in [true, false] {
            for (from, dsts) in &want {
                let tos = names.iter().filter(|to| *to != from && dsts.contains(to) == expected);
                pairs.extend(tos.map(|to| PlannedPair { from: from.clone(), to: to.clone(), expected }));
            }
        }
        MatrixPlan { want, names, addrs, pairs }
    }

    /// Every namespace named in `want`, as a key or in a list, sorted, once.
    pub fn names(want: &BTreeMap<String, Vec<String>>) -> Vec<String> {
        let mut names: Vec<String> = want.keys().chain(want.values().flatten()).cloned().collect();
        names.sort();
        names.dedup();
        names
    }

    /// The addresses `to` is pinged at (none when it has no global address).
    pub fn addrs_of(&self, to: &str) -> &[IpAddr] {
        self.addrs.get(to).map(Vec::as_slice).unwrap_or_default()
    }
}

/// What a probed pair did, against what it had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairVerdict {
    /// Must reach, and does.
    Reaches,
    /// Must not reach, and does not.
    Isolated,
    /// Must reach, but does not.
    Unreachable,
    /// Must not reach, but does.
    Leaks,
}

impl PairVerdict {
    /// The verdict for a pair that must (`expected`) or must not reach, and did (`reached`) or not.
    pub fn of(expected: bool, reached: bool) -> PairVerdict {
        match (expected, reached) {
            (true, true) => PairVerdict::Reaches,
            (false, false) => PairVerdict::Isolated,
            (true, false) => PairVerdict::Unreachable,
            (false, true) => PairVerdict::Leaks,
        }
    }

    /// The pair did what it had to.
    pub fn as_expected(self) -> bool {
        matches!(self, PairVerdict::Reaches | PairVerdict::Isolated)
    }
}

/// One probed pair.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixCell {
    /// The pair and its expectation.
    pub pair: PlannedPair,
    /// What the probe found.
    pub outcome: ProbeOutcome,
    /// The outcome against the expectation.
    pub verdict: PairVerdict,
    /// For a pair that must reach and does not, why not, per address of the destination.
    pub diagnoses: Vec<(IpAddr, Diagnosis)>,
}

/// A matrix checked: the plan and a cell per planned pair, in the plan's order.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixResult {
    /// What was probed.
    pub plan: MatrixPlan,
    /// What each pair did.
    pub cells: Vec<MatrixCell>,
}

impl MatrixResult {
    /// The cell of the pair `from` → `to`, when it was probed.
    pub fn cell(&self, from: &str, to: &str) -> Option<&MatrixCell> {
        self.cells.iter().find(|c| c.pair.from == from && c.pair.to == to)
    }

    /// The cells that differ from the expectation.
    pub fn wrong(&self) -> impl Iterator<Item = &MatrixCell> {
        self.cells.iter().filter(|c| !c.verdict.as_expected())
    }
}

impl Lab {
    /// The plan for `want`: the addresses of every namespace it names, looked up now.
    pub fn plan_matrix(&mut self, want: BTreeMap<String, Vec<String>>) -> Result<MatrixPlan> {
        let mut addrs = BTreeMap::new();
        for n in MatrixPlan::names(&want) {
            let found = self.global_addrs(&Ns::Named(n.clone()))?;
            addrs.insert(n, found);
        }
        Ok(MatrixPlan::new(want, addrs))
    }

    /// Probes every pair of `plan`, all at once: the pairs that must connect for up to `window`,
    /// those that must not for at most `NO_REACH_WINDOW`; then diagnoses each pair that must
    /// reach a namespace with addresses and does not.
    pub fn check_matrix(&mut self, plan: MatrixPlan, window: Duration) -> Result<MatrixResult> {
        if plan.pairs.is_empty() {
            // Nothing would be probed: a check that cannot fail.
            return Err(super::LabError::Refused(
                "expect_matrix needs at least two namespaces: with fewer there is no pair to probe".into(),
            ));
        }
        let mut cells = Vec::with_capacity(plan.pairs.len());
        for expected in [true, false] {
            let pairs: Vec<&PlannedPair> = plan.pairs.iter().filter(|p| p.expected == expected).collect();
            let probes: Vec<Probe> =
                pairs.iter().map(|p| Probe { from: Ns::Named(p.from.clone()), targets: plan.addrs_of(&p.to).to_vec() }).collect();
            let window = if expected { window } else { window.min(NO_REACH_WINDOW) };
            if !expected {
                // A pair that must not connect passes only on probes that left.
                if let Some(p) = pairs.iter().find(|p| plan.addrs_of(&p.to).is_empty()) {
                    return Err(super::LabError::Refused(format!(
                        "cannot check that {:?} does not reach {:?}: {:?} has no address to probe",
                        p.from, p.to, p.to
                    )));
                }
            }
            let outcomes = self.probe(&probes, &ProbeOptions::expecting(expected, window))?;
            if !expected {
                for (pair, outcome) in pairs.iter().zip(&outcomes) {
                    if !outcome.reached() {
                        self.silence_means_unreachable(&Ns::Named(pair.from.clone()), outcome)?;
                    }
                }
            }
            cells.extend(pairs.into_iter().zip(outcomes).map(|(pair, outcome)| MatrixCell {
                pair: pair.clone(),
                verdict: PairVerdict::of(expected, outcome.reached()),
                outcome,
                diagnoses: vec![],
            }));
        }
        for cell in &mut cells {
            let addrs = plan.addrs_of(&cell.pair.to);
            if cell.verdict == PairVerdict::Unreachable && !addrs.is_empty() {
                cell.diagnoses = self.diagnose_all(&Ns::Named(cell.pair.from.clone()), addrs);
            }
        }
        Ok(MatrixResult { plan, cells })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(rows: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        rows.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
    }

    fn pair(from: &str, to: &str, expected: bool) -> PlannedPair {
        PlannedPair { from: from.into(), to: to.into(), expected }
    }

    #[test]
    fn plan_of_three_namespaces() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let addrs: BTreeMap<String, Vec<IpAddr>> = [
            ("h1".to_string(), vec![ip("10.1.0.2")]),
            ("h2".to_string(), vec![ip("10.2.0.2"), ip("fd00::2")]),
            ("r1".to_string(), vec![ip("10.1.0.1"), ip("10.2.0.1")]),
        ]
        .into();
        // h1 must reach r1 only; r1 must reach both; h2 is only a destination.
        let plan = MatrixPlan::new(want(&[("r1", &["h1", "h2"]), ("h1", &["r1"])]), addrs);
        assert_eq!(plan.names, ["h1", "h2", "r1"]);
        assert_eq!(
            plan.pairs,
            [pair("h1", "r1", true), pair("r1", "h1", true), pair("r1", "h2", true), pair("h1", "h2", false)],
            "those that must connect first, each group by source then destination; nobody pings itself"
        );
        assert_eq!(plan.addrs_of("h2"), [ip("10.2.0.2"), ip("fd00::2")]);
        assert_eq!(plan.addrs_of("nowhere"), [] as [IpAddr; 0]);
    }

    #[test]
    fn names_come_from_keys_and_lists_once() {
        let w = want(&[("b", &["a", "c"]), ("a", &["b"])]);
        assert_eq!(MatrixPlan::names(&w), ["a", "b", "c"]);
        let plan = MatrixPlan::new(want(&[("a", &[])]), BTreeMap::new());
        assert!(plan.pairs.is_empty(), "a namespace alone has nobody to ping");
    }

    #[test]
    fn verdicts() {
        assert_eq!(PairVerdict::of(true, false), PairVerdict::Unreachable);
        assert_eq!(PairVerdict::of(false, true), PairVerdict::Leaks);
        assert!(PairVerdict::of(true, true).as_expected() && PairVerdict::of(false, false).as_expected());
        assert!(!PairVerdict::Leaks.as_expected() && !PairVerdict::Unreachable.as_expected());
    }
}
