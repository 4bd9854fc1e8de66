//! What the simulator accepts from a person or a file: limits on sizes, ids, times and
//! faults, and the checks that keep an imported scenario from making the simulator
//! misbehave (the page and the native `replay` tool run every scenario through these).

use alloc::string::String;

use duckgoose_core::{Millis, NodeId, Op, Request};

use crate::clock::{MAX_RATE, MIN_RATE, rate_text};
use crate::network::LinkFaults;
use crate::scenario::Scenario;
use crate::{Action, SimConfig};

/// At most this many nodes at once (the page lays out 1–9).
pub const MAX_NODES: usize = 9;
/// Node ids stay below this (ids are never reused, so adds are bounded too).
pub const MAX_NODE_ID: NodeId = 99;
/// Virtual time never goes past this (a day; keeps every addition far from overflow).
pub const MAX_TIME: Millis = 86_400_000;
/// Longest latency or timing a person can set.
pub const MAX_DELAY: Millis = 60_000;
/// Longest key or value a client request may carry.
pub const MAX_TEXT: usize = 64;
/// Most actions a scenario may hold.
pub const MAX_ACTIONS: usize = 100_000;
/// Largest InstallSnapshot chunk a person can set.
pub const MAX_SNAPSHOT_CHUNK: usize = 1 << 20;
/// Most zones the page draws.
pub const MAX_ZONES: usize = 3;
/// Most entries per Append a person can set.
pub const MAX_BATCH: usize = 1024;

/// Why an input was refused (shown to the person, thrown as a JS exception).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

impl core::fmt::Display for Invalid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! invalid {
    ($($arg:tt)*) => { Err(Invalid(alloc::format!($($arg)*))) };
}

fn check_faults(f: &LinkFaults) -> Result<(), Invalid> {
    if f.latency_min > f.latency_max {
        return invalid!(
            "latency: minimum {} above maximum {}",
            f.latency_min,
            f.latency_max
        );
    }
    if f.latency_max > MAX_DELAY {
        return invalid!("latency: at most {MAX_DELAY} ms");
    }
    if f.loss_ppm > 1_000_000 || f.duplicate_ppm > 1_000_000 {
        return invalid!("loss and duplication are parts per million (0–1000000)");
    }
    Ok(())
}

/// Checks a configuration the simulator would otherwise refuse (or panic on).
pub fn check_config(c: &SimConfig) -> Result<(), Invalid> {
    if c.nodes == 0 || c.nodes as usize > MAX_NODES {
        return invalid!("nodes: 1 to {MAX_NODES}");
    }
    if c.seed > (1 << 53) - 1 {
        return invalid!("seed: 0 to 2^53-1 (it must survive a round trip through JavaScript)");
    }
    if c.heartbeat_interval == 0 || c.heartbeat_interval >= c.election_timeout_min {
        return invalid!("heartbeat must be positive and below the minimum election timeout");
    }
    if c.election_timeout_max <= c.election_timeout_min {
        return invalid!("election timeout: maximum must be above minimum");
    }
    if c.goose_lease
        .is_some_and(|l| l <= c.heartbeat_interval || l > c.election_timeout_min)
    {
        return invalid!(
            "goose lease must be above the heartbeat and at most the minimum election timeout"
        );
    }
    if c.election_timeout_max > MAX_DELAY || c.request_timeout > MAX_DELAY {
        return invalid!("timings: at most {MAX_DELAY} ms");
    }
    if c.request_timeout == 0 {
        return invalid!("request timeout must be positive");
    }
    if c.max_entries_per_message
        .is_some_and(|b| b == 0 || b > MAX_BATCH)
    {
        return invalid!("batch: 1 to {MAX_BATCH} entries per message");
    }
    if let Some(p) = c.compaction {
        if p.chunk_bytes == 0 || p.chunk_bytes > MAX_SNAPSHOT_CHUNK {
            return invalid!("compact: chunks of 1 to {MAX_SNAPSHOT_CHUNK} bytes");
        }
        if p.random_ppm > 1_000_000 {
            return invalid!("compact: the random chance is parts per million (0–1000000)");
        }
    }
    check_faults(&c.network)
}

fn check_id(id: NodeId) -> Result<(), Invalid> {
    if id == 0 || id > MAX_NODE_ID {
        return invalid!("node ids are 1 to {MAX_NODE_ID}, not {id}");
    }
    Ok(())
}

fn check_op(op: &Op) -> Result<(), Invalid> {
    match op {
        Op::Put { key, value } => {
            check_text("key", key)?;
            check_text("value", value)
        }
        Op::Delete { key } | Op::Get { key } => check_text("key", key),
        Op::Cas {
            key,
            expected,
            value,
        } => {
            check_text("key", key)?;
            check_text("value", value)?;
            check_text("expected", expected.as_deref().unwrap_or(""))
        }
        // One fence, on a write: what the node's API can send.
        Op::Fenced { op, .. } if matches!(**op, Op::Fenced { .. } | Op::Get { .. }) => {
            invalid!("a fence goes on a write, once")
        }
        Op::Fenced { op, .. } => check_op(op),
    }
}

fn check_text(what: &str, s: &str) -> Result<(), Invalid> {
    if s.len() > MAX_TEXT {
        return invalid!("{what}: at most {MAX_TEXT} bytes");
    }
    Ok(())
}

/// Checks what can be checked about an action without a cluster (ids, ranges, sizes):
/// enough that the simulator cannot misbehave on it. Used for imported scenarios.
pub fn check_action(action: &Action) -> Result<(), Invalid> {
    match action {
        Action::Partition { groups } => {
            if groups.len() > MAX_NODE_ID as usize {
                return invalid!("too many groups");
            }
            for g in groups {
                if g.len() > MAX_NODE_ID as usize {
                    return invalid!("group too large");
                }
                for &id in g {
                    check_id(id)?;
                }
            }
            Ok(())
        }
        Action::Link { from, to, .. }
        | Action::ConnectionClosed {
            node: from,
            peer: to,
        } => {
            check_id(*from)?;
            check_id(*to)
        }
        Action::Heal => Ok(()),
        Action::Crash { node }
        | Action::Restart { node }
        | Action::Pause { node }
        | Action::Resume { node }
        | Action::AddNode { node }
        | Action::RemoveNode { node } => check_id(*node),
        Action::Transfer { to } => check_id(*to),
        Action::Request { node, request } => {
            check_id(*node)?;
            match request {
                Request::Kv(op) => check_op(op),
                Request::Goose => Ok(()),
                Request::Transfer { to } => check_id(*to),
                Request::AddMember(_) | Request::RemoveMember(_) => {
                    invalid!("membership changes go through add_node / remove_node")
                }
            }
        }
        Action::Network { faults } => check_faults(faults),
        Action::LinkFaults { from, to, faults } => {
            check_id(*from)?;
            check_id(*to)?;
            faults.as_ref().map_or(Ok(()), check_faults)
        }
        Action::ClockRate { node, rate } => {
            check_id(*node)?;
            check_rate(*node, *rate)
        }
    }
}

/// A clock rate a person may set: 0.5× to 2×.
fn check_rate(node: NodeId, rate: u32) -> Result<(), Invalid> {
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return invalid!(
            "clock rate of node {node}: {}x is out of range ({} to {})",
            rate_text(rate),
            rate_text(MIN_RATE),
            rate_text(MAX_RATE)
        );
    }
    Ok(())
}

/// Checks an imported scenario: a valid config and valid actions in time order.
pub fn check_scenario(s: &Scenario) -> Result<(), Invalid> {
    check_config(&s.config)?;
    if s.actions.len() > MAX_ACTIONS {
        return invalid!("at most {MAX_ACTIONS} actions");
    }
    let mut last = 0;
    for (i, (at, action)) in s.actions.iter().enumerate() {
        if *at < last {
            return invalid!("action {i} at {at} ms comes before the one above it");
        }
        if *at > MAX_TIME {
            return invalid!("action {i}: time past {MAX_TIME} ms");
        }
        last = *at;
        check_action(action).map_err(|e| Invalid(alloc::format!("action {i}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_rates_are_checked_with_clear_errors() {
        let refused = |r: Result<(), Invalid>| r.unwrap_err().0;
        for rate in [MIN_RATE, 1_000, 1_337, MAX_RATE] {
            assert_eq!(check_action(&Action::ClockRate { node: 4, rate }), Ok(()));
        }
        assert_eq!(
            refused(check_action(&Action::ClockRate { node: 4, rate: 0 })),
            "clock rate of node 4: 0x is out of range (0.5 to 2)"
        );
        assert_eq!(
            refused(check_action(&Action::ClockRate { node: 4, rate: 499 })),
            "clock rate of node 4: 0.499x is out of range (0.5 to 2)"
        );
        assert_eq!(
            refused(check_action(&Action::ClockRate {
                node: 4,
                rate: 2_500
            })),
            "clock rate of node 4: 2.5x is out of range (0.5 to 2)"
        );
        // And through the text a page or a file sends.
        let parsed = crate::text::parse_action("clock 3 5").expect("parses");
        assert_eq!(
            refused(check_action(&parsed)),
            "clock rate of node 3: 5x is out of range (0.5 to 2)"
        );
        assert!(
            check_action(&Action::ClockRate {
                node: 0,
                rate: 1_000
            })
            .is_err()
        );
        assert!(
            check_action(&Action::ClockRate {
                node: 100,
                rate: 1_000
            })
            .is_err()
        );
    }
}
