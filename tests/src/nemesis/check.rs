//! The checks run on a finished history:
//!
//! - **linearizability** of the key-value history, with the core's Wing–Gong/Lowe
//!   checker (P-compositional, per key), final reads included;
//! - **no lost write**: each key's final read (after every fault healed and every node
//!   restarted) returns the last acknowledged write, or a write that may have come after;
//! - **one goose per term**: no two nodes answer goose for the same term;
//! - **no stale goose**: a goose answer's term is never older than a goose answer that
//!   completed before the question was asked, nor older than a leader some node reported
//!   (`/status`) before the question was asked: once a majority elected a newer leader,
//!   the old one (a minority side) never answers goose again;
//! - **no goose on a minority side** while a symmetric partition is fully in force;
//! - **recovery**: a goose within the bound after the last heal, and after the full
//!   restart;
//! - nodes never exit by themselves or panic, and never answer with a status the API
//!   does not document.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use duckgoose_lincheck::{self as lincheck, CheckError, Operation, Outcome};
use serde::{Deserialize, Serialize};

use super::faults::CleanWindow;
use super::history::{Event, GooseAnswer, NodeId, Phase, kv};
use super::workload::FINAL_PROCESS;

/// Facts the run gathered outside the history, kept in its header so that `--check`
/// can redo every check offline.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Facts {
    /// When the last fault was healed and every node served again.
    pub healed_at: Option<u64>,
    /// When the first goose answer after that completed.
    pub goose_after_heal: Option<u64>,
    pub recovery_bound_ms: u64,
    /// When every node served again after the full restart, and the first goose after.
    pub restarted_at: Option<u64>,
    pub goose_after_restart: Option<u64>,
    pub clean_windows: Vec<CleanWindow>,
    pub unexpected_exits: Vec<String>,
    pub log_panics: Vec<String>,
    pub fault_counts: BTreeMap<String, u64>,
    pub keys: u32,
    /// Minutes of faults; scales the floors (0 in histories recorded before floors).
    #[serde(default)]
    pub minutes: f64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: &'static str,
    pub detail: String,
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub anomalies: Vec<Anomaly>,
    /// The whole linearizability violation (every operation on the key), if any.
    pub violation: Option<String>,
    pub stats: BTreeMap<String, u64>,
    pub lincheck: Option<lincheck::CheckStats>,
}

impl Verdict {
    fn fail(&mut self, kind: &'static str, detail: String) {
        self.anomalies.push(Anomaly { kind, detail });
    }

    fn count(&mut self, what: impl Into<String>) {
        *self.stats.entry(what.into()).or_default() += 1;
    }
}

/// Per-key search budget: far beyond what these histories need; running out is
/// reported, never passed off as success.
const LINCHECK_BUDGET: u64 = 200_000_000;

fn ms(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

/// A client operation with its invocation and completion.
#[derive(Clone, Debug)]
pub struct Op {
    pub process: u64,
    pub node: NodeId,
    pub call: kv::Op,
    pub invoked: u64,
    /// (time, result) of an ok completion.
    pub ok: Option<(u64, kv::Output)>,
    pub failed: bool,
}

pub fn operations(events: &[Event]) -> Vec<Op> {
    let mut ops: BTreeMap<u64, Op> = BTreeMap::new();
    for e in events {
        match e {
            Event::Invoke {
                t,
                process,
                op,
                node,
                call,
            } => {
                ops.insert(
                    *op,
                    Op {
                        process: *process,
                        node: *node,
                        call: call.clone(),
                        invoked: *t,
                        ok: None,
                        failed: false,
                    },
                );
            }
            Event::Ok { t, op, result, .. } => {
                if let Some(o) = ops.get_mut(op) {
                    o.ok = Some((*t, result.clone()));
                }
            }
            Event::Fail { op, .. } => {
                if let Some(o) = ops.get_mut(op) {
                    o.failed = true;
                }
            }
            _ => {}
        }
    }
    ops.into_values().collect()
}

fn to_lincheck(op: &Op) -> Operation {
    let outcome = match (&op.ok, op.failed) {
        (Some((t, output)), _) => Outcome::Ok {
            completed_at: *t,
            output: output.clone(),
        },
        (None, true) => Outcome::Failed,
        (None, false) => Outcome::Indeterminate,
    };
    Operation {
        client: op.process,
        op: op.call.clone(),
        invoked_at: op.invoked,
        outcome,
    }
}

/// The checker's explanation, and the operations on the key from a second before the
/// one that cannot be placed until it completed.
fn excerpt(violation: &lincheck::Violation) -> String {
    let mut out = format!("key {:?}: ", violation.key);
    let mut explanation = violation.explanation.clone();
    if explanation.len() > 1500 {
        // Keep the end: it names the operation that does not fit.
        let cut = explanation.len() - 1500;
        let cut = (cut..explanation.len())
            .find(|&i| explanation.is_char_boundary(i))
            .unwrap_or(cut);
        explanation = format!("…{}", &explanation[cut..]);
    }
    out.push_str(&explanation);
    let culprit = violation
        .explanation
        .rsplit_once("before #")
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .and_then(|i| violation.operations.get(i));
    if let Some(op) = culprit {
        let end = match op.outcome {
            Outcome::Ok { completed_at, .. } => completed_at,
            _ => op.invoked_at,
        };
        let start = op.invoked_at.saturating_sub(1_000_000_000);
        let _ = write!(
            out,
            "\n  operations on the key from {} to {}:",
            ms(start),
            ms(end)
        );
        for (i, o) in violation.operations.iter().enumerate() {
            let shown = match o.outcome {
                Outcome::Ok { completed_at, .. } => o.invoked_at <= end && completed_at >= start,
                Outcome::Failed => false,
                // Unknown writes reach forward: show the recent ones.
                Outcome::Indeterminate => {
                    o.invoked_at <= end && o.invoked_at + 10_000_000_000 >= start
                }
            };
            if shown {
                let _ = write!(out, "\n    #{i} {o}");
            }
        }
    }
    out
}

/// What a write leaves in its key, if it writes.
fn written(call: &kv::Op) -> Option<Option<String>> {
    match call {
        kv::Op::Put { value, .. } | kv::Op::Cas { value, .. } => Some(Some(value.clone())),
        kv::Op::Delete { .. } => Some(None),
        kv::Op::Get { .. } => None,
        kv::Op::Fenced { op, .. } => written(op),
    }
}

fn check_lost_writes(ops: &[Op], keys: u32, v: &mut Verdict) {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        by_key.entry(op.call.key()).or_default().push(op);
    }
    for k in 0..keys {
        let key = format!("k{k}");
        let ops = by_key.get(key.as_str()).cloned().unwrap_or_default();
        let final_read = ops
            .iter()
            .filter(|o| o.process == FINAL_PROCESS)
            .filter_map(|o| match &o.ok {
                Some((t, kv::Output::Value(val))) => Some((*t, val.clone())),
                _ => None,
            })
            .max_by_key(|(t, _)| *t);
        let Some((_, final_value)) = final_read else {
            v.fail(
                "final read failed",
                format!("no final read of {key} succeeded"),
            );
            continue;
        };
        // Writes that surely took effect.
        let acked: Vec<&&Op> = ops
            .iter()
            .filter(|o| match (&o.call, &o.ok) {
                (kv::Op::Cas { .. }, Some((_, kv::Output::Cas { swapped: s }))) => *s,
                (kv::Op::Put { .. } | kv::Op::Delete { .. }, Some(_)) => true,
                _ => false,
            })
            .collect();
        let Some(last) = acked.iter().max_by_key(|o| o.ok.as_ref().map(|x| x.0)) else {
            continue;
        };
        // Writes that may have taken effect after it: not completed before it began.
        let mut possible: BTreeSet<Option<String>> = BTreeSet::new();
        possible.insert(written(&last.call).unwrap_or(None));
        for o in &ops {
            let Some(w) = written(&o.call) else {
                continue;
            };
            if o.failed || matches!(o.ok, Some((_, kv::Output::Cas { swapped: false }))) {
                continue;
            }
            let before = o.ok.as_ref().is_some_and(|(t, _)| *t < last.invoked);
            if !before {
                possible.insert(w);
            }
        }
        if !possible.contains(&final_value) {
            v.fail(
                "lost write",
                format!(
                    "{key}: the write of {:?} acknowledged at {} (by node {}) is gone: after \
                     healing and restarting every node the key reads {final_value:?}",
                    written(&last.call).unwrap_or(None),
                    ms(last.ok.as_ref().map_or(0, |x| x.0)),
                    last.node
                ),
            );
        }
    }
}

struct GooseSeen {
    node: NodeId,
    invoked: u64,
    t: u64,
    term: u64,
}

fn check_goose(events: &[Event], facts: &Facts, v: &mut Verdict) {
    let mut geese = Vec::new();
    for e in events {
        if let Event::Goose {
            t,
            invoked,
            node,
            answer,
        } = e
        {
            match answer {
                GooseAnswer::Goose { term: Some(term) } => {
                    v.count("goose answers: goose");
                    geese.push(GooseSeen {
                        node: *node,
                        invoked: *invoked,
                        t: *t,
                        term: *term,
                    });
                }
                GooseAnswer::Goose { term: None } => v.fail(
                    "goose answer without a term",
                    format!(
                        "node {node} answered goose at {} without x-duckgoose-term",
                        ms(*t)
                    ),
                ),
                GooseAnswer::Duck { .. } => v.count("goose answers: duck"),
            }
        }
    }

    // At most one node per term.
    let mut by_term: BTreeMap<u64, BTreeMap<NodeId, u64>> = BTreeMap::new();
    for g in &geese {
        by_term
            .entry(g.term)
            .or_default()
            .entry(g.node)
            .or_insert(g.t);
    }
    for (term, nodes) in &by_term {
        if nodes.len() > 1 {
            let who: Vec<String> = nodes
                .iter()
                .map(|(n, t)| format!("node {n} (first at {})", ms(*t)))
                .collect();
            v.fail(
                "two geese in one term",
                format!("term {term}: {}", who.join(", ")),
            );
        }
    }
    v.stats.insert("goose terms".into(), by_term.len() as u64);

    // Evidence of the newest term known before a moment: goose answers and leaders
    // reported by /status, by completion time.
    let mut evidence: Vec<(u64, u64, String)> = geese
        .iter()
        .map(|g| (g.t, g.term, format!("node {} answered goose", g.node)))
        .collect();
    for e in events {
        if let Event::Status {
            t, node, status, ..
        } = e
            && status.state == "leader"
        {
            evidence.push((*t, status.term, format!("node {node} reported leading")));
        }
    }
    evidence.sort_by_key(|e| e.0);
    // Prefix maxima: after the i-th evidence, the newest term and what showed it.
    let mut best: Vec<(u64, usize)> = Vec::with_capacity(evidence.len());
    for (i, (_, term, _)) in evidence.iter().enumerate() {
        let prev = best.last().copied().unwrap_or((0, usize::MAX));
        best.push(if *term > prev.0 { (*term, i) } else { prev });
    }
    let mut stale = 0;
    for g in &geese {
        // Evidence completed strictly before the question was asked.
        let n = evidence.partition_point(|e| e.0 < g.invoked);
        if n == 0 {
            continue;
        }
        let (newest, i) = best[n - 1];
        if newest > g.term {
            stale += 1;
            if stale <= 20 {
                let (t, _, what) = &evidence[i];
                v.fail(
                    "stale goose",
                    format!(
                        "node {} answered goose for term {} to a question asked at {}, but {what} \
                         for term {newest} at {}",
                        g.node,
                        g.term,
                        ms(g.invoked),
                        ms(*t)
                    ),
                );
            }
        }
    }

    // Minority sides of clean partitions.
    for w in &facts.clean_windows {
        for g in &geese {
            if w.minority.contains(&g.node) && g.invoked >= w.start && g.t <= w.end {
                v.fail(
                    "goose on a minority side",
                    format!(
                        "node {} answered goose (term {}) at {} while cut off in a minority by \
                         {} ({}..{}, members {:?}, minority {:?})",
                        g.node,
                        g.term,
                        ms(g.t),
                        w.fault,
                        ms(w.start),
                        ms(w.end),
                        w.members,
                        w.minority
                    ),
                );
            }
        }
    }
    v.stats.insert(
        "clean partition windows".into(),
        facts.clean_windows.len() as u64,
    );
}

pub fn check(events: &[Event], facts: &Facts) -> Verdict {
    let mut v = Verdict::default();
    let ops = operations(events);
    for op in &ops {
        let outcome = match (&op.ok, op.failed) {
            (Some(_), _) => "ok",
            (None, true) => "fail",
            (None, false) => "info",
        };
        if op.process == FINAL_PROCESS {
            v.count(format!("final reads: {outcome}"));
        } else {
            v.count(format!("ops: {} {outcome}", op.call.name()));
            v.count(format!("ops: {outcome}"));
            v.count("ops");
        }
    }
    for e in events {
        let text = match e {
            Event::Fail { error, node, .. } | Event::Info { error, node, .. }
                if error.starts_with("UNEXPECTED") =>
            {
                format!("node {node}: {error}")
            }
            Event::Note { what, .. } if what.starts_with("UNEXPECTED status body") => what.clone(),
            Event::Note { what, .. } if what.starts_with("UNEXPECTED partition") => what.clone(),
            _ => continue,
        };
        v.fail("undocumented answer", text);
    }

    // Linearizability.
    let history: Vec<Operation> = ops.iter().map(to_lincheck).collect();
    match lincheck::check_with_budget(&history, LINCHECK_BUDGET) {
        Ok(stats) => v.lincheck = Some(stats),
        Err(CheckError::Violation(violation)) => {
            v.fail("not linearizable", excerpt(&violation));
            v.violation = Some(violation.to_string());
        }
        Err(CheckError::Inconclusive { key, steps }) => v.fail(
            "linearizability inconclusive",
            format!("gave up on key {key} after {steps} steps"),
        ),
    }
    check_lost_writes(&ops, facts.keys, &mut v);
    check_goose(events, facts, &mut v);

    // Recovery.
    match (facts.healed_at, facts.goose_after_heal) {
        (Some(h), Some(g)) => {
            let took = g.saturating_sub(h);
            v.stats
                .insert("recovery after heal (ms)".into(), took / 1_000_000);
            if took > facts.recovery_bound_ms * 1_000_000 {
                v.fail(
                    "slow recovery",
                    format!(
                        "first goose {} after the last heal (bound {} ms)",
                        ms(took),
                        facts.recovery_bound_ms
                    ),
                );
            }
        }
        (Some(_), None) => v.fail("no recovery", "no goose after the last heal".into()),
        _ => {}
    }
    match (facts.restarted_at, facts.goose_after_restart) {
        (Some(r), Some(g)) => {
            v.stats.insert(
                "goose after full restart (ms)".into(),
                g.saturating_sub(r) / 1_000_000,
            );
        }
        (Some(_), None) => v.fail("no recovery", "no goose after restarting every node".into()),
        _ => {}
    }
    for e in &facts.unexpected_exits {
        v.fail("node exited by itself", e.clone());
    }
    for p in &facts.log_panics {
        v.fail("panic in a node log", p.clone());
    }
    let mut faults = 0;
    for e in events {
        if let Event::Nemesis { phase, .. } = e
            && *phase != Phase::End
        {
            faults += 1;
        }
    }
    v.stats.insert("nemesis actions".into(), faults);
    check_floors(facts, &mut v);
    v
}

/// Minimums a run must reach, so one where nothing happens (no faults injected, every
/// request failing fast, no goose ever answering) fails instead of passing vacuously.
/// About a tenth of what a one-minute short run does (65 faults, 15 600 successful
/// operations, 1 385 goose answers in 45 terms for seed 104302570); a shorter run's
/// floors shrink in proportion, a longer one keeps the one-minute floors.
pub const FLOORS: [(&str, u64); 4] = [
    ("faults injected", 20),
    ("ops: ok", 1_500),
    ("goose answers: goose", 100),
    ("goose terms", 5),
];

fn check_floors(facts: &Facts, v: &mut Verdict) {
    let faults: u64 = facts.fault_counts.values().sum();
    let scale = facts.minutes.clamp(0.0, 1.0);
    for (what, floor) in FLOORS {
        let floor = (floor as f64 * scale) as u64;
        let seen = match what {
            "faults injected" => faults,
            _ => v.stats.get(what).copied().unwrap_or(0),
        };
        if seen < floor {
            v.fail(
                "too little happened",
                format!("{what}: {seen}, below the floor of {floor}"),
            );
        }
    }
}

/// The human-readable report.
pub fn report(header: &serde_json::Value, facts: &Facts, v: &Verdict) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Duck Duck Goose nemesis report");
    let _ = writeln!(out, "==============================");
    for field in [
        "seed", "mode", "minutes", "nodes", "clients", "keys", "netns", "started",
    ] {
        if let Some(value) = header.get(field) {
            let _ = writeln!(out, "{field:>9}: {value}");
        }
    }
    let _ = writeln!(out);
    let verdict = if v.anomalies.is_empty() {
        "PASS: 0 anomalies"
    } else {
        "FAIL"
    };
    let _ = writeln!(out, "verdict: {verdict}");
    let _ = writeln!(out);
    let _ = writeln!(out, "faults injected:");
    let mut total = 0;
    for (kind, n) in &facts.fault_counts {
        let _ = writeln!(out, "  {kind:<16} {n}");
        total += n;
    }
    let _ = writeln!(out, "  {:<16} {total}", "total");
    let _ = writeln!(out);
    let _ = writeln!(out, "observations:");
    for (what, n) in &v.stats {
        let _ = writeln!(out, "  {what:<34} {n}");
    }
    if let Some(s) = &v.lincheck {
        let _ = writeln!(
            out,
            "  linearizability: {} keys, {} operations placed, {} search steps",
            s.keys, s.operations, s.steps
        );
    }
    let _ = writeln!(out);
    if v.anomalies.is_empty() {
        let _ = writeln!(
            out,
            "anomalies: none (linearizable, no lost writes, one goose per term, no stale goose, \
             no goose on a minority side, recovered in time, no node crashed)"
        );
    } else {
        let mut kinds: HashMap<&str, usize> = HashMap::new();
        for a in &v.anomalies {
            *kinds.entry(a.kind).or_default() += 1;
        }
        let _ = writeln!(out, "anomalies: {}", v.anomalies.len());
        for a in &v.anomalies {
            let _ = writeln!(out, "- [{}] {}", a.kind, a.detail);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_little(v: &Verdict) -> Vec<&str> {
        v.anomalies
            .iter()
            .filter(|a| a.kind == "too little happened")
            .map(|a| a.detail.as_str())
            .collect()
    }

    #[test]
    fn a_run_where_nothing_happens_fails_every_floor() {
        let facts = Facts {
            minutes: 1.0,
            ..Facts::default()
        };
        let v = check(&[], &facts);
        let failed = too_little(&v);
        assert_eq!(failed.len(), FLOORS.len(), "{failed:?}");
        assert!(failed[0].starts_with("faults injected: 0"), "{failed:?}");
    }

    #[test]
    fn floors_shrink_with_a_shorter_run_and_count_injected_faults() {
        let mut facts = Facts {
            minutes: 0.5,
            ..Facts::default()
        };
        facts.fault_counts.insert("kill".into(), 10);
        let v = check(&[], &facts);
        let failed = too_little(&v);
        assert!(
            !failed.iter().any(|d| d.starts_with("faults injected")),
            "10 faults meet half a minute's floor of 10: {failed:?}"
        );
        assert!(failed.contains(&"ops: ok: 0, below the floor of 750"));
    }
}
