//! The whole protocol under a fuzzer-driven nemesis: the deterministic simulator (honest
//! nodes, real message passing) takes fuzzer-chosen partitions, one-way cuts, crashes,
//! restarts, pauses, lossy or duplicating links, membership changes, transfers and
//! client requests, with time passing in between. The simulator's checker must find no
//! violation (election safety, log matching, leader completeness, state machine safety,
//! the goose rules) and the key-value history must be linearizable.

#![no_main]

use arbitrary::Arbitrary;
use duckgoose_core::{Op, Request};
use duckgoose_sim::network::LinkFaults;
use duckgoose_sim::trace::TraceMode;
use duckgoose_sim::{Action, Cluster, SimConfig};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Step {
    Wait {
        ms: u8,
    },
    Partition {
        mask: u8,
    },
    Cut {
        from: u8,
        to: u8,
        connected: bool,
    },
    Heal,
    Crash {
        node: u8,
    },
    Restart {
        node: u8,
    },
    Pause {
        node: u8,
    },
    Resume {
        node: u8,
    },
    Add {
        node: u8,
    },
    Remove {
        node: u8,
    },
    Transfer {
        to: u8,
    },
    Lossy {
        loss: u8,
        dup: u8,
        slow: bool,
    },
    Put {
        node: u8,
        key: u8,
        value: u8,
    },
    Cas {
        node: u8,
        key: u8,
        expected: Option<u8>,
        value: u8,
    },
    Get {
        node: u8,
        key: u8,
    },
    Delete {
        node: u8,
        key: u8,
    },
    Goose {
        node: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    nodes: u8,
    steps: Vec<Step>,
}

fuzz_target!(|input: Input| {
    let n = 3 + (input.nodes % 3) as u64;
    let mut sim = SimConfig::new(n as u32, input.seed);
    sim.request_timeout = 500;
    let mut cluster = Cluster::new(sim, TraceMode::Off);
    cluster.run_for(400);
    let node = |x: u8| 1 + x as u64 % (n + 2);
    for step in input.steps.into_iter().take(200) {
        let action = match step {
            Step::Wait { ms } => {
                cluster.run_for(ms as u64 * 4);
                continue;
            }
            Step::Partition { mask } => {
                let ids: Vec<u64> = cluster.node_ids().collect();
                let (a, b): (Vec<u64>, Vec<u64>) =
                    ids.into_iter().partition(|&id| mask & (1 << (id % 8)) != 0);
                Action::Partition { groups: vec![a, b] }
            }
            Step::Cut {
                from,
                to,
                connected,
            } => Action::Link {
                from: node(from),
                to: node(to),
                connected,
            },
            Step::Heal => Action::Heal,
            Step::Crash { node: x } => Action::Crash { node: node(x) },
            Step::Restart { node: x } => Action::Restart { node: node(x) },
            Step::Pause { node: x } => Action::Pause { node: node(x) },
            Step::Resume { node: x } => Action::Resume { node: node(x) },
            Step::Add { node: x } => Action::AddNode { node: node(x) },
            Step::Remove { node: x } => Action::RemoveNode { node: node(x) },
            Step::Transfer { to } => Action::Transfer { to: node(to) },
            Step::Lossy { loss, dup, slow } => Action::Network {
                faults: LinkFaults {
                    loss_ppm: loss as u32 * 2_000,
                    duplicate_ppm: dup as u32 * 1_000,
                    latency_max: if slow {
                        120
                    } else {
                        LinkFaults::CALM.latency_max
                    },
                    ..LinkFaults::CALM
                },
            },
            Step::Put {
                node: x,
                key,
                value,
            } => Action::Request {
                node: node(x),
                request: Request::Kv(Op::Put {
                    key: format!("k{}", key % 3),
                    value: format!("v{value}"),
                }),
            },
            Step::Cas {
                node: x,
                key,
                expected,
                value,
            } => Action::Request {
                node: node(x),
                request: Request::Kv(Op::Cas {
                    key: format!("k{}", key % 3),
                    expected: expected.map(|e| format!("v{e}")),
                    value: format!("v{value}"),
                }),
            },
            Step::Get { node: x, key } => Action::Request {
                node: node(x),
                request: Request::Kv(Op::Get {
                    key: format!("k{}", key % 3),
                }),
            },
            Step::Delete { node: x, key } => Action::Request {
                node: node(x),
                request: Request::Kv(Op::Delete {
                    key: format!("k{}", key % 3),
                }),
            },
            Step::Goose { node: x } => Action::Request {
                node: node(x),
                request: Request::Goose,
            },
        };
        cluster.apply(action);
        cluster.run_for(5);
        if let Some(v) = cluster.violations().first() {
            panic!("{}: {}", v.invariant, v.detail);
        }
    }
    cluster.apply(Action::Heal);
    cluster.run_for(3_000);
    if let Some(v) = cluster.violations().first() {
        panic!("{}: {}", v.invariant, v.detail);
    }
    if let Err(v) = cluster.check_linearizability() {
        panic!("{v}");
    }
});
