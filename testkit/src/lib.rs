//! Real `duckgoose` processes for tests and the nemesis: a [`Cluster`] that starts, kills
//! (`kill -9`), stops (SIGTERM), pauses (SIGSTOP), resumes and restarts nodes on their
//! data directories, on free loopback ports or each in its own network namespace
//! ([`Netns`]); a bearer token by default ([`Token`]); TLS with mutual TLS between peers
//! on request ([`Cluster::start_tls`], certificates from [`tls`]); a blocking HTTP client
//! ([`request`], [`Resp`]); an event-stream client ([`SseStream`]); polling with deadlines ([`wait_for`], [`poll`]). Dropping a
//! cluster kills its processes and removes its files (kept, with the logs printed, when
//! the thread is panicking).
//!
//! The binary is a parameter: node tests pass `env!("CARGO_BIN_EXE_duckgoose")`.

#![forbid(unsafe_code)]

mod cluster;
mod http;
pub mod net;
pub mod sse;
pub mod tls;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use cluster::{Cluster, ClusterTls, Opts, Proc, State, Token};
pub use http::{Resp, get, request, request_with};
pub use net::Netns;
pub use sse::{SseEvent, SseItem, SseStream};

pub type NodeId = u64;

// ---- Polling ---------------------------------------------------------------------------

/// Polls `f` every 10 ms until it returns `Some`, or gives `None` at the deadline.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` at the deadline.
pub fn wait_for<T>(what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
    poll(timeout, f).unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

// ---- Ports and directories -------------------------------------------------------------

/// `n` distinct free loopback ports (all bound at once, so they differ).
pub fn free_ports(n: usize) -> Vec<u16> {
    try_free_ports(n).expect("bind an ephemeral port")
}

pub fn try_free_ports(n: usize) -> Result<Vec<u16>, String> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("no free port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("no free port: {e}"))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique number in this process (temp dirs, tokens).
pub(crate) fn unique() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, empty directory under the system temp dir. The caller removes it (a
/// [`Cluster`] removes its own root).
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("duckgoose-test-{name}-{}", unique()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

// ---- One-shot commands -----------------------------------------------------------------

/// `bin inspect DIR`: a stopped node's data directory as JSON (term, vote, log, snapshot).
pub fn inspect(bin: &str, dir: &std::path::Path) -> serde_json::Value {
    let (code, out, err) = run_bin(
        bin,
        &["inspect", &dir.display().to_string()],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(0), "inspect failed: {err}");
    serde_json::from_str(out.trim()).expect("inspect prints JSON")
}

/// Runs `bin args` to completion (for commands that exit by themselves), `kill -9` at
/// the deadline: (exit code, stdout, stderr). `DUCKGOOSE_TOKEN` is not inherited.
pub fn run_bin(bin: &str, args: &[&str], timeout: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("DUCKGOOSE_TOKEN")
        .env_remove("DUCKGOOSE_TLS_CERT")
        .env_remove("DUCKGOOSE_TLS_KEY")
        .env_remove("DUCKGOOSE_TLS_CA")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn duckgoose");
    if poll(timeout, || child.try_wait().ok().flatten()).is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("collect output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Sends `sig` (`TERM`, `STOP`, `CONT`, …) to `pid` with `kill -s`.
pub fn signal(pid: u32, sig: &str) -> Result<(), String> {
    let out = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .output()
        .map_err(|e| format!("kill -s {sig} {pid}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "kill -s {sig} {pid}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
