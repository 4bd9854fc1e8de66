//! Durability with real processes: acknowledged writes survive `kill -9` of any node and
//! a restart of all; a restarted node has its term, vote and log; a torn tail is cut
//! away; corruption in the middle stops the node with the file and offset.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

/// Writes `key=value` through whichever node is the goose, following redirects.
/// `true` only when the cluster acknowledged the write.
fn write(addrs: &[String], token: &str, key: &str, value: &str) -> bool {
    let bearer = format!("Bearer {token}");
    let mut target = addrs[0].clone();
    for attempt in 0..20 {
        let r = request(
            &target,
            "PUT",
            &format!("/kv/{key}"),
            &[("Authorization", bearer.as_str())],
            value.as_bytes(),
            Duration::from_secs(3),
        );
        match r {
            Ok(r) if r.status == 200 => return true,
            Ok(r) if r.status == 307 => {
                let loc = r.header("location").unwrap_or_default();
                target = loc
                    .trim_start_matches("http://")
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            // 503/504 or down: try another node. A 504 write may or may not apply.
            _ => {
                target = addrs[(attempt + 1) % addrs.len()].clone();
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    false
}

fn read(cluster: &Cluster, goose: u64, key: &str) -> Option<String> {
    let r = cluster
        .call(goose, "GET", &format!("/kv/{key}"), "")
        .expect("read");
    match r.status {
        200 => Some(r.body),
        404 => None,
        s => panic!("GET {key}: {s} {}", r.body),
    }
}

#[test]
fn acknowledged_writes_survive_kill9_of_any_node_and_restart_of_all() {
    let mut cluster = Cluster::start(BIN, "durable", 5, Opts::default());
    let all = cluster.ids();
    cluster.wait_one_goose(&all, Duration::from_secs(10));
    let addrs: Vec<String> = all.iter().map(|&id| cluster.addr(id)).collect();

    let acked = Arc::new(Mutex::new(BTreeMap::<String, String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (acked, stop, addrs) = (acked.clone(), stop.clone(), addrs.clone());
            let token = cluster.token.clone().expect("a token");
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("w{w}-{n}");
                    let value = format!("value-{w}-{n}");
                    if write(&addrs, &token, &key, &value) {
                        acked.lock().unwrap().insert(key, value);
                    }
                    n += 1;
                }
            })
        })
        .collect();

    // kill -9 every node in turn (the goose among them), restarting each.
    for &id in &all {
        std::thread::sleep(Duration::from_millis(300));
        cluster.kill9(id);
        std::thread::sleep(Duration::from_millis(300));
        cluster.restart(id);
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "only {} writes acknowledged", acked.len());

    // kill -9 everyone, restart everyone: every acknowledged write is there.
    for &id in &all {
        cluster.kill9(id);
    }
    for &id in &all {
        cluster.restart(id);
    }
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    for (key, value) in &acked {
        assert_eq!(
            read(&cluster, goose, key).as_deref(),
            Some(value.as_str()),
            "acknowledged write {key} lost"
        );
    }
}

#[test]
fn restart_keeps_term_vote_and_log_and_a_lone_node_never_bumps_its_term() {
    let mut cluster = Cluster::start(BIN, "restart", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    for i in 0..20 {
        let r = cluster
            .put(goose, &format!("k{i}"), &format!("v{i}"))
            .expect("put");
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for &id in &all {
        cluster.kill9(id);
    }
    let on_disk: Vec<serde_json::Value> = all
        .iter()
        .map(|&id| inspect(BIN, &cluster.node(id).dir))
        .collect();
    // An acknowledged write is on a quorum's disks, not necessarily on every node's: a
    // follower the leader did not wait for may be killed before the last Append reached it.
    let holding_all = on_disk
        .iter()
        .filter(|d| d["last_log_index"].as_u64().unwrap() >= 22)
        .count();
    assert!(
        holding_all >= 2,
        "no quorum holds all 22 entries: {on_disk:?}"
    );
    for d in &on_disk {
        assert!(d["term"].as_u64().unwrap() >= 1, "{d}");
    }

    // Node 1 alone: exactly its persisted term, vote and log, and PreVote keeps a lone
    // node from bumping its term however long it waits.
    cluster.restart(1);
    for _ in 0..3 {
        let s = cluster.status(1).expect("status");
        assert_eq!(s["term"], on_disk[0]["term"], "{s}");
        assert_eq!(s["voted_for"], on_disk[0]["voted_for"], "{s}");
        assert_eq!(s["last_log_index"], on_disk[0]["last_log_index"], "{s}");
        assert_eq!(s["role"], "duck");
        // One more election timeout with no leader: node 1 starts a pre-vote round.
        cluster.wait_pre_votes(&[1], 1.0, Duration::from_secs(5));
    }

    for &id in &all[1..] {
        cluster.restart(id);
    }
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    for i in 0..20 {
        assert_eq!(
            read(&cluster, goose, &format!("k{i}")).as_deref(),
            Some(format!("v{i}").as_str())
        );
    }
}

/// Offsets of the records in a log file (8-byte magic, then `[len][crc][payload]`).
fn record_offsets(data: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut pos = 8;
    while pos + 8 <= data.len() {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        if pos + 8 + len > data.len() {
            break;
        }
        offsets.push(pos);
        pos += 8 + len;
    }
    offsets
}

#[test]
fn torn_tail_is_truncated_and_mid_log_corruption_refuses_to_start() {
    let mut cluster = Cluster::start(BIN, "torn", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    for i in 0..10 {
        assert_eq!(
            cluster.put(goose, &format!("k{i}"), "v").unwrap().status,
            200
        );
    }
    // Make sure every node has every entry before stopping.
    let target = cluster.status(goose).unwrap()["last_log_index"]
        .as_u64()
        .unwrap();
    wait_for("followers to catch up", Duration::from_secs(5), || {
        all.iter()
            .all(|&id| cluster.status(id).unwrap()["applied_index"].as_u64() >= Some(target))
            .then_some(())
    });
    for &id in &all {
        cluster.kill9(id);
    }

    // Torn tail on node 1: half of a record after the last complete one.
    let wal1 = cluster.node(1).dir.join("raft.wal");
    let good = std::fs::read(&wal1).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9]);
    std::fs::write(&wal1, &torn).unwrap();
    let before = inspect(BIN, &cluster.node(1).dir);
    assert_eq!(before["torn_tail"]["offset"], good.len());
    cluster.restart(1);
    let s = cluster
        .status(1)
        .expect("node 1 starts despite the torn tail");
    assert_eq!(s["last_log_index"].as_u64(), Some(target));
    assert!(
        cluster.node(1).log_tail(50).contains("torn tail"),
        "the truncation is logged"
    );
    assert_eq!(std::fs::read(&wal1).unwrap().len(), good.len(), "truncated");

    // Corruption in the middle of node 2's log: refuse, naming file and offset.
    let wal2 = cluster.node(2).dir.join("raft.wal");
    let mut data = std::fs::read(&wal2).unwrap();
    let offsets = record_offsets(&data);
    assert!(offsets.len() > 4);
    let victim = offsets[2];
    data[victim + 10] ^= 0xff;
    std::fs::write(&wal2, &data).unwrap();
    let args: Vec<String> = cluster.node(2).args.clone();
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (code, _out, err) = run_bin(BIN, &args, Duration::from_secs(10));
    assert_ne!(code, Some(0), "must refuse to start: {err}");
    assert!(code.is_some(), "must exit by itself, not hang");
    assert!(err.contains(&wal2.display().to_string()), "{err}");
    assert!(err.contains(&format!("offset {victim}")), "{err}");
    assert_eq!(std::fs::read(&wal2).unwrap(), data, "left untouched");
}
