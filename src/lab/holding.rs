//! Operations the lab holds back until something needs them: a veth pair asked for in one
//! namespace (see `veth.rs`), and `up` of a bridge the lab made.
//!
//! Each port joining a running bridge makes the kernel revisit every port's state and multicast
//! setup (`br_port_state_selection`), so a star of N ports built the usual way (bridge up, then
//! the ports) costs O(N²): ~220 ms of a 500-port build. Ports joining a bridge that is down skip
//! that, and bringing the bridge up once they are in costs ~50 ms. So `up` of a bridge the lab
//! made waits while the script only adds veths, ports and addresses and brings other links up
//! (which end the same whichever way round), and is carried out before anything else: a query,
//! a ping, a program, a sleep, the end of the script or of a REPL entry.
//!
//! The API: an operation the lab holds back returns `Outcome::Held(ticket)`; when held work
//! fails later, the error is `LabError::Deferred { ticket, .. }`, so the caller can report it
//! at the call that asked for it (the script layer keeps ticket -> script position). Everything
//! that looks (a query, a program, a ping, `sleep`) carries held work out itself; `flush` is
//! public for what only the caller knows: the end of a script, or a `print`.

use super::{Lab, LabError, Ns, Result};

/// Names one operation the lab held back; a failure of it later carries the same ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Ticket(u64);

/// What became of a request: carried out now, or held back until something needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Carried out now.
    Done,
    /// Held back: carried out before anything looks; a failure then carries this ticket.
    Held(Ticket),
}

/// The work held back, and the tickets handed out for it.
#[derive(Default)]
pub(super) struct Held {
    /// A veth pair held back until needed (see `veth.rs`).
    pub veth: Option<super::veth::PendingVeth>,
    /// A bridge whose `up` is held back.
    pub bridge_up: Option<(Ns, String, Ticket)>,
    /// Whether an operation that may pass a held `up` is running.
    pub passing: bool,
    /// The last ticket handed out.
    pub tickets: u64,
}

impl Lab {
    /// A ticket for an operation being held back now.
    pub(super) fn ticket(&mut self) -> Ticket {
        self.held.tickets += 1;
        Ticket(self.held.tickets)
    }

    /// True while the operation with this ticket is still held back.
    pub fn holds(&self, ticket: Ticket) -> bool {
        self.held.bridge_up.as_ref().is_some_and(|h| h.2 == ticket) || self.pending_ticket() == Some(ticket)
    }

    /// Carries out what was held back. Every request to the kernel goes through this first; an
    /// operation that may pass a held-back bridge `up` runs inside `passing`.
    pub fn flush(&mut self) -> Result<()> {
        self.flush_veth()?;
        if self.held.passing {
            return Ok(());
        }
        self.release_bridge_up()
    }

    /// Lets time pass (interruptibly). Time passing is something to see (another program, the
    /// user at a terminal), so what was held back is carried out first; the lab's own waits
    /// use `pause`.
    pub fn sleep(&mut self, d: std::time::Duration) -> Result<()> {
        self.flush()?;
        self.pause(d)
    }

    /// Runs an operation that may leave a held-back bridge `up` waiting (see the module doc).
    pub(super) fn passing<T>(&mut self, op: impl FnOnce(&mut Lab) -> Result<T>) -> Result<T> {
        let was = std::mem::replace(&mut self.held.passing, true);
        let out = op(self);
        self.held.passing = was;
        out
    }

    /// Holds back `up` of a bridge the lab made. None: carry it out now. Asked again while
    /// held, it keeps the first call's ticket.
    pub(super) fn hold_bridge_up(&mut self, ns: &Ns, link: &str) -> Result<Option<Ticket>> {
        if !self.links.bridges.iter().any(|(n, l)| n == ns && l == link) {
            return Ok(None);
        }
        match &self.held.bridge_up {
            Some((n, l, t)) if n == ns && l == link => return Ok(Some(*t)),
            Some(_) => return Ok(None),
            None => {}
        }
        // A link that is not there is reported at this call, not later.
        self.index(ns, link)?;
        let ticket = self.ticket();
        self.held.bridge_up = Some((ns.clone(), link.to_string(), ticket));
        Ok(Some(ticket))
    }

    /// Brings a held-back bridge up now.
    pub(super) fn release_bridge_up(&mut self) -> Result<()> {
        let Some((ns, link, ticket)) = self.held.bridge_up.take() else { return Ok(()) };
        self.passing(|lab| lab.bring_up_now(&ns, &link, true)).map_err(|e| LabError::Deferred { ticket, error: Box::new(e) })
    }

    /// True when `up` of this link is being held back.
    pub(super) fn is_held_up(&self, ns: &Ns, link: &str) -> bool {
        self.held.bridge_up.as_ref().is_some_and(|(n, l, _)| n == ns && l == link)
    }
}
