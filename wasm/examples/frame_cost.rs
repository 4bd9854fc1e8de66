//! The Rust half of the playground's frames, natively: the `www/bench/speed.mjs` workload
//! (5 nodes, RaftScope's timings, a write every 100 ms, a frame every 100 ms) without the
//! JS side, for counting instructions:
//!
//! ```sh
//! cargo build --release -p duckgoose-wasm --example frame_cost
//! valgrind --tool=callgrind target/release/examples/frame_cost
//! ```

use duckgoose_sim::text;
use duckgoose_wasm::Sim;

fn main() {
    let mut sim = Sim::from_scenario("duckgoose 1 nodes=5 seed=7 heartbeat=50 election=100-200")
        .unwrap_or_else(|_| panic!("a valid scenario"));
    let (mut numbers, mut leader) = (0usize, 1);
    for write in 1..=600u64 {
        let packed = sim.pack_until(write * 100);
        numbers += packed.nums.len();
        if let Some(l) = sim.leader() {
            leader = l;
        }
        let action = text::parse_action(&format!("request {leader} put k{} {write}", write % 8))
            .expect("a valid action");
        sim.act_parsed(action).expect("accepted");
    }
    println!("numbers packed: {numbers}");
}
