//! `examples/singleton-worker` under faults: three nodes, a worker next to each, all
//! appending fenced records to one key while the test kills (`kill -9`), pauses (SIGSTOP)
//! and partitions the goose's node, round after round. Afterwards the key's value is the
//! history of accepted writes in apply order (each record was a compare-and-set on the
//! whole value), and the test proves from it that
//! - fences never decrease in apply order and each fence belongs to one worker: at any
//!   instant at most one worker's writes were accepted, and no write was accepted after
//!   a newer leadership's write (a stale fence);
//! - no write the store refused for a stale fence (fence F, leadership C) could have
//!   been accepted: no record with fence F follows one with a fence of C or more;
//! - each worker's records appear in the order it made them.
//!
//! After each fault the test also plays the ex-goose's worker waking up late (a process
//! pause of the worker itself, the classic case): it appends a record with the old fence
//! on top of the latest value, through a live node. A store that ignored fences would take
//! it (the compare-and-set alone would not stop it) and the checks above would fail; every
//! one must be refused with 412.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use duckgoose_testkit::*;
use singleton_worker::{Config, Record, Stats};

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");
const KEY: &str = "singleton-worker.log";
/// How long faults are injected.
const FAULT_PHASE: Duration = Duration::from_secs(25);
/// Records each new active worker must get accepted before the next fault.
const PROGRESS: u64 = 5;

/// A late write by ex-goose `id` with `fence`, through the new goose: refused with 412,
/// naming `new_fence` (or a later leadership's).
fn late(cluster: &Cluster, via: u64, id: u64, fence: u64, new_fence: u64, refused: &mut usize) {
    let r = late_append(cluster, via, id, fence);
    assert_eq!(r.status, 412, "a late write with fence {fence}: {}", r.body);
    let v = r.json();
    assert_eq!(v["error"], "stale_fence", "{v}");
    assert!(v["current"].as_u64() >= Some(new_fence), "{v}");
    *refused += 1;
}

fn worker_config(cluster: &Cluster, id: u64) -> Config {
    Config {
        name: format!("w{id}"),
        node: cluster.url(id),
        members: cluster.ids().iter().map(|&m| cluster.url(m)).collect(),
        token: cluster.token.clone(),
        tls_ca: None,
        key: KEY.into(),
        every: Duration::from_millis(10),
        // The nodes send keep-alives every 200 ms: a paused node is noticed within 1 s.
        idle_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
    }
}

/// Waits until exactly one of `among` is goose and its worker got `PROGRESS` more
/// records accepted: that node and its fence.
fn active(cluster: &Cluster, stats: &BTreeMap<u64, Arc<Stats>>, among: &[u64]) -> (u64, u64) {
    wait_for("an active worker", Duration::from_secs(30), || {
        let goose = cluster.wait_one_goose(among, Duration::from_secs(15));
        let before = stats[&goose].accepted();
        wait_for(
            &format!("worker w{goose} to write as the goose's"),
            Duration::from_secs(15),
            || (stats[&goose].accepted() >= before + PROGRESS).then_some(()),
        );
        // `None` if the leadership changed meanwhile: look again.
        let r = cluster.call(goose, "GET", "/goose", "").ok()?;
        let fence = r.header("duckgoose-fence")?.parse().ok()?;
        Some((goose, fence))
    })
}

/// The ex-goose `id`'s worker, paused while it held `fence`, wakes up and appends a
/// record with it on top of the latest value, through node `via`: the answer.
fn late_append(cluster: &Cluster, via: u64, id: u64, fence: u64) -> Resp {
    let r = cluster.call(via, "GET", &format!("/kv/{KEY}"), "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let record = format!("w{id} {fence} {}\n", u64::MAX);
    let body = serde_json::json!({ "expected": r.body, "value": format!("{}{record}", r.body) });
    let auth = cluster.auth();
    let mut headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let fence = fence.to_string();
    headers.push(("If-Fence", &fence));
    headers.push(("Content-Type", "application/json"));
    cluster
        .request(
            via,
            "POST",
            &format!("/kv/{KEY}/cas"),
            &headers,
            body.to_string().as_bytes(),
            Duration::from_secs(10),
        )
        .unwrap()
}

#[test]
fn only_the_goose_worker_writes_and_no_stale_fence_is_accepted_under_faults() {
    let mut cluster = Cluster::start(
        BIN,
        "singleton",
        3,
        Opts {
            extra: [
                "--election-ms",
                "300-600",
                "--watch-keepalive-ms",
                "200",
                // The history key grows with every record.
                "--max-body",
                "4194304",
            ]
            .map(String::from)
            .to_vec(),
            ..Opts::default()
        },
    );
    let all = cluster.ids();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stats: BTreeMap<u64, Arc<Stats>> = all.iter().map(|&id| (id, Arc::default())).collect();
    let workers: Vec<_> = all
        .iter()
        .map(|&id| {
            let mut stop = stop_rx.clone();
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            rt.spawn(singleton_worker::run(
                worker_config(&cluster, id),
                Arc::clone(&stats[&id]),
                stopped,
            ))
        })
        .collect();

    let started = Instant::now();
    let mut faults: BTreeMap<&str, u32> = BTreeMap::new();
    let mut round = 0;
    let mut late_refused = 0;
    while started.elapsed() < FAULT_PHASE {
        let (goose, fence) = active(&cluster, &stats, &all);
        let rest: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
        let kind = ["kill -9", "SIGSTOP", "partition"][round % 3];
        match kind {
            "kill -9" => {
                cluster.kill9(goose);
            }
            "SIGSTOP" => cluster.pause(goose).expect("pause"),
            _ => cluster.partition(&[goose], &rest).expect("partition"),
        }
        // Another worker takes over; the old one's write with its old fence, sent late
        // through the new goose, is refused.
        let (new_goose, new_fence) = active(&cluster, &stats, &rest);
        late(
            &cluster,
            new_goose,
            goose,
            fence,
            new_fence,
            &mut late_refused,
        );
        match kind {
            "kill -9" => {
                cluster.spawn(goose).expect("restart");
                cluster.wait_serving(goose);
            }
            "SIGSTOP" => cluster.resume(goose).expect("resume"),
            _ => cluster.heal(&all).expect("heal"),
        }
        *faults.entry(kind).or_default() += 1;
        round += 1;
    }
    assert_eq!(
        late_refused, round,
        "every late write with an old fence refused"
    );
    // Settle: the last goose's worker writes again, then every worker stops.
    active(&cluster, &stats, &all);
    stop_tx.send(true).unwrap();
    for w in workers {
        rt.block_on(w).expect("worker task").expect("worker");
    }

    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let r = cluster
        .call(goose, "GET", &format!("/kv/{KEY}"), "")
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let history = Record::parse_history(&r.body).expect("the history parses");
    let accepted: u64 = stats.values().map(|s| s.accepted()).sum();
    let refusals: Vec<_> = stats.values().flat_map(|s| s.refusals()).collect();
    eprintln!(
        "{} rounds {faults:?} in {:?}: {} records, {accepted} acknowledged, {} stale refusals \
         to workers, {late_refused} late writes refused",
        round,
        started.elapsed(),
        history.len(),
        refusals.len()
    );

    // Floors: the run did what it claims.
    assert!(
        faults.len() == 3,
        "every kind of fault injected: {faults:?}"
    );
    assert!(history.len() > 200, "{} records", history.len());
    // Every acknowledged record is there (an unacknowledged one may be too).
    assert!(
        history.len() as u64 >= accepted,
        "{} < {accepted}",
        history.len()
    );
    let mut worker_of_fence: BTreeMap<u64, &str> = BTreeMap::new();
    for r in &history {
        let first = *worker_of_fence.entry(r.fence).or_insert(&r.worker);
        assert_eq!(
            first, r.worker,
            "fence {} used by {first} and {}",
            r.fence, r.worker
        );
    }
    let active_workers: std::collections::BTreeSet<&str> =
        worker_of_fence.values().copied().collect();
    assert!(active_workers.len() >= 2, "{active_workers:?}");

    // Fences never decrease in apply order: no stale fence was accepted.
    for pair in history.windows(2) {
        assert!(
            pair[1].fence >= pair[0].fence,
            "stale fence accepted: {:?} after {:?}",
            pair[1],
            pair[0]
        );
    }
    // Each refused write was refused for good: none with its fence after the refusing
    // leadership's writes.
    for (fence, current) in &refusals {
        assert!(current > fence, "{fence} refused by {current}");
        if let Some(from) = history.iter().position(|r| r.fence >= current.0) {
            assert!(
                history[from..].iter().all(|r| r.fence != fence.0),
                "a write with fence {fence} accepted after leadership {current}'s"
            );
        }
    }
    // Each worker's records in the order it made them.
    let mut last_seq: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &history {
        if let Some(prev) = last_seq.insert(&r.worker, r.seq) {
            assert!(
                r.seq > prev,
                "{} wrote seq {} after {prev}",
                r.worker,
                r.seq
            );
        }
    }
}
