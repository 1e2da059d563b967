//! One recorded step: what the lab is about to create outside its namespaces is announced in
//! the ledger (intent), then noted as made or as failed, so that a crash between the two leaves
//! a record `clean` can act on, and a failure leaves none.

use super::ledger::Object;
use super::{Lab, Result};

impl Lab {
    /// Runs `op` as one recorded step for `record` (nothing is recorded when it is None).
    /// The outer error is the ledger's; the inner result is `op`'s own.
    pub(super) fn recorded<T, E>(
        &mut self,
        record: Option<&Object>,
        op: impl FnOnce(&mut Lab) -> std::result::Result<T, E>,
    ) -> Result<std::result::Result<T, E>> {
        let Some(r) = record else { return Ok(op(self)) };
        self.ledger_mut()?.intent(r)?;
        let done = op(self);
        match &done {
            Ok(_) => self.ledger_mut()?.made(r)?,
            Err(_) => self.ledger_mut()?.failed(r)?,
        }
        Ok(done)
    }
}
