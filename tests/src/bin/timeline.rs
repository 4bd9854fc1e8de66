//! A readable timeline of a 5-node cluster through a goose crash and a partition:
//! who is the goose each virtual second, and why things changed in between.

use std::collections::BTreeMap;

use clap::Parser;
use duckgoose_core::events::{Event, Role};
use duckgoose_sim::trace::{TraceKind, TraceMode};
use duckgoose_sim::{Action, Cluster, NodeStatus, SimConfig};

#[derive(Parser)]
#[command(about = "Print a goose-per-second timeline of a simulated cluster")]
struct Args {
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 5)]
    nodes: u32,
}

#[derive(Clone, Copy)]
enum Step {
    CrashGoose,
    Restart,
    IsolateGooseWithOne,
    Heal,
}

const SCRIPT: [(u64, Step, &str); 4] = [
    (3, Step::CrashGoose, "crash the goose"),
    (6, Step::Restart, "restart it"),
    (
        9,
        Step::IsolateGooseWithOne,
        "cut the goose and one duck off from the rest",
    ),
    (14, Step::Heal, "heal the network"),
];

fn main() {
    let args = Args::parse();
    let mut cluster = Cluster::new(SimConfig::new(args.nodes, args.seed), TraceMode::Record);
    println!(
        "Duck Duck Goose: {} simulated nodes, seed {}; heartbeat 50 ms, election timeout 150-300 ms, latency 10-15 ms\n",
        args.nodes, args.seed
    );
    let mut cursor = 0;
    let mut last_role = BTreeMap::new();
    let mut crashed = None;
    for second in 0..=18u64 {
        cluster.run_until(second * 1_000);
        explain(&cluster, cursor, &mut last_role);
        cursor = cluster.trace().events().len();
        print_second(&cluster, second);
        let Some(&(_, step, what)) = SCRIPT.iter().find(|(at, _, _)| *at == second) else {
            continue;
        };
        println!("          >>> {what}");
        let action = match step {
            Step::CrashGoose => {
                crashed = cluster.goose();
                crashed.map(|node| Action::Crash { node })
            }
            Step::Restart => crashed.map(|node| Action::Restart { node }),
            Step::IsolateGooseWithOne => cluster.goose().map(|goose| {
                let buddy = cluster
                    .node_ids()
                    .find(|&id| id != goose)
                    .expect("two nodes or more");
                Action::Partition {
                    groups: vec![vec![goose, buddy]],
                }
            }),
            Step::Heal => Some(Action::Heal),
        };
        if let Some(action) = action {
            cluster.apply(action);
        }
    }
    let violations = cluster.violations();
    println!("\ninvariant violations: {}", violations.len());
    for v in violations {
        println!("  {}: {}", v.invariant, v.detail);
    }
    std::process::exit(if violations.is_empty() { 0 } else { 1 });
}

/// Role changes and refused votes since `cursor`, with their reasons. A node retrying
/// the same failed pre-vote over and over is reported once.
fn explain(cluster: &Cluster, cursor: usize, last_role: &mut BTreeMap<u64, (Role, u64)>) {
    for event in cluster.trace().since(cursor) {
        let line = match &event.kind {
            TraceKind::Node {
                node,
                event: e @ Event::RoleChanged { role, term, .. },
            } => {
                if last_role.insert(*node, (*role, *term)) == Some((*role, *term)) {
                    continue;
                }
                format!("{node} {e}")
            }
            TraceKind::Node {
                node,
                event:
                    e @ Event::VoteDenied {
                        pre_vote: false, ..
                    },
            } => format!("{node} {e}"),
            TraceKind::Violation { invariant, detail } => format!("!! {invariant}: {detail}"),
            _ => continue,
        };
        println!("          {:>6} ms  {line}", event.at);
    }
}

fn print_second(cluster: &Cluster, second: u64) {
    let nodes: Vec<String> = cluster
        .node_ids()
        .map(|id| {
            let label = match (cluster.status(id), cluster.replica(id)) {
                (Some(NodeStatus::Down), _) | (_, None) => "down".to_string(),
                (_, Some(r)) if cluster.shows_goose(id) => {
                    format!("GOOSE t{}", r.raft().term())
                }
                (_, Some(r)) if r.raft().role() == Role::Leader => {
                    format!("leader t{} (unconfirmed)", r.raft().term())
                }
                (_, Some(r)) => format!("duck t{}", r.raft().term()),
            };
            format!("{id}:{label:<8}")
        })
        .collect();
    let goose = cluster
        .goose()
        .map_or("none".to_string(), |g| g.to_string());
    println!("t={second:>2} s  goose {goose:<4}  {}", nodes.join(" "));
}
