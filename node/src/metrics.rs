//! Prometheus metrics. Every metric is an atomic, updated by the thread that owns the
//! replica and read by `GET /metrics`.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

/// Which side opened a peer stream: this node (`outbound`) or the peer (`inbound`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    pub direction: &'static str,
}

/// A goose watcher: an event stream (`stream`) or a blocking query (`poll`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatcherLabel {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnswerLabel {
    pub answer: &'static str,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub term: Gauge,
    pub state: Family<StateLabel, Gauge>,
    pub is_goose: Gauge,
    pub elections_started: Counter,
    pub pre_votes_started: Counter,
    pub leader_changes: Counter,
    pub goose_queries: Family<AnswerLabel, Counter>,
    pub commit_index: Gauge,
    pub last_log_index: Gauge,
    pub applied_index: Gauge,
    pub members: Gauge,
    pub fsync_seconds: Histogram,
    pub peer_messages_sent: Counter,
    pub peer_messages_dropped: Counter,
    pub peer_messages_received: Counter,
    pub peer_connections_up: Family<DirectionLabel, Counter>,
    pub peer_connections_down: Family<DirectionLabel, Counter>,
    pub client_requests: Counter,
    pub watchers: Family<WatcherLabel, Gauge>,
    pub snapshots_taken: Counter,
    pub snapshots_installed: Counter,
    pub snapshot_bytes: Gauge,
    pub snapshot_index: Gauge,
    pub snapshot_seconds: Histogram,
}

pub const STATES: [&str; 4] = ["follower", "pre_candidate", "candidate", "leader"];

impl Metrics {
    pub fn new(id: u64) -> Metrics {
        let mut registry = Registry::with_prefix_and_labels(
            "duckgoose",
            [("node".into(), id.to_string().into())].into_iter(),
        );
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            term: Gauge::default(),
            state: Family::default(),
            is_goose: Gauge::default(),
            elections_started: Counter::default(),
            pre_votes_started: Counter::default(),
            leader_changes: Counter::default(),
            goose_queries: Family::default(),
            commit_index: Gauge::default(),
            last_log_index: Gauge::default(),
            applied_index: Gauge::default(),
            members: Gauge::default(),
            fsync_seconds: Histogram::new(exponential_buckets(0.00005, 2.0, 16)),
            peer_messages_sent: Counter::default(),
            peer_messages_dropped: Counter::default(),
            peer_messages_received: Counter::default(),
            peer_connections_up: Family::default(),
            peer_connections_down: Family::default(),
            client_requests: Counter::default(),
            watchers: Family::default(),
            snapshots_taken: Counter::default(),
            snapshots_installed: Counter::default(),
            snapshot_bytes: Gauge::default(),
            snapshot_index: Gauge::default(),
            snapshot_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
        };
        registry.register("term", "Current Raft term", m.term.clone());
        registry.register(
            "state",
            "1 for the node's current Raft state, 0 for the others",
            m.state.clone(),
        );
        registry.register(
            "is_goose",
            "1 if the latest goose query on this node answered goose",
            m.is_goose.clone(),
        );
        registry.register(
            "elections_started",
            "Elections this node started as a candidate (pre-votes not counted)",
            m.elections_started.clone(),
        );
        registry.register(
            "pre_votes_started",
            "Pre-vote rounds this node started (one per election timeout while it hears no leader)",
            m.pre_votes_started.clone(),
        );
        registry.register(
            "leader_changes",
            "Times the leader this node knows of changed to another node",
            m.leader_changes.clone(),
        );
        registry.register(
            "goose_queries_answered",
            "Goose queries answered, by answer",
            m.goose_queries.clone(),
        );
        registry.register("commit_index", "Raft commit index", m.commit_index.clone());
        registry.register(
            "last_log_index",
            "Index of the last log entry",
            m.last_log_index.clone(),
        );
        registry.register(
            "applied_index",
            "Index of the last entry applied to the key-value store",
            m.applied_index.clone(),
        );
        registry.register("members", "Voters in the membership", m.members.clone());
        registry.register(
            "fsync_seconds",
            "Latency of fsync on the log",
            m.fsync_seconds.clone(),
        );
        registry.register(
            "peer_messages_sent",
            "Raft messages handed to peers",
            m.peer_messages_sent.clone(),
        );
        registry.register(
            "peer_messages_dropped",
            "Raft messages dropped (queue full, peer unreachable, partitioned or unknown address)",
            m.peer_messages_dropped.clone(),
        );
        registry.register(
            "peer_messages_received",
            "Raft messages received from peers",
            m.peer_messages_received.clone(),
        );
        registry.register(
            "peer_connections_up",
            "Peer streams established, by direction",
            m.peer_connections_up.clone(),
        );
        registry.register(
            "peer_connections_down",
            "Established peer streams that ended, by direction",
            m.peer_connections_down.clone(),
        );
        registry.register(
            "client_requests",
            "Client and admin requests handed to the replica",
            m.client_requests.clone(),
        );
        registry.register(
            "watchers",
            "Goose watchers open now, by kind (stream: GET /goose/watch; poll: a blocking GET /goose)",
            m.watchers.clone(),
        );
        registry.register(
            "snapshots_taken",
            "Log compactions this node made from its own state (--snapshot-entries)",
            m.snapshots_taken.clone(),
        );
        registry.register(
            "snapshots_installed",
            "Snapshots this node installed from a leader (it was behind the leader's log)",
            m.snapshots_installed.clone(),
        );
        registry.register(
            "snapshot_bytes",
            "Size of the snapshot file last written",
            m.snapshot_bytes.clone(),
        );
        registry.register(
            "snapshot_index",
            "Last log index the snapshot on disk covers",
            m.snapshot_index.clone(),
        );
        registry.register(
            "snapshot_seconds",
            "Time to make a snapshot durable and cut the log after it",
            m.snapshot_seconds.clone(),
        );
        for kind in ["stream", "poll"] {
            let _ = m.watchers.get_or_create(&WatcherLabel { kind });
        }
        for s in STATES {
            m.state.get_or_create(&StateLabel { state: s }).set(0);
        }
        for direction in ["inbound", "outbound"] {
            let label = DirectionLabel { direction };
            let _ = m.peer_connections_up.get_or_create(&label);
            let _ = m.peer_connections_down.get_or_create(&label);
        }
        for a in ["goose", "duck"] {
            let _ = m.goose_queries.get_or_create(&AnswerLabel { answer: a });
        }
        *m.registry.lock().unwrap_or_else(|e| e.into_inner()) = registry;
        m
    }

    pub fn set_state(&self, state: &str) {
        for s in STATES {
            self.state
                .get_or_create(&StateLabel { state: s })
                .set(i64::from(s == state));
        }
    }

    /// One more goose question answered to a client, `goose` or not.
    pub fn count_goose_answer(&self, goose: bool) {
        let answer = if goose { "goose" } else { "duck" };
        self.goose_queries
            .get_or_create(&AnswerLabel { answer })
            .inc();
    }

    pub fn watcher_opened(&self, kind: &'static str) {
        self.watchers.get_or_create(&WatcherLabel { kind }).inc();
    }

    pub fn watcher_closed(&self, kind: &'static str) {
        self.watchers.get_or_create(&WatcherLabel { kind }).dec();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}
