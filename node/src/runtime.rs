//! The thread that owns the replica, and the peer senders it feeds.
//!
//! Every input (a batch of peer messages, a client request with a channel for its reply,
//! a status question) arrives on one bounded channel. The thread waits for an input or
//! the replica's next deadline (at most [`TICK`]), ticks the replica with the monotonic
//! milliseconds since the process started, drains whatever else is queued, and then
//! handles `ready()` as the core's types demand: fsync term, vote and log, then
//! acknowledge with `advance()`, which alone releases the messages (for the peer senders)
//! and the answers to clients.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use duckgoose_core::{
    DuckReason, Event, Membership, Message, NodeId, Replica, Reply, Request, RequestError,
    RequestId, Role,
};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use crate::goose_queries::GooseQueries;
use crate::metrics::Metrics;
use crate::storage::Storage;

/// Longest the replica thread sleeps between ticks.
pub const TICK: Duration = Duration::from_millis(5);
/// Inputs handled per `ready()` at most, so responses never wait behind a flood.
const MAX_BATCH: usize = 4096;
/// Messages queued per peer before new ones are dropped (Raft tolerates loss).
const PEER_QUEUE: usize = 1024;

pub type ReplyTx = oneshot::Sender<Result<Reply, RequestError>>;

pub enum Input {
    Peer {
        from: NodeId,
        addr: String,
        messages: Vec<Message>,
    },
    Request {
        request: Request,
        reply: ReplyTx,
    },
    Status(oneshot::Sender<Status>),
    /// A planned stop: a goose hands leadership to its most caught-up follower and
    /// answers once another node leads; anyone else answers at once.
    Handoff(oneshot::Sender<Handoff>),
    /// An established stream with this peer ended by a real close (EOF or reset).
    PeerClosed(NodeId),
    Shutdown,
}

/// How [`Input::Handoff`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// Not the leader: nothing to hand over.
    NotLeader,
    /// The leader of a one-member cluster: nobody to hand over to.
    Alone,
    /// Node `to` leads in `term`.
    Done { to: NodeId, term: u64 },
}

/// One frame on a peer stream (and one POST body on the peer route): who sends, where to
/// answer, and the messages.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeerBatch {
    pub from: NodeId,
    pub addr: String,
    pub messages: Vec<Message>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberInfo {
    pub id: NodeId,
    pub addr: String,
}

/// A snapshot of the replica for `GET /status` (the handler adds the goose answer).
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub id: NodeId,
    pub state: &'static str,
    pub term: u64,
    pub voted_for: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_log_index: u64,
    pub members: Vec<MemberInfo>,
    /// Ids cut off in both directions.
    pub blocked: Vec<NodeId>,
    /// Ids whose messages to this node are dropped on arrival.
    pub blocked_in: Vec<NodeId>,
    /// Ids this node drops its messages to.
    pub blocked_out: Vec<NodeId>,
}

/// Which peers' Raft traffic this node drops (the admin partition route sets it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blocked {
    /// Messages from these ids are dropped when they arrive.
    pub inbound: BTreeSet<NodeId>,
    /// Messages to these ids are dropped instead of sent.
    pub outbound: BTreeSet<NodeId>,
}

impl Blocked {
    /// Ids cut off in both directions.
    pub fn both(&self) -> Vec<NodeId> {
        self.inbound.intersection(&self.outbound).copied().collect()
    }
}

/// `--snapshot-entries` by default: a snapshot every 10 000 applied entries keeps the WAL
/// to a few MiB of entries while costing one write of the state per 10 000 writes.
pub const DEFAULT_SNAPSHOT_ENTRIES: u64 = 10_000;

/// What the HTTP handlers and the replica thread share.
///
/// Built with [`Shared::new`]; the rest is the runtime's own state.
pub struct Shared {
    pub id: NodeId,
    /// Where peers reach this node (`host:port`).
    pub advertise: String,
    pub(crate) token: Option<String>,
    pub(crate) blocked: RwLock<Blocked>,
    /// Every known node's address: membership first, then addresses peers told us.
    pub(crate) addresses: RwLock<HashMap<NodeId, String>>,
    pub metrics: Metrics,
    /// Into the replica thread ([`run`]).
    pub inputs: SyncSender<Input>,
    pub(crate) inflight: AtomicUsize,
    pub(crate) max_inflight: usize,
    pub(crate) request_timeout: Duration,
    /// http or https, the peer client, whether peer routes need a client certificate.
    pub(crate) transport: crate::tls::Transport,
    /// Set once a stop is asked for: the node answers duck from then on, whatever the
    /// replica's role, so no client picks a goose that is about to leave.
    pub(crate) stopping: AtomicBool,
    /// Largest frame peers accept (`--max-peer-body`); bigger batches are split.
    pub(crate) peer_frame_limit: usize,
    /// Clients' goose questions, asked of the replica in batches.
    pub(crate) goose_queries: GooseQueries,
    /// The goose state watchers see (`GET /goose/watch`).
    pub(crate) watch: crate::watch::GooseWatch,
    /// What `/livez` and `/readyz` read.
    pub(crate) health: crate::health::Health,
    /// Compact the log once this many entries were applied since the last snapshot
    /// (`--snapshot-entries`; 0: never).
    pub(crate) snapshot_entries: u64,
    /// The control API of the `duckgoose cluster` that started this node, if any: the
    /// playground's live mode finds it in `/status`.
    pub(crate) cluster_control: Option<String>,
}

impl Shared {
    /// What node `id` (reached by peers at `advertise`) shares between its HTTP
    /// handlers and its replica thread, which reads `inputs`' receiver. `token`: the
    /// bearer token protected routes require (`None`: open); at most `max_inflight`
    /// client requests wait at once, each for up to `request_timeout`.
    pub fn new(
        id: NodeId,
        advertise: impl Into<String>,
        token: Option<String>,
        inputs: SyncSender<Input>,
        max_inflight: usize,
        request_timeout: Duration,
    ) -> Shared {
        Shared {
            id,
            advertise: advertise.into(),
            token,
            blocked: RwLock::new(Blocked::default()),
            addresses: RwLock::new(HashMap::new()),
            metrics: Metrics::new(id),
            inputs,
            inflight: AtomicUsize::new(0),
            max_inflight,
            request_timeout,
            transport: crate::tls::Transport::plain(),
            stopping: AtomicBool::new(false),
            peer_frame_limit: 32 << 20,
            goose_queries: GooseQueries::default(),
            watch: crate::watch::GooseWatch::new(id, crate::watch::WatchConfig::default()),
            health: crate::health::Health::default(),
            snapshot_entries: DEFAULT_SNAPSHOT_ENTRIES,
            cluster_control: None,
        }
    }

    /// Compacts the log every `entries` applied entries (0: never).
    pub fn with_snapshot_entries(mut self, entries: u64) -> Shared {
        self.snapshot_entries = entries;
        self
    }

    /// Names the control API of the `duckgoose cluster` running this node in `/status`.
    pub fn with_cluster_control(mut self, url: Option<String>) -> Shared {
        self.cluster_control = url;
        self
    }

    /// Watchers as `config` says (default: [`crate::watch::WatchConfig::default`]).
    pub fn with_watch_config(mut self, config: crate::watch::WatchConfig) -> Shared {
        self.watch = crate::watch::GooseWatch::new(self.id, config);
        self
    }

    /// From now on this node answers duck (see [`Input::Handoff`]).
    pub fn stop_answering_goose(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Serves and reaches peers as `transport` says (default: plain HTTP).
    pub fn with_transport(mut self, transport: crate::tls::Transport) -> Shared {
        self.transport = transport;
        self
    }

    /// Splits outgoing frames to at most `bytes` (the peers' `--max-peer-body`).
    pub fn with_peer_frame_limit(mut self, bytes: usize) -> Shared {
        self.peer_frame_limit = bytes;
        self
    }

    /// Are messages from `id` dropped on arrival?
    pub fn is_blocked_in(&self, id: NodeId) -> bool {
        self.blocked_set().inbound.contains(&id)
    }

    /// Are messages to `id` dropped instead of sent?
    pub fn is_blocked_out(&self, id: NodeId) -> bool {
        self.blocked_set().outbound.contains(&id)
    }

    pub fn blocked_set(&self) -> std::sync::RwLockReadGuard<'_, Blocked> {
        self.blocked.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn address_of(&self, id: NodeId) -> Option<String> {
        self.addresses
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }
}

/// Runs the replica until a `Shutdown` input or the channel closes. Returns an error
/// only when storage fails: the node must then stop, since it can no longer keep its
/// promises.
pub fn run(
    mut replica: Replica,
    mut storage: Storage,
    inputs: Receiver<Input>,
    shared: Arc<Shared>,
    runtime: Handle,
    start: Instant,
) -> Result<(), String> {
    let now = || start.elapsed().as_millis() as u64;
    let mut peers = Peers::new(shared.clone(), runtime);
    let mut pending: HashMap<RequestId, ReplyTx> = HashMap::new();
    let mut next_id: RequestId = 1;
    let mut known_leader = None;
    let mut handoff: Option<HandingOff> = None;
    refresh_addresses(&shared, &replica, &peers);
    if let Some(snapshot) = replica.raft().snapshot() {
        shared.metrics.snapshot_index.set(snapshot.index as i64);
    }

    let mut running = true;
    while running {
        let wait = replica
            .next_deadline()
            .saturating_sub(now())
            .clamp(1, TICK.as_millis() as u64);
        let first = match inputs.recv_timeout(Duration::from_millis(wait)) {
            Ok(input) => Some(input),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        replica.tick(now());
        // Requests that arrive together are started together (one batch proposal, one
        // round for the goose queries); anything else first starts those before it.
        let mut requests: Vec<(RequestId, Request)> = Vec::new();
        let mut handle = |input: Input, replica: &mut Replica| {
            if !matches!(input, Input::Request { .. }) && !requests.is_empty() {
                replica.requests(std::mem::take(&mut requests));
            }
            match input {
                Input::Peer {
                    from,
                    addr,
                    messages,
                } => {
                    peers.learn(from, addr);
                    shared
                        .metrics
                        .peer_messages_received
                        .inc_by(messages.len() as u64);
                    for msg in messages {
                        replica.step(msg);
                    }
                    true
                }
                Input::Request { request, reply }
                    if shared.is_stopping() && request == Request::Goose =>
                {
                    // Stopping: never confirm a goose that is about to leave.
                    shared.metrics.is_goose.set(0);
                    let _ = reply.send(Ok(Reply::Duck {
                        reason: DuckReason::SteppedDown,
                    }));
                    true
                }
                Input::Request { request, reply } => {
                    let id = next_id;
                    next_id += 1;
                    pending.insert(id, reply);
                    shared.metrics.client_requests.inc();
                    requests.push((id, request));
                    true
                }
                Input::Status(tx) => {
                    let _ = tx.send(status(&shared, replica));
                    true
                }
                Input::Handoff(reply) => {
                    if replica.raft().is_leader() {
                        handoff = Some(HandingOff::new(reply));
                    } else {
                        let _ = reply.send(Handoff::NotLeader);
                    }
                    true
                }
                Input::PeerClosed(peer) => {
                    replica.peer_connection_closed(peer);
                    true
                }
                Input::Shutdown => false,
            }
        };
        if let Some(input) = first {
            running &= handle(input, &mut replica);
        }
        for _ in 0..MAX_BATCH {
            match inputs.try_recv() {
                Ok(input) => running &= handle(input, &mut replica),
                Err(_) => break,
            }
        }
        if !requests.is_empty() {
            replica.requests(requests);
        }
        if let Some(h) = &mut handoff {
            // Before the ready loop, so a transfer's first messages leave at once.
            h.start_transfer(&mut replica, &mut next_id);
        }

        // Until nothing is queued: acknowledging a write can commit, which queues more.
        let mut events = Vec::new();
        while replica.has_ready() {
            let mut ready = replica.ready();
            // 1. Durable before anything that depends on it leaves the process: a new
            // snapshot (ours or the leader's) first, since the log write may continue
            // after it, past the end of the WAL's log.
            let snapshot_started = Instant::now();
            let mut snapshot_bytes = 0;
            if let Some(snapshot) = &ready.snapshot {
                match storage.save_snapshot(snapshot) {
                    Ok(bytes) => snapshot_bytes = bytes,
                    Err(e) => {
                        shared.health.storage_failed(&e.to_string());
                        return Err(format!("storage failed, stopping: {e}"));
                    }
                }
            }
            match storage.persist(ready.hard_state.as_ref(), ready.log_write.as_ref()) {
                Ok(Some(took)) => shared.metrics.fsync_seconds.observe(took.as_secs_f64()),
                Ok(None) => {}
                Err(e) => {
                    shared.health.storage_failed(&e.to_string());
                    return Err(format!("storage failed, stopping: {e}"));
                }
            }
            // Then the WAL is cut to what follows the snapshot, this Ready's write included.
            if let Some(snapshot) = &ready.snapshot {
                let raft = replica.raft();
                match storage.cut_log(
                    snapshot.index,
                    raft.term(),
                    raft.voted_for(),
                    raft.log().entries(),
                ) {
                    Ok(()) => {
                        let m = &shared.metrics;
                        m.snapshot_seconds
                            .observe(snapshot_started.elapsed().as_secs_f64());
                        m.snapshot_bytes.set(snapshot_bytes as i64);
                        m.snapshot_index.set(snapshot.index as i64);
                    }
                    Err(e) => {
                        shared.health.storage_failed(&e.to_string());
                        return Err(format!("storage failed, stopping: {e}"));
                    }
                }
            }
            events.append(&mut ready.events);
            // 2. Acknowledged: the messages and answers are released.
            let out = replica.advance(ready);
            compact_if_due(&mut replica, &shared);
            for msg in out.messages {
                peers.send(msg, replica.raft().membership());
            }
            // 3. Answers.
            for response in out.responses {
                match &response.result {
                    Ok(Reply::Goose { .. }) => {
                        shared.metrics.is_goose.set(1);
                    }
                    Ok(Reply::Duck { .. }) => {
                        shared.metrics.is_goose.set(0);
                    }
                    _ => {}
                }
                if let Some(h) = &mut handoff {
                    h.answered(&response);
                }
                if let Some(tx) = pending.remove(&response.id) {
                    let _ = tx.send(response.result);
                }
            }
        }
        let mut membership_changed = false;
        for event in &events {
            log_event(shared.id, event);
            match event {
                Event::RoleChanged {
                    role: Role::Candidate,
                    ..
                } => {
                    shared.metrics.elections_started.inc();
                }
                Event::RoleChanged {
                    role: Role::PreCandidate,
                    ..
                } => {
                    shared.metrics.pre_votes_started.inc();
                }
                Event::MembershipChanged { .. } => membership_changed = true,
                Event::SnapshotInstalled { .. } => {
                    shared.metrics.snapshots_installed.inc();
                }
                Event::TransferAborted { to } => {
                    if let Some(h) = &mut handoff {
                        h.aborted(*to);
                    }
                }
                _ => {}
            }
        }
        if membership_changed || peers.book_changed {
            peers.book_changed = false;
            refresh_addresses(&shared, &replica, &peers);
        }
        let raft = replica.raft();
        if raft.leader().is_some() && raft.leader() != known_leader {
            known_leader = raft.leader();
            shared.metrics.leader_changes.inc();
        }
        update_gauges(&shared.metrics, &replica);
        shared.health.turned(&replica);
        shared.watch.observe(&replica);
        if let Some(h) = &mut handoff
            && h.finished(&replica)
        {
            handoff = None;
        }
    }
    tracing::info!(node = shared.id, "replica stopped");
    Ok(())
}

/// A leader handing over before it stops: one transfer at a time, to the most caught-up
/// follower not yet tried most often; a transfer that gives up is followed by the next.
struct HandingOff {
    reply: Option<oneshot::Sender<Handoff>>,
    /// The target of the transfer under way.
    target: Option<NodeId>,
    /// Our transfer request's id, until the replica answers it.
    request: Option<RequestId>,
    attempts: HashMap<NodeId, u32>,
}

impl HandingOff {
    fn new(reply: oneshot::Sender<Handoff>) -> HandingOff {
        HandingOff {
            reply: Some(reply),
            target: None,
            request: None,
            attempts: HashMap::new(),
        }
    }

    fn answer(&mut self, outcome: Handoff) {
        if let Some(tx) = self.reply.take() {
            let _ = tx.send(outcome);
        }
    }

    /// Starts a transfer if this node leads and none is under way.
    fn start_transfer(&mut self, replica: &mut Replica, next_id: &mut RequestId) {
        let raft = replica.raft();
        if !raft.is_leader() || self.target.is_some() {
            return;
        }
        let me = raft.id();
        let best = raft
            .membership()
            .members()
            .iter()
            .filter(|m| m.id != me)
            .map(|m| {
                let matched = raft
                    .follower_progress(m.id)
                    .map_or(0, |(matched, _)| matched);
                let tried = self.attempts.get(&m.id).copied().unwrap_or(0);
                (m.id, matched, tried)
            })
            // Fewest attempts first, then the highest match index, then the lowest id.
            .min_by_key(|&(id, matched, tried)| (tried, std::cmp::Reverse(matched), id));
        let Some((to, matched, _)) = best else {
            tracing::info!(
                node = me,
                "stopping: the only member, nobody to hand the goose to"
            );
            self.answer(Handoff::Alone);
            return;
        };
        tracing::info!(
            node = me,
            to,
            match_index = matched,
            last_index = raft.log().last_index(),
            "stopping: handing the goose over to node {to}"
        );
        *self.attempts.entry(to).or_insert(0) += 1;
        self.target = Some(to);
        // Nobody waits for this answer: `finished` watches who leads instead.
        let id = *next_id;
        *next_id += 1;
        self.request = Some(id);
        replica.request(id, Request::Transfer { to });
    }

    /// The replica's answer to our transfer request: a refusal (say, the target just
    /// left the membership) means no transfer is under way, so the next gets a turn.
    fn answered(&mut self, response: &duckgoose_core::Response) {
        if self.request == Some(response.id) {
            self.request = None;
            if let Err(e) = &response.result {
                tracing::info!(to = ?self.target, "stopping: transfer refused: {e}");
                self.target = None;
            }
        }
    }

    fn aborted(&mut self, to: NodeId) {
        if self.target == Some(to) {
            tracing::info!(to, "stopping: transfer to node {to} gave up; trying again");
            self.target = None;
        }
    }

    /// Answers once the outcome is known; true when done.
    fn finished(&mut self, replica: &Replica) -> bool {
        let raft = replica.raft();
        let outcome = match raft.leader() {
            Some(l) if l != raft.id() => Handoff::Done {
                to: l,
                term: raft.term(),
            },
            _ => return self.reply.is_none(),
        };
        self.answer(outcome);
        true
    }
}

/// Compacts the log through the applied index once `--snapshot-entries` entries were
/// applied since the last snapshot; the snapshot goes out in the next `Ready`.
fn compact_if_due(replica: &mut Replica, shared: &Shared) {
    let every = shared.snapshot_entries;
    let snapshot_index = replica.raft().snapshot().map_or(0, |s| s.index);
    if every == 0 || replica.kv().applied_index() < snapshot_index.saturating_add(every) {
        return;
    }
    match replica.compact() {
        Ok(through) => {
            shared.metrics.snapshots_taken.inc();
            tracing::debug!(node = shared.id, through, "compacted the log");
        }
        // Not yet possible (an install is being restored): try again after the next apply.
        Err(e) => tracing::debug!(node = shared.id, "not compacting yet: {e}"),
    }
}

fn update_gauges(metrics: &Metrics, replica: &Replica) {
    let raft = replica.raft();
    metrics.term.set(raft.term() as i64);
    metrics.set_state(raft.role().as_str());
    metrics.commit_index.set(raft.commit_index() as i64);
    metrics.last_log_index.set(raft.log().last_index() as i64);
    metrics
        .applied_index
        .set(replica.kv().applied_index() as i64);
    metrics.members.set(raft.membership().len() as i64);
}

fn status(shared: &Shared, replica: &Replica) -> Status {
    let raft = replica.raft();
    Status {
        id: raft.id(),
        state: raft.role().as_str(),
        term: raft.term(),
        voted_for: raft.voted_for(),
        leader: raft.leader(),
        commit_index: raft.commit_index(),
        applied_index: replica.kv().applied_index(),
        last_log_index: raft.log().last_index(),
        members: raft
            .membership()
            .members()
            .iter()
            .map(|m| MemberInfo {
                id: m.id,
                addr: m.addr.clone(),
            })
            .collect(),
        blocked: shared.blocked_set().both(),
        blocked_in: shared.blocked_set().inbound.iter().copied().collect(),
        blocked_out: shared.blocked_set().outbound.iter().copied().collect(),
    }
}

fn refresh_addresses(shared: &Shared, replica: &Replica, peers: &Peers) {
    let membership = replica.raft().membership();
    let mut map: HashMap<NodeId, String> = peers.book.clone();
    for m in membership.members() {
        if !m.addr.is_empty() {
            map.insert(m.id, m.addr.clone());
        }
    }
    map.insert(shared.id, shared.advertise.clone());
    *shared.addresses.write().unwrap_or_else(|e| e.into_inner()) = map;
}

fn log_event(id: NodeId, event: &Event) {
    match event {
        Event::RoleChanged { .. }
        | Event::MembershipChanged { .. }
        | Event::TransferStarted { .. }
        | Event::TransferAborted { .. }
        | Event::LogTruncated { .. }
        | Event::SnapshotInstalled { .. } => tracing::info!(node = id, "{event}"),
        Event::MessageRefused { .. } => tracing::warn!(node = id, "{event}"),
        Event::VoteGranted { .. } | Event::VoteDenied { .. } => {
            tracing::debug!(node = id, "{event}")
        }
        Event::Committed { .. } => tracing::trace!(node = id, "{event}"),
    }
}

/// The HTTP client a node talks to its peers with (Raft batches; admin requests a duck
/// forwards to the goose), verifying peers and presenting this node's identity as `tls`
/// says. Its 1 s timeout suits Raft; a caller that waits longer sets its own per request.
pub fn peer_client(tls: &crate::tls::ClientTls) -> Result<reqwest::Client, String> {
    peer_client_builder(tls)
        .build()
        .map_err(|e| format!("cannot build the peer HTTP client: {e}"))
}

/// [`peer_client`]'s settings, for a caller that adds its own (a DNS resolver).
pub fn peer_client_builder(tls: &crate::tls::ClientTls) -> reqwest::ClientBuilder {
    tls.builder()
        .no_proxy()
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_millis(1000))
        .pool_max_idle_per_host(2)
}

/// One queue and one stream task ([`crate::peer_stream::outbound`]) per peer.
struct Peers {
    shared: Arc<Shared>,
    runtime: Handle,
    senders: HashMap<NodeId, (String, mpsc::Sender<Message>)>,
    /// Addresses peers announced in their batches: how a joiner finds the leader before
    /// its log holds the membership, and how a removed node is still reached.
    book: HashMap<NodeId, String>,
    book_changed: bool,
}

impl Peers {
    fn new(shared: Arc<Shared>, runtime: Handle) -> Peers {
        Peers {
            shared,
            runtime,
            senders: HashMap::new(),
            book: HashMap::new(),
            book_changed: false,
        }
    }

    fn learn(&mut self, id: NodeId, addr: String) {
        if id == self.shared.id || addr.is_empty() || addr.len() > 256 {
            return;
        }
        if self.book.get(&id) != Some(&addr) {
            self.book.insert(id, addr);
            self.book_changed = true;
        }
    }

    fn send(&mut self, msg: Message, membership: &Membership) {
        let to = msg.to;
        let metrics = &self.shared.metrics;
        if self.shared.is_blocked_out(to) {
            metrics.peer_messages_dropped.inc();
            return;
        }
        let addr = membership
            .get(to)
            .map(|m| m.addr.clone())
            .filter(|a| !a.is_empty())
            .or_else(|| self.book.get(&to).cloned());
        let Some(addr) = addr else {
            tracing::debug!(to, "no address known; dropping message");
            metrics.peer_messages_dropped.inc();
            return;
        };
        let stale = self.senders.get(&to).is_some_and(|(a, _)| *a != addr);
        if stale {
            self.senders.remove(&to);
        }
        let (_, tx) = self.senders.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(PEER_QUEUE);
            let task = crate::peer_stream::outbound(
                self.shared.clone(),
                to,
                addr.clone(),
                rx,
                self.shared.peer_frame_limit,
            );
            self.runtime.spawn(task);
            (addr, tx)
        });
        if tx.try_send(msg).is_err() {
            metrics.peer_messages_dropped.inc();
        }
    }
}

/// How much longer than the request timeout a caller waits for the replica's answer.
pub const REPLY_GRACE: Duration = Duration::from_secs(1);

/// Sends `request` to the replica and waits for its answer; at most `--max-inflight`
/// requests wait at once.
pub async fn call(
    shared: &Shared,
    request: Request,
) -> Result<Result<Reply, RequestError>, CallError> {
    let _guard = InflightGuard::acquire(shared)?;
    call_uncounted(shared, request).await
}

/// [`call`] for a caller that holds an [`InflightGuard`] already, or stands for callers
/// that do.
pub async fn call_uncounted(
    shared: &Shared,
    request: Request,
) -> Result<Result<Reply, RequestError>, CallError> {
    let (tx, rx) = oneshot::channel();
    shared
        .inputs
        .try_send(Input::Request { request, reply: tx })
        .map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => CallError::Overloaded,
            std::sync::mpsc::TrySendError::Disconnected(_) => CallError::ShuttingDown,
        })?;
    match tokio::time::timeout(shared.request_timeout + REPLY_GRACE, rx).await {
        Ok(Ok(result)) => Ok(result),
        // The replica stopped after taking the request: it may have been proposed,
        // replicated and committed by the next leader. Nothing is known.
        Ok(Err(_)) => Err(CallError::Abandoned),
        Err(_) => Ok(Err(RequestError::Timeout)),
    }
}

pub async fn status_of(shared: &Shared) -> Result<Status, CallError> {
    let (tx, rx) = oneshot::channel();
    shared
        .inputs
        .try_send(Input::Status(tx))
        .map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => CallError::Overloaded,
            std::sync::mpsc::TrySendError::Disconnected(_) => CallError::ShuttingDown,
        })?;
    rx.await.map_err(|_| CallError::ShuttingDown)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// Refused before the replica saw it: nothing happened.
    Overloaded,
    /// The replica is gone; it never saw the request: nothing happened.
    ShuttingDown,
    /// The replica took the request, then stopped before answering (shutdown, storage
    /// failure): the request may or may not take effect.
    Abandoned,
}

/// One of the `--max-inflight` places for a waiting request, held while it waits.
pub struct InflightGuard<'a>(&'a AtomicUsize);

impl<'a> InflightGuard<'a> {
    pub fn acquire(shared: &'a Shared) -> Result<Self, CallError> {
        let n = shared.inflight.fetch_add(1, Ordering::AcqRel);
        let guard = InflightGuard(&shared.inflight);
        if n >= shared.max_inflight {
            return Err(CallError::Overloaded);
        }
        Ok(guard)
    }
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
