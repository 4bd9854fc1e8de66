//! The peer transport between real processes: streams carry the cluster's traffic; a
//! `kill -9` of the goose closes its streams, so the survivors campaign in turn as soon
//! as their leader stickiness ends (the goose lease, one and a half heartbeats, after they
//! last heard the goose: a notice may be spurious, and a live goose's lease counts on
//! that silence), before any election timeout could fire; a partition made with the admin route closes
//! nothing and waits the full timeout; a stream needs the token (and under mutual TLS a client certificate);
//! a malformed or oversized frame closes only that stream.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use duckgoose_testkit::tls::https_client;
use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");
/// Long timings, so that the close notice's turn (right after the stickiness ends, in
/// the first half of the first survivor's slot: 0.5–2 s after the kill) is told apart
/// from the stickiness itself and from any election timeout (3 s or more after the kill)
/// with room to spare on a busy machine.
const HEARTBEAT_MS: u64 = 1000;
const ELECTION_MIN_MS: u64 = 4000;
const ELECTION_MAX_MS: u64 = 6000;
/// The goose lease a node derives from those timings (`Config::fast_failover_lease`).
const LEASE_MS: u64 = HEARTBEAT_MS * 3 / 2;

fn long_timeouts() -> Opts {
    Opts {
        extra: vec![
            "--heartbeat-ms".into(),
            HEARTBEAT_MS.to_string(),
            "--election-ms".into(),
            format!("{ELECTION_MIN_MS}-{ELECTION_MAX_MS}"),
        ],
        ..Opts::default()
    }
}

/// A failover driven by the close notice: never inside the leader stickiness the
/// survivors owe the dead goose (its lease may still run if the notice was spurious),
/// and before the minimum election timeout, the earliest a survivor could campaign
/// without the notice.
fn assert_failover_in_turn(took: Duration, what: &str) {
    // The survivors last heard the goose up to a heartbeat before the kill.
    let stickiness = Duration::from_millis(LEASE_MS - HEARTBEAT_MS - 100);
    let timeout = Duration::from_millis(ELECTION_MIN_MS - HEARTBEAT_MS - 100);
    assert!(
        took >= stickiness,
        "{what} took {took:?}: a survivor was elected inside the stickiness it owed the goose"
    );
    assert!(
        took < timeout,
        "{what} took {took:?}: the close notice should bring it before {timeout:?}"
    );
}

fn is_goose(cluster: &Cluster, id: u64) -> bool {
    cluster
        .request(id, "GET", "/goose", &[], b"", Duration::from_millis(500))
        .is_ok_and(|r| r.status == 200 && r.body == "goose")
}

/// Polls every 10 ms for a goose among `ids`; the time it took from `since`.
/// `kill -9` the goose: the survivors, and how long until one of them answered goose.
fn kill_goose(cluster: &mut Cluster, all: &[u64], goose: u64) -> (Vec<u64>, Duration) {
    cluster.kill9(goose);
    let killed_at = Instant::now();
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    let (_, took) = new_goose(cluster, &rest, killed_at, Duration::from_secs(10));
    (rest, took)
}

fn new_goose(cluster: &Cluster, ids: &[u64], since: Instant, timeout: Duration) -> (u64, Duration) {
    let id = wait_for("a new goose", timeout, || {
        ids.iter().copied().find(|&id| is_goose(cluster, id))
    });
    (id, since.elapsed())
}

/// The value of counter `name` (with `_total`) for `direction` on node `id`.
fn metric(cluster: &Cluster, id: u64, name: &str, direction: &str) -> f64 {
    let r = cluster
        .request(id, "GET", "/metrics", &[], b"", Duration::from_secs(5))
        .expect("/metrics");
    r.body
        .lines()
        .find(|l| l.starts_with(name) && l.contains(&format!("direction=\"{direction}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} {direction} in\n{}", r.body))
}

#[test]
fn kill9_of_the_goose_fails_over_in_turn_right_after_the_stickiness() {
    let mut cluster = Cluster::start(BIN, "transport-kill", 3, long_timeouts());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(20));
    // The traffic runs on streams: the goose opened one to each peer, each duck one back.
    for id in &all {
        let up = metric(
            &cluster,
            *id,
            "duckgoose_peer_connections_up_total",
            "outbound",
        );
        let want = if *id == goose { 2.0 } else { 1.0 };
        assert!(up >= want, "node {id}: {up} outbound streams");
    }

    let (rest, took) = kill_goose(&mut cluster, &all, goose);
    assert_failover_in_turn(took, "failover");
    for id in &rest {
        let down = metric(
            &cluster,
            *id,
            "duckgoose_peer_connections_down_total",
            "inbound",
        );
        assert!(down >= 1.0, "node {id} saw no stream from the goose end");
        assert!(
            cluster
                .log_tail(*id, 200)
                .contains(&format!("peer={goose}")),
            "node {id} logged nothing about peer {goose}"
        );
    }
}

#[test]
fn a_partition_through_the_admin_route_waits_the_full_election_timeout() {
    let cluster = Cluster::start(BIN, "transport-partition", 3, long_timeouts());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(20));
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    let cut_at = Instant::now();
    let block = |id: u64, others: &[u64]| {
        let body = serde_json::json!({ "block": others }).to_string();
        let r = cluster
            .call(id, "POST", "/admin/partition", &body)
            .expect("partition");
        assert_eq!(r.status, 200, "{}", r.body);
    };
    block(goose, &rest);
    for &id in &rest {
        block(id, &[goose]);
    }
    let (_, took) = new_goose(&cluster, &rest, cut_at, Duration::from_secs(15));
    // A follower heard its last heartbeat at most a heartbeat before the cut.
    assert!(
        took >= Duration::from_millis(ELECTION_MIN_MS - HEARTBEAT_MS - 100),
        "a partition failed over in {took:?}, before the election timeout minimum \
         {ELECTION_MIN_MS} ms: something sent a close notice"
    );
    // Nothing was torn down by the partition.
    for &id in &all {
        let down = metric(
            &cluster,
            id,
            "duckgoose_peer_connections_down_total",
            "inbound",
        );
        assert_eq!(down, 0.0, "node {id} lost a stream to a partition");
    }
}

/// Sends an upgrade request on a fresh connection; the response head and the socket.
fn open_raw(addr: &str, token: Option<&str>, upgrade: bool) -> (String, TcpStream) {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = format!("GET /raft/stream HTTP/1.1\r\nHost: {addr}\r\n");
    if upgrade {
        head.push_str("Connection: upgrade\r\nUpgrade: duckgoose-raft/1\r\n");
    }
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            other => panic!("response head cut short ({other:?}): {got:?}"),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), tcp)
}

/// Waits for the node to close `tcp` (EOF or reset); a timeout fails.
fn assert_closed(tcp: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 64];
    match tcp.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("{what}: stream not closed: {other:?}"),
    }
}

#[test]
fn streams_need_the_token_and_bad_frames_close_only_their_stream() {
    let cluster = Cluster::start(BIN, "transport-frames", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let token = cluster.token.clone().expect("a token by default");
    let addr = cluster.addr(goose);

    let (head, _) = open_raw(&addr, None, true);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = open_raw(&addr, Some("wrong"), true);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let (head, _) = open_raw(&addr, Some(&token), false);
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");

    // Not postcard: the node closes the stream.
    let (head, mut tcp) = open_raw(&addr, Some(&token), true);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp.write_all(&[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    assert_closed(&mut tcp, "malformed frame");

    // A length over --max-peer-body: closed before the body is read.
    let (head, mut tcp) = open_raw(&addr, Some(&token), true);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp.write_all(&u32::MAX.to_be_bytes()).unwrap();
    assert_closed(&mut tcp, "oversized frame");

    let log = wait_for("the reasons in the log", Duration::from_secs(5), || {
        let log = cluster.log_tail(goose, 400);
        (log.contains("malformed frame") && log.contains("oversized frame")).then_some(log)
    });
    assert!(!log.contains("panicked"), "{log}");
    // The node and its cluster carry on: still the goose, writes commit.
    assert!(is_goose(&cluster, goose));
    let r = cluster.put(goose, "after-bad-frames", "ok").expect("put");
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    assert_eq!(cluster.wait_one_goose(&all, Duration::from_secs(5)), goose);
}

#[test]
fn under_mutual_tls_a_stream_needs_a_client_certificate() {
    let mut cluster = Cluster::start_tls(BIN, "transport-mtls", 3, long_timeouts());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(20));
    let tls = cluster.tls.as_ref().expect("a TLS cluster");
    let ca_pem = tls.ca.pem();
    let bearer = format!("Bearer {}", cluster.token.clone().expect("a token"));
    let upgrade = [
        ("Connection", "upgrade"),
        ("Upgrade", "duckgoose-raft/1"),
        ("Authorization", bearer.as_str()),
    ];
    let certless = https_client(&ca_pem, None);
    let r = request_with(
        &certless,
        &cluster.url(goose),
        "GET",
        "/raft/stream",
        &upgrade,
        b"",
        Duration::from_secs(5),
    )
    .expect("a stream without a client certificate");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"], "client_cert_required", "{}", r.body);
    let leaf = tls.ca.leaf(950, &["127.0.0.1"]);
    let with_cert = https_client(&ca_pem, Some(&leaf));
    let r = request_with(
        &with_cert,
        &cluster.url(goose),
        "GET",
        "/raft/stream",
        &upgrade[..2],
        b"",
        Duration::from_secs(5),
    )
    .expect("a stream without the token");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(is_goose(&cluster, goose));

    // The cluster's own streams run over mutual TLS, and their close notice works too.
    let (_, took) = kill_goose(&mut cluster, &all, goose);
    assert_failover_in_turn(took, "failover over TLS");
}
