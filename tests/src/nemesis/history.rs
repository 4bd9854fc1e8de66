//! The run's history: every client operation (invoke, then ok / fail / info), every goose
//! and status question, every fault, on one monotonic clock (nanoseconds since the run
//! started; the wall clock of the start is in the header, so `wall_ns = start_wall_ns +
//! t`). Written as JSON lines, one event per line, and kept in memory for the checks.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub type NodeId = u64;

/// Key-value operations and what they returned are the core's own types
/// ([`kv::Op`], [`kv::Output`]): the history speaks the same language as the log.
pub use duckgoose_core::kv;

/// The answer to `GET /goose` (or the goose part of `GET /status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum GooseAnswer {
    Goose { term: Option<u64> },
    Duck { reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSeen {
    pub state: String,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub goose_term: Option<u64>,
    pub commit_index: u64,
    pub members: Vec<NodeId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A client starts an operation (`process` is the client; final reads use 1000).
    Invoke {
        t: u64,
        process: u64,
        op: u64,
        node: NodeId,
        #[serde(flatten)]
        call: kv::Op,
    },
    /// It completed: `result` is what it returned; `node` answered it.
    Ok {
        t: u64,
        process: u64,
        op: u64,
        node: NodeId,
        result: kv::Output,
    },
    /// It certainly had no effect (a duck's refusal, 503, connection refused).
    Fail {
        t: u64,
        process: u64,
        op: u64,
        node: NodeId,
        error: String,
    },
    /// Unknown outcome (timeout, 504, connection lost after sending).
    Info {
        t: u64,
        process: u64,
        op: u64,
        node: NodeId,
        error: String,
    },
    /// `GET /goose` to `node`, asked at `invoked`, answered at `t`.
    Goose {
        t: u64,
        invoked: u64,
        node: NodeId,
        #[serde(flatten)]
        answer: GooseAnswer,
    },
    /// `GET /status` to `node`, asked at `invoked`, answered at `t`.
    Status {
        t: u64,
        invoked: u64,
        node: NodeId,
        #[serde(flatten)]
        status: StatusSeen,
    },
    /// A fault starts (`phase: start`) or is undone (`end`); `id` pairs them.
    Nemesis {
        t: u64,
        id: u64,
        phase: Phase,
        fault: String,
        nodes: Vec<NodeId>,
        detail: String,
    },
    /// Something the run noticed as it happened (a node exiting by itself, ...).
    Note { t: u64, what: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Start,
    End,
    /// An action with no duration (transfer, membership change, ...).
    Instant,
}

impl Event {
    pub fn t(&self) -> u64 {
        match self {
            Event::Invoke { t, .. }
            | Event::Ok { t, .. }
            | Event::Fail { t, .. }
            | Event::Info { t, .. }
            | Event::Goose { t, .. }
            | Event::Status { t, .. }
            | Event::Nemesis { t, .. }
            | Event::Note { t, .. } => *t,
        }
    }
}

/// Collects events from every task.
pub struct Recorder {
    start: Instant,
    pub start_wall_ns: u128,
    events: Mutex<Vec<Event>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            start_wall_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Nanoseconds since the run started (monotonic).
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn record(&self, event: Event) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }

    pub fn note(&self, what: impl Into<String>) {
        let what = what.into();
        eprintln!("nemesis: {what}");
        self.record(Event::Note {
            t: self.now(),
            what,
        });
    }

    /// Every event so far, in the order recorded.
    pub fn snapshot(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes `events` as JSON lines after a header line.
pub fn write_jsonl(
    path: &std::path::Path,
    header: &serde_json::Value,
    events: &[Event],
) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "{header}")?;
    for event in events {
        serde_json::to_writer(&mut out, event).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads a history written by [`write_jsonl`]: the header and the events.
pub fn read_jsonl(path: &std::path::Path) -> Result<(serde_json::Value, Vec<Event>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or("empty history")
        .and_then(|l| serde_json::from_str(l).map_err(|_| "bad header"))?;
    let events = lines
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 2)))
        .collect::<Result<Vec<Event>, String>>()?;
    Ok((header, events))
}
