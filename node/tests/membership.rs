//! Membership and leadership with real processes: a sixth node joins with `--join`,
//! node 1 is removed, leadership is transferred, and a change while another is in flight
//! gets 409.

use std::time::Duration;

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

#[test]
fn join_remove_and_transfer() {
    let mut cluster = Cluster::start(BIN, "membership", 5, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    assert_eq!(
        cluster.put(goose, "before-join", "yes").unwrap().status,
        200
    );

    // Node 6 joins through a duck: the duck forwards the request to the goose.
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let via = cluster.node(duck).peer_addr.clone();
    cluster.prepare_joiner(6, &via).unwrap();
    cluster.spawn(6).unwrap();
    wait_for(
        "node 6 to be a member everywhere",
        Duration::from_secs(10),
        || {
            [goose, 6]
                .iter()
                .all(|&id| {
                    cluster
                        .status(id)
                        .is_some_and(|s| member_ids(&s) == vec![1, 2, 3, 4, 5, 6])
                })
                .then_some(())
        },
    );
    // It catches up and is a duck; the key written before it joined reaches it.
    let goose_last = cluster.status(goose).unwrap()["commit_index"]
        .as_u64()
        .unwrap();
    wait_for("node 6 to catch up", Duration::from_secs(10), || {
        (cluster.status(6)?["applied_index"].as_u64()? >= goose_last).then_some(())
    });
    let six = [1, 2, 3, 4, 5, 6];
    let goose = cluster.wait_one_goose(&six, Duration::from_secs(5));

    // Remove node 1, asking a duck that is not the goose: it forwards the request to the
    // goose, which answers after the change commits.
    let duck = *six.iter().find(|&&id| id != goose && id != 1).unwrap();
    wait_for("the duck to know the goose", Duration::from_secs(5), || {
        (cluster.status(duck)?["leader"].as_u64()? == goose).then_some(())
    });
    let r = cluster
        .call(duck, "DELETE", "/admin/members/1", "")
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("duckgoose-forwarded-to"),
        Some(goose.to_string().as_str())
    );
    assert_eq!(member_ids(&r.json()), vec![2, 3, 4, 5, 6]);
    let rest = [2, 3, 4, 5, 6];
    let goose = cluster.wait_one_goose(&rest, Duration::from_secs(5));
    assert_eq!(
        cluster.put(goose, "after-remove", "yes").unwrap().status,
        200
    );
    // Removing it again: not a member.
    let r = cluster
        .call(goose, "DELETE", "/admin/members/1", "")
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["error"], "not_member", "{}", r.body);
    assert_eq!(r.json()["message"], "1 is not a member", "{}", r.body);

    // Transfer the goose role to node 6.
    let target = if goose == 6 { 2 } else { 6 };
    let r = cluster
        .call(
            goose,
            "POST",
            "/admin/transfer",
            &format!("{{\"to\":{target}}}"),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["to"], target);
    assert_eq!(
        cluster.wait_one_goose(&rest, Duration::from_secs(5)),
        target
    );

    // Node 6 restarts on its data dir: it does not join again, it is just a member.
    cluster.restart(6);
    let goose = cluster.wait_one_goose(&rest, Duration::from_secs(10));
    let r = cluster.call(goose, "GET", "/kv/before-join", "").unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "yes"));
    assert!(member_ids(&cluster.status(6).unwrap()) == vec![2, 3, 4, 5, 6]);

    // After the first start the membership on disk wins over --peer flags: node 2
    // restarted with flags naming a bogus peer still sees the real membership.
    let node2 = cluster.node_mut(2);
    let mut args = Vec::new();
    let mut old = std::mem::take(&mut node2.args).into_iter();
    while let Some(arg) = old.next() {
        if arg == "--peer" {
            old.next();
        } else {
            args.push(arg);
        }
    }
    args.extend(["--peer".into(), "9=127.0.0.1:1".into()]);
    node2.args = args;
    cluster.restart(2);
    let s = cluster.status(2).unwrap();
    assert_eq!(member_ids(&s), vec![2, 3, 4, 5, 6], "{s}");
    assert!(
        cluster
            .node(2)
            .log_tail(20)
            .contains("membership on disk wins")
    );
    cluster.wait_one_goose(&rest, Duration::from_secs(10));
}

#[test]
fn a_change_while_another_is_in_flight_gets_409() {
    let cluster = Cluster::start(
        BIN,
        "inflight",
        3,
        Opts {
            extra: vec!["--request-timeout-ms".into(), "1000".into()],
            ..Opts::default()
        },
    );
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let others: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    // Read progress from /metrics: /status asks the goose query, which a cut-off goose
    // answers only after a timeout.
    let last_index = || -> Option<u64> {
        let m = get(&cluster.addr(goose), "/metrics").ok()?.body;
        m.lines()
            .find(|l| l.starts_with("duckgoose_last_log_index{"))?
            .rsplit(' ')
            .next()?
            .parse()
            .ok()
    };
    let last = last_index().expect("metrics");
    // Cut the goose off so its change cannot commit.
    let r = cluster
        .call(
            goose,
            "POST",
            "/admin/partition",
            &serde_json::json!({ "block": others }).to_string(),
        )
        .unwrap();
    assert_eq!(r.status, 200);
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            cluster.call(
                goose,
                "POST",
                "/admin/members",
                r#"{"id":7,"addr":"127.0.0.1:1"}"#,
            )
        });
        wait_for(
            "the first change to be appended",
            Duration::from_secs(2),
            || (last_index()? > last).then_some(()),
        );
        let second = cluster
            .call(
                goose,
                "POST",
                "/admin/members",
                r#"{"id":8,"addr":"127.0.0.1:2"}"#,
            )
            .unwrap();
        assert_eq!(second.status, 409, "{}", second.body);
        // A typed refusal: a machine-readable code and the reason for people.
        let refusal = second.json();
        assert_eq!(refusal["error"], "change_in_progress", "{}", second.body);
        assert!(
            refusal["message"].as_str().unwrap().contains("in flight"),
            "{}",
            second.body
        );
        // The first never commits: it times out or is lost when the goose steps down.
        let first = first.join().unwrap().unwrap();
        assert!(
            [503, 504].contains(&first.status),
            "{} {}",
            first.status,
            first.body
        );
    });
    for &id in &all {
        cluster.call(id, "DELETE", "/admin/partition", "").unwrap();
    }
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(5));
    assert_eq!(member_ids(&cluster.status(goose).unwrap()), vec![1, 2, 3]);
}

#[test]
fn a_joiner_that_is_already_a_member_is_told_so_and_stops_asking() {
    let mut cluster = Cluster::start(BIN, "already", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    // Node 4 is added through the admin API before it ever starts.
    cluster
        .prepare_joiner(4, &cluster.node(goose).peer_addr.clone())
        .unwrap();
    let add = serde_json::json!({ "id": 4, "addr": cluster.node(4).peer_addr }).to_string();
    let r = cluster.call(goose, "POST", "/admin/members", &add).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // Adding it again is a typed refusal.
    let r = cluster.call(goose, "POST", "/admin/members", &add).unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        serde_json::json!({ "error": "already_member", "message": "4 is already a member" })
    );
    // Started with --join, it asks, reads the code, and stops asking; it catches up.
    cluster.spawn(4).unwrap();
    wait_for(
        "node 4 to hear it is a member",
        Duration::from_secs(10),
        || {
            cluster
                .node(4)
                .log_tail(50)
                .contains("already a member")
                .then_some(())
        },
    );
    assert!(
        !cluster.node(4).log_tail(50).contains("join not done yet"),
        "{}",
        cluster.node(4).log_tail(50)
    );
    let commit = cluster.status(goose).unwrap()["commit_index"]
        .as_u64()
        .unwrap();
    wait_for("node 4 to catch up", Duration::from_secs(10), || {
        (cluster.status(4)?["applied_index"].as_u64()? >= commit).then_some(())
    });
    assert_eq!(
        member_ids(&cluster.status(4).unwrap()),
        vec![1, 2, 3, 4],
        "node 4 learned the membership"
    );
}
