//! Timings and switches for one node.

use core::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::types::{Millis, NodeId};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Config {
    pub id: NodeId,
    /// How often a leader sends heartbeats (and starts a confirmation round).
    pub heartbeat_interval: Millis,
    /// Election timeouts are drawn uniformly from `[election_timeout_min, election_timeout_max)`.
    /// `election_timeout_min` is also the CheckQuorum window and the follower's
    /// leader-stickiness window.
    pub election_timeout_min: Millis,
    pub election_timeout_max: Millis,
    /// How long a quorum-confirmed round lets the leader show itself as the goose, counted
    /// from the round's start (`Raft::goose_lease_until`). A follower told that its
    /// leader's connection closed refuses rivals, and waits before campaigning, until this
    /// long after it last heard the leader: the notice may be spurious and the leader's
    /// lease counts on that refusal. So the shorter the lease, the sooner a crashed goose
    /// is replaced; it must outlast a heartbeat interval plus a round trip, or the goose
    /// blinks out between rounds. From above `heartbeat_interval` to
    /// `election_timeout_min` (`Config::new`: the latter; `Config::fast_failover_lease`).
    /// Like the election timeouts, the same on every node: one node's lease rests on the
    /// others' refusals.
    pub goose_lease: Millis,
    /// Ask "would you vote for me?" before bumping the term (thesis §9.6).
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum within `election_timeout_min` steps
    /// down, and followers that heard from a leader that recently ignore vote requests.
    pub check_quorum: bool,
    /// Cap on entries per Append, to bound message size.
    pub max_entries_per_message: usize,
    /// Cap on the state bytes per InstallSnapshot chunk, to bound message size.
    pub max_snapshot_chunk_bytes: usize,
    /// Seed for the election-timeout jitter. Drivers give each node its own.
    pub seed: u64,
    /// A deliberately broken protocol rule, for showing that the model checker catches
    /// it (`modelcheck/`). Only with the `unsafe-variants` feature; drivers refuse any
    /// config that sets it (`runs_unsafe_variant`).
    #[cfg(feature = "unsafe-variants")]
    #[cfg_attr(feature = "serde", serde(skip))]
    pub unsafe_variant: Option<UnsafeVariant>,
}

/// Known-unsafe departures from Raft, each breaking one safety argument. Serialized by
/// `name` (the model checker's, the simulator's and the page's one spelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum UnsafeVariant {
    /// Commit an entry of an earlier term once a quorum holds it (Raft §5.4.2's Figure 8).
    #[cfg_attr(feature = "serde", serde(rename = "commit-earlier-term"))]
    CommitEarlierTermByCount,
    /// Grant a vote to every candidate of a term, not only the first.
    #[cfg_attr(feature = "serde", serde(rename = "grant-two-votes"))]
    GrantTwoVotes,
    /// Restart with no vote recorded for the current term.
    #[cfg_attr(feature = "serde", serde(rename = "forget-vote"))]
    ForgetVoteOnRestart,
    /// Grant votes whatever the candidate's log (no up-to-date check, §5.4.1).
    #[cfg_attr(feature = "serde", serde(rename = "skip-log-check"))]
    SkipLogUpToDateCheck,
    /// Answer goose at once, without a heartbeat round started after the question.
    #[cfg_attr(feature = "serde", serde(rename = "goose-without-round"))]
    GooseWithoutRound,
}

impl UnsafeVariant {
    pub const ALL: [UnsafeVariant; 5] = [
        UnsafeVariant::CommitEarlierTermByCount,
        UnsafeVariant::GrantTwoVotes,
        UnsafeVariant::ForgetVoteOnRestart,
        UnsafeVariant::SkipLogUpToDateCheck,
        UnsafeVariant::GooseWithoutRound,
    ];

    /// The short name people type (`modelcheck variant=…`, a run's `break=…`).
    pub fn name(self) -> &'static str {
        match self {
            UnsafeVariant::CommitEarlierTermByCount => "commit-earlier-term",
            UnsafeVariant::GrantTwoVotes => "grant-two-votes",
            UnsafeVariant::ForgetVoteOnRestart => "forget-vote",
            UnsafeVariant::SkipLogUpToDateCheck => "skip-log-check",
            UnsafeVariant::GooseWithoutRound => "goose-without-round",
        }
    }

    /// The variant `name` names, if any.
    pub fn named(name: &str) -> Option<UnsafeVariant> {
        UnsafeVariant::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl Config {
    /// The Raft paper's suggested timings (§9.3): heartbeat 50 ms, election 150–300 ms.
    pub fn new(id: NodeId, seed: u64) -> Self {
        Config {
            id,
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            goose_lease: 150,
            pre_vote: true,
            check_quorum: true,
            max_entries_per_message: 64,
            max_snapshot_chunk_bytes: 64 * 1024,
            seed,
            #[cfg(feature = "unsafe-variants")]
            unsafe_variant: None,
        }
    }

    /// A lease for a low-latency network, where a heartbeat round is confirmed within a
    /// few ms: one and a half heartbeat intervals, so a round trip of up to half a
    /// heartbeat renews it in time (and at most the minimum election timeout). Not tied
    /// to the election timeout: that one tolerates lost heartbeats before calling a silent
    /// leader dead, while the lease only has to outlast one round. The paper's timings
    /// (heartbeat 50 ms) give 75 ms.
    pub fn fast_failover_lease(&self) -> Millis {
        let heartbeat = self.heartbeat_interval;
        (heartbeat + heartbeat / 2)
            .max(heartbeat + 1)
            .min(self.election_timeout_min)
    }

    /// True when this config switches on a deliberately unsafe protocol variant: a real
    /// node must refuse to run it. Always false without the `unsafe-variants` feature.
    pub fn runs_unsafe_variant(&self) -> bool {
        #[cfg(feature = "unsafe-variants")]
        return self.unsafe_variant.is_some();
        #[cfg(not(feature = "unsafe-variants"))]
        false
    }

    /// Whether `variant` is switched on (never, without the feature: compiled away).
    #[inline]
    pub(crate) fn breaks(&self, variant: UnsafeVariant) -> bool {
        #[cfg(feature = "unsafe-variants")]
        return self.unsafe_variant == Some(variant);
        #[cfg(not(feature = "unsafe-variants"))]
        {
            let _ = variant;
            false
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 {
            return Err(ConfigError::ZeroId);
        }
        if self.heartbeat_interval == 0 || self.heartbeat_interval >= self.election_timeout_min {
            return Err(ConfigError::HeartbeatNotBelowElectionTimeout);
        }
        if self.election_timeout_max <= self.election_timeout_min {
            return Err(ConfigError::EmptyElectionRange);
        }
        if self.goose_lease <= self.heartbeat_interval
            || self.goose_lease > self.election_timeout_min
        {
            return Err(ConfigError::LeaseOutOfRange);
        }
        if self.max_entries_per_message == 0 || self.max_snapshot_chunk_bytes == 0 {
            return Err(ConfigError::ZeroBatch);
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    ZeroId,
    HeartbeatNotBelowElectionTimeout,
    EmptyElectionRange,
    /// The goose lease is not above the heartbeat interval, or above the minimum election
    /// timeout.
    LeaseOutOfRange,
    ZeroBatch,
    /// The persisted log has a gap after the persisted snapshot.
    LogDoesNotFollowSnapshot,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::ZeroId => "node id must be positive",
            ConfigError::HeartbeatNotBelowElectionTimeout => {
                "heartbeat interval must be positive and below the minimum election timeout"
            }
            ConfigError::EmptyElectionRange => "maximum election timeout must be above the minimum",
            ConfigError::LeaseOutOfRange => {
                "goose lease must be above the heartbeat interval and at most the minimum election timeout"
            }
            ConfigError::ZeroBatch => {
                "max entries per message and max snapshot chunk bytes must be positive"
            }
            ConfigError::LogDoesNotFollowSnapshot => {
                "the persisted log does not continue right after the persisted snapshot"
            }
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}
