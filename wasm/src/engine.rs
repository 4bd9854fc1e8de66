//! The playground's simulation state, in plain Rust (no JS types, so it is tested natively):
//! a cluster, the scenario that reproduces it (config plus every action with its time),
//! and a position in that scenario.
//!
//! Time only moves forward through [`Engine::advance_to`], which applies recorded actions
//! at their times exactly as [`Scenario::replay`] does, so a live run, a scrubbed run and
//! a replay of a shared URL all produce the same trace. Scrubbing backwards replays from
//! the start ([`Engine::seek`]); nothing is cloned or snapshotted.

use alloc::vec::Vec;

use duckgoose_core::{Index, Millis, NodeId, Term};
use duckgoose_sim::scenario::Scenario;
use duckgoose_sim::trace::{TraceEvent, TraceKind, TraceMode};
use duckgoose_sim::validate::{
    Invalid, MAX_DELAY, MAX_NODE_ID, MAX_NODES, MAX_TIME, MAX_ZONES, check_action, check_scenario,
};
use duckgoose_sim::{Action, Cluster, Completed, SimConfig};

use crate::view::ClusterView;

macro_rules! invalid {
    ($($arg:tt)*) => { Err(Invalid(alloc::format!($($arg)*))) };
}

pub struct Engine {
    scenario: Scenario,
    cluster: Cluster,
    /// How many of `scenario.actions` the cluster has applied.
    applied: usize,
    /// The furthest time this run has reached (the end of the scrubbable timeline).
    horizon: Millis,
    /// Fractions of a virtual millisecond not yet run (slow speeds advance by < 1 ms a frame).
    carry: f64,
    /// The zones the page draws: the last partition's groups (nodes named in no group
    /// share the first zone), or empty when healed.
    zones: Vec<Vec<NodeId>>,
    /// Every id ever used (ids are never reused: a removed node's vote must not come back).
    max_id: NodeId,
    /// Snapshot transfers seen since the last `take_trace`, each with the number of trace
    /// events before it (so it lands after the step that caused it).
    snapshot_notes: Vec<(usize, SnapshotNote)>,
    /// What the snapshot notes last said, so that repeats get none.
    noted: NotedSnapshots,
}

/// A snapshot transfer as the cluster showed it right after the step that sent or
/// delivered a chunk. The trace summarises messages without their bodies, so the engine
/// reads the sender's snapshot and the receiver's progress then, while they are current.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotNote {
    /// `from` started sending `to` its snapshot (`to` held none of it yet).
    Sending {
        at: Millis,
        from: NodeId,
        to: NodeId,
        index: Index,
        term: Term,
        bytes: u64,
        chunk_bytes: u64,
    },
    /// A chunk arrived: `to` now holds `held` bytes of the snapshot through `index`
    /// (`total` when the sender still holds that snapshot).
    Received {
        at: Millis,
        from: NodeId,
        to: NodeId,
        index: Index,
        held: u64,
        total: Option<u64>,
        chunk_bytes: u64,
    },
}

/// What the engine hands over for the event log: the trace, and snapshot notes in place.
#[derive(Clone, Debug, PartialEq)]
pub enum Traced {
    Event(TraceEvent),
    Snapshot(SnapshotNote),
}

/// The InstallSnapshot kind as `MessageSummary::kind` names it.
const INSTALL_SNAPSHOT: &str = "InstallSnapshot";

impl Engine {
    pub fn new(config: SimConfig) -> Result<Engine, Invalid> {
        Engine::from_scenario(Scenario::new(config))
    }

    pub fn from_scenario(scenario: Scenario) -> Result<Engine, Invalid> {
        check_scenario(&scenario)?;
        let cluster = Cluster::new(scenario.config.clone(), TraceMode::Record);
        let max_id = scenario
            .actions
            .iter()
            .filter_map(|(_, a)| match a {
                Action::AddNode { node } => Some(*node),
                _ => None,
            })
            .fold(scenario.config.nodes as NodeId, NodeId::max);
        let horizon = scenario.actions.last().map_or(0, |(at, _)| *at);
        Ok(Engine {
            scenario,
            cluster,
            applied: 0,
            horizon,
            carry: 0.0,
            zones: Vec::new(),
            max_id,
            snapshot_notes: Vec::new(),
            noted: NotedSnapshots::default(),
        })
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn now(&self) -> Millis {
        self.cluster.now()
    }

    pub fn horizon(&self) -> Millis {
        self.horizon.max(self.cluster.now())
    }

    /// The fraction of a millisecond already run past `now` (for smooth drawing).
    pub fn carry(&self) -> f64 {
        self.carry
    }

    /// True while recorded actions lie ahead (after scrubbing back or loading a shared run).
    pub fn replaying(&self) -> bool {
        self.applied < self.scenario.actions.len()
    }

    /// The zones, without nodes that are gone; empty when there is no partition. Zones
    /// keep their positions (an empty middle zone stays). A node added after the
    /// partition (connected to everyone until the next one) is drawn in the first zone.
    pub fn zones(&self) -> Vec<Vec<NodeId>> {
        if self.zones.is_empty() {
            return Vec::new();
        }
        let live: Vec<NodeId> = self.cluster.node_ids().collect();
        let mut zones: Vec<Vec<NodeId>> = self
            .zones
            .iter()
            .map(|z| z.iter().copied().filter(|id| live.contains(id)).collect())
            .collect();
        for id in live {
            if !zones.iter().any(|z| z.contains(&id)) {
                zones[0].push(id);
            }
        }
        zones
    }

    /// The next unused node id, or `None` when the cluster is full.
    pub fn next_node_id(&self) -> Option<NodeId> {
        let live = self.cluster.node_ids().count();
        (live < MAX_NODES && self.max_id < MAX_NODE_ID).then_some(self.max_id + 1)
    }

    /// Runs virtual time forward by `dt` milliseconds (fractions carry over to later calls).
    pub fn advance_by(&mut self, dt: f64) {
        if !dt.is_finite() || dt <= 0.0 {
            return;
        }
        self.carry += dt.min(MAX_DELAY as f64);
        let whole = self.carry.floor();
        self.carry -= whole;
        self.advance_to(self.now().saturating_add(whole as Millis));
    }

    /// Runs to `target`, applying recorded actions at their times on the way (the same
    /// order of calls as `Scenario::replay`).
    pub fn advance_to(&mut self, target: Millis) {
        let target = target.min(MAX_TIME);
        while let Some((at, action)) = self.scenario.actions.get(self.applied) {
            if *at > target {
                break;
            }
            let (at, action) = (*at, action.clone());
            self.run_cluster_until(at);
            self.apply_now(action);
            self.applied += 1;
        }
        self.run_cluster_until(target);
        self.horizon = self.horizon.max(self.cluster.now());
    }

    /// `Cluster::run_until`, one event at a time, noting snapshot chunks as they go.
    fn run_cluster_until(&mut self, target: Millis) {
        if self.cluster.config().compaction.is_none() {
            self.cluster.run_until(target);
            return;
        }
        let mut seen = self.cluster.trace().events().len();
        while self.cluster.step_until(target) {
            let events = self.cluster.trace().events();
            if events.len() > seen {
                let notes = snapshot_notes(&self.cluster, &events[seen..], &mut self.noted);
                for note in notes {
                    self.snapshot_notes.push((events.len(), note));
                }
                seen = events.len();
            }
        }
        self.cluster.run_until(target);
    }

    /// Runs to the next moment anything happens (a delivery, a timer or a recorded action).
    pub fn step(&mut self) {
        let next_event = self.cluster.next_event_at();
        let next_action = self.scenario.actions.get(self.applied).map(|(at, _)| *at);
        let next = match (next_event, next_action) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(self.now() + 1),
        };
        self.carry = 0.0;
        self.advance_to(next.max(self.now()));
    }

    /// Goes to `target` by replaying the scenario from the start (backwards) or running
    /// on (forwards). The trace of the skipped stretch is dropped, slice by slice, so
    /// memory stays flat however far the jump.
    pub fn seek(&mut self, target: Millis) {
        let target = target.min(MAX_TIME);
        let horizon = self.horizon();
        if target < self.now() {
            self.cluster = Cluster::new(self.scenario.config.clone(), TraceMode::Record);
            self.applied = 0;
            self.zones.clear();
            self.snapshot_notes.clear();
            self.noted = NotedSnapshots::default();
        }
        while self.now() + 1_000 < target {
            let next = self.now() + 1_000;
            self.advance_to(next);
            drop(self.take_trace());
        }
        self.carry = 0.0;
        self.advance_to(target);
        self.horizon = horizon.max(self.now());
    }

    /// Applies a person's action now and records it. Recorded actions still ahead (after
    /// scrubbing back) are dropped: the run branches here.
    pub fn act(&mut self, action: Action) -> Result<Option<u64>, Invalid> {
        check_action(&action)?;
        self.check_live(&action)?;
        self.scenario.actions.truncate(self.applied);
        self.horizon = self.now();
        self.scenario.actions.push((self.now(), action.clone()));
        self.applied += 1;
        Ok(self.apply_now(action))
    }

    /// Checks that need the cluster as it is now (so the person gets a clear refusal).
    fn check_live(&self, action: &Action) -> Result<(), Invalid> {
        let exists = |id: &NodeId| self.cluster.status(*id).is_some();
        match action {
            Action::AddNode { node } => {
                if self.cluster.node_ids().count() >= MAX_NODES {
                    return invalid!("at most {MAX_NODES} nodes");
                }
                if *node <= self.max_id {
                    return invalid!("node ids are never reused: use {}", self.max_id + 1);
                }
                Ok(())
            }
            Action::RemoveNode { node } if self.cluster.node_ids().count() <= 1 => {
                let _ = node;
                invalid!("cannot remove the last node")
            }
            Action::Partition { groups } => {
                if let Some(id) = groups.iter().flatten().find(|id| !exists(id)) {
                    return invalid!("no node {id}");
                }
                let named = groups.iter().flatten().count();
                let unnamed = self.cluster.node_ids().count() > named;
                if groups.len() + usize::from(unnamed) > MAX_ZONES {
                    return invalid!("at most {MAX_ZONES} zones");
                }
                Ok(())
            }
            Action::Crash { node }
            | Action::Restart { node }
            | Action::Pause { node }
            | Action::Resume { node }
            | Action::RemoveNode { node }
            | Action::Request { node, .. }
            | Action::ClockRate { node, .. }
            | Action::Transfer { to: node } => {
                if exists(node) {
                    Ok(())
                } else {
                    invalid!("no node {node}")
                }
            }
            Action::Link { from, to, .. }
            | Action::LinkFaults { from, to, .. }
            | Action::ConnectionClosed {
                node: from,
                peer: to,
            } => {
                if !exists(from) {
                    invalid!("no node {from}")
                } else if !exists(to) {
                    invalid!("no node {to}")
                } else {
                    Ok(())
                }
            }
            Action::Heal | Action::Network { .. } => Ok(()),
        }
    }

    fn apply_now(&mut self, action: Action) -> Option<u64> {
        match &action {
            Action::Partition { groups } => {
                // As the network sees it: nodes named in no group form one more group.
                let live: Vec<NodeId> = self.cluster.node_ids().collect();
                let mut zones: Vec<Vec<NodeId>> = groups
                    .iter()
                    .map(|g| g.iter().copied().filter(|id| live.contains(id)).collect())
                    .collect();
                let rest: Vec<NodeId> = live
                    .iter()
                    .copied()
                    .filter(|id| !zones.iter().any(|z| z.contains(id)))
                    .collect();
                if !rest.is_empty() {
                    zones.push(rest);
                }
                let nonempty = zones.iter().filter(|z| !z.is_empty()).count();
                self.zones = if nonempty <= 1 { Vec::new() } else { zones };
            }
            Action::Heal => self.zones.clear(),
            Action::AddNode { node } => self.max_id = self.max_id.max(*node),
            _ => {}
        }
        self.cluster.apply(action)
    }

    /// The trace since the last call, with snapshot notes after the events of their step.
    pub fn take_trace(&mut self) -> Vec<Traced> {
        let events = self.cluster.take_trace();
        let mut notes = core::mem::take(&mut self.snapshot_notes)
            .into_iter()
            .peekable();
        let mut out = Vec::with_capacity(events.len() + notes.len());
        for (i, event) in events.into_iter().enumerate() {
            while let Some((_, note)) = notes.next_if(|(before, _)| *before <= i) {
                out.push(Traced::Snapshot(note));
            }
            out.push(Traced::Event(event));
        }
        out.extend(notes.map(|(_, note)| Traced::Snapshot(note)));
        out
    }

    pub fn take_completed(&mut self) -> Vec<Completed> {
        self.cluster.take_completed()
    }

    pub fn view(&self, log_tail: usize) -> ClusterView<'_> {
        ClusterView::of(&self.cluster, log_tail)
    }

    pub fn hash(&self) -> u64 {
        self.cluster.trace().hash()
    }
}

/// What the snapshot notes last said.
#[derive(Default)]
struct NotedSnapshots {
    /// Per receiver, the (index, bytes held) last noted: a chunk sent again while its ack
    /// was on the way adds nothing.
    held: Vec<(NodeId, Index, u64)>,
    /// Per (sender, receiver), the snapshot whose sending was noted: a first chunk goes
    /// again every heartbeat until answered. Cleared once the receiver holds some of it.
    sent: Vec<(NodeId, NodeId, Index)>,
}

/// Notes on the InstallSnapshot chunks sent or delivered in `events`, the trace of the
/// cluster step just taken.
fn snapshot_notes(
    cluster: &Cluster,
    events: &[TraceEvent],
    noted: &mut NotedSnapshots,
) -> Vec<SnapshotNote> {
    let chunk_bytes = cluster
        .config()
        .compaction
        .map_or(0, |c| c.chunk_bytes as u64);
    let receiving = |id: NodeId| {
        cluster
            .replica(id)
            .and_then(|r| r.raft().snapshot_receiving())
    };
    // A node that compacted in this step after sending no longer holds what it sent.
    let compacted_after = |i: usize, node: NodeId| {
        events[i..]
            .iter()
            .any(|e| matches!(e.kind, TraceKind::Compacted { node: n, .. } if n == node))
    };
    let mut notes = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match &event.kind {
            TraceKind::Send { msg, .. } if msg.kind == INSTALL_SNAPSHOT => {
                let Some(snapshot) = cluster.replica(msg.from).and_then(|r| r.raft().snapshot())
                else {
                    continue;
                };
                // Noted when a running receiver holds none of it yet (a down one drops it).
                let started = cluster.replica(msg.to).is_some()
                    && receiving(msg.to)
                        .is_none_or(|(index, held)| index != snapshot.index || held == 0);
                let sent = (msg.from, msg.to, snapshot.index);
                if started && !compacted_after(i, msg.from) && !noted.sent.contains(&sent) {
                    noted
                        .sent
                        .retain(|&(from, to, _)| (from, to) != (msg.from, msg.to));
                    noted.sent.push(sent);
                    notes.push(SnapshotNote::Sending {
                        at: event.at,
                        from: msg.from,
                        to: msg.to,
                        index: snapshot.index,
                        term: snapshot.term,
                        bytes: snapshot.data.len() as u64,
                        chunk_bytes,
                    });
                }
            }
            TraceKind::Deliver { msg } if msg.kind == INSTALL_SNAPSHOT => {
                // None: the snapshot is whole (its install is an event of its own) or the
                // chunk was not taken.
                let Some((index, held)) = receiving(msg.to) else {
                    continue;
                };
                match noted.held.iter_mut().find(|(to, ..)| *to == msg.to) {
                    Some(last) if *last == (msg.to, index, held) => continue,
                    Some(last) => *last = (msg.to, index, held),
                    None => noted.held.push((msg.to, index, held)),
                }
                noted.sent.retain(|&(_, to, _)| to != msg.to);
                let total = cluster
                    .replica(msg.from)
                    .and_then(|r| r.raft().snapshot())
                    .filter(|s| s.index == index)
                    .map(|s| s.data.len() as u64);
                notes.push(SnapshotNote::Received {
                    at: event.at,
                    from: msg.from,
                    to: msg.to,
                    index,
                    held,
                    total,
                    chunk_bytes,
                });
            }
            _ => {}
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckgoose_core::Request;
    use duckgoose_sim::network::LinkFaults;
    use duckgoose_sim::scenario::replay_hash;
    use duckgoose_sim::trace::TraceMode;

    fn engine(seed: u64) -> Engine {
        Engine::new(SimConfig::new(5, seed)).unwrap()
    }

    /// A frame counts lines with `explain::has_line` and words only the last ones: the
    /// two must agree on every kind of event, quiet or verbose.
    #[test]
    fn has_line_agrees_with_explain() {
        let mut e = engine(3);
        let script = [
            "network 5-40 50000 10000",
            "request 1 put x 1",
            "partition 1,2/3,4,5",
            "crash 4",
            "request 2 goose",
            "heal",
            "restart 4",
            "request 3 get x",
        ];
        let mut events = Vec::new();
        for (i, line) in script.iter().enumerate() {
            e.act(duckgoose_sim::text::parse_action(line).unwrap())
                .unwrap();
            e.advance_to(800 * (i as Millis + 1));
            events.extend(e.take_trace().into_iter().filter_map(|t| match t {
                Traced::Event(event) => Some(event),
                Traced::Snapshot(_) => None,
            }));
        }
        for verbose in [false, true] {
            let mut lines = 0;
            for event in &events {
                let worded = crate::explain::explain(event, verbose).is_some();
                assert_eq!(
                    crate::explain::has_line(event, verbose),
                    worded,
                    "{event:?}"
                );
                lines += usize::from(worded);
            }
            // Both answers occur, so a has_line stuck at either would fail.
            assert!(
                lines > 20 && lines < events.len(),
                "{lines} of {}",
                events.len()
            );
        }
    }

    #[test]
    fn elects_a_goose() {
        let mut e = engine(1);
        e.advance_to(3_000);
        assert!(e.cluster().goose().is_some());
    }

    #[test]
    fn frames_and_actions_replay_to_the_same_hash() {
        let mut e = engine(7);
        for _ in 0..200 {
            e.advance_by(16.7 * 0.37);
        }
        let goose = e.cluster().goose().unwrap();
        e.act(Action::Partition {
            groups: vec![vec![goose, if goose == 1 { 2 } else { 1 }]],
        })
        .unwrap();
        for _ in 0..300 {
            e.advance_by(9.3);
        }
        e.act(Action::Heal).unwrap();
        e.act(Action::Request {
            node: 3,
            request: Request::Goose,
        })
        .unwrap();
        e.advance_by(1234.5);
        let now = e.now();
        let replayed = e.scenario().replay(now, TraceMode::HashOnly);
        assert_eq!(replayed.trace().hash(), e.hash());
        assert_eq!(replay_hash(e.scenario(), now).unwrap().0, e.hash());
    }

    #[test]
    fn seeking_back_and_forth_matches() {
        let mut e = engine(3);
        e.advance_to(2_000);
        e.act(Action::Crash { node: 1 }).unwrap();
        e.advance_to(5_000);
        let at_5s = e.hash();
        e.seek(1_000);
        assert_eq!(e.now(), 1_000);
        assert!(e.replaying());
        assert_eq!(e.horizon(), 5_000);
        e.seek(5_000);
        assert_eq!(e.hash(), at_5s);
        assert_eq!(e.cluster().status(1), Some(duckgoose_sim::NodeStatus::Down));
    }

    #[test]
    fn acting_in_the_past_branches() {
        let mut e = engine(3);
        e.advance_to(2_000);
        e.act(Action::Crash { node: 1 }).unwrap();
        e.advance_to(5_000);
        e.seek(1_000);
        e.act(Action::Crash { node: 2 }).unwrap();
        assert_eq!(
            e.scenario().actions,
            vec![(1_000, Action::Crash { node: 2 })]
        );
        assert!(!e.replaying());
        assert_eq!(e.horizon(), 1_000);
    }

    #[test]
    fn zones_follow_partitions() {
        let mut e = engine(3);
        e.act(Action::Partition {
            groups: vec![vec![1, 2], vec![3]],
        })
        .unwrap();
        assert_eq!(e.zones(), vec![vec![1, 2], vec![3], vec![4, 5]]);
        assert!(
            e.act(Action::Partition {
                groups: vec![vec![1], vec![2], vec![3]]
            })
            .is_err()
        );
        e.act(Action::Partition {
            groups: vec![vec![1, 2, 3], vec![], vec![4, 5]],
        })
        .unwrap();
        assert_eq!(e.zones(), vec![vec![1, 2, 3], vec![], vec![4, 5]]);
        e.act(Action::Heal).unwrap();
        assert!(e.zones().is_empty());
    }

    #[test]
    fn refuses_bad_input() {
        let mut e = engine(3);
        assert!(e.act(Action::Crash { node: 0 }).is_err());
        assert!(e.act(Action::Crash { node: 42 }).is_err());
        assert!(e.act(Action::AddNode { node: 3 }).is_err());
        assert!(
            e.act(Action::Network {
                faults: LinkFaults {
                    latency_min: 5,
                    latency_max: 1,
                    loss_ppm: 0,
                    duplicate_ppm: 0
                }
            })
            .is_err()
        );
        assert!(
            e.act(Action::Request {
                node: 1,
                request: Request::RemoveMember(2)
            })
            .is_err()
        );
        let mut bad = SimConfig::new(5, 1);
        bad.heartbeat_interval = 500;
        assert!(Engine::new(bad).is_err());
        assert!(Engine::new(SimConfig::new(10, 1)).is_err());
        assert!(Engine::new(SimConfig::new(5, u64::MAX)).is_err());
        // Nothing recorded for refused actions.
        assert!(e.scenario().actions.is_empty());
    }

    #[test]
    fn clock_rates_are_recorded_refused_and_replayed() {
        let mut e = engine(3);
        e.advance_to(1_000);
        let refused =
            |e: &mut Engine, node, rate| e.act(Action::ClockRate { node, rate }).unwrap_err().0;
        assert_eq!(refused(&mut e, 42, 500), "no node 42");
        assert_eq!(
            refused(&mut e, 2, 3_000),
            "clock rate of node 2: 3x is out of range (0.5 to 2)"
        );
        assert!(
            e.scenario().actions.is_empty(),
            "nothing recorded when refused"
        );
        e.act(Action::ClockRate { node: 2, rate: 500 }).unwrap();
        e.advance_to(1_400);
        assert_eq!(e.cluster().clock_reading(2), Some(1_200));
        assert_eq!(e.view(4).nodes[1].clock, 1_200);
        assert_eq!(e.view(4).nodes[1].clock_rate, 500);
        assert_eq!(e.view(4).nodes[0].clock_rate, 1_000);
        let text = duckgoose_sim::text::format_scenario(e.scenario());
        assert!(text.ends_with("\n1000 clock 2 0.5"), "{text}");
        let hash = e.hash();
        e.seek(500);
        assert_eq!(e.cluster().clock_reading(2), Some(500));
        e.seek(1_400);
        assert_eq!(e.hash(), hash);
        assert_eq!(e.cluster().clock_reading(2), Some(1_200));
    }

    #[test]
    fn adds_and_removes_nodes() {
        let mut e = engine(5);
        e.advance_to(2_000);
        let id = e.next_node_id().unwrap();
        assert_eq!(id, 6);
        e.act(Action::AddNode { node: id }).unwrap();
        e.advance_to(4_000);
        assert!(
            ClusterView::of(e.cluster(), 0)
                .nodes
                .iter()
                .any(|n| n.id == 6 && n.member)
        );
        e.act(Action::RemoveNode { node: 2 }).unwrap();
        e.advance_to(6_000);
        assert!(e.cluster().status(2).is_none());
        assert_eq!(e.next_node_id(), Some(7));
    }

    #[test]
    fn trace_is_drained() {
        let mut e = engine(5);
        e.advance_to(1_000);
        assert!(!e.take_trace().is_empty());
        assert!(e.take_trace().is_empty());
        e.advance_to(60_000);
        e.seek(30_000);
        assert!(e.cluster().trace().events().len() < 20_000);
    }

    /// The playground's "catch up by snapshot" scenario, natively: a duck is down
    /// through many writes while the others compact; restarted, it gets the goose's
    /// snapshot in chunks (noted as they go), installs it and catches up.
    #[test]
    fn a_node_that_slept_through_compaction_catches_up_by_snapshot() {
        use duckgoose_sim::Compaction;
        use duckgoose_sim::text::parse_action;

        let mut config = SimConfig::new(5, 7);
        config.compaction = Some(Compaction {
            threshold: 10,
            random_ppm: 0,
            chunk_bytes: 32,
        });
        let mut e = Engine::new(config).unwrap();
        let run_until = |e: &mut Engine, done: &dyn Fn(&ClusterView) -> bool| {
            let start = e.now();
            loop {
                if done(&ClusterView::of(e.cluster(), 12)) {
                    return;
                }
                assert!(e.now() - start < 10_000, "stuck at {} ms", e.now());
                e.advance_by(10.0);
            }
        };
        run_until(&mut e, &|v| v.goose.is_some());
        let goose = e.cluster().goose().unwrap();
        let sleeper = if goose == 5 { 4 } else { 5 };
        e.act(parse_action(&format!("crash {sleeper}")).unwrap())
            .unwrap();
        let slept_at = ClusterView::of(e.cluster(), 12).nodes[sleeper as usize - 1].last_index;
        for i in 0..30 {
            e.act(parse_action(&format!("request {goose} put k{} v{i}", i % 6)).unwrap())
                .unwrap();
            e.advance_by(20.0);
        }
        run_until(&mut e, &|v| {
            v.nodes
                .iter()
                .filter(|n| n.id != sleeper)
                .all(|n| n.snapshot.as_ref().is_some_and(|s| s.index > slept_at + 20))
        });
        let view = ClusterView::of(e.cluster(), 12);
        let down = &view.nodes[sleeper as usize - 1];
        assert_eq!(down.last_index, slept_at, "the disk keeps what it had");
        assert!(down.snapshot.is_none());
        let leader = &view.nodes[goose as usize - 1];
        let snapshot = leader.snapshot.clone().unwrap();
        assert!(leader.log.iter().all(|entry| entry.index > snapshot.index));
        let restarted_at = e.now();
        e.act(parse_action(&format!("restart {sleeper}")).unwrap())
            .unwrap();
        run_until(&mut e, &|v| {
            let s = &v.nodes[sleeper as usize - 1];
            s.snapshot.is_some() && s.last_index == v.nodes[goose as usize - 1].last_index
        });
        let view = ClusterView::of(e.cluster(), 12);
        let caught_up = &view.nodes[sleeper as usize - 1];
        let installed = caught_up.snapshot.clone().unwrap();
        assert!(installed.index > slept_at);
        assert!(caught_up.receiving.is_none());

        let traced = e.take_trace();
        let notes: Vec<SnapshotNote> = traced
            .into_iter()
            .filter_map(|t| match t {
                Traced::Snapshot(note) => Some(note),
                Traced::Event(_) => None,
            })
            .collect();
        // One note for the sending, once the sleeper runs again (not for each first chunk
        // the goose sent it while it was down, nor for the heartbeat's resends).
        let sent: Vec<&SnapshotNote> = notes
            .iter()
            .filter(|n| matches!(n, SnapshotNote::Sending { .. }))
            .collect();
        assert_eq!(sent.len(), 1, "{notes:?}");
        let Some(SnapshotNote::Sending {
            at,
            from,
            to,
            index,
            bytes,
            chunk_bytes,
            ..
        }) = notes.first().cloned()
        else {
            panic!("no snapshot sent first: {notes:?}");
        };
        assert!(at >= restarted_at);
        assert_eq!((from, to, index), (goose, sleeper, installed.index));
        assert_eq!(chunk_bytes, 32);
        assert!(bytes > 32, "several chunks: {bytes} bytes");
        // Every chunk but the last is noted as received, each holding 32 bytes more.
        let held: Vec<u64> = notes
            .iter()
            .filter_map(|n| match n {
                SnapshotNote::Received { held, total, .. } => {
                    assert_eq!(*total, Some(bytes));
                    Some(*held)
                }
                SnapshotNote::Sending { .. } => None,
            })
            .collect();
        let expected: Vec<u64> = (1..bytes.div_ceil(32)).map(|k| k * 32).collect();
        assert_eq!(held, expected);
        assert!(e.cluster().violations().is_empty());
        let now = e.now();
        assert_eq!(replay_hash(e.scenario(), now).unwrap().0, e.hash());
    }

    /// The playground's "fencing" scenario, as the page drives it (the same text
    /// actions): goose A's app takes fence F from a goose answer; A is paused; the others
    /// elect B, whose app writes x with its own fence; A resumes and its app, still
    /// believing it is goose, writes x stamped If-Fence F (its node redirects it to B),
    /// then the same write unfenced. The fenced write is refused when applied, leaving
    /// B's value; the unfenced one goes through and overwrites it.
    #[test]
    fn a_paused_ex_goose_fenced_write_is_refused_and_its_unfenced_write_goes_through() {
        use crate::explain::answer;
        use duckgoose_sim::text::parse_action;

        fn act(e: &mut Engine, text: &str) -> Option<u64> {
            e.act(parse_action(text).unwrap()).unwrap()
        }
        /// Runs until request `id` is answered; its answer as the page gets it.
        fn answer_of(e: &mut Engine, id: u64) -> crate::explain::Answer {
            for _ in 0..200 {
                if let Some(c) = e.take_completed().iter().find(|c| c.id == id) {
                    return answer(c);
                }
                e.advance_by(10.0);
            }
            panic!("request {id} unanswered at {} ms", e.now());
        }
        fn run_until(e: &mut Engine, done: impl Fn(&Engine) -> bool) {
            let start = e.now();
            while !done(e) {
                assert!(e.now() - start < 10_000, "stuck at {} ms", e.now());
                e.advance_by(10.0);
            }
        }
        fn x_at_goose(e: &Engine) -> Option<String> {
            let store = ClusterView::of(e.cluster(), 1).store.expect("a goose");
            store
                .entries
                .iter()
                .find(|(k, _)| *k == "x")
                .map(|(_, v)| v.to_string())
        }

        let mut e = engine(7);
        run_until(&mut e, |e| e.cluster().goose().is_some());
        let a = e.cluster().goose().unwrap();
        let asked = act(&mut e, &format!("request {a} goose")).unwrap();
        let honk = answer_of(&mut e, asked);
        assert_eq!(honk.outcome, "goose");
        let fence_a = honk.goose.unwrap();

        act(&mut e, &format!("pause {a}"));
        run_until(&mut e, |e| e.cluster().goose().is_some_and(|g| g != a));
        let b = e.cluster().goose().unwrap();
        let fence_b = e.cluster().replica(b).unwrap().raft().term();
        assert!(fence_b > fence_a);
        let id = act(
            &mut e,
            &format!("request {b} fenced {fence_b} put x from-{b}"),
        )
        .unwrap();
        assert_eq!(answer_of(&mut e, id).outcome, "written");
        assert_eq!(x_at_goose(&e), Some(format!("from-{b}")));

        act(&mut e, &format!("resume {a}"));
        // A heard B's heartbeats first (they were held while it was paused): it knows it
        // is no longer the leader and sends its app to B.
        let id = act(
            &mut e,
            &format!("request {a} fenced {fence_a} put x from-{a}"),
        )
        .unwrap();
        let redirect = answer_of(&mut e, id);
        assert_eq!(redirect.outcome, "not_leader");
        assert_eq!(redirect.leader, Some(b));

        let id = act(
            &mut e,
            &format!("request {b} fenced {fence_a} put x from-{a}"),
        )
        .unwrap();
        let fenced = answer_of(&mut e, id);
        assert_eq!(fenced.outcome, "stale_fence", "{}", fenced.text);
        assert!(!fenced.ok);
        assert_eq!(fenced.fence, Some(fence_a));
        assert_eq!(fenced.entry_term, Some(fence_b));
        assert_eq!(
            x_at_goose(&e),
            Some(format!("from-{b}")),
            "the refused write left x alone"
        );

        let id = act(&mut e, &format!("request {b} put x from-{a}")).unwrap();
        let unfenced = answer_of(&mut e, id);
        assert_eq!(unfenced.outcome, "written");
        assert_eq!(
            x_at_goose(&e),
            Some(format!("from-{a}")),
            "the unfenced write overwrote B's"
        );
        assert!(e.cluster().violations().is_empty());

        // The story replays to the same trace, here and from its text form.
        let now = e.now();
        assert_eq!(replay_hash(e.scenario(), now).unwrap().0, e.hash());
        let text = duckgoose_sim::text::format_scenario(e.scenario());
        let parsed = duckgoose_sim::text::parse_scenario(&text).unwrap();
        assert_eq!(replay_hash(&parsed, now).unwrap().0, e.hash());
    }
}
