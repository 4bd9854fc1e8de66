//! The `duckgoose-client` crate against real processes (here rather than in `client/`
//! because only this package's tests get the `duckgoose` binary): `watch()` sees goose,
//! then duck on a transfer; `fence()` grows across leaderships; a write with a stale fence
//! is refused with `Error::StaleFence` while the current one goes through; a write sent to
//! a duck is followed to the goose with the token; the same over TLS.

use std::time::Duration;

use duckgoose_client::{Client, Error, Fence, GooseState, GooseWatch};
use duckgoose_testkit::*;
use futures_util::StreamExt;
use tokio::runtime::Runtime;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A client of `members` with the cluster's token (and CA, in a TLS cluster).
fn client_of(cluster: &Cluster, members: &[u64]) -> Client {
    let mut b = Client::builder()
        .members(members.iter().map(|&id| cluster.url(id)))
        .token(
            cluster
                .token
                .clone()
                .expect("the secure configuration has a token"),
        );
    if let Some(tls) = &cluster.tls {
        b = b.tls_ca(&tls.ca_path);
    }
    b.build().expect("build the client")
}

/// The next item of `watch` that satisfies `want`, within `timeout`.
fn next_state(
    rt: &Runtime,
    watch: &mut GooseWatch,
    what: &str,
    timeout: Duration,
    want: impl Fn(&GooseState) -> bool,
) -> GooseState {
    rt.block_on(async {
        tokio::time::timeout(timeout, async {
            loop {
                match watch.next().await {
                    Some(Ok(state)) if want(&state) => return state,
                    Some(_) => {}
                    None => panic!("the watch ended"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out after {timeout:?} waiting for {what}"))
    })
}

#[test]
fn watch_sees_goose_then_duck_and_stale_fences_are_refused() {
    let cluster = Cluster::start(BIN, "client", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let successor = *all.iter().find(|&&id| id != goose).unwrap();
    let rt = runtime();
    let client = client_of(&cluster, &all);

    let old = rt.block_on(client.fence()).expect("the goose's fence");
    assert!(rt.block_on(client.is_goose(&cluster.url(goose))).unwrap());
    assert!(
        !rt.block_on(client.is_goose(&cluster.url(successor)))
            .unwrap()
    );
    let mut watch = client.watch(&cluster.url(goose));
    let first = next_state(
        &rt,
        &mut watch,
        "the first event",
        Duration::from_secs(5),
        |_| true,
    );
    assert_eq!(
        first,
        GooseState {
            goose: true,
            node: goose,
            term: old.0,
            fence: Some(old),
            leader: Some(goose),
        }
    );
    rt.block_on(client.put("job", "old", Some(old)))
        .expect("a write with the current fence");

    // Another leadership: the old goose's watch says duck, the fence grows.
    cluster.transfer(goose, successor);
    let duck = next_state(&rt, &mut watch, "duck", Duration::from_secs(2), |s| {
        !s.goose
    });
    assert_eq!(duck.fence, None);
    let new = wait_for("a newer fence", Duration::from_secs(10), || {
        rt.block_on(client.fence()).ok().filter(|f| *f > old)
    });
    next_state(
        &rt,
        &mut watch,
        "the new goose named",
        Duration::from_secs(5),
        |s| s.leader == Some(successor) && s.term == new.0,
    );

    // The old fence is refused, the current one goes through.
    match rt.block_on(client.put("job", "stale", Some(old))) {
        Err(Error::StaleFence { fence, current }) => {
            assert_eq!((fence, current), (old, new));
        }
        other => panic!("a stale fence must be refused, got {other:?}"),
    }
    assert_eq!(
        rt.block_on(client.get("job")).unwrap().as_deref(),
        Some("old")
    );
    rt.block_on(client.put("job", "new", Some(new)))
        .expect("a write with the current fence");
    assert_eq!(
        rt.block_on(client.get("job")).unwrap().as_deref(),
        Some("new")
    );
    assert!(matches!(
        rt.block_on(client.cas("job", Some("new"), "stale-cas", Some(Fence(old.0)))),
        Err(Error::StaleFence { .. })
    ));
}

#[test]
fn a_write_sent_to_a_duck_is_followed_to_the_goose_with_the_token() {
    let cluster = Cluster::start(BIN, "client-redirect", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let rt = runtime();
    // Only the duck is configured: the goose is trusted because the duck lists it.
    let client = client_of(&cluster, &[duck]);
    let fence = rt
        .block_on(client.fence())
        .expect("the fence, found through the duck");
    rt.block_on(client.put("redirected", "yes", Some(fence)))
        .expect("the write, followed to the goose");
    let r = cluster.call(goose, "GET", "/kv/redirected", "").unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "yes"));

    // Without the token the cluster refuses it: the token is what got it through.
    let anonymous = Client::builder().member(cluster.url(duck)).build().unwrap();
    assert!(matches!(
        rt.block_on(anonymous.put("redirected", "no", Some(fence))),
        Err(Error::Unauthorized)
    ));
}

#[test]
fn a_watch_that_reconnects_restates_the_node_answer() {
    // The node's keep-alive (15 s) is longer than the client's idle timeout: the stream
    // looks dead to the client every 300 ms and it reconnects, the node unchanged.
    let cluster = Cluster::start(BIN, "client-reconnect", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let rt = runtime();
    let client = Client::builder()
        .member(cluster.url(goose))
        .token(cluster.token.clone().unwrap())
        .watch_idle_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut watch = client.watch(&cluster.url(goose));
    // A program stops acting on an `Err` until the next `Ok`: after each reconnection the
    // node's (unchanged) answer must come again, or the program would stay stopped.
    let items = rt.block_on(async {
        let mut items = Vec::new();
        while items.len() < 6 {
            match tokio::time::timeout(Duration::from_secs(5), watch.next()).await {
                Ok(Some(item)) => items.push(item.map(|s| s.goose)),
                _ => break,
            }
        }
        items
    });
    let errors = items.iter().filter(|i| i.is_err()).count();
    assert!(
        errors >= 2,
        "the client's idle timeout should fire: {items:?}"
    );
    for pair in items.windows(2) {
        if pair[0].is_err() {
            assert!(
                matches!(pair[1], Ok(true)),
                "after a reconnection the node's answer comes again: {items:?}"
            );
        }
    }
}

#[test]
fn over_tls_the_client_watches_and_writes_with_the_ca_and_token() {
    let cluster = Cluster::start_tls(BIN, "client-tls", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let rt = runtime();
    let client = client_of(&cluster, &all);
    let fence = rt.block_on(client.fence()).expect("the fence over https");
    for &id in &all {
        let mut watch = client.watch(&cluster.url(id));
        let first = next_state(
            &rt,
            &mut watch,
            "a first event",
            Duration::from_secs(5),
            |_| true,
        );
        assert_eq!(first.goose, id == goose, "{first:?}");
        assert_eq!(first.node, id);
    }
    rt.block_on(client.put("tls", "ok", Some(fence)))
        .expect("a fenced write over https");
    assert_eq!(
        rt.block_on(client.get("tls")).unwrap().as_deref(),
        Some("ok")
    );
}

#[test]
fn a_node_that_went_silent_does_not_hold_the_client() {
    let mut cluster = Cluster::start(BIN, "client-silent", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let rt = runtime();
    let client = Client::builder()
        .members(all.iter().map(|&id| cluster.url(id)))
        .token(cluster.token.clone().unwrap())
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    // The goose takes a write: the client will ask it first next time.
    rt.block_on(client.put("k", "1", None)).unwrap();
    let successor = *all.iter().find(|&&id| id != goose).unwrap();
    cluster.transfer(goose, successor);
    cluster.wait_one_goose(&all, Duration::from_secs(10));
    // The node the client would ask first stops answering (SIGSTOP).
    cluster.pause(goose).unwrap();
    // A read is safe to send elsewhere at once; a write's outcome there is unknown, but
    // the next one must not be sent to the silent node again.
    assert_eq!(rt.block_on(client.get("k")).unwrap().as_deref(), Some("1"));
    let first = rt.block_on(client.put("k", "2", None));
    if let Err(e) = &first {
        assert!(matches!(e, Error::OutcomeUnknown { .. }), "{e}");
        rt.block_on(client.put("k", "2", None))
            .expect("the write after a timeout goes to a live node");
    }
    assert_eq!(rt.block_on(client.get("k")).unwrap().as_deref(), Some("2"));
    cluster.resume(goose).unwrap();
}
