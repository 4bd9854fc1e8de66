//! The goose query: "can you commit now?" answered the ReadIndex way (thesis §6.4).
//!
//! A leader answers *goose* only when (1) it has committed an entry of its own term and
//! (2) a quorum acknowledged a heartbeat round that started after the query arrived. Every
//! acknowledging follower was in our term when it replied, so no newer leader could have
//! existed when that round started: the answer is linearizable. Queries that arrive
//! together share one round, and so do queries that arrive while a round is in flight
//! (they wait for the next). Everyone else answers *duck* at once.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::leader::Leading;
use super::{Raft, RoleState};
use crate::config::UnsafeVariant;
use crate::message::Round;
use crate::quorum::quorum_value;
use crate::types::{Index, Millis, NodeId, Term};

/// A confirmed query: this node was the goose of `term`, and `index` was committed, at
/// some moment between the query's arrival and this answer. A linearizable read may be
/// served once entries through `index` are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Confirmed {
    pub term: Term,
    pub index: Index,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum DuckReason {
    /// Not the leader; `leader` is who we believe is.
    NotLeader { leader: Option<NodeId> },
    /// Handing leadership over: not the goose until the transfer ends.
    Transferring { to: NodeId },
    /// No quorum acknowledged a round in time: perhaps cut off from the majority.
    Unconfirmed,
    /// Stopped being leader while the query waited.
    SteppedDown,
}

impl fmt::Display for DuckReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DuckReason::NotLeader { leader: Some(l) } => write!(f, "not the leader ({l} is)"),
            DuckReason::NotLeader { leader: None } => write!(f, "not the leader (none known)"),
            DuckReason::Transferring { to } => write!(f, "handing leadership to {to}"),
            DuckReason::Unconfirmed => write!(f, "no quorum confirmed leadership in time"),
            DuckReason::SteppedDown => write!(f, "stepped down while confirming"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct ReadOutcome {
    /// The driver's tag for the query.
    pub ctx: u64,
    pub result: Result<Confirmed, DuckReason>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PendingQuery {
    ctx: u64,
    /// Commit index when the query (effectively) arrived.
    index: Index,
    /// The first round that started after it arrived.
    round: Round,
    /// The latest round already started when it arrived: acknowledgements of it (or of
    /// any earlier round) prove nothing about leadership at the query's arrival.
    started_before: Round,
    deadline: Millis,
}

/// A leader's heartbeat rounds and the queries waiting on them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Rounds {
    current: Round,
    /// Start times of rounds not yet confirmed (bounded; oldest dropped first).
    started: VecDeque<(Round, Millis)>,
    confirmed: Round,
    /// When the latest confirmed round started: the basis of the goose lease.
    confirmed_started_at: Option<Millis>,
    /// Queries that arrived before this term's first entry committed.
    awaiting_commit: Vec<(u64, Millis)>,
    /// Queries waiting for a round; rounds never decrease along the queue.
    pending: VecDeque<PendingQuery>,
}

const MAX_TRACKED_ROUNDS: usize = 64;

impl Rounds {
    #[cfg(feature = "unsafe-variants")]
    pub(super) fn rebase_clock(&mut self, shift: impl Fn(Millis) -> Millis) {
        for (_, at) in &mut self.started {
            *at = shift(*at);
        }
        self.confirmed_started_at = self.confirmed_started_at.map(&shift);
        for (_, deadline) in &mut self.awaiting_commit {
            *deadline = shift(*deadline);
        }
        for query in &mut self.pending {
            query.deadline = shift(query.deadline);
        }
    }

    /// When the latest confirmed round started, if any round of this term was confirmed.
    pub(super) fn confirmed_started_at(&self) -> Option<Millis> {
        self.confirmed_started_at
    }

    pub(super) fn current(&self) -> Round {
        self.current
    }

    pub(super) fn start(&mut self, now: Millis) {
        debug_assert!(
            self.confirmed <= self.current,
            "confirmed round {} above the latest round sent {}",
            self.confirmed,
            self.current
        );
        if let Some(&(last, at)) = self.started.back() {
            debug_assert_eq!(last, self.current, "the latest tracked round is current");
            debug_assert!(now >= at, "rounds start in time order: {now} < {at}");
        }
        self.current = self
            .current
            .checked_add(1)
            .expect("rounds only increase (and never wrap)");
        if self.started.len() == MAX_TRACKED_ROUNDS {
            self.started.pop_front();
        }
        self.started.push_back((self.current, now));
    }

    /// Queues a query for the first round that starts after now.
    fn enqueue(&mut self, ctx: u64, index: Index, deadline: Millis) {
        let round = self.current + 1;
        debug_assert!(
            round > self.confirmed,
            "a query waits for a round not yet confirmed"
        );
        debug_assert!(
            self.pending.back().is_none_or(|q| q.round <= round),
            "rounds never decrease along the pending queue"
        );
        debug_assert!(
            self.pending.back().is_none_or(|q| q.index <= index),
            "commit indexes never decrease along the pending queue"
        );
        self.pending.push_back(PendingQuery {
            ctx,
            index,
            round,
            started_before: self.current,
            deadline,
        });
    }

    /// A query is waiting for a round that has not started yet, and no round is in
    /// flight. While one is, queries queue for the next round, which starts as soon as
    /// the one in flight is confirmed (or at the next heartbeat, if it never is): under
    /// load that is one round per round trip shared by everything that arrived during
    /// it, instead of a round (a message to every follower and back) per small batch.
    /// A query still waits only for a round that starts after it arrived.
    pub(super) fn wants_new_round(&self) -> bool {
        let in_flight = self.confirmed < self.current;
        !in_flight && self.pending.back().is_some_and(|q| q.round > self.current)
    }

    pub(super) fn next_deadline(&self) -> Option<Millis> {
        let pending = self.pending.iter().map(|q| q.deadline);
        let awaiting = self.awaiting_commit.iter().map(|&(_, d)| d);
        pending.chain(awaiting).min()
    }

    fn confirm(&mut self, round: Round) {
        debug_assert!(
            round <= self.current,
            "a quorum acknowledged round {round}, above the latest round sent {}",
            self.current
        );
        if round <= self.confirmed {
            return;
        }
        self.confirmed = round;
        while let Some(&(r, at)) = self.started.front() {
            if r > round {
                break;
            }
            if r == round {
                debug_assert!(
                    self.confirmed_started_at.is_none_or(|old| at >= old),
                    "the goose lease's basis never moves back: {at} < {old:?}",
                    old = self.confirmed_started_at
                );
                self.confirmed_started_at = Some(at);
            }
            self.started.pop_front();
        }
    }

    fn drain(&mut self) -> impl Iterator<Item = u64> + '_ {
        let awaiting = self.awaiting_commit.drain(..).map(|(ctx, _)| ctx);
        awaiting.chain(self.pending.drain(..).map(|q| q.ctx))
    }
}

impl<C: Clone> Raft<C> {
    /// The goose query (and the first half of a linearizable read): the answer arrives
    /// in a later `Released::reads`, tagged with `ctx`. Anyone but the leader answers duck.
    /// A leader starts a heartbeat round for it at once, or as soon as the round in flight is confirmed.
    pub fn confirm_leadership(&mut self, ctx: u64) {
        self.confirm_leadership_batch(core::iter::once(ctx));
    }

    /// Goose queries that arrived together: they share one heartbeat round.
    pub fn confirm_leadership_batch(&mut self, ctxs: impl IntoIterator<Item = u64>) {
        match self.leading() {
            Some(mut leading) => {
                for ctx in ctxs {
                    leading.confirm(ctx);
                }
                leading.start_round_if_wanted();
            }
            None => {
                let leader = self.core.leader;
                for ctx in ctxs {
                    self.core.answer(ctx, Err(DuckReason::NotLeader { leader }));
                }
            }
        }
    }

    /// Until when this node may *show* itself as the goose without asking again: the start
    /// of the latest quorum-confirmed round plus the goose lease (`Config::goose_lease`).
    /// Every follower that acknowledged that round refuses to vote for anyone else until
    /// at least then: for a minimum election timeout after it last heard us (leader
    /// stickiness, also after a restart), or, told our connection closed, for the lease
    /// (`lease_refusal`), which is never longer. So no rival can be elected before it
    /// ends, *provided every clock advances at the same rate*: the lease is measured on
    /// this node's clock, the refusals on each follower's. A leader whose clock runs slow
    /// (or followers whose clocks run fast) by more than the margin between the lease and
    /// the followers' election can show itself as the goose after a rival was elected and
    /// shows too (the simulator's per-node clock rates show it; its checker reports "one
    /// goose at a time"). Goose *answers* (`confirm_leadership`) read no clock and stay
    /// safe under any drift. `None` unless leader with its term's entry committed, not
    /// transferring, and CheckQuorum on.
    /// The caller compares it with *its* notion of now: a paused node's own clock is stale.
    pub fn goose_lease_until(&self) -> Option<Millis> {
        let RoleState::Leader(leader) = &self.state else {
            return None; // only a leader holds a lease
        };
        let core = &self.core;
        if !core.config.check_quorum
            || leader.transfer.is_some()
            || core.commit_index < leader.term_start
        {
            return None;
        }
        let basis = leader.rounds.confirmed_started_at?;
        debug_assert!(
            basis <= core.now,
            "the lease rests on a round started in the future ({basis} > {})",
            core.now
        );
        Some(basis + core.config.goose_lease)
    }

    /// Whether this node may show itself as the goose at time `now` (see `goose_lease_until`).
    pub fn shows_goose_at(&self, now: Millis) -> bool {
        self.goose_lease_until().is_some_and(|until| now < until)
    }
}

impl<C: Clone> Leading<'_, C> {
    fn confirm(&mut self, ctx: u64) {
        let core = &mut *self.core;
        let deadline = core.now + core.config.election_timeout_min;
        if let Some(transfer) = &self.leader.transfer {
            let to = transfer.to;
            core.answer(ctx, Err(DuckReason::Transferring { to }));
            return;
        }
        if core.commit_index < self.leader.term_start {
            // The commit index is not trustworthy until our own no-op commits.
            self.leader.rounds.awaiting_commit.push((ctx, deadline));
            return;
        }
        if core.config.breaks(UnsafeVariant::GooseWithoutRound) {
            let (term, index) = (core.term, core.commit_index);
            core.answer(ctx, Ok(Confirmed { term, index }));
            return;
        }
        self.leader.rounds.enqueue(ctx, core.commit_index, deadline);
    }

    /// Answers every query whose round a quorum has acknowledged.
    pub(super) fn confirm_reads(&mut self) {
        let core = &mut *self.core;
        let (me, term) = (core.id(), core.term);
        let leader = &mut *self.leader;
        let current = leader.rounds.current;
        if leader.rounds.confirmed == current {
            // Every round sent is confirmed, so no acknowledgement can confirm more, and
            // every waiting query waits for a round not yet sent: nothing to do (the
            // usual case: most acknowledgements arrive after their round's quorum).
            debug_assert!(
                leader.progress.values().all(|p| p.acked_round <= current),
                "no follower acknowledged a round above the latest sent {current}"
            );
            debug_assert!(
                leader
                    .rounds
                    .pending
                    .front()
                    .is_none_or(|q| q.round > current),
                "queries wait only for rounds not yet confirmed"
            );
            return;
        }
        let quorum_round = quorum_value(core.log.membership(), |id| {
            if id == me {
                current
            } else {
                leader.progress.get(&id).map_or(0, |p| {
                    debug_assert!(
                        p.acked_round <= current,
                        "follower {id} acknowledged round {}, above the latest sent {current}",
                        p.acked_round
                    );
                    p.acked_round
                })
            }
        });
        leader.rounds.confirm(quorum_round);
        while let Some(query) = leader.rounds.pending.front() {
            if query.round > quorum_round {
                break;
            }
            // Goose only with a quorum's acknowledgement of a round that started after
            // the query arrived, and only once this term's own entry is committed.
            debug_assert!(
                quorum_round > query.started_before,
                "goose on round {quorum_round}, started before the query arrived (round {} was already out)",
                query.started_before
            );
            debug_assert!(
                core.commit_index >= leader.term_start,
                "goose before the term's first entry committed ({} < {})",
                core.commit_index,
                leader.term_start
            );
            debug_assert!(
                leader.term_start <= query.index && query.index <= core.commit_index,
                "a goose answer's index {} lies in this term's committed log [{}, {}]",
                query.index,
                leader.term_start,
                core.commit_index
            );
            let (ctx, index) = (query.ctx, query.index);
            leader.rounds.pending.pop_front();
            core.answer(ctx, Ok(Confirmed { term, index }));
        }
    }

    /// This term's first entry just committed: queries that arrived earlier now start
    /// waiting for a round, as if they arrived now (a later arrival is still within their
    /// invocation, so still linearizable).
    pub(super) fn release_queries_awaiting_commit(&mut self) {
        let core = &*self.core;
        let (commit, deadline) = (
            core.commit_index,
            core.now + core.config.election_timeout_min,
        );
        debug_assert!(
            commit >= self.leader.term_start,
            "queries are released only once the term's first entry committed ({commit} < {})",
            self.leader.term_start
        );
        let rounds = &mut self.leader.rounds;
        for (ctx, _) in core::mem::take(&mut rounds.awaiting_commit) {
            rounds.enqueue(ctx, commit, deadline);
        }
    }

    /// Queries not confirmed within a minimum election timeout are answered duck: a
    /// leader that cannot reach a quorum must not keep callers waiting.
    pub(super) fn expire_reads(&mut self) {
        let now = self.core.now;
        let rounds = &mut self.leader.rounds;
        let mut expired = Vec::new();
        rounds.awaiting_commit.retain(|&(ctx, deadline)| {
            let keep = deadline > now;
            if !keep {
                expired.push(ctx);
            }
            keep
        });
        rounds.pending.retain(|q| {
            let keep = q.deadline > now;
            if !keep {
                expired.push(q.ctx);
            }
            keep
        });
        for ctx in expired {
            self.core.answer(ctx, Err(DuckReason::Unconfirmed));
        }
    }

    /// A leader stepping down answers every waiting query duck.
    pub(super) fn abandon(&mut self) {
        self.answer_all_waiting(DuckReason::SteppedDown);
    }

    pub(super) fn answer_all_waiting(&mut self, reason: DuckReason) {
        for ctx in self.leader.rounds.drain() {
            self.core.answer(ctx, Err(reason));
        }
    }
}
