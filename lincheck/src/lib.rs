//! A linearizability checker for histories of the replicated key-value store.
//!
//! A history is a list of client [`Operation`]s, each with the time it was invoked and,
//! if it completed, the time it completed and what it returned. The history is
//! linearizable if every operation can be given a single instant inside its interval at
//! which it took effect, such that executing the operations one at a time in that order
//! against a plain map produces exactly the outputs the clients saw.
//!
//! The search is Wing & Gong's, in the form of Lowe ("Testing for linearizability", 2017)
//! and porcupine: walk a doubly linked list of invoke/return events, linearize any
//! operation invoked before the first pending return, backtrack on a stack, and memoize
//! the configurations (set of linearized operations, model state) already explored. Keys
//! are independent registers, so the history is split by key and each key is checked on
//! its own (P-compositionality), which keeps the configurations small.
//!
//! Outcomes:
//! * `Ok` operations must take effect inside their interval and their output must match.
//! * `Failed` operations had no effect and are ignored.
//! * `Indeterminate` writes may take effect at any time after their invocation, or never;
//!   `Indeterminate` reads constrain nothing and are ignored.
//!
//! On top of the plain search, some reductions that never change the verdict (each
//! argued where it is implemented; a brute-force comparison in the tests backs them up):
//! * A read that fits the current value goes first without branching.
//! * Values nobody reads are one value to the model, so their states merge in the memo.
//! * Indeterminate writes are the plain search's weak spot: with `k` pending it would try
//!   every subset at every point. But they are optional and have no deadline, so a
//!   configuration that used a *subset* of another's (same known operations, same value)
//!   can do all the other can: the memo prunes by this dominance, not only by equality.
//!   Identical ones (retries) are interchangeable, so they are counted, not told apart.
//!   And one is only tried where a pending operation needs the value it writes.
//!
//! What stays exponential is the concurrency among completed operations: tens of
//! operations on one key pending at once can make the search run very long, hence
//! [`check_with_budget`].
//!
//! Times are positions on one global clock: `a` precedes `b` iff `a` completed strictly
//! before `b` was invoked; equal times count as concurrent.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

pub use duckgoose_core::kv::{Op, Output};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// One client operation of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Operation {
    /// Informational only: the checker needs no per-client order.
    pub client: u64,
    pub op: Op,
    pub invoked_at: u64,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Outcome {
    Ok {
        completed_at: u64,
        output: Output,
    },
    /// Failed for sure: had no effect.
    Failed,
    /// Unknown: may or may not have taken effect, at any time after invocation.
    Indeterminate,
}

/// A key whose operations admit no linearization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub key: String,
    /// Every operation on `key`, in history order; `#i` in `explanation` indexes this.
    pub operations: Vec<Operation>,
    pub explanation: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    Violation(Violation),
    /// The search for `key` gave up after `steps` steps without a verdict.
    Inconclusive {
        key: String,
        steps: u64,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckStats {
    /// Distinct keys in the history.
    pub keys: usize,
    /// Operations the search had to place: completed ones and indeterminate writes.
    pub operations: usize,
    /// Search steps, summed over keys.
    pub steps: u64,
}

/// Checks `history` (in any order) for linearizability, however long it takes.
pub fn check(history: &[Operation]) -> Result<CheckStats, Violation> {
    match check_with_budget(history, u64::MAX) {
        Ok(stats) => Ok(stats),
        Err(CheckError::Violation(v)) => Err(v),
        Err(CheckError::Inconclusive { .. }) => unreachable!("an unlimited budget never runs out"),
    }
}

/// A fenced write is its plain write, unless its fence was refused: then it had no effect.
fn unfence(operation: &Operation) -> Operation {
    let outcome = match &operation.outcome {
        Outcome::Ok {
            output: Output::StaleFence { .. },
            ..
        } => Outcome::Failed,
        other => other.clone(),
    };
    Operation {
        client: operation.client,
        op: operation.op.unfenced().clone(),
        invoked_at: operation.invoked_at,
        outcome,
    }
}

/// Like [`check`], but gives up on a key after `max_steps_per_key` search steps. A
/// violation on any key wins over running out of steps on another.
///
/// A step is cheap (well under a microsecond), but each may remember one configuration of
/// a few hundred bytes (more with high concurrency) until the key is done, so the budget
/// bounds memory too.
pub fn check_with_budget(
    history: &[Operation],
    max_steps_per_key: u64,
) -> Result<CheckStats, CheckError> {
    let unfenced: Vec<Operation>;
    let history = if history.iter().any(|o| matches!(o.op, Op::Fenced { .. })) {
        unfenced = history.iter().map(unfence).collect();
        &unfenced[..]
    } else {
        history
    };
    let mut by_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in history {
        by_key.entry(op.op.key()).or_default().push(op);
    }
    let mut stats = CheckStats {
        keys: by_key.len(),
        ..CheckStats::default()
    };
    let mut inconclusive = None;
    for (&key, ops) in &by_key {
        match check_key(ops, max_steps_per_key) {
            Ok((operations, steps)) => {
                stats.operations += operations;
                stats.steps += steps;
            }
            Err(KeyFailure::Violation(explanation)) => {
                return Err(CheckError::Violation(Violation {
                    key: String::from(key),
                    operations: ops.iter().map(|&op| op.clone()).collect(),
                    explanation,
                }));
            }
            Err(KeyFailure::Inconclusive(steps)) => {
                stats.steps += steps;
                inconclusive.get_or_insert(CheckError::Inconclusive {
                    key: String::from(key),
                    steps,
                });
            }
        }
    }
    match inconclusive {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

// ---------------------------------------------------------------------------------------
// The per-key model, over interned values.

/// A value, interned per key (index into the key's value names).
type Value = usize;
/// The register: the key's value, `None` when absent.
type State = Option<Value>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Call {
    Put(Value),
    Delete,
    Get,
    Cas { expected: State, new: Value },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ret {
    Written,
    Value(State),
    Cas(bool),
}

impl Call {
    /// Executes the call: the new state and what it returns.
    fn apply(self, state: State) -> (State, Ret) {
        match self {
            Call::Put(v) => (Some(v), Ret::Written),
            Call::Delete => (None, Ret::Written),
            Call::Get => (state, Ret::Value(state)),
            Call::Cas { expected, new } if state == expected => (Some(new), Ret::Cas(true)),
            Call::Cas { .. } => (state, Ret::Cas(false)),
        }
    }

    /// Sets the value whatever it was before.
    fn overwrites(self) -> bool {
        matches!(self, Call::Put(_) | Call::Delete)
    }
}

/// Stands for every value that no get returns and no cas expects. The model cannot tell
/// such values apart, so one name for all of them lets the memo merge states that differ
/// only in which unread value was written last.
const UNREAD: Value = 0;

struct Interner<'h> {
    ids: BTreeMap<&'h str, Value>,
    /// Indexed by value; `names[UNREAD]` is a placeholder.
    names: Vec<&'h str>,
}

impl<'h> Interner<'h> {
    /// Names the values `ops` can observe.
    fn new(ops: &[&'h Operation]) -> Interner<'h> {
        let mut interner = Interner {
            ids: BTreeMap::new(),
            names: alloc::vec![""],
        };
        for op in ops {
            let read = match (&op.op, &op.outcome) {
                (Op::Cas { expected, .. }, _) => expected.as_deref(),
                (
                    Op::Get { .. },
                    Outcome::Ok {
                        output: Output::Value(v),
                        ..
                    },
                ) => v.as_deref(),
                _ => None,
            };
            if let Some(name) = read {
                interner.ids.entry(name).or_insert_with(|| {
                    interner.names.push(name);
                    interner.names.len() - 1
                });
            }
        }
        interner
    }

    fn id(&self, name: &str) -> Value {
        self.ids.get(name).copied().unwrap_or(UNREAD)
    }

    fn call(&self, op: &Op) -> Call {
        match op {
            Op::Put { value, .. } => Call::Put(self.id(value)),
            Op::Get { .. } => Call::Get,
            Op::Delete { .. } => Call::Delete,
            // Unwrapped before the search (`unfence`).
            Op::Fenced { op, .. } => self.call(op),
            Op::Cas {
                expected,
                value: new,
                ..
            } => Call::Cas {
                expected: expected.as_deref().map(|e| self.id(e)),
                new: self.id(new),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------
// The search for one key.

enum KeyFailure {
    Violation(String),
    Inconclusive(u64),
}

/// A completed operation: must be linearized, inside its interval.
struct Known {
    /// Index into the key's operations (the `#i` of explanations).
    id: usize,
    call: Call,
    ret: Ret,
    /// Leaves the value unchanged whenever its output fits: a get, or a cas that
    /// reported no swap.
    reads: bool,
    completed: u64,
    call_entry: usize,
    return_entry: usize,
}

/// Indeterminate writes with the same call (retries), sorted by invocation. Only the
/// first `n` are ever used, so a count says which.
struct Unknown {
    call: Call,
    /// (invoked_at, id)
    instances: Vec<(u64, usize)>,
}

/// An invoke or return event of a known operation, in the linked list.
#[derive(Clone, Copy)]
struct Entry {
    op: usize,
    is_return: bool,
}

const HEAD: usize = 0;
const NIL: usize = usize::MAX;

/// A step of the order being built.
#[derive(Clone, Copy)]
enum Move {
    /// A read (forced) or a write.
    Known { op: usize },
    /// An instance `id` of indeterminate class `class`, with the scan's context to
    /// resume it after backtracking.
    Unknown {
        class: usize,
        id: usize,
        deadline: u64,
        blocking: usize,
    },
}

struct Frame {
    mv: Move,
    before: State,
}

/// Where the scan for the next operation to linearize stands.
#[derive(Clone, Copy)]
enum Cursor {
    /// At an entry of the linked list, looking for a read that fits.
    Reads(usize),
    /// At an entry of the linked list, trying writes (no read fits).
    Writes(usize),
    /// At an indeterminate class (no known operation fits).
    Unknown(usize),
}

/// The furthest the search got, for the explanation.
struct Deepest {
    linearized: usize,
    /// The known operation whose return nothing could be placed before.
    blocking: usize,
    state: State,
    /// The write that set `state`, to name an `UNREAD` value.
    written_by: Option<usize>,
    /// The last few moves: (id, indeterminate?).
    tail: Vec<(usize, bool)>,
    elided: usize,
}

enum Stop {
    Stuck(Deepest),
    OutOfSteps(u64),
}

/// (class, instances used) for each class used, sorted by class.
type Used = Vec<(usize, usize)>;

struct Search {
    known: Vec<Known>,
    unknown: Vec<Unknown>,
    /// Index 0 is the head sentinel.
    entries: Vec<Entry>,
    next: Vec<usize>,
    prev: Vec<usize>,

    state: State,
    linearized: OpSet,
    used: Used,
    remaining: usize,
    /// While trying unknowns: the first pending return's time and operation, and the
    /// values that some pending operation needs and does not have.
    deadline: u64,
    blocking: usize,
    wanted: Vec<State>,
    wanted_any_change: bool,
    /// The `expected` of every indeterminate cas: values worth reaching for a chain.
    cas_expects: Vec<State>,
    stack: Vec<Frame>,
    /// Explored configurations, by hash of (linearized known operations, state).
    seen: BTreeMap<u64, Vec<Seen>>,
    deepest: Option<Deepest>,
}

/// The ids of the last moves recorded in explanations.
const TAIL: usize = 6;

/// The explored configurations with one set of linearized known operations and one state.
struct Seen {
    /// `OpSet::key` of the linearized set.
    full: usize,
    linearized: Vec<u64>,
    state: State,
    /// (unknowns used, came right after an unknown) for each time it was reached without
    /// being dominated by an earlier time.
    ways: Vec<(Used, bool)>,
}

/// A set of known operations (bits, operations numbered in invocation order), with a
/// hash kept up to date as it changes: the XOR of a pseudo-random word per member
/// (Zobrist hashing), so memo lookups cost O(1) instead of comparing long bit sets.
///
/// A linearized set is nearly always "everything invoked before some point, plus some of
/// what is pending", so the memo stores it compactly: the number of leading all-ones
/// words and the words from there to the last nonzero one (`key`). That keeps memory
/// proportional to the concurrency rather than to the history's length.
struct OpSet {
    words: Vec<u64>,
    hash: u64,
    /// Leading words that are all ones.
    full: usize,
    /// One past the last nonzero word (at least `full`).
    end: usize,
}

impl OpSet {
    fn new(len: usize) -> OpSet {
        OpSet {
            words: alloc::vec![0; len.div_ceil(64)],
            hash: 0,
            full: 0,
            end: 0,
        }
    }

    fn insert(&mut self, i: usize) {
        let w = i / 64;
        self.words[w] |= 1 << (i % 64);
        self.hash ^= mix(i as u64);
        self.end = self.end.max(w + 1);
        while self.full < self.end && self.words[self.full] == u64::MAX {
            self.full += 1;
        }
    }

    fn remove(&mut self, i: usize) {
        let w = i / 64;
        self.words[w] &= !(1 << (i % 64));
        self.hash ^= mix(i as u64);
        self.full = self.full.min(w);
        while self.end > self.full && self.words[self.end - 1] == 0 {
            self.end -= 1;
        }
    }

    /// A canonical compact form: (leading all-ones words, the words after them).
    fn key(&self) -> (usize, &[u64]) {
        (self.full, &self.words[self.full..self.end])
    }
}

/// SplitMix64's finalizer: spreads small integers over all 64 bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn state_hash(state: State) -> u64 {
    // Offset so states do not hash like operation indices.
    mix(match state {
        None => 1 << 63,
        Some(v) => (1 << 63) + 1 + v as u64,
    })
}

/// Whether `a` uses no class more often than `b` does.
fn within(a: &[(usize, usize)], b: &[(usize, usize)]) -> bool {
    let mut b = b.iter();
    a.iter().all(|&(class, n)| {
        b.by_ref()
            .find(|&&(c, _)| c >= class)
            .is_some_and(|&(c, m)| c == class && m >= n)
    })
}

/// Whether configuration `a` can do everything `b` can (same known set and state): it
/// used no more unknowns, and is not under a restriction `b` is free of (the flags say
/// "came right after an unknown").
fn dominates(
    (a, a_after): (&[(usize, usize)], bool),
    (b, b_after): (&[(usize, usize)], bool),
) -> bool {
    within(a, b) && (!a_after || b_after)
}

impl Search {
    fn new(known: Vec<Known>, unknown: Vec<Unknown>, entries: Vec<Entry>) -> Search {
        let n = entries.len();
        let known_len = known.len();
        let mut cas_expects: Vec<State> = unknown
            .iter()
            .filter_map(|u| match u.call {
                Call::Cas { expected, .. } => Some(expected),
                _ => None,
            })
            .collect();
        cas_expects.sort_unstable();
        cas_expects.dedup();
        Search {
            remaining: known.len(),
            known,
            unknown,
            entries,
            next: (0..n)
                .map(|i| if i + 1 < n { i + 1 } else { NIL })
                .collect(),
            prev: (0..n).map(|i| i.wrapping_sub(1)).collect(),
            state: None,
            linearized: OpSet::new(known_len),
            used: Vec::new(),
            deadline: 0,
            blocking: 0,
            wanted: Vec::new(),
            wanted_any_change: false,
            cas_expects,
            stack: Vec::new(),
            seen: BTreeMap::new(),
            deepest: None,
        }
    }

    fn run(&mut self, budget: u64) -> Result<u64, Stop> {
        let mut steps = 0;
        let mut cursor = Cursor::Reads(self.next[HEAD]);
        loop {
            if self.remaining == 0 {
                // Indeterminate writes still pending simply never took effect.
                return Ok(steps);
            }
            if steps == budget {
                return Err(Stop::OutOfSteps(steps));
            }
            steps += 1;
            let next = match cursor {
                Cursor::Reads(e) => self.step_read(e),
                Cursor::Writes(e) => self.step_write(e),
                Cursor::Unknown(class) => self.step_unknown(class),
            };
            cursor = match next.or_else(|| self.backtrack()) {
                Some(next) => next,
                None => return Err(Stop::Stuck(self.deepest.take().expect("recorded"))),
            };
        }
    }

    /// Looks for a read that fits the current value, among the operations invoked before
    /// the first pending return. `None`: this configuration is a dead end.
    fn step_read(&mut self, e: usize) -> Option<Cursor> {
        // A known operation's return always follows its call, so the scan meets a return
        // before running off the end.
        debug_assert_ne!(e, NIL);
        let Entry { op, is_return } = self.entries[e];
        if is_return {
            return Some(Cursor::Writes(self.next[HEAD]));
        }
        let k = &self.known[op];
        if !k.reads || k.call.apply(self.state).1 != k.ret {
            return Some(Cursor::Reads(self.next[e]));
        }
        // If any order works from here, one that starts with this read does: it changes
        // nothing, and all that must precede it is already linearized. So no branching:
        // it goes first, and if that fails, so does this configuration.
        self.linearized.insert(op);
        if !self.visit(self.state, false) {
            self.linearized.remove(op);
            return None;
        }
        self.push_known(e, self.state);
        Some(Cursor::Reads(self.next[HEAD]))
    }

    /// Tries each write invoked before the first pending return, then the unknowns.
    fn step_write(&mut self, e: usize) -> Option<Cursor> {
        debug_assert_ne!(e, NIL);
        let Entry { op, is_return } = self.entries[e];
        if is_return {
            // `op` must have taken effect by now, so nothing invoked later can go next;
            // what is left to try are the indeterminate writes invoked by then.
            self.deadline = self.known[op].completed;
            self.blocking = op;
            self.find_wanted();
            return Some(Cursor::Unknown(0));
        }
        let k = &self.known[op];
        let (after, ret) = k.call.apply(self.state);
        if !k.reads && ret == k.ret {
            self.linearized.insert(op);
            if self.visit(after, false) {
                self.push_known(e, after);
                return Some(Cursor::Reads(self.next[HEAD]));
            }
            self.linearized.remove(op);
        }
        Some(Cursor::Writes(self.next[e]))
    }

    fn push_known(&mut self, call_entry: usize, after: State) {
        let op = self.entries[call_entry].op;
        self.stack.push(Frame {
            mv: Move::Known { op },
            before: self.state,
        });
        self.state = after;
        self.lift(call_entry);
        self.remaining -= 1;
    }

    /// Collects what the pending operations that do not fit would need the value to be,
    /// which decides the indeterminate writes worth trying.
    ///
    /// Why that loses nothing: take any valid order and move each indeterminate write as
    /// late as it can go. Right before a put or delete it is overwritten: drop it. Right
    /// before a read, or a cas that fits either way, it can move past. A cas in a run of
    /// indeterminate writes that does not swap changes nothing: drop it. So some valid
    /// order has every run of indeterminate writes end right before a known operation that
    /// does not fit without the run, with each write after the first a swapping cas. The
    /// first write of the run then produces a wanted value or one a cas expects, and no
    /// later write in the run overwrites (the flag in `visit`).
    fn find_wanted(&mut self) {
        self.wanted.clear();
        self.wanted_any_change = false;
        let mut e = self.next[HEAD];
        while e != NIL && !self.entries[e].is_return {
            let k = &self.known[self.entries[e].op];
            if k.call.apply(self.state).1 != k.ret {
                match (k.call, k.ret) {
                    (_, Ret::Value(v)) => self.wanted.push(v),
                    (Call::Cas { expected, .. }, Ret::Cas(true)) => self.wanted.push(expected),
                    // A cas that saw something else than the current value.
                    _ => self.wanted_any_change = true,
                }
            }
            e = self.next[e];
        }
    }

    /// Tries the next useful indeterminate class from `c` on (see `find_wanted`).
    fn step_unknown(&mut self, mut c: usize) -> Option<Cursor> {
        let after_unknown = matches!(
            self.stack.last(),
            Some(Frame {
                mv: Move::Unknown { .. },
                ..
            })
        );
        loop {
            // Classes are sorted by first invocation: past one invoked too late, none of
            // the rest is invoked yet either.
            let Some(class) = self
                .unknown
                .get(c)
                .filter(|u| u.instances[0].0 <= self.deadline)
            else {
                // Nothing fits before `blocking` returns.
                self.note_deepest();
                return None;
            };
            let n = self.taken(c);
            let (after, _) = class.call.apply(self.state);
            let useful = after != self.state
                // After an unknown write, an overwrite makes that one pointless.
                && !(after_unknown && class.call.overwrites())
                && (self.wanted_any_change
                    || self.wanted.contains(&after)
                    || self.cas_expects.binary_search(&after).is_ok());
            match class.instances.get(n) {
                Some(&(invoked, id)) if useful && invoked <= self.deadline => {
                    self.take(c);
                    if self.visit(after, true) {
                        self.stack.push(Frame {
                            mv: Move::Unknown {
                                class: c,
                                id,
                                deadline: self.deadline,
                                blocking: self.blocking,
                            },
                            before: self.state,
                        });
                        self.state = after;
                        return Some(Cursor::Reads(self.next[HEAD]));
                    }
                    self.give_back(c);
                }
                _ => {}
            }
            c += 1;
        }
    }

    /// Undoes moves until one leaves an alternative, and resumes the scan just after it;
    /// `None` when the root has none.
    fn backtrack(&mut self) -> Option<Cursor> {
        loop {
            let frame = self.stack.pop()?;
            self.state = frame.before;
            match frame.mv {
                Move::Known { op } => {
                    self.linearized.remove(op);
                    let e = self.known[op].call_entry;
                    self.unlift(e);
                    self.remaining += 1;
                    // A forced read has no alternatives: keep undoing.
                    if !self.known[op].reads {
                        return Some(Cursor::Writes(self.next[e]));
                    }
                }
                Move::Unknown {
                    class,
                    deadline,
                    blocking,
                    ..
                } => {
                    self.give_back(class);
                    self.deadline = deadline;
                    self.blocking = blocking;
                    self.find_wanted();
                    return Some(Cursor::Unknown(class + 1));
                }
            }
        }
    }

    /// Records the current configuration if it is the furthest so far. Called when nothing
    /// fits before `blocking` returns (every failure starts there).
    fn note_deepest(&mut self) {
        let linearized = self.known.len() - self.remaining;
        if self
            .deepest
            .as_ref()
            .is_some_and(|d| d.linearized >= linearized)
        {
            return;
        }
        let elided = self.stack.len().saturating_sub(TAIL);
        let tail = self.stack[elided..]
            .iter()
            .map(|f| match f.mv {
                Move::Known { op } => (self.known[op].id, false),
                Move::Unknown { id, .. } => (id, true),
            })
            .collect();
        let written_by = self.stack.iter().rev().find_map(|f| match f.mv {
            Move::Known { op } if !self.known[op].reads => Some(self.known[op].id),
            Move::Known { .. } => None,
            Move::Unknown { id, .. } => Some(id),
        });
        self.deepest = Some(Deepest {
            linearized,
            blocking: self.blocking,
            state: self.state,
            written_by,
            tail,
            elided,
        });
    }

    /// Whether the configuration about to be entered (current bits and `used`, state
    /// `state`) is new and not dominated by one already explored; if so, remembers it.
    fn visit(&mut self, state: State, after_unknown: bool) -> bool {
        let here = (self.used.as_slice(), after_unknown);
        let bucket = self
            .seen
            .entry(self.linearized.hash ^ state_hash(state))
            .or_default();
        let (full, words) = self.linearized.key();
        let same = bucket
            .iter_mut()
            .find(|s| s.state == state && s.full == full && s.linearized == words);
        match same {
            Some(seen) => {
                if seen.ways.iter().any(|(u, a)| dominates((u, *a), here)) {
                    return false;
                }
                seen.ways.retain(|(u, a)| !dominates(here, (u, *a)));
                seen.ways.push((self.used.clone(), after_unknown));
            }
            None => bucket.push(Seen {
                full,
                linearized: words.to_vec(),
                state,
                ways: alloc::vec![(self.used.clone(), after_unknown)],
            }),
        }
        true
    }

    fn taken(&self, class: usize) -> usize {
        match self.used.binary_search_by_key(&class, |&(c, _)| c) {
            Ok(i) => self.used[i].1,
            Err(_) => 0,
        }
    }

    fn take(&mut self, class: usize) {
        match self.used.binary_search_by_key(&class, |&(c, _)| c) {
            Ok(i) => self.used[i].1 += 1,
            Err(i) => self.used.insert(i, (class, 1)),
        }
    }

    fn give_back(&mut self, class: usize) {
        let i = self
            .used
            .binary_search_by_key(&class, |&(c, _)| c)
            .expect("gives back only what it took");
        if self.used[i].1 == 1 {
            self.used.remove(i);
        } else {
            self.used[i].1 -= 1;
        }
    }

    // Lowe's list surgery: an unlinked entry keeps its own links, so relinking in the
    // reverse order (the stack guarantees it) restores the list exactly.

    fn unlink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        if n != NIL {
            self.prev[n] = e;
        }
    }

    fn lift(&mut self, call_entry: usize) {
        let r = self.known[self.entries[call_entry].op].return_entry;
        self.unlink(call_entry);
        self.unlink(r);
    }

    fn unlift(&mut self, call_entry: usize) {
        let r = self.known[self.entries[call_entry].op].return_entry;
        self.relink(r);
        self.relink(call_entry);
    }
}

/// Checks the operations of one key (history order). Ok: (operations placed, steps).
fn check_key(ops: &[&Operation], budget: u64) -> Result<(usize, u64), KeyFailure> {
    let values = Interner::new(ops);
    let mut known = Vec::new();
    let mut classes: BTreeMap<Call, Vec<(u64, usize)>> = BTreeMap::new();
    for (id, op) in ops.iter().enumerate() {
        let call = values.call(&op.op);
        match &op.outcome {
            Outcome::Failed => {}
            // An unknown read constrains nothing.
            Outcome::Indeterminate if call == Call::Get => {}
            Outcome::Indeterminate => classes.entry(call).or_default().push((op.invoked_at, id)),
            Outcome::Ok {
                completed_at,
                output,
            } => {
                if *completed_at < op.invoked_at {
                    return Err(KeyFailure::Violation(alloc::format!(
                        "malformed history: #{id} ({op}) completes before it is invoked"
                    )));
                }
                let ret = match (call, output) {
                    (Call::Put(_) | Call::Delete, Output::Written) => Ret::Written,
                    (Call::Get, Output::Value(v)) => Ret::Value(v.as_deref().map(|v| values.id(v))),
                    (Call::Cas { .. }, Output::Cas { swapped }) => Ret::Cas(*swapped),
                    _ => {
                        return Err(KeyFailure::Violation(alloc::format!(
                            "malformed history: #{id} ({op}) has an output of the wrong kind"
                        )));
                    }
                };
                known.push(Known {
                    id,
                    call,
                    ret,
                    reads: matches!(ret, Ret::Value(_) | Ret::Cas(false)),
                    completed: *completed_at,
                    call_entry: 0,
                    return_entry: 0,
                });
            }
        }
    }

    // Numbered in invocation order, for `OpSet`'s compact keys.
    known.sort_by_key(|k| (ops[k.id].invoked_at, k.id));
    // Invoke and return events in time order; at equal times invokes go first, since an
    // operation that returns when another is invoked does not precede it.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * known.len());
    for (i, k) in known.iter().enumerate() {
        events.push((ops[k.id].invoked_at, false, i));
        events.push((k.completed, true, i));
    }
    events.sort_unstable();
    let mut entries = Vec::with_capacity(events.len() + 1);
    entries.push(Entry {
        op: NIL,
        is_return: false,
    });
    for (_, is_return, op) in events {
        let e = entries.len();
        if is_return {
            known[op].return_entry = e;
        } else {
            known[op].call_entry = e;
        }
        entries.push(Entry { op, is_return });
    }

    let mut unknown: Vec<Unknown> = classes
        .into_iter()
        .map(|(call, mut instances)| {
            instances.sort_unstable();
            Unknown { call, instances }
        })
        .collect();
    unknown.sort_by_key(|u| u.instances[0]);
    let placed = known.len() + unknown.iter().map(|u| u.instances.len()).sum::<usize>();

    let mut search = Search::new(known, unknown, entries);
    match search.run(budget) {
        Ok(steps) => Ok((placed, steps)),
        Err(Stop::OutOfSteps(steps)) => Err(KeyFailure::Inconclusive(steps)),
        Err(Stop::Stuck(deepest)) => {
            let mut explanation = String::new();
            explain(
                &mut explanation,
                &deepest,
                &search.known,
                &values.names,
                ops,
            )
            .expect("formatting into a String cannot fail");
            Err(KeyFailure::Violation(explanation))
        }
    }
}

fn explain(
    out: &mut String,
    d: &Deepest,
    known: &[Known],
    names: &[&str],
    ops: &[&Operation],
) -> fmt::Result {
    // The only unread value that can show up is the current one; name it after its write.
    let unread = d.written_by.and_then(|id| match &ops[id].op {
        Op::Put { value, .. } | Op::Cas { value, .. } => Some(value.as_str()),
        _ => None,
    });
    let state = |s: State| ShowState(s, names, unread);
    write!(
        out,
        "no linearization: at most {} of {} completed operations fit one order",
        d.linearized,
        known.len()
    )?;
    if d.tail.is_empty() {
        write!(out, "; from the initial value none")?;
    } else {
        write!(out, "; the longest found ends ")?;
        if d.elided > 0 {
            write!(out, "..., ")?;
        }
        for (i, &(id, unknown)) in d.tail.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let mark = if unknown { "?" } else { "" };
            write!(out, "{sep}#{id}{mark}")?;
        }
        write!(out, " leaving {}", state(d.state))?;
    }
    let b = &known[d.blocking];
    write!(
        out,
        "; then nothing fits before #{} ({}) returns",
        b.id, ops[b.id]
    )?;
    let (_, would) = b.call.apply(d.state);
    if would != b.ret {
        let would = match would {
            Ret::Written => String::from("ok"),
            Ret::Value(v) => alloc::format!("{}", state(v)),
            Ret::Cas(swapped) => String::from(if swapped { "swapped" } else { "not swapped" }),
        };
        write!(out, ": there it would have returned {would}")?;
    }
    if d.tail.iter().any(|&(_, unknown)| unknown) {
        write!(out, " (#n? = indeterminate write, taken as applied)")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Display.

/// A model state, un-interned: (state, names, the unread value if known).
struct ShowState<'a>(State, &'a [&'a str], Option<&'a str>);

impl fmt::Display for ShowState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.2) {
            (Some(UNREAD), Some(v)) => ShowValue(Some(v)).fmt(f),
            (Some(UNREAD), None) => write!(f, "a value never read"),
            (v, _) => ShowValue(v.map(|v| self.1[v])).fmt(f),
        }
    }
}

/// `none` or the quoted value.
struct ShowValue<'a>(Option<&'a str>);

impl fmt::Display for ShowValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => write!(f, "none"),
            Some(v) => write!(f, "{v:?}"),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {}: ", self.client)?;
        if let Op::Fenced { fence, .. } = &self.op {
            write!(f, "fenced({fence}) ")?;
        }
        match self.op.unfenced() {
            Op::Fenced { .. } => {}
            Op::Put { key, value } => write!(f, "put({key:?}, {value:?})")?,
            Op::Get { key } => write!(f, "get({key:?})")?,
            Op::Delete { key } => write!(f, "delete({key:?})")?,
            Op::Cas {
                key,
                expected,
                value: new,
            } => write!(
                f,
                "cas({key:?}, {} -> {new:?})",
                ShowValue(expected.as_deref())
            )?,
        }
        match &self.outcome {
            Outcome::Ok {
                completed_at,
                output,
            } => {
                match output {
                    Output::Written => write!(f, " -> ok")?,
                    Output::Value(v) => write!(f, " -> {}", ShowValue(v.as_deref()))?,
                    Output::Cas { swapped: true } => write!(f, " -> swapped")?,
                    Output::Cas { swapped: false } => write!(f, " -> not swapped")?,
                    Output::StaleFence { term, .. } => write!(f, " -> stale fence (term {term})")?,
                }
                write!(f, " @ [{}, {completed_at}]", self.invoked_at)
            }
            Outcome::Failed => write!(f, " failed @ {}", self.invoked_at),
            Outcome::Indeterminate => write!(f, " -> ? @ [{}, inf)", self.invoked_at),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key {:?} is not linearizable: {}",
            self.key, self.explanation
        )?;
        for (i, op) in self.operations.iter().enumerate() {
            write!(f, "\n  #{i} {op}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Violation(v) => v.fmt(f),
            CheckError::Inconclusive { key, steps } => {
                write!(f, "gave up on key {key:?} after {steps} search steps")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CheckError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::format;
    use alloc::vec;

    // --- Builders: key "k" unless given, client 0 (the checker ignores clients).

    fn ok(op: Op, (invoked, completed): (u64, u64), output: Output) -> Operation {
        Operation {
            client: 0,
            op,
            invoked_at: invoked,
            outcome: Outcome::Ok {
                completed_at: completed,
                output,
            },
        }
    }

    fn put_on(key: &str, value: &str, at: (u64, u64)) -> Operation {
        let op = Op::Put {
            key: key.into(),
            value: value.into(),
        };
        ok(op, at, Output::Written)
    }

    fn get_on(key: &str, value: Option<&str>, at: (u64, u64)) -> Operation {
        let op = Op::Get { key: key.into() };
        ok(op, at, Output::Value(value.map(String::from)))
    }

    fn put(value: &str, at: (u64, u64)) -> Operation {
        put_on("k", value, at)
    }

    fn get(value: Option<&str>, at: (u64, u64)) -> Operation {
        get_on("k", value, at)
    }

    fn delete(at: (u64, u64)) -> Operation {
        ok(Op::Delete { key: "k".into() }, at, Output::Written)
    }

    fn cas(expected: Option<&str>, new: &str, swapped: bool, at: (u64, u64)) -> Operation {
        let op = Op::Cas {
            key: "k".into(),
            expected: expected.map(String::from),
            value: new.into(),
        };
        ok(op, at, Output::Cas { swapped })
    }

    fn indeterminate(mut op: Operation) -> Operation {
        op.outcome = Outcome::Indeterminate;
        op
    }

    fn failed(mut op: Operation) -> Operation {
        op.outcome = Outcome::Failed;
        op
    }

    #[track_caller]
    fn assert_ok(history: &[Operation]) -> CheckStats {
        match check(history) {
            Ok(stats) => stats,
            Err(v) => panic!("expected linearizable, got: {v}"),
        }
    }

    #[track_caller]
    fn assert_violation(history: &[Operation]) -> Violation {
        match check(history) {
            Ok(_) => panic!("expected a violation: {history:#?}"),
            Err(v) => v,
        }
    }

    // --- The basics.

    #[test]
    fn empty_history_is_ok() {
        assert_eq!(assert_ok(&[]), CheckStats::default());
    }

    #[test]
    fn sequential_history_ok() {
        let stats = assert_ok(&[
            get(None, (0, 1)),
            put("a", (2, 3)),
            get(Some("a"), (4, 5)),
            put("b", (6, 7)),
            get(Some("b"), (8, 9)),
            delete((10, 11)),
            get(None, (12, 13)),
        ]);
        assert_eq!(stats.keys, 1);
        assert_eq!(stats.operations, 7);
    }

    #[test]
    fn input_order_does_not_matter() {
        assert_ok(&[
            get(Some("b"), (8, 9)),
            put("b", (6, 7)),
            get(Some("a"), (4, 5)),
            put("a", (2, 3)),
        ]);
    }

    #[test]
    fn concurrent_put_and_get_may_see_either_value() {
        for seen in [None, Some("a")] {
            assert_ok(&[put("a", (0, 10)), get(seen, (2, 5))]);
        }
        // Two overlapping reads may even disagree, as long as the older value comes first.
        assert_ok(&[put("a", (0, 10)), get(Some("a"), (1, 4)), get(None, (2, 3))]);
    }

    #[test]
    fn reads_cannot_go_back_in_time() {
        // Once a read saw "a", a later read (not concurrent with it) cannot see none.
        let v = assert_violation(&[put("a", (0, 10)), get(Some("a"), (1, 2)), get(None, (3, 4))]);
        assert_eq!(v.key, "k");
    }

    #[test]
    fn touching_intervals_are_concurrent() {
        // The put completes at 5, the get is invoked at 5: concurrent, so none is fine.
        assert_ok(&[put("a", (0, 5)), get(None, (5, 6))]);
        assert_violation(&[put("a", (0, 5)), get(None, (6, 7))]);
    }

    #[test]
    fn stale_read_after_completed_put_is_a_violation() {
        let v = assert_violation(&[put("a", (0, 1)), get(None, (2, 3))]);
        assert_eq!(v.operations.len(), 2);
        assert!(v.explanation.contains("#1"), "{}", v.explanation);
        assert!(v.explanation.contains("\"a\""), "{}", v.explanation);
    }

    #[test]
    fn lost_acknowledged_write_is_a_violation() {
        let v = assert_violation(&[
            put("a", (0, 1)),
            put("b", (2, 3)),
            get(Some("b"), (4, 5)),
            get(Some("a"), (6, 7)),
        ]);
        // The first three fit; the last read is the one that cannot be placed.
        assert!(
            v.explanation
                .starts_with("no linearization: at most 3 of 4"),
            "{}",
            v.explanation
        );
        assert!(v.explanation.contains("before #3"), "{}", v.explanation);
    }

    #[test]
    fn delete_clears_the_value() {
        assert_ok(&[put("a", (0, 1)), delete((2, 3)), get(None, (4, 5))]);
        assert_violation(&[put("a", (0, 1)), delete((2, 3)), get(Some("a"), (4, 5))]);
    }

    #[test]
    fn read_of_a_value_never_written_is_a_violation() {
        assert_violation(&[get(Some("ghost"), (0, 1))]);
    }

    // --- Unknown and failed outcomes.

    #[test]
    fn indeterminate_put_observed_by_a_later_read_is_ok() {
        assert_ok(&[
            indeterminate(put("a", (0, 1))),
            get(None, (2, 3)),
            get(Some("a"), (50, 51)),
        ]);
    }

    #[test]
    fn indeterminate_put_never_observed_is_ok() {
        let stats = assert_ok(&[
            indeterminate(put("a", (0, 1))),
            get(None, (2, 3)),
            put("b", (4, 5)),
            get(Some("b"), (6, 7)),
        ]);
        assert_eq!(stats.operations, 4);
    }

    #[test]
    fn indeterminate_put_cannot_take_effect_before_its_invocation() {
        assert_violation(&[get(Some("a"), (0, 1)), indeterminate(put("a", (2, 3)))]);
    }

    #[test]
    fn indeterminate_put_takes_effect_at_most_once() {
        // Seen, then overwritten, then seen again: it would have to happen twice.
        assert_violation(&[
            indeterminate(put("a", (0, 1))),
            get(Some("a"), (2, 3)),
            put("b", (4, 5)),
            get(Some("a"), (6, 7)),
        ]);
        // ...unless there were two attempts (a retry), which may land separately.
        assert_ok(&[
            indeterminate(put("a", (0, 1))),
            indeterminate(put("a", (1, 2))),
            get(Some("a"), (2, 3)),
            put("b", (4, 5)),
            get(Some("a"), (6, 7)),
        ]);
    }

    #[test]
    fn indeterminate_reads_are_ignored() {
        let stats = assert_ok(&[
            put("a", (0, 1)),
            indeterminate(get(Some("nonsense"), (2, 3))),
        ]);
        assert_eq!(stats.operations, 1);
    }

    #[test]
    fn failed_put_observed_by_a_read_is_a_violation() {
        let v = assert_violation(&[failed(put("a", (0, 1))), get(Some("a"), (2, 3))]);
        assert_eq!(
            v.operations.len(),
            2,
            "failed operations are still reported"
        );
        assert_ok(&[failed(put("a", (0, 1))), get(None, (2, 3))]);
    }

    // --- Compare-and-swap.

    #[test]
    fn cas_succeeds_iff_the_value_matches() {
        assert_ok(&[
            cas(None, "a", true, (0, 1)),
            cas(None, "b", false, (2, 3)),
            cas(Some("a"), "b", true, (4, 5)),
            cas(Some("a"), "c", false, (6, 7)),
            get(Some("b"), (8, 9)),
        ]);
    }

    #[test]
    fn cas_reporting_success_on_a_mismatch_is_a_violation() {
        let v = assert_violation(&[put("a", (0, 1)), cas(Some("x"), "b", true, (2, 3))]);
        assert!(v.explanation.contains("not swapped"), "{}", v.explanation);
    }

    #[test]
    fn cas_reporting_failure_on_a_match_is_a_violation() {
        assert_violation(&[put("a", (0, 1)), cas(Some("a"), "b", false, (2, 3))]);
    }

    #[test]
    fn failed_cas_leaves_the_value() {
        assert_ok(&[
            put("a", (0, 1)),
            cas(None, "b", false, (2, 3)),
            get(Some("a"), (4, 5)),
        ]);
        assert_violation(&[
            put("a", (0, 1)),
            cas(None, "b", false, (2, 3)),
            get(Some("b"), (4, 5)),
        ]);
    }

    #[test]
    fn concurrent_cas_decides_the_order() {
        // Two clients race to claim an absent key: exactly one may win.
        assert_ok(&[
            cas(None, "x", true, (0, 10)),
            cas(None, "y", false, (0, 10)),
            get(Some("x"), (11, 12)),
        ]);
        assert_violation(&[cas(None, "x", true, (0, 10)), cas(None, "y", true, (0, 10))]);
    }

    #[test]
    fn indeterminate_cas_chain() {
        // The value seen needs the indeterminate put and then the indeterminate cas.
        assert_ok(&[
            indeterminate(put("a", (0, 1))),
            indeterminate(cas(Some("a"), "b", true, (0, 1))),
            get(Some("b"), (5, 6)),
        ]);
        assert_violation(&[
            indeterminate(cas(Some("a"), "b", true, (0, 1))),
            get(Some("b"), (5, 6)),
        ]);
    }

    // --- Keys, budget, malformed input.

    #[test]
    fn keys_are_checked_independently() {
        let stats = assert_ok(&[
            put_on("x", "1", (0, 10)),
            put_on("y", "2", (0, 10)),
            get_on("x", Some("1"), (11, 12)),
            get_on("y", Some("2"), (11, 12)),
            get_on("z", None, (11, 12)),
        ]);
        assert_eq!(stats.keys, 3);
        assert_eq!(stats.operations, 5);

        // A put on one key is invisible on another.
        let v = assert_violation(&[
            put_on("x", "1", (0, 1)),
            get_on("x", Some("1"), (2, 3)),
            get_on("y", Some("1"), (2, 3)),
        ]);
        assert_eq!(v.key, "y");
        assert_eq!(v.operations, vec![get_on("y", Some("1"), (2, 3))]);
    }

    #[test]
    fn budget_exhaustion_is_inconclusive() {
        let history = [
            put("a", (0, 1)),
            get(Some("a"), (2, 3)),
            get(Some("a"), (4, 5)),
        ];
        assert_eq!(
            check_with_budget(&history, 1),
            Err(CheckError::Inconclusive {
                key: "k".into(),
                steps: 1
            })
        );
        assert!(check_with_budget(&history, 1_000).is_ok());
    }

    #[test]
    fn a_violation_wins_over_an_inconclusive_key() {
        // Key "a" needs one step per operation; key "b" is refuted in five (the read
        // does not fit, nor does anything else, and no indeterminate write helps).
        let mut history: Vec<Operation> = (0..10)
            .map(|t| get_on("a", None, (2 * t, 2 * t + 1)))
            .collect();
        history.push(get_on("b", Some("1"), (0, 1)));
        assert!(matches!(
            check_with_budget(&history[..10], 5),
            Err(CheckError::Inconclusive { .. })
        ));
        match check_with_budget(&history, 5) {
            Err(CheckError::Violation(v)) => assert_eq!(v.key, "b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_operations_are_reported() {
        let v = assert_violation(&[put("a", (5, 4))]);
        assert!(
            v.explanation.contains("before it is invoked"),
            "{}",
            v.explanation
        );
        let v = assert_violation(&[ok(Op::Get { key: "k".into() }, (0, 1), Output::Written)]);
        assert!(v.explanation.contains("wrong kind"), "{}", v.explanation);
    }

    #[test]
    fn violation_display_lists_the_operations() {
        let v = assert_violation(&[put("a", (0, 1)), get(None, (2, 3))]);
        let text = format!("{v}");
        assert!(
            text.contains("#0 client 0: put(\"k\", \"a\") -> ok @ [0, 1]"),
            "{text}"
        );
        assert!(
            text.contains("#1 client 0: get(\"k\") -> none @ [2, 3]"),
            "{text}"
        );
    }

    #[test]
    fn many_pending_indeterminate_writes_do_not_explode() {
        // 40 writes of unknown fate, all pending from the start; reads observe some of them
        // in turn, then one reads a value nobody wrote. A search over subsets of the
        // pending writes would need 2^40 steps to reject this.
        let mut history: Vec<Operation> = (0..40)
            .map(|i| indeterminate(put(&format!("u{i}"), (0, 1))))
            .collect();
        for i in 0..20 {
            let t = 10 + 10 * i;
            history.push(get(Some(&format!("u{}", 2 * i)), (t, t + 1)));
        }
        assert_ok(&history);
        history.push(get(Some("ghost"), (1_000, 1_001)));
        let v = assert_violation(&history);
        assert!(
            v.explanation.contains("at most 20 of 21"),
            "{}",
            v.explanation
        );
    }

    // --- Randomized.

    /// A tiny deterministic generator (Knuth's MMIX LCG), enough to vary test histories.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    #[test]
    fn a_refused_fenced_write_had_no_effect_and_an_accepted_one_did() {
        let fenced = |value: &str| Op::Fenced {
            fence: 2,
            op: alloc::boxed::Box::new(Op::Put {
                key: "k".into(),
                value: value.into(),
            }),
        };
        let op = |client, op, invoked_at, completed_at, output| Operation {
            client,
            op,
            invoked_at,
            outcome: Outcome::Ok {
                completed_at,
                output,
            },
        };
        let get = Op::Get { key: "k".into() };
        let refused = Output::StaleFence { fence: 2, term: 3 };
        let read = |v: &str| Output::Value(Some(v.into()));
        let history = [
            op(1, fenced("a"), 0, 1, Output::Written),
            op(2, fenced("b"), 2, 3, refused.clone()),
            op(3, get.clone(), 4, 5, read("a")),
        ];
        assert!(check(&history).is_ok());
        // Reading the refused value is a violation: the refusal said it never happened.
        let history = [
            op(1, fenced("a"), 0, 1, Output::Written),
            op(2, fenced("b"), 2, 3, refused),
            op(3, get, 4, 5, read("b")),
        ];
        assert!(check(&history).is_err());
    }

    /// The reference model: executes `op` on one key's value.
    fn execute(value: &mut Option<String>, op: &Op) -> Output {
        match op {
            Op::Put { value: v, .. } => {
                *value = Some(v.clone());
                Output::Written
            }
            Op::Get { .. } => Output::Value(value.clone()),
            Op::Delete { .. } => {
                *value = None;
                Output::Written
            }
            Op::Fenced { op, .. } => execute(value, op),
            Op::Cas {
                expected,
                value: new,
                ..
            } => {
                let swapped = value == expected;
                if swapped {
                    *value = Some(new.clone());
                }
                Output::Cas { swapped }
            }
        }
    }

    /// A linearizable history by construction: each client runs its operations one after
    /// another, with random gaps and durations so clients overlap; every operation gets a
    /// hidden linearization point inside its interval, and the operations really execute
    /// one at a time in the order of those points. Some writes fail (no effect) and some
    /// end indeterminate (took effect or not, at random).
    fn random_history(
        rng: &mut Lcg,
        clients: u64,
        ops: usize,
        keys: &[&str],
        indeterminate_percent: u64,
    ) -> Vec<Operation> {
        let mut clock = vec![0u64; clients as usize];
        let mut plan = Vec::with_capacity(ops);
        for _ in 0..ops {
            let client = rng.below(clients);
            let invoked = clock[client as usize] + rng.below(10);
            let completed = invoked + rng.below(40);
            let point = invoked + rng.below(completed - invoked + 1);
            clock[client as usize] = completed + 1;
            plan.push((point, client, invoked, completed));
        }
        plan.sort_by_key(|p| p.0);

        let mut store: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut history = Vec::with_capacity(ops);
        for (n, (_, client, invoked, completed)) in plan.into_iter().enumerate() {
            let key = String::from(keys[rng.below(keys.len() as u64) as usize]);
            let value = store.entry(key.clone()).or_default();
            let new = format!("v{n}");
            let op = match rng.below(10) {
                0..=3 => Op::Get { key },
                4..=6 => Op::Put { key, value: new },
                7 => Op::Delete { key },
                _ => {
                    let expected = if rng.chance(60) {
                        value.clone()
                    } else if rng.chance(20) {
                        None
                    } else {
                        Some(format!("v{}", rng.below(n as u64 + 1)))
                    };
                    Op::Cas {
                        key,
                        expected,
                        value: new,
                    }
                }
            };
            let unknown = rng.chance(indeterminate_percent);
            let fails = !unknown && !matches!(op, Op::Get { .. }) && rng.chance(3);
            let outcome = if fails {
                Outcome::Failed
            } else if unknown {
                if rng.chance(50) {
                    execute(value, &op);
                }
                Outcome::Indeterminate
            } else {
                Outcome::Ok {
                    completed_at: completed,
                    output: execute(value, &op),
                }
            };
            history.push(Operation {
                client,
                op,
                invoked_at: invoked,
                outcome,
            });
        }
        history
    }

    /// Makes one completed read return a value nobody ever wrote; returns its key.
    fn corrupt_a_read(rng: &mut Lcg, history: &mut [Operation]) -> Option<String> {
        let reads: Vec<usize> = (0..history.len())
            .filter(|&i| {
                matches!(
                    (&history[i].op, &history[i].outcome),
                    (Op::Get { .. }, Outcome::Ok { .. })
                )
            })
            .collect();
        if reads.is_empty() {
            return None;
        }
        let op = &mut history[reads[rng.below(reads.len() as u64) as usize]];
        if let Outcome::Ok { output, .. } = &mut op.outcome {
            *output = Output::Value(Some("never written".into()));
        }
        Some(op.op.key().into())
    }

    #[test]
    fn random_real_executions_are_accepted_and_corrupted_reads_rejected() {
        let mut rejected = 0;
        for seed in 0..300u64 {
            let mut rng = Lcg(seed);
            let clients = 1 + seed % 5;
            let ops = 20 + rng.below(180) as usize;
            let mut history = random_history(&mut rng, clients, ops, &["a", "b"], 10);
            if let Err(v) = check(&history) {
                panic!("seed {seed}: rejected a real execution: {v}");
            }
            if let Some(key) = corrupt_a_read(&mut rng, &mut history) {
                match check(&history) {
                    Ok(_) => panic!("seed {seed}: accepted a read of a value never written"),
                    Err(v) => assert_eq!(v.key, key, "seed {seed}"),
                }
                rejected += 1;
            }
        }
        assert!(rejected > 250);
    }

    /// The definition, by exhaustive search with none of the checker's reductions: place
    /// any operation whose predecessors (completed before its invocation) are placed and
    /// whose output fits, until every completed one is; memoized on (placed set, value).
    fn brute_force(history: &[Operation]) -> bool {
        let ops: Vec<&Operation> = history
            .iter()
            .filter(|op| match op.outcome {
                Outcome::Ok { .. } => true,
                Outcome::Failed => false,
                Outcome::Indeterminate => !matches!(op.op, Op::Get { .. }),
            })
            .collect();
        let completed_at = |op: &Operation| match op.outcome {
            Outcome::Ok { completed_at, .. } => Some(completed_at),
            _ => None,
        };
        let bit = |i: usize| 1u32 << i;
        let required = (0..ops.len())
            .filter(|&i| completed_at(ops[i]).is_some())
            .fold(0, |set, i| set | bit(i));
        let preds: Vec<u32> = (0..ops.len())
            .map(|i| {
                (0..ops.len())
                    .filter(|&j| completed_at(ops[j]).is_some_and(|c| c < ops[i].invoked_at))
                    .fold(0, |set, j| set | bit(j))
            })
            .collect();
        let mut seen = BTreeSet::new();
        let mut todo = vec![(0u32, None::<String>)];
        while let Some((placed, value)) = todo.pop() {
            if placed & required == required {
                return true;
            }
            if !seen.insert((placed, value.clone())) {
                continue;
            }
            for (i, op) in ops.iter().enumerate() {
                if placed & bit(i) != 0 || preds[i] & !placed != 0 {
                    continue;
                }
                let mut next = value.clone();
                let output = execute(&mut next, &op.op);
                if let Outcome::Ok { output: seen, .. } = &op.outcome
                    && *seen != output
                {
                    continue;
                }
                todo.push((placed | bit(i), next));
            }
        }
        false
    }

    /// Small single-key histories over few values, so that values collide: half of them
    /// real executions with the odd output flipped, half with random outputs.
    fn random_small_history(rng: &mut Lcg) -> Vec<Operation> {
        const VALUES: [&str; 3] = ["a", "b", "c"];
        let kinds = 1 + rng.below(3);
        let value = |rng: &mut Lcg| String::from(VALUES[rng.below(kinds) as usize]);
        let maybe = |rng: &mut Lcg| Some(value(rng)).filter(|_| rng.chance(75));
        let real = rng.chance(50);
        let horizon = 4 + rng.below(20);
        let mut plan: Vec<(u64, u64, u64)> = (0..1 + rng.below(11))
            .map(|_| {
                let invoked = rng.below(horizon);
                let completed = invoked + rng.below(horizon / 2 + 1);
                let point = invoked + rng.below(completed - invoked + 1);
                (point, invoked, completed)
            })
            .collect();
        plan.sort_unstable();
        let mut current = None;
        plan.into_iter()
            .map(|(_, invoked, completed_at)| {
                let key = String::from("k");
                let op = match rng.below(4) {
                    0 => Op::Get { key },
                    1 => Op::Put {
                        key,
                        value: value(rng),
                    },
                    2 => Op::Delete { key },
                    _ => Op::Cas {
                        key,
                        expected: if real && rng.chance(50) {
                            current.clone()
                        } else {
                            maybe(rng)
                        },
                        value: value(rng),
                    },
                };
                let outcome = match rng.below(10) {
                    0..=2 => {
                        if real && rng.chance(50) {
                            execute(&mut current, &op);
                        }
                        Outcome::Indeterminate
                    }
                    3 => Outcome::Failed,
                    _ => {
                        let mut output = if real {
                            execute(&mut current, &op)
                        } else {
                            execute(&mut maybe(rng), &op)
                        };
                        if real && rng.chance(4) {
                            output = match output {
                                Output::Value(_) => Output::Value(maybe(rng)),
                                Output::Cas { swapped } => Output::Cas { swapped: !swapped },
                                written => written,
                            };
                        }
                        Outcome::Ok {
                            completed_at,
                            output,
                        }
                    }
                };
                Operation {
                    client: 0,
                    op,
                    invoked_at: invoked,
                    outcome,
                }
            })
            .collect()
    }

    #[test]
    fn agrees_with_brute_force_on_small_histories() {
        let (mut accepted, mut rejected) = (0, 0);
        for seed in 0..30_000u64 {
            let mut rng = Lcg(seed);
            let history = random_small_history(&mut rng);
            let expected = brute_force(&history);
            assert_eq!(
                check(&history).is_ok(),
                expected,
                "seed {seed}: {history:#?}"
            );
            if expected {
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
        assert!(
            accepted > 5_000 && rejected > 5_000,
            "{accepted} / {rejected}"
        );
    }

    #[test]
    fn large_history_checks_quickly() {
        // 5 clients, 2,000 operations, 3 keys, 5% indeterminate: well under a second in an
        // optimised build (the test profile is optimised). No timing assertion: a slow
        // machine must not fail it, a blow-up would still show as a hang.
        let mut rng = Lcg(7);
        let mut history = random_history(&mut rng, 5, 2_000, &["x", "y", "z"], 5);
        let stats = assert_ok(&history);
        assert_eq!(stats.keys, 3);
        assert!(stats.operations > 1_800);
        corrupt_a_read(&mut rng, &mut history).expect("has reads");
        assert_violation(&history);
    }
}
