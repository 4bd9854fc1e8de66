//! A singleton worker: a program that runs next to its local Duck Duck Goose node and
//! does its job only while that node is the goose.
//!
//! The job here appends numbered records, `WORKER FENCE SEQ`, one line each, to one key of
//! the cluster's key-value store: read the key, then compare-and-set it to the old value
//! plus a line. Every write carries the fence of the leadership the worker acts for, so
//! the store refuses it (`412`, [`Error::StaleFence`]) once a newer leadership exists,
//! however late it arrives. The key's value is therefore the history of accepted writes
//! in the order the cluster applied them, and anyone can check it.
//!
//! The rules a worker keeps:
//! - act only on an `Ok` goose event of its node's watch, with that event's fence;
//! - stop at once on a duck event or a watch error (the node may be gone, paused or cut
//!   off: it is not known to be the goose);
//! - a stale-fence refusal ends the job for that fence: only a new goose event restarts it.
//!
//! Stopping "at once" cannot be instant for a node that is paused or cut off without
//! being told; the fence is what makes that window harmless.

#![forbid(unsafe_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use duckgoose_client::Error;
use duckgoose_client::{Client, Fence, GooseState};
use futures_util::StreamExt;
use tokio::task::JoinHandle;

/// What a worker needs to know.
#[derive(Clone, Debug)]
pub struct Config {
    /// This worker's name, written in each record.
    pub name: String,
    /// The local node's URL: the worker acts only while this node is the goose.
    pub node: String,
    /// Every member's URL (the local node included): writes go to the goose through them.
    pub members: Vec<String>,
    pub token: Option<String>,
    /// The CA to trust for `https` members.
    pub tls_ca: Option<PathBuf>,
    /// The key the records are appended to.
    pub key: String,
    /// The pause between two records.
    pub every: Duration,
    /// A watch silent this long is taken as lost: the longest a paused node can keep the
    /// worker believing it is the goose (the node sends keep-alives more often).
    pub idle_timeout: Duration,
    /// How long one request may take.
    pub request_timeout: Duration,
}

/// Counts of what a worker did, readable while it runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Times the worker started its job (a goose event with a new fence, or again after a
    /// lost watch).
    pub activations: AtomicU64,
    /// Records the store accepted.
    pub accepted: AtomicU64,
    /// Writes refused for a stale fence: (the fence sent, the leadership that refused).
    pub refusals: Mutex<Vec<(Fence, Fence)>>,
    /// Requests that failed otherwise (no goose, unreachable, outcome unknown).
    pub errors: AtomicU64,
}

impl Stats {
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    pub fn refusals(&self) -> Vec<(Fence, Fence)> {
        self.refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// One record of the history: `WORKER FENCE SEQ`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub worker: String,
    pub fence: u64,
    /// The worker's own count of records it has tried to write, across its jobs.
    pub seq: u64,
}

impl Record {
    fn line(&self) -> String {
        format!("{} {} {}\n", self.worker, self.fence, self.seq)
    }

    /// Parses the key's value into records, in apply order.
    pub fn parse_history(value: &str) -> Result<Vec<Record>, String> {
        value
            .lines()
            .map(|line| {
                let mut parts = line.split(' ');
                let (Some(worker), Some(fence), Some(seq), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(format!("not a record: {line:?}"));
                };
                Ok(Record {
                    worker: worker.to_string(),
                    fence: fence.parse().map_err(|_| format!("bad fence: {line:?}"))?,
                    seq: seq.parse().map_err(|_| format!("bad seq: {line:?}"))?,
                })
            })
            .collect()
    }
}

/// Runs the worker until `stop` completes. Names must not contain spaces or newlines.
pub async fn run(
    config: Config,
    stats: Arc<Stats>,
    stop: impl Future<Output = ()>,
) -> Result<(), Error> {
    if config.name.is_empty() || config.name.contains(char::is_whitespace) {
        return Err(Error::Config(format!(
            "a worker name is one word, got {:?}",
            config.name
        )));
    }
    let mut members = config.members.clone();
    if !members.contains(&config.node) {
        members.push(config.node.clone());
    }
    let mut builder = Client::builder()
        .members(members)
        .timeout(config.request_timeout)
        .watch_idle_timeout(config.idle_timeout)
        .watch_backoff(Duration::from_millis(50), Duration::from_millis(500));
    if let Some(token) = &config.token {
        builder = builder.token(token.clone());
    }
    if let Some(ca) = &config.tls_ca {
        builder = builder.tls_ca(ca.clone());
    }
    let client = builder.build()?;
    let seq = Arc::new(AtomicU64::new(0));
    let mut watch = client.watch(&config.node);
    let mut job: Option<(Fence, JoinHandle<()>)> = None;
    tokio::pin!(stop);
    loop {
        let item = tokio::select! {
            () = &mut stop => break,
            item = watch.next() => item,
        };
        let fence = match &item {
            Some(Ok(GooseState {
                goose: true,
                fence: Some(fence),
                ..
            })) => Some(*fence),
            _ => None,
        };
        match (fence, &job) {
            // The same leadership again (a node restating its answer): the job goes on,
            // or stays ended if the store refused its fence.
            (Some(f), Some((current, _))) if *current == f => {}
            (Some(f), _) => {
                if let Some((_, old)) = job.take() {
                    old.abort();
                }
                eprintln!("{}: goose with fence {f}: working", config.name);
                stats.activations.fetch_add(1, Ordering::Relaxed);
                let task = work(
                    client.clone(),
                    config.clone(),
                    f,
                    Arc::clone(&seq),
                    Arc::clone(&stats),
                );
                job = Some((f, tokio::spawn(task)));
            }
            (None, _) => {
                if let Some((f, old)) = job.take() {
                    old.abort();
                    match item {
                        Some(Err(e)) => eprintln!("{}: fence {f}: stopped: {e}", config.name),
                        _ => eprintln!("{}: fence {f}: stopped: duck", config.name),
                    }
                }
            }
        }
    }
    if let Some((_, old)) = job {
        old.abort();
    }
    Ok(())
}

/// The job, for leadership `fence`: append records until the store refuses the fence
/// (or the task is aborted).
async fn work(
    client: Client,
    config: Config,
    fence: Fence,
    seq: Arc<AtomicU64>,
    stats: Arc<Stats>,
) {
    loop {
        match append(&client, &config, fence, &seq).await {
            Ok(true) => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
            }
            // Someone wrote between our read and our swap: read again.
            Ok(false) => {}
            Err(Error::StaleFence { fence, current }) => {
                eprintln!(
                    "{}: fence {fence} refused, leadership {current} exists: job ended",
                    config.name
                );
                stats
                    .refusals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((fence, current));
                return;
            }
            Err(_) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(config.every).await;
    }
}

/// One record: read the key, swap in the value plus a line. `Ok(false)` when the key
/// changed in between.
async fn append(
    client: &Client,
    config: &Config,
    fence: Fence,
    seq: &AtomicU64,
) -> Result<bool, Error> {
    let old = client.get(&config.key).await?;
    let record = Record {
        worker: config.name.clone(),
        fence: fence.0,
        seq: seq.fetch_add(1, Ordering::Relaxed),
    };
    let new = format!("{}{}", old.as_deref().unwrap_or(""), record.line());
    client
        .cas(&config.key, old.as_deref(), &new, Some(fence))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let records = vec![
            Record {
                worker: "w1".into(),
                fence: 3,
                seq: 0,
            },
            Record {
                worker: "w2".into(),
                fence: 4,
                seq: 7,
            },
        ];
        let text: String = records.iter().map(Record::line).collect();
        assert_eq!(text, "w1 3 0\nw2 4 7\n");
        assert_eq!(Record::parse_history(&text), Ok(records));
        assert!(Record::parse_history("w1 3\n").is_err());
        assert!(Record::parse_history("w1 x 0\n").is_err());
    }
}
