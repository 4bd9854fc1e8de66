//! Log compaction with real processes, in the secure configuration (token, TLS and peer
//! mutual TLS): nodes snapshot every `--snapshot-entries` applied entries and cut their
//! WAL; a node that slept through many writes catches up by InstallSnapshot and serves
//! the state it restored; a restart is the snapshot plus the WAL tail; a damaged
//! snapshot stops the node with the file and offset.

use std::time::Duration;

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");
/// Small, so a few hundred writes make several snapshots.
const EVERY: u64 = 50;
const WRITES: u64 = 400;

fn opts() -> Opts {
    Opts {
        extra: vec!["--snapshot-entries".into(), EVERY.to_string()],
        ..Opts::default()
    }
}

fn metric(cluster: &Cluster, id: u64, name: &str) -> f64 {
    cluster.metric(id, name).unwrap_or(0.0)
}

fn applied(cluster: &Cluster, id: u64) -> u64 {
    cluster
        .status(id)
        .and_then(|s| s["applied_index"].as_u64())
        .unwrap_or(0)
}

fn get(cluster: &Cluster, id: u64, key: &str) -> Option<String> {
    let r = cluster.call(id, "GET", &format!("/kv/{key}"), "").ok()?;
    (r.status == 200).then_some(r.body)
}

fn put_all(cluster: &Cluster, goose: u64, range: std::ops::Range<u64>) {
    for i in range {
        let r = cluster
            .put(goose, &format!("k{}", i % 100), &format!("v{i}"))
            .expect("put");
        assert_eq!(r.status, 200, "put {i}: {}", r.body);
    }
}

#[test]
fn a_node_that_slept_through_many_writes_catches_up_by_snapshot() {
    let mut cluster = Cluster::start_tls(BIN, "snapcatchup", 3, opts());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let sleeper = *all.iter().find(|&&id| id != goose).unwrap();
    cluster.kill9(sleeper);

    put_all(&cluster, goose, 0..WRITES);
    let taken = metric(&cluster, goose, "duckgoose_snapshots_taken_total");
    assert!(
        taken >= (WRITES / EVERY - 1) as f64,
        "the goose compacted {taken} times"
    );
    // The WAL holds only what followed the last snapshot.
    let wal = std::fs::metadata(cluster.node(goose).dir.join("raft.wal"))
        .unwrap()
        .len();
    assert!(wal < 16 * 1024, "the goose's WAL is {wal} bytes");

    // The sleeper wakes up needing entries the others compacted away.
    cluster.restart(sleeper);
    let target = applied(&cluster, goose);
    wait_for("the sleeper to catch up", Duration::from_secs(10), || {
        (applied(&cluster, sleeper) >= target).then_some(())
    });
    assert!(
        metric(&cluster, sleeper, "duckgoose_snapshots_installed_total") >= 1.0,
        "caught up by InstallSnapshot"
    );
    assert!(metric(&cluster, sleeper, "duckgoose_snapshot_bytes") > 0.0);

    // Its store is the restored snapshot plus what followed: it serves every key once
    // it leads.
    cluster.transfer(goose, sleeper);
    wait_for(
        "the sleeper to be the goose",
        Duration::from_secs(10),
        || (cluster.one_goose(&all) == Some(sleeper)).then_some(()),
    );
    for k in 0..100 {
        let last = (0..WRITES).rev().find(|i| i % 100 == k).unwrap();
        assert_eq!(
            get(&cluster, sleeper, &format!("k{k}")).as_deref(),
            Some(format!("v{last}").as_str())
        );
    }
}

#[test]
fn a_restart_is_the_snapshot_plus_the_wal_tail_and_a_damaged_snapshot_refuses_to_start() {
    let mut cluster = Cluster::start(BIN, "snaprestart", 3, opts());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    put_all(&cluster, goose, 0..WRITES);
    let target = applied(&cluster, goose);
    wait_for("followers to apply", Duration::from_secs(10), || {
        all.iter()
            .all(|&id| applied(&cluster, id) >= target)
            .then_some(())
    });
    for &id in &all {
        cluster.kill9(id);
    }
    for &id in &all {
        let d = inspect(BIN, &cluster.node(id).dir);
        let snapshot_index = d["snapshot"]["index"].as_u64().expect("a snapshot");
        assert!(snapshot_index + EVERY >= target, "{d}");
        assert_eq!(d["snapshot"]["keys"], 100, "{d}");
        assert!(d["wal_entries"].as_u64().unwrap() <= EVERY + 2, "{d}");
        assert_eq!(d["last_log_index"].as_u64(), Some(target), "{d}");
    }

    for &id in &all {
        cluster.restart(id);
    }
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    for k in 0..100 {
        let last = (0..WRITES).rev().find(|i| i % 100 == k).unwrap();
        assert_eq!(
            get(&cluster, goose, &format!("k{k}")).as_deref(),
            Some(format!("v{last}").as_str())
        );
    }

    // One flipped bit in a snapshot's state: the node refuses to start, naming file
    // and offset, and leaves the file as it was.
    let victim = *all.iter().find(|&&id| id != goose).unwrap();
    cluster.kill9(victim);
    let snap = cluster.node(victim).dir.join("raft.snap");
    let mut data = std::fs::read(&snap).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x01;
    std::fs::write(&snap, &data).unwrap();
    let args: Vec<String> = cluster.node(victim).args.clone();
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (code, _out, err) = run_bin(BIN, &args, Duration::from_secs(10));
    assert!(code.is_some(), "must exit by itself, not hang");
    assert_ne!(code, Some(0), "must refuse to start: {err}");
    assert!(err.contains(&snap.display().to_string()), "{err}");
    assert!(err.contains("offset"), "{err}");
    assert_eq!(std::fs::read(&snap).unwrap(), data, "left untouched");
}
