//! # Duck Duck Goose model checker
//!
//! Every interleaving of a tiny cluster of the real core (`duckgoose_core::Raft`, what
//! the node and the page run), within bounds: [`model`] (the cluster, faults and
//! normalisation), [`explore`] (breadth- and depth-first search over distinct states),
//! [`script`] (a counterexample as a scenario script). See docs/verification.md.

pub mod explore;
pub mod model;
pub mod script;

pub use explore::{Counterexample, Options, Order, Report, explore};
pub use model::{Action, Bounds, Failure, State};
