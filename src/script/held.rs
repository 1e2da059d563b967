//! Where the calls the lab held back were made (see `lab/holding.rs`): the lab hands out a
//! ticket for each, and a failure found when one is carried out names its ticket. It is raised
//! by the call that was running (so inside that call's `try`), at the position of the call that
//! asked for the work, with that call's line in the message (what `catch` sees).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use rhai::{EvalAltResult, NativeCallContext, Position};

use super::failure::CallFailure;
use crate::lab::{Lab, LabError, Outcome, Ticket};

#[derive(Clone, Default)]
pub struct HeldCalls(Rc<RefCell<Inner>>);

#[derive(Default)]
struct Inner {
    at: BTreeMap<Ticket, Origin>,
    /// A failure found by a `print` (which cannot fail): raised by the next call, or at the end.
    failed: Option<LabError>,
}

struct Origin {
    function: String,
    pos: Position,
    source: Option<String>,
}

impl HeldCalls {
    /// Notes where a call the lab held back was made; forgets calls the lab has carried out.
    pub fn note(&self, ctx: &NativeCallContext, outcome: Outcome, lab: &Lab) {
        let Outcome::Held(ticket) = outcome else { return };
        let mut inner = self.0.borrow_mut();
        inner.at.retain(|t, _| lab.holds(*t));
        inner.at.entry(ticket).or_insert_with(|| Origin {
            function: ctx.fn_name().to_string(),
            pos: ctx.call_position(),
            source: ctx.call_source().map(str::to_string),
        });
    }

    /// True while a failure could need moving (calls are held back, or one failed).
    pub fn watching(&self) -> bool {
        let inner = self.0.borrow();
        !inner.at.is_empty() || inner.failed.is_some()
    }

    /// Keeps a failure found where it could not be raised (a `print`).
    pub fn keep_failure(&self, e: LabError) {
        self.0.borrow_mut().failed.get_or_insert(e);
    }

    /// Forgets every call: the lab holds nothing now.
    pub fn clear(&self) {
        self.0.borrow_mut().at.clear();
    }

    pub fn take_failure(&self) -> Option<LabError> {
        self.0.borrow_mut().failed.take()
    }

    /// Moves a deferred failure raised in `source` (None: unknown) to the call it belongs to,
    /// and says in its message which call and line that was.
    pub fn relocate(&self, mut err: Box<EvalAltResult>, source: Option<&str>) -> Box<EvalAltResult> {
        self.move_to_origin(&mut err, source);
        err
    }

    fn move_to_origin(&self, err: &mut EvalAltResult, source: Option<&str>) {
        let EvalAltResult::ErrorRuntime(payload, pos) = err else { return };
        let Some(mut failure) = payload.write_lock::<CallFailure>() else { return };
        let Some(ticket) = failure.held.take() else { return };
        let Some(origin) = self.0.borrow_mut().at.remove(&ticket) else { return };
        let line = origin.pos.line().map(|l| format!(" at line {l}")).unwrap_or_default();
        let same_file = source.is_none() || origin.source.as_deref() == source;
        let file = match (&origin.source, same_file) {
            (Some(s), false) => format!(" of {s}"),
            _ => String::new(),
        };
        failure.message = format!("{} (held back from {}{line}{file})", failure.message, origin.function);
        drop(failure);
        if same_file && !origin.pos.is_none() {
            *pos = origin.pos;
        }
    }
}
