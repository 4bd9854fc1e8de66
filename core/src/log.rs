//! The replicated log, in memory. The driver keeps a durable copy (see `Ready::log_write`);
//! the core's copy is authoritative while the process lives.

use alloc::vec::Vec;

use crate::entry::{Command, Entry};
use crate::kv::Op;
use crate::types::{Index, Membership, Term};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Log<C = Op> {
    /// `entries[i]` has index `i + 1`: no compaction, so the log always starts at 1.
    entries: Vec<Entry<C>>,
    /// Indexes of the `Config` entries, ascending, so the latest membership is found
    /// without a scan and restored cheaply when a suffix is truncated.
    config_indexes: Vec<Index>,
}

impl<C> Default for Log<C> {
    fn default() -> Self {
        Log {
            entries: Vec::new(),
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
        let mut log = Log::default();
        for entry in entries {
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
        let mut previous_term = 0;
        let mut configs = self.config_indexes.iter().peekable();
        for (position, entry) in self.entries.iter().enumerate() {
            assert_eq!(
                entry.index,
                position as Index + 1,
                "indexes are contiguous from 1"
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
        self.entries.len() as Index
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// The term at `index`; index 0 has term 0. `None` past the end.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        let term = self.get(index).map(|e| e.term);
        debug_assert_eq!(
            term.is_some(),
            index <= self.last_index(),
            "term_at({index}) is known exactly inside [1, {}]",
            self.last_index()
        );
        debug_assert!(
            term.is_none_or(|t| t <= self.last_term()),
            "no entry's term is above the last entry's"
        );
        term
    }

    pub fn get(&self, index: Index) -> Option<&Entry<C>> {
        let position = usize::try_from(index).ok()?.checked_sub(1)?;
        let entry = self.entries.get(position);
        debug_assert!(
            entry.is_none_or(|e| e.index == index),
            "entry at position {position} has index {index}"
        );
        entry
    }

    /// Entries `from..=to`, clipped to the log.
    pub fn range(&self, from: Index, to: Index) -> &[Entry<C>] {
        let start = (from.max(1) - 1) as usize;
        let end = (to.min(self.last_index())) as usize;
        if start >= end {
            return &[];
        }
        let slice = &self.entries[start..end];
        debug_assert!(
            slice.first().is_some_and(|e| e.index == from.max(1))
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
        debug_assert!(from >= 1, "index 0 (the empty prefix) is never truncated");
        debug_assert!(
            from <= self.last_index(),
            "truncation at {from} drops something (last {})",
            self.last_index()
        );
        self.entries.truncate((from - 1) as usize);
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
        match self.term_at(prev_index) {
            None => {
                return AppendOutcome::Mismatch {
                    conflict_index: self.last_index() + 1,
                    conflict_term: None,
                };
            }
            Some(term) if term != prev_term => {
                let conflict_index = self.first_index_of_term_ending_at(prev_index);
                debug_assert!(
                    (1..=prev_index).contains(&conflict_index),
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
        let mut first = index;
        while first > 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        debug_assert!(
            self.term_at(first) == Some(term)
                && (first == 1 || self.term_at(first - 1) < Some(term)),
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
    }

    /// The membership in force (empty for a node that has not joined yet).
    pub fn membership(&self) -> &Membership {
        static EMPTY: Membership = Membership::EMPTY;
        self.latest_config().map_or(&EMPTY, |(_, m)| m)
    }

    /// The membership before the latest one, if the log holds two.
    pub fn previous_config(&self) -> Option<&Membership> {
        let index = *self.config_indexes.iter().rev().nth(1)?;
        match &self.get(index)?.command {
            Command::Config(membership) => Some(membership),
            _ => unreachable!("config_indexes only holds Config entries"),
        }
    }

    /// The membership in force: the latest `Config` entry, committed or not.
    pub fn latest_config(&self) -> Option<(Index, &Membership)> {
        let index = *self.config_indexes.last()?;
        match &self.get(index)?.command {
            Command::Config(membership) => Some((index, membership)),
            _ => unreachable!("config_indexes only holds Config entries"),
        }
    }
}
