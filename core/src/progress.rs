//! What a leader knows about each follower's log (Raft §5.3's nextIndex/matchIndex), plus
//! the liveness facts CheckQuorum and goose confirmation need.

use crate::message::Round;
use crate::types::Index;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// We do not know where the follower's log diverges: send one Append at a time.
    Probe,
    /// The follower is matching: stream new entries as soon as they are appended.
    Replicate,
    /// The follower needs entries compacted away: it is sent the snapshot through
    /// `index`, one chunk at a time; it holds its first `offset` bytes.
    Snapshot { index: Index, offset: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Progress {
    /// Highest index known to match the leader's log.
    pub match_index: Index,
    /// Next index to send.
    pub next_index: Index,
    pub mode: Mode,
    /// In `Probe`, an Append is outstanding (in `Snapshot`, a chunk): wait for its reply
    /// or the next heartbeat.
    pub probe_sent: bool,
    /// Heard from since the last CheckQuorum.
    pub recent_active: bool,
    /// Highest heartbeat round this follower acknowledged in the leader's term.
    pub acked_round: Round,
}

impl Progress {
    pub fn new(next_index: Index) -> Self {
        debug_assert!(
            next_index >= 1,
            "next_index is at least 1: index 0 is never sent"
        );
        Progress {
            match_index: 0,
            next_index,
            mode: Mode::Probe,
            probe_sent: false,
            recent_active: false,
            acked_round: 0,
        }
    }

    /// The follower matches through `index`. Returns whether that is news: a higher match,
    /// or the answer to a probe (matching exactly what we knew), which ends probing. Stale
    /// and repeated acceptances change nothing, so they cannot prompt another Append: a
    /// probe answered again and again would otherwise ping-pong for ever.
    pub fn accept(&mut self, index: Index) -> bool {
        let answers_probe = index == self.match_index && self.mode == Mode::Probe;
        if index <= self.match_index && !answers_probe {
            return false;
        }
        debug_assert!(
            index >= self.match_index,
            "match never decreases on a success: {index} < {}",
            self.match_index
        );
        self.probe_sent = false;
        self.match_index = index;
        self.next_index = self.next_index.max(index + 1);
        self.mode = Mode::Replicate;
        self.debug_check("accept");
        true
    }

    /// The follower refused an Append at `prev_index`; retry from `next`. Stale refusals
    /// (at an index we already know matches) are ignored. Returns whether to resend.
    pub fn reject(&mut self, prev_index: Index, next: Index) -> bool {
        if prev_index <= self.match_index {
            return false;
        }
        let match_before = self.match_index;
        self.mode = Mode::Probe;
        self.probe_sent = false;
        // Never go below what is known to match, never past what was refused (the
        // range is not empty: a refusal at or below the match returned above).
        self.next_index = next.clamp(self.match_index + 1, prev_index);
        debug_assert_eq!(
            self.match_index, match_before,
            "a refusal never moves the match"
        );
        debug_assert!(
            self.next_index <= prev_index,
            "after a refusal at {prev_index}, next {} retries at or below it",
            self.next_index
        );
        self.debug_check("reject");
        true
    }

    /// The follower needs the snapshot through `index`: send it from the start, unless
    /// it is already being sent (then go on where the follower is).
    pub fn start_snapshot(&mut self, index: Index) {
        if !matches!(self.mode, Mode::Snapshot { index: i, .. } if i == index) {
            self.mode = Mode::Snapshot { index, offset: 0 };
            self.probe_sent = false;
        }
        debug_assert!(
            self.match_index < index,
            "a matching follower needs no snapshot"
        );
        // Once installed, the follower matches through `index`.
        self.next_index = index + 1;
        self.debug_check("start_snapshot");
    }

    /// The follower holds the first `offset` bytes of the snapshot through `index`.
    /// Returns whether to send the next chunk (the acknowledgement is for the snapshot
    /// being sent).
    pub fn snapshot_acked(&mut self, index: Index, offset: u64) -> bool {
        match &mut self.mode {
            Mode::Snapshot {
                index: i,
                offset: o,
            } if *i == index => {
                *o = offset;
                self.probe_sent = false;
                true
            }
            _ => false,
        }
    }

    /// The invariants every update keeps (O(1)).
    fn debug_check(&self, after: &str) {
        debug_assert!(
            self.next_index >= 1,
            "after {after}: next_index {} is at least 1",
            self.next_index
        );
        debug_assert!(
            self.match_index < self.next_index,
            "after {after}: match {} < next {}",
            self.match_index,
            self.next_index
        );
        debug_assert!(
            !(self.mode == Mode::Replicate && self.probe_sent),
            "after {after}: probe_sent only means something while probing"
        );
    }

    /// May the leader send this follower an Append right now?
    pub fn can_send(&self) -> bool {
        match self.mode {
            Mode::Probe | Mode::Snapshot { .. } => !self.probe_sent,
            Mode::Replicate => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicating(match_index: Index) -> Progress {
        let mut p = Progress::new(1);
        assert!(p.accept(match_index));
        assert_eq!(p.mode, Mode::Replicate);
        p
    }

    #[test]
    fn a_refusal_at_an_index_known_to_match_is_stale() {
        let mut p = replicating(5);
        assert!(!p.reject(5, 3), "5 is known to match: a late duplicate");
        assert!(!p.reject(4, 2));
        assert_eq!(
            (p.mode, p.next_index, p.match_index),
            (Mode::Replicate, 6, 5)
        );
        assert!(p.reject(7, 6), "a refusal past the match is news");
        assert_eq!((p.mode, p.next_index), (Mode::Probe, 6));
    }

    #[test]
    fn a_probe_answered_at_the_known_match_ends_probing_and_repeats_change_nothing() {
        let mut p = replicating(5);
        assert!(p.reject(7, 6));
        p.probe_sent = true;
        assert!(
            p.accept(5),
            "the probe's answer: the follower matches exactly what we knew"
        );
        assert_eq!(
            (p.mode, p.next_index, p.probe_sent),
            (Mode::Replicate, 6, false)
        );
        // The same answer again (a duplicate) is not news: no reason to send anything.
        assert!(!p.accept(5));
        assert!(!p.accept(4));
        p.mode = Mode::Probe;
        p.probe_sent = true;
        assert!(
            !p.accept(4),
            "a stale acceptance does not release the probe"
        );
        assert!(p.probe_sent);
    }

    #[test]
    fn a_snapshot_is_sent_from_its_start_and_only_its_own_acks_move_it() {
        let mut p = replicating(5);
        p.start_snapshot(40);
        assert_eq!(
            (p.mode, p.next_index, p.match_index),
            (
                Mode::Snapshot {
                    index: 40,
                    offset: 0
                },
                41,
                5
            ),
            "once installed the follower matches through 40, so 41 comes next"
        );
        p.probe_sent = true;
        assert!(!p.snapshot_acked(39, 16), "an ack for another snapshot");
        assert_eq!(
            p.mode,
            Mode::Snapshot {
                index: 40,
                offset: 0
            }
        );
        assert!(
            p.probe_sent,
            "a stale ack does not release the chunk in flight"
        );
        assert!(p.snapshot_acked(40, 16));
        assert_eq!(
            p.mode,
            Mode::Snapshot {
                index: 40,
                offset: 16
            }
        );
        assert!(!p.probe_sent);
        // Asked to start the same snapshot again (the follower still needs it): go on
        // where the follower is, not from the first byte.
        p.start_snapshot(40);
        assert_eq!(
            p.mode,
            Mode::Snapshot {
                index: 40,
                offset: 16
            }
        );
        // A newer snapshot starts over.
        p.start_snapshot(50);
        assert_eq!(
            (p.mode, p.next_index),
            (
                Mode::Snapshot {
                    index: 50,
                    offset: 0
                },
                51
            )
        );
    }
}
