//! Script-side values: the handle and result types scripts see, and conversions of arguments.

use rhai::{Array, Dynamic, Map};

use crate::lab::PingReport;
use crate::lab::{AddrView, ExecOutput, LinkView, Ns};

/// A namespace handle: `netns_add` / `netns` / `root` return it; every function that takes a
/// namespace accepts it as the first argument, or as a method receiver.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Netns {
    /// None: the namespace nslab runs in (on machine `on`).
    pub name: Option<String>,
    /// The machine it lives on, for a lab across machines (`host("m2").netns_add(..)`); None:
    /// the machine the script runs on, or, for a named one, wherever the lab placed that name.
    pub on: Option<String>,
}

impl Netns {
    pub fn ns(&self) -> Ns {
        match &self.name {
            Some(n) => Ns::Named(n.clone()),
            None => Ns::Root,
        }
    }
}

impl std::fmt::Display for Netns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.name, &self.on) {
            (Some(n), _) => write!(f, "netns({n:?})"),
            (None, None) => write!(f, "root()"),
            (None, Some(m)) => write!(f, "host({m:?}).root()"),
        }
    }
}

/// What `exec_in` returns.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Exec {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

impl Exec {
    pub fn from_output(out: ExecOutput) -> Exec {
        Exec { code: out.code as i64, stdout: out.stdout, stderr: out.stderr }
    }

    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

impl std::fmt::Display for Exec {
    /// The output as a terminal would show it, then the exit status if it is not 0.
    /// The final newline is left to `print`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> =
            [&self.stdout, &self.stderr].iter().filter(|s| !s.is_empty()).map(|s| s.trim_end_matches('\n').to_string()).collect();
        if self.code != 0 {
            parts.push(format!("(exit status {})", self.code));
        }
        write!(f, "{}", parts.join("\n"))
    }
}

/// What `ping` returns.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ping {
    pub dst: String,
    pub report: PingReport,
}

impl Ping {
    pub fn ok(&self) -> bool {
        self.report.received > 0
    }

    pub fn loss(&self) -> f64 {
        if self.report.sent == 0 {
            return 100.0;
        }
        100.0 * f64::from(self.report.sent - self.report.received.min(self.report.sent)) / f64::from(self.report.sent)
    }

    fn rtts(&self) -> &[f64] {
        &self.report.rtts_ms
    }

    pub fn rtt_min(&self) -> f64 {
        self.rtts().iter().copied().reduce(f64::min).unwrap_or(0.0)
    }

    pub fn rtt_max(&self) -> f64 {
        self.rtts().iter().copied().reduce(f64::max).unwrap_or(0.0)
    }

    pub fn rtt_avg(&self) -> f64 {
        if self.rtts().is_empty() {
            0.0
        } else {
            self.rtts().iter().sum::<f64>() / self.rtts().len() as f64
        }
    }

    pub fn error(&self) -> String {
        self.report.error.clone().unwrap_or_default()
    }
}

impl std::fmt::Display for Ping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(e) = &self.report.error {
            writeln!(f, "ping {}: {e}", self.dst)?;
        }
        writeln!(f, "--- {} ping statistics ---", self.dst)?;
        write!(
            f,
            "{} packets transmitted, {} received, {}% packet loss",
            self.report.sent,
            self.report.received,
            format_loss(self.loss())
        )?;
        if self.ok() {
            write!(f, "\nrtt min/avg/max = {:.3}/{:.3}/{:.3} ms", self.rtt_min(), self.rtt_avg(), self.rtt_max())?;
        }
        Ok(())
    }
}

fn format_loss(loss: f64) -> String {
    if loss.fract() == 0.0 {
        format!("{loss:.0}")
    } else {
        format!("{loss:.1}")
    }
}

pub fn link_map(l: LinkView) -> Dynamic {
    let mut m = Map::new();
    m.insert("name".into(), l.name.into());
    m.insert("index".into(), (l.index as i64).into());
    m.insert("kind".into(), l.kind.into());
    m.insert("state".into(), l.state.into());
    m.insert("carrier".into(), l.carrier.into());
    m.insert("mtu".into(), (l.mtu as i64).into());
    m.insert("mac".into(), l.mac.into());
    m.insert("peer".into(), l.peer.into());
    m.insert("peer_netns".into(), l.peer_netns.into());
    m.insert("master".into(), l.master.into());
    m.insert("addresses".into(), l.addresses.into_iter().map(Dynamic::from).collect::<Array>().into());
    m.insert("operstate".into(), l.operstate.into());
    m.insert("alias".into(), l.alias.into());
    m.insert("altnames".into(), l.altnames.into_iter().map(Dynamic::from).collect::<Array>().into());
    m.insert("group".into(), (l.group as i64).into());
    m.insert("promisc".into(), l.promisc.into());
    m.insert("txqueuelen".into(), (l.txqueuelen as i64).into());
    m.into()
}

pub fn addr_map(a: AddrView) -> Dynamic {
    let mut m = Map::new();
    m.insert("link".into(), a.link.into());
    m.insert("index".into(), (a.index as i64).into());
    m.insert("family".into(), a.family.into());
    m.insert("address".into(), a.address.into());
    m.insert("prefix".into(), (a.prefix as i64).into());
    m.insert("cidr".into(), a.cidr.into());
    m.insert("scope".into(), a.scope.into());
    m.insert("flags".into(), a.flags.into_iter().map(Dynamic::from).collect::<rhai::Array>().into());
    // "forever" as the string addr() takes for it, so a lifetime read can be given back.
    let lifetime = |l: Option<u32>| l.map(|s| Dynamic::from(i64::from(s))).unwrap_or_else(|| "forever".into());
    m.insert("valid_lft".into(), lifetime(a.valid_lft));
    m.insert("preferred_lft".into(), lifetime(a.preferred_lft));
    m.insert("peer".into(), a.peer.into());
    m.insert("broadcast".into(), a.broadcast.into());
    m.into()
}

/// Rhai's name for a value's type, as users see it in error messages.
pub fn type_name(v: &Dynamic) -> String {
    match v.type_name() {
        "i64" => "integer".into(),
        "f64" => "float".into(),
        "string" | "ImmutableString" => "string".into(),
        "()" => "unit ()".into(),
        "map" => "map".into(),
        "array" => "array".into(),
        other => other.rsplit("::").next().unwrap_or(other).into(),
    }
}
