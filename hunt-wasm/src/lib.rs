//! The counterexample hunt in the browser: [`Hunter`] (`Hunt` in JS) runs seeds of a
//! cluster whose nodes all break one rule (`duckgoose_sim::hunt`), a slice per call, and
//! hands back progress, or the failing run as text with the moment and invariant it
//! failed on. Same seeds, same runs as natively: `tests/tests/hunt.rs` hunts the same way.
//!
//! A module of its own, apart from the playground's (`wasm/`): only the page's hunt
//! worker (`www/ddg/hunt-worker.js`) loads it, so the playground's first load does not
//! carry the nemesis and the hunt. The playground's module reads the runs it finds
//! (`break=…` in their text).

#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;
use wasm_bindgen::prelude::*;

use duckgoose_core::{Millis, UnsafeVariant};
use duckgoose_sim::checker::Invariant;
use duckgoose_sim::hunt::{self, Hunt};
use duckgoose_sim::text;
use duckgoose_sim::validate::MAX_TIME;

// The playground's allocator, for the same reasons (wasm/src/lib.rs): smaller and faster
// than dlmalloc; a worker is single-threaded.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::new())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The highest first seed: far enough below 2^53 (the most a seed in a run's text may
/// be, for JavaScript's sake) that a hunt never runs out of seeds.
const MAX_FIRST_SEED: u64 = 1 << 52;

/// One broken rule as the page lists it.
#[derive(Serialize)]
struct VariantInfo {
    /// Its name (`break=…` in a run's text).
    id: UnsafeVariant,
    /// The invariants its counterexamples break first (checker ids).
    breaks: &'static [Invariant],
}

/// Every rule the hunt can break, in order: `[{id, breaks}]`.
#[wasm_bindgen(js_name = unsafeVariants)]
pub fn unsafe_variants() -> Result<JsValue, JsError> {
    let list: Vec<VariantInfo> = UnsafeVariant::ALL
        .iter()
        .map(|&id| VariantInfo {
            id,
            breaks: hunt::expected_invariants(id),
        })
        .collect();
    to_js(&list)
}

/// What a slice of the hunt hands back.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    variant: UnsafeVariant,
    seeds_tried: u64,
    /// Virtual ms simulated over every seed tried so far.
    simulated_ms: u64,
    next_seed: u64,
    found: Option<Found>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Found {
    seed: u64,
    invariant: Invariant,
    detail: String,
    /// The virtual ms the invariant failed at: where the page scrubs to.
    at: Millis,
    /// The run as text (`Sim.fromScenario`, the page's import): it fails at `at`.
    scenario: String,
}

/// A hunt for one broken rule, from a starting seed.
#[wasm_bindgen(js_name = Hunt)]
pub struct Hunter {
    hunt: Hunt,
}

#[wasm_bindgen(js_class = Hunt)]
impl Hunter {
    /// `new Hunt("commit-earlier-term", 1)`: unknown names and seeds that are not whole
    /// numbers up to 2^52 are refused.
    #[wasm_bindgen(constructor)]
    pub fn new(variant: &str, first_seed: f64) -> Result<Hunter, JsError> {
        let Some(variant) = UnsafeVariant::named(variant) else {
            let names: Vec<&str> = UnsafeVariant::ALL.iter().map(|v| v.name()).collect();
            return Err(JsError::new(&format!(
                "unknown variant \"{variant}\" (one of {})",
                names.join(", ")
            )));
        };
        if !(0.0..=MAX_FIRST_SEED as f64).contains(&first_seed) || first_seed.fract() != 0.0 {
            return Err(JsError::new("seed: a whole number from 0 to 2^52"));
        }
        Ok(Hunter {
            hunt: Hunt::new(variant, first_seed as u64),
        })
    }

    /// Runs whole seeds until one fails or `budget_ms` virtual ms (1 ms to a day) have
    /// been simulated by this call; returns `{variant, seedsTried, simulatedMs, nextSeed,
    /// found}`, `found` being null or `{seed, invariant, detail, at, scenario}`.
    pub fn run(&mut self, budget_ms: f64) -> Result<JsValue, JsError> {
        if !(1.0..=MAX_TIME as f64).contains(&budget_ms) {
            return Err(JsError::new(&format!("budget: 1 to {MAX_TIME} virtual ms")));
        }
        let found = self.hunt.run(budget_ms as Millis).map(|c| Found {
            seed: c.seed,
            invariant: c.failure.invariant,
            detail: c.failure.detail,
            at: c.failure.at,
            scenario: text::format_scenario(&c.scenario),
        });
        to_js(&Progress {
            variant: self.hunt.variant(),
            seeds_tried: self.hunt.seeds_tried(),
            simulated_ms: self.hunt.simulated_ms(),
            next_seed: self.hunt.next_seed(),
            found,
        })
    }
}
