//! Admin requests sent to a duck in the secure configuration: the duck forwards them to
//! the goose with the cluster's token (an HTTP client drops `Authorization` on a
//! redirect to another origin, so a 307 could not carry it), and answers with the
//! goose's reply plus `duckgoose-forwarded-to`. A bad token is refused before anything is
//! forwarded; a forwarded request is never forwarded again; an unreachable goose is a
//! typed 502/504.

use std::time::{Duration, Instant};

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

fn member_ids(status: &serde_json::Value) -> Vec<u64> {
    status["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["id"].as_u64().expect("id"))
        .collect()
}

/// Waits until `id` names `leader` as the goose in its /status.
fn wait_knows_leader(cluster: &Cluster, id: u64, leader: u64) {
    wait_for(
        &format!("node {id} to know goose {leader}"),
        Duration::from_secs(5),
        || (cluster.status(id)?["leader"].as_u64()? == leader).then_some(()),
    );
}

fn token(cluster: &Cluster) -> String {
    cluster
        .token
        .clone()
        .expect("testkit gives the cluster a token")
}

#[test]
fn transfer_through_a_duck_with_the_token() {
    let cluster = Cluster::start(BIN, "fwd-transfer", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let ducks: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    let (duck, target) = (ducks[0], ducks[1]);
    wait_knows_leader(&cluster, duck, goose);

    // The operator command, asked on a duck, with the token.
    let token = token(&cluster);
    let (code, out, err) = run_bin(
        BIN,
        &[
            "transfer",
            "--token",
            &token,
            "--to",
            &target.to_string(),
            &cluster.addr(duck),
        ],
        Duration::from_secs(15),
    );
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert!(out.contains(&format!("\"to\":{target}")), "{out}");
    assert_eq!(
        cluster.wait_one_goose(&all, Duration::from_secs(5)),
        target,
        "the goose moved to the target"
    );

    // A plain request to a duck: the goose's answer, and which goose served it.
    let goose = target;
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let next = *all.iter().find(|&&id| id != goose && id != duck).unwrap();
    wait_knows_leader(&cluster, duck, goose);
    let r = cluster
        .call(
            duck,
            "POST",
            "/admin/transfer",
            &format!("{{\"to\":{next}}}"),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["to"], next, "{}", r.body);
    assert_eq!(
        r.header("duckgoose-forwarded-to"),
        Some(goose.to_string().as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(cluster.wait_one_goose(&all, Duration::from_secs(5)), next);
}

#[test]
fn remove_through_a_duck_with_the_token() {
    let mut cluster = Cluster::start(BIN, "fwd-remove", 4, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let ducks: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    let (duck, gone, also_gone) = (ducks[0], ducks[1], ducks[2]);
    wait_knows_leader(&cluster, duck, goose);

    // With the operator command.
    let token = token(&cluster);
    let (code, out, err) = run_bin(
        BIN,
        &[
            "remove",
            "--token",
            &token,
            "--id",
            &gone.to_string(),
            &cluster.addr(duck),
        ],
        Duration::from_secs(15),
    );
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    cluster.kill9(gone);
    cluster.mark_removed(gone);
    let mut left: Vec<u64> = all.iter().copied().filter(|&id| id != gone).collect();
    wait_for(
        "the goose's membership to shrink",
        Duration::from_secs(5),
        || (member_ids(&cluster.status(goose)?) == left).then_some(()),
    );

    // With a plain request.
    let r = cluster
        .call(duck, "DELETE", &format!("/admin/members/{also_gone}"), "")
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("duckgoose-forwarded-to"),
        Some(goose.to_string().as_str())
    );
    left.retain(|&id| id != also_gone);
    assert_eq!(member_ids(&r.json()), left, "{}", r.body);
    assert_eq!(member_ids(&cluster.status(goose).unwrap()), left);
}

#[test]
fn a_node_joins_through_a_duck_with_the_token() {
    let mut cluster = Cluster::start(BIN, "fwd-join", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    assert_eq!(cluster.put(goose, "early", "yes").unwrap().status, 200);
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    wait_knows_leader(&cluster, duck, goose);

    let via = cluster.node(duck).peer_addr.clone();
    cluster.prepare_joiner(4, &via).unwrap();
    cluster.spawn(4).unwrap();
    wait_for("node 4 to be a member", Duration::from_secs(10), || {
        (member_ids(&cluster.status(goose)?) == vec![1, 2, 3, 4]).then_some(())
    });
    // The duck served the join by forwarding it (not by a redirect the joiner followed).
    wait_for(
        "node 4 to log how it joined",
        Duration::from_secs(5),
        || {
            cluster
                .node(4)
                .log_tail(50)
                .contains(&format!("joined the cluster (forwarded to goose {goose})"))
                .then_some(())
        },
    );
    let commit = cluster.status(goose).unwrap()["commit_index"]
        .as_u64()
        .unwrap();
    wait_for("node 4 to catch up", Duration::from_secs(10), || {
        (cluster.status(4)?["applied_index"].as_u64()? >= commit).then_some(())
    });
    assert_eq!(member_ids(&cluster.status(4).unwrap()), vec![1, 2, 3, 4]);
}

#[test]
fn a_wrong_or_missing_token_to_a_duck_is_refused_and_nothing_is_forwarded() {
    let cluster = Cluster::start(BIN, "fwd-401", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let other = *all.iter().find(|&&id| id != goose && id != duck).unwrap();
    wait_knows_leader(&cluster, duck, goose);
    let before = cluster.status(goose).unwrap();

    let wrong = [("Authorization", "Bearer nope")];
    for headers in [&[][..], &wrong[..]] {
        for (method, path, body) in [
            ("POST", "/admin/members", r#"{"id":9,"addr":"127.0.0.1:9"}"#),
            ("DELETE", &format!("/admin/members/{other}"), ""),
            ("POST", "/admin/transfer", &format!("{{\"to\":{duck}}}")),
        ] {
            let mut headers = headers.to_vec();
            headers.push(("Content-Type", "application/json"));
            let r = request(
                &cluster.addr(duck),
                method,
                path,
                &headers,
                body.as_bytes(),
                Duration::from_secs(10),
            )
            .unwrap();
            assert_eq!(r.status, 401, "{method} {path} {headers:?}: {}", r.body);
            assert_eq!(r.header("duckgoose-forwarded-to"), None);
        }
    }
    let after = cluster.status(goose).unwrap();
    assert_eq!(after["role"], "goose", "no transfer happened");
    assert_eq!(after["term"], before["term"], "no transfer happened");
    assert_eq!(member_ids(&after), vec![1, 2, 3], "no membership change");
    assert_eq!(after["last_log_index"], before["last_log_index"]);
}

#[test]
fn a_forwarded_request_is_not_forwarded_again() {
    let cluster = Cluster::start(BIN, "fwd-loop", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let target = *all.iter().find(|&&id| id != goose && id != duck).unwrap();
    wait_knows_leader(&cluster, duck, goose);
    let before = cluster.status(goose).unwrap();

    let bearer = format!("Bearer {}", token(&cluster));
    let r = request(
        &cluster.addr(duck),
        "POST",
        "/admin/transfer",
        &[
            ("Authorization", bearer.as_str()),
            ("Content-Type", "application/json"),
            ("duckgoose-forwarded-by", "99"),
        ],
        format!("{{\"to\":{target}}}").as_bytes(),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"], "not_leader", "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains(&format!("node {goose}")),
        "names the goose: {}",
        r.body
    );
    assert!(!r.body.contains("  "), "one line of prose: {}", r.body);
    assert_eq!(r.header("duckgoose-forwarded-to"), None);
    let after = cluster.status(goose).unwrap();
    assert_eq!(after["role"], "goose", "nothing was forwarded");
    assert_eq!(after["term"], before["term"]);
}

#[test]
fn an_unreachable_goose_is_a_typed_502_or_504() {
    // The ducks must keep naming the stopped goose however slowly a loaded machine runs
    // this test (with 8-9 s timeouts for all, a new goose was once elected before the
    // second request): once a goose is elected, each duck is restarted in turn with
    // election timeouts of a minute, the other duck keeping the goose's quorum meanwhile.
    let mut cluster = Cluster::start(
        BIN,
        "fwd-down",
        3,
        Opts {
            extra: vec![
                "--election-ms".into(),
                "1000-1500".into(),
                "--request-timeout-ms".into(),
                "1000".into(),
            ],
            ..Opts::default()
        },
    );
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(20));
    for id in all.iter().copied().filter(|&id| id != goose) {
        cluster.kill9(id);
        let args = &mut cluster.node_mut(id).args;
        let at = args.iter().position(|a| a == "--election-ms").unwrap() + 1;
        args[at] = "60000-61000".into();
        cluster.spawn(id).expect("restart a duck");
        cluster.wait_serving(id);
        wait_knows_leader(&cluster, id, goose);
    }
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let target = *all.iter().find(|&&id| id != goose && id != duck).unwrap();
    let transfer = format!("{{\"to\":{target}}}");

    // Stopped: the connection opens but no answer comes. The duck gives up in time.
    cluster.pause(goose).unwrap();
    let asked = Instant::now();
    let r = cluster
        .call(duck, "POST", "/admin/transfer", &transfer)
        .unwrap();
    let took = asked.elapsed();
    assert_eq!(r.status, 504, "{}", r.body);
    assert_eq!(r.json()["error"], "goose_timeout", "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains(&format!("goose {goose}")),
        "{}",
        r.body
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // Dead: nothing listens there.
    cluster.kill9(goose);
    let r = cluster
        .call(duck, "POST", "/admin/transfer", &transfer)
        .unwrap();
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(r.json()["error"], "goose_unreachable", "{}", r.body);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains(&format!("goose {goose}")),
        "{}",
        r.body
    );
}
