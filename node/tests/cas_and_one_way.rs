//! Compare-and-set over HTTP (`POST /kv/{key}/cas`), and one-way partitions through the
//! admin API (`block_in` / `block_out`), with real processes.

use std::time::Duration;

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");
use serde_json::json;

fn cas(cluster: &Cluster, id: u64, key: &str, body: &str) -> Resp {
    cluster
        .call(id, "POST", &format!("/kv/{key}/cas"), body)
        .unwrap_or_else(|e| panic!("cas on {id}: {e}"))
}

#[test]
fn compare_and_set_swaps_only_on_the_expected_value() {
    let cluster = Cluster::start(BIN, "cas", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let get = |key: &str| {
        cluster
            .call(goose, "GET", &format!("/kv/{key}"), "")
            .unwrap()
    };

    // `null`: only when absent.
    let r = cas(&cluster, goose, "k", r#"{"expected":null,"value":"a"}"#);
    assert_eq!((r.status, r.json()), (200, json!({"swapped": true})));
    assert_eq!(get("k").body, "a");
    let r = cas(&cluster, goose, "k", r#"{"expected":null,"value":"b"}"#);
    assert_eq!((r.status, r.json()), (200, json!({"swapped": false})));
    assert_eq!(get("k").body, "a");
    // A value: only when it is the current one.
    let r = cas(&cluster, goose, "k", r#"{"expected":"zz","value":"b"}"#);
    assert_eq!(r.json(), json!({"swapped": false}));
    let r = cas(&cluster, goose, "k", r#"{"expected":"a","value":"b"}"#);
    assert_eq!(r.json(), json!({"swapped": true}));
    assert_eq!(get("k").body, "b");
    // After a delete the key is absent again.
    assert_eq!(
        cluster.call(goose, "DELETE", "/kv/k", "").unwrap().status,
        200
    );
    let r = cas(&cluster, goose, "k", r#"{"expected":"b","value":"c"}"#);
    assert_eq!(r.json(), json!({"swapped": false}));
    let r = cas(&cluster, goose, "k", r#"{"expected":null,"value":"c"}"#);
    assert_eq!(r.json(), json!({"swapped": true}));
    assert_eq!(get("k").body, "c");

    // A duck redirects to the goose, path included, and swaps nothing itself.
    let r = cas(&cluster, duck, "k", r#"{"expected":"c","value":"d"}"#);
    assert_eq!(r.status, 307, "{}", r.body);
    let location = r.header("location").unwrap();
    assert_eq!(
        location,
        format!("http://{}/kv/k/cas", cluster.addr(goose)),
        "{location}"
    );
    assert_eq!(get("k").body, "c");

    // Bad bodies: 400 with a reason, and nothing changes.
    for body in [
        r#"{"value":"d"}"#,
        r#"{"expected":"c"}"#,
        r#"{"expected":1,"value":"d"}"#,
        r#"{"expected":"c","value":"d","extra":true}"#,
        "{",
        "",
    ] {
        let r = cas(&cluster, goose, "k", body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains("malformed JSON"), "{body}: {}", r.body);
    }
    let long = "k".repeat(1025);
    let r = cas(&cluster, goose, &long, r#"{"expected":null,"value":"x"}"#);
    assert_eq!(r.status, 400);
    assert_eq!(get("k").body, "c");
}

#[test]
fn one_way_cuts_drop_only_the_blocked_direction() {
    let cluster = Cluster::start(BIN, "oneway", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let others: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    let term = cluster.status(goose).unwrap()["term"].as_u64().unwrap();

    // The goose stops sending to both followers but still hears them.
    let body = json!({ "block_out": others }).to_string();
    let r = cluster
        .call(goose, "POST", "/admin/partition", &body)
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"blocked": [], "blocked_in": [], "blocked_out": others})
    );
    let s = cluster.status(goose).unwrap();
    assert_eq!(s["blocked_out"], json!(others));
    assert_eq!(s["blocked_in"], json!([]));

    // The followers stop hearing heartbeats and elect one of themselves in a newer term.
    let new_goose = cluster.wait_one_goose(&others, Duration::from_secs(10));
    let new_term = cluster.status(new_goose).unwrap()["term"].as_u64().unwrap();
    assert!(new_term > term);
    // Their traffic still reaches the old goose: it learns the new term and follows the
    // new leader (after a symmetric cut it would stay behind in its old term).
    wait_for(
        "the old goose to follow the new leader",
        Duration::from_secs(10),
        || {
            let s = cluster.status(goose)?;
            (s["term"].as_u64() == Some(new_term)
                && s["leader"].as_u64() == Some(new_goose)
                && s["role"] == "duck")
                .then_some(())
        },
    );

    // The other direction: the new goose drops everything that arrives from one
    // follower but still sends to it. That follower keeps following (it hears
    // heartbeats), and the goose keeps its quorum through the other one.
    let quiet = *others.iter().find(|&&id| id != new_goose).unwrap();
    for id in &all {
        let r = cluster.call(*id, "DELETE", "/admin/partition", "").unwrap();
        assert_eq!(
            r.json(),
            json!({"blocked": [], "blocked_in": [], "blocked_out": []})
        );
    }
    let body = json!({ "block_in": [quiet] }).to_string();
    let r = cluster
        .call(new_goose, "POST", "/admin/partition", &body)
        .unwrap();
    assert_eq!(
        r.json(),
        json!({"blocked": [], "blocked_in": [quiet], "blocked_out": []})
    );
    assert_eq!(cluster.role(new_goose).as_deref(), Some("goose"));
    let s = cluster.status(quiet).unwrap();
    assert_eq!(s["leader"].as_u64(), Some(new_goose));
    assert_eq!(s["term"].as_u64(), Some(new_term));

    // Both directions at once are the old `block`.
    let body = json!({ "block": [quiet], "block_in": [] }).to_string();
    let r = cluster
        .call(new_goose, "POST", "/admin/partition", &body)
        .unwrap();
    assert_eq!(
        r.json(),
        json!({"blocked": [quiet], "blocked_in": [quiet], "blocked_out": [quiet]})
    );
    // Bad bodies.
    for (body, reason) in [
        ("{}", "block_in"),
        (r#"{"block_in":[0]}"#, "positive"),
        (r#"{"block_out":[2],"oops":1}"#, "malformed JSON"),
    ] {
        let r = cluster
            .call(new_goose, "POST", "/admin/partition", body)
            .unwrap();
        assert_eq!(r.status, 400, "{body}");
        assert!(r.body.contains(reason), "{body}: {}", r.body);
    }
    let body = json!({ "block_out": [new_goose] }).to_string();
    let r = cluster
        .call(new_goose, "POST", "/admin/partition", &body)
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.body.contains("itself"), "{}", r.body);
}
