//! A counterexample as a scenario script of the manual network (`net` in
//! `tests/testdata/*.txt`, run by `tests/tests/scripts.rs`): the same nodes and
//! configs, each delivery a `step` of exactly that message, each input followed by
//! `ready` (persist, acknowledge, queue). Paste it into a testdata file and run
//! `UPDATE_GOLDENFILES=1 cargo test -p duckgoose-tests --test scripts` to see it replayed.
//! A script of an unsafe variant replays on the real core, which refuses the broken step:
//! the transcript then shows where the two part.

use std::fmt::Write as _;

use duckgoose_core::{
    AppendResult, Body, Command, Entry, MembershipChange, Message, UnsafeVariant,
};

use crate::explore::Counterexample;
use crate::model::{Action, Bounds, State};

/// The variant's name (`UnsafeVariant::name`, shared with the simulator's runs).
pub fn variant_name(v: UnsafeVariant) -> &'static str {
    v.name()
}

pub fn variant_named(name: &str) -> Option<UnsafeVariant> {
    UnsafeVariant::named(name)
}

fn flag(b: bool) -> u8 {
    u8::from(b)
}

fn entries(list: &[Entry]) -> String {
    let one = |e: &Entry| match &e.command {
        Command::App(_) => format!("{}@{}", e.index, e.term),
        Command::Noop => format!("{}@{}_noop", e.index, e.term),
        Command::Config(m) => {
            let ids: Vec<String> = m.ids().map(|i| i.to_string()).collect();
            format!("{}@{}_config_{}", e.index, e.term, ids.join("."))
        }
    };
    list.iter().map(one).collect::<Vec<_>>().join("/")
}

/// `step TO KIND from=F term=T ...`: exactly this message.
pub fn step_command(m: &Message) -> String {
    let head = format!("step {} {} from={} term={}", m.to, m.kind(), m.from, m.term);
    let rest = match &m.body {
        Body::PreVote {
            last_index,
            last_term,
        } => format!("last={last_index}@{last_term}"),
        Body::Vote {
            last_index,
            last_term,
            transfer,
        } => format!("last={last_index}@{last_term} transfer={}", flag(*transfer)),
        Body::PreVoteReply { granted } | Body::VoteReply { granted } => {
            format!("granted={}", flag(*granted))
        }
        Body::Append {
            prev_index,
            prev_term,
            entries: list,
            commit,
            round,
        } => {
            let mut s = format!("prev={prev_index}@{prev_term} commit={commit} round={round}");
            if !list.is_empty() {
                let _ = write!(s, " entries={}", entries(list));
            }
            s
        }
        Body::AppendReply { round, result } => match result {
            AppendResult::Accepted { match_index } => {
                format!("round={round} accepted={match_index}")
            }
            AppendResult::Rejected {
                prev_index,
                conflict_index,
                conflict_term,
            } => {
                let mut s =
                    format!("round={round} rejected={prev_index} conflict={conflict_index}");
                if let Some(t) = conflict_term {
                    let _ = write!(s, " conflict-term={t}");
                }
                s
            }
        },
        Body::TimeoutNow => String::new(),
        // The model never compacts, so no snapshot message reaches a counterexample; the
        // scenario language has no step form for one.
        Body::InstallSnapshot { .. } | Body::SnapshotAck { .. } => {
            "(snapshot messages are not modelled)".to_string()
        }
    };
    format!("{head} {rest}").trim_end().to_string()
}

pub fn script(bounds: &Bounds, cx: &Counterexample) -> String {
    let mut out = String::new();
    let c = bounds.config(1);
    let _ = writeln!(
        out,
        "# Found by the model checker: {}: {}",
        cx.failure.property, cx.failure.detail
    );
    if let Some(v) = bounds.variant {
        let _ = writeln!(out, "# (with the unsafe variant {})", variant_name(v));
    }
    let _ = writeln!(out, "net");
    let voters: Vec<String> = bounds.voters.iter().map(|v| v.to_string()).collect();
    let params = format!(
        "prevote={} checkquorum={} heartbeat={} election={}-{} batch={} at=100",
        flag(bounds.pre_vote),
        flag(bounds.check_quorum),
        c.heartbeat_interval,
        c.election_timeout_min,
        c.election_timeout_max,
        c.max_entries_per_message,
    );
    for id in 1..=bounds.nodes {
        let membership = if bounds.voters.contains(&id) {
            format!("voters={}", voters.join("/"))
        } else {
            "empty=1".to_string()
        };
        let _ = writeln!(out, "node {id} {membership} {params} seed={}", 0xD0C + id);
    }
    let ids: Vec<String> = (1..=bounds.nodes).map(|i| i.to_string()).collect();
    let _ = writeln!(out, "ready {}", ids.join(" "));
    // Replay on the model for the clocks: the model rebases them after every step, the
    // script's keep running, so each timeout ticks by the time to its deadline.
    let mut clocks = vec![100u64; bounds.nodes as usize];
    let mut state = State::initial(bounds);
    for action in &cx.path {
        let line = match action {
            Action::Timeout(id) => {
                let r = state.raft(*id).expect("up");
                let at = &mut clocks[(*id - 1) as usize];
                *at += r.next_deadline().max(r.now()) - r.now();
                format!("tick {id} to={at}\nready {id}")
            }
            Action::Deliver(m) if state.raft(m.to).is_none() => {
                format!("# {} arrives at crashed {}: lost", m.kind(), m.to)
            }
            Action::Deliver(m) => format!("{}\nready {}", step_command(m), m.to),
            Action::Drop(m) => format!("# lost: {}→{} {} t{}", m.from, m.to, m.kind(), m.term),
            Action::Write(id) => {
                let r = state.raft(*id).expect("up");
                let (index, term) = (r.log().last_index() + 1, r.term());
                format!("propose {id} put e{index} t{term}\nready {id}")
            }
            Action::Goose(id, ctx) => format!("confirm {id} {ctx}\nready {id}"),
            Action::Crash(id) => format!("crash {id}"),
            Action::Restart(id) => {
                let at = &mut clocks[(*id - 1) as usize];
                format!("restart {id} at={at}\nready {id}")
            }
            Action::Change(id, change) => match change {
                MembershipChange::Add(m) => format!("change {id} add {}\nready {id}", m.id),
                MembershipChange::Remove(n) => format!("change {id} remove {n}\nready {id}"),
            },
        };
        let _ = writeln!(out, "{line}");
        state.step(action, bounds);
    }
    let _ = writeln!(out, "status\nlog");
    out
}
