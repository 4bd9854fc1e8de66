//! A write the replica took but never decided, because the node stopped (SIGTERM), must
//! not be answered "503, nothing happened": the entry may already be on a majority and
//! commit under the next goose. Found by the nemesis (a PUT answered 503 "shutting
//! down" during a SIGTERM was later read back). It is answered 504, outcome unknown.

use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use duckgoose::http::{self, Limits};
use duckgoose::runtime::{self, Input, Shared};
use duckgoose::storage::Storage;
use duckgoose_core::{Body, Config, Member, Membership, Message, Persisted, Replica};

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn status(shared: &Shared) -> Option<runtime::Status> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    shared.inputs.try_send(Input::Status(tx)).ok()?;
    rx.blocking_recv().ok()
}

#[test]
fn a_write_pending_when_the_node_stops_is_answered_504_not_503() {
    let dir = std::env::temp_dir().join(format!("duckgoose-abandoned-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Node 1 of three; its peers are unreachable, so nothing it proposes can commit.
    let members = Membership::new(vec![
        Member::new(1, "127.0.0.1:1"),
        Member::new(2, "127.0.0.1:2"),
        Member::new(3, "127.0.0.1:3"),
    ]);
    let (storage, recovered) = Storage::open(&dir, 1, Persisted::bootstrap(members)).unwrap();
    let mut config = Config::new(1, 3);
    config.heartbeat_interval = 10;
    config.election_timeout_min = 20;
    config.election_timeout_max = 40;
    config.goose_lease = config.fast_failover_lease();
    config.pre_vote = false;
    config.check_quorum = false;
    let replica = Replica::new(config, recovered.persisted, 0, 60_000).unwrap();
    let (tx, rx) = sync_channel(1024);
    let shared = Arc::new(Shared::new(
        1,
        "127.0.0.1:1",
        None,
        tx,
        100,
        Duration::from_secs(60),
    ));
    let handle = tokio.handle().clone();
    let thread_shared = shared.clone();
    let replica_thread = std::thread::spawn(move || {
        runtime::run(replica, storage, rx, thread_shared, handle, Instant::now())
    });

    // It campaigns; node 2's vote (forged here) makes it leader.
    let term = wait_for("a campaign", Duration::from_secs(10), || {
        status(&shared)
            .filter(|s| s.state == "candidate")
            .map(|s| s.term)
    });
    shared
        .inputs
        .try_send(Input::Peer {
            from: 2,
            addr: String::new(),
            messages: vec![Message {
                from: 2,
                to: 1,
                term,
                body: Body::VoteReply { granted: true },
            }],
        })
        .unwrap();
    wait_for("leadership", Duration::from_secs(10), || {
        status(&shared).filter(|s| s.state == "leader" && s.term == term)
    });

    // Serve HTTP and PUT: the entry is appended, but can never commit.
    let app = http::router(
        shared.clone(),
        Limits {
            client_body: 1 << 16,
            peer_body: 1 << 20,
        },
    );
    let listener = tokio
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio.spawn(async move { axum::serve(listener, app).await });
    let put = tokio.spawn(async move {
        let resp = reqwest::Client::new()
            .put(format!("http://{addr}/kv/x"))
            .body("v")
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    });
    wait_for(
        "the PUT to reach the replica",
        Duration::from_secs(10),
        || status(&shared).filter(|s| s.last_log_index >= 3),
    );

    // The node stops (what SIGTERM does) with the write undecided.
    shared.inputs.try_send(Input::Shutdown).unwrap();
    replica_thread.join().unwrap().unwrap();
    let (code, body) = tokio.block_on(put).unwrap();
    assert_eq!(code, 504, "{body}");
    assert!(body.contains("may or may not take effect"), "{body}");
    tokio.shutdown_background();
    let _ = std::fs::remove_dir_all(&dir);
}
