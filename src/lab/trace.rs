//! `run --trace`: each operation the lab carries out, as the `ip` (or `tc`, `sysctl`) command
//! line that does the same, handed to a sink the command line sets (the lab never prints).
//! Said as the operation starts, like `set -x`, so a failing one is the last line shown.

use super::{Lab, Ns};
use crate::engine::netlink::LinkOptions;

/// Where trace lines go.
pub type TraceSink = Box<dyn Fn(&str)>;

/// A word for a shell command line: quoted when it needs to be.
pub fn word(s: &str) -> String {
    shlex::try_quote(s).map(|q| q.into_owned()).unwrap_or_else(|_| format!("{s:?}"))
}

/// `ip` for `ns`: `ip -n NAME` for a named namespace.
pub fn ip(ns: &Ns) -> String {
    match ns {
        Ns::Root => "ip".into(),
        Ns::Named(n) => format!("ip -n {}", word(n)),
    }
}

/// A command run inside `ns`: `ip netns exec NAME` before it for a named namespace.
pub fn inside(ns: &Ns) -> String {
    match ns {
        Ns::Root => String::new(),
        Ns::Named(n) => format!("ip netns exec {} ", word(n)),
    }
}

/// The options a created link is given, as `ip link add` words.
pub fn link_words(opts: &LinkOptions) -> String {
    let mut out = String::new();
    if let Some(m) = opts.mtu {
        out += &format!(" mtu {m}");
    }
    if opts.up {
        out += " up";
    }
    out
}

impl Lab {
    /// Sends trace lines to `sink` (None: stops).
    pub fn set_trace(&mut self, sink: Option<TraceSink>) {
        self.trace = sink;
    }

    /// Says `line()` when tracing; the line is only made then.
    pub(super) fn trace(&self, line: impl FnOnce() -> String) {
        if let Some(sink) = &self.trace {
            sink(&line());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(word("h1"), "h1");
        assert_eq!(word("a b"), "'a b'");
        assert_eq!(ip(&Ns::Named("h 1".into())), "ip -n 'h 1'");
        assert_eq!(inside(&Ns::Root), "");
    }
}
