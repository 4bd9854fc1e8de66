//! The replicated state machine: a small string key-value store. Deterministic, so every
//! node that applies the same committed entries holds the same map.
//!
//! [`Op`] and [`Output`] are the one vocabulary of key-value operations: the log entry
//! carries an `Op`, a client request asks for one, and the linearizability checker and
//! the process nemesis record histories of them.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::entry::{Command, Entry};
use crate::types::{Index, Term};

/// A key-value operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Op {
    Put {
        key: String,
        value: String,
    },
    /// A linearizable read: answered after a goose round (ReadIndex), never logged.
    Get {
        key: String,
    },
    Delete {
        key: String,
    },
    /// Set `key` to `value` if its current value is `expected` (`None`: absent).
    Cas {
        key: String,
        expected: Option<String>,
        value: String,
    },
    /// A write stamped with the fencing token of the leadership its client saw (the
    /// goose's term). It takes effect only if, when applied, its entry belongs to that
    /// very term: an entry of term `t` follows, in log order, every entry of older terms
    /// and precedes every entry of newer ones, so the accepted fences never go back in
    /// apply order — on every replica alike. Last, so stored logs keep their encoding.
    Fenced {
        fence: Term,
        op: Box<Op>,
    },
}

impl Op {
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Get { key } | Op::Delete { key } | Op::Cas { key, .. } => key,
            Op::Fenced { op, .. } => op.key(),
        }
    }

    /// The operation's name, as histories and logs print it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::Delete { .. } => "delete",
            Op::Cas { .. } => "cas",
            Op::Fenced { op, .. } => op.name(),
        }
    }

    /// Reads change nothing, so they need no log entry.
    pub fn is_read(&self) -> bool {
        match self {
            Op::Get { .. } => true,
            Op::Fenced { op, .. } => op.is_read(),
            _ => false,
        }
    }

    /// The operation without its fence.
    pub fn unfenced(&self) -> &Op {
        match self {
            Op::Fenced { op, .. } => op.unfenced(),
            op => op,
        }
    }
}

/// What an operation returned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Output {
    /// Put and Delete.
    Written,
    /// Get.
    Value(Option<String>),
    Cas {
        swapped: bool,
    },
    /// A fenced write refused: its entry is of `term`, not of the leadership its fence
    /// names. Nothing changed.
    StaleFence {
        fence: Term,
        term: Term,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    /// A B-tree, unlike the core's small tables: it grows with the data people store.
    map: BTreeMap<String, String>,
    applied_index: Index,
}

impl Kv {
    pub fn applied_index(&self) -> Index {
        self.applied_index
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.map.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.map.iter()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Applies the next committed entry: `None` for no-ops and membership changes.
    /// Entries must come in index order, each once.
    pub fn apply(&mut self, entry: &Entry) -> Option<Output> {
        assert_eq!(
            entry.index,
            self.applied_index + 1,
            "entries apply in order, once"
        );
        self.applied_index = entry.index;
        match &entry.command {
            Command::Noop | Command::Config(_) => None,
            Command::App(op) => Some(self.execute(op, entry.term)),
        }
    }

    /// Runs the operation of an entry of `term` against the map: a fenced write runs
    /// only in its own term.
    fn execute(&mut self, op: &Op, term: Term) -> Output {
        match op {
            Op::Fenced { fence, op } if *fence == term => self.execute(op, term),
            Op::Fenced { fence, .. } => Output::StaleFence {
                fence: *fence,
                term,
            },
            Op::Put { key, value } => {
                self.set(key, value);
                Output::Written
            }
            Op::Get { key } => Output::Value(self.map.get(key).cloned()),
            Op::Delete { key } => {
                self.map.remove(key);
                Output::Written
            }
            Op::Cas {
                key,
                expected,
                value,
            } => {
                let swapped = self.map.get(key) == expected.as_ref();
                if swapped {
                    self.set(key, value);
                }
                Output::Cas { swapped }
            }
        }
    }

    /// Overwriting a key reuses its stored copy; only a new key is cloned into the map.
    fn set(&mut self, key: &str, value: &str) {
        match self.map.get_mut(key) {
            Some(stored) => value.clone_into(stored),
            None => {
                self.map.insert(key.into(), value.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: Index, term: Term, op: Op) -> Entry {
        Entry {
            index,
            term,
            command: Command::App(op),
        }
    }

    fn put(key: &str, value: &str) -> Op {
        Op::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    fn fenced(fence: Term, op: Op) -> Op {
        Op::Fenced {
            fence,
            op: Box::new(op),
        }
    }

    #[test]
    fn a_fenced_write_applies_only_in_the_term_its_fence_names() {
        let mut kv = Kv::default();
        assert_eq!(
            kv.apply(&entry(1, 3, fenced(3, put("x", "current")))),
            Some(Output::Written)
        );
        // An old goose's client, its entry committed by the leader of term 3.
        assert_eq!(
            kv.apply(&entry(2, 3, fenced(2, put("x", "stale")))),
            Some(Output::StaleFence { fence: 2, term: 3 })
        );
        // A fence from a leadership newer than the entry: proposed by an ex-goose.
        assert_eq!(
            kv.apply(&entry(3, 3, fenced(4, put("x", "early")))),
            Some(Output::StaleFence { fence: 4, term: 3 })
        );
        // The same stale write unfenced would have gone through.
        assert_eq!(
            kv.apply(&entry(4, 3, put("y", "unfenced"))),
            Some(Output::Written)
        );
        assert_eq!(kv.get("x").map(String::as_str), Some("current"));
        assert_eq!(kv.get("y").map(String::as_str), Some("unfenced"));
    }

    #[test]
    fn a_refused_cas_changes_nothing() {
        let mut kv = Kv::default();
        let cas = Op::Cas {
            key: "k".into(),
            expected: None,
            value: "v".into(),
        };
        assert_eq!(
            kv.apply(&entry(1, 2, fenced(1, cas.clone()))),
            Some(Output::StaleFence { fence: 1, term: 2 })
        );
        assert!(kv.is_empty());
        assert_eq!(
            kv.apply(&entry(2, 2, fenced(2, cas))),
            Some(Output::Cas { swapped: true })
        );
    }
}
