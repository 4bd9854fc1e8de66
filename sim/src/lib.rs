//! # Duck Duck Goose simulator
//!
//! A whole cluster in one process, in virtual time: nodes with persisted and volatile
//! state, a faulty network, client requests, and an invariant checker run after every
//! step. Deterministic: the same seed and actions give the same trace, natively and in wasm.
//!
//! The cluster is event driven: it jumps to the next message delivery or node timer,
//! so idle stretches cost nothing.

//!
//! One concept per module: [`cluster`] (nodes, clients, the step loop), [`network`]
//! (latency, loss, duplication, partitions), [`checker`] (the invariants checked after
//! every step), [`clock`] (each node's own clock, at a rate of virtual time),
//! [`nemesis`] (seeded random faults and client load), `hunt` (seeds of a
//! deliberately broken cluster until one fails; `unsafe-variants` feature only),
//! [`trace`] and [`stable_hash`] (what happened, hashed the same on every target),
//! [`scenario`] (a recorded run and its replay), [`text`] (the scenario's text form) and
//! [`validate`] (limits on what a person or a file may ask for).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod checker;
pub mod clock;
pub mod cluster;
#[cfg(feature = "unsafe-variants")]
pub mod hunt;
pub mod nemesis;
pub mod network;
pub mod scenario;
pub mod stable_hash;
pub mod text;
pub mod trace;
pub mod validate;

pub use cluster::*;
