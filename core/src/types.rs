//! The vocabulary every other module speaks: ids, terms, indexes, time, members.

use alloc::string::String;
use alloc::vec::Vec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// A node's identity. Positive; 0 is never a valid id.
pub type NodeId = u64;
/// A Raft term. Terms only grow.
pub type Term = u64;
/// No correct node ever gets near this term (one election per millisecond would need
/// 146 million years), so a message claiming more is refused: a node's term then stays
/// at or below it and `term + 1` cannot overflow.
pub const MAX_TERM: Term = 1 << 62;
/// A log position. The first entry has index 1; index 0 means "before the log".
pub type Index = u64;
/// The core's map for its own tables: a sorted `Vec` (litemap). They are small (a few
/// nodes, the requests in flight, one entry per term), where a flat map is as quick as a
/// B-tree, and it is one small piece of code instead of a B-tree per key type (they were a
/// third of the wasm). The key-value store, which grows with the data, keeps a B-tree.
pub type Map<K, V> = litemap::LiteMap<K, V>;
/// Virtual milliseconds. The core has no clock: the driver says what time it is.
pub type Millis = u64;

/// One member of the cluster: its id and an address only drivers interpret
/// (the simulator leaves it empty; the native node stores `host:port`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Member {
    pub id: NodeId,
    pub addr: String,
}

impl Member {
    pub fn new(id: NodeId, addr: impl Into<String>) -> Self {
        Member {
            id,
            addr: addr.into(),
        }
    }
}

/// The set of voters. Every member votes (there are no learners); changes add or
/// remove exactly one member at a time, which keeps any two majorities overlapping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Membership {
    /// Sorted by id, ids unique.
    members: Vec<Member>,
}

impl Membership {
    pub const EMPTY: Membership = Membership {
        members: Vec::new(),
    };

    /// Sorted by id; of two members with one id, the smaller address is kept.
    pub fn new(members: Vec<Member>) -> Self {
        // Placed one by one rather than sorted: a membership is a handful of members,
        // and a general sort of `Member` would add kilobytes to the wasm build.
        let mut sorted: Vec<Member> = Vec::with_capacity(members.len());
        for m in members {
            match sorted.binary_search_by_key(&m.id, |s| s.id) {
                Ok(at) if m < sorted[at] => sorted[at] = m,
                Ok(_) => {}
                Err(at) => sorted.insert(at, m),
            }
        }
        Membership { members: sorted }
    }

    /// A membership of bare ids with empty addresses (what the simulator uses).
    pub fn from_ids(ids: impl IntoIterator<Item = NodeId>) -> Self {
        Self::new(ids.into_iter().map(|id| Member::new(id, "")).collect())
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.members.iter().map(|m| m.id)
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.get(id).is_some()
    }

    pub fn get(&self, id: NodeId) -> Option<&Member> {
        self.members
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .map(|i| &self.members[i])
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Votes (or acknowledgements) needed for a majority.
    pub fn quorum(&self) -> usize {
        self.members.len() / 2 + 1
    }

    /// This membership plus `member`, or `None` if the id is already a member.
    pub fn with(&self, member: Member) -> Option<Membership> {
        if self.contains(member.id) {
            return None;
        }
        let mut members = self.members.clone();
        members.push(member);
        Some(Membership::new(members))
    }

    /// This membership minus `id`, or `None` if `id` is not a member.
    pub fn without(&self, id: NodeId) -> Option<Membership> {
        if !self.contains(id) {
            return None;
        }
        let members = self.members.iter().filter(|m| m.id != id).cloned();
        Some(Membership::new(members.collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_membership_is_sorted_by_id_without_duplicates() {
        let m = |id, addr: &str| Member::new(id, addr);
        let membership = Membership::new(alloc::vec![m(3, "c"), m(1, "z"), m(2, "b"), m(1, "a")]);
        let got: Vec<(NodeId, &str)> = membership
            .members()
            .iter()
            .map(|x| (x.id, x.addr.as_str()))
            .collect();
        assert_eq!(got, [(1, "a"), (2, "b"), (3, "c")]);
    }
}
