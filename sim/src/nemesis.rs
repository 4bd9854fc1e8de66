//! Randomized runs: a seeded nemesis (partitions, one-way cuts, crashes and restarts,
//! pauses, loss, duplication, latency swings, membership changes, transfers) against a
//! cluster under client load, then a heal and a check that the cluster recovers.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::network::LinkFaults;
use crate::trace::TraceMode;
use crate::{Action, Cluster, Compaction, NodeStatus, SimConfig, SnapshotStats};
use duckgoose_core::kv::Op;
use duckgoose_core::replica::{Reply, Request, RequestError, RequestId};
use duckgoose_core::rng::Rng;
use duckgoose_core::types::{Millis, NodeId};
use duckgoose_lincheck as lincheck;

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NemesisConfig {
    /// Virtual time under faults and load.
    pub duration: Millis,
    /// Concurrent clients, each with one request outstanding at a time.
    pub clients: u32,
    /// Keys the clients share (few keys, many conflicts).
    pub keys: u32,
    /// Mean pause between a client's requests.
    pub think_time: Millis,
    /// Mean time between faults.
    pub fault_interval: Millis,
    pub membership_changes: bool,
    pub transfers: bool,
    /// After the final heal, how long the cluster has to show exactly one goose again.
    pub recovery_bound: Millis,
    /// Mean time between spurious connection-closed notices (`Action::ConnectionClosed`
    /// to a running node, about its leader half the time); 0 for none.
    pub spurious_close_interval: Millis,
    /// How often each kind of fault is drawn.
    #[cfg_attr(feature = "serde", serde(default))]
    pub mix: FaultMix,
}

/// Relative weights of the fault kinds the nemesis draws from (a kind that cannot act,
/// such as a restart with nothing down, does nothing that time; a membership change or
/// transfer that is switched off heals instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FaultMix {
    /// A random split into two or three groups.
    pub partition: u32,
    /// The leader cut off, maybe with one follower.
    pub isolate_leader: u32,
    /// One direction of one link cut.
    pub cut_link: u32,
    pub heal: u32,
    pub crash: u32,
    pub restart: u32,
    pub pause: u32,
    pub resume: u32,
    /// Loss, duplication or latency swings on every link.
    pub network: u32,
    pub add_node: u32,
    pub remove_node: u32,
    pub transfer: u32,
    /// The leader crashes (0 in the randomized runs, which crash any node).
    pub crash_leader: u32,
}

impl FaultMix {
    /// The randomized runs' mix, in percent.
    pub const DEFAULT: FaultMix = FaultMix {
        partition: 15,
        isolate_leader: 10,
        cut_link: 7,
        heal: 13,
        crash: 10,
        restart: 10,
        pause: 5,
        resume: 5,
        network: 8,
        add_node: 6,
        remove_node: 5,
        transfer: 6,
        crash_leader: 0,
    };

    /// No faults at all: a base to set a few weights on.
    pub const NONE: FaultMix = FaultMix {
        partition: 0,
        isolate_leader: 0,
        cut_link: 0,
        heal: 0,
        crash: 0,
        restart: 0,
        pause: 0,
        resume: 0,
        network: 0,
        add_node: 0,
        remove_node: 0,
        transfer: 0,
        crash_leader: 0,
    };

    /// The weights in drawing order.
    fn weights(&self) -> [(FaultKind, u32); 13] {
        [
            (FaultKind::Partition, self.partition),
            (FaultKind::IsolateLeader, self.isolate_leader),
            (FaultKind::CutLink, self.cut_link),
            (FaultKind::Heal, self.heal),
            (FaultKind::Crash, self.crash),
            (FaultKind::Restart, self.restart),
            (FaultKind::Pause, self.pause),
            (FaultKind::Resume, self.resume),
            (FaultKind::Network, self.network),
            (FaultKind::AddNode, self.add_node),
            (FaultKind::RemoveNode, self.remove_node),
            (FaultKind::Transfer, self.transfer),
            (FaultKind::CrashLeader, self.crash_leader),
        ]
    }

    /// One kind, drawn by weight (`None` when every weight is 0).
    fn draw(&self, rng: &mut Rng) -> Option<FaultKind> {
        let weights = self.weights();
        let total: u64 = weights.iter().map(|&(_, w)| u64::from(w)).sum();
        if total == 0 {
            return None;
        }
        let mut roll = rng.below(total);
        for (kind, weight) in weights {
            if roll < u64::from(weight) {
                return Some(kind);
            }
            roll -= u64::from(weight);
        }
        None
    }
}

impl Default for FaultMix {
    fn default() -> Self {
        FaultMix::DEFAULT
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultKind {
    Partition,
    IsolateLeader,
    CutLink,
    Heal,
    Crash,
    Restart,
    Pause,
    Resume,
    Network,
    AddNode,
    RemoveNode,
    Transfer,
    CrashLeader,
}

impl Default for NemesisConfig {
    fn default() -> Self {
        NemesisConfig {
            duration: 180_000,
            clients: 3,
            keys: 3,
            think_time: 100,
            fault_interval: 2_000,
            membership_changes: true,
            transfers: true,
            recovery_bound: 5_000,
            spurious_close_interval: 10_000,
            mix: FaultMix::DEFAULT,
        }
    }
}

/// What a run found.
#[derive(Clone, Debug)]
pub struct Report {
    pub seed: u64,
    pub virtual_ms: Millis,
    pub node_events: u64,
    pub operations: usize,
    pub faults: u32,
    pub trace_hash: u64,
    /// What log compaction did (all zero when it is off).
    pub snapshots: SnapshotStats,
    /// Every problem found: invariant violations, a non-linearizable history, no recovery.
    pub failures: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

struct Client {
    id: u32,
    target: NodeId,
    busy: Option<RequestId>,
    next_at: Millis,
    issued: u64,
}

/// Runs one seed: faults and load for `nemesis.duration`, then heal and check recovery.
pub fn run(sim: SimConfig, nemesis: &NemesisConfig, trace: TraceMode) -> (Cluster, Report) {
    let seed = sim.seed;
    let mut cluster = Cluster::new(sim, trace);
    let faults = drive(&mut cluster, nemesis);

    let mut failures: Vec<String> = cluster
        .violations()
        .iter()
        .map(|v| format!("invariant '{}' violated: {}", v.invariant, v.detail))
        .collect();
    // Plain Raft (neither PreVote nor leader stickiness) is not live: a node left holding
    // an uncommitted membership that includes it keeps forcing elections forever (thesis
    // §4.2.3). Such seeds check safety only.
    let expect_recovery = cluster.config().pre_vote || cluster.config().check_quorum;
    if failures.is_empty() {
        let recovered = if expect_recovery {
            heal_and_check_recovery(&mut cluster, nemesis.recovery_bound)
        } else {
            cluster.apply(Action::Heal);
            cluster.run_for(nemesis.recovery_bound);
            Ok(())
        };
        if let Err(reason) = recovered {
            failures.push(reason);
        }
        failures.extend(
            cluster
                .violations()
                .iter()
                .map(|v| format!("invariant '{}' violated: {}", v.invariant, v.detail)),
        );
    }
    if let Err(v) = lincheck::check(cluster.history()) {
        failures.push(format!(
            "key-value history not linearizable on key '{}': {}",
            v.key, v.explanation
        ));
    }
    let report = Report {
        seed,
        virtual_ms: cluster.now(),
        node_events: cluster.node_events(),
        operations: cluster.history().len(),
        faults,
        trace_hash: cluster.trace().hash(),
        snapshots: cluster.snapshot_stats(),
        failures,
    };
    (cluster, report)
}

/// Faults and client load from a fresh cluster (`cluster.config().seed` seeds them) until
/// `nemesis.duration`, stopping early at the first invariant violation. Returns the faults
/// drawn.
pub fn drive(cluster: &mut Cluster, nemesis: &NemesisConfig) -> u32 {
    let seed = cluster.config().seed;
    // The nemesis draws from its own stream so that its choices do not shift when the
    // protocol's use of the network stream changes.
    let mut rng = Rng::new(seed ^ 0x6E65_6D65_7369_7321);
    let mut clients: Vec<Client> = (0..nemesis.clients)
        .map(|id| Client {
            id,
            target: 1,
            busy: None,
            next_at: rng.between(0, nemesis.think_time * 2 + 1),
            issued: 0,
        })
        .collect();
    let mut faults = 0;
    let mut next_fault = rng.between(nemesis.fault_interval / 2, nemesis.fault_interval * 3 / 2);
    // Spurious notices draw from a stream of their own too, so that the faults above stay
    // what they were without them.
    let mut spurious_rng = Rng::new(seed ^ 0x7370_7572_696F_7573);
    let spurious_gap = |rng: &mut Rng| match nemesis.spurious_close_interval {
        0 => Millis::MAX,
        mean => rng.between(mean / 2, mean * 3 / 2),
    };
    let mut next_spurious = spurious_gap(&mut spurious_rng);
    let mut next_node_id = cluster.config().nodes as NodeId + 1;

    while cluster.now() < nemesis.duration && cluster.violations().is_empty() {
        let next_client = clients
            .iter()
            .filter(|c| c.busy.is_none())
            .map(|c| c.next_at)
            .min();
        // Busy clients wait for answers, which may come at any moment: poll every 5 ms.
        let until = next_client
            .unwrap_or(Millis::MAX)
            .min(cluster.now() + 5)
            .min(next_fault)
            .min(next_spurious)
            .min(nemesis.duration);
        cluster.run_until(until);
        let now = cluster.now();
        collect_answers(cluster, &mut clients, &mut rng, nemesis);
        if now >= next_fault {
            inject_fault(cluster, &mut rng, nemesis, &mut next_node_id);
            faults += 1;
            next_fault =
                now + rng.between(nemesis.fault_interval / 2, nemesis.fault_interval * 3 / 2);
        }
        if now >= next_spurious {
            spurious_close(cluster, &mut spurious_rng);
            next_spurious = now.saturating_add(spurious_gap(&mut spurious_rng));
        }
        for client in clients.iter_mut() {
            if client.busy.is_none() && client.next_at <= now {
                issue(cluster, client, &mut rng, nemesis);
            }
        }
    }

    faults
}

fn collect_answers(
    cluster: &mut Cluster,
    clients: &mut [Client],
    rng: &mut Rng,
    nemesis: &NemesisConfig,
) {
    let members: Vec<NodeId> = cluster.node_ids().collect();
    for done in cluster.take_completed() {
        let Some(client) = clients.iter_mut().find(|c| c.busy == Some(done.id)) else {
            continue;
        };
        client.busy = None;
        client.next_at = done.at + rng.between(nemesis.think_time / 2, nemesis.think_time * 3 / 2);
        // Follow the redirect hint; otherwise try someone else.
        client.target = match done.result {
            Some(Err(RequestError::NotLeader { leader: Some(l) })) => l,
            Some(Ok(_)) => client.target,
            _ => members[rng.below(members.len() as u64) as usize],
        };
    }
}

fn issue(cluster: &mut Cluster, client: &mut Client, rng: &mut Rng, nemesis: &NemesisConfig) {
    let key = format!("k{}", rng.below(nemesis.keys as u64));
    client.issued += 1;
    let value = format!("{}.{}", client.id, client.issued);
    let request = match rng.below(100) {
        0..=34 => Request::Kv(Op::Put { key, value }),
        35..=64 => Request::Kv(Op::Get { key }),
        65..=74 => Request::Kv(Op::Delete { key }),
        75..=89 => {
            // Expect one of the values this client might have written, or absence.
            let expected = match rng.below(3) {
                0 => None,
                _ => Some(format!(
                    "{}.{}",
                    client.id,
                    rng.between(1, client.issued.max(2))
                )),
            };
            Request::Kv(Op::Cas {
                key,
                expected,
                value,
            })
        }
        _ => Request::Goose,
    };
    // Goose questions go to anyone; the rest to the node the client thinks leads.
    let target = if request == Request::Goose {
        let ids: Vec<NodeId> = cluster.node_ids().collect();
        ids[rng.below(ids.len() as u64) as usize]
    } else {
        client.target
    };
    client.busy = Some(cluster.request(target, request));
}

/// Tells a running node that its connection to a peer closed while the peer may be fine:
/// about its leader half the time (the notice that could disrupt), else about anyone.
fn spurious_close(cluster: &mut Cluster, rng: &mut Rng) {
    let all: Vec<NodeId> = cluster.node_ids().collect();
    let up: Vec<NodeId> = all
        .iter()
        .copied()
        .filter(|&id| cluster.status(id) == Some(NodeStatus::Up))
        .collect();
    let Some(node) = pick(rng, &up) else {
        return;
    };
    let leader = cluster.replica(node).and_then(|r| r.raft().leader());
    let peer = match leader {
        Some(l) if rng.below(2) == 0 => Some(l),
        _ => pick(rng, &all),
    };
    if let Some(peer) = peer.filter(|&p| p != node) {
        cluster.apply(Action::ConnectionClosed { node, peer });
    }
}

fn pick(rng: &mut Rng, from: &[NodeId]) -> Option<NodeId> {
    (!from.is_empty()).then(|| from[rng.below(from.len() as u64) as usize])
}

fn inject_fault(
    cluster: &mut Cluster,
    rng: &mut Rng,
    nemesis: &NemesisConfig,
    next_node_id: &mut NodeId,
) {
    let all: Vec<NodeId> = cluster.node_ids().collect();
    let by_status = |s: NodeStatus| -> Vec<NodeId> {
        all.iter()
            .copied()
            .filter(|&id| cluster.status(id) == Some(s))
            .collect()
    };
    let up = by_status(NodeStatus::Up);
    let paused = by_status(NodeStatus::Paused);
    let down = by_status(NodeStatus::Down);
    let Some(kind) = nemesis.mix.draw(rng) else {
        return;
    };
    let action = match kind {
        FaultKind::Partition => {
            // Random split into two or three groups.
            let groups = 2 + rng.below(2) as usize;
            let mut split: Vec<Vec<NodeId>> = (0..groups).map(|_| Vec::new()).collect();
            for &id in &all {
                split[rng.below(groups as u64) as usize].push(id);
            }
            Action::Partition { groups: split }
        }
        FaultKind::IsolateLeader => {
            // Isolate the leader, maybe with one follower.
            let Some(leader) = cluster.leader() else {
                return;
            };
            let mut minority = alloc::vec![leader];
            if rng.below(2) == 0
                && let Some(other) = pick(rng, &all).filter(|&o| o != leader)
            {
                minority.push(other);
            }
            Action::Partition {
                groups: alloc::vec![minority],
            }
        }
        FaultKind::CutLink => {
            let (Some(from), Some(to)) = (pick(rng, &all), pick(rng, &all)) else {
                return;
            };
            if from == to {
                return;
            }
            Action::Link {
                from,
                to,
                connected: false,
            }
        }
        FaultKind::Heal => Action::Heal,
        FaultKind::Crash => match pick(rng, &up) {
            Some(node) => Action::Crash { node },
            None => return,
        },
        FaultKind::CrashLeader => match cluster.leader() {
            Some(node) => Action::Crash { node },
            None => return,
        },
        FaultKind::Restart => match pick(rng, &down) {
            Some(node) => Action::Restart { node },
            None => return,
        },
        FaultKind::Pause => match pick(rng, &up) {
            Some(node) => Action::Pause { node },
            None => return,
        },
        FaultKind::Resume => match pick(rng, &paused) {
            Some(node) => Action::Resume { node },
            None => return,
        },
        FaultKind::Network => Action::Network {
            faults: match rng.below(4) {
                0 => LinkFaults::CALM,
                1 => LinkFaults {
                    loss_ppm: rng.between(10_000, 200_000) as u32,
                    ..LinkFaults::CALM
                },
                2 => LinkFaults {
                    duplicate_ppm: rng.between(10_000, 100_000) as u32,
                    ..LinkFaults::CALM
                },
                _ => LinkFaults {
                    latency_min: 1,
                    latency_max: rng.between(20, 120),
                    loss_ppm: rng.below(50_000) as u32,
                    duplicate_ppm: rng.below(50_000) as u32,
                },
            },
        },
        FaultKind::AddNode if nemesis.membership_changes && all.len() < 7 => {
            let node = *next_node_id;
            *next_node_id += 1;
            Action::AddNode { node }
        }
        FaultKind::RemoveNode if nemesis.membership_changes && all.len() > 2 => {
            match pick(rng, &all) {
                Some(node) => Action::RemoveNode { node },
                None => return,
            }
        }
        FaultKind::Transfer if nemesis.transfers => match pick(rng, &all) {
            Some(to) => Action::Transfer { to },
            None => return,
        },
        FaultKind::AddNode | FaultKind::RemoveNode | FaultKind::Transfer => Action::Heal,
    };
    cluster.apply(action);
}

/// Heals everything, then requires a leader that answers a real goose query within
/// `bound`; a second later (membership changes issued just before the heal have settled
/// by then) the leader must still answer goose, and every member of its membership must
/// have applied through its commit index.
pub fn heal_and_check_recovery(cluster: &mut Cluster, bound: Millis) -> Result<(), String> {
    cluster.apply(Action::Heal);
    cluster.apply(Action::Network {
        faults: cluster.config().network,
    });
    let ids: Vec<NodeId> = cluster.node_ids().collect();
    for &node in &ids {
        match cluster.status(node) {
            Some(NodeStatus::Down) => {
                cluster.apply(Action::Restart { node });
            }
            Some(NodeStatus::Paused) => {
                cluster.apply(Action::Resume { node });
            }
            _ => {}
        }
    }
    let healed_at = cluster.now();
    while confirmed_goose(cluster).is_none() {
        if cluster.now() >= healed_at + bound {
            return Err(format!(
                "no goose within {bound} ms of healing at {healed_at} ms"
            ));
        }
    }
    cluster.run_for(1_000);
    let Some(goose) = confirmed_goose(cluster) else {
        return Err(format!(
            "the goose vanished again after healing at {healed_at} ms"
        ));
    };
    if cluster.config().check_quorum && cluster.goose() != Some(goose) {
        return Err(format!("{goose} answers goose but does not show as goose"));
    }
    let Some(leader) = cluster.replica(goose).map(|r| r.raft()) else {
        return Err(format!("goose {goose} is gone"));
    };
    let commit = leader.commit_index();
    for id in leader.membership().ids() {
        let applied = cluster.replica(id).map_or(0, |r| r.kv().applied_index());
        if applied < commit {
            return Err(format!(
                "member {id} applied only {applied} of {commit} entries after recovery"
            ));
        }
    }
    Ok(())
}

/// Asks the current leader (if any) "goose?" and waits for the answer (at most 200 ms of
/// virtual time pass). Returns the leader if it answered goose.
fn confirmed_goose(cluster: &mut Cluster) -> Option<NodeId> {
    let Some(leader) = cluster.leader() else {
        cluster.run_for(50);
        return None;
    };
    let asked = cluster.request(leader, Request::Goose);
    for _ in 0..40 {
        cluster.run_for(5);
        if let Some(done) = cluster.take_completed().into_iter().find(|c| c.id == asked) {
            return matches!(done.result, Some(Ok(Reply::Goose { .. }))).then_some(leader);
        }
    }
    None
}

/// The protocol variant and fault tempo for a seed. Seeds take turns running without
/// PreVote, without CheckQuorum, or without both, so the checks the full protocol makes
/// redundant (a vote's log check is also done by the pre-vote, for instance) are still
/// exercised; every other seed injects faults four times as often. Four seeds in five
/// compact their logs (`Compaction::SIM`); the fifth keeps every entry, so that the
/// uncompacted paths (a follower caught up entry by entry from index 1) stay covered.
/// Half the seeds (in blocks of 40) run a goose lease shorter than the minimum election
/// timeout, anywhere from just above a heartbeat to the full minimum: the native node's
/// 75 ms among them, and leases so short that the goose blinks out between rounds.
pub fn setup_for_seed(nodes: u32, seed: u64, base: &NemesisConfig) -> (SimConfig, NemesisConfig) {
    let defaults = SimConfig::new(nodes, seed);
    let (heartbeat, election_min) = (defaults.heartbeat_interval, defaults.election_timeout_min);
    let sim = SimConfig {
        pre_vote: seed % 4 < 2,
        check_quorum: seed % 4 != 1 && seed % 4 != 3,
        compaction: (!(seed / 8).is_multiple_of(5)).then_some(Compaction::SIM),
        goose_lease: (!(seed / 40).is_multiple_of(2))
            .then(|| heartbeat + 1 + (seed / 80) % (election_min - heartbeat)),
        ..defaults
    };
    let nemesis = NemesisConfig {
        fault_interval: if (seed / 4).is_multiple_of(2) {
            base.fault_interval
        } else {
            base.fault_interval / 4
        },
        ..base.clone()
    };
    (sim, nemesis)
}
