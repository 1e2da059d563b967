use std::path::Path;
use std::time::Instant;

use rhai::{Array, Dynamic, Map, Scope};

use super::*;
use crate::lab::pingall::{PingMatrix, PingPair};
use crate::lab::{LinkView, PingReport, RouteGetView};
use crate::script::failure::FailureKind;
use crate::script::types::TYPES;
use crate::script::values::link_map;
use crate::script::values_routes::route_get_map;
use crate::script::Session;

fn session() -> Session {
    Session::new(None, Path::new("."), std::rc::Rc::new(|_: &str| {}))
}

/// Through text, as the channel carries it.
fn round_trip(v: &Dynamic, on: Option<&str>) -> Dynamic {
    let text = encode(v).unwrap().to_string();
    decode(&serde_json::from_str(&text).unwrap(), on).unwrap()
}

/// Type and value, recursively (Debug shows 1 and 1.0 apart, and a map's keys).
fn shown(v: &Dynamic) -> String {
    if let Ok(a) = v.as_array_ref() {
        return format!("[{}]", a.iter().map(shown).collect::<Vec<_>>().join(", "));
    }
    if let Ok(m) = v.as_map_ref() {
        return format!("#{{{}}}", m.iter().map(|(k, x)| format!("{k:?}: {}", shown(x))).collect::<Vec<_>>().join(", "));
    }
    format!("{}:{v:?}", v.type_name())
}

/// Every getter the reference lists for `ty` (but `skip`), then to_string/to_debug/type_of,
/// read through the engine from `v`.
fn getters(s: &Session, ty: &str, v: &Dynamic, skip: &[&str]) -> Vec<String> {
    let doc = TYPES.iter().find(|t| t.name == ty).unwrap_or_else(|| panic!("{ty} is in TYPES"));
    let mut exprs: Vec<String> = doc.fields.iter().filter(|(n, ..)| !skip.contains(n)).map(|(n, ..)| format!("x.{n}")).collect();
    exprs.extend(["x.to_string()", "x.to_debug()", "type_of(x)"].map(String::from));
    exprs
        .iter()
        .map(|e| {
            let mut scope = Scope::new();
            scope.push("x", v.clone());
            let r: Dynamic = s.engine.eval_with_scope(&mut scope, e).unwrap_or_else(|err| panic!("{e}: {err}"));
            format!("{e} = {}", shown(&r))
        })
        .collect()
}

/// Encodes, decodes and checks that every getter reads the same (and that the tag names `ty`).
fn same_through_engine(ty: &str, v: Dynamic, skip: &[&str]) -> Dynamic {
    let s = session();
    let json = encode(&v).unwrap();
    assert_eq!(json["$"], ty, "{json}");
    let back = round_trip(&v, None);
    assert_eq!(getters(&s, ty, &back, skip), getters(&s, ty, &v, skip));
    back
}

#[test]
fn plain_values_come_back_the_same_and_floats_stay_floats() {
    let mut inner = Map::new();
    inner.insert("$".into(), 1i64.into());
    inner.insert("$x".into(), "y".into());
    inner.insert("$$z".into(), ().into());
    inner.insert("".into(), 'c'.into());
    inner.insert("plain".into(), 2.5.into());
    let values: Vec<Dynamic> = vec![
        Dynamic::UNIT,
        true.into(),
        false.into(),
        0i64.into(),
        i64::MIN.into(),
        i64::MAX.into(),
        1.0.into(),
        (-0.0f64).into(),
        1e300.into(),
        f64::MIN_POSITIVE.into(),
        0.1.into(),
        f64::INFINITY.into(),
        f64::NEG_INFINITY.into(),
        "".into(),
        "h1 ünï \"quoted\" \n $tag".into(),
        'x'.into(),
        '€'.into(),
        Dynamic::from_blob((0..=255).collect()),
        Dynamic::from_blob(Vec::new()),
        Dynamic::from(1i64..5),
        Dynamic::from(-3i64..=3),
        Array::new().into(),
        Map::new().into(),
        inner.clone().into(),
        vec![Dynamic::from(1i64), 1.0.into(), "1".into(), inner.into(), vec![Dynamic::UNIT].into()].into(),
    ];
    for v in values {
        let back = round_trip(&v, None);
        assert_eq!(shown(&back), shown(&v));
    }
    let nan = round_trip(&f64::NAN.into(), None);
    assert!(nan.as_float().unwrap().is_nan());
    assert!(round_trip(&(-0.0f64).into(), None).as_float().unwrap().is_sign_negative());
    // A float with no fraction is written with one, so that it is read as a float.
    assert_eq!(encode(&1.0.into()).unwrap().to_string(), "1.0");
    assert_eq!(encode(&1i64.into()).unwrap().to_string(), "1");
}

#[test]
fn a_maps_dollar_keys_are_escaped_and_cannot_pose_as_tags() {
    let mut m = Map::new();
    m.insert("$".into(), "Netns".into());
    m.insert("name".into(), "h1".into());
    let json = encode(&m.into()).unwrap();
    assert_eq!(json, serde_json::json!({"$$": "Netns", "name": "h1"}));
    let back = decode(&json, Some("m2")).unwrap();
    assert!(back.is_map(), "{back:?}");
    assert_eq!(back.as_map_ref().unwrap()["$"].clone().into_string().unwrap(), "Netns");
}

#[test]
fn a_shared_value_is_sent_as_its_value() {
    let s = session();
    // A variable a closure captured is shared.
    let v: Dynamic = s.engine.eval("let a = [1, 2.0]; let f = || a; a").unwrap();
    let back = round_trip(&v, None);
    assert_eq!(shown(&back), "[i64:1, f64:2.0]");
}

#[test]
fn maps_of_every_result_map_type_come_back_the_same() {
    // A map of each type the reference lists, its fields holding values of their documented
    // kind.
    for t in TYPES.iter().filter(|t| t.map) {
        let mut m = Map::new();
        for (i, (name, ty, _)) in t.fields.iter().enumerate() {
            let v: Dynamic = match *ty {
                "int" => (i as i64 * 1000 - 7).into(),
                "float" => (i as f64 + 1.0).into(),
                "bool" => (i % 2 == 0).into(),
                "array" => vec![Dynamic::from(format!("{name}-a")), Dynamic::UNIT].into(),
                _ => format!("{name} value").into(),
            };
            m.insert((*name).into(), v);
        }
        let v: Dynamic = m.into();
        assert_eq!(shown(&round_trip(&v, None)), shown(&v), "{}", t.name);
    }
    // And as the lab's views make them.
    let link =
        LinkView { name: "veth0".into(), index: 7, mtu: 1450, addresses: vec!["10.0.0.1/24".into()], ..Default::default() };
    let v = link_map(link);
    assert_eq!(shown(&round_trip(&v, None)), shown(&v));
    let v = route_get_map(RouteGetView { ok: false, error: "Network is unreachable".into(), ..Default::default() });
    assert_eq!(shown(&round_trip(&v, None)), shown(&v));
}

fn report() -> PingReport {
    PingReport {
        sent: 3,
        received: 2,
        rtts_ms: vec![0.051, 1.0, 0.0625],
        error: Some("Time exceeded from 10.0.0.1".into()),
        ttl: Some(63),
        from: Some("10.0.0.2".parse().unwrap()),
        icmp_from: Some("fd00::1".parse().unwrap()),
        icmp_rtt_ms: Some(2.0),
        icmp_kind: Some(crate::engine::icmp::IcmpErrorKind::TimeExceeded),
        send_errno: Some(101),
    }
}

#[test]
fn netns_comes_back_with_every_getter_the_same() {
    for name in [Some("h1".to_string()), None] {
        let v = Dynamic::from(Netns { name: name.clone(), on: Some("m3".into()) });
        let back = same_through_engine("Netns", v, &[]);
        assert_eq!(back.cast::<Netns>(), Netns { name, on: Some("m3".into()) });
    }
}

#[test]
fn exec_comes_back_with_every_getter_the_same() {
    let v = Dynamic::from(Exec { code: 130, stdout: "out\n".into(), stderr: "err ü\n".into() });
    let _ = same_through_engine("Exec", v, &[]);
}

#[test]
fn ping_comes_back_with_every_getter_the_same() {
    let v = Dynamic::from(Ping { dst: "10.0.0.9".into(), report: report() });
    let back = same_through_engine("Ping", v, &[]);
    // Also what no getter shows.
    assert_eq!(format!("{:?}", back.cast::<Ping>().report), format!("{:?}", report()));
    let empty = Dynamic::from(Ping { dst: "fd00::9".into(), report: PingReport::default() });
    let _ = same_through_engine("Ping", empty, &[]);
}

#[test]
fn pingall_comes_back_with_every_getter_the_same() {
    let pair = |from: &str, to: &str, dst: &str, received| PingPair {
        from: from.into(),
        to: to.into(),
        dst: dst.parse().unwrap(),
        report: PingReport { sent: 1, received, rtts_ms: vec![0.05; received as usize], ..report() },
    };
    let m = PingMatrix {
        namespaces: vec![("a".into(), vec!["10.0.0.1".parse().unwrap()]), ("b".into(), vec!["fd00::2".parse().unwrap()])],
        pairs: vec![pair("a", "b", "fd00::2", 1), pair("b", "a", "10.0.0.1", 0)],
        count: 1,
    };
    let _ = same_through_engine("PingAll", Dynamic::from(PingAll(m)), &[]);
}

#[test]
fn proc_comes_back_with_every_getter_the_same() {
    let p = Proc { pid: 4242, argv: vec!["sleep".into(), "10 s".into()], ns: Ns::named("h1"), on: None };
    // running, stdout and stderr ask the lab by pid (there is none here); the pid is the same.
    let back = same_through_engine("Proc", Dynamic::from(p.clone()), &["running", "stdout", "stderr"]);
    assert_eq!(format!("{:?}", back.cast::<Proc>()), format!("{p:?}"));
}

#[test]
fn error_comes_back_with_every_getter_the_same() {
    for (hint, kind) in [(Some("try netns_add first"), FailureKind::Lab), (None, FailureKind::Assertion { custom: true })] {
        let f = CallFailure { message: "no namespace h9".into(), hint: hint.map(Into::into), kind, held: None };
        let back = same_through_engine("Error", Dynamic::from(f.clone()), &[]);
        assert_eq!(format!("{:?}", back.cast::<CallFailure>()), format!("{f:?}"));
    }
}

#[test]
fn a_listener_comes_back_as_a_copy_and_returns_home_as_itself() {
    let s = session();
    let here = TcpService::unbound_for_tests(&Ns::named("h1"), "10.0.0.1:8080".parse().unwrap());
    let v = Dynamic::from(here.clone());
    // An agent's answer, read by the coordinator: a copy that lives on m2.
    let json = encode(&v).unwrap();
    assert_eq!(json["$"], "TcpListener");
    let copy = decode(&serde_json::from_str(&json.to_string()).unwrap(), Some("m2")).unwrap();
    let c = copy.clone().cast::<TcpService>();
    assert!(!c.is_here());
    assert_eq!(c.on.as_deref(), Some("m2"));
    // The same getters, but to_string says where it lives.
    let skip = |v: Vec<String>| v.into_iter().filter(|g| !g.starts_with("x.to_")).collect::<Vec<_>>();
    assert_eq!(skip(getters(&s, "TcpListener", &copy, &[])), skip(getters(&s, "TcpListener", &v, &[])));
    assert_eq!(
        getters(&s, "TcpListener", &copy, &[])[4],
        "x.to_string() = string:\"tcp_listen(namespace \\\"h1\\\" on m2, 10.0.0.1:8080)\""
    );
    // Named in a request to m2: the agent finds the listener itself again.
    let request = encode_for(&copy, "m2").unwrap();
    assert_eq!(request["on"], Value::Null);
    let home = decode(&serde_json::from_str(&request.to_string()).unwrap(), None).unwrap().cast::<TcpService>();
    assert!(home.is_here() && home.same(&here));
    // One this process never sent is refused, naming it.
    let mut stranger = request.clone();
    stranger["id"] = u64::MAX.into();
    let e = decode(&stranger, None).unwrap_err().to_string();
    assert!(e.contains(&format!("TCP listener {} (10.0.0.1:8080, in namespace \"h1\")", u64::MAX)), "{e}");
}

#[test]
fn handles_from_an_agent_live_there_and_are_sent_back_as_its_own() {
    let h1 = Dynamic::from(Netns { name: Some("h1".into()), on: None });
    let root = Dynamic::from(Netns { name: None, on: None });
    let other = Dynamic::from(Netns { name: Some("h3".into()), on: Some("m3".into()) });
    let p = Dynamic::from(Proc { pid: 7, argv: vec!["sh".into()], ns: Ns::Root, on: None });
    let mut m = Map::new();
    m.insert("nodes".into(), vec![h1, root, other, p].into());
    let answer: Dynamic = m.into();

    let back = round_trip(&answer, Some("m2"));
    let nodes = back.as_map_ref().unwrap()["nodes"].as_array_ref().unwrap().clone();
    let ons: Vec<Option<String>> = nodes[..3].iter().map(|n| n.clone().cast::<Netns>().on).collect();
    assert_eq!(ons, [Some("m2".into()), Some("m2".into()), Some("m3".into())]);
    assert_eq!(nodes[1].clone().cast::<Netns>().to_string(), "host(\"m2\").root()");
    assert_eq!(nodes[3].clone().cast::<Proc>().on.as_deref(), Some("m2"));

    // Sent back to m2: its own handles without `on`, m3's keeping it (the agent refuses it).
    let request = encode_for(&back, "m2").unwrap();
    let ons: Vec<&Value> = request["nodes"].as_array().unwrap().iter().map(|n| &n["on"]).collect();
    assert_eq!(ons, [&Value::Null, &Value::Null, &Value::from("m3"), &Value::Null]);
    // Read by m2's agent (from the coordinator: no remapping).
    let there = decode(&request, None).unwrap();
    let nodes = there.as_map_ref().unwrap()["nodes"].as_array_ref().unwrap().clone();
    assert_eq!(nodes[0].clone().cast::<Netns>(), Netns { name: Some("h1".into()), on: None });
    assert_eq!(nodes[2].clone().cast::<Netns>(), Netns { name: Some("h3".into()), on: Some("m3".into()) });
    // Plain `encode` changes nothing.
    assert_eq!(encode(&back).unwrap()["nodes"][0]["on"], "m2");
}

#[test]
fn host_comes_back_with_its_name() {
    let h = Dynamic::from(crate::script::remote::Host { name: "m2".into() });
    let back = round_trip(&h, Some("m2"));
    assert_eq!(back.cast::<crate::script::remote::Host>().name, "m2");
}

#[test]
fn every_handle_type_scripts_see_has_a_test_here() {
    // The types with getters registered (what `type_of` names), each one this file round-trips.
    let covered = ["Netns", "Exec", "Ping", "TcpListener", "PingAll", "Proc", "Error", "Host"];
    for t in TYPES.iter().filter(|t| !t.map) {
        assert!(covered.contains(&t.name), "wire_tests has no round trip of {}", t.name);
    }
    let s = session();
    for sig in s.engine.gen_fn_signatures(false) {
        let Some(rest) = sig.strip_prefix("get$") else { continue };
        let ty = rest.split_once("(_: &mut ").unwrap().1.split(')').next().unwrap().rsplit("::").next().unwrap();
        let known = TYPES.iter().any(|t| t.name == ty) || ["Proc", "TcpService", "CallFailure"].contains(&ty);
        assert!(known, "{ty} has getters but no entry in TYPES (and no round trip here)");
    }
}

#[test]
fn what_cannot_be_sent_is_named_with_where_it_is() {
    let s = session();
    let mut cases: Vec<(Dynamic, &str)> = vec![
        (s.engine.eval("Fn(\"netns_add\")").unwrap(), "the function pointer Fn(\"netns_add\") at [1].f cannot be sent"),
        (s.engine.eval("let n = 1; |x| x + n").unwrap(), "a closure at [1].f cannot be sent"),
        (s.engine.eval("timestamp()").unwrap(), "a timestamp at [1].f cannot be sent"),
    ];
    cases.push((Dynamic::from(std::time::Duration::from_secs(1)), "a value of type Duration at [1].f cannot be sent"));
    for (v, want) in cases {
        let mut m = Map::new();
        m.insert("f".into(), v);
        let arr: Array = vec![Dynamic::UNIT, m.into()];
        let e = encode(&arr.into()).unwrap_err().to_string();
        assert!(e.starts_with(want), "{e}");
    }
}

#[test]
fn malformed_json_is_refused_saying_what_and_where() {
    let cases = [
        (serde_json::json!([{"$": "Gadget"}]), "at [0] from the agent's channel: unknown type tag \"Gadget\""),
        (
            serde_json::json!({"a": {"$": "Netns", "name": 5, "on": null}}),
            "at .a from the agent's channel: a Netns with a wrong field",
        ),
        (serde_json::json!({"$": "Exec", "code": 1}), "a Exec with a wrong field: missing field `stdout`"),
        (serde_json::json!({"$x": 1}), "the map key \"$x\" starts with one `$`"),
        (serde_json::json!({"$": "char", "v": "ab"}), "a char is one character, not \"ab\""),
        (serde_json::json!({"$": "blob", "hex": "0g"}), "\"0g\" in a blob is not a hex byte"),
        (serde_json::json!({"$": "float", "v": "1"}), "\"1\" is not a float"),
        (serde_json::json!({"$": 3}), "the type tag 3 is not a string"),
        (serde_json::json!(u64::MAX), "18446744073709551615 is beyond the integers scripts have"),
    ];
    for (json, want) in cases {
        let e = decode(&json, None).unwrap_err().to_string();
        assert!(e.contains(want), "{json}: {e}");
    }
}

#[test]
fn three_hundred_maps_encode_and_decode_in_milliseconds() {
    let rows: Array = (0..300)
        .map(|i| {
            let mut m = Map::new();
            m.insert("name".into(), format!("h{i}").into());
            m.insert("index".into(), (i as i64).into());
            m.insert("mtu".into(), 1500i64.into());
            m.insert("carrier".into(), true.into());
            m.insert("rtt".into(), 0.05.into());
            m.insert("addresses".into(), vec![Dynamic::from(format!("10.0.{}.{}/24", i / 256, i % 256))].into());
            m.insert("ns".into(), Dynamic::from(Netns { name: Some(format!("h{i}")), on: Some("m2".into()) }));
            m.into()
        })
        .collect();
    let v: Dynamic = rows.into();
    let rounds = 20;
    let start = Instant::now();
    let mut json = Value::Null;
    for _ in 0..rounds {
        json = encode_for(&v, "m2").unwrap();
    }
    let enc = start.elapsed() / rounds;
    let start = Instant::now();
    let mut text = String::new();
    for _ in 0..rounds {
        text = json.to_string();
    }
    let write = start.elapsed() / rounds;
    let json: Value = serde_json::from_str(&text).unwrap();
    let start = Instant::now();
    for _ in 0..rounds {
        let _ = decode(&json, Some("m2")).unwrap();
    }
    let dec = start.elapsed() / rounds;
    eprintln!("300 maps of 7 fields: encode {enc:?}, to text {write:?}, decode {dec:?} ({} bytes)", text.len());
    // Unoptimised test builds are ~10x slower than release; still far from a network round trip.
    assert!(enc.as_millis() < 50 && dec.as_millis() < 50, "encode {enc:?}, decode {dec:?}");
}
