//! What `pingall` returns to scripts: a reachability matrix that prints as a table.

use rhai::{Array, Dynamic, Map};

use crate::lab::pingall::{PingMatrix, PingPair};

/// The result of `pingall()`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PingAll(pub PingMatrix);

fn format_percent(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

fn pair_loss(p: &PingPair) -> f64 {
    if p.report.sent == 0 {
        100.0
    } else {
        100.0 * f64::from(p.report.sent - p.report.received.min(p.report.sent)) / f64::from(p.report.sent)
    }
}

fn pair_rtt(p: &PingPair) -> Option<f64> {
    let rtts = &p.report.rtts_ms;
    (!rtts.is_empty()).then(|| rtts.iter().sum::<f64>() / rtts.len() as f64)
}

impl PingAll {
    pub fn ok(&self) -> bool {
        self.0.ok()
    }

    pub fn sent(&self) -> i64 {
        i64::from(self.0.sent())
    }

    pub fn received(&self) -> i64 {
        i64::from(self.0.received())
    }

    pub fn dropped(&self) -> f64 {
        self.0.dropped_percent()
    }

    /// Mininet's last line: "*** Results: 0% dropped (6/6 received)".
    /// After it, who got no reply (the first ten).
    pub fn summary(&self) -> String {
        let mut line = format!(
            "*** Results: {}% dropped ({}/{} received)",
            format_percent(self.dropped()),
            self.0.received(),
            self.0.sent()
        );
        let failed = self.0.failed();
        if !failed.is_empty() {
            let more = if failed.len() > 10 { format!(" and {} more", failed.len() - 10) } else { String::new() };
            line += &format!("; no reply: {}{more}", failed.iter().take(10).cloned().collect::<Vec<_>>().join(", "));
        }
        line
    }

    pub fn namespaces(&self) -> Array {
        self.0.namespaces.iter().map(|(n, _)| Dynamic::from(n.clone())).collect()
    }

    /// One map per (from, to, address): from, to, dst, ok, sent, received, loss (percent),
    /// rtt (average in ms, or () without replies), error ("" when none).
    pub fn pairs(&self) -> Array {
        self.0
            .pairs
            .iter()
            .map(|p| {
                let mut m = Map::new();
                m.insert("from".into(), p.from.clone().into());
                m.insert("to".into(), p.to.clone().into());
                m.insert("dst".into(), p.dst.to_string().into());
                m.insert("ok".into(), p.ok().into());
                m.insert("sent".into(), i64::from(p.report.sent).into());
                m.insert("received".into(), i64::from(p.report.received).into());
                m.insert("loss".into(), pair_loss(p).into());
                m.insert("rtt".into(), pair_rtt(p).map(Dynamic::from).unwrap_or(Dynamic::UNIT));
                m.insert("error".into(), p.report.error.clone().unwrap_or_default().into());
                Dynamic::from(m)
            })
            .collect()
    }

    /// What a row shows for pings from one namespace to another.
    fn cell(&self, from: &str, to: &str, addresses: usize) -> String {
        if from == to {
            return "-".into();
        }
        if addresses == 0 {
            return "no address".into();
        }
        let pairs: Vec<&PingPair> = self.0.between(from, to).collect();
        let reached = pairs.iter().filter(|p| p.ok()).count();
        if reached == 0 {
            return "X".into();
        }
        if reached < pairs.len() {
            return format!("{reached}/{} addrs", pairs.len());
        }
        let rtts: Vec<f64> = pairs.iter().filter_map(|p| pair_rtt(p)).collect();
        format!("{:.3} ms", rtts.iter().sum::<f64>() / rtts.len() as f64)
    }
}

impl std::fmt::Display for PingAll {
    /// A table with a row per source namespace and a column per destination: the average round
    /// trip when every address answered, "X" when none did, "k/n addrs" in between; then the
    /// summary line. The final newline is left to `print`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.namespaces.iter().map(|(n, _)| n.as_str()).collect();
        if names.is_empty() {
            return write!(f, "*** No namespaces to ping\n{}", self.summary());
        }
        let corner = "from \\ to";
        let rows: Vec<Vec<String>> = self
            .0
            .namespaces
            .iter()
            .map(|(from, _)| self.0.namespaces.iter().map(|(to, addrs)| self.cell(from, to, addrs.len())).collect())
            .collect();
        let first = names.iter().map(|n| n.len()).chain([corner.len()]).max().unwrap_or(0);
        let widths: Vec<usize> =
            (0..names.len()).map(|c| rows.iter().map(|r| r[c].len()).chain([names[c].len()]).max().unwrap_or(0)).collect();
        let line = |label: &str, cells: &[String]| -> String {
            let mut s = format!("{label:<first$}");
            for (cell, w) in cells.iter().zip(&widths) {
                s.push_str(&format!("  {cell:<w$}"));
            }
            s.trim_end().to_string()
        };
        writeln!(f, "{}", line(corner, &names.iter().map(|n| n.to_string()).collect::<Vec<_>>()))?;
        for (name, row) in names.iter().zip(&rows) {
            writeln!(f, "{}", line(name, row))?;
        }
        write!(f, "{}", self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::PingReport;

    fn pair(from: &str, to: &str, dst: &str, received: u32, rtt: f64) -> PingPair {
        PingPair {
            from: from.into(),
            to: to.into(),
            dst: dst.parse().unwrap(),
            report: PingReport { sent: 1, received, rtts_ms: vec![rtt; received as usize], ..Default::default() },
        }
    }

    #[test]
    fn prints_a_table_and_mininets_summary() {
        let a: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let b1: std::net::IpAddr = "10.0.0.2".parse().unwrap();
        let b2: std::net::IpAddr = "fd00::2".parse().unwrap();
        let m = PingMatrix {
            namespaces: vec![("a".into(), vec![a]), ("bee".into(), vec![b1, b2]), ("c".into(), vec![])],
            pairs: vec![
                pair("a", "bee", "10.0.0.2", 1, 0.05),
                pair("a", "bee", "fd00::2", 0, 0.0),
                pair("bee", "a", "10.0.0.1", 1, 0.0641),
                pair("c", "a", "10.0.0.1", 0, 0.0),
                pair("c", "bee", "10.0.0.2", 0, 0.0),
                pair("c", "bee", "fd00::2", 0, 0.0),
            ],
            count: 1,
        };
        let table = PingAll(m).to_string();
        assert_eq!(
            table,
            "from \\ to  a         bee        c\n\
             a          -         1/2 addrs  no address\n\
             bee        0.064 ms  -          no address\n\
             c          X         X          -\n\
             *** Results: 66.7% dropped (2/6 received); no reply: a -> bee (fd00::2), c -> a (10.0.0.1), \
             c -> bee (10.0.0.2), c -> bee (fd00::2)"
        );
    }

    #[test]
    fn pairs_as_maps() {
        let m = PingMatrix {
            namespaces: vec![("a".into(), vec![]), ("b".into(), vec!["10.0.0.2".parse().unwrap()])],
            pairs: vec![pair("a", "b", "10.0.0.2", 1, 0.5)],
            count: 1,
        };
        let all = PingAll(m);
        assert!(all.ok());
        assert_eq!(all.summary(), "*** Results: 0% dropped (1/1 received)");
        let pairs = all.pairs();
        let p = pairs[0].clone().cast::<Map>();
        assert_eq!(p["dst"].clone().into_string().unwrap(), "10.0.0.2");
        assert_eq!(p["rtt"].as_float().unwrap(), 0.5);
        assert_eq!(p["loss"].as_float().unwrap(), 0.0);
        assert!(p["ok"].as_bool().unwrap());
    }
}
