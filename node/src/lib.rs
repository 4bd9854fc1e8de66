//! The Duck Duck Goose node: the sans-IO Raft core from `duckgoose-core` behind an HTTP
//! server, with durable storage and operator commands. See `docs/node.md`.

#![forbid(unsafe_code)]

pub mod bodies;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod cluster_control;
pub mod cors;
pub mod discovery;
pub mod fence;
pub mod goose_queries;
pub mod health;
pub mod http;
pub mod metrics;
pub mod node;
pub mod peer_stream;
pub mod playground;
pub mod runtime;
pub mod serve;
pub mod snapshot_file;
pub mod storage;
pub mod tls;
pub mod watch;
