//! The core's step function fed arbitrary message sequences: three founders and a
//! joiner, driven by fuzzer-chosen actions. Real messages are delivered in any order,
//! duplicated or dropped (what Raft tolerates), and arbitrary forged messages are mixed
//! in (InstallSnapshot chunks and snapshot acks among them); nodes tick, compact their
//! logs (so leaders send real snapshots to followers that fell behind), crash and
//! restart, and get client requests. Nothing may panic (the
//! core's debug assertions are on) and every node-local invariant holds after each
//! step (see `duckgoose_fuzz::Harness`).

#![no_main]

use arbitrary::Arbitrary;
use duckgoose_core::{
    AppendResult, Body, Command, Entry, Member, Membership, Message, Op, Request,
};
use duckgoose_fuzz::Harness;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum FBody {
    PreVote {
        last_index: u8,
        last_term: u8,
    },
    PreVoteReply {
        granted: bool,
    },
    Vote {
        last_index: u8,
        last_term: u8,
        transfer: bool,
    },
    VoteReply {
        granted: bool,
    },
    Append {
        prev_index: u8,
        prev_term: u8,
        entries: Vec<(u8, u8)>,
        commit: u8,
        round: u8,
        contiguous: bool,
    },
    Accepted {
        round: u8,
        match_index: u8,
    },
    Rejected {
        round: u8,
        prev_index: u8,
        conflict_index: u8,
        conflict_term: Option<u8>,
    },
    TimeoutNow,
    InstallSnapshot {
        index: u8,
        snapshot_term: u8,
        members: u8,
        offset: u8,
        data: Vec<u8>,
        done: bool,
        round: u8,
    },
    SnapshotAck {
        round: u8,
        index: u8,
        next_offset: u8,
    },
}

#[derive(Arbitrary, Debug)]
enum Action {
    Tick {
        node: u8,
        ms: u8,
    },
    Deliver {
        index: u16,
    },
    Duplicate {
        index: u16,
    },
    Drop {
        index: u16,
    },
    Forge {
        from: u8,
        to: u8,
        term: u8,
        body: FBody,
    },
    Put {
        node: u8,
        key: u8,
    },
    Cas {
        node: u8,
        key: u8,
        expected: Option<u8>,
    },
    Delete {
        node: u8,
        key: u8,
    },
    Get {
        node: u8,
        key: u8,
    },
    Goose {
        node: u8,
    },
    Add {
        node: u8,
        id: u8,
    },
    Remove {
        node: u8,
        id: u8,
    },
    Transfer {
        node: u8,
        to: u8,
    },
    Crash {
        node: u8,
    },
    Restart {
        node: u8,
    },
    // Last, so the seed corpus keeps decoding to the actions it was recorded as.
    Compact {
        node: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    pre_vote: bool,
    check_quorum: bool,
    actions: Vec<Action>,
}

fn command(kind: u8, i: usize) -> Command {
    match kind % 5 {
        0 => Command::Noop,
        1 => Command::App(Op::Put {
            key: format!("k{}", kind % 3),
            value: format!("v{i}"),
        }),
        2 => Command::App(Op::Delete {
            key: format!("k{}", kind % 3),
        }),
        3 => Command::App(Op::Cas {
            key: "k0".into(),
            expected: None,
            value: format!("c{i}"),
        }),
        _ => Command::Config(Membership::from_ids(1..=(2 + kind as u64 % 3))),
    }
}

fn body(b: FBody) -> Body {
    match b {
        FBody::PreVote {
            last_index,
            last_term,
        } => Body::PreVote {
            last_index: last_index.into(),
            last_term: last_term.into(),
        },
        FBody::PreVoteReply { granted } => Body::PreVoteReply { granted },
        FBody::Vote {
            last_index,
            last_term,
            transfer,
        } => Body::Vote {
            last_index: last_index.into(),
            last_term: last_term.into(),
            transfer,
        },
        FBody::VoteReply { granted } => Body::VoteReply { granted },
        FBody::Append {
            prev_index,
            prev_term,
            entries,
            commit,
            round,
            contiguous,
        } => Body::Append {
            prev_index: prev_index.into(),
            prev_term: prev_term.into(),
            entries: entries
                .into_iter()
                .take(8)
                .enumerate()
                .map(|(i, (term, kind))| Entry {
                    index: if contiguous {
                        prev_index as u64 + 1 + i as u64
                    } else {
                        kind as u64
                    },
                    term: term.into(),
                    command: command(kind, i),
                })
                .collect(),
            commit: commit.into(),
            round: round.into(),
        },
        FBody::Accepted { round, match_index } => Body::AppendReply {
            round: round.into(),
            result: AppendResult::Accepted {
                match_index: match_index.into(),
            },
        },
        FBody::Rejected {
            round,
            prev_index,
            conflict_index,
            conflict_term,
        } => Body::AppendReply {
            round: round.into(),
            result: AppendResult::Rejected {
                prev_index: prev_index.into(),
                conflict_index: conflict_index.into(),
                conflict_term: conflict_term.map(u64::from),
            },
        },
        FBody::TimeoutNow => Body::TimeoutNow,
        FBody::InstallSnapshot {
            index,
            snapshot_term,
            members,
            offset,
            data,
            done,
            round,
        } => Body::InstallSnapshot {
            index: index.into(),
            snapshot_term: snapshot_term.into(),
            membership: Membership::from_ids(1..=(1 + members as u64 % 4)),
            offset: offset.into(),
            data: data.into_iter().take(64).collect(),
            done,
            round: round.into(),
        },
        FBody::SnapshotAck {
            round,
            index,
            next_offset,
        } => Body::SnapshotAck {
            round: round.into(),
            index: index.into(),
            next_offset: next_offset.into(),
        },
    }
}

fuzz_target!(|input: Input| {
    let mut h = Harness::new(&[1, 2, 3], &[4], input.pre_vote, input.check_quorum);
    let node = |n: u8| 1 + n as u64 % 4;
    for (i, action) in input.actions.into_iter().take(512).enumerate() {
        match action {
            Action::Tick { node: n, ms } => h.tick(node(n), ms as u64),
            Action::Deliver { index } => {
                if !h.network.is_empty() {
                    let i = index as usize % h.network.len();
                    if let Some(m) = h.network.remove(i) {
                        h.deliver(m);
                    }
                }
            }
            Action::Duplicate { index } => {
                if !h.network.is_empty() {
                    let m = h.network[index as usize % h.network.len()].clone();
                    h.deliver(m);
                }
            }
            Action::Drop { index } => {
                if !h.network.is_empty() {
                    let i = index as usize % h.network.len();
                    h.network.remove(i);
                }
            }
            Action::Forge {
                from,
                to,
                term,
                body: b,
            } => h.deliver(Message {
                from: (from % 6).into(),
                to: node(to),
                term: term.into(),
                body: body(b),
            }),
            Action::Put { node: n, key } => h.request(
                node(n),
                Request::Kv(Op::Put {
                    key: format!("k{}", key % 3),
                    value: format!("p{i}"),
                }),
            ),
            Action::Cas {
                node: n,
                key,
                expected,
            } => h.request(
                node(n),
                Request::Kv(Op::Cas {
                    key: format!("k{}", key % 3),
                    expected: expected.map(|e| format!("p{e}")),
                    value: format!("c{i}"),
                }),
            ),
            Action::Delete { node: n, key } => h.request(
                node(n),
                Request::Kv(Op::Delete {
                    key: format!("k{}", key % 3),
                }),
            ),
            Action::Get { node: n, key } => h.request(
                node(n),
                Request::Kv(Op::Get {
                    key: format!("k{}", key % 3),
                }),
            ),
            Action::Goose { node: n } => h.request(node(n), Request::Goose),
            Action::Add { node: n, id } => h.request(
                node(n),
                Request::AddMember(Member::new((id % 6).into(), "")),
            ),
            Action::Remove { node: n, id } => {
                h.request(node(n), Request::RemoveMember((id % 6).into()))
            }
            Action::Transfer { node: n, to } => h.request(
                node(n),
                Request::Transfer {
                    to: (to % 6).into(),
                },
            ),
            Action::Compact { node: n } => h.compact(node(n)),
            Action::Crash { node: n } => h.crash(node(n)),
            Action::Restart { node: n } => h.restart(node(n)),
        }
    }
});
