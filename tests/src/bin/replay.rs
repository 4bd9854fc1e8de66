//! Replays a scenario file natively and prints its trace hash: the native half of the
//! cross-target determinism test, and the native side of the simulation-speed
//! benchmark. Reads the playground's text form (`sim.scenario()`, see
//! `duckgoose_sim::text`) or the core's serde JSON form (`Scenario` through serde_json).
//!
//!     replay --scenario run.txt [--until MS] [--bench REPEATS]
//!
//! Prints `hash <16 hex digits>`, `node_events <n>` and, with `--bench`, the best
//! wall time over the repeats and node events per second.

use std::process::ExitCode;
use std::time::Instant;

use duckgoose_sim::scenario::{self, Scenario};
use duckgoose_sim::text;

fn usage() -> ExitCode {
    eprintln!("usage: replay --scenario FILE [--until MS] [--bench REPEATS]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut file, mut until, mut bench) = (None, None, None);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--scenario", Some(v)) => file = Some(v),
            ("--until", Some(v)) => match v.parse::<u64>() {
                Ok(ms) => until = Some(ms),
                Err(_) => return usage(),
            },
            ("--bench", Some(v)) => match v.parse::<u32>() {
                Ok(n) if n > 0 => bench = Some(n),
                _ => return usage(),
            },
            _ => return usage(),
        }
    }
    let Some(file) = file else {
        return usage();
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("replay: {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let parsed = if text.trim_start().starts_with('{') {
        serde_json::from_str::<Scenario>(&text).map_err(|e| e.to_string())
    } else {
        text::parse_scenario(&text).map_err(|e| e.to_string())
    };
    let scenario = match parsed {
        Ok(s) => s,
        Err(e) => {
            eprintln!("replay: {file}: not a scenario: {e}");
            return ExitCode::FAILURE;
        }
    };
    let until = until.unwrap_or_else(|| scenario.actions.last().map_or(0, |(at, _)| *at));
    let mut best = f64::INFINITY;
    let mut result = None;
    for _ in 0..bench.unwrap_or(1) {
        let start = Instant::now();
        match scenario::replay_hash(&scenario, until) {
            Ok(r) => result = Some(r),
            Err(e) => {
                eprintln!("replay: {file}: {e}");
                return ExitCode::FAILURE;
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    let Some((hash, node_events)) = result else {
        return ExitCode::FAILURE;
    };
    println!("hash {hash:016x}");
    println!("node_events {node_events}");
    println!("until_ms {until}");
    if bench.is_some() {
        println!("best_seconds {best:.6}");
        println!("node_events_per_second {:.0}", node_events as f64 / best);
    }
    ExitCode::SUCCESS
}
