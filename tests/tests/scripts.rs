//! Data-driven scenario tests: every `tests/testdata/*.txt` is a goldenscript (commands,
//! `---`, the output they must produce). Rewrite the expected output after a deliberate
//! change, then review the diff:
//!
//!     UPDATE_GOLDENFILES=1 cargo test -p duckgoose-tests --test scripts
//!
//! Two worlds, one per script block sequence (a new world replaces the old one):
//!
//! * The simulator (`duckgoose_sim::Cluster`), driven by the scenario language of
//!   `sim/src/text.rs`: a config line `duckgoose 1 nodes=5 seed=7 ...`, then actions, with
//!   or without a time (`1200 crash 3`, `heal`, `request 1 goose`). Lines with commas
//!   (`partition 1,2/3,4,5`) go after `>`, which passes the rest of the line verbatim.
//!   Plus `run MS`, `run-until MS`, `ask N` (goose? until answered), `status`, `check`.
//!   Output: the playground's narration of the trace (`duckgoose_wasm::explain`).
//! * A manual network of bare `Raft` nodes (the old `Net` of `duckgoose_tests`, with its
//!   configs and timing), for protocol-level checks: `node`, `tick`, `timeout`, `timer`,
//!   `step` (a hand-built message), `ready`, `deliver`, `drop`, `stabilize`, `advance`,
//!   `elect`, `elect-someone`, `campaign`, `isolate`, `partition`, `heal`, `propose`,
//!   `change`, `transfer`, `confirm`, `status`, `log`, `delivered`. See `tests/testdata/README.md`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::error::Error;
use std::fmt::Write as _;

use duckgoose_core::{
    AppendResult, Body, Command, Config, Entry, Event, Index, Member, Membership, MembershipChange,
    Message, Millis, NodeId, Op, Persisted, Raft, ReadOutcome, Reply, Request, Role, Term,
};
use duckgoose_sim::trace::{TraceEvent, TraceKind, TraceMode};
use duckgoose_sim::{Cluster, NodeStatus, text};
use duckgoose_tests::{Drain, Drained};
use duckgoose_wasm::explain;

type Res<T> = Result<T, Box<dyn Error>>;

// ---- Arguments --------------------------------------------------------------------------

/// A command line as words: `verb pos... key=value...`.
struct Args {
    verb: String,
    text: String,
    pos: Vec<String>,
    keys: BTreeMap<String, String>,
}

impl Args {
    fn new(c: &goldenscript::Command) -> Args {
        let mut text = c.name.clone();
        for a in &c.args {
            text.push(' ');
            match a {
                goldenscript::Argument::Positional(v) => text.push_str(v),
                goldenscript::Argument::KeyValue(k, v) => {
                    let _ = write!(text, "{k}={v}");
                }
                _ => {}
            }
        }
        Args::from_text(text)
    }

    fn from_text(text: String) -> Args {
        let mut words = text.split_ascii_whitespace().map(String::from);
        let verb = words.next().unwrap_or_default();
        let (mut pos, mut keys) = (Vec::new(), BTreeMap::new());
        for w in words {
            match w.split_once('=') {
                Some((k, v)) => {
                    keys.insert(k.to_string(), v.to_string());
                }
                None => pos.push(w),
            }
        }
        Args {
            verb,
            text,
            pos,
            keys,
        }
    }

    fn key<T: std::str::FromStr>(&mut self, k: &str) -> Res<Option<T>> {
        match self.keys.remove(k) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{k}: cannot parse {v:?}").into()),
        }
    }

    fn need<T: std::str::FromStr>(&mut self, k: &str) -> Res<T> {
        self.key(k)?.ok_or_else(|| format!("missing {k}=").into())
    }

    fn flag(&mut self, k: &str) -> Res<Option<bool>> {
        match self.keys.remove(k).as_deref() {
            None => Ok(None),
            Some("1" | "true") => Ok(Some(true)),
            Some("0" | "false") => Ok(Some(false)),
            Some(v) => Err(format!("{k}: expected 0/1, got {v:?}").into()),
        }
    }

    /// Positional node ids (or all of `all` if none given).
    fn ids(&self, all: impl Iterator<Item = NodeId>) -> Res<Vec<NodeId>> {
        if self.pos.is_empty() {
            return Ok(all.collect());
        }
        self.pos.iter().map(|p| num(p)).collect()
    }

    fn pos(&self, i: usize) -> Res<&str> {
        self.pos
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("{}: missing argument {}", self.verb, i + 1).into())
    }

    fn done(&self) -> Res<()> {
        match self.keys.keys().next() {
            Some(k) => Err(format!("{}: unknown argument {k}=", self.verb).into()),
            None => Ok(()),
        }
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Res<T> {
    s.parse().map_err(|_| format!("not a number: {s:?}").into())
}

/// `1/2/3` or `1,2,3`.
fn list<T: std::str::FromStr>(s: &str) -> Res<Vec<T>> {
    s.split(['/', ','])
        .filter(|w| !w.is_empty())
        .map(num)
        .collect()
}

/// `INDEX@TERM`.
fn position(s: &str) -> Res<(Index, Term)> {
    let (i, t) = s
        .split_once('@')
        .ok_or_else(|| format!("expected INDEX@TERM, got {s:?}"))?;
    Ok((num(i)?, num(t)?))
}

// ---- Formatting -------------------------------------------------------------------------

fn fmt_pos(index: Index, term: Term) -> String {
    format!("{index}@{term}")
}

fn fmt_entries(entries: &[Entry]) -> String {
    let parts: Vec<String> = entries.iter().map(|e| fmt_pos(e.index, e.term)).collect();
    parts.join(" ")
}

fn fmt_msg(m: &Message) -> String {
    let body = match &m.body {
        Body::PreVote {
            last_index,
            last_term,
        } => format!("last={}", fmt_pos(*last_index, *last_term)),
        Body::Vote {
            last_index,
            last_term,
            transfer,
        } => format!(
            "last={}{}",
            fmt_pos(*last_index, *last_term),
            if *transfer { " transfer" } else { "" }
        ),
        Body::PreVoteReply { granted } | Body::VoteReply { granted } => {
            if *granted { "granted" } else { "refused" }.to_string()
        }
        Body::Append {
            prev_index,
            prev_term,
            entries,
            commit,
            round,
        } => {
            let mut s = format!("prev={}", fmt_pos(*prev_index, *prev_term));
            if !entries.is_empty() {
                let _ = write!(s, " entries=[{}]", fmt_entries(entries));
            }
            let _ = write!(s, " commit={commit} round={round}");
            s
        }
        Body::AppendReply { round, result } => match result {
            AppendResult::Accepted { match_index } => {
                format!("round={round} accepted match={match_index}")
            }
            AppendResult::Rejected {
                prev_index,
                conflict_index,
                conflict_term,
            } => format!(
                "round={round} rejected prev={prev_index} conflict={conflict_index} conflict-term={}",
                conflict_term.map_or("-".into(), |t| t.to_string())
            ),
        },
        Body::TimeoutNow => String::new(),
        Body::InstallSnapshot {
            index,
            snapshot_term,
            offset,
            data,
            done,
            round,
            ..
        } => format!(
            "snapshot={} offset={offset} bytes={}{} round={round}",
            fmt_pos(*index, *snapshot_term),
            data.len(),
            if *done { " done" } else { "" }
        ),
        Body::SnapshotAck {
            round,
            index,
            next_offset,
        } => format!("round={round} snapshot={index} next-offset={next_offset}"),
    };
    format!("{}→{} t{} {} {body}", m.from, m.to, m.term, m.kind())
        .trim_end()
        .to_string()
}

/// A node event in the page's words.
fn fmt_event(node: NodeId, at: Millis, event: &Event) -> Option<String> {
    let e = TraceEvent {
        at,
        kind: TraceKind::Node {
            node,
            event: event.clone(),
        },
    };
    explain::explain(&e, false).map(|l| l.text)
}

fn fmt_read(node: NodeId, r: &ReadOutcome) -> String {
    match r.result {
        Ok(c) => format!(
            "{node}: goose? #{} → goose of term {} (index {})",
            r.ctx, c.term, c.index
        ),
        Err(d) => format!("{node}: goose? #{} → duck: {d}", r.ctx),
    }
}

/// Read answers, with runs of the same answer to consecutive questions folded into one line.
fn fmt_reads(out: &mut String, reads: &[(NodeId, ReadOutcome)]) {
    let mut i = 0;
    while i < reads.len() {
        let (node, first) = reads[i];
        let mut j = i + 1;
        while j < reads.len() {
            let (n, r) = reads[j];
            let same = |a: &ReadOutcome, b: &ReadOutcome| match (a.result, b.result) {
                (Ok(x), Ok(y)) => x.term == y.term,
                (Err(x), Err(y)) => x == y,
                _ => false,
            };
            if n == node && r.ctx == first.ctx + (j - i) as u64 && same(&first, &r) {
                j += 1;
            } else {
                break;
            }
        }
        if j - i > 2 {
            let last = reads[j - 1].1.ctx;
            let line = fmt_read(node, &first).replacen(
                &format!("#{} ", first.ctx),
                &format!("#{}..#{last} ", first.ctx),
                1,
            );
            let line = line.replace(
                &format!(" (index {})", first.result.map_or(0, |c| c.index)),
                "",
            );
            let _ = writeln!(out, "{line} ({} answers)", j - i);
        } else {
            for (n, r) in &reads[i..j] {
                let _ = writeln!(out, "{}", fmt_read(*n, r));
            }
        }
        i = j;
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Follower => "follower",
        Role::PreCandidate => "pre-candidate",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

/// `why`: why the node is not the goose at `now` (or that it is), and why entry `entry`
/// is not committed (or that it is), as the playground words them.
fn fmt_why(r: &Raft, now: Millis, entry: Option<Index>) -> String {
    let id = r.id();
    let mut out = match r.why_not_goose(now) {
        None => format!("{id} is the goose"),
        Some(why) => explain::not_goose_text(id, &why),
    };
    if let Some(index) = entry {
        out.push('\n');
        out.push_str(&match r.why_uncommitted(index) {
            None => format!("entry {index} is committed as far as {id} knows"),
            Some(why) => explain::uncommitted_text(id, index, &why),
        });
    }
    out
}

fn fmt_status(r: &Raft, now: Millis) -> String {
    let opt = |o: Option<NodeId>| o.map_or("-".into(), |v| v.to_string());
    let members: Vec<String> = r.membership().ids().map(|i| i.to_string()).collect();
    format!(
        "{}: {} term={} vote={} leader={} commit={} last={} members={}{}",
        r.id(),
        role_name(r.role()),
        r.term(),
        opt(r.voted_for()),
        opt(r.leader()),
        r.commit_index(),
        fmt_pos(r.log().last_index(), r.log().last_term()),
        members.join("/"),
        if r.shows_goose_at(now) { " goose" } else { "" }
    )
}

/// A node's disk: its snapshot (index, term, keys) and the log tail after it.
fn fmt_disk(id: NodeId, disk: &Persisted) -> String {
    let snapshot = match &disk.snapshot {
        Some(s) => {
            let keys = duckgoose_core::kv::Kv::decode(&s.data).map_or(0, |kv| kv.len());
            format!(
                "snapshot through {}@{} ({keys} keys, {} bytes)",
                s.index,
                s.term,
                s.data.len()
            )
        }
        None => "no snapshot".to_string(),
    };
    let tail = match (disk.log.first(), disk.log.last()) {
        (Some(first), Some(last)) => format!("log {}..={}", first.index, last.index),
        _ => "empty log".to_string(),
    };
    format!("{id}: {snapshot}, {tail}")
}

fn fmt_log(r: &Raft) -> String {
    format!("{}: {}", r.id(), fmt_entries(r.log().entries()))
}

// ---- The manual network -----------------------------------------------------------------

/// Bare `Raft` nodes on a synchronous network, keeping what the nodes say: messages are
/// delivered in order, instantly; time moves only when the script says so.
struct Net {
    nodes: BTreeMap<NodeId, Raft>,
    /// What each node persisted (kept by `ready`), and its config: for `crash`/`restart`.
    disks: BTreeMap<NodeId, (Config, Persisted)>,
    now: Millis,
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Sent, not yet delivered.
    mailbox: VecDeque<Message>,
    /// Delivered since the last `delivered` command.
    delivered: Vec<Message>,
    /// What the nodes said, for the command's output.
    out: String,
    verbose: bool,
}

impl Net {
    fn new() -> Net {
        Net {
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            now: 0,
            cut: BTreeSet::new(),
            mailbox: VecDeque::new(),
            delivered: Vec::new(),
            out: String::new(),
            verbose: false,
        }
    }

    fn node(&mut self, id: NodeId) -> Res<&mut Raft> {
        self.nodes
            .get_mut(&id)
            .ok_or_else(|| format!("no node {id}").into())
    }

    /// Collects node `id`'s output, acknowledged as durable at once (the disk never lags
    /// here; tests/tests/durability.rs covers a lagging one): prints it, queues its
    /// messages.
    fn ready(&mut self, id: NodeId, full: bool) -> Drained {
        let raft = self.nodes.get_mut(&id).expect("known node");
        let ready = raft.drain();
        if let Some((_, disk)) = self.disks.get_mut(&id) {
            if let Some(h) = &ready.hard_state {
                (disk.term, disk.voted_for) = (h.term, h.voted_for);
            }
            if let Some(w) = &ready.log_write {
                disk.log.truncate((w.truncate_from - 1) as usize);
                disk.log.extend(w.entries.iter().cloned());
            }
        }
        self.print_ready(id, &ready, full);
        self.mailbox.extend(ready.messages.iter().cloned());
        ready
    }

    fn print_ready(&mut self, id: NodeId, ready: &Drained, full: bool) {
        let out = &mut self.out;
        for e in &ready.events {
            if let Some(text) = fmt_event(id, self.now, e) {
                let _ = writeln!(out, "{text}");
            }
        }
        let reads: Vec<(NodeId, ReadOutcome)> = ready.reads.iter().map(|r| (id, *r)).collect();
        fmt_reads(out, &reads);
        if full {
            if let Some(h) = &ready.hard_state {
                let vote = h.voted_for.map_or("-".into(), |v| v.to_string());
                let _ = writeln!(out, "{id}: persist term={} vote={vote}", h.term);
            }
            if let Some(w) = &ready.log_write {
                let _ = writeln!(
                    out,
                    "{id}: write from {}: [{}]",
                    w.truncate_from,
                    fmt_entries(&w.entries)
                );
            }
            if !ready.committed.is_empty() {
                let _ = writeln!(out, "{id}: apply [{}]", fmt_entries(&ready.committed));
            }
        }
        if full || self.verbose {
            for m in &ready.messages {
                let _ = writeln!(out, "{}", fmt_msg(m));
            }
        }
    }

    /// Delivers every pending message (and the replies they cause) at the current time.
    fn settle(&mut self) {
        loop {
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            for id in ids {
                self.ready(id, false);
            }
            let Some(m) = self.mailbox.pop_front() else {
                if self.nodes.values().any(|r| r.has_ready()) {
                    continue;
                }
                break;
            };
            self.deliver(m);
        }
    }

    fn deliver(&mut self, m: Message) {
        if self.cut.contains(&(m.from, m.to)) {
            return;
        }
        if let Some(raft) = self.nodes.get_mut(&m.to) {
            self.delivered.push(m.clone());
            raft.step(m);
        }
    }

    fn advance_to(&mut self, now: Millis) {
        loop {
            let next = self
                .nodes
                .values()
                .map(|r| r.next_deadline())
                .min()
                .filter(|&t| t <= now);
            let Some(t) = next else {
                break;
            };
            self.now = self.now.max(t);
            let at = self.now;
            for r in self.nodes.values_mut() {
                r.tick(at);
            }
            self.settle();
        }
        self.now = now;
        for r in self.nodes.values_mut() {
            r.tick(now);
        }
        self.settle();
    }

    fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .filter(|r| r.role() == Role::Leader)
            .max_by_key(|r| r.term())
            .map(|r| r.id())
    }

    fn isolate(&mut self, id: NodeId) {
        let others: Vec<NodeId> = self.nodes.keys().copied().filter(|&o| o != id).collect();
        for o in others {
            self.cut.insert((id, o));
            self.cut.insert((o, id));
        }
    }

    fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.cut.clear();
        let group_of = |id: NodeId| groups.iter().position(|g| g.contains(&id));
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for &a in &ids {
            for &b in &ids {
                if a != b && group_of(a) != group_of(b) {
                    self.cut.insert((a, b));
                }
            }
        }
    }

    /// Messages in the mailbox matching `from=`, `to=`, `kind=`.
    fn take_matching(&mut self, a: &mut Args) -> Res<Vec<Message>> {
        let from: Option<NodeId> = a.key("from")?;
        let to: Option<NodeId> = a.key("to")?;
        let kind: Option<String> = a.key("kind")?;
        let (hit, keep): (Vec<Message>, Vec<Message>) = self.mailbox.drain(..).partition(|m| {
            from.is_none_or(|f| m.from == f)
                && to.is_none_or(|t| m.to == t)
                && kind.as_deref().is_none_or(|k| m.kind() == k)
        });
        self.mailbox = keep.into();
        Ok(hit)
    }

    fn run(&mut self, a: &mut Args) -> Res<String> {
        match a.verb.as_str() {
            // node IDS... [voters=1/2/3] [term=T] [vote=V] [log=T/T/..] [empty=1]
            //   [prevote=0|1] [checkquorum=0|1] [election=MIN-MAX] [seed=S] [at=MS]
            "node" => {
                let ids = a.ids(std::iter::empty())?;
                let voters: Vec<NodeId> = match a.key::<String>("voters")? {
                    Some(v) => list(&v)?,
                    None => ids.clone(),
                };
                let term: Term = a.key("term")?.unwrap_or(0);
                let vote: Option<NodeId> = a.key("vote")?;
                let terms: Vec<Term> = match a.key::<String>("log")? {
                    Some(v) => list(&v)?,
                    None => Vec::new(),
                };
                let empty = a.flag("empty")?.unwrap_or(false);
                let pre_vote = a.flag("prevote")?;
                let check_quorum = a.flag("checkquorum")?;
                let election = a
                    .key::<String>("election")?
                    .map(|e| -> Res<(Millis, Millis)> {
                        let (lo, hi) = e.split_once('-').ok_or("election=MIN-MAX")?;
                        Ok((num(lo)?, num(hi)?))
                    })
                    .transpose()?;
                let seed: Option<u64> = a.key("seed")?;
                let heartbeat: Option<Millis> = a.key("heartbeat")?;
                let lease: Option<Millis> = a.key("lease")?;
                let batch: Option<usize> = a.key("batch")?;
                let at: Millis = a.key("at")?.unwrap_or(self.now);
                for &id in &ids {
                    let mut c = duckgoose_tests::config(id);
                    c.pre_vote = pre_vote.unwrap_or(c.pre_vote);
                    c.check_quorum = check_quorum.unwrap_or(c.check_quorum);
                    if let Some((lo, hi)) = election {
                        (c.election_timeout_min, c.election_timeout_max) = (lo, hi);
                    }
                    // The longest lease unless told: the election minimum.
                    c.goose_lease = lease.unwrap_or(c.election_timeout_min);
                    if let Some(s) = seed {
                        c.seed = s;
                    }
                    c.heartbeat_interval = heartbeat.unwrap_or(c.heartbeat_interval);
                    c.max_entries_per_message = batch.unwrap_or(c.max_entries_per_message);
                    let mut p = if empty {
                        Persisted::empty()
                    } else {
                        Persisted::bootstrap(Membership::from_ids(voters.iter().copied()))
                    };
                    p.term = term;
                    p.voted_for = vote;
                    for (i, &t) in terms.iter().enumerate() {
                        p.log.push(duckgoose_tests::entry(i as Index + 2, t));
                    }
                    let r = Raft::new(c.clone(), p.clone(), at).map_err(|e| format!("{e:?}"))?;
                    self.nodes.insert(id, r);
                    self.disks.insert(id, (c, p));
                }
                Ok(String::new())
            }
            // tick ID... [by=MS | to=MS]: moves the nodes' clocks (default: to the net's).
            "tick" => {
                let by: Option<Millis> = a.key("by")?;
                let to: Option<Millis> = a.key("to")?;
                for id in a.ids(self.nodes.keys().copied())? {
                    let r = self.node(id)?;
                    let at = to.unwrap_or(r.now() + by.unwrap_or(0));
                    r.tick(at);
                }
                Ok(String::new())
            }
            // timeout ID... [early=MS]: ticks each node to its election deadline (or just before).
            "timeout" => {
                let early: Millis = a.key("early")?.unwrap_or(0);
                for id in a.ids(self.nodes.keys().copied())? {
                    let r = self.node(id)?;
                    let (_, at) = r.election_timer().ok_or("a leader has no election timer")?;
                    r.tick(at - early);
                }
                Ok(String::new())
            }
            // crash ID...: the nodes stop; what they persisted (through `ready`) stays.
            "crash" => {
                for id in a.ids(std::iter::empty())? {
                    self.nodes
                        .remove(&id)
                        .ok_or_else(|| format!("no node {id} up"))?;
                }
                Ok(String::new())
            }
            // restart ID... [at=MS]: the nodes start again from what they persisted.
            "restart" => {
                let at: Millis = a.key("at")?.unwrap_or(self.now);
                for id in a.ids(std::iter::empty())? {
                    let (c, p) = self.disks.get(&id).ok_or_else(|| format!("no node {id}"))?;
                    let r = Raft::new(c.clone(), p.clone(), at).map_err(|e| format!("{e:?}"))?;
                    self.nodes.insert(id, r);
                }
                Ok(String::new())
            }
            // closed ID... peer=P: each node's driver saw its connection to P closed.
            "closed" => {
                let peer: NodeId = a.need("peer")?;
                for id in a.ids(std::iter::empty())? {
                    self.node(id)?.peer_connection_closed(peer);
                }
                Ok(String::new())
            }
            // timer ID...: when the election timer was armed and fires.
            "timer" => {
                let mut out = String::new();
                for id in a.ids(self.nodes.keys().copied())? {
                    let r = self.node(id)?;
                    match r.election_timer() {
                        Some((armed, fires)) => writeln!(
                            out,
                            "{id}: election timer armed at {armed}, fires at {fires} (now {})",
                            r.now()
                        )?,
                        None => writeln!(out, "{id}: no election timer")?,
                    }
                }
                Ok(out)
            }
            // step ID from=F term=T KIND ...: a hand-built message, stepped (not delivered).
            "step" => {
                let to: NodeId = num(a.pos(0)?)?;
                let kind = a.pos(1)?.to_string();
                let from: NodeId = a.need("from")?;
                let term: Term = a.need("term")?;
                let last =
                    |a: &mut Args| -> Res<(Index, Term)> { position(&a.need::<String>("last")?) };
                let body = match kind.as_str() {
                    "PreVote" => {
                        let (last_index, last_term) = last(a)?;
                        Body::PreVote {
                            last_index,
                            last_term,
                        }
                    }
                    "Vote" => {
                        let (last_index, last_term) = last(a)?;
                        Body::Vote {
                            last_index,
                            last_term,
                            transfer: a.flag("transfer")?.unwrap_or(false),
                        }
                    }
                    "PreVoteReply" => Body::PreVoteReply {
                        granted: a.flag("granted")?.ok_or("granted=")?,
                    },
                    "VoteReply" => Body::VoteReply {
                        granted: a.flag("granted")?.ok_or("granted=")?,
                    },
                    "Append" | "Heartbeat" => {
                        let (prev_index, prev_term) = position(&a.need::<String>("prev")?)?;
                        let entries = match a.key::<String>("entries")? {
                            Some(list) => list
                                .split('/')
                                .map(|e| {
                                    // I@T is a put; I@T_noop and I@T_config_1.2.3 the others.
                                    let (pos, kind) = e.split_once('_').unwrap_or((e, ""));
                                    let (i, t) = position(pos)?;
                                    let mut entry = duckgoose_tests::entry(i, t);
                                    if kind == "noop" {
                                        entry.command = Command::Noop;
                                    } else if let Some(ids) = kind.strip_prefix("config_") {
                                        let ids: Vec<NodeId> =
                                            ids.split('.').map(num).collect::<Res<_>>()?;
                                        entry.command = Command::Config(Membership::from_ids(ids));
                                    }
                                    Ok(entry)
                                })
                                .collect::<Res<Vec<Entry>>>()?,
                            None => Vec::new(),
                        };
                        Body::Append {
                            prev_index,
                            prev_term,
                            entries,
                            commit: a.key("commit")?.unwrap_or(0),
                            round: a.key("round")?.unwrap_or(0),
                        }
                    }
                    "AppendReply" => {
                        let round = a.key("round")?.unwrap_or(0);
                        let result = match a.key::<Index>("accepted")? {
                            Some(match_index) => AppendResult::Accepted { match_index },
                            None => AppendResult::Rejected {
                                prev_index: a.need("rejected")?,
                                conflict_index: a.need("conflict")?,
                                conflict_term: a.key("conflict-term")?,
                            },
                        };
                        Body::AppendReply { round, result }
                    }
                    "TimeoutNow" => Body::TimeoutNow,
                    k => return Err(format!("unknown message kind {k}").into()),
                };
                let times: usize = a.key("times")?.unwrap_or(1);
                let m = Message {
                    from,
                    to,
                    term,
                    body,
                };
                for _ in 0..times {
                    self.node(to)?.step(m.clone());
                }
                Ok(String::new())
            }
            // ready ID...: everything each node produced, in full; messages are queued.
            "ready" => {
                for id in a.ids(self.nodes.keys().copied())? {
                    self.node(id)?;
                    self.ready(id, true);
                }
                Ok(std::mem::take(&mut self.out))
            }
            // deliver [from=] [to=] [kind=]: steps the queued messages that match.
            "deliver" => {
                let mut out = String::new();
                for m in self.take_matching(a)? {
                    writeln!(out, "{}", fmt_msg(&m))?;
                    self.deliver(m);
                }
                Ok(out)
            }
            "drop" => {
                let n = self.take_matching(a)?.len();
                Ok(format!("dropped {n} messages\n"))
            }
            // stabilize [verbose=1]: delivers until nothing is left; prints what nodes say.
            "stabilize" => {
                self.verbose = a.flag("verbose")?.unwrap_or(false);
                self.settle();
                self.verbose = false;
                Ok(std::mem::take(&mut self.out))
            }
            // advance MS | advance to=MS [verbose=1]: fires timers in order, settling after each.
            "advance" => {
                self.verbose = a.flag("verbose")?.unwrap_or(false);
                let to = match a.key("to")? {
                    Some(t) => t,
                    None => self.now + num::<Millis>(a.pos(0)?)?,
                };
                self.advance_to(to);
                self.verbose = false;
                Ok(std::mem::take(&mut self.out))
            }
            // elect-someone [limit=MS] [verbose=1]: advances 10 ms at a time until someone
            // leads; says who (and, with verbose, everything the nodes said on the way).
            "elect-someone" => {
                let limit: Millis = a.key("limit")?.unwrap_or(2_000);
                let verbose = a.flag("verbose")?.unwrap_or(false);
                let deadline = self.now + limit;
                while self.now < deadline {
                    self.advance_to(self.now + 10);
                    if let Some(id) = self.leader() {
                        let mut out = std::mem::take(&mut self.out);
                        if !verbose {
                            out.clear();
                        }
                        let term = self.nodes[&id].term();
                        writeln!(out, "leader {id} of term {term} at {} ms", self.now)?;
                        return Ok(out);
                    }
                }
                Err(format!("no leader within {limit} ms").into())
            }
            // elect ID: makes a lone node leader by timing it out and granting every vote.
            "elect" => {
                let id = num(a.pos(0)?)?;
                let ready = duckgoose_tests::elect(self.node(id)?);
                self.print_ready(id, &ready, false);
                Ok(std::mem::take(&mut self.out))
            }
            // campaign ID: forces a node to time out now, and settles.
            "campaign" => {
                let id = num(a.pos(0)?)?;
                let (_, deadline) = self.node(id)?.election_timer().ok_or("a leader")?;
                let now = self.now.max(deadline);
                self.now = now;
                for r in self.nodes.values_mut() {
                    r.tick(now);
                }
                self.settle();
                Ok(std::mem::take(&mut self.out))
            }
            "isolate" => {
                for id in a.ids(std::iter::empty())? {
                    self.isolate(id);
                }
                Ok(String::new())
            }
            "partition" => {
                let groups = a
                    .pos(0)?
                    .split('/')
                    .map(list)
                    .collect::<Res<Vec<Vec<NodeId>>>>()?;
                self.partition(&groups);
                Ok(String::new())
            }
            "heal" => {
                self.cut.clear();
                Ok(String::new())
            }
            // propose ID put K V
            "propose" => {
                let id = num(a.pos(0)?)?;
                let (k, v) = (a.pos(2)?.to_string(), a.pos(3)?.to_string());
                if a.pos(1)? != "put" {
                    return Err("propose ID put KEY VALUE".into());
                }
                let result = self.node(id)?.propose(duckgoose_tests::put(&k, &v));
                Ok(match result {
                    Ok(i) => format!("{id}: put {k}={v} appended at index {i}\n"),
                    Err(e) => format!("{id}: put {k}={v} refused: {e}\n"),
                })
            }
            // change ID add|remove N
            "change" => {
                let id = num(a.pos(0)?)?;
                let n: NodeId = num(a.pos(2)?)?;
                let change = match a.pos(1)? {
                    "add" => MembershipChange::Add(Member::new(n, "")),
                    "remove" => MembershipChange::Remove(n),
                    w => return Err(format!("change: add or remove, not {w}").into()),
                };
                let what = format!("{} {n}", a.pos(1)?);
                let r = self.node(id)?;
                Ok(match r.propose_membership_change(change) {
                    Ok(i) => {
                        let members: Vec<String> =
                            r.membership().ids().map(|i| i.to_string()).collect();
                        format!(
                            "{id}: {what} appended at index {i}; members now {}\n",
                            members.join("/")
                        )
                    }
                    Err(e) => format!("{id}: {what} refused: {e}\n"),
                })
            }
            // transfer ID TO
            "transfer" => {
                let id = num(a.pos(0)?)?;
                let to = num(a.pos(1)?)?;
                Ok(match self.node(id)?.transfer_leadership(to) {
                    Ok(()) => format!("{id}: transfer to {to} started\n"),
                    Err(e) => format!("{id}: transfer to {to} refused: {e}\n"),
                })
            }
            // confirm ID CTX | confirm ID FIRST-LAST: asks "goose?" with those tags.
            "confirm" => {
                let id = num(a.pos(0)?)?;
                let ctx = a.pos(1)?;
                let (lo, hi) = match ctx.split_once('-') {
                    Some((lo, hi)) => (num(lo)?, num(hi)?),
                    None => (num(ctx)?, num(ctx)?),
                };
                // A range is one batch, as a driver hands over the queries of one drain.
                self.node(id)?.confirm_leadership_batch(lo..=hi);
                Ok(String::new())
            }
            "status" => {
                let mut out = String::new();
                for id in a.ids(self.nodes.keys().copied())? {
                    let now = self.now;
                    let r = self.node(id)?;
                    writeln!(out, "{}", fmt_status(r, r.now().max(now)))?;
                }
                Ok(out)
            }
            "log" => {
                let mut out = String::new();
                for id in a.ids(self.nodes.keys().copied())? {
                    writeln!(out, "{}", fmt_log(self.node(id)?))?;
                }
                Ok(out)
            }
            // why IDS [entry=I]: why no goose (and why entry I is not committed).
            "why" => {
                let entry: Option<Index> = a.key("entry")?;
                let mut out = String::new();
                for id in a.ids(self.nodes.keys().copied())? {
                    let now = self.now;
                    let r = self.node(id)?;
                    writeln!(out, "{}", fmt_why(r, r.now().max(now), entry))?;
                }
                Ok(out)
            }
            // delivered: messages delivered since the last `delivered`, counted by link and kind.
            "delivered" => {
                let mut counts: BTreeMap<(NodeId, NodeId, &str), usize> = BTreeMap::new();
                for m in self.delivered.drain(..) {
                    *counts.entry((m.from, m.to, m.kind())).or_default() += 1;
                }
                let mut out = String::new();
                for ((f, t, k), n) in counts {
                    writeln!(out, "{f}→{t} {k} ×{n}")?;
                }
                if out.is_empty() {
                    out.push_str("nothing delivered\n");
                }
                Ok(out)
            }
            "mailbox" => {
                let mut out = String::new();
                for m in &self.mailbox {
                    writeln!(out, "{}", fmt_msg(m))?;
                }
                Ok(out)
            }
            v => Err(format!("unknown command {v:?} (manual network)").into()),
        }
    }
}

// ---- The simulator ----------------------------------------------------------------------

struct Sim {
    cluster: Cluster,
    /// Trace events already shown.
    cursor: usize,
}

const ACTIONS: [&str; 15] = [
    "partition",
    "link",
    "heal",
    "crash",
    "restart",
    "pause",
    "resume",
    "add",
    "remove",
    "transfer",
    "request",
    "network",
    "linkfaults",
    "closed",
    "clock",
];

impl Sim {
    /// The narration of the trace since the last command (`only=kind/kind`, `hide=...`).
    fn narrate(&mut self, only: &Option<Vec<String>>, hide: &[String], verbose: bool) -> String {
        let mut out = String::new();
        let events = &self.cluster.trace().events()[self.cursor..];
        self.cursor += events.len();
        for e in events {
            let Some(line) = explain::explain(e, verbose) else {
                continue;
            };
            if only
                .as_ref()
                .is_some_and(|o| !o.iter().any(|k| k == line.kind))
                || hide.iter().any(|k| k == line.kind)
            {
                continue;
            }
            let _ = writeln!(out, "{:>5} {}", line.at, line.text);
        }
        out
    }

    fn run(&mut self, a: &mut Args) -> Res<String> {
        if a.verb.bytes().all(|b| b.is_ascii_digit()) {
            // `TIME ACTION`, a line of a text.rs scenario (or `TIME COMMAND`).
            self.cluster.run_until(num(&a.verb)?);
            let rest = a.text.split_once(' ').map_or("", |(_, r)| r).to_string();
            *a = Args::from_text(rest);
        }
        let only: Option<Vec<String>> = a
            .key::<String>("only")?
            .map(|o| o.split('/').map(String::from).collect());
        let hide: Vec<String> = a
            .key::<String>("hide")?
            .map(|o| o.split('/').map(String::from).collect())
            .unwrap_or_default();
        let verbose = a.flag("verbose")?.unwrap_or(false);
        let mut extra = String::new();
        let c = &mut self.cluster;
        if ACTIONS.contains(&a.verb.as_str()) {
            c.apply(text::parse_action(&strip_keys(&a.text)).map_err(|e| e.0)?);
        } else {
            match a.verb.as_str() {
                "run" => c.run_for(num(a.pos(0)?)?),
                "run-until" => c.run_until(num(a.pos(0)?)?),
                // ask N: "goose?" to N, run until it answers.
                "ask" => {
                    let node: NodeId = num(a.pos(0)?)?;
                    let reply = ask(c, node)?;
                    extra = format!("{node} answers: {reply}\n");
                }
                "status" => {
                    let now = c.now();
                    let opt = |o: Option<NodeId>| o.map_or("none".into(), |v| v.to_string());
                    writeln!(
                        extra,
                        "at {now} ms: leader {}, goose {}",
                        opt(c.leader()),
                        opt(c.goose())
                    )?;
                    let ids: Vec<NodeId> = c.node_ids().collect();
                    for id in ids {
                        match (c.status(id), c.replica(id)) {
                            (Some(NodeStatus::Up), Some(r)) => {
                                let own = c.clock_reading(id).unwrap_or(now);
                                writeln!(extra, "{}", fmt_status(r.raft(), own))?
                            }
                            (s, _) => writeln!(extra, "{id}: {s:?}")?,
                        }
                    }
                }
                "log" => {
                    for id in a.ids(c.node_ids())? {
                        if let Some(r) = c.replica(id) {
                            writeln!(extra, "{}", fmt_log(r.raft()))?;
                        }
                    }
                }
                // why IDS [entry=I]: as in the manual world, for nodes that are up.
                "why" => {
                    let entry: Option<Index> = a.key("entry")?;
                    let now = c.now();
                    for id in a.ids(c.node_ids())? {
                        match (c.status(id), c.replica(id)) {
                            (Some(NodeStatus::Up), Some(r)) => {
                                let own = c.clock_reading(id).unwrap_or(now);
                                writeln!(extra, "{}", fmt_why(r.raft(), own, entry))?
                            }
                            (s, _) => writeln!(extra, "{id}: {s:?}")?,
                        }
                    }
                }
                // wait-goose [not=N] [limit=MS]: runs 5 ms at a time until a goose (other
                // than N) shows.
                "wait-goose" => {
                    let not: Option<NodeId> = a.key("not")?;
                    let limit: Millis = a.key("limit")?.unwrap_or(2_000);
                    let start = c.now();
                    loop {
                        if let Some(g) = c.goose().filter(|&g| Some(g) != not) {
                            writeln!(extra, "goose {g} after {} ms", c.now() - start)?;
                            break;
                        }
                        if c.now() >= start + limit {
                            return Err(format!("no new goose within {limit} ms").into());
                        }
                        c.run_for(5);
                    }
                }
                // compact IDS: each node snapshots its store and drops its log through
                // what it has applied (the narration says where).
                "compact" => {
                    for id in a.ids(c.node_ids())? {
                        if c.compact(id).is_none() {
                            writeln!(extra, "{id} has nothing new to compact")?;
                        }
                    }
                }
                // disk IDS: what a restart of each node would start from.
                "disk" => {
                    for id in a.ids(c.node_ids())? {
                        if let Some(disk) = c.persisted(id) {
                            writeln!(extra, "{}", fmt_disk(id, disk))?;
                        }
                    }
                }
                // receiving IDS: a snapshot being received, not yet whole.
                "receiving" => {
                    for id in a.ids(c.node_ids())? {
                        match c.replica(id).and_then(|r| r.raft().snapshot_receiving()) {
                            Some((index, bytes)) => writeln!(
                                extra,
                                "{id} holds {bytes} bytes of the snapshot through {index}"
                            )?,
                            None => writeln!(extra, "{id} is receiving no snapshot")?,
                        }
                    }
                }
                // puts N COUNT: COUNT writes to N (keys k0..k2), one at a time, each
                // answered (or 1 s passed) before the next.
                "puts" => {
                    let node: NodeId = num(a.pos(0)?)?;
                    let count: u64 = num(a.pos(1)?)?;
                    let mut written = 0;
                    for i in 0..count {
                        let key = format!("k{}", i % 3);
                        let op = Op::Put {
                            key,
                            value: format!("v{i}"),
                        };
                        let id = c.request(node, Request::Kv(op));
                        for _ in 0..200 {
                            c.run_for(5);
                            let done = c.take_completed();
                            if let Some(d) = done.iter().find(|d| d.id == id) {
                                written += u64::from(matches!(d.result, Some(Ok(_))));
                                break;
                            }
                        }
                    }
                    writeln!(extra, "{written} of {count} writes answered")?;
                }
                // snapshots: what compaction did so far.
                "snapshots" => {
                    let s = c.snapshot_stats();
                    writeln!(
                        extra,
                        "taken {}, installed {}, restarts from a snapshot {}, crashes mid-install {}",
                        s.taken, s.installed, s.restarts_from_snapshot, s.crashes_mid_install
                    )?;
                }
                // check: the invariant checker and the linearizability checker.
                "check" => {
                    for v in c.violations() {
                        writeln!(extra, "violation: {v:?}")?;
                    }
                    if c.violations().is_empty() {
                        writeln!(extra, "no invariant violated")?;
                    }
                    match c.check_linearizability() {
                        Ok(_) => writeln!(extra, "history linearizable")?,
                        Err(e) => writeln!(extra, "NOT linearizable: {e:?}")?,
                    }
                }
                v => return Err(format!("unknown command {v:?} (simulator)").into()),
            }
        }
        let mut out = self.narrate(&only, &hide, verbose);
        out.push_str(&extra);
        Ok(out)
    }
}

/// Drops this harness's `key=value` options from a scenario line.
fn strip_keys(line: &str) -> String {
    let words: Vec<&str> = line
        .split_ascii_whitespace()
        .filter(|w| {
            !["only=", "hide=", "verbose="]
                .iter()
                .any(|k| w.starts_with(k))
        })
        .collect();
    words.join(" ")
}

/// Asks `node` "goose?" and runs until it answers (answers come within an election timeout).
fn ask(cluster: &mut Cluster, node: NodeId) -> Res<String> {
    let id = cluster.request(node, Request::Goose);
    for _ in 0..100 {
        if let Some(done) = cluster.take_completed().into_iter().find(|c| c.id == id) {
            return Ok(match done.result {
                Some(Ok(Reply::Goose { term })) => format!("goose of term {term}"),
                Some(Ok(Reply::Duck { reason })) => format!("duck ({reason})"),
                other => explain::result_text(&other),
            });
        }
        cluster.run_for(5);
    }
    Err(format!("node {node} did not answer within 500 ms").into())
}

// ---- The runner -------------------------------------------------------------------------

enum World {
    None,
    Sim(Box<Sim>),
    Net(Net),
}

struct Runner {
    world: World,
}

impl goldenscript::Runner for Runner {
    type Command = goldenscript::Command;

    fn run(&mut self, command: &Self::Command, _: &goldenscript::Context) -> Res<String> {
        let mut a = Args::new(command);
        match a.verb.as_str() {
            // A text.rs config line starts a simulated cluster.
            "duckgoose" => {
                let config = text::parse_config(&a.text).map_err(|e| e.0)?;
                let mut sim = Sim {
                    cluster: Cluster::new(config, TraceMode::Record),
                    cursor: 0,
                };
                let out = sim.narrate(&None, &[], false);
                self.world = World::Sim(Box::new(sim));
                return Ok(out);
            }
            // `net` starts an empty manual network (then `node ...`).
            "net" => {
                self.world = World::Net(Net::new());
                a.done()?;
                return Ok(String::new());
            }
            _ => {}
        }
        let out = match &mut self.world {
            World::Sim(sim) => sim.run(&mut a)?,
            World::Net(net) => net.run(&mut a)?,
            World::None => return Err("start with `duckgoose 1 ...` or `net`".into()),
        };
        a.done()?;
        Ok(out)
    }
}

/// One test per script; `every_script_is_run` keeps the list complete.
macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() -> std::io::Result<()> {
                let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/", stringify!($name), ".txt");
                goldenscript::run(&mut Runner { world: World::None }, path)
            }
        )*

        #[test]
        fn every_script_is_run() {
            let listed: BTreeSet<String> = [$(stringify!($name)),*].iter().map(|s| format!("{s}.txt")).collect();
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
            let found: BTreeSet<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".txt"))
                .collect();
            assert_eq!(listed, found, "list every tests/testdata/*.txt in scripts!");
        }
    };
}

scripts!(
    checkquorum,
    clock_drift,
    connection_closed,
    election,
    fencing,
    figure7,
    goose,
    log_replication,
    membership,
    modelcheck,
    partition_story,
    prevote,
    safety,
    sim_actions,
    snapshot,
    terms,
    transfer,
    why
);
