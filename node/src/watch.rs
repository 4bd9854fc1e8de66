//! Watching the goose: the node's answer to "am I the goose, and who is?" kept current and
//! pushed to clients, as Server-Sent Events (`GET /goose/watch`) or as a blocking query
//! (`GET /goose?wait=30s&after=ID`). See "Watch the goose" in `docs/node.md` for the wire
//! format.
//!
//! Two inputs make the answer. The replica thread publishes its [`RoleView`] (term, whether
//! it leads, whom it follows) after every turn of its loop; [`track`] turns that into a
//! [`GooseState`]. `goose: true` needs more than the replica's word: while the replica
//! leads, `track` asks a goose question (the same batched, quorum-confirmed question
//! `GET /goose` asks) at once and then every heartbeat interval, and the state is goose
//! only while the latest such answer confirmed this term. A lost leadership shows as a
//! role change (CheckQuorum step-down, transfer, a newer term) or as an unconfirmed
//! answer, which the core gives within one election timeout; a stopping node answers
//! duck to every goose question.
//!
//! Watchers hold a `tokio::sync::watch` receiver: they only ever see the latest state, so
//! a slow one skips intermediate states and never holds anyone up.
//!
//! A new watcher (a stream's first event, a blocking query's immediate answer) is not
//! greeted as goose on a stale confirmation: after the process was paused (SIGSTOP, a VM
//! freeze) the published state still says goose although a newer leadership may exist,
//! until the next question's answer. A goose state whose confirmation is older than a few
//! intervals waits (bounded) for that answer first.

// Helpers return a ready-made error response; its size does not matter on that path.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use duckgoose_core::{NodeId, Replica};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use crate::goose_queries::{GooseAnswer, GooseQueries};
use crate::runtime::Shared;

/// On a blocking `/goose` answer: the [`GooseState::id`] to pass as `after` next time.
pub const STATE_HEADER: &str = "duckgoose-state";
/// Longest a blocking query waits, whatever `wait` asks for.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// How long a blocking query with `after` but no `wait` waits.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// What the replica thread knows about leadership, after each turn of its loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoleView {
    pub term: u64,
    /// The replica is the leader of `term` (not yet proof that it is the goose).
    pub leads: bool,
    /// The leader of `term` the replica knows of (itself when it leads).
    pub leader: Option<NodeId>,
}

impl RoleView {
    pub fn of(replica: &Replica) -> RoleView {
        let raft = replica.raft();
        RoleView {
            term: raft.term(),
            leads: raft.is_leader(),
            leader: raft.leader(),
        }
    }
}

/// One answer of this node, as every watch event and blocking answer carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GooseState {
    /// This node is the goose: a quorum confirmed its leadership of `term`.
    pub goose: bool,
    /// The node answering.
    pub node: NodeId,
    /// The node's current term.
    pub term: u64,
    /// The fencing token (the term) when `goose`, else `null`.
    pub fence: Option<u64>,
    /// The goose this node knows of: itself when `goose`; for a duck, the leader it
    /// follows in `term`; `null` when it knows none. A leader that has not (or no longer)
    /// confirmed its leadership names nobody.
    pub leader: Option<NodeId>,
}

impl GooseState {
    fn initial(node: NodeId) -> GooseState {
        GooseState {
            goose: false,
            node,
            term: 0,
            fence: None,
            leader: None,
        }
    }

    /// `TERM.goose.LEADER` or `TERM.duck.LEADER|none`: the SSE event id and the
    /// blocking query's `after`. It names the answer, not a position in a history: two
    /// answers with the same id are the same answer (from a goose, or from ducks that
    /// follow the same goose in the same term).
    pub fn id(&self) -> String {
        let role = if self.goose { "goose" } else { "duck" };
        match self.leader {
            Some(l) => format!("{}.{role}.{l}", self.term),
            None => format!("{}.{role}.none", self.term),
        }
    }
}

/// Turns role views and goose answers into the state watchers see.
#[derive(Clone, Debug)]
pub struct Tracker {
    me: NodeId,
    view: RoleView,
    /// The term whose leadership the latest goose answer confirmed, while it holds.
    confirmed: Option<u64>,
}

impl Tracker {
    pub fn new(me: NodeId) -> Tracker {
        Tracker {
            me,
            view: RoleView::default(),
            confirmed: None,
        }
    }

    /// The replica's latest view. Leaving the lead or a new term voids a confirmation.
    pub fn on_view(&mut self, view: RoleView) {
        if !view.leads || self.confirmed != Some(view.term) {
            self.confirmed = None;
        }
        self.view = view;
    }

    /// A goose question's answer. It confirms only the leadership the replica still
    /// holds: an answer for an older term (the question raced a step-down and a new
    /// election) confirms nothing.
    pub fn on_answer(&mut self, answer: &GooseAnswer) {
        self.confirmed = match answer {
            GooseAnswer::Goose { term } if self.view.leads && *term == self.view.term => {
                Some(*term)
            }
            _ => None,
        };
    }

    /// The replica leads: its leadership needs (re)confirming.
    pub fn leads(&self) -> bool {
        self.view.leads
    }

    pub fn state(&self) -> GooseState {
        let goose = self.view.leads && self.confirmed == Some(self.view.term);
        GooseState {
            goose,
            node: self.me,
            term: self.view.term,
            fence: goose.then_some(self.view.term),
            leader: if goose {
                Some(self.me)
            } else {
                self.view.leader.filter(|&l| l != self.me)
            },
        }
    }
}

/// How the watch behaves (flags).
#[derive(Clone, Copy, Debug)]
pub struct WatchConfig {
    /// Streams and blocking queries open at once before new ones get 503.
    pub max_watchers: usize,
    /// How often a leading replica's leadership is re-confirmed (the heartbeat interval).
    pub confirm_every: Duration,
    /// How long an idle stream waits before a `: keepalive` comment.
    pub keepalive: Duration,
}

impl Default for WatchConfig {
    fn default() -> WatchConfig {
        WatchConfig {
            max_watchers: 1024,
            confirm_every: Duration::from_millis(50),
            keepalive: Duration::from_secs(15),
        }
    }
}

/// The published views and states, and the count of open watchers.
pub struct GooseWatch {
    views: watch::Sender<RoleView>,
    states: watch::Sender<GooseState>,
    watchers: AtomicUsize,
    /// When the latest goose answer confirmed the published goose state (`None` while
    /// it is not goose).
    confirmed_at: Mutex<Option<Instant>>,
    pub(crate) config: WatchConfig,
}

impl GooseWatch {
    pub fn new(me: NodeId, config: WatchConfig) -> GooseWatch {
        GooseWatch {
            views: watch::channel(RoleView::default()).0,
            states: watch::channel(GooseState::initial(me)).0,
            watchers: AtomicUsize::new(0),
            confirmed_at: Mutex::new(None),
            config,
        }
    }

    /// A goose answer came: `goose` is whether the state it makes is goose.
    fn note_confirmation(&self, goose: bool) {
        *self.confirmed_at.lock().unwrap_or_else(|e| e.into_inner()) = goose.then(Instant::now);
    }

    fn confirmed_within(&self, age: Duration) -> bool {
        self.confirmed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() <= age)
    }

    /// Returns once the published state can greet a new watcher: it is not goose, or its
    /// confirmation is recent (three intervals), or twenty intervals passed (a question
    /// that hangs that long ends in a duck answer of its own).
    pub(crate) async fn wait_fresh(&self) {
        let every = self.config.confirm_every;
        let deadline = Instant::now() + every * 20;
        while self.state().goose && !self.confirmed_within(every * 3) && Instant::now() < deadline {
            tokio::time::sleep(every / 5).await;
        }
    }

    /// Called by the replica thread after each turn; wakes [`track`] only on a change.
    pub fn observe(&self, replica: &Replica) {
        let view = RoleView::of(replica);
        self.views.send_if_modified(|v| replace_if_changed(v, view));
    }

    /// The replica's view as last observed.
    pub fn view(&self) -> RoleView {
        *self.views.borrow()
    }

    /// The state watchers see now.
    pub fn state(&self) -> GooseState {
        self.states.borrow().clone()
    }

    fn publish(&self, state: GooseState) {
        self.states
            .send_if_modified(|s| replace_if_changed(s, state));
    }
}

fn replace_if_changed<T: PartialEq>(slot: &mut T, new: T) -> bool {
    if *slot == new {
        return false;
    }
    *slot = new;
    true
}

/// Keeps the published state current until the runtime shuts down (spawned once per
/// node).
pub async fn track(shared: Arc<Shared>) {
    let watch = &shared.watch;
    let mut views = watch.views.subscribe();
    let mut tracker = Tracker::new(shared.id);
    loop {
        tracker.on_view(*views.borrow_and_update());
        watch.publish(tracker.state());
        if !tracker.leads() {
            if views.changed().await.is_err() {
                return;
            }
            continue;
        }
        // A role change while the question is out is published at once; the question's
        // own task finishes without us.
        tokio::select! {
            answer = GooseQueries::ask(&shared) => {
                tracker.on_answer(&answer);
                watch.note_confirmation(tracker.state().goose);
                watch.publish(tracker.state());
                tokio::select! {
                    _ = tokio::time::sleep(watch.config.confirm_every) => {}
                    changed = views.changed() => if changed.is_err() { return },
                }
            }
            changed = views.changed() => if changed.is_err() { return },
        }
    }
}

// ---- Watchers ----------------------------------------------------------------------

/// Which kind of watcher holds a place (the metric's label).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Stream,
    Poll,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Stream => "stream",
            Kind::Poll => "poll",
        }
    }
}

/// One of the `--max-watchers` places, held while a stream or blocking query is open.
struct WatcherPlace {
    shared: Arc<Shared>,
    kind: Kind,
}

impl WatcherPlace {
    fn acquire(shared: &Arc<Shared>, kind: Kind) -> Result<WatcherPlace, Response> {
        let watch = &shared.watch;
        let max = watch.config.max_watchers;
        let taken = watch.watchers.fetch_add(1, Ordering::AcqRel);
        if taken >= max {
            watch.watchers.fetch_sub(1, Ordering::AcqRel);
            return Err(json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({
                    "error": "too_many_watchers",
                    "message": format!(
                        "this node serves at most {max} watch streams and blocking queries \
                         at once (--max-watchers); retry later or watch another node"
                    ),
                }),
            ));
        }
        shared.metrics.watcher_opened(kind.label());
        Ok(WatcherPlace {
            shared: Arc::clone(shared),
            kind,
        })
    }
}

impl Drop for WatcherPlace {
    fn drop(&mut self) {
        self.shared.watch.watchers.fetch_sub(1, Ordering::AcqRel);
        self.shared.metrics.watcher_closed(self.kind.label());
    }
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

// ---- GET /goose/watch ------------------------------------------------------------------

fn event(state: &GooseState) -> Event {
    let data = serde_json::to_string(state).unwrap_or_default();
    Event::default().id(state.id()).data(data)
}

/// What a stream still has to do: send `first`, then every change after `sent`.
struct Stream {
    states: watch::Receiver<GooseState>,
    first: Option<GooseState>,
    /// The id of the last state sent (or the client's `Last-Event-ID`).
    sent: Option<String>,
    _place: WatcherPlace,
}

impl Stream {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Stream)> {
        if let Some(state) = self.first.take() {
            self.sent = Some(state.id());
            return Some((Ok(event(&state)), self));
        }
        loop {
            // Only at runtime shutdown does the sender go: the stream ends.
            self.states.changed().await.ok()?;
            let state = self.states.borrow_and_update().clone();
            // States that came and went between two looks can leave the same one.
            if self.sent.as_deref() != Some(&*state.id()) {
                self.sent = Some(state.id());
                return Some((Ok(event(&state)), self));
            }
        }
    }
}

/// `GET /goose/watch`: this node's answer now (unless `Last-Event-ID` names it), then
/// one event per change.
pub async fn stream(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let place = match WatcherPlace::acquire(&shared, Kind::Stream) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string());
    let mut states = shared.watch.states.subscribe();
    shared.watch.wait_fresh().await;
    let now = states.borrow_and_update().clone();
    let first = (last_id.as_deref() != Some(&*now.id())).then_some(now);
    let stream = Stream {
        states,
        first,
        sent: last_id,
        _place: place,
    };
    let events = futures_util::stream::unfold(stream, Stream::next);
    let keepalive = KeepAlive::new()
        .interval(shared.watch.config.keepalive)
        .text("keepalive");
    let mut resp = Sse::new(events).keep_alive(keepalive).into_response();
    // Proxies that buffer responses (nginx) would hold events back.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

// ---- GET /goose?wait=…&after=… ---------------------------------------------------------

/// The blocking-query parameters of `GET /goose`.
#[derive(Debug, Default, Deserialize)]
pub struct WaitQuery {
    pub wait: Option<String>,
    pub after: Option<String>,
}

impl WaitQuery {
    /// A plain `GET /goose` has neither parameter.
    pub fn is_blocking(&self) -> bool {
        self.wait.is_some() || self.after.is_some()
    }
}

/// `wait`: `N` (seconds), `Nms`, `Ns` or `Nm`, capped at [`MAX_WAIT`].
pub fn parse_wait(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "wait must be a duration such as 30s, 500ms, 5m or a number of seconds, got {text:?}"
        )
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let wait = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(bad()),
    };
    Ok(wait.min(MAX_WAIT))
}

/// `after`: a state id from `Duckgoose-State` or an event id (`TERM.goose.ID`,
/// `TERM.duck.ID`, `TERM.duck.none`), or a bare fence `F`, short for "this node is the
/// goose with fence F" (`F.goose.ME`). Returns the id in canonical form.
pub fn parse_after(text: &str, me: NodeId) -> Result<String, String> {
    let bad = || {
        format!(
            "after must be a state id from the Duckgoose-State header or a watch event id \
             (TERM.goose.ID, TERM.duck.ID or TERM.duck.none), or a fence (a number), got \
             {text:?}"
        )
    };
    if let Ok(fence) = text.parse::<u64>() {
        return Ok(format!("{fence}.goose.{me}"));
    }
    let mut parts = text.split('.');
    let (Some(term), Some(role), Some(leader), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let term: u64 = term.parse().map_err(|_| bad())?;
    let leader = match leader {
        "none" => None,
        id => Some(id.parse::<NodeId>().map_err(|_| bad())?),
    };
    let state = match (role, leader) {
        ("goose", Some(l)) => GooseState {
            goose: true,
            node: l,
            term,
            fence: Some(term),
            leader: Some(l),
        },
        ("duck", leader) => GooseState {
            goose: false,
            node: me,
            term,
            fence: None,
            leader,
        },
        _ => return Err(bad()),
    };
    Ok(state.id())
}

/// Answers `GET /goose?wait=…&after=…`: at once when the state's id differs from
/// `after` (or there is no `after`), else when it changes or `wait` ends, whichever is
/// first. Status and headers as a plain `/goose` answer; the body is the state's JSON.
pub async fn long_poll(shared: &Arc<Shared>, query: WaitQuery) -> Response {
    let bad = |reason: String| (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response();
    let wait = match query.wait.as_deref().map(parse_wait).transpose() {
        Ok(w) => w.unwrap_or(DEFAULT_WAIT),
        Err(reason) => return bad(reason),
    };
    let after = match query
        .after
        .as_deref()
        .map(|a| parse_after(a, shared.id))
        .transpose()
    {
        Ok(a) => a,
        Err(reason) => return bad(reason),
    };
    let mut states = shared.watch.states.subscribe();
    shared.watch.wait_fresh().await;
    let state = match after {
        Some(after) if states.borrow_and_update().id() == after => {
            let _place = match WatcherPlace::acquire(shared, Kind::Poll) {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            let changed = states.wait_for(|s| s.id() != after);
            // On timeout (or runtime shutdown) the current state, unchanged.
            let _ = tokio::time::timeout(wait, changed).await;
            shared.watch.state()
        }
        _ => states.borrow().clone(),
    };
    answer(&state)
}

fn answer(state: &GooseState) -> Response {
    let status = if state.goose {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut resp = json_response(status, &json!(state));
    let headers = resp.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&state.id()) {
        headers.insert(STATE_HEADER, id);
    }
    headers.insert("x-duckgoose-term", HeaderValue::from(state.term));
    if let Some(fence) = state.fence {
        crate::fence::stamp(&mut resp, fence);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leads(term: u64) -> RoleView {
        RoleView {
            term,
            leads: true,
            leader: Some(1),
        }
    }

    fn follows(term: u64, leader: Option<NodeId>) -> RoleView {
        RoleView {
            term,
            leads: false,
            leader,
        }
    }

    #[test]
    fn a_leader_is_goose_only_once_a_goose_answer_confirms_its_term() {
        let mut t = Tracker::new(1);
        t.on_view(leads(3));
        let s = t.state();
        assert!(!s.goose, "{s:?}");
        assert_eq!(s.leader, None, "an unconfirmed leader names nobody");
        assert_eq!(s.fence, None);
        t.on_answer(&GooseAnswer::Goose { term: 3 });
        let s = t.state();
        assert!(s.goose);
        assert_eq!((s.term, s.fence, s.leader), (3, Some(3), Some(1)));
        assert_eq!(s.id(), "3.goose.1");
    }

    #[test]
    fn an_answer_for_an_older_term_confirms_nothing() {
        let mut t = Tracker::new(1);
        t.on_view(leads(4));
        t.on_answer(&GooseAnswer::Goose { term: 3 });
        assert!(!t.state().goose);
    }

    #[test]
    fn an_answer_after_stepping_down_confirms_nothing() {
        let mut t = Tracker::new(1);
        t.on_view(leads(3));
        t.on_view(follows(3, None));
        t.on_answer(&GooseAnswer::Goose { term: 3 });
        assert!(!t.state().goose);
    }

    #[test]
    fn stepping_down_or_a_new_term_ends_the_goose() {
        let mut t = Tracker::new(1);
        t.on_view(leads(3));
        t.on_answer(&GooseAnswer::Goose { term: 3 });
        t.on_view(follows(4, Some(2)));
        let s = t.state();
        assert!(!s.goose);
        assert_eq!((s.term, s.fence, s.leader), (4, None, Some(2)));
        assert_eq!(s.id(), "4.duck.2");
        // Leading again in a later term needs a new confirmation.
        t.on_view(leads(5));
        assert!(!t.state().goose);
        t.on_answer(&GooseAnswer::Goose { term: 5 });
        assert_eq!(t.state().fence, Some(5));
    }

    #[test]
    fn an_unconfirmed_or_failed_question_ends_the_goose_while_the_replica_still_leads() {
        for lost in [
            GooseAnswer::Duck {
                reason: "no quorum confirmed leadership in time".into(),
            },
            GooseAnswer::Failed(crate::runtime::CallError::Overloaded),
        ] {
            let mut t = Tracker::new(1);
            t.on_view(leads(3));
            t.on_answer(&GooseAnswer::Goose { term: 3 });
            t.on_answer(&lost);
            let s = t.state();
            assert!(!s.goose, "{lost:?}");
            assert_eq!((s.term, s.leader), (3, None));
            // Confirmed again: goose again, same fence.
            t.on_answer(&GooseAnswer::Goose { term: 3 });
            assert_eq!(t.state().id(), "3.goose.1");
        }
    }

    #[test]
    fn a_duck_names_the_leader_it_follows() {
        let mut t = Tracker::new(2);
        t.on_view(follows(7, Some(1)));
        let s = t.state();
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"goose":false,"node":2,"term":7,"fence":null,"leader":1}"#
        );
        assert_eq!(s.id(), "7.duck.1");
        t.on_view(follows(8, None));
        assert_eq!(t.state().id(), "8.duck.none");
    }

    #[test]
    fn the_goose_wire_format_is_exact() {
        let mut t = Tracker::new(1);
        t.on_view(leads(9));
        t.on_answer(&GooseAnswer::Goose { term: 9 });
        assert_eq!(
            serde_json::to_string(&t.state()).unwrap(),
            r#"{"goose":true,"node":1,"term":9,"fence":9,"leader":1}"#
        );
    }

    #[test]
    fn wait_parses_units_and_is_capped() {
        assert_eq!(parse_wait("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_wait("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_wait("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_wait("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_wait("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("1000m"), Ok(MAX_WAIT));
        for bad in [
            "",
            "s",
            "-1s",
            "1h",
            "1.5s",
            "30 s",
            "abc",
            "99999999999999999999s",
        ] {
            assert!(parse_wait(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn after_takes_a_state_id_or_a_fence() {
        assert_eq!(parse_after("7", 2).as_deref(), Ok("7.goose.2"));
        assert_eq!(parse_after("007", 2).as_deref(), Ok("7.goose.2"));
        assert_eq!(parse_after("7.goose.1", 2).as_deref(), Ok("7.goose.1"));
        assert_eq!(parse_after("7.duck.1", 2).as_deref(), Ok("7.duck.1"));
        assert_eq!(parse_after("7.duck.none", 2).as_deref(), Ok("7.duck.none"));
        for bad in [
            "",
            "x",
            "7.goose",
            "7.goose.none",
            "7.geese.1",
            "7.duck.1.2",
            "-1",
            "7.duck.x",
        ] {
            assert!(parse_after(bad, 2).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_stale_goose_confirmation_waits_for_the_next_answer() {
        let config = WatchConfig {
            confirm_every: Duration::from_millis(20),
            ..WatchConfig::default()
        };
        let w = Arc::new(GooseWatch::new(1, config));
        let mut t = Tracker::new(1);
        t.on_view(leads(3));
        t.on_answer(&GooseAnswer::Goose { term: 3 });
        w.note_confirmation(true);
        w.publish(t.state());
        // Fresh: at once.
        let started = Instant::now();
        w.wait_fresh().await;
        assert!(started.elapsed() < Duration::from_millis(20));
        // Stale (the process was paused): until the next answer, here a step-down.
        *w.confirmed_at.lock().unwrap() = Some(Instant::now() - Duration::from_secs(1));
        let answering = Arc::clone(&w);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            t.on_view(follows(4, Some(2)));
            answering.note_confirmation(false);
            answering.publish(t.state());
        });
        let started = Instant::now();
        w.wait_fresh().await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(w.state().id(), "4.duck.2");
        // Never answered: bounded by twenty intervals.
        let mut t = Tracker::new(1);
        t.on_view(leads(5));
        t.on_answer(&GooseAnswer::Goose { term: 5 });
        w.publish(t.state());
        *w.confirmed_at.lock().unwrap() = Some(Instant::now() - Duration::from_secs(1));
        let started = Instant::now();
        w.wait_fresh().await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(400), "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
    }

    #[test]
    fn publishing_the_same_state_wakes_nobody() {
        let w = GooseWatch::new(1, WatchConfig::default());
        let mut rx = w.states.subscribe();
        rx.borrow_and_update();
        w.publish(GooseState::initial(1));
        assert!(!rx.has_changed().unwrap());
        let mut t = Tracker::new(1);
        t.on_view(follows(2, Some(3)));
        w.publish(t.state());
        assert!(rx.has_changed().unwrap());
    }
}
