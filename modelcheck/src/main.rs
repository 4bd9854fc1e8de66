//! `cargo run --release -p duckgoose-modelcheck -- [key=value...]`: explores one bound
//! and prints the report (and a counterexample script, if any). Keys: `order=bfs|dfs`,
//! `terms`, `timeouts`, `writes`, `gooses`, `crashes`, `changes`, `in-flight`,
//! `loss=0|1`, `dup=0|1`, `prevote=0|1`, `checkquorum=0|1`, `batch`, `voters=1/2/3`,
//! `nodes`, `variant=NAME`, `max-states`, `max-seconds`, `liveness-every`,
//! `progress-seconds` (a progress line on stderr this often).

use std::process::ExitCode;
use std::time::Duration;

use duckgoose_modelcheck::{Bounds, Options, Order, explore, script};

fn main() -> ExitCode {
    let mut bounds = Bounds::small();
    let mut options = Options::bfs();
    for arg in std::env::args().skip(1) {
        if let Err(e) = set(&mut bounds, &mut options, &arg) {
            eprintln!("modelcheck: {arg}: {e}");
            return ExitCode::from(2);
        }
    }
    println!("bounds: {bounds:?}");
    let report = explore(&bounds, &options);
    println!(
        "{} distinct states, {} transitions, depth {}, {:.1} s ({:.0} states/s), {}",
        report.states,
        report.transitions,
        report.depth,
        report.elapsed.as_secs_f64(),
        report.states_per_second(),
        if report.complete {
            "explored to exhaustion"
        } else {
            "stopped before exhaustion"
        }
    );
    if report.liveness_checks > 0 {
        println!(
            "goose eventually: checked from {} states, at most {} stable steps",
            report.liveness_checks, report.liveness_max_steps
        );
    }
    match report.counterexample {
        None => ExitCode::SUCCESS,
        Some(cx) => {
            println!(
                "counterexample ({} steps): {}: {}",
                cx.path.len(),
                cx.failure.property,
                cx.failure.detail
            );
            print!("{}", script::script(&bounds, &cx));
            ExitCode::FAILURE
        }
    }
}

fn set(bounds: &mut Bounds, options: &mut Options, arg: &str) -> Result<(), String> {
    let (key, value) = arg.split_once('=').ok_or("expected key=value")?;
    let num = |v: &str| v.parse::<u64>().map_err(|e| e.to_string());
    let flag = |v: &str| match v {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err("expected 0 or 1".to_string()),
    };
    let small = |v: &str| v.parse::<u8>().map_err(|e| e.to_string());
    match key {
        "order" => {
            options.order = match value {
                "bfs" => Order::BreadthFirst,
                "dfs" => Order::DepthFirst,
                _ => return Err("bfs or dfs".into()),
            }
        }
        "nodes" => bounds.nodes = num(value)?,
        "voters" => {
            bounds.voters = value
                .split('/')
                .map(num)
                .collect::<Result<Vec<u64>, String>>()?
        }
        "terms" => bounds.max_term = num(value)?,
        "timeouts" => bounds.timeouts = small(value)?,
        "writes" => bounds.writes = small(value)?,
        "gooses" => bounds.gooses = small(value)?,
        "crashes" => bounds.crashes = small(value)?,
        "changes" => bounds.changes = small(value)?,
        "in-flight" => bounds.max_in_flight = num(value)? as usize,
        "loss" => bounds.loss = flag(value)?,
        "dup" => bounds.duplication = flag(value)?,
        "prevote" => bounds.pre_vote = flag(value)?,
        "checkquorum" => bounds.check_quorum = flag(value)?,
        "batch" => bounds.max_entries_per_message = num(value)? as usize,
        "variant" => bounds.variant = Some(script::variant_named(value).ok_or("unknown variant")?),
        "max-states" => options.max_states = num(value)?,
        "max-seconds" => options.max_time = Duration::from_secs(num(value)?),
        "liveness-every" => options.liveness_every = num(value)?,
        "progress-seconds" => options.progress_every = Some(Duration::from_secs(num(value)?)),
        _ => return Err("unknown key".into()),
    }
    Ok(())
}
