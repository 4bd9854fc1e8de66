//! The nemesis proper: a seeded schedule of faults against the cluster, run on its own
//! thread. At most one process fault (kill -9, SIGTERM, SIGSTOP, killing a majority) and
//! one network fault (admin-API partitions, isolating the goose, one-way cuts, network
//! namespace cuts) are active at a time, so they overlap; transfers and membership
//! changes happen in between, under load. A restarted or resumed node gets the network
//! fault in force re-applied (its blocked sets live in memory).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use duckgoose_core::rng::Rng;
use duckgoose_testkit::{Cluster, State};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use super::history::{Event, NodeId, Phase};
use super::http::{Reply, location_addr};
use super::workload::{self, World};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Kill,
    KillMajority,
    Stop,
    Pause,
    Partition,
    IsolateGoose,
    OneWay,
    NetnsPartition,
    NetnsIsolate,
    Transfer,
    Remove,
    Join,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Process,
    Network,
    Instant,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Kill,
        Kind::KillMajority,
        Kind::Stop,
        Kind::Pause,
        Kind::Partition,
        Kind::IsolateGoose,
        Kind::OneWay,
        Kind::NetnsPartition,
        Kind::NetnsIsolate,
        Kind::Transfer,
        Kind::Remove,
        Kind::Join,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Kill => "kill",
            Kind::KillMajority => "kill-majority",
            Kind::Stop => "stop",
            Kind::Pause => "pause",
            Kind::Partition => "partition",
            Kind::IsolateGoose => "isolate-goose",
            Kind::OneWay => "one-way",
            Kind::NetnsPartition => "netns-partition",
            Kind::NetnsIsolate => "netns-isolate",
            Kind::Transfer => "transfer",
            Kind::Remove => "remove",
            Kind::Join => "join",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    fn slot(self) -> Slot {
        match self {
            Kind::Kill | Kind::KillMajority | Kind::Stop | Kind::Pause => Slot::Process,
            Kind::Partition
            | Kind::IsolateGoose
            | Kind::OneWay
            | Kind::NetnsPartition
            | Kind::NetnsIsolate => Slot::Network,
            Kind::Transfer | Kind::Remove | Kind::Join => Slot::Instant,
        }
    }

    pub fn needs_netns(self) -> bool {
        matches!(self, Kind::NetnsPartition | Kind::NetnsIsolate)
    }
}

/// Milliseconds between fault starts, and how long a fault holds.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub interval_ms: (u64, u64),
    pub hold_ms: (u64, u64),
}

/// A stretch during which a symmetric partition was fully in force on every member and
/// nothing else changed: the nodes of `minority` (sides without a quorum of `members`)
/// must not answer goose to a question asked and answered inside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanWindow {
    pub start: u64,
    pub end: u64,
    pub members: Vec<NodeId>,
    pub minority: Vec<NodeId>,
    pub fault: String,
}

struct Active {
    id: u64,
    kind: Kind,
    nodes: Vec<NodeId>,
    until: Instant,
    /// (start, groups) of a partition that counts as clean so far.
    clean: Option<(u64, Vec<Vec<NodeId>>)>,
}

pub struct Nemesis {
    pub world: Arc<World>,
    pub cluster: Cluster,
    rt: Handle,
    rng: Rng,
    kinds: Vec<Kind>,
    timing: Timing,
    goose_pause_ms: u64,
    active: Vec<Active>,
    next_fault_id: u64,
    next_node: NodeId,
    /// Desired (inbound, outbound) blocked ids per node.
    blocks: BTreeMap<NodeId, (BTreeSet<NodeId>, BTreeSet<NodeId>)>,
    /// Nodes the goose has reported as members at some point.
    ever_member: BTreeSet<NodeId>,
    /// Since when each member has been missing from the goose's membership.
    missing_since: BTreeMap<NodeId, Instant>,
    pub counts: BTreeMap<&'static str, u64>,
    pub clean_windows: Vec<CleanWindow>,
    /// Nodes that exited without being asked (with their log tails).
    pub unexpected_exits: Vec<String>,
}

impl Nemesis {
    pub fn new(
        world: Arc<World>,
        cluster: Cluster,
        rt: Handle,
        seed: u64,
        kinds: Vec<Kind>,
        timing: Timing,
        goose_pause_ms: u64,
    ) -> Nemesis {
        let next_node = cluster.procs.keys().max().copied().unwrap_or(0) + 1;
        Nemesis {
            world,
            cluster,
            rt,
            rng: Rng::new(seed ^ 0x006e_656d_6573_6973),
            kinds,
            timing,
            goose_pause_ms,
            active: Vec::new(),
            next_fault_id: 1,
            next_node,
            blocks: BTreeMap::new(),
            ever_member: BTreeSet::new(),
            missing_since: BTreeMap::new(),
            counts: BTreeMap::new(),
            clean_windows: Vec::new(),
            unexpected_exits: Vec::new(),
        }
    }

    fn now(&self) -> u64 {
        self.world.rec.now()
    }

    fn record(&mut self, id: u64, phase: Phase, kind: &str, nodes: &[NodeId], detail: String) {
        let t = self.now();
        self.world.rec.record(Event::Nemesis {
            t,
            id,
            phase,
            fault: kind.to_string(),
            nodes: nodes.to_vec(),
            detail,
        });
    }

    fn fault_id(&mut self) -> u64 {
        self.next_fault_id += 1;
        self.next_fault_id - 1
    }

    /// Members as far as the nemesis is concerned: every node not removed.
    fn live(&self) -> Vec<NodeId> {
        self.cluster
            .procs
            .values()
            .filter(|p| p.state != State::Removed)
            .map(|p| p.id)
            .collect()
    }

    fn running(&self) -> Vec<NodeId> {
        self.cluster.ids_in(State::Running)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.rng.below(items.len() as u64) as usize])
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    fn hold(&mut self) -> Duration {
        Duration::from_millis(
            self.rng
                .between(self.timing.hold_ms.0, self.timing.hold_ms.1),
        )
    }

    /// Starts the cluster's founders and waits until each serves.
    pub fn start_all(&mut self) -> Result<(), String> {
        let ids: Vec<NodeId> = self.cluster.procs.keys().copied().collect();
        for &id in &ids {
            let p = self.cluster.proc(id).ok_or("no proc")?;
            let (client, peer) = (p.client_addr.clone(), p.peer_addr.clone());
            self.world.add_node(id, &client, &peer);
            self.cluster.spawn(id)?;
        }
        for &id in &ids {
            if !self.wait_serving(id, Duration::from_secs(20)) {
                return Err(format!(
                    "node {id} did not start serving:\n{}",
                    self.cluster.log_tail(id, 20)
                ));
            }
            self.spawn_goose_checker(id);
        }
        Ok(())
    }

    pub fn spawn_goose_checker(&self, id: NodeId) {
        let world = self.world.clone();
        let pause = self.goose_pause_ms;
        self.rt.spawn(workload::goose_checker(world, id, pause));
    }

    fn wait_serving(&self, id: NodeId, timeout: Duration) -> bool {
        let Some(addr) = self.world.client_addr(id) else {
            return false;
        };
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let reply = self.rt.block_on(self.world.http.get(
                &addr,
                "/metrics",
                Duration::from_millis(500),
            ));
            if matches!(reply, Reply::Status { code: 200, .. }) {
                return true;
            }
            if self.cluster.proc(id).is_none_or(|p| p.child.is_none()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    // ---- The schedule ----------------------------------------------------------------

    /// Runs faults until `until`, then leaves whatever is active in place (see
    /// [`Nemesis::heal_all`]).
    pub fn run(&mut self, until: Instant) {
        let mut next_fault = Instant::now() + self.interval();
        let mut next_reconcile = Instant::now();
        while Instant::now() < until {
            self.reap();
            let now = Instant::now();
            let due: Vec<usize> = (0..self.active.len())
                .filter(|&i| self.active[i].until <= now)
                .collect();
            for i in due.into_iter().rev() {
                let a = self.active.remove(i);
                self.end(a);
            }
            if now >= next_reconcile {
                self.reconcile_membership();
                next_reconcile = now + Duration::from_millis(500);
            }
            if now >= next_fault {
                self.start_one();
                next_fault = Instant::now() + self.interval();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn interval(&mut self) -> Duration {
        Duration::from_millis(
            self.rng
                .between(self.timing.interval_ms.0, self.timing.interval_ms.1),
        )
    }

    fn slot_busy(&self, slot: Slot) -> bool {
        self.active.iter().any(|a| a.kind.slot() == slot)
    }

    fn start_one(&mut self) {
        let options: Vec<Kind> = self
            .kinds
            .iter()
            .copied()
            .filter(|k| k.slot() == Slot::Instant || !self.slot_busy(k.slot()))
            .collect();
        let Some(kind) = self.pick(&options) else {
            return;
        };
        let started = match kind.slot() {
            Slot::Process => self.start_process_fault(kind),
            Slot::Network => self.start_network_fault(kind),
            Slot::Instant => self.instant(kind),
        };
        if started {
            *self.counts.entry(kind.name()).or_default() += 1;
        }
    }

    // ---- Process faults ----------------------------------------------------------------

    fn start_process_fault(&mut self, kind: Kind) -> bool {
        let mut running = self.running();
        self.shuffle(&mut running);
        let live = self.live().len();
        let n = match kind {
            Kind::KillMajority => live / 2 + 1,
            Kind::Pause => 1 + self.rng.below(2) as usize,
            _ => 1,
        };
        // Sometimes aim at the goose.
        if self.rng.below(2) == 0
            && let Some(g) = self.world.goose_hint()
            && let Some(pos) = running.iter().position(|&id| id == g)
        {
            running.swap(0, pos);
        }
        if running.len() < n {
            return false;
        }
        let nodes: Vec<NodeId> = running[..n].to_vec();
        self.close_clean_windows();
        let id = self.fault_id();
        let mut detail = String::new();
        for &node in &nodes {
            match kind {
                Kind::Kill | Kind::KillMajority => {
                    self.cluster.kill9(node);
                }
                Kind::Stop => {
                    let status = self.cluster.terminate(node, Duration::from_secs(5));
                    match status {
                        Some(s) if s.success() => {}
                        other => {
                            detail = format!("SIGTERM exit: {other:?}");
                        }
                    }
                }
                Kind::Pause => {
                    if let Err(e) = self.cluster.pause(node) {
                        detail = e;
                    }
                }
                _ => unreachable!("not a process fault"),
            }
        }
        self.record(id, Phase::Start, kind.name(), &nodes, detail);
        let until = Instant::now() + self.hold();
        self.active.push(Active {
            id,
            kind,
            nodes,
            until,
            clean: None,
        });
        true
    }

    fn restart(&mut self, node: NodeId) -> String {
        if self
            .cluster
            .proc(node)
            .is_none_or(|p| p.state == State::Removed)
        {
            return format!("{node} was removed meanwhile");
        }
        if let Err(e) = self.cluster.spawn(node) {
            return e;
        }
        if !self.wait_serving(node, Duration::from_secs(20)) {
            return format!(
                "node {node} did not serve after restart:\n{}",
                self.cluster.log_tail(node, 20)
            );
        }
        self.apply_blocks(node);
        String::new()
    }

    // ---- Network faults ----------------------------------------------------------------

    fn start_network_fault(&mut self, kind: Kind) -> bool {
        let mut live = self.live();
        if live.len() < 2 {
            return false;
        }
        self.shuffle(&mut live);
        let goose = self
            .world
            .goose_hint()
            .filter(|g| live.contains(g))
            .unwrap_or(live[0]);
        let id = self.fault_id();
        let (nodes, detail, groups) = match kind {
            Kind::Partition | Kind::NetnsPartition => {
                let k = if live.len() >= 5 && self.rng.below(3) == 0 {
                    3
                } else {
                    2
                };
                let mut groups: Vec<Vec<NodeId>> = vec![Vec::new(); k];
                // Every group gets one node, the rest land at random.
                for (i, &node) in live.iter().enumerate() {
                    let g = if i < k {
                        i
                    } else {
                        self.rng.below(k as u64) as usize
                    };
                    groups[g].push(node);
                }
                for g in &mut groups {
                    g.sort_unstable();
                }
                (live.clone(), format!("{groups:?}"), Some(groups))
            }
            Kind::IsolateGoose | Kind::NetnsIsolate => {
                let rest: Vec<NodeId> = live.iter().copied().filter(|&n| n != goose).collect();
                let groups = vec![vec![goose], rest];
                (vec![goose], format!("{groups:?}"), Some(groups))
            }
            Kind::OneWay => {
                let (nodes, detail) = self.one_way_cuts(&live, goose);
                (nodes, detail, None)
            }
            _ => unreachable!("not a network fault"),
        };
        let mut complete = true;
        if kind.needs_netns() {
            let result = match (&self.cluster.net, kind, &groups) {
                (Some(net), Kind::NetnsIsolate, _) => net.isolate(goose),
                (Some(net), _, Some(groups)) => net.partition(groups),
                _ => Err("no network namespaces".into()),
            };
            if let Err(e) = result {
                self.world.rec.note(format!("netns fault failed: {e}"));
                return false;
            }
        } else {
            if let Some(groups) = &groups {
                for g in groups {
                    for &node in g {
                        let others: BTreeSet<NodeId> =
                            live.iter().copied().filter(|n| !g.contains(n)).collect();
                        self.blocks.insert(node, (others.clone(), others));
                    }
                }
            }
            for node in live.clone() {
                complete &= self.apply_blocks(node);
            }
        }
        self.record(id, Phase::Start, kind.name(), &nodes, detail);
        // Clean only if every member has it in force, nothing is paused or down, and the
        // membership is settled.
        let settled = {
            let view = self.world.view();
            let mut m = view.members.clone();
            m.sort_unstable();
            let mut l = live.clone();
            l.sort_unstable();
            m == l
        };
        let all_running = live.iter().all(|&n| {
            self.cluster
                .proc(n)
                .is_some_and(|p| p.state == State::Running)
        });
        let clean = (complete && settled && all_running)
            .then(|| groups.map(|g| (self.now(), g)))
            .flatten();
        let until = Instant::now() + self.hold();
        self.active.push(Active {
            id,
            kind,
            nodes,
            until,
            clean,
        });
        true
    }

    /// Random one-way cuts: the goose goes deaf (drops what arrives) or mute (sends
    /// nothing), or a few random directed links are cut.
    fn one_way_cuts(&mut self, live: &[NodeId], goose: NodeId) -> (Vec<NodeId>, String) {
        let others: BTreeSet<NodeId> = live.iter().copied().filter(|&n| n != goose).collect();
        match self.rng.below(3) {
            0 => {
                self.blocks.insert(goose, (others, BTreeSet::new()));
                (vec![goose], format!("goose {goose} deaf"))
            }
            1 => {
                self.blocks.insert(goose, (BTreeSet::new(), others));
                (vec![goose], format!("goose {goose} mute"))
            }
            _ => {
                let mut cuts = Vec::new();
                let n = 1 + self.rng.below(live.len() as u64 * 2) as usize;
                for _ in 0..n {
                    let from = self.pick(live).unwrap_or(goose);
                    let to = self.pick(live).unwrap_or(goose);
                    if from != to {
                        self.blocks.entry(from).or_default().1.insert(to);
                        cuts.push(format!("{from}->{to}"));
                    }
                }
                let mut nodes: Vec<NodeId> = self.blocks.keys().copied().collect();
                nodes.sort_unstable();
                (nodes, format!("cut {}", cuts.join(" ")))
            }
        }
    }

    /// Sends node `node` the blocked sets the nemesis wants it to have. `false` when the
    /// node did not confirm (down, paused).
    fn apply_blocks(&mut self, node: NodeId) -> bool {
        let Some(addr) = self.world.client_addr(node) else {
            return false;
        };
        if self
            .cluster
            .proc(node)
            .is_none_or(|p| p.state != State::Running)
        {
            return false;
        }
        let (inbound, outbound) = self.blocks.get(&node).cloned().unwrap_or_default();
        let reply = if inbound.is_empty() && outbound.is_empty() {
            self.rt.block_on(self.world.http.call(
                Method::DELETE,
                &addr,
                "/admin/partition",
                None,
                Duration::from_secs(1),
            ))
        } else {
            let body = serde_json::json!({ "block_in": inbound, "block_out": outbound });
            self.rt.block_on(self.world.http.call(
                Method::POST,
                &addr,
                "/admin/partition",
                Some(body.to_string()),
                Duration::from_secs(1),
            ))
        };
        match reply {
            Reply::Status { code: 200, .. } => true,
            Reply::Status { code, body, .. } => {
                self.world.rec.note(format!(
                    "UNEXPECTED partition answer from {node}: {code} {body}"
                ));
                false
            }
            _ => false,
        }
    }

    fn heal_network(&mut self, kind: Kind) -> String {
        if kind.needs_netns() {
            return match &self.cluster.net {
                Some(net) => net.heal().err().unwrap_or_default(),
                None => String::new(),
            };
        }
        self.blocks.clear();
        let mut missed = Vec::new();
        for node in self.live() {
            if !self.apply_blocks(node)
                && self
                    .cluster
                    .proc(node)
                    .is_some_and(|p| p.state == State::Running)
            {
                missed.push(node);
            }
        }
        if missed.is_empty() {
            String::new()
        } else {
            format!("heal not confirmed by {missed:?}")
        }
    }

    /// Ends the clean stretch of any active partition now (something else changed).
    fn close_clean_windows(&mut self) {
        let open: Vec<(u64, Vec<Vec<NodeId>>, Kind)> = self
            .active
            .iter_mut()
            .filter_map(|a| {
                a.clean
                    .take()
                    .map(|(start, groups)| (start, groups, a.kind))
            })
            .collect();
        for (start, groups, kind) in open {
            self.push_window(start, groups, kind);
        }
    }

    fn push_window(&mut self, start: u64, groups: Vec<Vec<NodeId>>, kind: Kind) {
        let members = self.live();
        let quorum = members.len() / 2 + 1;
        let minority: Vec<NodeId> = groups
            .iter()
            .filter(|g| g.len() < quorum)
            .flatten()
            .copied()
            .collect();
        self.clean_windows.push(CleanWindow {
            start,
            end: self.now(),
            members,
            minority,
            fault: kind.name().to_string(),
        });
    }

    fn end(&mut self, a: Active) {
        let detail = match a.kind.slot() {
            Slot::Process => {
                self.close_clean_windows();
                let mut problems = Vec::new();
                for &node in &a.nodes {
                    let p = if a.kind == Kind::Pause {
                        match self.cluster.resume(node) {
                            Ok(()) => {
                                self.apply_blocks(node);
                                String::new()
                            }
                            Err(e) => e,
                        }
                    } else {
                        self.restart(node)
                    };
                    if !p.is_empty() {
                        problems.push(p);
                    }
                }
                problems.join("; ")
            }
            Slot::Network => {
                if let Some((start, groups)) = a.clean.clone() {
                    self.push_window(start, groups, a.kind);
                }
                self.heal_network(a.kind)
            }
            Slot::Instant => String::new(),
        };
        self.record(a.id, Phase::End, a.kind.name(), &a.nodes, detail);
    }

    // ---- Instant actions ---------------------------------------------------------------

    /// An admin call to the goose (or any live node), following one redirect.
    fn admin(&self, method: Method, path: &str, body: Option<String>) -> (Option<u16>, String) {
        let running = self.running();
        let mut target = self
            .world
            .goose_hint()
            .filter(|g| running.contains(g))
            .or_else(|| running.first().copied());
        for _ in 0..3 {
            let Some(node) = target else {
                break;
            };
            let Some(addr) = self.world.client_addr(node) else {
                break;
            };
            let reply = self.rt.block_on(self.world.http.call(
                method.clone(),
                &addr,
                path,
                body.clone(),
                Duration::from_secs(4),
            ));
            match reply {
                Reply::Status {
                    code: 307,
                    location,
                    ..
                } => {
                    target = location
                        .as_deref()
                        .and_then(location_addr)
                        .and_then(|a| self.world.view().by_addr.get(a).copied());
                }
                Reply::Status { code, body, .. } => {
                    return (Some(code), format!("{code} {}", body.trim()));
                }
                Reply::Unreached(e) | Reply::Lost(e) => return (None, e),
            }
        }
        (None, "no goose to ask".into())
    }

    fn instant(&mut self, kind: Kind) -> bool {
        let live = self.live();
        let id = self.fault_id();
        match kind {
            Kind::Transfer => {
                let goose = self.world.goose_hint();
                let targets: Vec<NodeId> = live
                    .iter()
                    .copied()
                    .filter(|&n| Some(n) != goose && self.ever_member.contains(&n))
                    .collect();
                let Some(to) = self.pick(&targets) else {
                    return false;
                };
                let body = serde_json::json!({ "to": to }).to_string();
                let (_, detail) = self.admin(Method::POST, "/admin/transfer", Some(body));
                self.record(id, Phase::Instant, kind.name(), &[to], detail);
                true
            }
            Kind::Remove => {
                let members: Vec<NodeId> = live
                    .iter()
                    .copied()
                    .filter(|n| self.ever_member.contains(n))
                    .collect();
                if members.len() < 5 || members.len() != live.len() {
                    return false;
                }
                let victim = if self.rng.below(3) == 0 {
                    self.world.goose_hint().filter(|g| members.contains(g))
                } else {
                    None
                };
                let Some(victim) = victim.or_else(|| self.pick(&members)) else {
                    return false;
                };
                self.close_clean_windows();
                let (code, detail) =
                    self.admin(Method::DELETE, &format!("/admin/members/{victim}"), None);
                self.record(id, Phase::Instant, kind.name(), &[victim], detail);
                if code == Some(200) {
                    self.retire(victim);
                }
                true
            }
            Kind::Join => {
                if live.len() > 5 || self.next_node >= 250 {
                    return false;
                }
                let running: Vec<NodeId> = self
                    .running()
                    .into_iter()
                    .filter(|n| self.ever_member.contains(n))
                    .collect();
                let Some(via) = self.pick(&running) else {
                    return false;
                };
                let Some(via_addr) = self.cluster.proc(via).map(|p| p.peer_addr.clone()) else {
                    return false;
                };
                let node = self.next_node;
                self.next_node += 1;
                self.close_clean_windows();
                if let Err(e) = self.cluster.prepare_joiner(node, &via_addr) {
                    self.world
                        .rec
                        .note(format!("cannot prepare node {node}: {e}"));
                    return false;
                }
                let p = self.cluster.proc(node).expect("just prepared");
                let (client, peer) = (p.client_addr.clone(), p.peer_addr.clone());
                self.world.add_node(node, &client, &peer);
                let detail = match self.cluster.spawn(node) {
                    Ok(()) if self.wait_serving(node, Duration::from_secs(20)) => {
                        format!("via {via}")
                    }
                    Ok(()) => format!(
                        "via {via}; not serving:\n{}",
                        self.cluster.log_tail(node, 20)
                    ),
                    Err(e) => e,
                };
                self.spawn_goose_checker(node);
                self.record(id, Phase::Instant, kind.name(), &[node], detail);
                true
            }
            _ => unreachable!("not an instant action"),
        }
    }

    /// A node whose removal committed: stop it (as an operator would) and stop watching.
    fn retire(&mut self, node: NodeId) {
        self.cluster.terminate(node, Duration::from_secs(3));
        self.cluster.mark_removed(node);
        self.blocks.remove(&node);
        if let Some(n) = self.world.view_mut().nodes.get_mut(&node) {
            n.observed = false;
        }
    }

    /// Removals whose answer was lost still commit: retire nodes the goose has left out
    /// of the membership for a while.
    fn reconcile_membership(&mut self) {
        let members = self.world.view().members.clone();
        if members.is_empty() {
            return;
        }
        self.ever_member.extend(members.iter().copied());
        let now = Instant::now();
        for node in self.live() {
            if !self.ever_member.contains(&node) || members.contains(&node) {
                self.missing_since.remove(&node);
                continue;
            }
            let since = *self.missing_since.entry(node).or_insert(now);
            if now.duration_since(since) > Duration::from_secs(3) {
                self.missing_since.remove(&node);
                let id = self.fault_id();
                self.record(
                    id,
                    Phase::Instant,
                    "retire",
                    &[node],
                    "no longer a member".into(),
                );
                self.retire(node);
            }
        }
    }

    /// Nodes that exited without being asked: record, and start them again.
    fn reap(&mut self) {
        for (node, status) in self.cluster.reap() {
            let tail = self.cluster.log_tail(node, 30);
            let what = format!("node {node} exited by itself ({status}); log tail:\n{tail}");
            self.world.rec.note(format!("UNEXPECTED {what}"));
            self.unexpected_exits.push(what);
            if self
                .cluster
                .proc(node)
                .is_some_and(|p| p.state != State::Removed)
            {
                let _ = self.restart(node);
            }
        }
    }

    // ---- The end -------------------------------------------------------------------------

    /// Undoes every active fault and brings every member back up. Returns when each
    /// serves.
    pub fn heal_all(&mut self) -> Result<(), String> {
        let active = std::mem::take(&mut self.active);
        for a in active {
            self.end(a);
        }
        self.reap();
        for node in self.live() {
            match self.cluster.proc(node).map(|p| p.state) {
                Some(State::Paused) => {
                    let _ = self.cluster.resume(node);
                }
                Some(State::Down) => {
                    let problem = self.restart(node);
                    if !problem.is_empty() {
                        return Err(problem);
                    }
                }
                _ => {}
            }
        }
        self.blocks.clear();
        for node in self.live() {
            if !self.apply_blocks(node) {
                return Err(format!("node {node} did not confirm the heal"));
            }
        }
        if let Some(net) = &self.cluster.net {
            net.heal()?;
        }
        Ok(())
    }

    /// Kills every member at once and starts them all again on their data.
    pub fn restart_all(&mut self) -> Result<(), String> {
        let live = self.live();
        let id = self.fault_id();
        self.record(id, Phase::Start, "restart-all", &live, String::new());
        for &node in &live {
            self.cluster.kill9(node);
        }
        for &node in &live {
            self.cluster.spawn(node)?;
        }
        for &node in &live {
            if !self.wait_serving(node, Duration::from_secs(30)) {
                return Err(format!(
                    "node {node} did not serve after the full restart:\n{}",
                    self.cluster.log_tail(node, 30)
                ));
            }
        }
        self.record(id, Phase::End, "restart-all", &live, String::new());
        Ok(())
    }

    pub fn live_nodes(&self) -> Vec<NodeId> {
        self.live()
    }
}
