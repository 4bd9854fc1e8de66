//! Watching the goose with real processes, in the secure configuration (a token): the
//! event stream's first event is the node's answer now, then one event per change; a
//! goose that loses leadership (transfer, a minority partition, SIGTERM) emits `duck`
//! within one election timeout; ducks name the goose; `Last-Event-ID` resumes; the
//! blocking `GET /goose?wait=&after=` returns at once, on a change, or at the wait's end;
//! `/readyz` is 200 only once the node knows a goose, `/livez` whenever it can work.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use duckgoose_testkit::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

/// The election timeout range the clusters here run with (`--election-ms`).
const ELECTION_MS: (u64, u64) = (300, 600);
/// What a loaded two-core test machine adds to "within one election timeout": process
/// scheduling, the event's trip to the test, the test's own polling.
const SLACK: Duration = Duration::from_millis(400);
/// The bound on a lost leadership showing as `duck` on the stream.
const DUCK_WITHIN: Duration = Duration::from_millis(ELECTION_MS.1 + SLACK.as_millis() as u64);

fn opts(keepalive_ms: u64) -> Opts {
    Opts {
        extra: vec![
            "--election-ms".into(),
            format!("{}-{}", ELECTION_MS.0, ELECTION_MS.1),
            "--watch-keepalive-ms".into(),
            keepalive_ms.to_string(),
        ],
        ..Opts::default()
    }
}

/// `GET /goose/watch` on node `id`, with the cluster's token and, if given,
/// `Last-Event-ID`.
fn watch(cluster: &Cluster, id: u64, last_event_id: Option<&str>) -> SseStream {
    let auth = cluster.auth();
    let mut headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if let Some(last) = last_event_id {
        headers.push(("Last-Event-ID", last));
    }
    let s = SseStream::open(
        &cluster.addr(id),
        "/goose/watch",
        &headers,
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("watch node {id}: {e}"));
    assert_eq!(s.status, 200, "watch node {id}");
    let content_type = s.header("content-type").unwrap_or("");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    s
}

fn first_event(stream: &SseStream, id: u64) -> SseEvent {
    stream
        .next_event(Duration::from_secs(2))
        .unwrap_or_else(|| panic!("no first event from node {id}"))
}

/// `GET /goose` with `query` on node `id`: the answer and how long it took.
fn goose_query(cluster: &Cluster, id: u64, query: &str) -> (Resp, Duration) {
    let started = Instant::now();
    let r = cluster
        .request(
            id,
            "GET",
            &format!("/goose?{query}"),
            &[],
            b"",
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("GET /goose?{query} on {id}: {e}"));
    (r, started.elapsed())
}

fn state_id(r: &Resp) -> String {
    r.header("duckgoose-state")
        .unwrap_or_else(|| panic!("no Duckgoose-State header: {r:?}"))
        .to_string()
}

fn probe(cluster: &Cluster, id: u64, path: &str) -> Resp {
    cluster
        .request(id, "GET", path, &[], b"", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("GET {path} on {id}: {e}"))
}

/// Every goose event across `streams`: no two nodes were goose with the same fence,
/// and no stream repeated an event (one event per change).
fn check_histories(streams: &BTreeMap<u64, SseStream>) {
    let mut goose_of_fence: BTreeMap<u64, u64> = BTreeMap::new();
    for (id, s) in streams {
        let history = s.history();
        for pair in history.windows(2) {
            assert_ne!(pair[0].id, pair[1].id, "node {id} repeated an event");
        }
        for e in &history {
            let v = e.json();
            assert_eq!(v["node"], *id, "{v}");
            if v["goose"] == true {
                let fence = v["fence"].as_u64().expect("a goose event has a fence");
                assert_eq!(v["term"].as_u64(), Some(fence), "{v}");
                let first = *goose_of_fence.entry(fence).or_insert(*id);
                assert_eq!(
                    first, *id,
                    "nodes {first} and {id} were both goose at {fence}"
                );
            }
        }
    }
}

#[test]
fn streams_start_with_the_answer_now_and_a_transferred_goose_emits_duck() {
    let cluster = Cluster::start(BIN, "watch-transfer", 3, opts(15_000));
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let streams: BTreeMap<u64, SseStream> = all
        .iter()
        .map(|&id| (id, watch(&cluster, id, None)))
        .collect();

    // The goose's first event is its answer now, the same one /goose gives.
    let e = first_event(&streams[&goose], goose);
    let v = e.json();
    assert_eq!(v["goose"], true, "{v}");
    assert_eq!(v["leader"], goose, "{v}");
    let fence = v["fence"].as_u64().expect("fence");
    assert_eq!(v["term"].as_u64(), Some(fence));
    assert_eq!(e.id.as_deref(), Some(&*format!("{fence}.goose.{goose}")));
    let (r, _) = goose_query(&cluster, goose, "wait=0s");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(Some(state_id(&r)), e.id);
    assert_eq!(r.header("duckgoose-fence"), Some(&*fence.to_string()));

    // Ducks start with an answer too, and learn who the goose is.
    for &id in all.iter().filter(|&&id| id != goose) {
        let names_the_goose = |v: &Value| v["leader"] == goose && v["term"] == fence;
        let v = first_event(&streams[&id], id).json();
        assert_eq!(v["goose"], false, "{v}");
        assert_eq!(v["fence"], Value::Null, "{v}");
        if !names_the_goose(&v) {
            streams[&id].wait_event("the duck to name the goose", Duration::from_secs(2), |v| {
                names_the_goose(v)
            });
        }
    }

    // Hand the goose role to another node: the old goose says duck at once.
    let successor = *all.iter().find(|&&id| id != goose).unwrap();
    let asked = Instant::now();
    cluster.transfer(goose, successor);
    streams[&goose].wait_event("the ex-goose to emit duck", DUCK_WITHIN, |v| {
        v["goose"] == false
    });
    eprintln!("transfer: duck after {:?}", asked.elapsed());
    let v = streams[&successor]
        .wait_event("the successor to emit goose", Duration::from_secs(5), |v| {
            v["goose"] == true
        })
        .json();
    let new_fence = v["fence"].as_u64().expect("fence");
    assert!(new_fence > fence, "{new_fence} > {fence}");
    // Every duck, the ex-goose included, learns the new goose.
    for &id in all.iter().filter(|&&id| id != successor) {
        streams[&id].wait_event("ducks to name the new goose", Duration::from_secs(5), |v| {
            v["goose"] == false && v["leader"] == successor && v["term"] == new_fence
        });
    }
    check_histories(&streams);
}

#[test]
fn a_goose_cut_off_in_a_minority_emits_duck_and_is_not_ready_until_healed() {
    let cluster = Cluster::start(BIN, "watch-partition", 3, opts(15_000));
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    let mut streams: BTreeMap<u64, SseStream> = all
        .iter()
        .map(|&id| (id, watch(&cluster, id, None)))
        .collect();
    let fence = first_event(&streams[&goose], goose).json()["fence"]
        .as_u64()
        .expect("the goose's first event has a fence");
    for &id in &all {
        wait_for(&format!("node {id} ready"), Duration::from_secs(5), || {
            (probe(&cluster, id, "/readyz").status == 200).then_some(())
        });
    }

    cluster.partition(&[goose], &rest).expect("partition");
    let cut = Instant::now();
    streams[&goose].wait_event("the cut-off goose to emit duck", DUCK_WITHIN, |v| {
        v["goose"] == false
    });
    eprintln!("partition: duck after {:?}", cut.elapsed());
    let new_goose = cluster.wait_one_goose(&rest, Duration::from_secs(10));

    // Cut off, it knows no goose: not ready, but live. The majority is ready.
    let r = wait_for(
        "the cut-off node to report not ready",
        Duration::from_secs(5),
        || {
            let r = probe(&cluster, goose, "/readyz");
            (r.status == 503).then_some(r)
        },
    );
    let reason = r.json()["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("no goose known"), "{}", r.body);
    let r = probe(&cluster, goose, "/livez");
    assert_eq!(
        (r.status, r.json()["live"].clone()),
        (200, Value::Bool(true))
    );
    for &id in &rest {
        let r = probe(&cluster, id, "/readyz");
        assert_eq!(r.status, 200, "node {id}: {}", r.body);
        assert_eq!(r.json()["leader"], new_goose, "{}", r.body);
    }
    // A fresh watcher of the cut-off node hears duck, naming nobody.
    let late = watch(&cluster, goose, None);
    let v = first_event(&late, goose).json();
    assert_eq!(
        (v["goose"].clone(), v["leader"].clone()),
        (Value::Bool(false), Value::Null)
    );
    streams.insert(0, late);

    // Healed, it follows the new goose and is ready again.
    cluster.heal(&all).expect("heal");
    let v = streams[&goose]
        .wait_event(
            "the ex-goose to name the new goose",
            Duration::from_secs(5),
            |v| v["leader"] == new_goose,
        )
        .json();
    assert_eq!(v["goose"], false);
    assert!(v["term"].as_u64().unwrap() > fence, "{v}");
    wait_for("the healed node ready", Duration::from_secs(5), || {
        (probe(&cluster, goose, "/readyz").status == 200).then_some(())
    });
    streams.remove(&0);
    check_histories(&streams);
}

#[test]
fn a_goose_stopped_with_sigterm_emits_duck_before_it_exits() {
    let mut cluster = Cluster::start(BIN, "watch-sigterm", 3, opts(15_000));
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let stream = watch(&cluster, goose, None);
    assert_eq!(first_event(&stream, goose).json()["goose"], true);

    let pid = cluster.node(goose).child.as_ref().expect("running").id();
    signal(pid, "TERM").expect("SIGTERM");
    let asked = Instant::now();
    stream.wait_event("the stopping goose to emit duck", DUCK_WITHIN, |v| {
        v["goose"] == false
    });
    eprintln!("SIGTERM: duck after {:?}", asked.elapsed());
    let status = cluster.terminate(goose, Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    cluster.wait_one_goose(&rest, Duration::from_secs(10));
}

#[test]
fn long_poll_and_resume_return_at_once_on_change_or_at_the_end_of_the_wait() {
    // Keep-alive comments every 200 ms, so a resumed stream shows it is open.
    let cluster = Cluster::start(BIN, "watch-longpoll", 3, opts(200));
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let (r, _) = goose_query(&cluster, goose, "wait=0s");
    let now = state_id(&r);
    let fence: u64 = r.header("duckgoose-fence").unwrap().parse().unwrap();

    // A state other than `after`: at once.
    let (r, took) = goose_query(&cluster, goose, "wait=10s&after=0.duck.none");
    assert_eq!((r.status, state_id(&r)), (200, now.clone()));
    assert!(took < Duration::from_secs(2), "{took:?}");
    // Unchanged: at the end of the wait, with the same state; `after` may be the fence.
    for after in [now.clone(), fence.to_string()] {
        let (r, took) = goose_query(&cluster, goose, &format!("wait=1s&after={after}"));
        assert_eq!(
            (r.status, state_id(&r)),
            (200, now.clone()),
            "after={after}"
        );
        assert!(
            took >= Duration::from_millis(950),
            "after={after}: {took:?}"
        );
        assert!(took < Duration::from_secs(5), "after={after}: {took:?}");
    }
    let (r, _) = goose_query(&cluster, goose, "wait=1h&after=1");
    assert_eq!(r.status, 400, "{}", r.body);

    // Resuming with the current state's id: no event, only keep-alive comments.
    let resumed = watch(&cluster, goose, Some(&now));
    for _ in 0..2 {
        let item = resumed.next_item(Duration::from_secs(2));
        assert_eq!(item, Some(SseItem::Comment("keepalive".into())));
    }
    // Resuming after an older state: the current one first.
    let behind = watch(&cluster, goose, Some("1.duck.none"));
    assert_eq!(
        behind.next_event(Duration::from_secs(2)).unwrap().id,
        Some(now.clone())
    );

    // A blocking query waiting on the goose returns as soon as the state changes.
    let successor = *all.iter().find(|&&id| id != goose).unwrap();
    std::thread::scope(|s| {
        let waiting = s.spawn(|| goose_query(&cluster, goose, &format!("wait=30s&after={now}")));
        wait_for(
            "the blocking query to be waiting",
            Duration::from_secs(5),
            || (open_polls(&cluster, goose) >= 1.0).then_some(()),
        );
        cluster.transfer(goose, successor);
        let (r, took) = waiting.join().unwrap();
        assert_eq!(r.status, 503, "{}", r.body);
        assert_ne!(state_id(&r), now);
        assert!(took < Duration::from_secs(10), "{took:?}");
    });
    // Both resumed streams see the change.
    for s in [&resumed, &behind] {
        s.wait_event("duck on a resumed stream", DUCK_WITHIN, |v| {
            v["goose"] == false
        });
    }
}

/// Blocking queries open on node `id` (`duckgoose_watchers{kind="poll"}`).
fn open_polls(cluster: &Cluster, id: u64) -> f64 {
    let body = probe(cluster, id, "/metrics").body;
    body.lines()
        .filter(|l| l.starts_with("duckgoose_watchers{") && l.contains(r#"kind="poll""#))
        .find_map(|l| l.rsplit_once(' ')?.1.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn readyz_waits_for_a_goose_while_livez_does_not() {
    let mut cluster = Cluster::new(BIN, "watch-ready", 3, opts(15_000)).expect("prepare");
    // One founder of three: it can never know a goose alone.
    cluster.spawn(1).expect("start node 1");
    cluster.wait_serving(1);
    let r = probe(&cluster, 1, "/livez");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["live"], true);
    let r = probe(&cluster, 1, "/readyz");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["ready"], false);
    let stream = watch(&cluster, 1, None);
    let v = first_event(&stream, 1).json();
    assert_eq!(
        (v["goose"].clone(), v["leader"].clone()),
        (Value::Bool(false), Value::Null)
    );

    for id in [2, 3] {
        cluster.spawn(id).expect("start");
    }
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    for &id in &all {
        let r = wait_for(&format!("node {id} ready"), Duration::from_secs(5), || {
            let r = probe(&cluster, id, "/readyz");
            (r.status == 200).then_some(r)
        });
        let v = r.json();
        assert_eq!(v["leader"], goose, "{v}");
        assert!(
            v["applied_index"].as_u64() >= v["commit_index"].as_u64(),
            "{v}"
        );
    }
    stream.wait_event("node 1 to name the goose", Duration::from_secs(5), |v| {
        v["leader"] == goose
    });
}

#[test]
fn a_goose_resumed_after_a_pause_does_not_greet_new_watchers_as_goose() {
    let mut cluster = Cluster::start(BIN, "watch-resume", 3, opts(15_000));
    let all = cluster.ids();
    for _ in 0..3 {
        let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
        let (r, _) = goose_query(&cluster, goose, "wait=0s");
        let old = state_id(&r);
        let rest: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
        cluster.pause(goose).expect("pause");
        cluster.wait_one_goose(&rest, Duration::from_secs(10));
        cluster.resume(goose).expect("resume");
        // The first thing the resumed node says: its confirmation is from before the
        // pause, and a newer leadership exists.
        let s = watch(&cluster, goose, None);
        let first = first_event(&s, goose);
        assert_ne!(
            first.id.as_deref(),
            Some(&*old),
            "a stale goose greeting: {first:?}"
        );
        let (r, _) = goose_query(&cluster, goose, "wait=0s");
        assert_ne!(state_id(&r), old, "a stale goose answer");
    }
}
