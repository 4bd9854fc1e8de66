//! Browser bindings for the Duck Duck Goose simulator.
//!
//! Rust owns the cluster; the page draws. One call per animation frame,
//! [`Sim::frame`], advances virtual time and returns everything the page needs: the
//! cluster view, the new event-log lines (explained), answers to client requests, the
//! partition zones and the trace hash. Every input is validated here and refused with a
//! JS exception; nothing the page can send makes this panic.
//!
//! A run is a scenario (config plus timed actions, as text: see [`duckgoose_sim::text`]): exported for shareable URLs,
//! imported to reproduce one, replayed from the start to scrub backwards.

#![forbid(unsafe_code)]

extern crate alloc;

pub mod engine;
pub mod explain;
pub mod frame;
pub mod json;
pub mod pack;
pub mod view;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wasm_bindgen::prelude::*;

use crate::view::ClusterView;
use duckgoose_core::{Millis, NodeId, NotGoose, Uncommitted};
use duckgoose_sim::network::LinkFaults;
use duckgoose_sim::{Action, Compaction, NodeStatus, SimConfig};

use duckgoose_sim::text;
use duckgoose_sim::validate::{self as limits, Invalid};
use engine::{Engine, Traced};
use explain::{Answer, Line};
use frame::{Frame, SentLogs};
use pack::Packed;

// Talc instead of dlmalloc: the default allocator is ~7 KB of the module, talc's dynamic
// (memory.grow) heap a fraction of that. The page is single-threaded (no atomics).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Most event-log lines one frame hands over (a long jump at 100× would make thousands).
const MAX_LINES_PER_FRAME: usize = 400;

fn js_err(e: impl core::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// JSON written by [`json`], parsed by the browser.
fn parse_json(json: &str) -> Result<JsValue, JsError> {
    js_sys::JSON::parse(json).map_err(|e| JsError::new(&format!("bad JSON from wasm: {e:?}")))
}

fn invalid(e: Invalid) -> JsError {
    js_err(e)
}

/// What the page may set when starting a run (every field optional, camelCase in JS).
#[derive(Debug, Default)]
pub struct Options {
    pub nodes: Option<u32>,
    /// Chosen at random (and reported back) when absent.
    pub seed: Option<u64>,
    /// `"paper"` (150–300 ms election timeout, the default) or `"raftscope"` (100–200 ms).
    pub timings: Option<String>,
    pub heartbeat: Option<Millis>,
    pub election_min: Option<Millis>,
    pub election_max: Option<Millis>,
    pub pre_vote: Option<bool>,
    pub check_quorum: Option<bool>,
    pub latency_min: Option<Millis>,
    pub latency_max: Option<Millis>,
    /// Message loss in percent (0–100).
    pub loss: Option<f64>,
    pub request_timeout: Option<Millis>,
    /// Log compaction: each node snapshots its store once this many entries are applied
    /// past its last snapshot. Absent: nodes keep their whole logs.
    pub compact_every: Option<u64>,
    /// Bytes of state per InstallSnapshot chunk (with `compact_every`; default
    /// [`DEFAULT_SNAPSHOT_CHUNK`]).
    pub snapshot_chunk: Option<u64>,
}

/// Chunk size when only `compactEvery` is given: the simulator's own (a store of a few
/// keys takes several chunks, so the transfer is visible).
pub const DEFAULT_SNAPSHOT_CHUNK: usize = duckgoose_sim::Compaction::SIM.chunk_bytes;

/// A seed a person can read and type: below a million.
fn random_seed() -> u64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from(u32::from_le_bytes(bytes) % 1_000_000),
        // No entropy source: still a valid run, just a predictable one.
        Err(_) => 42,
    }
}

pub fn percent_to_ppm(percent: f64) -> Result<u32, Invalid> {
    if !(0.0..=100.0).contains(&percent) {
        return Err(Invalid("loss: 0 to 100 percent".into()));
    }
    Ok((percent * 10_000.0).round() as u32)
}

/// A whole number a person typed (0 to 2^53-1).
fn whole(key: &str, v: f64) -> Result<u64, Invalid> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 9_007_199_254_740_992.0 {
        Ok(v as u64)
    } else {
        Err(Invalid(format!("{key}: expected a whole number")))
    }
}

impl Options {
    /// Reads the options object field by field (unknown fields are refused).
    fn from_js(obj: &JsValue) -> Result<Options, Invalid> {
        let mut o = Options::default();
        if obj.is_undefined() || obj.is_null() {
            return Ok(o);
        }
        if !obj.is_object() {
            return Err(Invalid("options: expected an object".into()));
        }
        let keys = js_sys::Object::keys(obj.unchecked_ref::<js_sys::Object>());
        for key in keys.iter() {
            let key = key.as_string().unwrap_or_default();
            let v = js_sys::Reflect::get(obj, &JsValue::from_str(&key))
                .map_err(|_| Invalid(format!("options: cannot read {key}")))?;
            if v.is_undefined() || v.is_null() {
                continue;
            }
            let number = || {
                v.as_f64()
                    .ok_or_else(|| Invalid(format!("{key}: expected a number")))
            };
            let int = || number().and_then(|n| whole(&key, n));
            let boolean = || {
                v.as_bool()
                    .ok_or_else(|| Invalid(format!("{key}: expected true or false")))
            };
            match key.as_str() {
                "nodes" => o.nodes = Some(int()?.min(u64::from(u32::MAX)) as u32),
                "seed" => o.seed = Some(int()?),
                "timings" => {
                    o.timings = Some(
                        v.as_string()
                            .ok_or_else(|| Invalid("timings: expected a string".into()))?,
                    )
                }
                "heartbeat" => o.heartbeat = Some(int()?),
                "electionMin" => o.election_min = Some(int()?),
                "electionMax" => o.election_max = Some(int()?),
                "preVote" => o.pre_vote = Some(boolean()?),
                "checkQuorum" => o.check_quorum = Some(boolean()?),
                "latencyMin" => o.latency_min = Some(int()?),
                "latencyMax" => o.latency_max = Some(int()?),
                "loss" => o.loss = Some(number()?),
                "requestTimeout" => o.request_timeout = Some(int()?),
                "compactEvery" => o.compact_every = Some(int()?),
                "snapshotChunk" => o.snapshot_chunk = Some(int()?),
                _ => return Err(Invalid(format!("options: unknown option \"{key}\""))),
            }
        }
        Ok(o)
    }

    pub fn to_config(&self) -> Result<SimConfig, Invalid> {
        let nodes = self.nodes.unwrap_or(5);
        let seed = self.seed.unwrap_or_else(random_seed);
        let mut c = match self.timings.as_deref() {
            None | Some("paper") => SimConfig::new(nodes, seed),
            Some("raftscope") => SimConfig::raftscope(nodes, seed),
            Some(other) => {
                return Err(Invalid(format!(
                    "timings: \"paper\" or \"raftscope\", not \"{other}\""
                )));
            }
        };
        if let Some(v) = self.heartbeat {
            c.heartbeat_interval = v;
        }
        if let Some(v) = self.election_min {
            c.election_timeout_min = v;
        }
        if let Some(v) = self.election_max {
            c.election_timeout_max = v;
        }
        if let Some(v) = self.pre_vote {
            c.pre_vote = v;
        }
        if let Some(v) = self.check_quorum {
            c.check_quorum = v;
        }
        if let Some(v) = self.latency_min {
            c.network.latency_min = v;
        }
        if let Some(v) = self.latency_max {
            c.network.latency_max = v;
        }
        if let Some(v) = self.loss {
            c.network.loss_ppm = percent_to_ppm(v)?;
        }
        if let Some(v) = self.request_timeout {
            c.request_timeout = v;
        }
        match (self.compact_every, self.snapshot_chunk) {
            (Some(0), _) => return Err(Invalid("compactEvery: at least 1 entry".into())),
            (Some(threshold), chunk) => {
                c.compaction = Some(Compaction {
                    threshold,
                    random_ppm: 0,
                    // Out of range (check_config names the limits) rather than truncated.
                    chunk_bytes: chunk.map_or(DEFAULT_SNAPSHOT_CHUNK, |b| {
                        usize::try_from(b).unwrap_or(usize::MAX)
                    }),
                });
            }
            (None, Some(_)) => {
                return Err(Invalid("snapshotChunk: only with compactEvery".into()));
            }
            (None, None) => {}
        }
        limits::check_config(&c)?;
        Ok(c)
    }
}

/// A simulated cluster in the page.
#[wasm_bindgen]
pub struct Sim {
    engine: Engine,
    log_tail: usize,
    verbose: bool,
    goose: Option<NodeId>,
    /// The last frame, packed; kept to reuse its buffers.
    packed: Packed,
    /// The log tails the last frame carried, and the decoder's copy of them (made by the
    /// first frame).
    sent_logs: SentLogs,
    decoder_cache: Option<js_sys::Object>,
}

// The page's frames cross the boundary packed; this turns them back into objects.
#[wasm_bindgen(module = "/js/frame.js")]
extern "C" {
    #[wasm_bindgen(js_name = decodeFrame, catch)]
    fn decode_frame(cache: &js_sys::Object, nums: &[f64], text: &str) -> Result<JsValue, JsValue>;
}

/// Every invariant the simulator checks, in the checker's order, as `{id, name,
/// description}` (`id` is what `frame.view.violations[].invariant` names it): the page
/// builds its invariants box from this list rather than keeping one of its own.
#[wasm_bindgen]
pub fn invariants() -> Result<JsValue, JsError> {
    let list: Vec<String> = duckgoose_sim::checker::Invariant::ALL
        .iter()
        .map(|&id| {
            json::Object::new()
                .str("id", &frame::invariant_id(id))
                .str("name", id.name())
                .str("description", id.description())
                .finish()
        })
        .collect();
    parse_json(&json::array(list.iter().map(String::as_str)))
}

fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

#[wasm_bindgen]
impl Sim {
    /// `new Sim({nodes: 5, seed: 42, ...})`; every option may be left out.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Sim, JsError> {
        let options = Options::from_js(&options).map_err(invalid)?;
        let config = options.to_config().map_err(invalid)?;
        Ok(Sim::wrap(Engine::new(config).map_err(invalid)?))
    }

    /// A run from an exported scenario (the text `scenario()` returns), at time 0; its
    /// recorded actions play as time advances.
    #[wasm_bindgen(js_name = fromScenario)]
    pub fn from_scenario(scenario: &str) -> Result<Sim, JsError> {
        let scenario = text::parse_scenario(scenario).map_err(invalid)?;
        Ok(Sim::wrap(Engine::from_scenario(scenario).map_err(invalid)?))
    }

    fn wrap(engine: Engine) -> Sim {
        Sim {
            engine,
            log_tail: 12,
            verbose: false,
            goose: None,
            packed: Packed::default(),
            sent_logs: SentLogs::default(),
            decoder_cache: None,
        }
    }

    /// The run's configuration (`SimConfig`, snake_case fields).
    pub fn config(&self) -> Result<JsValue, JsError> {
        parse_json(&config_json(&self.engine.scenario().config))
    }

    #[wasm_bindgen(getter)]
    pub fn seed(&self) -> f64 {
        self.engine.scenario().config.seed as f64
    }

    #[wasm_bindgen(getter)]
    pub fn now(&self) -> f64 {
        self.engine.now() as f64
    }

    /// The furthest time reached: the end of the scrubbable timeline.
    #[wasm_bindgen(getter)]
    pub fn horizon(&self) -> f64 {
        self.engine.horizon() as f64
    }

    /// The node now showing goose, if any.
    #[wasm_bindgen(getter)]
    pub fn goose(&self) -> Option<f64> {
        self.engine.cluster().goose().map(|id| id as f64)
    }

    /// FNV hash of the whole trace so far, as 16 hex digits.
    pub fn hash(&self) -> String {
        hex(self.engine.hash())
    }

    /// The id the next added node gets, or `undefined` when the cluster is full.
    #[wasm_bindgen(js_name = nextNodeId)]
    pub fn next_node_id(&self) -> Option<f64> {
        self.engine.next_node_id().map(|id| id as f64)
    }

    /// Include message sends and drops in the event log.
    #[wasm_bindgen(js_name = setVerbose)]
    pub fn set_verbose(&mut self, verbose: bool) {
        self.verbose = verbose;
    }

    /// How many log entries per node the view carries (1–64).
    #[wasm_bindgen(js_name = setLogTail)]
    pub fn set_log_tail(&mut self, entries: u32) {
        self.log_tail = entries.clamp(1, 64) as usize;
    }

    /// Advances virtual time by `dt` ms (fractions carry over; at most a minute a call)
    /// and returns `{view, lines, answers, zones, horizon, replaying, hash}`.
    pub fn frame(&mut self, dt: f64) -> Result<JsValue, JsError> {
        self.engine.advance_by(dt);
        self.collect()
    }

    /// Runs to the next moment anything happens, then returns a frame.
    pub fn step(&mut self) -> Result<JsValue, JsError> {
        self.engine.step();
        self.collect()
    }

    /// Runs forward to virtual time `t` (ms), then returns a frame.
    #[wasm_bindgen(js_name = runUntil)]
    pub fn run_until(&mut self, t: f64) -> Result<JsValue, JsError> {
        let t = checked_time(t)?;
        self.engine.advance_to(t.max(self.engine.now()));
        self.collect()
    }

    /// Jumps to virtual time `t` (backwards by deterministic replay), then returns a
    /// frame whose lines are the last few before `t`.
    pub fn seek(&mut self, t: f64) -> Result<JsValue, JsError> {
        let t = checked_time(t)?;
        self.engine.seek(t);
        self.goose = None;
        self.collect()
    }

    /// Applies an action now and records it, e.g. `"crash 3"`, `"partition 1,2/3,4,5"`,
    /// `"request 2 goose"` (the syntax is in `text.rs`). Returns the request id for
    /// actions that send a request (its answer comes in a later frame's `answers`).
    pub fn act(&mut self, action: &str) -> Result<Option<f64>, JsError> {
        let action = text::parse_action(action).map_err(invalid)?;
        let id = self.engine.act(action).map_err(invalid)?;
        Ok(id.map(|id| id as f64))
    }

    /// Sets the loss (percent) and latency range on every link.
    #[wasm_bindgen(js_name = setNetwork)]
    pub fn set_network(
        &mut self,
        loss_percent: f64,
        latency_min: f64,
        latency_max: f64,
    ) -> Result<(), JsError> {
        let faults = faults(loss_percent, latency_min, latency_max)?;
        self.engine
            .act(Action::Network { faults })
            .map_err(invalid)?;
        Ok(())
    }

    /// Sets loss and latency on the one-way link `from → to`; `reset` returns it to the
    /// global setting.
    #[wasm_bindgen(js_name = setLink)]
    pub fn set_link(
        &mut self,
        from: f64,
        to: f64,
        loss_percent: f64,
        latency_min: f64,
        latency_max: f64,
        reset: bool,
    ) -> Result<(), JsError> {
        let faults = if reset {
            None
        } else {
            Some(faults(loss_percent, latency_min, latency_max)?)
        };
        let action = Action::LinkFaults {
            from: checked_id(from)?,
            to: checked_id(to)?,
            faults,
        };
        self.engine.act(action).map_err(invalid)?;
        Ok(())
    }

    /// The current loss (percent) and latency of the link `from → to`:
    /// `{loss, latencyMin, latencyMax, cut, custom}`.
    #[wasm_bindgen(js_name = linkInfo)]
    pub fn link_info(&self, from: f64, to: f64) -> Result<JsValue, JsError> {
        let (from, to) = (checked_id(from)?, checked_id(to)?);
        let net = self.engine.cluster().network();
        let f = net.faults(from, to);
        let info = json::Object::new()
            .decimal("loss", u64::from(f.loss_ppm), 4)
            .num("latencyMin", f.latency_min)
            .num("latencyMax", f.latency_max)
            .bool("cut", !net.is_connected(from, to))
            .bool("custom", f != net.defaults);
        parse_json(&info.finish())
    }

    /// "Why no goose?" about `node` now and, given `index`, "why is that entry not
    /// committed?" as far as the node knows: `{node, status, notGoose, gooseText, index,
    /// uncommitted, entryText}`. `notGoose` and `uncommitted` are the core's structured
    /// reasons (`{kind, ...}`; absent when it is the goose / the entry is committed, or
    /// the node is not up); the texts word them for the page.
    pub fn why(&self, node: f64, index: Option<f64>) -> Result<JsValue, JsError> {
        let node = checked_id(node)?;
        let index = index.map(checked_index).transpose()?;
        let cluster = self.engine.cluster();
        let status = cluster
            .status(node)
            .ok_or_else(|| JsError::new(&format!("no node {node}")))?;
        struct Why {
            node: NodeId,
            status: &'static str,
            not_goose: Option<NotGoose>,
            goose_text: String,
            index: Option<u64>,
            uncommitted: Option<Uncommitted>,
            entry_text: Option<String>,
        }
        let mut why = Why {
            node,
            status: "up",
            not_goose: None,
            goose_text: String::new(),
            index,
            uncommitted: None,
            entry_text: None,
        };
        match (status, cluster.replica(node)) {
            (NodeStatus::Up, Some(replica)) => {
                let raft = replica.raft();
                // By the node's own clock, as it decides whether it shows as goose.
                let now = cluster.clock_reading(node).unwrap_or(cluster.now());
                why.not_goose = raft.why_not_goose(now);
                why.goose_text = why.not_goose.as_ref().map_or_else(
                    || format!("{node} is the goose: it leads with a quorum-confirmed lease"),
                    |r| explain::not_goose_text(node, r),
                );
                if let Some(i) = index {
                    why.uncommitted = raft.why_uncommitted(i);
                    why.entry_text = Some(why.uncommitted.as_ref().map_or_else(
                        || format!("entry {i} is committed as far as {node} knows"),
                        |r| explain::uncommitted_text(node, i, r),
                    ));
                }
            }
            (NodeStatus::Paused, _) => {
                why.status = "paused";
                why.goose_text = format!(
                    "{node} is paused: it does nothing, and its messages wait, until it resumes"
                );
            }
            _ => {
                why.status = "down";
                why.goose_text = format!("{node} is down: it crashed and was not restarted");
            }
        }
        let json = json::Object::new()
            .num("node", why.node)
            .str("status", why.status)
            .opt_raw(
                "notGoose",
                why.not_goose.map(|r| not_goose_json(&r)).as_deref(),
            )
            .str("gooseText", &why.goose_text)
            .opt_num("index", why.index)
            .opt_raw(
                "uncommitted",
                why.uncommitted.map(|r| uncommitted_json(&r)).as_deref(),
            )
            .opt_str("entryText", why.entry_text.as_deref());
        parse_json(&json.finish())
    }

    /// The recorded run as text: a config line, then `MS ACTION` lines.
    pub fn scenario(&self) -> String {
        text::format_scenario(self.engine.scenario())
    }

    /// Replays a scenario to `until` ms without drawing anything and returns
    /// `{hash, nodeEvents}`: the browser half of the cross-target determinism check
    /// (the native half is `cargo run -p duckgoose-tests --bin replay`).
    #[wasm_bindgen(js_name = replayHash)]
    pub fn replay_hash(scenario: &str, until: f64) -> Result<JsValue, JsError> {
        let scenario = text::parse_scenario(scenario).map_err(invalid)?;
        let until = checked_time(until)?;
        let (hash, node_events) =
            duckgoose_sim::scenario::replay_hash(&scenario, until).map_err(invalid)?;
        let replayed = json::Object::new()
            .str("hash", &hex(hash))
            .num("nodeEvents", node_events);
        parse_json(&replayed.finish())
    }

    fn collect(&mut self) -> Result<JsValue, JsError> {
        self.pack_frame();
        let cache = self.decoder_cache.get_or_insert_with(js_sys::Object::new);
        decode_frame(cache, &self.packed.nums, &self.packed.text).map_err(|e| {
            // Start the next frame afresh on both sides, every label sent again, rather
            // than refer to log entries the decoder may not have kept.
            self.sent_logs = SentLogs::default();
            self.decoder_cache = None;
            JsError::new(&format!("frame: {e:?}"))
        })
    }
}

/// The Rust half of a frame, callable natively (the frame-cost example measures it).
impl Sim {
    /// Advances to `t` like `runUntil` and packs the frame, without handing it to JS.
    pub fn pack_until(&mut self, t: Millis) -> &Packed {
        self.engine.advance_to(t.max(self.engine.now()));
        self.pack_frame();
        &self.packed
    }

    /// Applies a parsed action now, as `act` does.
    pub fn act_parsed(&mut self, action: Action) -> Result<Option<u64>, Invalid> {
        self.engine.act(action)
    }

    /// The node that leads the newest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.engine.cluster().leader()
    }

    /// Packs the frame for what happened since the last one into `self.packed`.
    fn pack_frame(&mut self) {
        let trace = self.engine.take_trace();
        let verbose = self.verbose;
        let has_line = |t: &Traced| match t {
            Traced::Event(e) => explain::has_line(e, verbose),
            Traced::Snapshot(_) => true,
        };
        let answers: Vec<Answer> = self
            .engine
            .take_completed()
            .iter()
            .map(explain::answer)
            .collect();
        let view = self.engine.view(self.log_tail);
        let goose_changed = view.goose != self.goose;
        // A long jump makes thousands of lines: only the last MAX_LINES_PER_FRAME are
        // worded, behind one line saying how many were skipped.
        let total = trace.iter().filter(|t| has_line(t)).count() + usize::from(goose_changed);
        let skipped = total.saturating_sub(MAX_LINES_PER_FRAME);
        let mut lines: Vec<Line> = trace
            .iter()
            .filter(|t| has_line(t))
            .skip(skipped)
            .filter_map(|t| match t {
                Traced::Event(e) => explain::explain(e, verbose),
                Traced::Snapshot(note) => Some(explain::snapshot_note(note)),
            })
            .collect();
        if goose_changed {
            lines.push(goose_line(&view, self.goose));
            self.goose = view.goose;
        }
        if skipped > 0 {
            lines.insert(
                0,
                explain::line(
                    lines[0].at,
                    "other",
                    None,
                    None,
                    format!("… {skipped} earlier lines skipped"),
                ),
            );
        }
        let hash = hex(self.engine.hash());
        let frame = Frame {
            view: &view,
            lines: &lines,
            answers: &answers,
            zones: &self.engine.zones(),
            carry: self.engine.carry(),
            horizon: self.engine.horizon(),
            replaying: self.engine.replaying(),
            hash: &hash,
        };
        self.packed.clear();
        frame.pack(&mut self.sent_logs, &mut self.packed);
    }
}

fn goose_line(view: &ClusterView<'_>, before: Option<NodeId>) -> Line {
    let (text, node, term) = match (view.goose, before) {
        (Some(g), _) => {
            let term = view.nodes.iter().find(|n| n.id == g).map(|n| n.term);
            let t = term.map_or(String::new(), |t| format!(" of term {t}"));
            (
                format!("{g} is the goose{t}: leader with a quorum-confirmed lease"),
                Some(g),
                term,
            )
        }
        (None, Some(b)) => (
            format!("no goose: {b} no longer holds a quorum-confirmed lease"),
            Some(b),
            None,
        ),
        (None, None) => ("no goose".to_string(), None, None),
    };
    explain::line(view.now, "goose", node, term, text)
}

/// The run's `SimConfig`, with the field names the core gives it (snake_case).
fn config_json(c: &SimConfig) -> String {
    let network = json::Object::new()
        .num("latency_min", c.network.latency_min)
        .num("latency_max", c.network.latency_max)
        .num("loss_ppm", u64::from(c.network.loss_ppm))
        .num("duplicate_ppm", u64::from(c.network.duplicate_ppm))
        .finish();
    let compaction = c.compaction.map(|k| {
        json::Object::new()
            .num("threshold", k.threshold)
            .num("random_ppm", u64::from(k.random_ppm))
            .num("chunk_bytes", k.chunk_bytes as u64)
            .finish()
    });
    json::Object::new()
        .num("nodes", u64::from(c.nodes))
        .num("seed", c.seed)
        .num("heartbeat_interval", c.heartbeat_interval)
        .num("election_timeout_min", c.election_timeout_min)
        .num("election_timeout_max", c.election_timeout_max)
        .opt_num("goose_lease", c.goose_lease)
        .bool("pre_vote", c.pre_vote)
        .bool("check_quorum", c.check_quorum)
        .raw("network", &network)
        .num("request_timeout", c.request_timeout)
        .bool("close_notices", c.close_notices)
        .opt_raw("compaction", compaction.as_deref())
        .opt_num(
            "max_entries_per_message",
            c.max_entries_per_message.map(|n| n as u64),
        )
        .opt_str("unsafe_variant", c.unsafe_variant.map(|v| v.name()))
        .finish()
}

/// The core's "why no goose?" reason: `{kind, ...its fields}`.
fn not_goose_json(reason: &NotGoose) -> String {
    let o = json::Object::new();
    match *reason {
        NotGoose::NotLeader { leader } => o.str("kind", "not_leader").opt_num("leader", leader),
        NotGoose::NoCheckQuorum => o.str("kind", "no_check_quorum"),
        NotGoose::Transferring { to } => o.str("kind", "transferring").num("to", to),
        NotGoose::TermNotCommitted {
            term,
            term_start,
            commit_index,
        } => o
            .str("kind", "term_not_committed")
            .num("term", term)
            .num("term_start", term_start)
            .num("commit_index", commit_index),
        NotGoose::LeaseExpired {
            confirmed_at,
            expired_at,
            acknowledged,
            quorum,
        } => o
            .str("kind", "lease_expired")
            .opt_num("confirmed_at", confirmed_at)
            .opt_num("expired_at", expired_at)
            .num("acknowledged", acknowledged as u64)
            .num("quorum", quorum as u64),
    }
    .finish()
}

/// The core's "why is this entry not committed?" reason: `{kind, ...its fields}`.
fn uncommitted_json(reason: &Uncommitted) -> String {
    let o = json::Object::new();
    match *reason {
        Uncommitted::NotInLog { last_index } => {
            o.str("kind", "not_in_log").num("last_index", last_index)
        }
        Uncommitted::NotLeader {
            leader,
            commit_index,
        } => o
            .str("kind", "not_leader")
            .opt_num("leader", leader)
            .num("commit_index", commit_index),
        Uncommitted::TooFewReplicas { replicas, quorum } => o
            .str("kind", "too_few_replicas")
            .num("replicas", replicas as u64)
            .num("quorum", quorum as u64),
        Uncommitted::EarlierTerm { entry_term, term } => o
            .str("kind", "earlier_term")
            .num("entry_term", entry_term)
            .num("term", term),
        Uncommitted::NextAcknowledgement => o.str("kind", "next_acknowledgement"),
    }
    .finish()
}

fn checked_index(i: f64) -> Result<u64, JsError> {
    if !(1.0..=u32::MAX as f64).contains(&i) || i.fract() != 0.0 {
        return Err(JsError::new("log indexes are whole numbers from 1"));
    }
    Ok(i as u64)
}

fn checked_time(t: f64) -> Result<Millis, JsError> {
    if !t.is_finite() || t < 0.0 || t > limits::MAX_TIME as f64 {
        return Err(JsError::new(&format!("time: 0 to {} ms", limits::MAX_TIME)));
    }
    Ok(t as Millis)
}

fn checked_id(id: f64) -> Result<NodeId, JsError> {
    if !(1.0..=limits::MAX_NODE_ID as f64).contains(&id) || id.fract() != 0.0 {
        return Err(JsError::new(&format!(
            "node ids are whole numbers from 1 to {}",
            limits::MAX_NODE_ID
        )));
    }
    Ok(id as NodeId)
}

// Error messages here never print the offending f64: float formatting alone would add
// 15 KB to the wasm.
fn checked_delay(what: &str, ms: f64) -> Result<Millis, JsError> {
    if !ms.is_finite() || ms < 0.0 || ms > limits::MAX_DELAY as f64 {
        return Err(JsError::new(&format!(
            "{what}: 0 to {} ms",
            limits::MAX_DELAY
        )));
    }
    Ok(ms.round() as Millis)
}

fn faults(loss_percent: f64, latency_min: f64, latency_max: f64) -> Result<LinkFaults, JsError> {
    let loss_ppm = if loss_percent.is_finite() {
        percent_to_ppm(loss_percent).map_err(invalid)?
    } else {
        return Err(JsError::new("loss: 0 to 100 percent"));
    };
    let (min, max) = (
        checked_delay("latency", latency_min)?,
        checked_delay("latency", latency_max)?,
    );
    if min > max {
        return Err(JsError::new("latency: minimum above maximum"));
    }
    Ok(LinkFaults {
        latency_min: min,
        latency_max: max,
        loss_ppm,
        duplicate_ppm: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_and_validate() {
        let c = Options {
            seed: Some(7),
            ..Options::default()
        }
        .to_config()
        .unwrap();
        assert_eq!(c, SimConfig::new(5, 7));
        let bad = Options {
            nodes: Some(0),
            ..Options::default()
        };
        assert!(bad.to_config().is_err());
        let bad = Options {
            loss: Some(101.0),
            ..Options::default()
        };
        assert!(bad.to_config().is_err());
        let bad = Options {
            timings: Some("fast".into()),
            ..Options::default()
        };
        assert!(bad.to_config().is_err());
        let rs = Options {
            timings: Some("raftscope".into()),
            seed: Some(1),
            ..Options::default()
        };
        assert_eq!(rs.to_config().unwrap(), SimConfig::raftscope(5, 1));
        assert!(Options::default().to_config().unwrap().seed < 1_000_000);
    }

    #[test]
    fn compaction_options() {
        let with = |compact_every, snapshot_chunk| {
            Options {
                seed: Some(1),
                compact_every,
                snapshot_chunk,
                ..Options::default()
            }
            .to_config()
        };
        assert_eq!(with(None, None).unwrap().compaction, None);
        assert_eq!(
            with(Some(10), None).unwrap().compaction,
            Some(Compaction {
                threshold: 10,
                random_ppm: 0,
                chunk_bytes: DEFAULT_SNAPSHOT_CHUNK,
            })
        );
        assert_eq!(
            with(Some(10), Some(64))
                .unwrap()
                .compaction
                .unwrap()
                .chunk_bytes,
            64
        );
        let refused = |c: Result<SimConfig, Invalid>| c.unwrap_err().0;
        assert_eq!(
            refused(with(Some(0), None)),
            "compactEvery: at least 1 entry"
        );
        assert_eq!(
            refused(with(None, Some(16))),
            "snapshotChunk: only with compactEvery"
        );
        assert!(refused(with(Some(10), Some(0))).starts_with("compact: chunks of 1 to"));
        assert!(refused(with(Some(10), Some(1 << 40))).starts_with("compact: chunks of 1 to"));
    }
}
