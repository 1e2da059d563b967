//! Operations the lab holds back until something needs them: a veth pair asked for in one
//! namespace (see `veth.rs`), and `up` of a bridge the lab made.
//!
//! Each port joining a running bridge makes the kernel revisit every port's state and multicast
//! setup (`br_port_state_selection`), so a star of N ports built the usual way (bridge up, then
//! the ports) costs O(N²): ~220 ms of a 500-port build. Ports joining a bridge that is down skip
//! that, and bringing the bridge up once they are in costs ~50 ms. So `up` of a bridge the lab
//! made waits while the script only adds veths, ports and addresses and brings other links up
//! (which end the same whichever way round), and is carried out before anything else: a query,
//! a ping, a program, a sleep, the end of the script or of a REPL entry. A failure is reported
//! at the `up` call.

use super::{Lab, LabError, Ns, Result};

/// Which held-back operation a deferred failure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The creation of a veth pair (sent in a batch).
    Veth,
    /// Bringing a bridge up (sent once its ports are in).
    BridgeUp,
}

impl Lab {
    /// Carries out what was held back. Every request to the kernel goes through this first; an
    /// operation that may pass a held-back bridge `up` runs inside `passing`.
    pub fn flush(&mut self) -> Result<()> {
        self.flush_veth()?;
        if self.passing {
            return Ok(());
        }
        self.release_bridge_up()
    }

    /// Runs an operation that may leave a held-back bridge `up` waiting (see the module doc).
    pub(super) fn passing<T>(&mut self, op: impl FnOnce(&mut Lab) -> Result<T>) -> Result<T> {
        let was = std::mem::replace(&mut self.passing, true);
        let out = op(self);
        self.passing = was;
        out
    }

    /// Holds back `up` of a bridge the lab made. False: carry it out now.
    pub(super) fn hold_bridge_up(&mut self, ns: &Ns, link: &str) -> Result<bool> {
        if !self.bridges.iter().any(|(n, l)| n == ns && l == link) {
            return Ok(false);
        }
        match &self.held_up {
            Some((n, l)) if n == ns && l == link => return Ok(true),
            Some(_) => return Ok(false),
            None => {}
        }
        // A link that is not there is reported at this call, not later.
        self.index(ns, link)?;
        self.held_up = Some((ns.clone(), link.to_string()));
        self.just_held = true;
        Ok(true)
    }

    /// Whether the call just made was held back (the script layer notes where it was made).
    pub fn take_just_held(&mut self) -> bool {
        std::mem::take(&mut self.just_held)
    }

    /// Brings a held-back bridge up now.
    pub(super) fn release_bridge_up(&mut self) -> Result<()> {
        let Some((ns, link)) = self.held_up.take() else { return Ok(()) };
        self.passing(|lab| lab.bring_up_now(&ns, &link, true)).map_err(|e| LabError::Deferred(Held::BridgeUp, Box::new(e)))
    }

    /// True when `up` of this link is being held back.
    pub(super) fn is_held_up(&self, ns: &Ns, link: &str) -> bool {
        self.held_up.as_ref().is_some_and(|(n, l)| n == ns && l == link)
    }
}
