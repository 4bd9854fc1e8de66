//! What a leader knows about each follower's log (Raft §5.3's nextIndex/matchIndex), plus
//! the liveness facts CheckQuorum and goose confirmation need.

use crate::message::Round;
use crate::types::Index;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// We do not know where the follower's log diverges: send one Append at a time.
    Probe,
    /// The follower is matching: stream new entries as soon as they are appended.
    Replicate,
}

#[derive(Clone, Debug)]
pub struct Progress {
    /// Highest index known to match the leader's log.
    pub match_index: Index,
    /// Next index to send.
    pub next_index: Index,
    pub mode: Mode,
    /// In `Probe`, an Append is outstanding: wait for its reply or the next heartbeat.
    pub probe_sent: bool,
    /// Heard from since the last CheckQuorum.
    pub recent_active: bool,
    /// Highest heartbeat round this follower acknowledged in the leader's term.
    pub acked_round: Round,
}

impl Progress {
    pub fn new(next_index: Index) -> Self {
        Progress {
            match_index: 0,
            next_index,
            mode: Mode::Probe,
            probe_sent: false,
            recent_active: false,
            acked_round: 0,
        }
    }

    /// The follower matches through `index`. Returns whether that is news.
    pub fn accept(&mut self, index: Index) -> bool {
        self.probe_sent = false;
        if index <= self.match_index {
            return false;
        }
        self.match_index = index;
        self.next_index = self.next_index.max(index + 1);
        self.mode = Mode::Replicate;
        true
    }

    /// The follower refused an Append at `prev_index`; retry from `next`. Stale refusals
    /// (for entries we already know match) are ignored. Returns whether to resend.
    pub fn reject(&mut self, prev_index: Index, next: Index) -> bool {
        if prev_index < self.match_index {
            return false;
        }
        self.mode = Mode::Probe;
        self.probe_sent = false;
        // Never go below what is known to match, never past what was refused.
        self.next_index = next.clamp(self.match_index + 1, prev_index.max(self.match_index + 1));
        true
    }

    /// May the leader send this follower an Append right now?
    pub fn can_send(&self) -> bool {
        match self.mode {
            Mode::Probe => !self.probe_sent,
            Mode::Replicate => true,
        }
    }
}
