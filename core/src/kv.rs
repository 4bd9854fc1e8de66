//! The replicated state machine: a small string key-value store. Deterministic, so every
//! node that applies the same committed entries holds the same map.

use alloc::collections::BTreeMap;
use alloc::string::String;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::entry::{Command, Entry};
use crate::types::Index;

/// The result of applying one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Applied {
    /// No-ops and membership changes.
    Nothing,
    Written,
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

    /// Applies the next committed entry. Entries must come in index order, each once.
    pub fn apply(&mut self, entry: &Entry) -> Applied {
        assert_eq!(
            entry.index,
            self.applied_index + 1,
            "entries apply in order, once"
        );
        self.applied_index = entry.index;
        match &entry.command {
            Command::Noop | Command::Config(_) => Applied::Nothing,
            Command::Put { key, value } => {
                self.map.insert(key.clone(), value.clone());
                Applied::Written
            }
            Command::Delete { key } => {
                self.map.remove(key);
                Applied::Written
            }
            Command::Cas {
                key,
                expected,
                value,
            } => {
                let swapped = self.map.get(key) == expected.as_ref();
                if swapped {
                    self.map.insert(key.clone(), value.clone());
                }
                Applied::Cas { swapped }
            }
        }
    }
}
