//! What crosses the wasm boundary each frame, packed: every number in one `f64` array and
//! every string in one text, in a fixed order that `js/frame.js` reads back into plain
//! objects. Building those objects field by field from Rust (one JS call per property)
//! cost more than running the simulator; one typed-array view and one string decode per
//! frame cost a few microseconds.
//!
//! The order is the contract: each `pack_*` function here has a `read*` twin in
//! `js/frame.js`, field for field.

use alloc::string::String;
use alloc::vec::Vec;

/// Numbers and text, appended in reading order.
#[derive(Default)]
pub struct Packed {
    pub nums: Vec<f64>,
    pub text: String,
}

/// Marks an absent number (JS reads it back as `undefined`).
const ABSENT: f64 = f64::NAN;
/// Marks an absent string, in place of its length.
const NO_STRING: f64 = -1.0;

impl Packed {
    pub fn clear(&mut self) {
        self.nums.clear();
        self.text.clear();
    }

    /// A whole number: ids, terms, indexes, times. All stay far below 2^53, where an
    /// `f64` stops being exact (times are capped at `MAX_TIME`, ids at `MAX_NODE_ID`).
    pub fn num(&mut self, v: u64) {
        debug_assert!(v < 1 << 53, "{v} does not fit an f64 exactly");
        self.nums.push(v as f64);
    }

    pub fn float(&mut self, v: f64) {
        self.nums.push(v);
    }

    pub fn opt(&mut self, v: Option<u64>) {
        match v {
            Some(v) => self.num(v),
            None => self.nums.push(ABSENT),
        }
    }

    pub fn flag(&mut self, v: bool) {
        self.nums.push(if v { 1.0 } else { 0.0 });
    }

    /// A count of the items that follow.
    pub fn len(&mut self, n: usize) {
        self.num(n as u64);
    }

    /// A string: its length in UTF-16 code units (what JS's `slice` counts), then its text.
    pub fn str(&mut self, s: &str) {
        self.len(utf16_len(s));
        self.text.push_str(s);
    }

    /// A string `write` appends to the text, measured once it is written (no string of its
    /// own is allocated).
    pub fn str_with(&mut self, write: impl FnOnce(&mut String)) {
        let at = self.nums.len();
        let start = self.text.len();
        self.nums.push(0.0);
        write(&mut self.text);
        self.nums[at] = utf16_len(&self.text[start..]) as f64;
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.nums.push(NO_STRING),
        }
    }
}

/// What JS's `length` and `slice` count: UTF-16 code units.
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_measured_in_utf16_units() {
        let mut p = Packed::default();
        p.str("x=1");
        p.str("⛨ fence");
        p.str("🪿");
        p.opt_str(None);
        p.opt(None);
        p.flag(true);
        p.str_with(|t| t.push_str("k=🪿"));
        assert_eq!(p.nums[..3], [3.0, 7.0, 2.0]);
        assert_eq!(p.nums[3], NO_STRING);
        assert!(p.nums[4].is_nan());
        assert_eq!(p.nums[5], 1.0);
        assert_eq!(p.nums[6], 4.0);
        assert_eq!(p.text, "x=1⛨ fence🪿k=🪿");
    }
}
