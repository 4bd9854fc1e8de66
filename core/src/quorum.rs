//! Majority arithmetic: the only place that knows what "a quorum" means.

use alloc::vec::Vec;

use crate::types::{Map, Membership, NodeId};

/// The largest value that a quorum of `membership` has reached: sort the members' values
/// descending and take the quorum-th. Used for the commit index (match indexes) and for
/// goose confirmation (acknowledged rounds).
pub fn quorum_value(membership: &Membership, value_of: impl Fn(NodeId) -> u64) -> u64 {
    const ON_STACK: usize = 16;
    let n = membership.len();
    if n == 0 {
        return 0;
    }
    // Called on every acknowledgement: clusters are small, so the values live on the stack.
    let mut on_stack = [0u64; ON_STACK];
    let mut on_heap = Vec::new();
    let values: &mut [u64] = if n <= ON_STACK {
        &mut on_stack[..n]
    } else {
        on_heap.resize(n, 0);
        &mut on_heap
    };
    for (slot, id) in values.iter_mut().zip(membership.ids()) {
        *slot = value_of(id);
    }
    sort_descending(values);
    let quorum = membership.quorum();
    debug_assert!(
        quorum >= 1 && quorum <= n && 2 * quorum > n,
        "a quorum of {n} is a majority: {quorum}"
    );
    let value = values[quorum - 1];
    // O(n), like filling `values`: the result is reached by a majority and by no more
    // than the highest member.
    debug_assert!(
        value <= values[0],
        "quorum value {value} above the highest input {}",
        values[0]
    );
    debug_assert!(
        values.iter().filter(|&&v| v >= value).count() >= quorum,
        "quorum value {value} is reached by a majority ({quorum} of {n})"
    );
    debug_assert!(
        values.iter().filter(|&&v| v > value).count() < quorum,
        "quorum value {value} is the highest a majority reached"
    );
    value
}

/// Insertion sort: for a cluster's handful of values it is as quick as the standard sort
/// and a fraction of its code in the wasm build.
fn sort_descending(values: &mut [u64]) {
    for i in 1..values.len() {
        let mut j = i;
        while j > 0 && values[j - 1] < values[j] {
            values.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteResult {
    Won { votes: u32 },
    Lost,
    Pending,
}

/// Counts (pre-)votes from members only: a reply from a non-member neither helps nor hurts.
pub fn tally(membership: &Membership, votes: &Map<NodeId, bool>) -> VoteResult {
    let granted = membership
        .ids()
        .filter(|id| votes.get(id) == Some(&true))
        .count();
    let denied = membership
        .ids()
        .filter(|id| votes.get(id) == Some(&false))
        .count();
    let quorum = membership.quorum();
    debug_assert!(
        granted + denied <= membership.len(),
        "each member votes at most once: {granted} granted + {denied} denied > {}",
        membership.len()
    );
    debug_assert!(
        !(granted >= quorum && denied >= quorum),
        "two majorities cannot both be reached: {granted} granted, {denied} denied of {}",
        membership.len()
    );
    if granted >= quorum {
        VoteResult::Won {
            votes: granted as u32,
        }
    } else if denied >= quorum || membership.len() - denied < quorum {
        VoteResult::Lost
    } else {
        VoteResult::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_value_is_the_majoritys_floor() {
        let m = Membership::from_ids([1, 2, 3, 4, 5]);
        let values = [(1, 9), (2, 7), (3, 5), (4, 3), (5, 1)];
        let get = |id| values.iter().find(|(i, _)| *i == id).unwrap().1;
        assert_eq!(quorum_value(&m, get), 5);
        let m4 = Membership::from_ids([1, 2, 3, 4]);
        assert_eq!(
            quorum_value(&m4, get),
            5,
            "4 members need 3: the third highest"
        );
    }

    #[test]
    fn quorum_value_matches_a_full_sort_for_every_size() {
        // Values in a scrambled order, for clusters on the stack (n <= 16) and beyond.
        for n in 1..=40u64 {
            let m = Membership::from_ids(1..=n);
            let value = |id: u64| (id * 7919) % 13;
            let mut sorted: Vec<u64> = (1..=n).map(value).collect();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(quorum_value(&m, value), sorted[m.quorum() - 1], "n = {n}");
        }
    }

    #[test]
    fn tally_wins_loses_and_waits() {
        let m = Membership::from_ids([1, 2, 3]);
        let mut votes = Map::new();
        votes.insert(1, true);
        assert_eq!(tally(&m, &votes), VoteResult::Pending);
        votes.insert(9, true);
        assert_eq!(
            tally(&m, &votes),
            VoteResult::Pending,
            "non-members do not count"
        );
        votes.insert(2, false);
        assert_eq!(tally(&m, &votes), VoteResult::Pending);
        votes.insert(3, true);
        assert_eq!(tally(&m, &votes), VoteResult::Won { votes: 2 });
        votes.insert(3, false);
        assert_eq!(tally(&m, &votes), VoteResult::Lost);
    }
}
