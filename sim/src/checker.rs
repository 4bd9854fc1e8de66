//! Invariants checked on every simulation step, from the outside: the checker sees only
//! what nodes emit, store and answer, and what the network carried, never the core's
//! private reasoning, so a bug in that reasoning cannot hide itself.
//!
//! - Election safety: at most one leader per term.
//! - Log matching: an (index, term) pair determines the entry and its predecessor's term.
//! - Leader completeness: a new leader's log holds every committed entry.
//! - State machine safety: every node applies the same entry at each index, and every
//!   snapshot (taken or installed) is the state of applying exactly the committed prefix
//!   it claims: its term, membership and key-value state match the checker's own replay.
//! - Leader completeness counts an entry below a leader's snapshot as held iff that
//!   snapshot is of the committed prefix (its term matches the committed entry there).
//! - No committed entry lost: every disk is a snapshot plus a gapless log tail, and
//!   enough members' disks hold the latest committed entry (see `on_disks`).
//! - Goose: at most one node answers goose per term; a goose answer is backed by
//!   acknowledgements a quorum sent after the query was asked; it is never older than a
//!   leader elected before the query; goose answers respect real-time order.
//! - Shown goose (the lease): at most one node at any instant, never behind a newer leader.
//!   Judged in virtual time while each node judges its lease by its own clock: the one
//!   invariant that rests on clocks (running at the same rate), so the one that a node
//!   whose clock drifts (`Action::ClockRate`) can break. The goose *answers* above rest
//!   on quorum rounds only and hold whatever the clocks do.
//!
//! Times here are sequence numbers of simulation events, so "before" is exact.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::clock::{Clock, rate_text};
use crate::stable_hash::StableHasher;
use duckgoose_core::entry::{Command, Entry};
use duckgoose_core::kv::Kv;
use duckgoose_core::raft::{Persisted, Raft};
use duckgoose_core::snapshot::Snapshot;
use duckgoose_core::types::{Index, Map, Membership, Millis, NodeId, Term};

/// Every property the checker verifies after each step: the one list the page, the
/// tools and the tests read (nobody keeps a copy of the names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum Invariant {
    BoundedTraffic,
    ElectionSafety,
    LogMatching,
    LeaderCompleteness,
    StateMachineSafety,
    OneGoosePerTerm,
    GooseNeedsAQuorum,
    NoStaleGoose,
    LinearizableGoose,
    OneGooseAtATime,
    NoMinorityGoose,
    NoCommittedEntryLost,
}

impl Invariant {
    pub const ALL: [Invariant; 12] = [
        Invariant::BoundedTraffic,
        Invariant::ElectionSafety,
        Invariant::LogMatching,
        Invariant::LeaderCompleteness,
        Invariant::StateMachineSafety,
        Invariant::OneGoosePerTerm,
        Invariant::GooseNeedsAQuorum,
        Invariant::NoStaleGoose,
        Invariant::LinearizableGoose,
        Invariant::OneGooseAtATime,
        Invariant::NoMinorityGoose,
        Invariant::NoCommittedEntryLost,
    ];

    /// The name people read (and the trace hashes).
    pub fn name(self) -> &'static str {
        match self {
            Invariant::BoundedTraffic => "bounded traffic",
            Invariant::ElectionSafety => "election safety",
            Invariant::LogMatching => "log matching",
            Invariant::LeaderCompleteness => "leader completeness",
            Invariant::StateMachineSafety => "state machine safety",
            Invariant::OneGoosePerTerm => "one goose per term",
            Invariant::GooseNeedsAQuorum => "goose needs a quorum",
            Invariant::NoStaleGoose => "no stale goose",
            Invariant::LinearizableGoose => "linearizable goose",
            Invariant::OneGooseAtATime => "one goose at a time",
            Invariant::NoMinorityGoose => "no minority goose",
            Invariant::NoCommittedEntryLost => "no committed entry lost",
        }
    }

    /// What it promises, in a few words.
    pub fn description(self) -> &'static str {
        match self {
            Invariant::BoundedTraffic => "never more than 2^18 messages in flight",
            Invariant::ElectionSafety => "at most one leader per term",
            Invariant::LogMatching => "same index and term, same entry",
            Invariant::LeaderCompleteness => "new leaders hold every committed entry",
            Invariant::StateMachineSafety => {
                "every node applies the same entries; snapshots hold their prefix's state"
            }
            Invariant::OneGoosePerTerm => "at most one node answers goose in a term",
            Invariant::GooseNeedsAQuorum => "goose answers are backed by a quorum",
            Invariant::NoStaleGoose => "no goose answer behind a newer leader",
            Invariant::LinearizableGoose => "goose answers respect real time",
            Invariant::OneGooseAtATime => "at most one node shows goose",
            Invariant::NoMinorityGoose => "a goose is never cut off from its quorum",
            Invariant::NoCommittedEntryLost => {
                "disks keep every committed entry (in a snapshot or the log)"
            }
        }
    }
}

impl core::fmt::Display for Invariant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Violation {
    pub invariant: Invariant,
    pub detail: String,
}

/// A global, monotonically increasing position in the simulation.
pub type Seq = u64;

/// `Clone + Eq + Hash` so that the model checker (`modelcheck/`) can carry it in each
/// state as the history the properties need.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Checker {
    leaders: Map<Term, (NodeId, Seq)>,
    entries: Map<(Index, Term), (Term, u64)>,
    /// The committed log as applied anywhere: (term, command hash) per index.
    committed: Vec<(Term, u64)>,
    /// Per index, the term of the node that applied it first: the term it was committed
    /// in (the leader that commits an entry applies it in the same step, before anyone
    /// else can learn of the commit).
    committed_in: Vec<Term>,
    goose_by_term: Map<Term, NodeId>,
    /// Highest term among goose answers already delivered.
    max_goose_term_answered: Term,
    /// Latest send position of an AppendReply from `peer` to `leader` in `term` that arrived.
    acks: Map<(NodeId, Term, NodeId), Seq>,
    /// A message storm was reported.
    storm: bool,
    /// The key-value store after applying the committed log, the checker's own replay:
    /// what a snapshot of an index must equal.
    reference: Kv,
    /// Per index, `state_hash` of `reference` after applying through it.
    state_hashes: Vec<u64>,
    /// Committed membership entries, by index: what a snapshot must carry.
    configs: Vec<(Index, Membership)>,
    /// A lost committed entry was reported (once: it stays lost on every later step).
    loss_reported: bool,
    /// At the last step, two nodes showed as goose, and a goose showed behind a newer
    /// leader: an overlap lasts many steps, and is reported once, when it starts.
    two_geese_shown: bool,
    goose_shown_behind: bool,
    violations: Vec<Violation>,
}

fn command_hash(command: &Command) -> u64 {
    StableHasher::hash_of(command)
}

/// One key's contribution to `state_hash`.
fn pair_hash(key: &str, value: &str) -> u64 {
    StableHasher::hash_of(&(key, value))
}

/// A hash of a store's key-value pairs (not its applied index), summed so that
/// applying one write updates it in constant time.
pub fn state_hash(kv: &Kv) -> u64 {
    kv.iter()
        .fold(0u64, |sum, (k, v)| sum.wrapping_add(pair_hash(k, v)))
}

impl Checker {
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    pub fn committed_len(&self) -> Index {
        self.committed.len() as Index
    }

    /// Replaces every position the checker holds by `renumber(position)`. The checker
    /// only compares positions with each other and with later ones, so a renumbering
    /// that keeps their order (and keeps them below what comes next) changes no verdict:
    /// the model checker uses it to fold states that differ only in positions.
    pub fn renumber(&mut self, mut renumber: impl FnMut(Seq) -> Seq) {
        for (_, (_, at)) in self.leaders.iter_mut() {
            *at = renumber(*at);
        }
        for (_, sent) in self.acks.iter_mut() {
            *sent = renumber(*sent);
        }
    }

    /// Every position the checker holds (see `renumber`).
    pub fn positions(&self) -> impl Iterator<Item = Seq> + '_ {
        let elected = self.leaders.values().map(|&(_, at)| at);
        elected.chain(self.acks.values().copied())
    }

    fn fail(&mut self, invariant: Invariant, detail: String) {
        self.violations.push(Violation { invariant, detail });
    }

    /// Whether `in_flight` messages on the wire is within what a healthy cluster keeps:
    /// nine nodes with a minute of latency (the playground's limits), heartbeats, replies
    /// and elections every few hundred milliseconds, stay under 50 000. Beyond the bound
    /// is a message storm (replies prompting sends without end), reported once; the
    /// simulator then drops what is sent, so the run ends with the violation instead of
    /// filling memory.
    pub fn traffic_ok(&mut self, in_flight: usize) -> bool {
        const MAX_IN_FLIGHT: usize = 1 << 18;
        if in_flight < MAX_IN_FLIGHT {
            return true;
        }
        if !self.storm {
            self.storm = true;
            self.fail(
                Invariant::BoundedTraffic,
                format!("{in_flight} messages in flight: a message storm"),
            );
        }
        false
    }

    /// `node` became leader of `term` with this log.
    pub fn on_leader_elected(&mut self, node: &Raft, at: Seq) {
        let (id, term) = (node.id(), node.term());
        if let Some(&(other, _)) = self.leaders.get(&term) {
            if other != id {
                self.fail(
                    Invariant::ElectionSafety,
                    format!("{other} and {id} both leaders of term {term}"),
                );
            }
            return;
        }
        self.leaders.insert(term, (id, at));
        // Entries through the leader's snapshot are held iff the snapshot is of the
        // committed prefix (its content was checked when it was taken or installed).
        let (snapshot_index, snapshot_term) = node.log().snapshot_position();
        let snapshot_is_committed_prefix = snapshot_index == 0
            || self
                .committed
                .get(snapshot_index as usize - 1)
                .is_some_and(|&(t, _)| t == snapshot_term);
        for (i, &(committed_term, hash)) in self.committed.iter().enumerate() {
            let index = i as Index + 1;
            // Leader completeness binds leaders of later terms only: a candidate of an
            // older term may still win late (a delayed vote) and needs none of it.
            if self.committed_in[i] >= term {
                continue;
            }
            let held = if index <= snapshot_index {
                snapshot_is_committed_prefix
            } else {
                node.log()
                    .get(index)
                    .map(|e| (e.term, command_hash(&e.command)))
                    == Some((committed_term, hash))
            };
            if !held {
                self.fail(
                    Invariant::LeaderCompleteness,
                    format!(
                        "leader {id} of term {term} lacks committed entry {index}@{committed_term}"
                    ),
                );
                return;
            }
        }
    }

    /// `node` wrote these entries to its log (after the write).
    pub fn on_entries_written(&mut self, node: &Raft, entries: &[Entry]) {
        for entry in entries {
            let prev_term = node.log().term_at(entry.index - 1).unwrap_or(0);
            let value = (prev_term, command_hash(&entry.command));
            match self.entries.get(&(entry.index, entry.term)) {
                None => {
                    self.entries.insert((entry.index, entry.term), value);
                }
                Some(&seen) if seen == value => {}
                Some(_) => self.fail(
                    Invariant::LogMatching,
                    format!(
                        "node {} holds {}@{} differing from another log's entry at the same index and term",
                        node.id(),
                        entry.index,
                        entry.term
                    ),
                ),
            }
        }
    }

    /// `node` applied these entries to its state machine, in order.
    pub fn on_applied(&mut self, raft: &Raft, entries: &[Entry]) {
        let (node, node_term) = (raft.id(), raft.term());
        for entry in entries {
            let value = (entry.term, command_hash(&entry.command));
            let position = (entry.index - 1) as usize;
            match self.committed.get(position) {
                Some(&seen) if seen == value => {}
                Some(&(term, _)) => self.fail(
                    Invariant::StateMachineSafety,
                    format!(
                        "node {node} applied {}@{} where another node applied {}@{term}",
                        entry.index, entry.term, entry.index
                    ),
                ),
                None if position == self.committed.len() => {
                    self.committed.push(value);
                    self.committed_in.push(node_term);
                    self.replay(entry);
                }
                None => self.fail(
                    Invariant::StateMachineSafety,
                    format!(
                        "node {node} applied {} before {}",
                        entry.index,
                        self.committed.len() + 1
                    ),
                ),
            }
        }
    }

    /// Applies the next committed entry to the checker's own store.
    fn replay(&mut self, entry: &Entry) {
        let key = match &entry.command {
            Command::App(op) => Some(op.key()),
            Command::Noop => None,
            Command::Config(membership) => {
                self.configs.push((entry.index, membership.clone()));
                None
            }
        };
        let pair = |kv: &Kv| key.and_then(|k| kv.get(k).map(|v| pair_hash(k, v)));
        let before = pair(&self.reference).unwrap_or(0);
        self.reference.apply(entry);
        let after = pair(&self.reference).unwrap_or(0);
        let previous = self.state_hashes.last().copied().unwrap_or(0);
        self.state_hashes
            .push(previous.wrapping_sub(before).wrapping_add(after));
        debug_assert_eq!(
            self.state_hashes.last().copied(),
            Some(state_hash(&self.reference)),
            "the running state hash is the hash of the replayed store"
        );
    }

    /// `node` persisted this snapshot (its own compaction, or one installed from a
    /// leader): it must be the state of applying exactly the committed entries through
    /// its index, with that entry's term and the membership in force there.
    pub fn on_snapshot(&mut self, node: NodeId, snapshot: &Snapshot) {
        if let Err(why) = self.snapshot_matches_committed_prefix(snapshot) {
            self.fail(
                Invariant::StateMachineSafety,
                format!(
                    "node {node}'s snapshot through {}@{} {why}",
                    snapshot.index, snapshot.term
                ),
            );
        }
    }

    fn snapshot_matches_committed_prefix(&self, snapshot: &Snapshot) -> Result<(), String> {
        let index = snapshot.index;
        let committed = self.committed.len();
        let Some(&(term, _)) = index
            .checked_sub(1)
            .and_then(|i| self.committed.get(i as usize))
        else {
            return Err(format!("claims entries past the committed {committed}"));
        };
        if snapshot.term != term {
            return Err(format!("has the wrong term: entry {index} has term {term}"));
        }
        let in_force = self
            .configs
            .iter()
            .rev()
            .find(|(at, _)| *at <= index)
            .map(|(_, m)| m);
        if in_force != Some(&snapshot.membership) {
            return Err(format!(
                "carries membership {:?}, but {in_force:?} is in force there",
                snapshot.membership
            ));
        }
        let kv =
            Kv::decode(&snapshot.data).map_err(|e| format!("holds no key-value state ({e:?})"))?;
        if kv.applied_index() != index {
            return Err(format!("holds the state of index {}", kv.applied_index()));
        }
        let expected = self.state_hashes[index as usize - 1];
        if state_hash(&kv) != expected {
            return Err(format!(
                "holds a state that is not the committed entries 1..={index} applied"
            ));
        }
        Ok(())
    }

    /// Called after every step that wrote a disk, added or removed a node, or committed
    /// more (nothing else can change the verdict), with what every node has on disk
    /// (crashed ones too) and the newest committed membership. Every disk must be a snapshot plus a gapless log
    /// tail (a restart starts from exactly that), and the latest committed entry must be
    /// on the disks of at least a quorum of `members` less one: it was committed on a
    /// quorum of a membership at most one change from `members`, which keeps at least
    /// that many of them.
    pub fn on_disks<'a>(
        &mut self,
        members: &Membership,
        disks: impl Iterator<Item = (NodeId, &'a Persisted)>,
    ) {
        if self.loss_reported {
            return;
        }
        let last = self.committed.len() as Index;
        let last_term = self.committed.last().map(|&(t, _)| t);
        let mut holders = 0;
        for (node, disk) in disks {
            let snapshot_index = disk.snapshot.as_ref().map_or(0, |s| s.index);
            if let (Some(first), Some(tail_end)) = (disk.log.first(), disk.log.last()) {
                let contiguous = tail_end.index - first.index + 1 == disk.log.len() as Index;
                if first.index > snapshot_index + 1 || !contiguous {
                    self.loss_reported = true;
                    self.fail(
                        Invariant::NoCommittedEntryLost,
                        format!(
                            "node {node}'s disk has a gap: snapshot through {snapshot_index}, log {}..={} in {} entries",
                            first.index,
                            tail_end.index,
                            disk.log.len()
                        ),
                    );
                    return;
                }
            }
            if last == 0 || !members.contains(node) {
                continue;
            }
            let in_snapshot = disk.snapshot.as_ref().is_some_and(|s| {
                s.index >= last
                    && self
                        .committed
                        .get(s.index as usize - 1)
                        .is_some_and(|&(t, _)| t == s.term)
            });
            let in_log = disk
                .log
                .first()
                .filter(|first| first.index <= last)
                .and_then(|first| disk.log.get((last - first.index) as usize))
                .is_some_and(|e| e.index == last && Some(e.term) == last_term);
            holders += usize::from(in_snapshot || in_log);
        }
        let needed = members.quorum().saturating_sub(1).max(1);
        if last > 0 && holders < needed {
            self.loss_reported = true;
            self.fail(
                Invariant::NoCommittedEntryLost,
                format!(
                    "committed entry {last} is on {holders} disks of members {:?}, fewer than {needed}",
                    members
                ),
            );
        }
    }

    /// An AppendReply from `peer` to `leader` in `term`, sent at `sent`, arrived.
    pub fn on_ack_delivered(&mut self, leader: NodeId, term: Term, peer: NodeId, sent: Seq) {
        let latest = self.acks.entry((leader, term, peer)).or_insert(sent);
        *latest = (*latest).max(sent);
    }

    /// The highest goose term answered so far: a query asked now must not be answered
    /// goose with a lower term (real-time order of goose answers).
    pub fn goose_floor(&self) -> Term {
        self.max_goose_term_answered
    }

    /// `node` answered goose for `term` to `question`.
    pub fn on_goose_answer(&mut self, node: &Raft, term: Term, question: &GooseQuestion) {
        let GooseQuestion {
            asked,
            floor,
            config_at_ask,
        } = *question;
        let id = node.id();
        match self.goose_by_term.get(&term) {
            Some(&other) if other != id => self.fail(
                Invariant::OneGoosePerTerm,
                format!("{other} and {id} both answered goose in term {term}"),
            ),
            _ => {
                self.goose_by_term.insert(term, id);
            }
        }
        if term < floor {
            self.fail(
                Invariant::LinearizableGoose,
                format!(
                    "{id} answered goose for term {term} after a goose of term {floor} had answered"
                ),
            );
        }
        let (Ok(first_newer) | Err(first_newer)) = self.leaders.find_index(&(term + 1));
        if let Some(&(newer, (leader, _))) = self.leaders.as_slice()[first_newer..]
            .iter()
            .find(|(_, (_, at))| *at < asked)
        {
            self.fail(
                Invariant::NoStaleGoose,
                format!("{id} answered goose for term {term}, but {leader} was elected in term {newer} before the question"),
            );
        }
        let acked = |membership: &Membership| {
            membership
                .ids()
                .filter(|&p| {
                    p == id
                        || self
                            .acks
                            .get(&(id, term, p))
                            .is_some_and(|&sent| sent > asked)
                })
                .count()
        };
        let membership = node.membership();
        let latest_config = node.log().latest_config().map_or(0, |(index, _)| index);
        // The quorum that confirmed the answer is one of the membership in force when it
        // was confirmed: the latest, or, if the latest was appended after the question
        // (say in the same batch, before the answer was released), the one before it.
        let previous_quorum = latest_config > config_at_ask
            && node
                .log()
                .previous_config()
                .is_some_and(|previous| acked(previous) >= previous.quorum());
        if acked(membership) < membership.quorum() && !previous_quorum {
            self.fail(
                Invariant::GooseNeedsAQuorum,
                format!(
                    "{id} answered goose in term {term} with {} of {} members acknowledging after the question",
                    acked(membership),
                    membership.len()
                ),
            );
        }
        self.max_goose_term_answered = self.max_goose_term_answered.max(term);
    }

    /// Called after every step with every live node and its clock: at most one node shows
    /// itself as the goose at virtual time `now` (the run's one true time, not the nodes'
    /// own clocks), and no node is leader of a newer term than the one that does. Each
    /// node decides whether it shows by its own clock (`Raft::shows_goose_at` of what its
    /// clock reads now), so with clocks drifting apart further than the lease assumes,
    /// two can show at once: this is where that is caught, with both clocks named.
    pub fn on_step<'a>(&mut self, now: Millis, nodes: impl Iterator<Item = (&'a Raft, Clock)>) {
        let mut shown: Option<(NodeId, Term, u32)> = None;
        let mut overlap = false;
        let mut newest_leader: Option<(NodeId, Term)> = None;
        for (node, clock) in nodes {
            if node.is_leader() && newest_leader.is_none_or(|(_, t)| node.term() > t) {
                newest_leader = Some((node.id(), node.term()));
            }
            // `shows_goose_at(clock.read(now))`, reading the clock only for a node that
            // holds a lease (a leader): this runs for every node after every step.
            if node
                .goose_lease_until()
                .is_some_and(|until| clock.read(now) < until)
            {
                let (id, term) = (node.id(), node.term());
                if let Some((other, other_term, other_rate)) = shown
                    && !core::mem::replace(&mut overlap, true)
                    && !self.two_geese_shown
                {
                    let drift = if other_rate == clock.rate {
                        ""
                    } else {
                        ": their clocks run at different rates, and the lease assumes the same"
                    };
                    self.fail(
                        Invariant::OneGooseAtATime,
                        format!(
                            "{other} (term {other_term}, clock at {}x) and {id} (term {term}, clock at {}x) both show as goose at {now} ms{drift}",
                            rate_text(other_rate),
                            rate_text(clock.rate)
                        ),
                    );
                }
                shown = Some((id, term, clock.rate));
            }
        }
        self.two_geese_shown = overlap;
        let behind = matches!((shown, newest_leader), (Some((_, goose_term, _)), Some((_, leader_term))) if leader_term > goose_term);
        let reported = core::mem::replace(&mut self.goose_shown_behind, behind);
        if let (Some((goose, goose_term, _)), Some((leader, leader_term))) = (shown, newest_leader)
            && behind
            && !reported
        {
            self.fail(
                Invariant::NoMinorityGoose,
                format!("{goose} shows as goose of term {goose_term} while {leader} leads term {leader_term}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use duckgoose_core::config::Config;
    use duckgoose_core::kv::Op;

    fn put(index: Index, key: &str, value: &str) -> Entry {
        Entry {
            index,
            term: 1,
            command: Command::App(Op::Put {
                key: key.to_string(),
                value: value.to_string(),
            }),
        }
    }

    /// A checker that saw entries 1..=4 committed: the founding membership of node 1,
    /// then a=1, a=2, b=3 (all in term 1). Returns it with the entries.
    fn checker_with_four_committed() -> (Checker, Vec<Entry>) {
        let membership = Membership::from_ids([1]);
        let raft = Raft::new(
            Config::new(1, 7),
            Persisted::bootstrap(membership.clone()),
            0,
        )
        .expect("valid");
        let entries = vec![
            Entry {
                index: 1,
                term: 0,
                command: Command::Config(membership),
            },
            put(2, "a", "1"),
            put(3, "a", "2"),
            put(4, "b", "3"),
        ];
        let mut checker = Checker::default();
        checker.on_applied(&raft, &entries);
        assert!(checker.violations().is_empty());
        (checker, entries)
    }

    /// The snapshot a correct node would take through `through`.
    fn snapshot_of(entries: &[Entry], through: Index) -> Snapshot {
        let mut kv = Kv::default();
        for entry in &entries[..through as usize] {
            kv.apply(entry);
        }
        Snapshot {
            index: through,
            term: entries[through as usize - 1].term,
            membership: Membership::from_ids([1]),
            data: kv.encode(),
        }
    }

    #[test]
    fn a_snapshot_of_the_committed_prefix_passes() {
        let (mut checker, entries) = checker_with_four_committed();
        for through in 1..=4 {
            checker.on_snapshot(1, &snapshot_of(&entries, through));
        }
        assert_eq!(checker.violations(), &[]);
    }

    #[test]
    fn a_snapshot_with_another_index_state_is_caught() {
        let (mut checker, entries) = checker_with_four_committed();
        // The state after entry 2 (a=1), labelled as the state through 3 (a=2): apply
        // 1..=2, then entry 3 as a no-op, so the store claims index 3 with the wrong map.
        let mut kv = Kv::default();
        kv.apply(&entries[0]);
        kv.apply(&entries[1]);
        kv.apply(&Entry {
            index: 3,
            term: 1,
            command: Command::Noop,
        });
        let wrong = Snapshot {
            data: kv.encode(),
            ..snapshot_of(&entries, 3)
        };
        checker.on_snapshot(2, &wrong);
        assert_eq!(checker.violations().len(), 1, "{:?}", checker.violations());
        let v = &checker.violations()[0];
        assert_eq!(v.invariant, Invariant::StateMachineSafety);
        assert!(
            v.detail.contains("not the committed entries 1..=3"),
            "{}",
            v.detail
        );
    }

    #[test]
    fn inconsistent_snapshots_are_caught_with_a_reason() {
        let (mut checker, entries) = checker_with_four_committed();
        let good = snapshot_of(&entries, 3);
        let cases = [
            (
                Snapshot {
                    term: 2,
                    ..good.clone()
                },
                "wrong term",
            ),
            (
                Snapshot {
                    index: 4,
                    ..good.clone()
                },
                "state of index 3",
            ),
            (
                Snapshot {
                    index: 5,
                    ..good.clone()
                },
                "past the committed 4",
            ),
            (
                Snapshot {
                    membership: Membership::from_ids([1, 2]),
                    ..good.clone()
                },
                "in force there",
            ),
            (
                Snapshot {
                    data: vec![1, 2, 3],
                    ..good.clone()
                },
                "no key-value state",
            ),
        ];
        for (snapshot, why) in cases {
            let before = checker.violations().len();
            checker.on_snapshot(1, &snapshot);
            let new = &checker.violations()[before..];
            assert_eq!(new.len(), 1, "{why}: {new:?}");
            assert!(new[0].detail.contains(why), "{why}: {}", new[0].detail);
        }
    }

    #[test]
    fn a_disk_with_a_gap_or_a_lost_entry_is_caught() {
        let (mut checker, entries) = checker_with_four_committed();
        let members = Membership::from_ids([1, 2, 3]);
        let whole = Persisted {
            log: entries.clone(),
            ..Persisted::empty()
        };
        let compacted = Persisted {
            snapshot: Some(snapshot_of(&entries, 2)),
            log: entries[2..].to_vec(),
            ..Persisted::empty()
        };
        let empty = Persisted::empty();
        checker.on_disks(
            &members,
            [(1, &whole), (2, &compacted), (3, &empty)].into_iter(),
        );
        assert_eq!(checker.violations(), &[], "two of three hold entry 4");

        let gap = Persisted {
            snapshot: Some(snapshot_of(&entries, 1)),
            log: entries[2..].to_vec(),
            ..Persisted::empty()
        };
        let mut gapped = checker.clone();
        gapped.on_disks(&members, [(1, &whole), (2, &gap)].into_iter());
        assert_eq!(gapped.violations().len(), 1);
        assert!(gapped.violations()[0].detail.contains("gap"));

        // Entry 4 on none of the members' disks (a quorum of 3 less one is 1).
        let short = Persisted {
            log: entries[..3].to_vec(),
            ..Persisted::empty()
        };
        checker.on_disks(
            &members,
            [(1, &short), (2, &empty), (3, &short)].into_iter(),
        );
        assert_eq!(checker.violations().len(), 1);
        assert_eq!(
            checker.violations()[0].invariant,
            Invariant::NoCommittedEntryLost
        );
    }

    #[test]
    fn a_message_storm_is_reported_once_and_cut_off() {
        let mut checker = Checker::default();
        assert!(checker.traffic_ok(50_000), "busy, not a storm");
        assert!(checker.violations().is_empty());
        assert!(!checker.traffic_ok(1 << 18));
        assert!(!checker.traffic_ok((1 << 18) + 1));
        assert_eq!(checker.violations().len(), 1, "reported once");
        assert_eq!(checker.violations()[0].invariant, Invariant::BoundedTraffic);
    }
}

/// A goose query as the checker judges its answer.
#[derive(Clone, Copy, Debug)]
pub struct GooseQuestion {
    /// When it was asked.
    pub asked: Seq,
    /// The highest goose term answered before it was asked.
    pub floor: Term,
    /// The index of the asked node's membership in force when it was asked (0: none).
    pub config_at_ask: Index,
}
