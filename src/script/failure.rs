//! How a failing native call travels through Rhai to the diagnostics: a payload of
//! `EvalAltResult::ErrorRuntime` at the call's position.

use std::cell::Cell;

use rhai::{Dynamic, EvalAltResult, NativeCallContext, Position};

use crate::lab::LabError;

#[derive(Debug, Clone, PartialEq)]
pub enum FailureKind {
    /// The lab refused or the kernel failed.
    Lab,
    /// A wrong argument: type, count or value the script layer checks itself.
    Argument,
    /// `assert` failed; `custom` when the script gave its own message.
    Assertion { custom: bool },
    /// Ctrl-C or SIGTERM stopped the call.
    Interrupted,
}

#[derive(Debug, Clone)]
pub struct CallFailure {
    pub message: String,
    pub hint: Option<String>,
    pub kind: FailureKind,
}

pub type Res<T> = Result<T, Box<EvalAltResult>>;

pub fn raise(ctx: &NativeCallContext, failure: CallFailure) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(failure), ctx.call_position()).into()
}

thread_local! {
    /// Where the call that the lab is holding back was made (see `lab/veth.rs`): its failure,
    /// found later, is reported there.
    static HELD_BACK_AT: Cell<Position> = const { Cell::new(Position::NONE) };
}

/// Notes that the call being made was held back by the lab.
pub fn held_back(ctx: &NativeCallContext) {
    HELD_BACK_AT.with(|p| p.set(ctx.call_position()));
}

pub fn lab_error(ctx: &NativeCallContext, e: LabError) -> Box<EvalAltResult> {
    lab_error_at(ctx.call_position(), e)
}

pub fn lab_error_at(pos: Position, e: LabError) -> Box<EvalAltResult> {
    let kind = if matches!(e, LabError::Interrupted) { FailureKind::Interrupted } else { FailureKind::Lab };
    let pos = match e {
        LabError::Deferred(_) => HELD_BACK_AT.with(|p| p.get()),
        _ => pos,
    };
    let failure = CallFailure { hint: e.hint(), message: e.to_string(), kind };
    EvalAltResult::ErrorRuntime(Dynamic::from(failure), pos).into()
}

pub fn argument_error(ctx: &NativeCallContext, message: impl Into<String>) -> Box<EvalAltResult> {
    raise(ctx, CallFailure { message: message.into(), hint: None, kind: FailureKind::Argument })
}
