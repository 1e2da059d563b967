//! How a failing native call travels through Rhai to the diagnostics: a payload of
//! `EvalAltResult::ErrorRuntime` at the call's position.

use std::cell::Cell;

use rhai::{Dynamic, EvalAltResult, NativeCallContext, Position};

use crate::lab::{Held, LabError};

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
    /// A check of the testing functions failed (`expect_reach`, `assert_eq`, ...); the hint
    /// says why in detail.
    Expectation,
    /// `skip(reason)` or an unmet `require`: the message is the reason.
    Skip,
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
    /// Where the calls that the lab is holding back were made (see `lab/holding.rs`): a failure
    /// found when one is carried out is reported there.
    static HELD_BACK_AT: Cell<[Position; 2]> = const { Cell::new([Position::NONE; 2]) };
}

fn slot(held: Held) -> usize {
    match held {
        Held::Veth => 0,
        Held::BridgeUp => 1,
    }
}

/// Notes that the call being made was held back by the lab.
pub fn held_back(ctx: &NativeCallContext, held: Held) {
    HELD_BACK_AT.with(|p| {
        let mut at = p.get();
        at[slot(held)] = ctx.call_position();
        p.set(at);
    });
}

pub fn lab_error(ctx: &NativeCallContext, e: LabError) -> Box<EvalAltResult> {
    lab_error_at(ctx.call_position(), e)
}

pub fn lab_error_at(pos: Position, e: LabError) -> Box<EvalAltResult> {
    let kind = if matches!(e, LabError::Interrupted) { FailureKind::Interrupted } else { FailureKind::Lab };
    let pos = match e {
        LabError::Deferred(held, _) => HELD_BACK_AT.with(|p| p.get()[slot(held)]),
        _ => pos,
    };
    let failure = CallFailure { hint: e.hint(), message: e.to_string(), kind };
    EvalAltResult::ErrorRuntime(Dynamic::from(failure), pos).into()
}

pub fn argument_error(ctx: &NativeCallContext, message: impl Into<String>) -> Box<EvalAltResult> {
    raise(ctx, CallFailure { message: message.into(), hint: None, kind: FailureKind::Argument })
}
