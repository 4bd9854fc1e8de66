//! The bindings as the page uses them, in headless Chromium: `scripts/test-web` runs
//! these with cargo test for wasm32 and wasm-bindgen-test-runner as the runner.
#![cfg(target_arch = "wasm32")]

use duckgoose_wasm::Sim;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).expect("property")
}

fn options(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn sim(seed: u32) -> Sim {
    Sim::new(options(&[("nodes", 5.into()), ("seed", seed.into())])).expect("valid options")
}

fn goose_count(frame: &JsValue) -> usize {
    let nodes: Array = get(&get(frame, "view"), "nodes").dyn_into().unwrap();
    nodes
        .iter()
        .filter(|n| get(n, "goose").as_bool() == Some(true))
        .count()
}

#[wasm_bindgen_test]
fn frames_carry_the_view_lines_and_hash() {
    let mut s = sim(42);
    let f = s.frame(16.0).unwrap();
    let nodes: Array = get(&get(&f, "view"), "nodes").dyn_into().unwrap();
    assert_eq!(nodes.length(), 5);
    let first = nodes.get(0);
    assert_eq!(get(&first, "id").as_f64(), Some(1.0));
    assert_eq!(get(&first, "status").as_string().as_deref(), Some("up"));
    assert_eq!(get(&f, "hash").as_string().map(|h| h.len()), Some(16));
    let f = s.run_until(3_000.0).unwrap();
    assert_eq!(goose_count(&f), 1);
    let lines: Array = get(&f, "lines").dyn_into().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| get(&l, "kind").as_string().as_deref() == Some("leader"))
    );
}

#[wasm_bindgen_test]
fn a_random_seed_is_reported() {
    let s = Sim::new(JsValue::UNDEFINED).unwrap();
    assert!(s.seed() >= 0.0 && s.seed() < 1_000_000.0);
}

#[wasm_bindgen_test]
fn bad_input_throws_instead_of_panicking() {
    assert!(Sim::new(options(&[("nodes", 0.into())])).is_err());
    assert!(Sim::new(options(&[("nodes", 10.into())])).is_err());
    assert!(Sim::new(options(&[("seed", (-1).into())])).is_err());
    assert!(Sim::new(options(&[("seed", 1.5.into())])).is_err());
    assert!(Sim::new(options(&[("loss", 200.into())])).is_err());
    assert!(Sim::new(options(&[("heartbeat", 500.into())])).is_err());
    assert!(Sim::new(options(&[("colour", "blue".into())])).is_err());
    assert!(Sim::new(JsValue::from_str("five")).is_err());
    let mut s = sim(1);
    for bad in [
        "",
        "crash",
        "crash 0",
        "crash 42",
        "partition 1/2/3/4",
        "fly 2",
        "request 1 put k",
        "clock 1 5",
        "clock 1 0.49",
        "clock 42 1",
        "clock 1 fast",
        "clock 1 NaN",
        "clock 1 1e3",
        "clock 1 -1",
        "clock 1 99999999999999999999",
    ] {
        assert!(s.act(bad).is_err(), "{bad}");
    }
    assert!(s.frame(f64::NAN).is_ok());
    assert!(s.frame(-5.0).is_ok());
    assert!(s.seek(f64::INFINITY).is_err());
    assert!(s.run_until(-1.0).is_err());
    assert!(s.set_network(150.0, 10.0, 15.0).is_err());
    assert!(s.set_network(1.0, 20.0, 10.0).is_err());
    assert!(s.set_link(1.0, 2.5, 0.0, 1.0, 2.0, false).is_err());
    assert!(Sim::from_scenario("not a run").is_err());
    assert!(Sim::replay_hash("duckgoose 1 nodes=5\n5 crash 1\n1 heal", 10.0).is_err());
    // Nothing refused was recorded.
    assert_eq!(s.scenario().lines().count(), 1);
}

/// A node's clock rate crosses the boundary both ways: the action in, the rate and the
/// clock's reading out in every frame's view, and the run's text.
#[wasm_bindgen_test]
fn clock_rates_cross_the_boundary() {
    let mut s = sim(5);
    s.run_until(1_000.0).unwrap();
    s.act("clock 3 0.5").unwrap();
    let f = s.run_until(1_400.0).unwrap();
    let nodes: Array = get(&get(&f, "view"), "nodes").dyn_into().unwrap();
    let (first, third) = (nodes.get(0), nodes.get(2));
    assert_eq!(get(&third, "clock_rate").as_f64(), Some(500.0));
    assert_eq!(get(&third, "clock").as_f64(), Some(1_200.0));
    assert_eq!(get(&first, "clock_rate").as_f64(), Some(1_000.0));
    assert_eq!(get(&first, "clock").as_f64(), Some(1_400.0));
    assert!(
        s.scenario().ends_with("\n1000 clock 3 0.5"),
        "{}",
        s.scenario()
    );
}

#[wasm_bindgen_test]
fn goose_queries_are_answered() {
    let mut s = sim(3);
    let f = s.run_until(3_000.0).unwrap();
    let goose = get(&get(&f, "view"), "goose").as_f64().unwrap();
    let id = s.act(&format!("request {goose} goose")).unwrap().unwrap();
    let duck = if goose == 1.0 { 2.0 } else { 1.0 };
    let id2 = s.act(&format!("request {duck} goose")).unwrap().unwrap();
    let f = s.run_until(3_500.0).unwrap();
    let answers: Array = get(&f, "answers").dyn_into().unwrap();
    let by_id = |want: f64| {
        answers
            .iter()
            .find(|a| get(a, "id").as_f64() == Some(want))
            .expect("answered")
    };
    assert!(get(&by_id(id), "goose").as_f64().is_some());
    assert_eq!(get(&by_id(id2), "duck").as_bool(), Some(true));
}

#[wasm_bindgen_test]
fn scenarios_replay_to_the_same_hash() {
    let mut s = sim(9);
    s.frame(1_500.0).unwrap();
    s.act("partition 1,2/3,4,5").unwrap();
    for _ in 0..100 {
        s.frame(13.7).unwrap();
    }
    s.act("heal").unwrap();
    s.act("request 3 put x 1").unwrap();
    s.set_network(5.0, 5.0, 30.0).unwrap();
    s.frame(2_000.0).unwrap();
    let (now, hash, text) = (s.now(), s.hash(), s.scenario());
    assert_eq!(text.lines().count(), 5);
    let replayed = Sim::replay_hash(&text, now).unwrap();
    assert_eq!(get(&replayed, "hash").as_string(), Some(hash.clone()));
    let mut loaded = Sim::from_scenario(&text).unwrap();
    loaded.seek(now).unwrap();
    assert_eq!(loaded.hash(), hash);
    // Scrub back and forward again.
    s.seek(1_000.0).unwrap();
    assert_eq!(s.now(), 1_000.0);
    s.seek(now).unwrap();
    assert_eq!(s.hash(), hash);
    // The JSON answers (wasm/src/json.rs) arrive as objects with the fields the page reads.
    let config = s.config().unwrap();
    assert_eq!(get(&config, "nodes").as_f64(), Some(5.0));
    assert_eq!(get(&config, "seed").as_f64(), Some(9.0));
    assert_eq!(
        get(&get(&config, "network"), "latency_min").as_f64(),
        Some(10.0)
    );
    assert!(get(&config, "compaction").is_undefined());
    let link = s.link_info(1.0, 2.0).unwrap();
    assert_eq!(get(&link, "loss").as_f64(), Some(5.0));
    assert_eq!(get(&link, "latencyMin").as_f64(), Some(5.0));
    assert_eq!(get(&link, "latencyMax").as_f64(), Some(30.0));
    assert_eq!(get(&link, "cut").as_bool(), Some(false));
}

#[wasm_bindgen_test]
fn zones_follow_partitions() {
    let mut s = sim(4);
    s.act("partition 1,2,3/-/4,5").unwrap();
    let f = s.frame(0.0).unwrap();
    let zones: Array = get(&f, "zones").dyn_into().unwrap();
    assert_eq!(zones.length(), 3);
    let middle: Array = zones.get(1).dyn_into().unwrap();
    assert_eq!(middle.length(), 0);
    s.act("heal").unwrap();
    let f = s.frame(0.0).unwrap();
    let zones: Array = get(&f, "zones").dyn_into().unwrap();
    assert_eq!(zones.length(), 0);
}

/// The fencing story through the bindings, as the page sees it: a paused ex-goose's
/// write with its old fence comes back `stale_fence` (with the fence and the entry's
/// term), the same write unfenced `written`, and the goose's store shows which won.
#[wasm_bindgen_test]
fn a_stale_fence_is_refused_and_the_unfenced_write_applied() {
    let mut s = sim(7);
    let goose_of = |f: &JsValue| get(&get(f, "view"), "goose").as_f64();
    let term_of = |f: &JsValue, id: f64| {
        let nodes: Array = get(&get(f, "view"), "nodes").dyn_into().unwrap();
        let node = nodes.iter().find(|n| get(n, "id").as_f64() == Some(id));
        get(&node.expect("listed"), "term").as_f64().unwrap()
    };
    // Runs until request `id` is answered; returns (answer, frame).
    let answer = |s: &mut Sim, id: f64| {
        for _ in 0..100 {
            let f = s.frame(10.0).unwrap();
            let answers: Array = get(&f, "answers").dyn_into().unwrap();
            if let Some(a) = answers.iter().find(|a| get(a, "id").as_f64() == Some(id)) {
                return (a, f);
            }
        }
        panic!("request {id} unanswered");
    };
    let x_at_goose = |f: &JsValue| {
        let entries: Array = get(&get(&get(f, "view"), "store"), "entries")
            .dyn_into()
            .unwrap();
        let pair = entries
            .iter()
            .find(|p| Array::from(p).get(0).as_string().as_deref() == Some("x"));
        pair.map(|p| Array::from(&p).get(1).as_string().unwrap())
    };
    let outcome = |a: &JsValue| get(a, "outcome").as_string().unwrap();

    let mut f = s.run_until(3_000.0).unwrap();
    let a = goose_of(&f).expect("a goose");
    let fence_a = term_of(&f, a);
    s.act(&format!("pause {a}")).unwrap();
    while goose_of(&f).is_none_or(|g| g == a) {
        assert!(get(&get(&f, "view"), "now").as_f64().unwrap() < 10_000.0);
        f = s.frame(20.0).unwrap();
    }
    let b = goose_of(&f).unwrap();
    let fence_b = term_of(&f, b);
    let id = s
        .act(&format!("request {b} fenced {fence_b} put x b"))
        .unwrap()
        .unwrap();
    assert_eq!(outcome(&answer(&mut s, id).0), "written");
    s.act(&format!("resume {a}")).unwrap();
    let id = s
        .act(&format!("request {b} fenced {fence_a} put x a"))
        .unwrap()
        .unwrap();
    let (refused, f) = answer(&mut s, id);
    assert_eq!(outcome(&refused), "stale_fence");
    assert_eq!(get(&refused, "ok").as_bool(), Some(false));
    assert_eq!(get(&refused, "fence").as_f64(), Some(fence_a));
    assert_eq!(get(&refused, "entry_term").as_f64(), Some(fence_b));
    assert_eq!(x_at_goose(&f).as_deref(), Some("b"));
    let id = s.act(&format!("request {b} put x a")).unwrap().unwrap();
    let (written, f) = answer(&mut s, id);
    assert_eq!(outcome(&written), "written");
    assert_eq!(x_at_goose(&f).as_deref(), Some("a"));
}

#[wasm_bindgen_test]
fn compaction_options_cross_the_boundary() {
    let bad = |pairs: &[(&str, JsValue)]| Sim::new(options(pairs)).is_err();
    assert!(bad(&[("compactEvery", 0.into())]));
    assert!(bad(&[("compactEvery", (-3).into())]));
    assert!(bad(&[("compactEvery", "often".into())]));
    assert!(bad(&[("snapshotChunk", 16.into())]));
    assert!(bad(&[
        ("compactEvery", 5.into()),
        ("snapshotChunk", 0.into())
    ]));

    let mut s = Sim::new(options(&[
        ("seed", 3.into()),
        ("compactEvery", 5.into()),
        ("snapshotChunk", 8.into()),
    ]))
    .expect("valid options");
    let compaction = get(&s.config().unwrap(), "compaction");
    assert_eq!(get(&compaction, "threshold").as_f64(), Some(5.0));
    assert_eq!(get(&compaction, "chunk_bytes").as_f64(), Some(8.0));
    assert!(s.scenario().contains(" compact=5/0/8"), "{}", s.scenario());

    let f = s.run_until(2_000.0).unwrap();
    let goose = get(&get(&f, "view"), "goose").as_f64().expect("a goose") as u32;
    for i in 0..8 {
        s.act(&format!("request {goose} put k{i} v")).unwrap();
    }
    let f = s.run_until(3_000.0).unwrap();
    let nodes: Array = get(&get(&f, "view"), "nodes").dyn_into().unwrap();
    for n in nodes.iter() {
        let snapshot = get(&n, "snapshot");
        let index = get(&snapshot, "index")
            .as_f64()
            .expect("every node compacted");
        assert!(index >= 5.0);
        assert!(get(&snapshot, "term").as_f64().is_some());
        // The log view's entries all follow the snapshot.
        let log: Array = get(&n, "log").dyn_into().unwrap();
        assert!(
            log.iter()
                .all(|e| get(&e, "index").as_f64().unwrap() > index)
        );
    }
    let lines: Array = get(&f, "lines").dyn_into().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| get(&l, "kind").as_string().as_deref() == Some("snapshot"))
    );
}
