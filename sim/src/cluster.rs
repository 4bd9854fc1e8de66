//! The simulated cluster: nodes, the network between them, clients, and the checker run
//! after every step.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use duckgoose_core::config::Config;
use duckgoose_core::entry::Command;
use duckgoose_core::events::{Event, Role};
use duckgoose_core::kv::{Op, Output};
use duckgoose_core::message::{Body, Message};
use duckgoose_core::raft::Persisted;
use duckgoose_core::replica::{Replica, ReplicaReleased, Reply, Request, RequestError, RequestId};
use duckgoose_core::rng::Rng;
use duckgoose_core::types::{Index, Map, Member, Membership, Millis, NodeId, Term};
use duckgoose_lincheck::{self as lincheck, Operation, Outcome};

use crate::checker::{Checker, GooseQuestion, Seq, Violation};
use crate::clock::{Clock, MAX_RATE, MIN_RATE};
use crate::network::{Fate, LinkFaults, Network};
use crate::trace::{DropReason, MessageSummary, Trace, TraceKind, TraceMode};

/// Everything that determines a run, together with the seed and the recorded actions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct SimConfig {
    /// Initial cluster size; nodes get ids 1..=nodes.
    pub nodes: u32,
    pub seed: u64,
    pub heartbeat_interval: Millis,
    pub election_timeout_min: Millis,
    pub election_timeout_max: Millis,
    /// `Config::goose_lease`; `None`: the minimum election timeout, the longest allowed
    /// (the goose never blinks out between rounds on a slow network).
    #[cfg_attr(feature = "serde", serde(default))]
    pub goose_lease: Option<Millis>,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub network: LinkFaults,
    /// How long a node lets a client request wait before answering `Timeout`.
    pub request_timeout: Millis,
    /// A crash closes the crashed node's connections, and each peer it could reach
    /// learns so (`Replica::peer_connection_closed`) one link latency later, after what
    /// the crashed node had already sent on that link (its kernel's FIN or RST). A
    /// partition closes nothing. Off: peers notice a crash only by silence.
    #[cfg_attr(feature = "serde", serde(default = "notices_on"))]
    pub close_notices: bool,
    /// Log compaction; `None`: every node keeps its whole log.
    #[cfg_attr(feature = "serde", serde(default))]
    pub compaction: Option<Compaction>,
    /// `Config::max_entries_per_message`; `None`: the core's default (64). One entry per
    /// message lets an old entry reach a majority before the new leader's no-op does,
    /// the step Figure 8 of the Raft paper turns on.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub max_entries_per_message: Option<usize>,
    /// A deliberately broken rule on every node (`Config::unsafe_variant`), to watch the
    /// checker catch it (`hunt`). `None`: the real protocol.
    #[cfg(feature = "unsafe-variants")]
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub unsafe_variant: Option<duckgoose_core::UnsafeVariant>,
}

/// When simulated nodes compact their logs (`Replica::compact`: through the index their
/// store has applied, with the store's state there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Compaction {
    /// Compact once this many entries are applied past the last snapshot (0: never by
    /// count).
    pub threshold: u64,
    /// The chance per node event, in parts per million, that a node compacts whatever
    /// it has applied: snapshots at arbitrary indexes, not only at multiples.
    pub random_ppm: u32,
    /// State bytes per InstallSnapshot chunk. Small, so that the few keys of a simulated
    /// store still take several chunks and a crash can land between two of them.
    pub chunk_bytes: usize,
}

impl Compaction {
    /// What the randomized runs use: a snapshot every 32 entries or so, and now and then
    /// at a random point; chunks of 16 bytes (a store of three keys takes about six).
    pub const SIM: Compaction = Compaction {
        threshold: 32,
        random_ppm: 2_000,
        chunk_bytes: 16,
    };
}

#[cfg(feature = "serde")]
fn notices_on() -> bool {
    true
}

impl SimConfig {
    /// The Raft paper's timings (§9.3) on a calm 10–15 ms network.
    pub fn new(nodes: u32, seed: u64) -> Self {
        SimConfig {
            nodes,
            seed,
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            goose_lease: None,
            pre_vote: true,
            check_quorum: true,
            network: LinkFaults::CALM,
            request_timeout: 1_000,
            close_notices: true,
            compaction: None,
            max_entries_per_message: None,
            #[cfg(feature = "unsafe-variants")]
            unsafe_variant: None,
        }
    }

    /// RaftScope's timings: heartbeat 50 ms, election timeout 100–200 ms, latency 10–15 ms.
    pub fn raftscope(nodes: u32, seed: u64) -> Self {
        SimConfig {
            election_timeout_min: 100,
            election_timeout_max: 200,
            ..SimConfig::new(nodes, seed)
        }
    }

    /// The goose lease every node runs with (see `goose_lease`).
    pub fn goose_lease(&self) -> Millis {
        self.goose_lease.unwrap_or(self.election_timeout_min)
    }

    fn node_config(&self, id: NodeId, incarnation: u64) -> Config {
        // Each node, and each restart of it, draws its own jitter from the cluster seed.
        let seed =
            Rng::new(self.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (incarnation << 48))
                .next_u64();
        Config {
            heartbeat_interval: self.heartbeat_interval,
            election_timeout_min: self.election_timeout_min,
            election_timeout_max: self.election_timeout_max,
            goose_lease: self.goose_lease(),
            pre_vote: self.pre_vote,
            check_quorum: self.check_quorum,
            max_snapshot_chunk_bytes: self
                .compaction
                .map_or(Config::new(id, seed).max_snapshot_chunk_bytes, |c| {
                    c.chunk_bytes.max(1)
                }),
            max_entries_per_message: self
                .max_entries_per_message
                .unwrap_or(Config::new(id, seed).max_entries_per_message),
            #[cfg(feature = "unsafe-variants")]
            unsafe_variant: self.unsafe_variant,
            ..Config::new(id, seed)
        }
    }
}

/// Everything a person (or a nemesis) can do to a running cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(tag = "type", rename_all = "snake_case")
)]
pub enum Action {
    /// Nodes in different groups cannot talk; nodes in no group form one more group.
    Partition {
        groups: Vec<Vec<NodeId>>,
    },
    /// Cut or restore the one-way link `from → to`.
    Link {
        from: NodeId,
        to: NodeId,
        connected: bool,
    },
    Heal,
    Crash {
        node: NodeId,
    },
    Restart {
        node: NodeId,
    },
    Pause {
        node: NodeId,
    },
    Resume {
        node: NodeId,
    },
    /// Start a new empty node and ask the leader to add it.
    AddNode {
        node: NodeId,
    },
    /// Ask the leader to remove a node; once removed, it is shut down.
    RemoveNode {
        node: NodeId,
    },
    /// Ask the leader to hand leadership to `to`.
    Transfer {
        to: NodeId,
    },
    /// A client request sent to `node`.
    Request {
        node: NodeId,
        request: Request,
    },
    Network {
        faults: LinkFaults,
    },
    LinkFaults {
        from: NodeId,
        to: NodeId,
        faults: Option<LinkFaults>,
    },
    /// Tell `node` that its connection to `peer` was closed, whether or not `peer` is
    /// down: the spurious notice a flaky proxy or a restarted NIC can produce.
    ConnectionClosed {
        node: NodeId,
        peer: NodeId,
    },
    /// From now on node `node`'s clock runs at `rate` thousandths of virtual time (500 to
    /// 2000; `validate` refuses others, and the cluster clamps them), on from what it
    /// reads now. It keeps running while the node is down.
    ClockRate {
        node: NodeId,
        rate: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum NodeStatus {
    Up,
    Paused,
    Down,
}

struct SimNode {
    /// What survives a crash.
    disk: Persisted,
    /// `None` while crashed.
    replica: Option<Replica>,
    paused: bool,
    /// Held while paused, delivered on resume.
    inbox: Vec<Held>,
    incarnation: u64,
    /// The replica's `next_deadline()` after its last input, on the node's own clock
    /// (kept so that finding the next event does not ask every node every step).
    deadline: Millis,
    /// The node's own clock: the `now` it is given (a restart keeps it running).
    clock: Clock,
    /// `next_timer()`, kept up to date by `refresh_timer` whenever what it depends on
    /// changes: finding the next event reads it every step.
    timer: Option<Millis>,
}

impl SimNode {
    /// When (in virtual time) this node's next timer fires, if it is running: when its
    /// own clock reaches the deadline.
    fn next_timer(&self) -> Option<Millis> {
        (self.replica.is_some() && !self.paused).then(|| self.clock.when(self.deadline))
    }

    /// After any change to the replica, `paused`, `deadline` or `clock`.
    fn refresh_timer(&mut self) {
        self.timer = self.next_timer();
    }
}

enum Held {
    Message(InFlight),
    Request(RequestId, Request),
    /// A connection-closed notice: (about `peer`, spurious).
    Closed(NodeId, bool),
}

/// A connection-closed notice on its way to `to`, about `peer`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Notice {
    at: Millis,
    order: u64,
    to: NodeId,
    peer: NodeId,
}

struct InFlight {
    deliver_at: Millis,
    sent: Seq,
    sent_at: Millis,
    summary: MessageSummary,
    msg: Message,
}

impl Pending {
    fn question(&self) -> GooseQuestion {
        GooseQuestion {
            asked: self.asked,
            floor: self.goose_floor,
            config_at_ask: self.config_at_ask,
        }
    }
}

/// A client request the cluster is waiting on.
struct Pending {
    node: NodeId,
    asked: Seq,
    /// For goose queries: the goose-term floor when asked.
    goose_floor: Term,
    /// The index of the asked node's membership in force when asked (0: none, or down).
    config_at_ask: Index,
    /// Position in the key-value history, for reads and writes.
    history: Option<usize>,
}

/// A finished client request, as the driver sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Completed {
    pub id: RequestId,
    pub node: NodeId,
    pub at: Millis,
    /// `None` when the node crashed before answering.
    pub result: Option<Result<Reply, RequestError>>,
}

pub struct Cluster {
    config: SimConfig,
    now: Millis,
    seq: Seq,
    rng: Rng,
    nodes: Map<NodeId, SimNode>,
    network: Network,
    /// Messages on the wire live in slots; the queue orders small (time, order, slot)
    /// keys, so heap operations never move whole messages.
    in_flight: BinaryHeap<Reverse<(Millis, u64, usize)>>,
    flights: Vec<Option<InFlight>>,
    free_slots: Vec<usize>,
    /// Connection-closed notices of crashes, due in time order.
    notices: BinaryHeap<Reverse<Notice>>,
    /// Their delays, drawn apart from the network's stream so that message fates do not
    /// shift with notices.
    notice_rng: Rng,
    next_notice: u64,
    next_message_id: u64,
    next_request_id: RequestId,
    pending: Map<RequestId, Pending>,
    completed: Vec<Completed>,
    history: Vec<Operation>,
    trace: Trace,
    checker: Checker,
    /// Nodes asked to leave: shut down as soon as any node applies a membership without
    /// them (as an operator would), so they cannot linger and disrupt elections.
    removing: Map<NodeId, ()>,
    /// The newest membership any node has applied, and its index.
    committed_config: (Index, Membership),
    /// Some disk was written (or a node came or went), or the committed membership
    /// changed, since `Checker::on_disks` last ran: together with a longer committed
    /// log, the only things that can change its verdict, so it runs only then.
    disks_changed: bool,
    /// The checker's committed length when `on_disks` last ran.
    disks_checked_at: Index,
    /// Node events processed (ticks, deliveries, requests): the simulator's unit of work.
    node_events: u64,
    /// Draws whether a node compacts, apart from the network's stream so that message
    /// fates do not shift with compaction.
    compaction_rng: Rng,
    snapshot_stats: SnapshotStats,
    /// How many of the checker's violations are in the trace.
    violations_traced: usize,
    /// When the checker first reported a violation (kept with the trace off too).
    first_violation_at: Option<Millis>,
}

/// What compaction did in a run: the floors of the randomized runs count these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct SnapshotStats {
    /// Snapshots nodes took of their own state (`Replica::compact`).
    pub taken: u64,
    /// Snapshots installed from a leader (InstallSnapshot, every chunk received).
    pub installed: u64,
    /// Restarts that began from a snapshot on disk (plus the log tail after it).
    pub restarts_from_snapshot: u64,
    /// Crashes of a node holding part of a snapshot it was being sent.
    pub crashes_mid_install: u64,
    /// Installs at a node that held nothing before (a joiner that needed the whole
    /// history).
    pub installed_by_joiners: u64,
    /// Installs at the target of a running leadership transfer (it gets the snapshot
    /// first, then TimeoutNow).
    pub installed_by_transfer_targets: u64,
}

impl Cluster {
    pub fn new(config: SimConfig, trace: TraceMode) -> Cluster {
        let membership = Membership::from_ids(1..=config.nodes as NodeId);
        let config_seed = config.seed;
        let mut cluster = Cluster {
            rng: Rng::new(config.seed),
            notice_rng: Rng::new(config.seed ^ 0x636C_6F73_6564_2121),
            network: Network::new(config.network),
            config,
            now: 0,
            seq: 0,
            nodes: Map::new(),
            in_flight: BinaryHeap::new(),
            flights: Vec::new(),
            free_slots: Vec::new(),
            notices: BinaryHeap::new(),
            next_notice: 0,
            next_message_id: 1,
            next_request_id: 1,
            pending: Map::new(),
            completed: Vec::new(),
            history: Vec::new(),
            trace: Trace::new(trace),
            checker: Checker::default(),
            removing: Map::new(),
            committed_config: (1, membership.clone()),
            disks_changed: true,
            disks_checked_at: 0,
            node_events: 0,
            compaction_rng: Rng::new(config_seed ^ 0x636F_6D70_6163_7421),
            snapshot_stats: SnapshotStats::default(),
            violations_traced: 0,
            first_violation_at: None,
        };
        // Every founder's disk is in place before any runs: the checker counts disks.
        for id in membership.ids() {
            cluster.insert_node(id, Persisted::bootstrap(membership.clone()));
        }
        for id in membership.ids() {
            cluster.after_input(id);
        }
        cluster
    }

    // ---- Observation -------------------------------------------------------------------

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The trace events recorded since the last call, forgotten here (see `Trace::take`):
    /// keeps memory flat in a run that never ends, like the browser playground's.
    pub fn take_trace(&mut self) -> Vec<crate::trace::TraceEvent> {
        self.trace.take()
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub fn violations(&self) -> &[Violation] {
        self.checker.violations()
    }

    /// The virtual time of the first violation, if any.
    pub fn first_violation_at(&self) -> Option<Millis> {
        self.first_violation_at
    }

    pub fn history(&self) -> &[Operation] {
        &self.history
    }

    pub fn node_events(&self) -> u64 {
        self.node_events
    }

    pub fn snapshot_stats(&self) -> SnapshotStats {
        self.snapshot_stats
    }

    /// Requests finished since the last call.
    pub fn take_completed(&mut self) -> Vec<Completed> {
        core::mem::take(&mut self.completed)
    }

    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes.keys().copied()
    }

    pub fn status(&self, id: NodeId) -> Option<NodeStatus> {
        let node = self.nodes.get(&id)?;
        Some(match (&node.replica, node.paused) {
            (None, _) => NodeStatus::Down,
            (Some(_), true) => NodeStatus::Paused,
            (Some(_), false) => NodeStatus::Up,
        })
    }

    /// A running node's replica (`None` if unknown or crashed).
    /// What node `id` holds on disk: what a restart would start from.
    pub fn persisted(&self, id: NodeId) -> Option<&Persisted> {
        self.nodes.get(&id).map(|n| &n.disk)
    }

    /// Messages in flight, with when each was sent and when it is due.
    pub fn messages_in_flight(&self) -> impl Iterator<Item = (&MessageSummary, Millis, Millis)> {
        self.flights
            .iter()
            .flatten()
            .map(|f| (&f.summary, f.sent_at, f.deliver_at))
    }

    pub fn replica(&self, id: NodeId) -> Option<&Replica> {
        self.nodes.get(&id)?.replica.as_ref()
    }

    fn live_rafts(&self) -> impl Iterator<Item = &duckgoose_core::raft::Raft> {
        self.nodes
            .values()
            .filter_map(|n| n.replica.as_ref())
            .map(|r| r.raft())
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.live_rafts()
            .filter(|r| r.is_leader())
            .max_by_key(|r| r.term())
            .map(|r| r.id())
    }

    /// The node currently showing itself as the goose (see `Raft::goose_lease_until`),
    /// each judged by its own clock; the first by id if, with clocks drifting beyond
    /// what the lease assumes, several do (the checker reports that).
    pub fn goose(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .find(|(_, n)| {
                n.replica
                    .as_ref()
                    .is_some_and(|r| r.raft().shows_goose_at(n.clock.read(self.now)))
            })
            .map(|(&id, _)| id)
    }

    /// Whether node `id` shows itself as the goose now, by its own clock.
    pub fn shows_goose(&self, id: NodeId) -> bool {
        self.nodes.get(&id).is_some_and(|n| {
            n.replica
                .as_ref()
                .is_some_and(|r| r.raft().shows_goose_at(n.clock.read(self.now)))
        })
    }

    /// What node `id`'s own clock reads now: the `now` it runs on (virtual time unless a
    /// rate was set; `None` for an unknown node).
    pub fn clock_reading(&self, id: NodeId) -> Option<Millis> {
        Some(self.nodes.get(&id)?.clock.read(self.now))
    }

    /// Node `id`'s clock (rate, and what it read when the rate was last set).
    pub fn clock(&self, id: NodeId) -> Option<Clock> {
        Some(self.nodes.get(&id)?.clock)
    }

    /// Checks the recorded key-value history for linearizability.
    pub fn check_linearizability(&self) -> Result<lincheck::CheckStats, lincheck::Violation> {
        lincheck::check(&self.history)
    }

    // ---- Time ------------------------------------------------------------------------

    /// Processes every event up to and including `until`, then sets the clock to it.
    pub fn run_until(&mut self, until: Millis) {
        while self.step_until(until) {}
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, duration: Millis) {
        self.run_until(self.now + duration);
    }

    /// Processes the single next event if it is due by `until`. Returns false if none is.
    pub fn step_until(&mut self, until: Millis) -> bool {
        debug_assert!(
            self.nodes.values().all(|n| n.timer == n.next_timer()),
            "every node's cached timer is current"
        );
        let next_message = self.in_flight.peek().map(|Reverse((at, _, _))| *at);
        let next_timer = self
            .nodes
            .iter()
            .filter_map(|(&id, n)| n.timer.map(|t| (t, id)))
            .min();
        // A notice goes after timers and messages due at the same time (a FIN follows
        // the data sent before it).
        if let Some(Reverse(notice)) = self.notices.peek().copied()
            && notice.at <= until
            && next_message.is_none_or(|m| notice.at < m)
            && next_timer.is_none_or(|(t, _)| notice.at < t)
        {
            self.notices.pop();
            self.now = self.now.max(notice.at);
            self.deliver_notice(notice.to, notice.peer, false);
            return true;
        }
        let timer_first = match (next_timer, next_message) {
            (Some((t, _)), Some(m)) => t < m,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if timer_first {
            let (at, id) = next_timer.expect("timer_first implies a timer");
            if at > until {
                return false;
            }
            self.now = self.now.max(at);
            self.tick_node(id);
        } else {
            let Some(at) = next_message else {
                return false;
            };
            if at > until {
                return false;
            }
            self.now = self.now.max(at);
            let Reverse((_, _, slot)) = self.in_flight.pop().expect("peeked");
            let flight = self.flights[slot]
                .take()
                .expect("queued slots hold a message");
            self.free_slots.push(slot);
            self.deliver(flight);
        }
        true
    }

    /// The time of the next event, if any.
    pub fn next_event_at(&self) -> Option<Millis> {
        let next_message = self.in_flight.peek().map(|Reverse((at, _, _))| *at);
        let next_timer = self.nodes.values().filter_map(|n| n.timer).min();
        let next_notice = self.notices.peek().map(|Reverse(n)| n.at);
        [next_message, next_timer, next_notice]
            .into_iter()
            .flatten()
            .min()
    }

    fn tick_node(&mut self, id: NodeId) {
        let now = self.now;
        if let Some(node) = self.nodes.get_mut(&id)
            && let Some(replica) = node.replica.as_mut()
        {
            replica.tick(node.clock.read(now));
            self.after_input(id);
        }
    }

    fn deliver(&mut self, flight: InFlight) {
        let to = flight.msg.to;
        let Some(node) = self.nodes.get_mut(&to) else {
            self.record_drop(&flight.summary, DropReason::NodeDown);
            return;
        };
        if node.replica.is_none() {
            self.record_drop(&flight.summary, DropReason::NodeDown);
            return;
        }
        if !self.network.is_connected(flight.msg.from, to) {
            self.record_drop(&flight.summary, DropReason::Partitioned);
            return;
        }
        if node.paused {
            node.inbox.push(Held::Message(flight));
            return;
        }
        self.deliver_now(flight);
    }

    fn deliver_now(&mut self, flight: InFlight) {
        let to = flight.msg.to;
        let now = self.now;
        // A snapshot chunk's acknowledgement confirms the leader's round like an
        // AppendReply does (the follower took the chunk as word from this term's leader).
        if let Body::AppendReply { .. } | Body::SnapshotAck { .. } = flight.msg.body {
            self.checker
                .on_ack_delivered(to, flight.msg.term, flight.msg.from, flight.sent);
        }
        let summary = flight.summary;
        self.trace
            .record(now, || TraceKind::Deliver { msg: summary });
        let Some(node) = self.nodes.get_mut(&to) else {
            return;
        };
        let local = node.clock.read(now);
        let Some(replica) = node.replica.as_mut() else {
            return;
        };
        replica.tick(local);
        replica.step(flight.msg);
        self.after_input(to);
    }

    /// Node `to` learns that its connection to `peer` was closed. Nothing arrives at a
    /// node that is down, nor over a link cut since (the close never got through).
    fn deliver_notice(&mut self, to: NodeId, peer: NodeId, spurious: bool) {
        let Some(node) = self.nodes.get_mut(&to) else {
            return;
        };
        if node.replica.is_none() || (!spurious && !self.network.is_connected(peer, to)) {
            return;
        }
        if node.paused {
            node.inbox.push(Held::Closed(peer, spurious));
            return;
        }
        let now = self.now;
        self.trace.record(now, || TraceKind::ConnectionClosed {
            node: to,
            peer,
            spurious,
        });
        let local = node.clock.read(now);
        let replica = node.replica.as_mut().expect("checked");
        replica.tick(local);
        replica.peer_connection_closed(peer);
        self.after_input(to);
    }

    /// Node `id` crashed: each running peer it can reach learns one link latency later,
    /// after whatever `id` had already sent it.
    fn send_close_notices(&mut self, id: NodeId) {
        let peers: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|&(&p, n)| p != id && n.replica.is_some())
            .map(|(&p, _)| p)
            .collect();
        for peer in peers {
            if !self.network.is_connected(id, peer) {
                continue;
            }
            let faults = self.network.faults(id, peer);
            let travel = self
                .notice_rng
                .between(faults.latency_min, faults.latency_max + 1);
            let after_data = self
                .flights
                .iter()
                .flatten()
                .filter(|f| f.msg.from == id && f.msg.to == peer)
                .map(|f| f.deliver_at)
                .max()
                .unwrap_or(0);
            let notice = Notice {
                at: (self.now + travel).max(after_data),
                order: self.next_notice,
                to: peer,
                peer: id,
            };
            self.next_notice += 1;
            self.notices.push(Reverse(notice));
        }
    }

    fn record_drop(&mut self, summary: &MessageSummary, reason: DropReason) {
        let now = self.now;
        self.trace.record(now, || TraceKind::Drop {
            msg: summary.clone(),
            reason,
        });
    }

    // ---- Handling a node's output ------------------------------------------------------

    /// After any input to node `id`: persist, trace, send, answer, and check invariants,
    /// until the node has nothing more queued (acknowledging a write can commit).
    fn after_input(&mut self, id: NodeId) {
        self.seq += 1;
        self.node_events += 1;
        while self.handle_ready(id) {}
        self.maybe_compact(id);
    }

    /// Compacts node `id`'s log if the policy says so: past the threshold, or at random.
    fn maybe_compact(&mut self, id: NodeId) {
        let Some(policy) = self.config.compaction else {
            return;
        };
        let Some(replica) = self.nodes.get_mut(&id).and_then(|n| n.replica.as_mut()) else {
            return;
        };
        let applied = replica.kv().applied_index();
        let (snapshot_index, _) = replica.raft().log().snapshot_position();
        let by_count = policy.threshold > 0 && applied >= snapshot_index + policy.threshold;
        let at_random = policy.random_ppm > 0
            && self.compaction_rng.below(1_000_000) < u64::from(policy.random_ppm);
        if !(by_count || at_random) || applied <= snapshot_index {
            return;
        }
        // Refused while an installed snapshot awaits restoring: the next event retries.
        if let Ok(index) = replica.compact() {
            self.snapshot_stats.taken += 1;
            self.trace.record(self.now, || TraceKind::Compacted {
                node: id,
                through: index,
            });
            while self.handle_ready(id) {}
        }
    }

    /// Compacts node `id` now, through what it has applied (a script's `compact N`).
    /// Returns the index, or `None` if the node is down or has nothing new to compact.
    pub fn compact(&mut self, id: NodeId) -> Option<Index> {
        let replica = self.nodes.get_mut(&id)?.replica.as_mut()?;
        let index = replica.compact().ok()?;
        self.snapshot_stats.taken += 1;
        self.trace.record(self.now, || TraceKind::Compacted {
            node: id,
            through: index,
        });
        while self.handle_ready(id) {}
        self.check_step();
        Some(index)
    }

    /// Persists, acknowledges and delivers one `Ready` of node `id`; true if acknowledging
    /// it queued more (a lone leader commits on its own acknowledgement).
    fn handle_ready(&mut self, id: NodeId) -> bool {
        let Some(node) = self.nodes.get_mut(&id) else {
            return false;
        };
        let Some(replica) = node.replica.as_mut() else {
            return false;
        };
        if !replica.has_ready() {
            // Nothing queued (an acknowledgement that moves nothing, say): `ready` and
            // `advance` would hand out nothing to persist, send, apply or answer, so only
            // the deadline and the checks remain. Debug builds still call them, for the
            // core's own invariant checks, and confirm that they hand out nothing.
            if cfg!(debug_assertions) {
                let ready = replica.ready();
                assert!(
                    ready.hard_state.is_none()
                        && ready.log_write.is_none()
                        && ready.snapshot.is_none()
                        && ready.events.is_empty()
                        && ready.message_count() == 0,
                    "a replica with nothing ready hands out nothing"
                );
                let released = replica.advance(ready);
                assert!(
                    released.installed.is_none()
                        && released.messages.is_empty()
                        && released.applied.is_empty()
                        && released.responses.is_empty()
                        && !replica.has_ready(),
                    "a replica with nothing ready releases nothing"
                );
            }
            node.deadline = replica.next_deadline();
            node.refresh_timer();
            self.check_step();
            return false;
        }
        let mut ready = replica.ready();
        let held_nothing = node.disk.snapshot.is_none() && node.disk.log.is_empty();

        // 1. Persist. The simulated disk never fails and writes land at once, inside this
        // one step: a crash (always between steps) never finds a write in progress, so
        // everything acknowledged below is on `disk` and nothing else is.
        if let Some(hs) = ready.hard_state {
            node.disk.term = hs.term;
            node.disk.voted_for = hs.voted_for;
        }
        if let Some(snapshot) = ready.snapshot.take() {
            self.checker.on_snapshot(id, &snapshot);
            // The snapshot first, then the log after it: the disk keeps only the tail.
            let drop = node.disk.log.partition_point(|e| e.index <= snapshot.index);
            node.disk.log.drain(..drop);
            node.disk.snapshot = Some(snapshot);
            self.disks_changed = true;
        }
        if let Some(write) = ready.log_write.take() {
            self.checker
                .on_entries_written(replica.raft(), &write.entries);
            // The disk takes the written entries themselves: no copy per node and entry.
            let keep = node
                .disk
                .log
                .partition_point(|e| e.index < write.truncate_from);
            node.disk.log.truncate(keep);
            node.disk.log.extend(write.entries);
            self.disks_changed = true;
        }
        let events = core::mem::take(&mut ready.events);
        // 2. Acknowledge: only now are messages, applied entries and answers released.
        let ReplicaReleased {
            installed,
            messages,
            applied,
            responses,
        } = replica.advance(ready);
        node.deadline = replica.next_deadline();
        let more = replica.has_ready();
        node.refresh_timer();
        if installed.is_some() {
            self.snapshot_stats.installed += 1;
            self.snapshot_stats.installed_by_joiners += u64::from(held_nothing);
            let transfer_target = self.nodes.values().any(|n| {
                n.replica
                    .as_ref()
                    .is_some_and(|r| r.raft().transferring_to() == Some(id))
            });
            self.snapshot_stats.installed_by_transfer_targets += u64::from(transfer_target);
        }

        // 3. Trace and check what the node reported.
        let now = self.now;
        for event in events {
            if let Event::RoleChanged {
                role: Role::Leader, ..
            } = event
            {
                let raft = self.nodes[&id].replica.as_ref().expect("live").raft();
                self.checker.on_leader_elected(raft, self.seq);
            }
            self.trace
                .record(now, || TraceKind::Node { node: id, event });
        }
        if let Some(raft) = self.nodes[&id].replica.as_ref().map(|r| r.raft()) {
            self.checker.on_applied(raft, &applied);
        }
        // Nodes we asked to leave, dropped by a newly committed membership.
        let mut departed = Vec::new();
        for entry in &applied {
            if let Command::Config(m) = &entry.command
                && entry.index > self.committed_config.0
            {
                let before = &self.committed_config.1;
                departed.extend(
                    self.removing
                        .keys()
                        .copied()
                        .filter(|&r| before.contains(r) && !m.contains(r)),
                );
                self.committed_config = (entry.index, m.clone());
                self.disks_changed = true;
            }
        }

        // 4. Send.
        for msg in messages {
            self.send(msg);
        }

        // 5. Answer clients.
        for response in responses {
            self.complete(id, response.id, Some(response.result));
        }

        self.check_step();
        for node in departed {
            self.removing.remove(&node);
            self.decommission(node);
        }
        // Still there: the node may have been one of those decommissioned.
        more && self.nodes.get(&id).is_some_and(|n| n.replica.is_some())
    }

    fn check_step(&mut self) {
        let now = self.now;
        let rafts = self
            .nodes
            .values()
            .filter_map(|n| n.replica.as_ref().map(|r| (r.raft(), n.clock)));
        self.checker.on_step(now, rafts);
        let committed = self.checker.committed_len();
        if self.disks_changed || committed != self.disks_checked_at {
            self.disks_changed = false;
            self.disks_checked_at = committed;
            let disks = self.nodes.iter().map(|(&id, n)| (id, &n.disk));
            self.checker.on_disks(&self.committed_config.1, disks);
        }
        self.trace_new_violations();
    }

    /// Traces the violations reported since the last call: those of this step's checks,
    /// and those found while handling the node's output (a leader elected without a
    /// committed entry, an entry applied out of place).
    fn trace_new_violations(&mut self) {
        let before = self.violations_traced;
        if self.checker.violations().len() == before {
            return; // the usual case, on every step
        }
        self.violations_traced = self.checker.violations().len();
        let now = self.now;
        self.first_violation_at.get_or_insert(now);
        let new: Vec<Violation> = self.checker.violations()[before..].to_vec();
        for v in new {
            self.trace.record(now, || TraceKind::Violation {
                invariant: v.invariant.name(),
                detail: v.detail,
            });
        }
    }

    fn send(&mut self, msg: Message) {
        let entries = match &msg.body {
            Body::Append { entries, .. } => entries.len() as u32,
            _ => 0,
        };
        let summary = MessageSummary {
            id: self.next_message_id,
            from: msg.from,
            to: msg.to,
            term: msg.term,
            kind: msg.kind(),
            entries,
        };
        self.next_message_id += 1;
        let now = self.now;
        if !self.checker.traffic_ok(self.in_flight.len()) {
            self.trace_new_violations();
            self.record_drop(&summary, DropReason::Overload);
            return;
        }
        match self.network.route(msg.from, msg.to, &mut self.rng) {
            Fate::Cut => self.record_drop(&summary, DropReason::Partitioned),
            Fate::Lost => self.record_drop(&summary, DropReason::Lost),
            Fate::Deliver { delay, duplicate } => {
                let deliver_at = now + delay;
                // Cloned inside the closures: only if the trace is on.
                self.trace.record(now, || TraceKind::Send {
                    msg: summary.clone(),
                    deliver_at,
                });
                let Some(delay) = duplicate else {
                    self.enqueue(deliver_at, summary, msg);
                    return;
                };
                self.enqueue(deliver_at, summary.clone(), msg.clone());
                let copy_at = now + delay;
                self.trace.record(now, || TraceKind::Duplicate {
                    msg: summary.clone(),
                    deliver_at: copy_at,
                });
                self.enqueue(copy_at, summary, msg);
            }
        }
    }

    fn enqueue(&mut self, deliver_at: Millis, summary: MessageSummary, msg: Message) {
        let flight = InFlight {
            deliver_at,
            sent: self.seq,
            sent_at: self.now,
            summary,
            msg,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.flights[slot] = Some(flight);
                slot
            }
            None => {
                self.flights.push(Some(flight));
                self.flights.len() - 1
            }
        };
        self.in_flight
            .push(Reverse((deliver_at, self.next_message_id, slot)));
        self.next_message_id += 1;
    }

    fn complete(
        &mut self,
        node: NodeId,
        id: RequestId,
        result: Option<Result<Reply, RequestError>>,
    ) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        let now = self.now;
        let seq = self.seq;
        if let Some(Ok(Reply::Goose { term })) = &result {
            if let Some(raft) = self
                .nodes
                .get(&node)
                .and_then(|n| n.replica.as_ref())
                .map(|r| r.raft())
            {
                self.checker
                    .on_goose_answer(raft, *term, &pending.question());
            }
            self.trace_new_violations();
        }
        if let Some(position) = pending.history {
            self.history[position].outcome = match &result {
                Some(Ok(reply)) => match kv_output(reply) {
                    Some(output) => Outcome::Ok {
                        completed_at: seq,
                        output,
                    },
                    None => Outcome::Indeterminate,
                },
                Some(Err(e)) if !e.is_indeterminate() => Outcome::Failed,
                _ => Outcome::Indeterminate,
            };
        }
        if let Some(result) = &result {
            self.trace.record(now, || TraceKind::Response {
                node,
                id,
                result: result.clone(),
            });
        }
        self.completed.push(Completed {
            id,
            node: pending.node,
            at: now,
            result,
        });
    }

    // ---- Actions -----------------------------------------------------------------------

    /// Applies an action at the current time. Returns the request id for actions that
    /// send a request. Actions naming unknown nodes do nothing (and say so in the trace).
    pub fn apply(&mut self, action: Action) -> Option<RequestId> {
        let now = self.now;
        self.trace.record(now, || TraceKind::Action {
            action: action.clone(),
        });
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        match action {
            Action::Partition { groups } => self.network.partition(&groups, &ids),
            Action::Link {
                from,
                to,
                connected,
            } => self.network.set_cut(from, to, !connected),
            Action::Heal => self.network.heal(),
            Action::Network { faults } => self.network.defaults = faults,
            Action::LinkFaults { from, to, faults } => {
                self.network.set_link_faults(from, to, faults)
            }
            Action::Crash { node } => self.crash(node),
            Action::ConnectionClosed { node, peer } => self.deliver_notice(node, peer, true),
            Action::Restart { node } => self.restart(node),
            Action::Pause { node } => {
                if let Some(n) = self.nodes.get_mut(&node) {
                    n.paused = n.replica.is_some();
                    n.refresh_timer();
                }
            }
            Action::Resume { node } => self.resume(node),
            Action::ClockRate { node, rate } => {
                // Clamped to what `validate` lets a person or a file ask for: a clock far
                // faster would carry a node's times towards overflow.
                if let Some(n) = self.nodes.get_mut(&node) {
                    n.clock.set_rate(now, rate.clamp(MIN_RATE, MAX_RATE));
                    n.refresh_timer();
                }
            }
            Action::AddNode { node } => {
                if node == 0 {
                    return None;
                }
                self.removing.remove(&node);
                if !self.nodes.contains_key(&node) {
                    self.start_node(node, Persisted::empty());
                }
                let via = self.leader().unwrap_or(node);
                return Some(self.submit(via, Request::AddMember(Member::new(node, ""))));
            }
            Action::RemoveNode { node } => {
                self.removing.insert(node, ());
                let via = self.leader().unwrap_or(node);
                return Some(self.submit(via, Request::RemoveMember(node)));
            }
            Action::Transfer { to } => {
                let via = self.leader().unwrap_or(to);
                return Some(self.submit(via, Request::Transfer { to }));
            }
            Action::Request { node, request } => return Some(self.submit(node, request)),
        }
        None
    }

    /// Sends a client request to `node`; the answer shows up in `take_completed`.
    pub fn request(&mut self, node: NodeId, request: Request) -> RequestId {
        self.apply(Action::Request { node, request })
            .expect("requests get ids")
    }

    fn submit(&mut self, node: NodeId, request: Request) -> RequestId {
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.seq += 1;
        let history = kv_op(&request).map(|op| {
            self.history.push(Operation {
                client: id,
                op,
                invoked_at: self.seq,
                outcome: Outcome::Indeterminate,
            });
            self.history.len() - 1
        });
        let config_at_ask = self
            .nodes
            .get(&node)
            .and_then(|n| n.replica.as_ref())
            .and_then(|r| r.raft().log().latest_config())
            .map_or(0, |(index, _)| index);
        self.pending.insert(
            id,
            Pending {
                node,
                asked: self.seq,
                goose_floor: self.checker.goose_floor(),
                config_at_ask,
                history,
            },
        );
        let now = self.now;
        self.trace.record(now, || TraceKind::Request {
            node,
            id,
            request: request.clone(),
        });
        match self.nodes.get_mut(&node) {
            Some(n) if n.replica.is_some() && n.paused => n.inbox.push(Held::Request(id, request)),
            Some(n) if n.replica.is_some() => {
                let local = n.clock.read(now);
                let replica = n.replica.as_mut().expect("checked");
                replica.tick(local);
                replica.request(id, request);
                self.after_input(node);
            }
            // Connection refused: the request never reached a node.
            _ => self.complete(
                node,
                id,
                Some(Err(RequestError::NotLeader { leader: None })),
            ),
        }
        id
    }

    fn start_node(&mut self, id: NodeId, disk: Persisted) {
        self.insert_node(id, disk);
        self.after_input(id);
    }

    fn insert_node(&mut self, id: NodeId, disk: Persisted) {
        let config = self.config.node_config(id, 0);
        // Every clock reads virtual time, at 1×, until a `ClockRate` changes that.
        let clock = Clock::TRUE;
        let replica = Replica::new(
            config,
            disk.clone(),
            clock.read(self.now),
            self.config.request_timeout,
        )
        .expect("simulator configs are valid");
        self.disks_changed = true;
        let mut node = SimNode {
            disk,
            replica: Some(replica),
            paused: false,
            inbox: Vec::new(),
            incarnation: 0,
            deadline: 0,
            clock,
            timer: None,
        };
        node.refresh_timer();
        self.nodes.insert(id, node);
    }

    fn crash(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let was_up = node.replica.is_some();
        if node
            .replica
            .as_ref()
            .is_some_and(|r| r.raft().snapshot_receiving().is_some())
        {
            self.snapshot_stats.crashes_mid_install += 1;
        }
        node.replica = None;
        node.paused = false;
        node.refresh_timer();
        node.inbox.clear();
        self.abandon_requests_at(id);
        if was_up && self.config.close_notices {
            self.send_close_notices(id);
        }
    }

    /// Requests waiting on a node that died: their outcome is unknown to the client.
    fn abandon_requests_at(&mut self, id: NodeId) {
        let orphaned: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.node == id)
            .map(|(&r, _)| r)
            .collect();
        for request in orphaned {
            self.complete(id, request, None);
        }
    }

    fn restart(&mut self, id: NodeId) {
        let (config, timeout, now) = match self.nodes.get(&id) {
            Some(node) if node.replica.is_none() => (
                self.config.node_config(id, node.incarnation + 1),
                self.config.request_timeout,
                node.clock.read(self.now),
            ),
            _ => return,
        };
        let node = self.nodes.get_mut(&id).expect("checked");
        node.incarnation += 1;
        if node.disk.snapshot.is_some() {
            self.snapshot_stats.restarts_from_snapshot += 1;
        }
        let replica = Replica::new(config, node.disk.clone(), now, timeout)
            .expect("simulator configs are valid");
        node.replica = Some(replica);
        node.refresh_timer();
        self.after_input(id);
    }

    fn resume(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if !node.paused {
            return;
        }
        node.paused = false;
        node.refresh_timer();
        let held = core::mem::take(&mut node.inbox);
        self.tick_node(id);
        // Requests that queued up together reach the node together: one batch proposal.
        let mut requests = Vec::new();
        for item in held {
            match item {
                Held::Message(flight) => {
                    self.request_batch(id, core::mem::take(&mut requests));
                    self.deliver(flight);
                }
                Held::Request(request_id, request) => requests.push((request_id, request)),
                Held::Closed(peer, spurious) => {
                    self.request_batch(id, core::mem::take(&mut requests));
                    self.deliver_notice(id, peer, spurious);
                }
            }
        }
        self.request_batch(id, requests);
    }

    fn request_batch(&mut self, id: NodeId, requests: Vec<(RequestId, Request)>) {
        if requests.is_empty() {
            return;
        }
        let now = self.now;
        if let Some(node) = self.nodes.get_mut(&id)
            && let Some(replica) = node.replica.as_mut()
        {
            replica.tick(node.clock.read(now));
            replica.requests(requests);
            self.after_input(id);
        }
    }

    fn decommission(&mut self, id: NodeId) {
        if self.nodes.remove(&id).is_some() {
            self.disks_changed = true;
            self.abandon_requests_at(id);
            self.network.heal_node(id);
        }
    }
}

/// The history form of a request: its key-value operation (goose queries and admin
/// requests are not part of the key-value history).
fn kv_op(request: &Request) -> Option<Op> {
    match request {
        Request::Kv(op) => Some(op.clone()),
        _ => None,
    }
}

fn kv_output(reply: &Reply) -> Option<Output> {
    match reply {
        Reply::Kv(output) => Some(output.clone()),
        _ => None,
    }
}
