//! `singleton-worker`: run one next to each `duckgoose` node; only the goose's worker
//! works. See the library's documentation and "Use it from your program" in
//! `docs/node.md`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use singleton_worker::{Config, Stats, run};

/// Appends numbered records to a key of the cluster while the local node is the goose,
/// every write fenced; stops at once when the node is a duck or cannot be heard.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// This worker's name (one word), written in each record.
    #[arg(long)]
    name: String,
    /// The local node's URL, e.g. http://127.0.0.1:9901.
    #[arg(long)]
    node: String,
    /// Another member's URL (repeat it); writes reach the goose through any of them.
    #[arg(long = "member")]
    members: Vec<String>,
    /// The cluster's bearer token.
    #[arg(long, env = "DUCKGOOSE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The CA certificate (PEM) to trust for https members.
    #[arg(long, env = "DUCKGOOSE_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// The key the records are appended to.
    #[arg(long, default_value = "singleton-worker.log")]
    key: String,
    /// Milliseconds between two records.
    #[arg(long, default_value_t = 200)]
    every_ms: u64,
    /// Milliseconds of watch silence after which the node is taken as lost (keep it above
    /// the node's --watch-keepalive-ms).
    #[arg(long, default_value_t = 30_000)]
    idle_timeout_ms: u64,
    /// Milliseconds one request may take.
    #[arg(long, default_value_t = 5_000)]
    request_timeout_ms: u64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let config = Config {
        name: args.name,
        node: args.node,
        members: args.members,
        token: args.token,
        tls_ca: args.tls_ca,
        key: args.key,
        every: Duration::from_millis(args.every_ms),
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        request_timeout: Duration::from_millis(args.request_timeout_ms),
    };
    let stats = Arc::new(Stats::default());
    // Ctrl-C or SIGTERM (what systemd and Kubernetes send).
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match &mut term {
            Ok(term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    if let Err(e) = run(config, Arc::clone(&stats), stop).await {
        eprintln!("singleton-worker: {e}");
        std::process::exit(2);
    }
    eprintln!(
        "stopped: {} activations, {} records accepted, {} writes refused for a stale fence",
        stats.activations.load(std::sync::atomic::Ordering::Relaxed),
        stats.accepted(),
        stats.refusals().len()
    );
}
