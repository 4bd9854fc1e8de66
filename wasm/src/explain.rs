//! Trace events as lines a person reads in the playground's event log: who did what, and
//! why ("3 denied vote to 2 for term 4: candidate log is behind …").

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use duckgoose_core::events::{Event, Role, RoleReason};
use duckgoose_core::{
    NodeId, NotGoose, Op, Output, Reply, Request, RequestError, Term, Uncommitted,
};
use duckgoose_sim::Action;
use duckgoose_sim::Completed;
use duckgoose_sim::clock::rate_text;
use duckgoose_sim::trace::{TraceEvent, TraceKind};

use crate::engine::SnapshotNote;

/// One line of the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub at: u64,
    /// `role`, `leader`, `stepdown`, `vote`, `deny`, `commit`, `member`, `transfer`,
    /// `action`, `request`, `reply`, `violation`, `message`, `drop`, `goose`, `closed`
    /// (a node heard its connection to a peer closed), `snapshot` (a node compacted its
    /// log, sent or received snapshot chunks, installed a snapshot), `other`.
    pub kind: &'static str,
    /// The node the line is about, if one.
    pub node: Option<NodeId>,
    pub term: Option<Term>,
    /// For `role`, `leader` and `stepdown` lines: the role the node took, and why (a
    /// stable code such as `election_timeout` or `no_quorum`); for `reply` lines the
    /// request's outcome code (`written`, `stale_fence`, …: see [`outcome`]). The page
    /// reads these, never the English `text`.
    pub role: Option<Role>,
    pub reason: Option<&'static str>,
    pub text: String,
}

fn ids(ids: &[NodeId]) -> String {
    let parts: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    format!("{{{}}}", parts.join(","))
}

pub fn action(action: &Action) -> String {
    match action {
        Action::Partition { groups } => {
            let parts: Vec<String> = groups
                .iter()
                .filter(|g| !g.is_empty())
                .map(|g| ids(g))
                .collect();
            if parts.len() <= 1 && groups.iter().flatten().count() > 0 {
                format!("you joined {} into one zone", parts.join(""))
            } else {
                format!("you partitioned the network: {}", parts.join(" | "))
            }
        }
        Action::Link {
            from,
            to,
            connected: false,
        } => format!("you cut the link {from} → {to}"),
        Action::Link { from, to, .. } => format!("you restored the link {from} → {to}"),
        Action::Heal => "you healed the network".into(),
        Action::Crash { node } => format!("you crashed {node}"),
        Action::Restart { node } => format!("you restarted {node}"),
        Action::Pause { node } => format!("you paused {node} (it holds its messages)"),
        Action::Resume { node } => format!("you resumed {node}"),
        Action::AddNode { node } => format!("you started node {node} and asked to add it"),
        Action::RemoveNode { node } => format!("you asked to remove node {node}"),
        Action::Transfer { to } => format!("you asked the leader to hand over to {to}"),
        Action::Request { node, request } => format!("client → {node}: {}", request_text(request)),
        Action::Network { faults } => format!(
            "you set every link to {}–{} ms, {}% loss",
            faults.latency_min,
            faults.latency_max,
            percent(faults.loss_ppm)
        ),
        Action::LinkFaults {
            from,
            to,
            faults: Some(f),
        } => format!(
            "you set link {from} → {to} to {}–{} ms, {}% loss",
            f.latency_min,
            f.latency_max,
            percent(f.loss_ppm)
        ),
        Action::LinkFaults {
            from,
            to,
            faults: None,
        } => format!("you reset link {from} → {to} to the global setting"),
        Action::ConnectionClosed { node, peer } => {
            format!("you told {node} its connection to {peer} closed")
        }
        Action::ClockRate { node, rate } => format!(
            "you set {node}'s clock to run at {}× real time",
            rate_text(*rate)
        ),
    }
}

fn percent(ppm: u32) -> String {
    let tenths = (ppm as u64 + 500) / 1_000;
    if tenths.is_multiple_of(10) {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

pub fn request_text(request: &Request) -> String {
    match request {
        Request::Kv(Op::Put { key, value }) => format!("put {key}={value}"),
        Request::Kv(Op::Delete { key }) => format!("delete {key}"),
        Request::Kv(Op::Cas {
            key,
            expected,
            value,
        }) => format!(
            "cas {key}: {} → {value}",
            expected.as_deref().unwrap_or("(none)")
        ),
        Request::Kv(Op::Get { key }) => format!("get {key}"),
        Request::Kv(Op::Fenced { fence, op }) => {
            format!(
                "{} if fence {fence}",
                request_text(&Request::Kv((**op).clone()))
            )
        }
        Request::Goose => "goose?".into(),
        Request::AddMember(m) => format!("add member {}", m.id),
        Request::RemoveMember(id) => format!("remove member {id}"),
        Request::Transfer { to } => format!("transfer to {to}"),
    }
}

pub fn reply_text(reply: &Reply) -> String {
    match reply {
        Reply::Kv(Output::Written) => "written".into(),
        Reply::Kv(Output::Cas { swapped: true }) => "swapped".into(),
        Reply::Kv(Output::Cas { swapped: false }) => "not swapped".into(),
        Reply::Kv(Output::Value(Some(v))) => format!("value {v}"),
        Reply::Kv(Output::Value(None)) => "no such key".into(),
        Reply::Kv(Output::StaleFence { fence, term }) => {
            format!("refused: fence {fence} is stale (the entry is of term {term})")
        }
        Reply::Goose { term } => format!("HONK: goose of term {term}"),
        Reply::Duck { reason } => format!("quack: a duck ({reason})"),
        Reply::MembershipChanged { membership, .. } => {
            let members: Vec<NodeId> = membership.ids().collect();
            format!("members are now {}", ids(&members))
        }
        Reply::Transferred { to, term } => format!("{to} leads term {term}"),
    }
}

pub fn result_text(result: &Option<Result<Reply, RequestError>>) -> String {
    match result {
        Some(Ok(reply)) => reply_text(reply),
        Some(Err(e)) => format!("failed: {e}"),
        None => "no answer: the node went down".into(),
    }
}

/// A finished client request, for the page.
#[derive(Clone, Debug)]
pub struct Answer {
    pub id: u64,
    pub node: NodeId,
    pub at: u64,
    /// The request did what it asked: an answer that is not an error, nor a write the
    /// store refused for its stale fence.
    pub ok: bool,
    /// `Some(term)` when the node answered goose.
    pub goose: Option<Term>,
    /// True when the node answered duck.
    pub duck: bool,
    /// What happened, as a stable code the page reads (never the English `text`): see
    /// [`outcome`].
    pub outcome: &'static str,
    /// For `stale_fence`: the fence the write carried.
    pub fence: Option<Term>,
    /// For `stale_fence`: the term of the entry that ordered the write (the leadership
    /// that refused it).
    pub entry_term: Option<Term>,
    /// For `not_leader`: where to retry, when the node knows.
    pub leader: Option<NodeId>,
    pub text: String,
}

/// The outcome of a request as a code: `written`, `swapped`, `not_swapped`, `value`,
/// `no_value`, `stale_fence` (a fenced write refused when applied), `goose`, `duck`,
/// `membership`, `transferred`, `not_leader`, `refused`, `unconfirmed`, `overwritten`,
/// `timeout`, or `lost` (the node went down before answering).
pub fn outcome(result: &Option<Result<Reply, RequestError>>) -> &'static str {
    match result {
        Some(Ok(reply)) => match reply {
            Reply::Kv(Output::Written) => "written",
            Reply::Kv(Output::Cas { swapped: true }) => "swapped",
            Reply::Kv(Output::Cas { swapped: false }) => "not_swapped",
            Reply::Kv(Output::Value(Some(_))) => "value",
            Reply::Kv(Output::Value(None)) => "no_value",
            Reply::Kv(Output::StaleFence { .. }) => "stale_fence",
            Reply::Goose { .. } => "goose",
            Reply::Duck { .. } => "duck",
            Reply::MembershipChanged { .. } => "membership",
            Reply::Transferred { .. } => "transferred",
        },
        Some(Err(e)) => match e {
            RequestError::NotLeader { .. } => "not_leader",
            RequestError::Refused(_) => "refused",
            RequestError::Unconfirmed(_) => "unconfirmed",
            RequestError::Overwritten => "overwritten",
            RequestError::Timeout => "timeout",
        },
        None => "lost",
    }
}

pub fn answer(c: &Completed) -> Answer {
    let (fence, entry_term) = match c.result {
        Some(Ok(Reply::Kv(Output::StaleFence { fence, term }))) => (Some(fence), Some(term)),
        _ => (None, None),
    };
    Answer {
        id: c.id,
        node: c.node,
        at: c.at,
        ok: matches!(c.result, Some(Ok(_))) && fence.is_none(),
        goose: match c.result {
            Some(Ok(Reply::Goose { term })) => Some(term),
            _ => None,
        },
        duck: matches!(c.result, Some(Ok(Reply::Duck { .. }))),
        outcome: outcome(&c.result),
        fence,
        entry_term,
        leader: match c.result {
            Some(Err(RequestError::NotLeader { leader })) => leader,
            _ => None,
        },
        text: result_text(&c.result),
    }
}

pub(crate) fn line(
    at: u64,
    kind: &'static str,
    node: Option<NodeId>,
    term: Option<Term>,
    text: String,
) -> Line {
    Line {
        at,
        kind,
        node,
        term,
        role: None,
        reason: None,
        text,
    }
}

fn role_line(at: u64, node: NodeId, role: Role, term: Term, reason: &RoleReason) -> Line {
    let (kind, text) = match (role, reason) {
        (Role::Follower, RoleReason::NoQuorum { window }) => (
            "stepdown",
            format!("{node} stepped down in term {term}: no quorum for {window} ms"),
        ),
        (Role::Follower, RoleReason::TransferTimedOut { to }) => (
            "stepdown",
            format!("{node} stepped down in term {term}: transfer to {to} timed out"),
        ),
        (Role::Follower, RoleReason::Removed) => (
            "stepdown",
            format!("{node} stepped down in term {term}: removed from the cluster"),
        ),
        (Role::PreCandidate, RoleReason::LeaderConnectionClosed { leader }) => (
            "role",
            format!(
                "{node} became pre-candidate in term {term}: its connection to leader {leader} \
                 closed, so it asks for votes before its election timeout"
            ),
        ),
        (Role::Leader, reason) => (
            "leader",
            format!("{node} became leader of term {term}: {reason}"),
        ),
        (role, reason) => (
            "role",
            format!(
                "{node} became {} in term {term}: {reason}",
                role.as_str().replace('_', "-")
            ),
        ),
    };
    Line {
        role: Some(role),
        reason: Some(reason.code()),
        ..line(at, kind, Some(node), Some(term), text)
    }
}

/// Chunks of `bytes` at `chunk_bytes` each: how many (0 when the size is unknown).
fn chunks(bytes: u64, chunk_bytes: u64) -> u64 {
    bytes.div_ceil(chunk_bytes.max(1))
}

/// The log line for a snapshot transfer the engine noted.
pub fn snapshot_note(note: &SnapshotNote) -> Line {
    match *note {
        SnapshotNote::Sending {
            at,
            from,
            to,
            index,
            term,
            bytes,
            chunk_bytes,
        } => line(
            at,
            "snapshot",
            Some(from),
            None,
            format!(
                "{from} sends {to} its snapshot through {index} (term {term}; {bytes} bytes in {} \
                 chunks): the entries {to} needs are compacted away",
                chunks(bytes, chunk_bytes)
            ),
        ),
        SnapshotNote::Received {
            at,
            from,
            to,
            index,
            held,
            total,
            chunk_bytes,
        } => line(
            at,
            "snapshot",
            Some(to),
            None,
            match total {
                Some(total) => format!(
                    "{to} holds {held} of {total} bytes of {from}'s snapshot through {index} \
                     (chunk {} of {})",
                    chunks(held, chunk_bytes),
                    chunks(total, chunk_bytes)
                ),
                None => format!("{to} holds {held} bytes of {from}'s snapshot through {index}"),
            },
        ),
    }
}

/// Whether `explain` gives this event a line, without wording it: a frame after a long
/// jump words only the lines it hands over.
pub fn has_line(event: &TraceEvent, verbose: bool) -> bool {
    match &event.kind {
        TraceKind::Node { .. }
        | TraceKind::Action { .. }
        | TraceKind::Response { .. }
        | TraceKind::ConnectionClosed { .. }
        | TraceKind::Compacted { .. }
        | TraceKind::Violation { .. } => true,
        TraceKind::Request { .. } | TraceKind::Send { .. } | TraceKind::Drop { .. } => verbose,
        _ => false,
    }
}

/// The log line for a trace event, or `None` for message traffic unless `verbose`.
pub fn explain(event: &TraceEvent, verbose: bool) -> Option<Line> {
    if !has_line(event, verbose) {
        return None;
    }
    let at = event.at;
    Some(match &event.kind {
        TraceKind::Node { node, event: e } => {
            let node = *node;
            match e {
                Event::RoleChanged { role, term, reason } => {
                    role_line(at, node, *role, *term, reason)
                }
                Event::VoteGranted { term, .. } => {
                    line(at, "vote", Some(node), Some(*term), format!("{node} {e}"))
                }
                Event::VoteDenied { term, .. } => {
                    line(at, "deny", Some(node), Some(*term), format!("{node} {e}"))
                }
                Event::Committed { .. } => {
                    line(at, "commit", Some(node), None, format!("{node} {e}"))
                }
                Event::MembershipChanged { .. } => {
                    line(at, "member", Some(node), None, format!("{node}: {e}"))
                }
                Event::TransferStarted { .. } | Event::TransferAborted { .. } => {
                    line(at, "transfer", Some(node), None, format!("{node} {e}"))
                }
                Event::SnapshotInstalled { index, term } => line(
                    at,
                    "snapshot",
                    Some(node),
                    None,
                    format!(
                        "{node} installed a snapshot through {index} (term {term}): its store \
                         jumps to index {index} and its log goes on from {}",
                        index + 1
                    ),
                ),
                _ => line(at, "other", Some(node), None, format!("{node} {e}")),
            }
        }
        TraceKind::Action { action: a } => line(at, "action", None, None, action(a)),
        TraceKind::Request { node, id, request } => {
            // Requests made by actions already have their action line.
            if !verbose {
                return None;
            }
            line(
                at,
                "request",
                Some(*node),
                None,
                format!("client → {node}: #{id} {}", request_text(request)),
            )
        }
        TraceKind::Response { node, id, result } => {
            let result = Some(result.clone());
            Line {
                reason: Some(outcome(&result)),
                ..line(
                    at,
                    "reply",
                    Some(*node),
                    None,
                    format!("{node} → client: #{id} {}", result_text(&result)),
                )
            }
        }
        TraceKind::ConnectionClosed {
            node,
            peer,
            spurious,
        } => line(
            at,
            "closed",
            Some(*node),
            None,
            if *spurious {
                format!("{node} hears its connection to {peer} closed (spurious)")
            } else {
                format!("{node} hears its connection to {peer} closed ({peer} crashed)")
            },
        ),
        TraceKind::Compacted { node, through } => line(
            at,
            "snapshot",
            Some(*node),
            None,
            format!("{node} snapshots its store at {through} and drops the log through there"),
        ),
        TraceKind::Violation { invariant, detail } => line(
            at,
            "violation",
            None,
            None,
            format!("INVARIANT VIOLATED ({invariant}): {detail}"),
        ),
        TraceKind::Send { msg, deliver_at } if verbose => line(
            at,
            "message",
            Some(msg.from),
            Some(msg.term),
            format!(
                "{} → {}: {} (term {}{}), arrives at {deliver_at} ms",
                msg.from,
                msg.to,
                msg.kind,
                msg.term,
                if msg.entries > 0 {
                    format!(", {} entries", msg.entries)
                } else {
                    String::new()
                }
            ),
        ),
        TraceKind::Drop { msg, reason } if verbose => line(
            at,
            "drop",
            Some(msg.to),
            Some(msg.term),
            format!(
                "{} → {}: {} dropped ({})",
                msg.from,
                msg.to,
                msg.kind,
                match reason {
                    duckgoose_sim::trace::DropReason::Partitioned => "link cut",
                    duckgoose_sim::trace::DropReason::Lost => "lost",
                    duckgoose_sim::trace::DropReason::NodeDown => "receiver down",
                    duckgoose_sim::trace::DropReason::Overload => "message storm",
                }
            ),
        ),
        _ => return None,
    })
}

/// "Why no goose?" for a node that is up, in words (`Raft::why_not_goose`).
pub fn not_goose_text(node: NodeId, why: &NotGoose) -> String {
    match *why {
        NotGoose::NotLeader { leader: Some(l) } if l == node => {
            format!("{node} is not the leader of its term any more (it stepped down)")
        }
        NotGoose::NotLeader { leader: Some(l) } => {
            format!("{node} is not the leader: it follows {l}; only a leader can be the goose")
        }
        NotGoose::NotLeader { leader: None } => {
            format!("{node} is not the leader and knows of none: no leader yet in its term")
        }
        NotGoose::NoCheckQuorum => format!(
            "{node} leads, but CheckQuorum is off: a leader would not learn it was cut off, so none shows as the goose"
        ),
        NotGoose::Transferring { to } => {
            format!(
                "{node} leads but is handing leadership to {to}: nobody's goose until that ends"
            )
        }
        NotGoose::TermNotCommitted {
            term,
            term_start,
            commit_index,
        } => format!(
            "{node} leads term {term}, but its first entry ({term_start}) is not committed yet (commit index {commit_index}): until then its commit index may be behind"
        ),
        NotGoose::LeaseExpired {
            confirmed_at,
            expired_at,
            acknowledged,
            quorum,
        } => {
            let when = match (confirmed_at, expired_at) {
                (Some(at), Some(end)) => {
                    format!("the lease from its round of {at} ms ran out at {end} ms")
                }
                _ => "no round of this term was confirmed yet".into(),
            };
            format!(
                "{node} leads, but no quorum confirmed it recently: {when}; {acknowledged} of the {quorum} needed acknowledged its latest round"
            )
        }
    }
}

/// "Why is this entry not committed?" in words (`Raft::why_uncommitted`).
pub fn uncommitted_text(node: NodeId, index: u64, why: &Uncommitted) -> String {
    match *why {
        Uncommitted::NotInLog { last_index } => {
            format!("{node}'s log ends at {last_index}: entry {index} is not there")
        }
        Uncommitted::NotLeader {
            leader,
            commit_index,
        } => {
            let from = leader.map_or("a leader".into(), |l| format!("its leader {l}"));
            format!(
                "{node} knows entries through {commit_index} committed; only a leader counts copies, and {node} learns of entry {index} from {from}"
            )
        }
        Uncommitted::TooFewReplicas { replicas, quorum } => format!(
            "entry {index} is on {replicas} of the {quorum} voters needed (the leader's own copy counts once on disk)"
        ),
        Uncommitted::EarlierTerm { entry_term, term } => format!(
            "entry {index} is on a quorum but from term {entry_term}: leader of term {term}, {node} commits by counting only entries of its own term (Figure 8); it commits when one after it does"
        ),
        Uncommitted::NextAcknowledgement => format!(
            "entry {index} is on a quorum of the current members; {node} counts it at the next acknowledgement"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckgoose_sim::trace::TraceEvent;

    #[test]
    fn explains_step_downs_and_denials() {
        let e = TraceEvent {
            at: 10,
            kind: TraceKind::Node {
                node: 1,
                event: Event::RoleChanged {
                    role: Role::Follower,
                    term: 3,
                    reason: RoleReason::NoQuorum { window: 150 },
                },
            },
        };
        let l = explain(&e, false).unwrap();
        assert_eq!(l.text, "1 stepped down in term 3: no quorum for 150 ms");
        assert_eq!(l.kind, "stepdown");
        let e = TraceEvent {
            at: 10,
            kind: TraceKind::Node {
                node: 3,
                event: Event::VoteDenied {
                    candidate: 2,
                    term: 4,
                    pre_vote: false,
                    reason: duckgoose_core::DenyReason::AlreadyVoted { voted_for: 5 },
                },
            },
        };
        assert_eq!(
            explain(&e, false).unwrap().text,
            "3 denied vote to 2 for term 4: already voted for 5"
        );
    }

    #[test]
    fn explains_actions() {
        assert_eq!(
            action(&Action::Partition {
                groups: vec![vec![1, 2], vec![], vec![3, 4, 5]]
            }),
            "you partitioned the network: {1,2} | {3,4,5}"
        );
        assert_eq!(
            action(&Action::ClockRate { node: 3, rate: 500 }),
            "you set 3's clock to run at 0.5× real time"
        );
        assert_eq!(percent(12_345), "1.2");
        assert_eq!(percent(100_000), "10");
    }

    #[test]
    fn explains_snapshot_transfers() {
        let sending = snapshot_note(&SnapshotNote::Sending {
            at: 5,
            from: 3,
            to: 5,
            index: 40,
            term: 2,
            bytes: 40,
            chunk_bytes: 16,
        });
        assert_eq!(sending.kind, "snapshot");
        assert_eq!(sending.node, Some(3));
        assert_eq!(
            sending.text,
            "3 sends 5 its snapshot through 40 (term 2; 40 bytes in 3 chunks): the entries 5 \
             needs are compacted away"
        );
        let received = |total| {
            snapshot_note(&SnapshotNote::Received {
                at: 9,
                from: 3,
                to: 5,
                index: 40,
                held: 32,
                total,
                chunk_bytes: 16,
            })
        };
        assert_eq!(
            received(Some(40)).text,
            "5 holds 32 of 40 bytes of 3's snapshot through 40 (chunk 2 of 3)"
        );
        assert_eq!(received(Some(40)).node, Some(5));
        assert_eq!(
            received(None).text,
            "5 holds 32 bytes of 3's snapshot through 40"
        );
        let installed = TraceEvent {
            at: 12,
            kind: TraceKind::Node {
                node: 5,
                event: Event::SnapshotInstalled { index: 40, term: 2 },
            },
        };
        let l = explain(&installed, false).unwrap();
        assert_eq!(l.kind, "snapshot");
        assert_eq!(
            l.text,
            "5 installed a snapshot through 40 (term 2): its store jumps to index 40 and its \
             log goes on from 41"
        );
    }
}
