//! Script values as JSON, for the channel between the coordinator and `nslab agent`.
//!
//! Plain values map to their JSON kind: `()` null, bool, int (a JSON integer), float (a JSON
//! number that always has a fraction or exponent, so `1.0` stays a float), string, array, map.
//! Everything else is an object tagged by the key `"$"`: `{"$": "char", "v": "x"}`,
//! `{"$": "blob", "hex": ".."}`, `{"$": "float", "v": "NaN"}` (JSON has no NaN nor infinity),
//! `{"$": "range", ..}`, and each handle and result type scripts see, by its script name with
//! all its fields (`{"$": "Netns", "name": "h1", "on": null}`). A map's own keys that start with
//! `$` are sent with one more `$` in front, so no map is mistaken for a tagged value.
//!
//! Handles name the machine they live on (`on`, None: the one holding the value). An answer
//! from machine M is decoded with `on = Some(M)`: its handles living there (on None) become
//! M's. [`encode_for`] does the reverse for a request to M.
//!
//! A TCP listener sent away stays alive here (the agent's lab owns it, not the coordinator's
//! copy) until it is closed, its namespace deleted or the lab torn down; when it comes back in
//! a request it is the same listener again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;

use rhai::{Array, Blob, Dynamic, FnPtr, Map, INT};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::failure::CallFailure;
use super::processes::Proc;
use super::remote::Host;
use super::values::{Exec, Netns, Ping};
use super::values_traffic::PingAll;
use crate::lab::tcp::TcpService;
use crate::lab::Ns;

/// The key that tags a value that is not plain JSON.
const TAG: &str = "$";

/// What could not cross the channel.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WireError {
    /// A value that has no meaning on another machine.
    #[error("{what}{at} cannot be sent to another machine: {why}")]
    Unsendable {
        /// The value: "a closure", "a value of type Instant", ...
        what: String,
        /// Where it is in what was sent.
        at: At,
        /// Why, and what to send instead.
        why: String,
    },
    /// JSON that is not a script value as [`encode`] writes them.
    #[error("cannot read the value{at} from the agent's channel: {why}")]
    Malformed {
        /// Where it is in what was received.
        at: At,
        /// What is wrong with it (an unknown type tag, a wrong field, ...).
        why: String,
    },
}

/// Where in a value a problem is: `[2].nodes` (empty: the value itself).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct At(Vec<String>);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        // Built from the inside out as the error travels up.
        write!(f, " at ")?;
        self.0.iter().rev().try_for_each(|s| f.write_str(s))
    }
}

impl WireError {
    fn within(mut self, step: impl FnOnce() -> String) -> WireError {
        let (WireError::Unsendable { at, .. } | WireError::Malformed { at, .. }) = &mut self;
        at.0.push(step());
        self
    }

    fn malformed(why: impl Into<String>) -> WireError {
        WireError::Malformed { at: At::default(), why: why.into() }
    }
}

type Res<T> = Result<T, WireError>;

/// A script value as JSON, for the channel to an agent (or an agent's answer).
pub fn encode(v: &Dynamic) -> Res<Value> {
    Encoder { to: None }.value(v)
}

/// `encode` for a request to `machine`: a handle living there (`on == Some(machine)`) is sent
/// with `on` None, as the agent sees its own; one living anywhere else keeps its `on` (the
/// agent refuses it).
pub fn encode_for(v: &Dynamic, machine: &str) -> Res<Value> {
    Encoder { to: Some(machine) }.value(v)
}

/// The value back. `on`: the machine it came from (None: from the coordinator, read by an
/// agent): a handle from M living there (on None) gets `on: Some(M)` so that later calls on it
/// are sent back to M.
pub fn decode(v: &Value, on: Option<&str>) -> Res<Dynamic> {
    Decoder { from: on }.value(v)
}

thread_local! {
    /// The listeners of this process that were sent to another (by id): the other side's copy
    /// does not keep them open, and a request naming one must find the same listener.
    static SENT: RefCell<HashMap<u64, TcpService>> = RefCell::new(HashMap::new());
}

/// A TCP listener on the wire: where it is, and what it was when sent.
#[derive(Serialize, Deserialize)]
struct Listener {
    ns: Ns,
    on: Option<String>,
    id: u64,
    addr: SocketAddr,
    accepted: u64,
    open: bool,
}

struct Encoder<'a> {
    /// The machine a request goes to (None: an answer, or no remapping).
    to: Option<&'a str>,
}

impl Encoder<'_> {
    fn value(&self, v: &Dynamic) -> Res<Value> {
        if v.is_unit() {
            return Ok(Value::Null);
        }
        if let Ok(b) = v.as_bool() {
            return Ok(Value::Bool(b));
        }
        if let Ok(i) = v.as_int() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(f) = v.as_float() {
            return Ok(float(f));
        }
        if let Ok(s) = v.as_immutable_string_ref() {
            return Ok(Value::String(s.as_str().to_owned()));
        }
        if let Ok(m) = v.as_map_ref() {
            return self.map(&m);
        }
        if let Ok(a) = v.as_array_ref() {
            return a.iter().enumerate().map(|(i, x)| self.value(x).map_err(|e| e.within(|| format!("[{i}]")))).collect();
        }
        if let Ok(c) = v.as_char() {
            return Ok(tagged("char", [("v", Value::String(c.into()))]));
        }
        if let Ok(b) = v.as_blob_ref() {
            return Ok(tagged("blob", [("hex", Value::String(hex(&b)))]));
        }
        if v.is_shared() {
            return self.value(&v.flatten_clone());
        }
        self.custom(v)
    }

    fn map(&self, m: &Map) -> Res<Value> {
        let mut out = serde_json::Map::new();
        for (k, x) in m {
            let x = self.value(x).map_err(|e| e.within(|| format!(".{k}")))?;
            let key = if k.starts_with('$') { format!("${k}") } else { k.to_string() };
            out.insert(key, x);
        }
        Ok(Value::Object(out))
    }

    /// Where a handle is said to live in what is sent.
    fn place(&self, on: &Option<String>) -> Option<String> {
        match (self.to, on) {
            (Some(to), Some(m)) if m == to => None,
            _ => on.clone(),
        }
    }

    fn custom(&self, v: &Dynamic) -> Res<Value> {
        if let Some(n) = v.read_lock::<Netns>() {
            return typed("Netns", &Netns { name: n.name.clone(), on: self.place(&n.on) });
        }
        if let Some(p) = v.read_lock::<Proc>() {
            return typed("Proc", &Proc { on: self.place(&p.on), ..p.clone() });
        }
        if let Some(h) = v.read_lock::<Host>() {
            return typed("Host", &*h);
        }
        if let Some(s) = v.read_lock::<TcpService>() {
            if s.is_here() {
                // Kept also once closed: a later request may still name it (to read `accepted`).
                SENT.with(|sent| {
                    sent.borrow_mut().entry(s.id).or_insert_with(|| s.clone());
                });
            }
            let l = Listener {
                ns: s.ns.clone(),
                on: self.place(&s.on),
                id: s.id,
                addr: s.socket_addr(),
                accepted: s.accepted(),
                open: s.is_open(),
            };
            return typed("TcpListener", &l);
        }
        if let Some(x) = v.read_lock::<Exec>() {
            return typed("Exec", &*x);
        }
        if let Some(x) = v.read_lock::<Ping>() {
            return typed("Ping", &*x);
        }
        if let Some(x) = v.read_lock::<PingAll>() {
            return typed("PingAll", &*x);
        }
        if let Some(x) = v.read_lock::<CallFailure>() {
            return typed("Error", &*x);
        }
        if let Some(r) = v.read_lock::<std::ops::Range<INT>>() {
            return Ok(tagged("range", [("start", r.start.into()), ("end", r.end.into())]));
        }
        if let Some(r) = v.read_lock::<std::ops::RangeInclusive<INT>>() {
            return Ok(tagged("range_inclusive", [("start", (*r.start()).into()), ("end", (*r.end()).into())]));
        }
        Err(unsendable(v))
    }
}

fn unsendable(v: &Dynamic) -> WireError {
    let (what, why) = match v.read_lock::<FnPtr>() {
        Some(f) if f.is_anonymous() || f.is_curried() => {
            ("a closure".to_string(), "it runs in this script's engine; pass the values it needs instead")
        }
        Some(f) => (
            format!("the function pointer Fn({:?})", f.fn_name()),
            "functions run in this script's engine; pass the values they need instead",
        ),
        None if v.is_timestamp() => ("a timestamp".to_string(), "it counts from a moment of this machine's clock"),
        None => (
            format!("a value of type {}", super::values::type_name(v)),
            "only (), bool, int, float, string, char, blob, ranges, arrays, maps and nslab's handles and results can",
        ),
    };
    WireError::Unsendable { what, at: At::default(), why: why.into() }
}

/// A float as a JSON number (serde_json writes it with a fraction: it comes back a float), or
/// tagged when JSON has no number for it.
fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => {
            let v = if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "inf"
            } else {
                "-inf"
            };
            tagged("float", [("v", Value::String(v.into()))])
        }
    }
}

fn tagged<const N: usize>(tag: &str, fields: [(&str, Value); N]) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(TAG.into(), Value::String(tag.into()));
    for (k, v) in fields {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

/// A handle or result type with all its fields, tagged with its script name.
fn typed<T: Serialize>(tag: &str, x: &T) -> Res<Value> {
    match serde_json::to_value(x) {
        Ok(Value::Object(mut m)) => {
            m.insert(TAG.into(), Value::String(tag.into()));
            Ok(Value::Object(m))
        }
        Ok(other) => Err(WireError::Unsendable {
            what: format!("a {tag}"),
            at: At::default(),
            why: format!("it is written as {other}, not as an object with its fields"),
        }),
        Err(e) => Err(WireError::Unsendable { what: format!("a {tag}"), at: At::default(), why: e.to_string() }),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(HEX[usize::from(x >> 4)] as char);
        s.push(HEX[usize::from(x & 15)] as char);
    }
    s
}

fn unhex(s: &str) -> Res<Blob> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    if !s.len().is_multiple_of(2) {
        return Err(WireError::malformed(format!("a blob's hex has an odd number of digits ({})", s.len())));
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| match (digit(p[0]), digit(p[1])) {
            (Some(h), Some(l)) => Ok((h << 4) | l),
            _ => Err(WireError::malformed(format!("{:?} in a blob is not a hex byte", String::from_utf8_lossy(p)))),
        })
        .collect()
}

struct Decoder<'a> {
    /// The machine the value came from (None: from the coordinator).
    from: Option<&'a str>,
}

impl Decoder<'_> {
    fn value(&self, v: &Value) -> Res<Dynamic> {
        Ok(match v {
            Value::Null => Dynamic::UNIT,
            Value::Bool(b) => (*b).into(),
            Value::Number(n) => number(n)?,
            Value::String(s) => s.as_str().into(),
            Value::Array(a) => {
                let mut out = Array::with_capacity(a.len());
                for (i, x) in a.iter().enumerate() {
                    out.push(self.value(x).map_err(|e| e.within(|| format!("[{i}]")))?);
                }
                out.into()
            }
            Value::Object(m) => match m.get(TAG) {
                Some(tag) => self.tagged(tag, m, v)?,
                None => self.map(m)?,
            },
        })
    }

    fn map(&self, m: &serde_json::Map<String, Value>) -> Res<Dynamic> {
        let mut out = Map::new();
        for (k, x) in m {
            let key = match k.strip_prefix('$') {
                None => k.as_str(),
                Some(rest) if rest.starts_with('$') => rest,
                Some(_) => {
                    return Err(WireError::malformed(format!(
                        "the map key {k:?} starts with one `$` (a map's own `$` keys come doubled)"
                    )))
                }
            };
            let x = self.value(x).map_err(|e| e.within(|| format!(".{key}")))?;
            out.insert(key.into(), x);
        }
        Ok(out.into())
    }

    /// Where a handle from `self.from` lives.
    fn place(&self, on: Option<String>) -> Option<String> {
        on.or_else(|| self.from.map(str::to_owned))
    }

    fn tagged(&self, tag: &Value, m: &serde_json::Map<String, Value>, whole: &Value) -> Res<Dynamic> {
        let Value::String(tag) = tag else {
            return Err(WireError::malformed(format!("the type tag {tag} is not a string")));
        };
        let text = |field: &str| match m.get(field) {
            Some(Value::String(s)) => Ok(s.as_str()),
            _ => Err(WireError::malformed(format!("a {tag} needs the string field {field:?}"))),
        };
        let int = |field: &str| match m.get(field).and_then(Value::as_i64) {
            Some(i) => Ok(i),
            None => Err(WireError::malformed(format!("a {tag} needs the integer field {field:?}"))),
        };
        Ok(match tag.as_str() {
            "char" => {
                let mut chars = text("v")?.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => c.into(),
                    _ => return Err(WireError::malformed(format!("a char is one character, not {:?}", text("v")?))),
                }
            }
            "blob" => Dynamic::from_blob(unhex(text("hex")?)?),
            "float" => match text("v")? {
                "NaN" => f64::NAN.into(),
                "inf" => f64::INFINITY.into(),
                "-inf" => f64::NEG_INFINITY.into(),
                other => return Err(WireError::malformed(format!("{other:?} is not a float (NaN, inf or -inf)"))),
            },
            "range" => Dynamic::from(int("start")?..int("end")?),
            "range_inclusive" => Dynamic::from(int("start")?..=int("end")?),
            "Netns" => {
                let n: Netns = fields(tag, whole)?;
                Dynamic::from(Netns { on: self.place(n.on), ..n })
            }
            "Proc" => {
                let p: Proc = fields(tag, whole)?;
                Dynamic::from(Proc { on: self.place(p.on), ..p })
            }
            "TcpListener" => Dynamic::from(self.listener(fields(tag, whole)?)?),
            "Host" => Dynamic::from(fields::<Host>(tag, whole)?),
            "Exec" => Dynamic::from(fields::<Exec>(tag, whole)?),
            "Ping" => Dynamic::from(fields::<Ping>(tag, whole)?),
            "PingAll" => Dynamic::from(fields::<PingAll>(tag, whole)?),
            "Error" => Dynamic::from(fields::<CallFailure>(tag, whole)?),
            other => {
                return Err(WireError::malformed(format!(
                    "unknown type tag {other:?} (known: char, blob, float, range, range_inclusive, Netns, Proc, \
                     TcpListener, Exec, Ping, PingAll, Error, Host)"
                )))
            }
        })
    }

    /// A listener from another machine is its copy; one living here (sent before) is the
    /// listener itself again.
    fn listener(&self, l: Listener) -> Res<TcpService> {
        let on = self.place(l.on);
        if on.is_some() {
            return Ok(TcpService::elsewhere(l.ns, on, l.id, l.addr, l.accepted, l.open));
        }
        SENT.with(|sent| sent.borrow().get(&l.id).cloned()).ok_or_else(|| {
            WireError::malformed(format!(
                "the TCP listener {} ({}, in {}) is not one this machine started (a listener is used on the \
                 machine it listens on)",
                l.id, l.addr, l.ns
            ))
        })
    }
}

fn number(n: &Number) -> Res<Dynamic> {
    if let Some(i) = n.as_i64() {
        return Ok(Dynamic::from_int(i));
    }
    if n.is_f64() {
        return Ok(Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)));
    }
    Err(WireError::malformed(format!("{n} is beyond the integers scripts have ({} to {})", INT::MIN, INT::MAX)))
}

/// A tagged object's fields as `T` (the tag is ignored as a field `T` does not have).
fn fields<T: DeserializeOwned>(tag: &str, whole: &Value) -> Res<T> {
    T::deserialize(whole).map_err(|e| WireError::malformed(format!("a {tag} with a wrong field: {e}")))
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
