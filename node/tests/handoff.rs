//! Planned stops with real processes: SIGTERM on the goose hands the goose role to a
//! follower long before any election timeout could, and the process exits 0 within its
//! bound (twice the longest election timeout); SIGTERM on a duck exits at once and leaves
//! the goose alone; a goose whose followers are gone still exits within the bound, and
//! at once on a second SIGTERM.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

/// Long enough that an election can never explain a new goose within the test's limits.
const ELECTION: (u64, u64) = (2000, 4000);
/// Twice the longest election timeout: how long a goose may wait for its handoff.
const BOUND: Duration = Duration::from_millis(2 * ELECTION.1);

fn opts(election: (u64, u64)) -> Opts {
    Opts {
        extra: vec![
            "--election-ms".into(),
            format!("{}-{}", election.0, election.1),
        ],
        ..Opts::default()
    }
}

/// `Some(term)` when node `id` answers `/goose` with 200 goose.
fn goose_term(cluster: &Cluster, id: u64) -> Option<u64> {
    let r = cluster
        .request(id, "GET", "/goose", &[], b"", Duration::from_millis(500))
        .ok()?;
    (r.status == 200 && r.body == "goose")
        .then(|| r.header("x-duckgoose-term")?.parse().ok())
        .flatten()
}

/// Sends SIGTERM to node `id` without waiting for it.
fn sigterm(cluster: &Cluster, id: u64) {
    let pid = cluster.node(id).child.as_ref().expect("running").id();
    signal(pid, "TERM").expect("send SIGTERM");
}

/// Waits for node `id`'s process to exit; marks it down.
fn wait_exit(cluster: &mut Cluster, id: u64, timeout: Duration) -> Option<ExitStatus> {
    let p = cluster.node_mut(id);
    let child = p.child.as_mut()?;
    let status = poll(timeout, || child.try_wait().ok().flatten())?;
    p.child = None;
    p.state = State::Down;
    Some(status)
}

fn read(cluster: &Cluster, id: u64, key: &str) -> (u16, String) {
    let r = cluster
        .call(id, "GET", &format!("/kv/{key}"), "")
        .expect("read");
    (r.status, r.body)
}

#[test]
fn sigterm_on_the_goose_hands_over_without_an_election_gap() {
    let mut cluster = Cluster::start(BIN, "handoff-goose", 3, opts(ELECTION));
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(15));
    let old_term = goose_term(&cluster, goose).expect("the goose's term");
    for i in 0..10 {
        let r = cluster
            .put(goose, &format!("k{i}"), &format!("v{i}"))
            .expect("put");
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();

    sigterm(&cluster, goose);
    let signalled = Instant::now();
    // Well under the shortest election timeout: only a handoff can do this.
    let limit = Duration::from_millis(ELECTION.0 / 2);
    let (new_goose, new_term) = wait_for("a new goose after SIGTERM", limit, || {
        rest.iter()
            .find_map(|&id| goose_term(&cluster, id).map(|t| (id, t)))
    });
    let gap = signalled.elapsed();
    assert!(new_term > old_term, "term {new_term} after {old_term}");

    let status = wait_exit(&mut cluster, goose, BOUND).unwrap_or_else(|| {
        panic!(
            "the old goose did not exit within {BOUND:?}:\n{}",
            cluster.log_tail(goose, 20)
        )
    });
    assert!(status.success(), "old goose exited with {status}");
    let log = cluster.log_tail(goose, 30);
    assert!(
        log.contains(&format!("handing the goose over to node {new_goose}")),
        "{log}"
    );
    eprintln!("new goose {new_goose} after {gap:?}");

    // Exactly one goose among the survivors, and everything written before is there.
    assert_eq!(
        cluster.wait_one_goose(&rest, Duration::from_secs(5)),
        new_goose
    );
    for i in 0..10 {
        assert_eq!(
            read(&cluster, new_goose, &format!("k{i}")),
            (200, format!("v{i}"))
        );
    }

    // The old goose restarts on its data dir as a duck and keeps its data.
    cluster.spawn(goose).expect("restart");
    cluster.wait_serving(goose);
    assert_eq!(
        cluster.wait_one_goose(&all, Duration::from_secs(10)),
        new_goose
    );
}

#[test]
fn sigterm_on_a_duck_exits_at_once_and_leaves_the_goose_alone() {
    let mut cluster = Cluster::start(BIN, "handoff-duck", 3, opts(ELECTION));
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(15));
    let term = goose_term(&cluster, goose).expect("the goose's term");
    let duck = *all.iter().find(|&&id| id != goose).expect("a duck");

    sigterm(&cluster, duck);
    let status = wait_exit(&mut cluster, duck, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("the duck did not exit promptly"));
    assert!(status.success(), "duck exited with {status}");
    assert!(
        cluster
            .log_tail(duck, 10)
            .contains("stop signal: not the goose"),
        "{}",
        cluster.log_tail(duck, 10)
    );
    // Still the goose, in the same term: the duck's exit disturbed nothing.
    assert_eq!(goose_term(&cluster, goose), Some(term));
    let r = cluster.put(goose, "after", "duck-left").expect("put");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(goose_term(&cluster, goose), Some(term));
}

#[test]
fn a_goose_without_followers_still_exits_within_the_bound() {
    let election = (1000, 2000);
    let bound = Duration::from_millis(2 * election.1);
    let mut cluster = Cluster::start(BIN, "handoff-alone", 3, opts(election));
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    for &id in &all {
        if id != goose {
            cluster.kill9(id);
        }
    }

    sigterm(&cluster, goose);
    let signalled = Instant::now();
    // Once it has the signal it answers duck, saying why, while it waits for a taker.
    wait_for("503 duck, stepping down", Duration::from_secs(1), || {
        let r = cluster
            .request(goose, "GET", "/goose", &[], b"", Duration::from_millis(500))
            .ok()?;
        let why = r.header("x-duckgoose-reason").unwrap_or_default();
        (r.status == 503 && r.body == "duck" && why.contains("stepping down")).then_some(())
    });
    let status = wait_exit(&mut cluster, goose, bound + Duration::from_secs(3))
        .unwrap_or_else(|| panic!("did not exit:\n{}", cluster.log_tail(goose, 20)));
    let took = signalled.elapsed();
    assert!(status.success(), "exited with {status}");
    assert!(took <= bound + Duration::from_secs(1), "took {took:?}");
    let log = cluster.log_tail(goose, 20);
    assert!(log.contains("no other node took over"), "{log}");
}

#[test]
fn a_second_sigterm_during_the_handoff_exits_at_once() {
    let mut cluster = Cluster::start(BIN, "handoff-twice", 3, opts(ELECTION));
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(15));
    for &id in &all {
        if id != goose {
            cluster.kill9(id);
        }
    }
    sigterm(&cluster, goose);
    // The handoff is under way (it would wait up to BOUND for a taker)...
    wait_for("503 duck, stepping down", Duration::from_secs(1), || {
        let r = cluster
            .request(goose, "GET", "/goose", &[], b"", Duration::from_millis(500))
            .ok()?;
        (r.status == 503).then_some(())
    });
    // ...and a second signal ends it.
    sigterm(&cluster, goose);
    let status = wait_exit(&mut cluster, goose, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("no prompt exit:\n{}", cluster.log_tail(goose, 20)));
    assert!(status.success(), "exited with {status}");
    let log = cluster.log_tail(goose, 20);
    assert!(log.contains("second stop signal"), "{log}");
}
