//! Seeing the lab: its topology as a map.

use rhai::{Array, Dynamic, Map};

use super::native::{Call, Native};

pub const VIEW: &[Native] = &[Native {
    name: "topology",
    forms: &["topology() -> map"],
    summary: "The lab read back from the kernel, as `nslab graph --format json --routes` writes it: #{lab, nodes, edges}; each node a namespace (name, root, forwarding, links, routes, sysctls), each edge a veth pair, bridge port, vxlan overlay or macvlan/vlan parent (kind, from, to: #{node, link}).",
    example: r#"let t = topology(); print(t.edges.len());"#,
    ip: "ip -j -d link; ip -j addr; ip -j route (in each namespace)",
    call: |c: &mut Call| {
        let t = c.lab().topology()?;
        Ok(to_dynamic(serde_json::to_value(&t).expect("a topology serializes")))
    },
}];

/// JSON as Rhai values: objects as maps, arrays as arrays, numbers as integers (or floats).
fn to_dynamic(v: serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or_default().into(),
        },
        Value::String(s) => s.into(),
        Value::Array(items) => items.into_iter().map(to_dynamic).collect::<Array>().into(),
        Value::Object(fields) => fields.into_iter().map(|(k, v)| (k.into(), to_dynamic(v))).collect::<Map>().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_becomes_rhai_values() {
        let v = serde_json::json!({"a": [1, "x", null, true], "b": {"c": 2.5}});
        let d = to_dynamic(v);
        let m = d.cast::<Map>();
        let a = m["a"].clone().cast::<Array>();
        assert_eq!(a[0].as_int(), Ok(1));
        assert_eq!(a[1].clone().into_string().unwrap(), "x");
        assert!(a[2].is_unit());
        assert_eq!(a[3].as_bool(), Ok(true));
        assert_eq!(m["b"].clone().cast::<Map>()["c"].as_float(), Ok(2.5));
    }
}
