//! A picture of the cluster at one instant, shaped for drawing (the browser playground
//! takes one per frame across the wasm boundary).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use duckgoose_core::entry::{Command, Entry};
use duckgoose_core::events::Role;
use duckgoose_core::kv::Op;
use duckgoose_core::snapshot::Snapshot;
use duckgoose_core::types::{Index, Millis, NodeId, Term};
use duckgoose_sim::checker::Violation;
use duckgoose_sim::{Cluster, NodeStatus};

/// One node, borrowing what it shows from the cluster: a view lives for one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView<'a> {
    pub id: NodeId,
    pub status: NodeStatus,
    /// In its own latest membership (false for a joining or removed node).
    pub member: bool,
    /// `None` while down.
    pub role: Option<Role>,
    /// Votes or acknowledgements this node needs, by its own membership (0 when down).
    pub quorum: u32,
    /// Shows itself as the goose (holds a quorum-confirmed lease).
    pub goose: bool,
    pub term: Term,
    pub voted_for: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub commit_index: Index,
    pub applied_index: Index,
    pub last_index: Index,
    /// (armed at, fires at) for followers and candidates.
    pub election_timer: Option<(Millis, Millis)>,
    /// (voter, granted) for (pre-)candidates.
    pub votes: Vec<(NodeId, bool)>,
    /// (follower, match index) for leaders.
    pub matched: Vec<(NodeId, Index)>,
    /// The last entries of the log, oldest first (only those after `snapshot`); the page
    /// shows each with its [`write_label`].
    pub log: &'a [Entry],
    /// The snapshot that replaced the log's prefix, `None` while the log starts at 1.
    pub snapshot: Option<SnapshotView>,
    /// A leader's snapshot this node is receiving chunk by chunk (not yet whole).
    pub receiving: Option<ReceivingView>,
    pub kv_len: u32,
    /// What the node's own clock reads now (its `now`: `election_timer` is on it).
    pub clock: Millis,
    /// How fast its clock runs, in thousandths of virtual time (1000: 1×).
    pub clock_rate: u32,
}

/// A snapshot as the log view draws it: one block standing for entries 1 to `index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotView {
    /// The last log index it includes.
    pub index: Index,
    /// The term of the entry at `index`.
    pub term: Term,
    /// The size of the store's state it holds.
    pub bytes: u32,
}

/// A snapshot arriving in chunks: through which index, and how many bytes are in so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivingView {
    pub index: Index,
    pub bytes: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageView {
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub kind: &'static str,
    pub term: Term,
    pub entries: u32,
    pub sent_at: Millis,
    pub deliver_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterView<'a> {
    pub now: Millis,
    pub nodes: Vec<NodeView<'a>>,
    pub messages: Vec<MessageView>,
    /// Cut directed links (from, to).
    pub cut: Vec<(NodeId, NodeId)>,
    pub goose: Option<NodeId>,
    pub violations: &'a [Violation],
    /// The goose's key-value store (what a linearizable read there would see), while
    /// there is a goose.
    pub store: Option<StoreView<'a>>,
}

/// The first keys of one node's key-value store, in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreView<'a> {
    pub node: NodeId,
    /// How many keys it holds in all.
    pub len: u32,
    /// Up to [`STORE_VIEW_KEYS`] (key, value) pairs.
    pub entries: Vec<(&'a str, &'a str)>,
}

/// Most keys a frame carries: the playground shows a handful, and a store people fill
/// by hand stays small.
pub const STORE_VIEW_KEYS: usize = 8;

/// A log entry's short label, as the log view shows it: `noop`, `x=1`, `del x`,
/// `cas x=2`, `{1,2,3}`, `x=1 ⛨3` (fenced by term 3). Written straight into `out`:
/// every frame labels every entry of every log tail it shows.
pub fn write_label(command: &Command, out: &mut String) {
    match command {
        Command::Noop => out.push_str("noop"),
        Command::Config(m) => {
            out.push('{');
            for (i, id) in m.ids().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{id}");
            }
            out.push('}');
        }
        Command::App(op) => write_op_label(op, out),
    }
}

fn write_op_label(op: &Op, out: &mut String) {
    let (verb, key, value) = match op {
        Op::Put { key, value } => ("", key, Some(value)),
        Op::Delete { key } => ("del ", key, None),
        Op::Cas { key, value, .. } => ("cas ", key, Some(value)),
        Op::Get { key } => ("get ", key, None),
        Op::Fenced { fence, op } => {
            write_op_label(op, out);
            let _ = write!(out, " ⛨{fence}");
            return;
        }
    };
    out.push_str(verb);
    out.push_str(key);
    if let Some(value) = value {
        out.push('=');
        out.push_str(value);
    }
}

fn snapshot_view(snapshot: Option<&Snapshot>) -> Option<SnapshotView> {
    snapshot.map(|s| SnapshotView {
        index: s.index,
        term: s.term,
        bytes: u32::try_from(s.data.len()).unwrap_or(u32::MAX),
    })
}

fn log_tail(entries: &[Entry], tail: usize) -> &[Entry] {
    &entries[entries.len().saturating_sub(tail)..]
}

impl<'a> ClusterView<'a> {
    /// `cluster` now, with the last `log_tail` entries of each log.
    pub fn of(cluster: &'a Cluster, tail: usize) -> ClusterView<'a> {
        let nodes = cluster
            .node_ids()
            .map(|id| {
                let status = cluster.status(id).expect("listed node");
                let disk = cluster.persisted(id).expect("listed node");
                let clock = cluster.clock_reading(id).expect("listed node");
                let clock_rate = cluster.clock(id).expect("listed node").rate;
                match cluster.replica(id) {
                    Some(replica) => {
                        let raft = replica.raft();
                        NodeView {
                            id,
                            status,
                            member: raft.membership().contains(id),
                            role: Some(raft.role()),
                            quorum: raft.membership().quorum() as u32,
                            goose: cluster.shows_goose(id),
                            term: raft.term(),
                            voted_for: raft.voted_for(),
                            leader: raft.leader(),
                            commit_index: raft.commit_index(),
                            applied_index: replica.kv().applied_index(),
                            last_index: raft.log().last_index(),
                            election_timer: raft.election_timer(),
                            votes: raft
                                .votes()
                                .map(|v| v.iter().map(|(&k, &g)| (k, g)).collect())
                                .unwrap_or_default(),
                            matched: raft
                                .membership()
                                .ids()
                                .filter_map(|p| raft.follower_progress(p).map(|(m, _)| (p, m)))
                                .collect(),
                            log: log_tail(raft.log().entries(), tail),
                            snapshot: snapshot_view(raft.snapshot()),
                            receiving: raft.snapshot_receiving().map(|(index, bytes)| {
                                ReceivingView {
                                    index,
                                    bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
                                }
                            }),
                            kv_len: replica.kv().len() as u32,
                            clock,
                            clock_rate,
                        }
                    }
                    None => NodeView {
                        id,
                        status,
                        // The latest configuration on disk: in the log tail, else the
                        // one the snapshot holds.
                        member: disk
                            .log
                            .iter()
                            .rev()
                            .find_map(|e| match &e.command {
                                Command::Config(m) => Some(m.contains(id)),
                                _ => None,
                            })
                            .or_else(|| disk.snapshot.as_ref().map(|s| s.membership.contains(id)))
                            .unwrap_or(false),
                        role: None,
                        quorum: 0,
                        goose: false,
                        term: disk.term,
                        voted_for: disk.voted_for,
                        leader: None,
                        commit_index: 0,
                        applied_index: 0,
                        // The disk holds the log after its snapshot (if any).
                        last_index: disk.log.last().map_or_else(
                            || disk.snapshot.as_ref().map_or(0, |s| s.index),
                            |e| e.index,
                        ),
                        election_timer: None,
                        votes: Vec::new(),
                        matched: Vec::new(),
                        log: log_tail(&disk.log, tail),
                        snapshot: snapshot_view(disk.snapshot.as_ref()),
                        receiving: None,
                        kv_len: 0,
                        clock,
                        clock_rate,
                    },
                }
            })
            .collect();
        let messages = cluster
            .messages_in_flight()
            .map(|(summary, sent_at, deliver_at)| MessageView {
                id: summary.id,
                from: summary.from,
                to: summary.to,
                kind: summary.kind,
                term: summary.term,
                entries: summary.entries,
                sent_at,
                deliver_at,
            })
            .collect();
        let store = cluster.goose().and_then(|goose| {
            let kv = cluster.replica(goose)?.kv();
            Some(StoreView {
                node: goose,
                len: kv.len() as u32,
                entries: kv
                    .iter()
                    .take(STORE_VIEW_KEYS)
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
            })
        });
        ClusterView {
            now: cluster.now(),
            nodes,
            messages,
            cut: cluster.network().cut_links().collect(),
            goose: cluster.goose(),
            violations: cluster.violations(),
            store,
        }
    }
}
