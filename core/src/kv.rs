//! The replicated state machine: a small string key-value store. Deterministic, so every
//! node that applies the same committed entries holds the same map.
//!
//! [`Op`] and [`Output`] are the one vocabulary of key-value operations: the log entry
//! carries an `Op`, a client request asks for one, and the linearizability checker and
//! the process nemesis record histories of them.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::string::String;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::entry::{Command, Entry};
use crate::types::Index;

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
}

impl Op {
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Get { key } | Op::Delete { key } | Op::Cas { key, .. } => key,
        }
    }

    /// The operation's name, as histories and logs print it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::Delete { .. } => "delete",
            Op::Cas { .. } => "cas",
        }
    }

    /// Reads change nothing, so they need no log entry.
    pub fn is_read(&self) -> bool {
        matches!(self, Op::Get { .. })
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
            Command::App(op) => Some(self.execute(op)),
        }
    }

    /// Runs one operation against the map (what applying its entry does).
    pub fn execute(&mut self, op: &Op) -> Output {
        match op {
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
