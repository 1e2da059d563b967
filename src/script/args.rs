//! Reading native-call arguments, with errors that name the function and the argument.

use rhai::{Array, Dynamic, Map, NativeCallContext};

use super::failure::{argument_error, Res};
use super::values::{type_name, Netns};
use crate::lab::Ns;

/// The longest wait a script may ask for, in seconds (about 11.5 days): anything longer is a
/// mistake, and a `Duration` from a larger float may not exist.
pub const MAX_SECONDS: f64 = 999_999.0;

pub fn ordinal(n: usize) -> &'static str {
    ["first", "second", "third", "fourth", "fifth", "sixth"].get(n).copied().unwrap_or("next")
}

/// A namespace: a name, a `Netns` handle, or `()` for nslab's own namespace.
pub fn ns(ctx: &NativeCallContext, v: &Dynamic, n: usize) -> Res<Ns> {
    if let Some(h) = v.read_lock::<Netns>() {
        return Ok(h.ns());
    }
    if v.is_string() {
        return Ok(Ns::Named(v.clone().into_string().expect("checked")));
    }
    if v.is_unit() {
        return Ok(Ns::Root);
    }
    Err(argument_error(
        ctx,
        format!(
            "the {} argument of {} must be a namespace (a name or a Netns handle), not {}",
            ordinal(n),
            ctx.fn_name(),
            shown(v)
        ),
    ))
}

pub fn string(ctx: &NativeCallContext, v: &Dynamic, n: usize, what: &str) -> Res<String> {
    if v.is_string() {
        return Ok(v.clone().into_string().expect("checked"));
    }
    Err(argument_error(
        ctx,
        format!("the {} argument of {} must be {what} (a string), not {}", ordinal(n), ctx.fn_name(), shown(v)),
    ))
}

/// A value as a message names it: its type, and the value itself when it is short and simple
/// (`the string "yes"`, `the integer 1`, `a map`).
pub fn shown(v: &Dynamic) -> String {
    let name = type_name(v);
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    if v.is_string() {
        let text = v.clone().into_string().expect("checked");
        if text.chars().count() <= 40 {
            return format!("the string {text:?}");
        }
    } else if v.is_int() || v.is_float() || v.is_bool() || v.is_char() {
        return format!("the {name} {v}");
    } else if v.is_unit() {
        return "()".into();
    }
    format!("{article} {name}")
}

pub fn map(ctx: &NativeCallContext, v: &Dynamic, n: usize, allowed: &[&str]) -> Res<Map> {
    let Some(m) = v.clone().try_cast::<Map>() else {
        return Err(argument_error(
            ctx,
            format!("the {} argument of {} must be an options map, not {}", ordinal(n), ctx.fn_name(), shown(v)),
        ));
    };
    if let Some(bad) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(argument_error(
            ctx,
            format!("{} has no option {bad:?}; the options are: {}", ctx.fn_name(), allowed.join(", ")),
        ));
    }
    Ok(m)
}

/// A number given as an integer or a float.
pub fn number(ctx: &NativeCallContext, v: &Dynamic, what: &str) -> Res<f64> {
    if let Ok(i) = v.as_int() {
        return Ok(i as f64);
    }
    if let Ok(f) = v.as_float() {
        return Ok(f);
    }
    Err(argument_error(ctx, format!("{what} of {} must be a number, not {}", ctx.fn_name(), shown(v))))
}

pub fn integer(ctx: &NativeCallContext, v: &Dynamic, what: &str) -> Res<i64> {
    v.as_int().map_err(|_| argument_error(ctx, format!("{what} of {} must be an integer, not {}", ctx.fn_name(), shown(v))))
}

/// A command: an array of arguments, or a string split into words like a shell would.
pub fn command(ctx: &NativeCallContext, v: &Dynamic, n: usize) -> Res<Vec<String>> {
    let argv = if v.is_string() {
        let text = v.clone().into_string().expect("checked");
        shlex::split(&text)
            .ok_or_else(|| argument_error(ctx, format!("cannot split the command {text:?} into words: a quote is not closed")))?
    } else if let Some(items) = v.clone().try_cast::<Array>() {
        items
            .iter()
            .enumerate()
            .map(|(k, i)| {
                if i.is_string() {
                    Ok(i.clone().into_string().expect("checked"))
                } else if i.is_int() || i.is_float() || i.is_bool() || i.is_char() {
                    Ok(i.to_string())
                } else {
                    // A map or a handle has no one way to be a program's argument.
                    Err(argument_error(
                        ctx,
                        format!(
                            "item {k} of the command given to {} must be a string or a number, not {}",
                            ctx.fn_name(),
                            type_name(i)
                        ),
                    ))
                }
            })
            .collect::<Res<Vec<String>>>()?
    } else {
        return Err(argument_error(
            ctx,
            format!(
                "the {} argument of {} must be a command (a string or an array of strings), not {}",
                ordinal(n),
                ctx.fn_name(),
                shown(v)
            ),
        ));
    };
    if argv.is_empty() {
        return Err(argument_error(ctx, format!("the command given to {} is empty", ctx.fn_name())));
    }
    if argv[0].is_empty() {
        return Err(argument_error(ctx, format!("the command given to {} starts with an empty program name", ctx.fn_name())));
    }
    Ok(argv)
}

/// A value as a message: a string as it is, anything else as `to_string` (what `print` shows)
/// makes it, so that a handle reads as the script sees it, never as a Rust type's name.
pub fn text(ctx: &NativeCallContext, v: &Dynamic) -> String {
    if v.is_string() {
        return v.clone().into_string().expect("checked");
    }
    ctx.call_native_fn::<rhai::ImmutableString>("to_string", (v.clone(),)).map(|s| s.to_string()).unwrap_or_else(|_| type_name(v))
}
