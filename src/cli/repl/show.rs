//! How the REPL echoes a value: strings quoted, maps and arrays in Rhai's own syntax (one item a
//! line when long), nslab's values (`Ping`, `Exec`, `Netns`) as their `to_string` shows them.

use rhai::{Array, Dynamic, Engine, FnPtr, Map, AST};

const WIDTH: usize = 100;

/// The text to echo for a statement's value; None for `()`.
pub fn show(engine: &Engine, value: &Dynamic) -> Option<String> {
    if value.is_unit() {
        return None;
    }
    Some(render(engine, value, 0))
}

fn render(engine: &Engine, v: &Dynamic, indent: usize) -> String {
    if v.is_string() {
        return format!("{:?}", v.clone().into_string().unwrap_or_default());
    }
    if v.is_char() {
        return format!("{:?}", v.as_char().unwrap_or_default());
    }
    if v.is_int() || v.is_float() || v.is_bool() || v.is_unit() {
        return v.to_string();
    }
    if v.is_array() {
        let items: Vec<String> =
            v.read_lock::<Array>().map(|a| a.iter().map(|i| render(engine, i, indent + 2)).collect()).unwrap_or_default();
        return group("[", &items, "]", indent);
    }
    if v.is_map() {
        // A field without a value (`metric: ()`, a route without one) is left out: echoed, it
        // would read `metric: ,`.
        let items: Vec<String> = v
            .read_lock::<Map>()
            .map(|m| {
                m.iter()
                    .filter(|(_, i)| !i.is_unit())
                    .map(|(k, i)| format!("{}: {}", key(k), render(engine, i, indent + 2)))
                    .collect()
            })
            .unwrap_or_default();
        return group("#{", &items, "}", indent);
    }
    // Other types: as their registered to_string shows them (Ping, Exec, Netns, ...).
    FnPtr::new("to_string")
        .ok()
        .and_then(|f| f.call::<String>(engine, &AST::empty(), (v.clone(),)).ok())
        .unwrap_or_else(|| v.to_string())
}

fn key(k: &str) -> String {
    let plain =
        k.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') && k.chars().all(|c| c.is_alphanumeric() || c == '_');
    if plain {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// `[a, b]` on one line when it fits, else one item a line.
fn group(open: &str, items: &[String], close: &str, indent: usize) -> String {
    let line = format!("{open}{}{close}", items.join(", "));
    if indent + line.len() <= WIDTH && !line.contains('\n') {
        return line;
    }
    let pad = " ".repeat(indent + 2);
    let body: Vec<String> = items.iter().map(|i| format!("{pad}{i}")).collect();
    format!("{open}\n{},\n{}{close}", body.join(",\n"), " ".repeat(indent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_stay_on_one_line() {
        let e = Engine::new();
        let v: Dynamic = e.eval(r#"#{name: "lo", up: true, "a-b": [1, 2.5]}"#).unwrap();
        assert_eq!(show(&e, &v).unwrap(), r#"#{"a-b": [1, 2.5], name: "lo", up: true}"#);
        assert_eq!(show(&e, &Dynamic::UNIT), None);
        let v: Dynamic = e.eval(r#"#{dst: "default", metric: (), via: "10.0.0.1"}"#).unwrap();
        assert_eq!(show(&e, &v).unwrap(), r#"#{dst: "default", via: "10.0.0.1"}"#, "no empty fields");
        assert_eq!(show(&e, &Dynamic::from("x\"y")).unwrap(), r#""x\"y""#);
    }

    #[test]
    fn long_arrays_take_a_line_per_item() {
        let e = Engine::new();
        let v: Dynamic = e.eval(r#"[#{name: "a-rather-long-link-name-0", addresses: ["10.0.0.1/24", "fd00::1/64"]}, #{name: "another-long-one"}]"#).unwrap();
        let text = show(&e, &v).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.starts_with("[\n  #{"), "{text}");
    }
}
