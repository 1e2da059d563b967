//! PLACEHOLDER until the full encoding lands (helper branch i16-wire): primitives and Netns.

use rhai::Dynamic;
use serde_json::{json, Value};

use super::values::Netns;

/// A value that cannot cross the channel.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WireError(String);

/// A script value as JSON.
pub fn encode(v: &Dynamic) -> Result<Value, WireError> {
    if v.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.as_bool() {
        return Ok(json!(b));
    }
    if let Ok(i) = v.as_int() {
        return Ok(json!(i));
    }
    if v.is_string() {
        return Ok(json!(v.clone().into_string().unwrap()));
    }
    if let Some(n) = v.read_lock::<Netns>() {
        return Ok(json!({"$type": "Netns", "name": n.name, "on": n.on}));
    }
    if let Some(a) = v.read_lock::<rhai::Array>() {
        return Ok(Value::Array(a.iter().map(encode).collect::<Result<_, _>>()?));
    }
    if let Some(m) = v.read_lock::<rhai::Map>() {
        return Ok(Value::Object(m.iter().map(|(k, v)| Ok((k.to_string(), encode(v)?))).collect::<Result<_, WireError>>()?));
    }
    Err(WireError(format!("cannot send a {}", v.type_name())))
}

/// `encode`, for machine `machine`.
pub fn encode_for(v: &Dynamic, machine: &str) -> Result<Value, WireError> {
    if let Some(n) = v.read_lock::<Netns>() {
        let on = n.on.clone().filter(|m| m != machine);
        return Ok(json!({"$type": "Netns", "name": n.name, "on": on}));
    }
    encode(v)
}

/// A value back.
pub fn decode(v: &Value, on: Option<&str>) -> Result<Dynamic, WireError> {
    Ok(match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => n.as_i64().map(Dynamic::from).unwrap_or_else(|| n.as_f64().unwrap_or(0.0).into()),
        Value::String(s) => s.clone().into(),
        Value::Array(a) => a.iter().map(|x| decode(x, on)).collect::<Result<rhai::Array, _>>()?.into(),
        Value::Object(o) if o.get("$type").and_then(Value::as_str) == Some("Netns") => Dynamic::from(Netns {
            name: o.get("name").and_then(Value::as_str).map(String::from),
            on: o.get("on").and_then(Value::as_str).map(String::from).or(on.map(String::from)),
        }),
        Value::Object(o) => {
            let mut m = rhai::Map::new();
            for (k, x) in o {
                m.insert(k.as_str().into(), decode(x, on)?);
            }
            m.into()
        }
    })
}
