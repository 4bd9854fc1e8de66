//! # Duck Duck Goose core
//!
//! A Raft implementation as a pure, deterministic state machine (no clock, no sockets, no
//! threads, no global randomness) plus a tiny replicated key-value store. The simulator
//! (`duckgoose-sim`) and the linearizability checker (`duckgoose-lincheck`) are crates of
//! their own.
//!
//! Exactly one node is the **goose**: the leader that has committed an entry of its own
//! term and has confirmed, with a heartbeat round started after the question was asked,
//! that a quorum still follows it. Everyone else is a **duck**.
//!
//! The protocol is generic over the application's command: `Raft<C>` replicates log
//! entries carrying any `C: Clone` and never looks inside them (see
//! `tests/own_state_machine.rs` for a counter). The key-value store is one such
//! application: `C` defaults to [`kv::Op`], and [`replica`] wraps `Raft<Op>` with the
//! store and client requests.
//!
//! Start reading at [`raft`].

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod config;
pub mod entry;
pub mod events;
pub mod kv;
mod log;
pub mod message;
mod progress;
mod quorum;
pub mod raft;
pub mod replica;
pub mod rng;
pub mod snapshot;
pub mod types;

pub use config::{Config, UnsafeVariant};
pub use entry::{Command, Entry};
pub use events::{DenyReason, Event, Role, RoleReason};
pub use kv::{DecodeError, Kv, Op, Output};
pub use log::Log;
pub use message::{AppendResult, Body, Message, Round};
pub use raft::{
    Confirmed, DuckReason, HardState, LogWrite, MembershipChange, NotGoose, Persisted,
    ProposeError, Raft, ReadOutcome, Ready, Released, Uncommitted,
};
pub use replica::{
    Replica, ReplicaReady, ReplicaReleased, Reply, Request, RequestError, RequestId, Response,
};
pub use snapshot::{CompactError, MAX_SNAPSHOT_BYTES, Snapshot};
pub use types::{Index, MAX_TERM, Member, Membership, Millis, NodeId, Term};
