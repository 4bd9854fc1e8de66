//! Each simulated node's own clock. Virtual time is the one true time of the run (the
//! event queue, message latencies, the checker's "at the same instant"); a node reads its
//! own clock, which runs at a rate relative to virtual time: 2× reads two milliseconds
//! for every virtual one, 0.5× one for every two. Everything the node does with time
//! (election timeouts, heartbeats, CheckQuorum, the goose lease, request deadlines) is in
//! its own clock's milliseconds, and its timers fire when its own clock reaches them.
//!
//! Rates are whole thousandths (per mille), so that every reading is exact integer
//! arithmetic: the same on every target. A clock at 1× from time 0 reads virtual time
//! itself (`x * 1000 / 1000` is `x`), so runs that set no rate are exactly the runs
//! without clocks. A rate change
//! starts the new rate from the current reading: the clock stays continuous and
//! monotonic (a drifting oscillator, not a clock being set).

use duckgoose_core::Millis;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// 1×, in thousandths.
pub const RATE_ONE: u32 = 1_000;
/// The slowest rate a person can set: 0.5×.
pub const MIN_RATE: u32 = 500;
/// The fastest rate a person can set: 2×.
pub const MAX_RATE: u32 = 2_000;

/// A node's clock: it read `reading` at virtual time `since`, and runs at `rate`
/// thousandths of virtual time from then on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Clock {
    pub rate: u32,
    pub since: Millis,
    pub reading: Millis,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::TRUE
    }
}

impl Clock {
    /// Reads virtual time: the clock of every node no one has set a rate for.
    pub const TRUE: Clock = Clock {
        rate: RATE_ONE,
        since: 0,
        reading: 0,
    };

    /// What the clock reads at virtual time `now` (not before `since`), rounded down to
    /// a whole millisecond.
    #[inline(never)] // one copy, not one per caller: the page's wasm stays small
    pub fn read(&self, now: Millis) -> Millis {
        let elapsed = now.saturating_sub(self.since);
        // No 128-bit arithmetic (its division alone would grow the page's wasm by
        // kilobytes): a run's times stay below a day (`MAX_TIME`), far from overflowing.
        let run = elapsed.saturating_mul(u64::from(self.rate)) / u64::from(RATE_ONE);
        self.reading.saturating_add(run)
    }

    /// The first virtual time, from `since` on, at which the clock reads `local` or more:
    /// when a timer the node set for `local` on its own clock fires.
    #[inline(never)]
    pub fn when(&self, local: Millis) -> Millis {
        let ahead = local.saturating_sub(self.reading);
        // A deadline so far off that this saturates (a timer that never fires) stays
        // far off.
        let wait = ahead
            .saturating_mul(u64::from(RATE_ONE))
            .div_ceil(u64::from(self.rate.max(1)));
        self.since.saturating_add(wait)
    }

    /// From virtual time `now` on, runs at `rate`: continuous with what it read so far.
    pub fn set_rate(&mut self, now: Millis, rate: u32) {
        let reading = self.read(now);
        *self = Clock {
            rate,
            since: now.max(self.since),
            reading,
        };
    }
}

/// A rate as people write it: `1`, `0.5`, `1.25` (at most three decimals, no float
/// formatting: it would grow the page's wasm).
pub fn rate_text(rate: u32) -> alloc::string::String {
    let mut text = alloc::format!("{}", rate / RATE_ONE);
    let (mut frac, mut unit) = (rate % RATE_ONE, RATE_ONE / 10);
    if frac != 0 {
        text.push('.');
    }
    while frac != 0 {
        text.push(char::from(b'0' + (frac / unit) as u8));
        (frac, unit) = (frac % unit, unit / 10);
    }
    text
}

/// Parses a rate written `2`, `0.5` or `1.125` into thousandths (`None` for anything
/// else: signs, exponents, more than three decimals, no digits).
pub fn parse_rate(s: &str) -> Option<u32> {
    // One pass over the bytes (no float parsing, no `str::parse`).
    let (mut value, mut decimals, mut dot) = (0u32, 0u32, false);
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => {
                decimals += u32::from(dot);
                value = value.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if s.is_empty() || s.starts_with('.') || (dot && decimals == 0) || decimals > 3 {
        return None;
    }
    value.checked_mul(10u32.pow(3 - decimals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_true_clock_reads_virtual_time() {
        let c = Clock::TRUE;
        for t in [0, 1, 149, 86_400_000] {
            assert_eq!(c.read(t), t);
            assert_eq!(c.when(t), t);
        }
    }

    #[test]
    fn timers_fire_when_the_own_clock_reaches_them() {
        for rate in [MIN_RATE, 501, 750, 999, 1_001, 1_333, 1_500, MAX_RATE] {
            let mut c = Clock::TRUE;
            c.set_rate(1_000, rate);
            for local in [999, 1_000, 1_001, 1_150, 1_299, 5_000] {
                let at = c.when(local);
                assert!(c.read(at) >= local, "rate {rate}: {local} at {at}");
                if local > 1_000 {
                    assert!(
                        c.read(at - 1) < local,
                        "rate {rate}: {local} not first at {at}"
                    );
                }
            }
        }
        let mut slow = Clock::TRUE;
        slow.set_rate(100, 500);
        assert_eq!(slow.read(400), 250);
        assert_eq!(slow.when(250), 400);
        assert_eq!(slow.when(251), 402);
        let mut fast = Clock::TRUE;
        fast.set_rate(100, 2_000);
        assert_eq!(fast.read(400), 700);
        assert_eq!(fast.when(701), 401);
    }

    #[test]
    fn rate_changes_keep_the_clock_continuous_and_monotonic() {
        let mut c = Clock::TRUE;
        let mut last = 0;
        let rates = [2_000, 500, 1_000, 1_333, 777, 2_000, 1_000];
        for (i, &rate) in rates.iter().enumerate() {
            let at = 1_000 * (i as Millis + 1) + 7 * i as Millis;
            let before = c.read(at);
            c.set_rate(at, rate);
            assert_eq!(c.read(at), before, "continuous at a change to {rate}");
            for t in at..at + 1_000 {
                let r = c.read(t);
                assert!(r >= last, "monotonic: {r} after {last} at {t}");
                last = r;
            }
        }
    }

    #[test]
    fn rates_round_trip_as_text() {
        for (text, rate) in [
            ("1", 1_000),
            ("0.5", 500),
            ("2", 2_000),
            ("1.25", 1_250),
            ("1.125", 1_125),
            ("0.001", 1),
            ("10", 10_000),
        ] {
            assert_eq!(parse_rate(text), Some(rate), "{text}");
            assert_eq!(rate_text(rate), text);
        }
        assert_eq!(parse_rate("0.50"), Some(500));
        assert_eq!(parse_rate("1.0"), Some(1_000));
        for bad in [
            "", ".5", "1.", "-1", "+1", "1e3", "0.0001", "1,5", "x", "1.2.3", "9999999", "1..5",
        ] {
            assert_eq!(parse_rate(bad), None, "{bad:?}");
        }
    }
}
