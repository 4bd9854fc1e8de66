//! The replicated log, in memory. The driver keeps a durable copy (see `Ready::log_write`);
//! the core's copy is authoritative while the process lives.
//!
//! The log may be compacted (Raft §7): a prefix through `snapshot_index` is replaced by a
//! snapshot, and the log keeps only what follows. `entries[i]` then has index
//! `snapshot_index + i + 1`; the term of the entry at `snapshot_index` and the membership
//! in force there are kept, so `term_at(snapshot_index)` still answers. Indexes below it
//! are gone: `term_at` and `get` answer `None` for them, as for indexes past the end;
//! `first_index()` tells the two apart.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::entry::{Command, Entry};
use crate::kv::Op;
use crate::types::{Index, Membership, Term};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Log<C = Op> {
    /// `entries[i]` has index `snapshot_index + i + 1`.
    entries: Vec<Entry<C>>,
    /// The last index compacted into a snapshot (0: nothing compacted).
    snapshot_index: Index,
    /// The term of the entry at `snapshot_index` (0 when nothing is compacted).
    snapshot_term: Term,
    /// The membership in force at `snapshot_index` (empty when nothing is compacted).
    snapshot_membership: Membership,
    /// Indexes of the `Config` entries, ascending, so the latest membership is found
    /// without a scan and restored cheaply when a suffix is truncated.
    config_indexes: Vec<Index>,
}

impl<C> Default for Log<C> {
    fn default() -> Self {
        Log {
            entries: Vec::new(),
            snapshot_index: 0,
            snapshot_term: 0,
            snapshot_membership: Membership::EMPTY,
            config_indexes: Vec::new(),
        }
    }
}

/// The outcome of offering a leader's entries to a follower's log.
#[derive(Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The log now matches the leader's through `last_new`. `first_written` is the first
    /// index that changed, if any; `truncated` says a conflicting suffix was dropped there.
    Matched {
        last_new: Index,
        first_written: Option<Index>,
        truncated: bool,
    },
    /// The log has no entry at `prev_index` with `prev_term`. `conflict_index` is where
    /// the leader should try next; `conflict_term` the term found at `prev_index`, if any.
    Mismatch {
        conflict_index: Index,
        conflict_term: Option<Term>,
    },
}

impl<C: Clone> Log<C> {
    pub fn from_entries(entries: Vec<Entry<C>>) -> Self {
        Self::from_snapshot_and_entries(0, 0, Membership::EMPTY, entries)
    }

    /// A log compacted through `(snapshot_index, snapshot_term)`, with `membership` in
    /// force there, followed by `entries`. Entries at or below the snapshot index are
    /// skipped (a driver may keep some that a crash interrupted it from dropping); the
    /// rest must follow contiguously (the caller, `Raft::new`, checks that first).
    pub fn from_snapshot_and_entries(
        snapshot_index: Index,
        snapshot_term: Term,
        membership: Membership,
        entries: Vec<Entry<C>>,
    ) -> Self {
        let mut log = Log {
            snapshot_index,
            snapshot_term,
            snapshot_membership: membership,
            ..Log::default()
        };
        for entry in entries.into_iter().filter(|e| e.index > snapshot_index) {
            log.push(entry);
        }
        log.debug_check_whole_log();
        log
    }

    /// Every structural invariant of the log, entry by entry: O(n), so only called where
    /// the whole log is touched anyway (restore) and from tests.
    pub(crate) fn debug_check_whole_log(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let mut previous_term = self.snapshot_term;
        assert!(
            self.snapshot_index > 0
                || (self.snapshot_term == 0 && self.snapshot_membership.is_empty()),
            "an uncompacted log has no snapshot term or membership"
        );
        let mut configs = self.config_indexes.iter().peekable();
        for (position, entry) in self.entries.iter().enumerate() {
            assert_eq!(
                entry.index,
                self.snapshot_index + position as Index + 1,
                "indexes are contiguous from the snapshot index + 1"
            );
            assert!(
                entry.term >= previous_term,
                "terms never decrease along the log: {} then {} at {}",
                previous_term,
                entry.term,
                entry.index
            );
            previous_term = entry.term;
            if entry.command.is_config() {
                assert_eq!(
                    configs.next(),
                    Some(&entry.index),
                    "config_indexes lists every Config entry, in order"
                );
            }
        }
        assert_eq!(
            configs.next(),
            None,
            "config_indexes lists only entries in the log"
        );
    }

    pub fn entries(&self) -> &[Entry<C>] {
        &self.entries
    }

    pub fn last_index(&self) -> Index {
        self.snapshot_index + self.entries.len() as Index
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The first index the log still holds an entry for (`snapshot_index + 1`).
    pub fn first_index(&self) -> Index {
        self.snapshot_index + 1
    }

    /// The last compacted index and its term: `(0, 0)` when nothing is compacted.
    pub fn snapshot_position(&self) -> (Index, Term) {
        (self.snapshot_index, self.snapshot_term)
    }

    /// The membership in force at the snapshot index.
    pub fn snapshot_membership(&self) -> &Membership {
        &self.snapshot_membership
    }

    /// The term at `index`; index 0 has term 0, the snapshot index its snapshot term.
    /// `None` past the end and below the snapshot index (compacted away).
    pub fn term_at(&self, index: Index) -> Option<Term> {
        match index.cmp(&self.snapshot_index) {
            Ordering::Less => return None,
            Ordering::Equal => return Some(self.snapshot_term),
            Ordering::Greater => {}
        }
        let term = self.get(index).map(|e| e.term);
        debug_assert_eq!(
            term.is_some(),
            index <= self.last_index(),
            "term_at({index}) is known exactly inside [{}, {}]",
            self.snapshot_index,
            self.last_index()
        );
        debug_assert!(
            term.is_none_or(|t| t <= self.last_term()),
            "no entry's term is above the last entry's"
        );
        term
    }

    pub fn get(&self, index: Index) -> Option<&Entry<C>> {
        let position = usize::try_from(index.checked_sub(self.snapshot_index)?)
            .ok()?
            .checked_sub(1)?;
        let entry = self.entries.get(position);
        debug_assert!(
            entry.is_none_or(|e| e.index == index),
            "entry at position {position} has index {index}"
        );
        entry
    }

    /// Entries `from..=to`, clipped to the log (and to what compaction left).
    pub fn range(&self, from: Index, to: Index) -> &[Entry<C>] {
        let first = from.max(self.first_index());
        let start = (first - self.first_index()) as usize;
        let end = to
            .min(self.last_index())
            .saturating_sub(self.snapshot_index) as usize;
        if start >= end {
            return &[];
        }
        let slice = &self.entries[start..end];
        debug_assert!(
            slice.first().is_some_and(|e| e.index == first)
                && slice
                    .last()
                    .is_some_and(|e| e.index == to.min(self.last_index())),
            "range({from}, {to}) returns exactly the entries asked for"
        );
        slice
    }

    /// Appends an entry at the end. The caller supplies the next index.
    pub fn push(&mut self, entry: Entry<C>) {
        assert_eq!(
            entry.index,
            self.last_index() + 1,
            "log must stay contiguous"
        );
        debug_assert!(
            entry.term >= self.last_term(),
            "terms in a log never decrease"
        );
        if entry.command.is_config() {
            debug_assert!(
                self.config_indexes.last().is_none_or(|&i| i < entry.index),
                "config_indexes ascend"
            );
            self.config_indexes.push(entry.index);
        }
        let index = entry.index;
        self.entries.push(entry);
        debug_assert_eq!(self.last_index(), index, "push extends the log by one");
    }

    /// Drops every entry at `from` and after.
    /// (The log does not know the commit index: the caller, `on_append`, checks that what
    /// it truncates was never committed.)
    pub fn truncate_from(&mut self, from: Index) {
        debug_assert!(
            from > self.snapshot_index,
            "the compacted prefix (through {}) is never truncated, not at {from}",
            self.snapshot_index
        );
        debug_assert!(
            from <= self.last_index(),
            "truncation at {from} drops something (last {})",
            self.last_index()
        );
        self.entries.truncate((from - self.first_index()) as usize);
        while self.config_indexes.last().is_some_and(|&i| i >= from) {
            self.config_indexes.pop();
        }
        debug_assert_eq!(
            self.last_index(),
            from - 1,
            "the log now ends before {from}"
        );
        debug_assert!(
            self.config_indexes.last().is_none_or(|&i| i < from),
            "no config index survives past the truncation"
        );
    }

    /// The follower side of AppendEntries (Raft §5.3): check `prev`, skip entries already
    /// present, truncate at the first conflict, append the rest.
    pub fn try_append(
        &mut self,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry<C>>,
    ) -> AppendOutcome {
        debug_assert!(
            prev_index != 0 || prev_term == 0,
            "index 0 has term 0: Message::validate refuses any other"
        );
        let (prev_index, prev_term, entries) = if prev_index < self.snapshot_index {
            // The compacted prefix is committed, and a correct leader holds every
            // committed entry (leader completeness): what it sends there matches. Skip
            // to the snapshot; an Append that ends before it matches with nothing to
            // write (`last_new` is the snapshot index).
            let rest = entries
                .into_iter()
                .filter(|e| e.index > self.snapshot_index)
                .collect();
            (self.snapshot_index, self.snapshot_term, rest)
        } else {
            (prev_index, prev_term, entries)
        };
        match self.term_at(prev_index) {
            None => {
                return AppendOutcome::Mismatch {
                    conflict_index: self.last_index() + 1,
                    conflict_term: None,
                };
            }
            Some(term) if term != prev_term => {
                let conflict_index = self.first_index_of_term_ending_at(prev_index);
                // At the snapshot index itself only a faulty leader can disagree with us
                // (the prefix is committed): it is told that index, and nothing changes.
                debug_assert!(
                    (self.first_index().min(prev_index)..=prev_index).contains(&conflict_index),
                    "a conflict at {prev_index} is hinted at or below it, not at {conflict_index}"
                );
                return AppendOutcome::Mismatch {
                    conflict_index,
                    conflict_term: Some(term),
                };
            }
            Some(_) => {}
        }
        let last_new = prev_index + entries.len() as Index;
        let mut first_written = None;
        let mut truncated = false;
        for (offset, entry) in entries.into_iter().enumerate() {
            debug_assert_eq!(
                entry.index,
                prev_index + 1 + offset as Index,
                "validated by the caller"
            );
            match self.term_at(entry.index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    self.truncate_from(entry.index);
                    truncated = true;
                    first_written.get_or_insert(entry.index);
                    self.push(entry);
                }
                None => {
                    first_written.get_or_insert(entry.index);
                    self.push(entry);
                }
            }
        }
        debug_assert!(
            self.last_index() >= last_new,
            "after a match the log holds the leader's entries through {last_new} (last {})",
            self.last_index()
        );
        debug_assert!(
            !truncated || self.last_index() == last_new,
            "after a truncation the log ends with the leader's last entry {last_new} (last {})",
            self.last_index()
        );
        debug_assert!(
            first_written.is_none_or(|f| prev_index < f && f <= last_new),
            "the first write {first_written:?} lies in the offered range ({prev_index}, {last_new}]"
        );
        AppendOutcome::Matched {
            last_new,
            first_written,
            truncated,
        }
    }

    /// Raft §5.4.1: is a log ending at (`last_term`, `last_index`) at least as up-to-date as ours?
    pub fn is_up_to_date(&self, last_term: Term, last_index: Index) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// The first index of the run of entries with the same term as `index`, going back.
    /// Lets a leader skip a whole conflicting term in one round trip.
    fn first_index_of_term_ending_at(&self, index: Index) -> Index {
        let Some(term) = self.term_at(index) else {
            return index;
        };
        // A conflict is never at or below the snapshot index (that prefix is committed),
        // so the hint stays inside the entries the log still holds.
        let mut first = index;
        while first > self.first_index() && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        debug_assert!(
            self.term_at(first) == Some(term)
                && (first == self.first_index() || self.term_at(first - 1) < Some(term)),
            "{first} starts the run of term {term}: the term before it is lower"
        );
        first
    }

    /// The last index holding an entry of `term`, if any.
    pub fn last_index_of_term(&self, term: Term) -> Option<Index> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.term == term)
            .map(|e| e.index)
            .or((self.snapshot_index > 0 && self.snapshot_term == term)
                .then_some(self.snapshot_index))
    }

    /// The membership in force (empty for a node that has not joined yet).
    pub fn membership(&self) -> &Membership {
        static EMPTY: Membership = Membership::EMPTY;
        self.latest_config().map_or(&EMPTY, |(_, m)| m)
    }

    /// The membership before the latest one, if the log holds two (the snapshot's
    /// membership counts as one, at the snapshot index).
    pub fn previous_config(&self) -> Option<&Membership> {
        match self.config_indexes.len() {
            0 => None,
            1 => self.snapshot_config().map(|(_, m)| m),
            n => self.config_at(self.config_indexes[n - 2]),
        }
    }

    /// The membership in force: the latest `Config` entry, committed or not, else the
    /// snapshot's membership.
    pub fn latest_config(&self) -> Option<(Index, &Membership)> {
        match self.config_indexes.last() {
            Some(&index) => self.config_at(index).map(|m| (index, m)),
            None => self.snapshot_config(),
        }
    }

    /// The snapshot's membership, if the log was compacted: an uncompacted log has none
    /// (`debug_check_whole_log` holds it to that), so that alone says.
    fn snapshot_config(&self) -> Option<(Index, &Membership)> {
        (!self.snapshot_membership.is_empty())
            .then_some((self.snapshot_index, &self.snapshot_membership))
    }

    fn config_at(&self, index: Index) -> Option<&Membership> {
        match &self.get(index)?.command {
            Command::Config(membership) => Some(membership),
            _ => {
                debug_assert!(false, "config_indexes only holds Config entries");
                None
            }
        }
    }

    /// The membership in force at `index` (at or after the snapshot index).
    pub fn membership_at(&self, index: Index) -> Option<&Membership> {
        if index < self.snapshot_index {
            return None;
        }
        match self.config_indexes.iter().rev().find(|&&i| i <= index) {
            Some(&i) => self.config_at(i),
            None => self.snapshot_config().map(|(_, m)| m),
        }
    }

    /// Compacts the log through `index` (which it holds): the prefix is dropped and
    /// `index`, its term and the membership in force there are kept. The caller checks
    /// that `index` is applied (so committed) and that a snapshot of the state there
    /// exists. Returns false (and changes nothing) for an index not in the log or
    /// already compacted.
    pub fn compact_through(&mut self, index: Index) -> bool {
        if index <= self.snapshot_index || index > self.last_index() {
            return false;
        }
        let Some(term) = self.term_at(index) else {
            return false;
        };
        let membership = self.membership_at(index).cloned().unwrap_or_default();
        let drop = (index - self.snapshot_index) as usize;
        self.entries.drain(..drop);
        self.config_indexes.retain(|&i| i > index);
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.snapshot_membership = membership;
        debug_assert_eq!(
            self.first_index(),
            index + 1,
            "the log now starts after {index}"
        );
        debug_assert!(
            self.entries.first().is_none_or(|e| e.index == index + 1),
            "the first kept entry follows the snapshot"
        );
        true
    }

    /// Installs a snapshot through `(index, term)` with `membership` (Raft §7's receiver
    /// rule 6 and 7): if the log holds an entry at `index` with `term`, the suffix after
    /// it is kept; otherwise the whole log is discarded. Returns whether a suffix was
    /// kept. The caller checks that the snapshot is newer than our own.
    pub fn install_snapshot(&mut self, index: Index, term: Term, membership: Membership) -> bool {
        debug_assert!(
            index > self.snapshot_index,
            "an install moves the snapshot forward"
        );
        let keep = self.term_at(index) == Some(term);
        if keep {
            let drop = (index - self.snapshot_index) as usize;
            self.entries.drain(..drop);
            self.config_indexes.retain(|&i| i > index);
        } else {
            self.entries.clear();
            self.config_indexes.clear();
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.snapshot_membership = membership;
        debug_assert!(
            keep || self.last_index() == index,
            "a conflicting log is discarded whole"
        );
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn entry(index: Index, term: Term) -> Entry {
        Entry {
            index,
            term,
            command: Command::Noop,
        }
    }

    fn config(index: Index, term: Term, ids: &[u64]) -> Entry {
        Entry {
            index,
            term,
            command: Command::Config(Membership::from_ids(ids.iter().copied())),
        }
    }

    /// 1: config {1,2,3} (t0), 2..=4 t1, 5: config {1,2,3,4} (t2), 6..=8 t2.
    fn sample() -> Log {
        let mut entries = vec![config(1, 0, &[1, 2, 3])];
        entries.extend((2..=4).map(|i| entry(i, 1)));
        entries.push(config(5, 2, &[1, 2, 3, 4]));
        entries.extend((6..=8).map(|i| entry(i, 2)));
        Log::from_entries(entries)
    }

    /// The whole-log check runs where a log is restored: a term with no snapshot under it
    /// is a corrupt restore, not a log (debug builds, as the tests and the simulator run).
    #[test]
    #[should_panic(expected = "an uncompacted log has no snapshot term or membership")]
    fn restoring_a_snapshot_term_without_a_snapshot_is_caught() {
        let _: Log = Log::from_snapshot_and_entries(0, 3, Membership::EMPTY, vec![entry(1, 3)]);
    }

    /// What only the snapshot still knows: the last index of its term, and the
    /// membership in force at its index; nothing below it.
    #[test]
    fn the_snapshot_answers_for_its_own_index_and_term() {
        let mut log = sample();
        assert_eq!(log.last_index_of_term(0), Some(1));
        assert_eq!(log.last_index_of_term(9), None);
        assert!(log.compact_through(6));
        // Terms 0 and 1 are compacted away; term 2 ends in the snapshot and the entries.
        assert_eq!(log.last_index_of_term(1), None);
        assert_eq!(log.last_index_of_term(2), Some(8));
        assert_eq!(log.last_index_of_term(9), None);
        let four = Membership::from_ids([1, 2, 3, 4]);
        assert_eq!(log.membership_at(6), Some(&four));
        assert_eq!(log.membership_at(7), Some(&four));
        assert_eq!(log.membership_at(5), None);
        // Compacted through its last entry: only the snapshot holds term 2.
        assert!(log.compact_through(8));
        assert_eq!(log.entries().len(), 0);
        assert_eq!(log.last_index_of_term(2), Some(8));
        assert_eq!(log.last_index_of_term(1), None);
        assert_eq!(log.membership_at(8), Some(&four));
        assert_eq!(log.membership_at(7), None);
        // An uncompacted log whose entries start at term 1 has nothing of term 0.
        let fresh: Log = Log::from_entries(vec![entry(1, 1)]);
        assert_eq!(fresh.last_index_of_term(0), None);
        assert_eq!(fresh.last_index_of_term(1), Some(1));
    }

    /// A snapshot installed over a matching log keeps the suffix and the configs in it:
    /// the membership in force is still the latest config, and none is left listed that
    /// the snapshot swallowed.
    #[test]
    fn installing_a_snapshot_keeps_only_the_configs_after_it() {
        let (three, four) = (
            Membership::from_ids([1, 2, 3]),
            Membership::from_ids([1, 2, 3, 4]),
        );
        let mut log = sample();
        assert!(log.install_snapshot(4, 1, three.clone()));
        assert_eq!(log.membership(), &four, "config 5 follows the snapshot");
        assert_eq!(log.previous_config(), Some(&three));
        log.debug_check_whole_log();
        let mut log = sample();
        assert!(log.install_snapshot(5, 2, four.clone()));
        assert_eq!(log.membership(), &four);
        assert_eq!(
            log.latest_config(),
            Some((5, &four)),
            "from the snapshot now"
        );
        log.debug_check_whole_log();
    }

    #[test]
    fn compaction_keeps_the_suffix_the_term_and_the_membership() {
        let mut log = sample();
        assert!(log.compact_through(4));
        log.debug_check_whole_log();
        assert_eq!((log.first_index(), log.last_index()), (5, 8));
        assert_eq!(log.snapshot_position(), (4, 1));
        assert_eq!(log.term_at(4), Some(1), "the snapshot index still answers");
        assert_eq!(log.term_at(3), None, "compacted away");
        assert_eq!(log.get(4), None);
        assert_eq!(log.get(5).map(|e| e.index), Some(5));
        assert_eq!(
            log.range(1, 6).iter().map(|e| e.index).collect::<Vec<_>>(),
            [5, 6]
        );
        assert_eq!(log.snapshot_membership(), &Membership::from_ids([1, 2, 3]));
        assert_eq!(log.membership(), &Membership::from_ids([1, 2, 3, 4]));
        assert_eq!(
            log.previous_config(),
            Some(&Membership::from_ids([1, 2, 3])),
            "the snapshot's membership is the one before the latest"
        );
        assert!(!log.compact_through(4), "already compacted");
        assert!(!log.compact_through(9), "past the end");
        // Compacting through the config entry makes it the snapshot's membership.
        assert!(log.compact_through(8));
        log.debug_check_whole_log();
        assert_eq!(log.last_index(), 8);
        assert_eq!(log.last_term(), 2);
        assert!(log.entries().is_empty());
        assert_eq!(
            log.latest_config(),
            Some((8, &Membership::from_ids([1, 2, 3, 4])))
        );
        assert_eq!(log.last_index_of_term(2), Some(8));
        log.push(entry(9, 3));
        assert_eq!(log.range(9, 9).len(), 1);
    }

    #[test]
    fn appends_reaching_into_the_compacted_prefix_skip_it() {
        let mut log = sample();
        assert!(log.compact_through(6));
        // An Append entirely inside the prefix: matches through the snapshot.
        let outcome = log.try_append(1, 0, vec![entry(2, 1), entry(3, 1)]);
        assert_eq!(
            outcome,
            AppendOutcome::Matched {
                last_new: 6,
                first_written: None,
                truncated: false
            }
        );
        // One that straddles it: only what follows the snapshot is looked at.
        let entries = (4..=10).map(|i| {
            if i <= 8 {
                log_entry_of(&sample(), i)
            } else {
                entry(i, 3)
            }
        });
        let outcome = log.try_append(3, 1, entries.collect());
        assert_eq!(
            outcome,
            AppendOutcome::Matched {
                last_new: 10,
                first_written: Some(9),
                truncated: false
            }
        );
        log.debug_check_whole_log();
        // A conflict right after the snapshot hints at the first index the log holds.
        let outcome = log.try_append(7, 5, vec![]);
        assert_eq!(
            outcome,
            AppendOutcome::Mismatch {
                conflict_index: 7,
                conflict_term: Some(2)
            }
        );
        // A (faulty) leader that disagrees at the snapshot index itself is told that
        // index, with no panic and no change (found by the raft_step fuzz target).
        let (first, last) = (log.first_index(), log.last_index());
        let (snapshot_index, snapshot_term) = log.snapshot_position();
        let outcome = log.try_append(snapshot_index, snapshot_term + 1, vec![]);
        assert_eq!(
            outcome,
            AppendOutcome::Mismatch {
                conflict_index: snapshot_index,
                conflict_term: Some(snapshot_term)
            }
        );
        assert_eq!((log.first_index(), log.last_index()), (first, last));
    }

    fn log_entry_of(log: &Log, index: Index) -> Entry {
        log.get(index).cloned().expect("sample holds it")
    }

    #[test]
    fn an_install_keeps_a_matching_suffix_and_discards_a_conflicting_log() {
        let mut log = sample();
        assert!(log.install_snapshot(6, 2, Membership::from_ids([1, 2, 3, 4])));
        log.debug_check_whole_log();
        assert_eq!((log.first_index(), log.last_index()), (7, 8));
        let mut log = sample();
        assert!(!log.install_snapshot(6, 3, Membership::from_ids([1, 2])));
        log.debug_check_whole_log();
        assert_eq!((log.last_index(), log.last_term()), (6, 3));
        assert_eq!(log.membership(), &Membership::from_ids([1, 2]));
        let mut log = sample();
        assert!(!log.install_snapshot(20, 4, Membership::from_ids([1])));
        assert_eq!(log.last_index(), 20);
        assert_eq!(log.term_at(20), Some(4));
        assert_eq!(log.term_at(8), None);
    }

    #[test]
    fn a_restored_log_skips_entries_inside_its_snapshot() {
        let entries = sample().entries().to_vec();
        let log = Log::from_snapshot_and_entries(5, 2, Membership::from_ids([1, 2, 3, 4]), entries);
        log.debug_check_whole_log();
        assert_eq!((log.first_index(), log.last_index()), (6, 8));
        assert_eq!(log.membership(), &Membership::from_ids([1, 2, 3, 4]));
    }
}
