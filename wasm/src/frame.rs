//! One frame, as the page receives it: the cluster view, the new event-log lines, the
//! answers to client requests, the zones and the trace hash, packed (see [`crate::pack`])
//! in the order `js/frame.js` reads them.

use alloc::string::String;
use alloc::vec::Vec;

use duckgoose_core::entry::{Command, Entry};
use duckgoose_core::types::{Millis, NodeId};
use duckgoose_sim::NodeStatus;

use crate::explain::{Answer, Line};
use crate::pack::Packed;
use crate::view::{ClusterView, MessageView, NodeView, write_label};

/// What one frame hands to the page.
pub struct Frame<'a> {
    pub view: &'a ClusterView<'a>,
    pub lines: &'a [Line],
    pub answers: &'a [Answer],
    pub zones: &'a [Vec<NodeId>],
    /// Fraction of a millisecond past `view.now` already run (draw at `now + carry`).
    pub carry: f64,
    pub horizon: Millis,
    pub replaying: bool,
    pub hash: &'a str,
}

pub fn status_name(status: NodeStatus) -> &'static str {
    match status {
        NodeStatus::Up => "up",
        NodeStatus::Paused => "paused",
        NodeStatus::Down => "down",
    }
}

/// The checker's invariant as the page names it in code: `one_goose_at_a_time`.
pub fn invariant_id(invariant: duckgoose_sim::checker::Invariant) -> String {
    invariant.name().replace(' ', "_")
}

/// The log tails the last frame carried, node by node, as the page's decoder holds them
/// too: an entry already sent is marked as such rather than labelled again, and the
/// decoder hands the page the object it made for it then. Entries are compared whole
/// (not by index and term alone), so a broken-on-purpose cluster whose two leaders of
/// one term wrote different entries at one index still shows each as it is.
#[derive(Default)]
pub struct SentLogs(Vec<(NodeId, Vec<Entry>)>);

impl SentLogs {
    fn take(&mut self, node: NodeId) -> Vec<Entry> {
        self.0
            .iter_mut()
            .find(|(id, _)| *id == node)
            .map(|(_, log)| core::mem::take(log))
            .unwrap_or_default()
    }
}

/// In place of a label: the entry is the one the last frame carried at that index.
const SAME_AS_BEFORE: f64 = -2.0;

impl Frame<'_> {
    /// Mirrors `decodeFrame` in `js/frame.js`.
    pub fn pack(&self, sent: &mut SentLogs, out: &mut Packed) {
        pack_view(self.view, sent, out);
        out.len(self.lines.len());
        for line in self.lines {
            pack_line(line, out);
        }
        out.len(self.answers.len());
        for answer in self.answers {
            pack_answer(answer, out);
        }
        out.len(self.zones.len());
        for zone in self.zones {
            out.len(zone.len());
            for &id in zone {
                out.num(id);
            }
        }
        out.float(self.carry);
        out.num(self.horizon);
        out.flag(self.replaying);
        out.str(self.hash);
    }
}

/// Mirrors `readView`.
fn pack_view(view: &ClusterView, sent: &mut SentLogs, out: &mut Packed) {
    out.num(view.now);
    out.len(view.nodes.len());
    let mut now_sent = Vec::with_capacity(view.nodes.len());
    for node in &view.nodes {
        let before = sent.take(node.id);
        now_sent.push((node.id, pack_node(node, before, out)));
    }
    *sent = SentLogs(now_sent);
    out.len(view.messages.len());
    for message in &view.messages {
        pack_message(message, out);
    }
    out.len(view.cut.len());
    for &(from, to) in &view.cut {
        out.num(from);
        out.num(to);
    }
    out.opt(view.goose);
    out.len(view.violations.len());
    for v in view.violations {
        out.str(&invariant_id(v.invariant));
        out.str(&v.detail);
    }
    out.flag(view.store.is_some());
    if let Some(store) = &view.store {
        out.num(store.node);
        out.num(u64::from(store.len));
        out.len(store.entries.len());
        for (key, value) in &store.entries {
            out.str(key);
            out.str(value);
        }
    }
}

/// Mirrors `readNode`. Returns the log tail as sent, reusing `before`'s entries.
fn pack_node(node: &NodeView, mut before: Vec<Entry>, out: &mut Packed) -> Vec<Entry> {
    out.num(node.id);
    out.str(status_name(node.status));
    out.flag(node.member);
    out.opt_str(node.role.map(|r| r.as_str()));
    out.num(u64::from(node.quorum));
    out.flag(node.goose);
    out.num(node.term);
    out.opt(node.voted_for);
    out.opt(node.leader);
    out.num(node.commit_index);
    out.num(node.applied_index);
    out.num(node.last_index);
    out.flag(node.election_timer.is_some());
    if let Some((armed, fires)) = node.election_timer {
        out.num(armed);
        out.num(fires);
    }
    out.len(node.votes.len());
    for &(voter, granted) in &node.votes {
        out.num(voter);
        out.flag(granted);
    }
    out.len(node.matched.len());
    for &(follower, index) in &node.matched {
        out.num(follower);
        out.num(index);
    }
    out.len(node.log.len());
    let first_before = before.first().map_or(0, |e| e.index);
    let mut log = Vec::with_capacity(node.log.len());
    for entry in node.log {
        out.num(entry.index);
        out.num(entry.term);
        let earlier = entry
            .index
            .checked_sub(first_before)
            .and_then(|k| before.get_mut(k as usize))
            .filter(|e| *e == entry);
        match earlier {
            Some(e) => {
                out.float(SAME_AS_BEFORE);
                log.push(core::mem::replace(e, NO_ENTRY));
            }
            None => {
                out.str_with(|text| write_label(&entry.command, text));
                log.push(entry.clone());
            }
        }
    }
    out.flag(node.snapshot.is_some());
    if let Some(s) = &node.snapshot {
        out.num(s.index);
        out.num(s.term);
        out.num(u64::from(s.bytes));
    }
    out.flag(node.receiving.is_some());
    if let Some(r) = &node.receiving {
        out.num(r.index);
        out.num(u64::from(r.bytes));
    }
    out.num(u64::from(node.kv_len));
    out.num(node.clock);
    out.num(u64::from(node.clock_rate));
    log
}

/// What a reused entry leaves behind (index 0 is never a log entry).
const NO_ENTRY: Entry = Entry {
    index: 0,
    term: 0,
    command: Command::Noop,
};

fn pack_message(m: &MessageView, out: &mut Packed) {
    out.num(m.id);
    out.num(m.from);
    out.num(m.to);
    out.str(m.kind);
    out.num(m.term);
    out.num(u64::from(m.entries));
    out.num(m.sent_at);
    out.num(m.deliver_at);
}

fn pack_line(line: &Line, out: &mut Packed) {
    out.num(line.at);
    out.str(line.kind);
    out.opt(line.node);
    out.opt(line.term);
    out.opt_str(line.role.map(|r| r.as_str()));
    out.opt_str(line.reason);
    out.str(&line.text);
}

fn pack_answer(a: &Answer, out: &mut Packed) {
    out.num(a.id);
    out.num(a.node);
    out.num(a.at);
    out.flag(a.ok);
    out.opt(a.goose);
    out.flag(a.duck);
    out.str(a.outcome);
    out.opt(a.fence);
    out.opt(a.entry_term);
    out.opt(a.leader);
    out.str(&a.text);
}
