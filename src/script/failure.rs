//! How a failing native call travels through Rhai to the diagnostics: a payload of
//! `EvalAltResult::ErrorRuntime` at the call's position.

use rhai::{Dynamic, EvalAltResult, NativeCallContext, Position};

use crate::lab::{LabError, Ticket};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FailureKind {
    /// The lab refused or the kernel failed.
    Lab,
    /// A wrong argument: type, count or value the script layer checks itself.
    Argument,
    /// `assert` failed; `custom` when the script gave its own message.
    Assertion { custom: bool },
    /// Ctrl-C or SIGTERM stopped the call.
    Interrupted,
    /// A check of the testing functions failed (`expect_reach`, `assert_eq`, ...); the hint
    /// says why in detail.
    Expectation,
    /// `skip(reason)` or an unmet `require`: the message is the reason.
    Skip,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CallFailure {
    pub message: String,
    pub hint: Option<String>,
    pub kind: FailureKind,
    /// A failure of work the lab held back: the ticket of the call it belongs to, until the
    /// registrar has moved it there (see `held.rs`).
    pub held: Option<Ticket>,
}

pub type Res<T> = Result<T, Box<EvalAltResult>>;

pub fn raise(ctx: &NativeCallContext, failure: CallFailure) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(failure), ctx.call_position()).into()
}

pub fn lab_error(ctx: &NativeCallContext, e: LabError) -> Box<EvalAltResult> {
    lab_error_at(ctx.call_position(), e)
}

pub fn lab_error_at(pos: Position, e: LabError) -> Box<EvalAltResult> {
    let kind = if matches!(e, LabError::Interrupted) { FailureKind::Interrupted } else { FailureKind::Lab };
    let held = match e {
        LabError::Deferred { ticket, .. } => Some(ticket),
        _ => None,
    };
    let failure = CallFailure { hint: super::hints::hint(&e), message: e.to_string(), kind, held };
    EvalAltResult::ErrorRuntime(Dynamic::from(failure), pos).into()
}

pub fn argument_error(ctx: &NativeCallContext, message: impl Into<String>) -> Box<EvalAltResult> {
    raise(ctx, CallFailure { message: message.into(), hint: None, kind: FailureKind::Argument, held: None })
}
