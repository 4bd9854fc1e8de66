//! The model: a tiny cluster of real `Raft` nodes (the code the node and the page run),
//! a network that loses, reorders and (optionally) duplicates, crashes and restarts,
//! client writes and goose questions, and the simulator's `Checker` as the history the
//! properties are judged on. Each action is one input to one node (or one network
//! fault), followed by the driver's usual persist-then-advance loop.
//!
//! Time is abstract: a node's clock moves only when the model fires its next timer
//! (`Action::Timeout`), and the election timeout range is one millisecond wide, so every
//! random draw is 0. Clocks of different nodes move independently (any drift), which
//! covers every schedule the safety properties must survive.
//!
//! States are normalised before they are compared (`State::normalise`): every node's
//! clock is rebased to the same instant, and simulation positions are renumbered keeping
//! their order, so two runs that reach the same situation along different paths meet.

use std::panic::{self, AssertUnwindSafe};

use duckgoose_core::{
    Body, Command, Config, Event, Index, Member, Membership, MembershipChange, Message, Millis,
    NodeId, Op, Persisted, Raft, Role, Term, UnsafeVariant,
};
use duckgoose_sim::checker::{Checker, GooseQuestion, Invariant, Seq};

/// Every node's clock is rebased to this after each step.
const BASE: Millis = 100;
/// Longer than every window a node measures (election timeouts are 2 ms).
const HORIZON: Millis = 4;

/// What is explored: the cluster, the faults, and how much of each the adversary gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Node ids 1..=nodes.
    pub nodes: NodeId,
    /// The founding voters (the others start empty and may be added).
    pub voters: Vec<NodeId>,
    /// States with a node in a higher term are not expanded.
    pub max_term: Term,
    /// Timer firings, over all nodes.
    pub timeouts: u8,
    /// Client writes (one `put` each, proposed at a leader).
    pub writes: u8,
    /// Goose questions (asked of a leader: any other node answers duck at once).
    pub gooses: u8,
    pub crashes: u8,
    /// Membership changes proposed (add a non-voter, remove a voter other than the leader).
    pub changes: u8,
    /// Messages on the wire at once; a send beyond it is lost (loss is allowed anyway).
    pub max_in_flight: usize,
    /// The network may drop any message in flight.
    pub loss: bool,
    /// Delivering a message keeps it in flight: any message may arrive again, any number
    /// of times (until dropped).
    pub duplication: bool,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub max_entries_per_message: usize,
    /// A deliberately broken rule, switched on in every node.
    pub variant: Option<UnsafeVariant>,
}

impl Bounds {
    /// Three founding voters, two terms, one write, one goose question, no crash.
    pub fn small() -> Bounds {
        Bounds {
            nodes: 3,
            voters: vec![1, 2, 3],
            max_term: 2,
            timeouts: 4,
            writes: 1,
            gooses: 1,
            crashes: 0,
            changes: 0,
            max_in_flight: 4,
            loss: true,
            duplication: false,
            pre_vote: false,
            check_quorum: false,
            max_entries_per_message: 64,
            variant: None,
        }
    }

    pub fn config(&self, id: NodeId) -> Config {
        let mut config = Config::new(id, 0xD0C + id);
        config.heartbeat_interval = 1;
        config.election_timeout_min = 2;
        config.election_timeout_max = 3;
        config.goose_lease = 2;
        config.pre_vote = self.pre_vote;
        config.check_quorum = self.check_quorum;
        config.max_entries_per_message = self.max_entries_per_message;
        config.unsafe_variant = self.variant;
        config
    }

    fn budget(&self) -> Budget {
        Budget {
            timeouts: self.timeouts,
            writes: self.writes,
            gooses: self.gooses,
            crashes: self.crashes,
            changes: self.changes,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Budget {
    timeouts: u8,
    writes: u8,
    gooses: u8,
    crashes: u8,
    changes: u8,
}

/// One step of the adversary (or of the stable-network scheduler).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The node's next timer fires (election timeout, heartbeat, CheckQuorum, deadlines).
    Timeout(NodeId),
    /// This message arrives (and, under duplication, stays in flight).
    Deliver(Message),
    Drop(Message),
    /// A client write `put e{index} t{term}` at a leader (the scenario scripts' entry).
    Write(NodeId),
    /// "Goose?" asked of a leader, with this tag.
    Goose(NodeId, u64),
    Crash(NodeId),
    Restart(NodeId),
    Change(NodeId, MembershipChange),
}

/// A message on the wire. `sent` is the position it was sent at, kept for AppendReplies
/// only (the checker's "acknowledged after the question"); 0 for the others.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Flight {
    msg: Message,
    sent: Seq,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Node {
    disk: Persisted,
    /// `None` while crashed.
    raft: Option<Raft>,
}

/// A goose question waiting for its answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Question {
    node: NodeId,
    ctx: u64,
    asked: Seq,
    floor: Term,
    config_at_ask: Index,
}

/// A property that failed: the checker's invariant, or a core assertion that fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub property: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    nodes: Vec<Node>,
    net: Vec<Flight>,
    checker: Checker,
    questions: Vec<Question>,
    seq: Seq,
    left: Budget,
    next_ctx: u64,
    /// Goose answers given (for the liveness check).
    gooses_answered: u32,
    /// Set when a property failed; such a state is not expanded.
    failure: Option<(String, String)>,
}

impl State {
    pub fn initial(bounds: &Bounds) -> State {
        let membership = Membership::from_ids(bounds.voters.iter().copied());
        let mut state = State {
            nodes: Vec::new(),
            net: Vec::new(),
            checker: Checker::default(),
            questions: Vec::new(),
            seq: 0,
            left: bounds.budget(),
            next_ctx: 1,
            gooses_answered: 0,
            failure: None,
        };
        for id in 1..=bounds.nodes {
            let disk = if bounds.voters.contains(&id) {
                Persisted::bootstrap(membership.clone())
            } else {
                Persisted::empty()
            };
            let raft = Raft::new(bounds.config(id), disk.clone(), BASE).expect("valid config");
            state.nodes.push(Node {
                disk,
                raft: Some(raft),
            });
        }
        for id in 1..=bounds.nodes {
            state.after_input(id, bounds);
        }
        state.normalise();
        state
    }

    pub fn failure(&self) -> Option<Failure> {
        self.failure.as_ref().map(|(property, detail)| Failure {
            property: property.clone(),
            detail: detail.clone(),
        })
    }

    pub fn raft(&self, id: NodeId) -> Option<&Raft> {
        self.nodes[(id - 1) as usize].raft.as_ref()
    }

    fn raft_mut(&mut self, id: NodeId) -> Option<&mut Raft> {
        self.nodes[(id - 1) as usize].raft.as_mut()
    }

    fn ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        1..=self.nodes.len() as NodeId
    }

    pub fn gooses_answered(&self) -> u32 {
        self.gooses_answered
    }

    pub fn max_term(&self) -> Term {
        self.nodes
            .iter()
            .map(|n| n.raft.as_ref().map_or(n.disk.term, |r| r.term()))
            .max()
            .unwrap_or(0)
    }

    /// Whether this state is inside the bounds (states outside are not expanded).
    pub fn within(&self, bounds: &Bounds) -> bool {
        self.max_term() <= bounds.max_term
    }

    /// Every action the adversary may take here, in a fixed order.
    pub fn actions(&self, bounds: &Bounds, out: &mut Vec<Action>) {
        out.clear();
        if self.failure.is_some() || !self.within(bounds) {
            return;
        }
        for flight in &self.net {
            out.push(Action::Deliver(flight.msg.clone()));
        }
        if bounds.loss {
            for flight in &self.net {
                out.push(Action::Drop(flight.msg.clone()));
            }
        }
        for id in self.ids() {
            let Some(raft) = self.raft(id) else {
                out.push(Action::Restart(id));
                continue;
            };
            let leader = raft.is_leader();
            let may_time_out = leader || raft.membership().contains(id);
            if self.left.timeouts > 0 && may_time_out {
                out.push(Action::Timeout(id));
            }
            if leader && self.left.writes > 0 {
                out.push(Action::Write(id));
            }
            if leader && self.left.gooses > 0 {
                out.push(Action::Goose(id, self.next_ctx));
            }
            if self.left.crashes > 0 {
                out.push(Action::Crash(id));
            }
            if leader && self.left.changes > 0 {
                for other in self.ids().filter(|&o| o != id) {
                    let change = if raft.membership().contains(other) {
                        MembershipChange::Remove(other)
                    } else {
                        MembershipChange::Add(Member::new(other, ""))
                    };
                    out.push(Action::Change(id, change));
                }
            }
        }
    }

    /// Takes `action` (one of `actions()`), checks the properties, and normalises.
    pub fn step(&mut self, action: &Action, bounds: &Bounds) {
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.apply(action, bounds)));
        if let Err(payload) = result {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            self.failure = Some(("core assertion".into(), detail));
            return;
        }
        if let Some(v) = self.checker.violations().first() {
            self.failure = Some((v.invariant.name().into(), v.detail.clone()));
            return;
        }
        self.normalise();
    }

    fn apply(&mut self, action: &Action, bounds: &Bounds) {
        match action {
            Action::Timeout(id) => {
                self.left.timeouts -= 1;
                let raft = self.raft_mut(*id).expect("up");
                let at = raft.next_deadline().max(raft.now());
                raft.tick(at);
                self.after_input(*id, bounds);
            }
            Action::Deliver(msg) => {
                let i = self.flight(msg);
                let flight = if bounds.duplication {
                    self.net[i].clone()
                } else {
                    self.net.remove(i)
                };
                self.deliver(flight, bounds);
            }
            Action::Drop(msg) => {
                let i = self.flight(msg);
                self.net.remove(i);
            }
            Action::Write(id) => {
                self.left.writes -= 1;
                let raft = self.raft_mut(*id).expect("up");
                let (index, term) = (raft.log().last_index() + 1, raft.term());
                raft.propose(put(index, term)).expect("a leader accepts");
                self.after_input(*id, bounds);
            }
            Action::Goose(id, ctx) => {
                self.left.gooses -= 1;
                self.next_ctx += 1;
                self.seq += 1;
                let raft = self.raft(*id).expect("up");
                let config_at_ask = raft.log().latest_config().map_or(0, |(index, _)| index);
                self.questions.push(Question {
                    node: *id,
                    ctx: *ctx,
                    asked: self.seq,
                    floor: self.checker.goose_floor(),
                    config_at_ask,
                });
                self.raft_mut(*id)
                    .expect("up")
                    .confirm_leadership_batch([*ctx]);
                self.after_input(*id, bounds);
            }
            Action::Crash(id) => {
                self.left.crashes -= 1;
                self.nodes[(*id - 1) as usize].raft = None;
                // Questions asked of it are never answered.
                self.questions.retain(|q| q.node != *id);
            }
            Action::Restart(id) => {
                let node = &mut self.nodes[(*id - 1) as usize];
                let raft =
                    Raft::new(bounds.config(*id), node.disk.clone(), BASE).expect("valid config");
                node.raft = Some(raft);
                self.after_input(*id, bounds);
            }
            Action::Change(id, change) => {
                self.left.changes -= 1;
                // Refused (not ready, another change in flight): nothing happens.
                let _ = self
                    .raft_mut(*id)
                    .expect("up")
                    .propose_membership_change(change.clone());
                self.after_input(*id, bounds);
            }
        }
    }

    fn flight(&self, msg: &Message) -> usize {
        self.net
            .iter()
            .position(|f| f.msg == *msg)
            .expect("the action names a message in flight")
    }

    fn deliver(&mut self, flight: Flight, bounds: &Bounds) {
        let to = flight.msg.to;
        if self.raft(to).is_none() {
            return; // arrives at a crashed node: lost
        }
        if let Body::AppendReply { .. } = flight.msg.body {
            self.checker
                .on_ack_delivered(to, flight.msg.term, flight.msg.from, flight.sent);
        }
        self.raft_mut(to).expect("up").step(flight.msg);
        self.after_input(to, bounds);
    }

    /// The driver's loop after any input: persist, acknowledge, send, answer, check; the
    /// same steps and checker calls as the simulator's `Cluster::handle_ready`.
    fn after_input(&mut self, id: NodeId, bounds: &Bounds) {
        self.seq += 1;
        loop {
            let node = &mut self.nodes[(id - 1) as usize];
            let Some(raft) = node.raft.as_mut() else {
                return;
            };
            if !raft.has_ready() {
                return;
            }
            let mut ready = raft.ready();
            if let Some(hs) = ready.hard_state {
                node.disk.term = hs.term;
                node.disk.voted_for = hs.voted_for;
            }
            if let Some(write) = ready.log_write.take() {
                self.checker.on_entries_written(raft, &write.entries);
                node.disk.log.truncate((write.truncate_from - 1) as usize);
                node.disk.log.extend(write.entries);
            }
            let events = std::mem::take(&mut ready.events);
            let released = raft.advance(ready);
            for event in events {
                if let Event::RoleChanged {
                    role: Role::Leader, ..
                } = event
                {
                    self.checker.on_leader_elected(raft, self.seq);
                }
            }
            self.checker.on_applied(raft, &released.committed);
            let raft = self.nodes[(id - 1) as usize].raft.as_ref().expect("up");
            for read in &released.reads {
                let Some(i) = self.questions.iter().position(|q| q.ctx == read.ctx) else {
                    continue;
                };
                let q = self.questions.remove(i);
                if let Ok(confirmed) = read.result {
                    let question = GooseQuestion {
                        asked: q.asked,
                        floor: q.floor,
                        config_at_ask: q.config_at_ask,
                    };
                    self.checker
                        .on_goose_answer(raft, confirmed.term, &question);
                    self.gooses_answered += 1;
                }
            }
            for msg in released.messages {
                let sent = match msg.body {
                    Body::AppendReply { .. } => self.seq,
                    _ => 0,
                };
                let flight = Flight { msg, sent };
                if self.net.contains(&flight) {
                    continue; // the network is a set: a second copy adds nothing
                }
                if self.net.len() < bounds.max_in_flight {
                    self.net.push(flight);
                }
            }
        }
    }

    /// Folds equivalent states together: rebases every clock, renumbers positions
    /// (those below every pending question's become 0: only comparisons with a pending
    /// or a later question remain), and sorts the network.
    fn normalise(&mut self) {
        for node in &mut self.nodes {
            if let Some(raft) = &mut node.raft {
                raft.rebase_clock(BASE, HORIZON);
            }
        }
        let floor = self.questions.iter().map(|q| q.asked).min();
        let mut positions: Vec<Seq> = self.checker.positions().collect();
        positions.extend(self.questions.iter().map(|q| q.asked));
        positions.extend(self.net.iter().map(|f| f.sent));
        positions.retain(|&p| floor.is_some_and(|f| p >= f));
        positions.sort_unstable();
        positions.dedup();
        let renumber = |p: Seq| match positions.binary_search(&p) {
            Ok(rank) => rank as Seq + 1,
            Err(_) => 0,
        };
        self.checker.renumber(renumber);
        for q in &mut self.questions {
            q.asked = renumber(q.asked);
        }
        for f in &mut self.net {
            f.sent = renumber(f.sent);
        }
        self.seq = positions.len() as Seq;
        self.net.sort_by_cached_key(fingerprint);
        self.questions.sort_by_key(|q| q.ctx);
    }

    /// Whether a goose question may be asked of `id` in the stable phase.
    fn leader(&self) -> Option<NodeId> {
        self.ids()
            .filter(|&id| self.raft(id).is_some_and(|r| r.is_leader()))
            .max_by_key(|&id| self.raft(id).map(|r| r.term()))
    }

    /// Liveness under a stable network: from here, with every node restarted, nothing
    /// lost and clocks moving together, some leader answers goose within `steps` steps.
    /// Returns the steps taken, or the failure.
    pub fn goose_eventually(&self, bounds: &Bounds, steps: usize) -> Result<usize, Failure> {
        let mut s = self.clone();
        s.left = Budget {
            timeouts: u8::MAX,
            writes: 0,
            gooses: u8::MAX,
            crashes: 0,
            changes: 0,
        };
        let stable = Bounds {
            loss: false,
            duplication: false,
            max_in_flight: usize::MAX,
            ..bounds.clone()
        };
        let answered = s.gooses_answered;
        for taken in 0..steps {
            if std::env::var_os("MC_TRACE").is_some() {
                eprintln!("{taken}: {} net={}", s.summary(), s.net.len());
            }
            if let Some(f) = s.failure() {
                return Err(f);
            }
            if s.gooses_answered > answered {
                return Ok(taken);
            }
            let action = if let Some(down) = s.ids().find(|&id| s.raft(id).is_none()) {
                Action::Restart(down)
            } else if let Some(flight) = s.net.first() {
                Action::Deliver(flight.msg.clone())
            } else if let Some(leader) = s
                .leader()
                .filter(|_| s.questions.is_empty())
                .filter(|&l| s.raft(l).is_some_and(|r| r.commit_index() > 0))
            {
                Action::Goose(leader, s.next_ctx)
            } else {
                // Clocks move together, to the earliest deadline. Timeouts are drawn from
                // a range 1 ms wide here, so ties stand in for what randomness breaks: of
                // the nodes due together, the lowest id fires, the others stop 1 ms short.
                let until = |r: &Raft| r.next_deadline().saturating_sub(r.now());
                let rafts = s.ids().filter_map(|id| s.raft(id).map(|r| (id, until(r))));
                let (first, due) = rafts.min_by_key(|&(id, d)| (d, id)).expect("a node is up");
                for id in s.ids() {
                    let raft = s.raft_mut(id).expect("up");
                    let by = if id != first && until(raft) == due {
                        due.saturating_sub(1)
                    } else {
                        due
                    };
                    let at = raft.now() + by;
                    raft.tick(at);
                    s.after_input(id, &stable);
                }
                s.normalise();
                continue;
            };
            s.step(&action, &stable);
        }
        Err(Failure {
            property: "goose eventually".into(),
            detail: format!("no goose answer within {steps} steps of a stable network"),
        })
    }

    /// The current roles, for reports.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for id in self.ids() {
            match self.raft(id) {
                Some(r) => out.push_str(&format!(
                    "{id}:{:?}@t{} log={} commit={}  ",
                    r.role(),
                    r.term(),
                    r.log().last_index(),
                    r.commit_index()
                )),
                None => out.push_str(&format!("{id}:down  ")),
            }
        }
        out
    }
}

/// The client write at `index` in `term`: the command the scenario scripts' `entry`
/// helper builds, so a replayed `step ... entries=I@T` carries the same command.
fn put(index: Index, term: Term) -> Command {
    Command::App(Op::Put {
        key: format!("e{index}"),
        value: format!("t{term}"),
    })
}

pub fn fingerprint<T: std::hash::Hash>(value: &T) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(value)
}

/// The invariants a state is checked against (the checker's, less those about the shown
/// lease and traffic, which need real time).
pub const PROPERTIES: [Invariant; 8] = [
    Invariant::ElectionSafety,
    Invariant::LogMatching,
    Invariant::LeaderCompleteness,
    Invariant::StateMachineSafety,
    Invariant::OneGoosePerTerm,
    Invariant::GooseNeedsAQuorum,
    Invariant::NoStaleGoose,
    Invariant::LinearizableGoose,
];

impl State {
    /// Fingerprints of the parts of the state, for finding what keeps states apart.
    #[doc(hidden)]
    pub fn part_fingerprints(&self) -> Vec<u64> {
        let mut parts: Vec<u64> = self.nodes.iter().map(fingerprint).collect();
        parts.push(fingerprint(&self.net));
        parts.push(fingerprint(&self.checker));
        parts.push(fingerprint(&self.questions));
        parts.push(fingerprint(&(
            self.seq,
            self.left,
            self.next_ctx,
            self.gooses_answered,
        )));
        parts
    }

    #[doc(hidden)]
    pub fn debug_node(&self, id: NodeId) -> String {
        format!(
            "{:#?}",
            self.nodes[(id - 1) as usize].raft.as_ref().map(|r| (
                r,
                r.log(),
                r.votes(),
                r.election_timer(),
                r.now()
            ))
        )
    }
}
