//! The replica's request bookkeeping, driven by hand: when each kind of request is
//! answered, and with what, including the request timeout (shorter here than an election
//! timeout, so it is the replica's own deadline that answers, not the protocol's).

use duckgoose_core::{
    AppendResult, Body, Command, Config, DuckReason, Entry, Kv, Membership, Message, Millis,
    NodeId, Op, Output, Persisted, Replica, Reply, Request, RequestError, RequestId, Response,
};

const REQUEST_TIMEOUT: Millis = 100;

/// Node 1 of `members`, and what it has answered so far.
struct Driver {
    node: Replica,
    now: Millis,
    /// Node 2 grants votes and accepts appends while this holds; every other peer, and
    /// node 2 afterwards, never answers.
    peer_2_answers: bool,
    responses: Vec<Response>,
}

impl Driver {
    fn new(members: &[NodeId]) -> Driver {
        let persisted = Persisted::bootstrap(Membership::from_ids(members.iter().copied()));
        let node = Replica::new(Config::new(1, 11), persisted, 0, REQUEST_TIMEOUT).unwrap();
        Driver {
            node,
            now: 0,
            peer_2_answers: true,
            responses: Vec::new(),
        }
    }

    /// Node 1 campaigns (past its longest election timeout) and wins, with node 2's vote
    /// where it needs one; its no-op commits.
    fn elected(members: &[NodeId]) -> Driver {
        let mut d = Driver::new(members);
        d.tick_to(Config::new(1, 11).election_timeout_max);
        assert!(d.node.raft().is_leader(), "node 1 leads");
        assert!(
            d.node.raft().commit_index() >= d.node.raft().log().last_index(),
            "its no-op committed"
        );
        d
    }

    /// Settles: hands out what the node produced, and node 2's answers back.
    fn settle(&mut self) {
        for _ in 0..100 {
            if !self.node.has_ready() {
                return;
            }
            let ready = self.node.ready();
            let released = self.node.advance(ready);
            self.responses.extend(released.responses);
            for msg in released.messages {
                if let Some(reply) = self.answer_as_peer(&msg) {
                    self.node.step(reply);
                }
            }
        }
        panic!("node 1 never settled");
    }

    fn answer_as_peer(&self, msg: &Message) -> Option<Message> {
        if msg.to != 2 || !self.peer_2_answers {
            return None;
        }
        let body = match &msg.body {
            Body::PreVote { .. } => Body::PreVoteReply { granted: true },
            Body::Vote { .. } => Body::VoteReply { granted: true },
            Body::Append {
                prev_index,
                entries,
                round,
                ..
            } => Body::AppendReply {
                round: *round,
                result: AppendResult::Accepted {
                    match_index: entries.last().map_or(*prev_index, |e| e.index),
                },
            },
            _ => return None,
        };
        Some(Message {
            from: 2,
            to: 1,
            term: msg.term,
            body,
        })
    }

    fn tick_to(&mut self, to: Millis) {
        while self.now < to {
            self.now += 1;
            self.node.tick(self.now);
            self.settle();
        }
    }

    fn request(&mut self, id: RequestId, request: Request) {
        self.node.request(id, request);
        self.settle();
    }

    fn answer(&self, id: RequestId) -> Option<&Result<Reply, RequestError>> {
        self.responses
            .iter()
            .find(|r| r.id == id)
            .map(|r| &r.result)
    }

    /// Request `id` is unanswered until `REQUEST_TIMEOUT` after `asked_at`, and
    /// answered `error` then.
    fn expires(&mut self, id: RequestId, asked_at: Millis, error: RequestError) {
        self.tick_to(asked_at + REQUEST_TIMEOUT - 1);
        assert_eq!(
            self.answer(id),
            None,
            "request {id} waits until its deadline"
        );
        self.tick_to(asked_at + REQUEST_TIMEOUT);
        assert_eq!(
            self.answer(id),
            Some(&Err(error)),
            "request {id} expires at its deadline"
        );
    }
}

#[test]
fn only_a_timeout_leaves_the_outcome_unknown() {
    assert!(RequestError::Timeout.is_indeterminate());
    for decided in [
        RequestError::NotLeader { leader: Some(2) },
        RequestError::Overwritten,
        RequestError::Unconfirmed(DuckReason::Unconfirmed),
    ] {
        assert!(!decided.is_indeterminate(), "{decided:?}");
    }
}

#[test]
fn requests_that_arrive_together_are_all_answered() {
    let mut d = Driver::elected(&[1]);
    let term = d.node.raft().term();
    let put = |k: &str, v: &str| {
        Request::Kv(Op::Put {
            key: k.into(),
            value: v.into(),
        })
    };
    d.node.requests(vec![
        (1, put("x", "1")),
        (2, put("y", "2")),
        (3, Request::Kv(Op::Get { key: "x".into() })),
        (4, Request::Goose),
    ]);
    d.tick_to(d.now + 10);
    assert_eq!(d.answer(1), Some(&Ok(Reply::Kv(Output::Written))));
    assert_eq!(d.answer(2), Some(&Ok(Reply::Kv(Output::Written))));
    assert_eq!(
        d.answer(3),
        Some(&Ok(Reply::Kv(Output::Value(Some("1".into()))))),
        "the read sees the write that arrived before it"
    );
    assert_eq!(d.answer(4), Some(&Ok(Reply::Goose { term })));
    assert_eq!(d.responses.len(), 4, "one answer each");
    assert!(format!("{:?}", d.node).starts_with("Replica { raft: "));
}

#[test]
fn a_read_an_isolated_leader_cannot_confirm_expires_at_the_request_deadline() {
    let mut d = Driver::elected(&[1, 2, 3]);
    d.peer_2_answers = false;
    let asked_at = d.now;
    d.request(1, Request::Kv(Op::Get { key: "x".into() }));
    // A read changes nothing, so its outcome is known: it did not happen.
    d.expires(
        1,
        asked_at,
        RequestError::Unconfirmed(DuckReason::Unconfirmed),
    );
}

#[test]
fn a_membership_change_that_cannot_commit_times_out_at_the_request_deadline() {
    let mut d = Driver::elected(&[1, 2, 3]);
    d.peer_2_answers = false;
    let asked_at = d.now;
    d.request(1, Request::RemoveMember(3));
    d.expires(1, asked_at, RequestError::Timeout);
}

#[test]
fn a_transfer_that_does_not_happen_times_out_at_the_request_deadline() {
    let mut d = Driver::elected(&[1, 2, 3]);
    d.peer_2_answers = false;
    let asked_at = d.now;
    d.request(1, Request::Transfer { to: 3 });
    d.expires(1, asked_at, RequestError::Timeout);
}

#[test]
fn a_transfer_to_the_leader_itself_is_done_at_once() {
    let mut d = Driver::elected(&[1, 2, 3]);
    let term = d.node.raft().term();
    d.request(1, Request::Transfer { to: 1 });
    assert_eq!(
        d.answer(1),
        Some(&Ok(Reply::Transferred { to: 1, term })),
        "nothing to wait for"
    );
    assert!(d.node.raft().is_leader());
}

/// A deposed leader's pending write that a newer leader's snapshot covers is answered at
/// once, `Timeout` (it may or may not be in the snapshot), not left to its deadline.
#[test]
fn a_pending_write_a_snapshot_covers_is_answered_when_it_installs() {
    let mut d = Driver::elected(&[1, 2, 3]);
    d.peer_2_answers = false;
    let asked_at = d.now;
    d.request(
        1,
        Request::Kv(Op::Put {
            key: "x".into(),
            value: "1".into(),
        }),
    );
    let written = d.node.raft().log().last_index();
    assert_eq!(d.answer(1), None, "not committed: no quorum");

    // Node 2 leads a newer term and sends a snapshot through index `written + 2`.
    let mut kv = Kv::default();
    for index in 1..=written + 2 {
        kv.apply(&Entry {
            index,
            term: 1,
            command: Command::App(Op::Put {
                key: format!("k{index}"),
                value: "v".into(),
            }),
        });
    }
    d.node.step(Message {
        from: 2,
        to: 1,
        term: d.node.raft().term() + 1,
        body: Body::InstallSnapshot {
            index: written + 2,
            snapshot_term: 1,
            membership: Membership::from_ids([1, 2, 3]),
            offset: 0,
            data: kv.encode(),
            done: true,
            round: 1,
        },
    });
    d.settle();
    assert!(d.now < asked_at + REQUEST_TIMEOUT);
    assert_eq!(d.node.raft().log().first_index(), written + 3, "installed");
    assert_eq!(d.answer(1), Some(&Err(RequestError::Timeout)));
}
