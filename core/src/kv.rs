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

    /// The operation's name, as histories and logs print it (a fenced write by its own).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Put { .. } => "put",
            Op::Get { .. } => "get",
            Op::Delete { .. } => "delete",
            Op::Cas { .. } => "cas",
            Op::Fenced { op, .. } => op.name(),
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

/// Why `Kv::decode` refused a snapshot's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// Not the magic prefix of this encoding (or of its version).
    BadMagic,
    /// The bytes end inside a field.
    Truncated,
    /// A key or value is not UTF-8.
    NotUtf8,
    /// Keys must strictly ascend: the encoding of a state is unique.
    KeysOutOfOrder,
    /// Bytes follow the last pair.
    TrailingBytes,
}

/// Magic prefix and version of the store's snapshot encoding.
const SNAPSHOT_MAGIC: &[u8; 8] = b"DGKV\0\0\0\x01";

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

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
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

    /// The store's state as bytes, deterministic: the magic prefix, the applied index
    /// (u64 little-endian), the number of pairs (u64), then each pair in key order as
    /// key length (u32), key, value length (u32), value. Equal states encode equally.
    pub fn encode(&self) -> alloc::vec::Vec<u8> {
        let size: usize = self.map.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
        let mut out = alloc::vec::Vec::with_capacity(24 + size);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&self.applied_index.to_le_bytes());
        out.extend_from_slice(&(self.map.len() as u64).to_le_bytes());
        for (key, value) in &self.map {
            for text in [key, value] {
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
        out
    }

    /// The inverse of `encode`; refuses anything `encode` would not produce.
    pub fn decode(bytes: &[u8]) -> Result<Kv, DecodeError> {
        let mut rest = bytes
            .strip_prefix(SNAPSHOT_MAGIC.as_slice())
            .ok_or(DecodeError::BadMagic)?;
        let applied_index = take_u64(&mut rest)?;
        let count = take_u64(&mut rest)?;
        let mut map = BTreeMap::new();
        let mut last: Option<String> = None;
        for _ in 0..count {
            let key = take_text(&mut rest)?;
            let value = take_text(&mut rest)?;
            if last.as_ref().is_some_and(|l| *l >= key) {
                return Err(DecodeError::KeysOutOfOrder);
            }
            last = Some(key.clone());
            map.insert(key, value);
        }
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        Ok(Kv { map, applied_index })
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

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if rest.len() < n {
        return Err(DecodeError::Truncated);
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take_u64(rest: &mut &[u8]) -> Result<u64, DecodeError> {
    let bytes = take(rest, 8)?;
    let mut word = [0; 8];
    word.copy_from_slice(bytes);
    Ok(u64::from_le_bytes(word))
}

fn take_text(rest: &mut &[u8]) -> Result<String, DecodeError> {
    let bytes = take(rest, 4)?;
    let mut word = [0; 4];
    word.copy_from_slice(bytes);
    let len = u32::from_le_bytes(word) as usize;
    let text = take(rest, len)?;
    core::str::from_utf8(text)
        .map(String::from)
        .map_err(|_| DecodeError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_survives_encoding_and_bad_bytes_are_refused() {
        let mut kv = Kv::default();
        kv.apply(&entry(1, 1, put("b", "2")));
        kv.apply(&entry(2, 1, put("a", "1")));
        kv.apply(&entry(3, 1, put("ü", "")));
        let bytes = kv.encode();
        assert_eq!(Kv::decode(&bytes), Ok(kv.clone()));
        assert_eq!(Kv::decode(&Kv::default().encode()), Ok(Kv::default()));
        assert_eq!(Kv::decode(b"nonsense"), Err(DecodeError::BadMagic));
        for cut in 8..bytes.len() {
            assert_eq!(
                Kv::decode(&bytes[..cut]),
                Err(DecodeError::Truncated),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Kv::decode(&longer), Err(DecodeError::TrailingBytes));
        // Swap the first two pairs ("a" and "b"): the same map, a non-canonical encoding.
        let mut swapped = bytes.clone();
        swapped[24..34].copy_from_slice(&bytes[34..44]);
        swapped[34..44].copy_from_slice(&bytes[24..34]);
        assert_eq!(Kv::decode(&swapped), Err(DecodeError::KeysOutOfOrder));
        let mut not_utf8 = bytes;
        not_utf8[28] = 0xff;
        assert_eq!(Kv::decode(&not_utf8), Err(DecodeError::NotUtf8));
        // Keys and values longer than the 8 bytes of their lengths: the size the encoder
        // reserves is a sum, and the round trip holds whatever the lengths.
        kv.apply(&entry(
            4,
            1,
            put(
                "a key of some length",
                "and a value much longer than the key it is stored under",
            ),
        ));
        assert_eq!(Kv::decode(&kv.encode()), Ok(kv.clone()));
    }

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
        assert!(!kv.is_empty());
        assert_eq!(kv.len(), 1);
    }

    #[test]
    fn operations_are_named_as_histories_print_them() {
        let put = Op::Put {
            key: "k".into(),
            value: "v".into(),
        };
        let get = Op::Get { key: "k".into() };
        let delete = Op::Delete { key: "k".into() };
        let cas = Op::Cas {
            key: "k".into(),
            expected: None,
            value: "v".into(),
        };
        assert_eq!(
            [&put, &get, &delete, &cas].map(Op::name),
            ["put", "get", "delete", "cas"]
        );
        assert_eq!(fenced(3, cas).name(), "cas");
        assert_eq!(fenced(3, put).unfenced().name(), "put");
    }
}
