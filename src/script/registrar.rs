//! Registration of native functions: every one goes through `Registrar`, which marks it
//! volatile (the optimizer must never run it at compile time), logs calls for `--capture`, and
//! keeps the (name, arity) list that `check` and the catalog test rely on.

use std::any::TypeId;
use std::time::Instant;

use rhai::{
    Dynamic, Engine, EvalAltResult, FuncRegistration, Module, NativeCallContext, RhaiFunc, RhaiNativeFunc, Shared, Variant,
};

use super::failure::lab_error_at;
use super::harness::{self, Harness};
use super::held::HeldCalls;

pub type SharedLab = super::LabSlot;

pub struct Registrar<'e> {
    engine: &'e mut Engine,
    pub registered: Vec<(&'static str, usize)>,
    /// Logs every call when capturing; the testing bindings record sub-tests in it too.
    pub harness: Harness,
    /// nslab's functions, handed to the engine as one global module by `finish`.
    functions: Module,
    /// Where held-back calls were made: a deferred failure any call raises is moved there.
    held: HeldCalls,
}

/// A native function as Rhai stores it.
type NativeFn = dyn Fn(Option<NativeCallContext>, &mut [&mut Dynamic]) -> Result<Dynamic, Box<EvalAltResult>>;

impl<'e> Registrar<'e> {
    pub fn new(engine: &'e mut Engine, held: HeldCalls) -> Self {
        Registrar { engine, registered: Vec::new(), harness: Harness::default(), functions: Module::new(), held }
    }

    /// The engine, for registering types and property getters (not functions: use `add`).
    pub fn engine(&mut self) -> &mut Engine {
        self.engine
    }

    /// Makes the added functions callable; returns the (name, arity) list and the harness.
    pub fn finish(self) -> (Vec<(&'static str, usize)>, Harness) {
        self.engine.register_global_module(Shared::new(self.functions));
        (self.registered, self.harness)
    }

    pub fn add<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool, FUNC>(
        &mut self,
        name: &'static str,
        func: FUNC,
    ) where
        FUNC: RhaiNativeFunc<A, N, X, R, F> + 'static,
    {
        // Rhai silently replaces a function registered twice with the same arity.
        assert!(!self.registered.contains(&(name, N)), "{name}/{N} registered twice");
        self.registered.push((name, N));
        self.add_overload(name, func);
    }

    /// Another form of a function already added with the same arity, for argument types that
    /// must not fall to one of Rhai's own functions (an exact type match wins over `Dynamic`).
    pub fn add_overload<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool, FUNC>(
        &mut self,
        name: &'static str,
        func: FUNC,
    ) where
        FUNC: RhaiNativeFunc<A, N, X, R, F> + 'static,
    {
        // Every call goes through the harness, which logs it (arguments, result, duration) when
        // capturing is on. Rhai passes a context to the wrapper always, so calls are placed in
        // the script; a function that takes none ignores it.
        let native = func.into_rhai_function(true, true);
        let inner = native.get_native_fn().expect("a registered closure is a native function").clone();
        let harness = self.harness.clone();
        let held = self.held.clone();
        // A deferred failure (see `held.rs`) is raised by whichever call meets it, at the call
        // it belongs to; one a `print` met is raised by the next call.
        let call = move |ctx: Option<NativeCallContext>, args: &mut [&mut Dynamic]| {
            if !held.watching() {
                return inner(ctx, args);
            }
            let source = ctx.as_ref().and_then(|c| c.call_source()).map(str::to_string);
            let pos = ctx.as_ref().map_or(rhai::Position::NONE, |c| c.call_position());
            let out = match held.take_failure() {
                Some(e) => Err(lab_error_at(pos, e)),
                None => inner(ctx, args),
            };
            out.map_err(|e| held.relocate(e, source.as_deref()))
        };
        let logged: Shared<NativeFn> = Shared::new(move |ctx: Option<NativeCallContext>, args: &mut [&mut Dynamic]| {
            #[cfg(debug_assertions)]
            test_panic(name);
            if !harness.capturing() {
                return call(ctx, args);
            }
            let shown = args.iter().map(|a| harness::describe(a)).collect();
            let line = ctx.as_ref().and_then(|c| c.call_position().line());
            let index = harness.begin_call(name, shown, line);
            let started = Instant::now();
            let out = call(ctx, args);
            let result = match &out {
                Ok(v) => Ok(harness::describe(v)),
                Err(e) => Err(harness::describe_error(e)),
            };
            harness.end_call(index, started.elapsed(), result);
            out
        });
        let native = match native {
            RhaiFunc::Pure { is_pure, is_volatile, .. } => {
                RhaiFunc::Pure { func: logged, has_context: true, is_pure, is_volatile }
            }
            RhaiFunc::Method { is_pure, is_volatile, .. } => {
                RhaiFunc::Method { func: logged, has_context: true, is_pure, is_volatile }
            }
            other => other,
        };
        let mut info: Vec<String> = FUNC::param_names().iter().map(|t| format!("_: {}", short_type(t))).collect();
        if FUNC::return_type() != TypeId::of::<()>() {
            info.push(short_type(FUNC::return_type_name()));
        }
        FuncRegistration::new(name).in_global_namespace().with_params_info(info).set_into_module_raw(
            &mut self.functions,
            FUNC::param_types(),
            native,
        );
    }
}

/// A Rust type name as signatures show it: paths dropped, `Result<T, Box<EvalAltResult>>` as T.
fn short_type(name: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in name.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out += word.rsplit("::").next().unwrap_or("");
            word.clear();
            if c != ' ' || !out.is_empty() {
                out.push(c);
            }
        }
    }
    let out = out.trim().to_string();
    match out.strip_prefix("Result<").and_then(|r| r.strip_suffix(", Box<EvalAltResult>>")) {
        Some(inner) => inner.to_string(),
        None => out,
    }
}

/// Tests only (debug builds): `NSLAB_TEST_PANIC=NAME` makes every call of the function NAME
/// panic, standing in for a bug in nslab, to show that the lab is torn down all the same.
#[cfg(debug_assertions)]
fn test_panic(name: &str) {
    static TARGET: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if TARGET.get_or_init(|| std::env::var("NSLAB_TEST_PANIC").ok()).as_deref() == Some(name) {
        panic!("NSLAB_TEST_PANIC: {name} was called");
    }
}
