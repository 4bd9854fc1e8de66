//! The `sim_speed` benchmark's workload run once (60 virtual seconds, 5 nodes, RaftScope's
//! timings, a write every 100 ms), for counting instructions, which unlike wall time do not
//! depend on what else the machine is doing:
//!
//! ```sh
//! cargo build --release -p duckgoose-tests --example sim_instructions
//! valgrind --tool=callgrind target/release/examples/sim_instructions [off|hashed|recorded]
//! ```

use duckgoose_sim::trace::TraceMode;
use duckgoose_tests::sim_speed;

fn main() {
    let mode = match std::env::args().nth(1).as_deref() {
        Some("hashed") => TraceMode::HashOnly,
        Some("recorded") => TraceMode::Record,
        _ => TraceMode::Off,
    };
    println!("node events: {}", sim_speed::run(mode, 60_000));
}
