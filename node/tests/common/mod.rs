//! Helpers for tests that run real `duckgoose` processes on loopback: free ports, a tiny
//! blocking HTTP client, polling with deadlines, and a cluster that kills its processes
//! and removes its files when dropped.
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

// ---- HTTP ------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One HTTP/1.1 request on a fresh connection. `Err` when the node is down or silent.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Resp> {
    let sock: SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::other(format!("{addr}: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // A server may answer (413, 401) before reading a large body and close.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Resp> {
    let bad = |m: &str| std::io::Error::other(m.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Ok(Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 || data.len() < nl + 2 + size {
            return out;
        }
        out.extend_from_slice(&data[nl + 2..nl + 2 + size]);
        data = &data[(nl + 4 + size).min(data.len())..];
    }
}

pub fn get(addr: &str, path: &str) -> std::io::Result<Resp> {
    request(addr, "GET", path, &[], b"", Duration::from_secs(5))
}

/// Polls `f` until it returns `Some`, or panics with `what` at the deadline.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- Ports and directories -------------------------------------------------------------

/// `n` distinct free loopback ports.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "duckgoose-test-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

// ---- Processes -------------------------------------------------------------------------

pub struct Node {
    pub id: u64,
    pub addr: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    pub args: Vec<String>,
    pub child: Option<Child>,
}

impl Node {
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "node {} already running", self.id);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open node log");
        let child = Command::new(BIN)
            .args(&self.args)
            .env_remove("DUCKGOOSE_TOKEN")
            .env("DUCKGOOSE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn duckgoose");
        self.child = Some(child);
    }

    /// `kill -9`, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub root: PathBuf,
    pub token: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Opts {
    pub token: Option<String>,
    pub extra: Vec<String>,
}

impl Cluster {
    /// `n` founders with ids 1..=n on free loopback ports.
    pub fn start(name: &str, n: usize, opts: Opts) -> Cluster {
        let root = temp_dir(name);
        let ports = free_ports(n);
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut nodes = Vec::new();
        for i in 0..n {
            let id = i as u64 + 1;
            let dir = root.join(format!("node-{id}"));
            let mut args = vec![
                "node".to_string(),
                "--id".into(),
                id.to_string(),
                "--listen".into(),
                addrs[i].clone(),
                "--data-dir".into(),
                dir.display().to_string(),
            ];
            for (j, a) in addrs.iter().enumerate() {
                if j != i {
                    args.push("--peer".into());
                    args.push(format!("{}={a}", j + 1));
                }
            }
            if let Some(t) = &opts.token {
                args.push("--token".into());
                args.push(t.clone());
            }
            args.extend(opts.extra.iter().cloned());
            nodes.push(Node {
                id,
                addr: addrs[i].clone(),
                log: root.join(format!("node-{id}.log")),
                dir,
                args,
                child: None,
            });
        }
        let mut cluster = Cluster {
            nodes,
            root,
            token: opts.token,
        };
        for node in &mut cluster.nodes {
            node.spawn();
        }
        for i in 0..n {
            let addr = cluster.nodes[i].addr.clone();
            wait_for(
                &format!("node {} to serve", i + 1),
                Duration::from_secs(10),
                || get(&addr, "/metrics").ok(),
            );
        }
        cluster
    }

    pub fn node(&mut self, id: u64) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    pub fn addr(&self, id: u64) -> String {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.addr.clone())
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    pub fn ids(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    pub fn running_ids(&mut self) -> Vec<u64> {
        self.nodes
            .iter_mut()
            .filter_map(|n| n.is_running().then_some(n.id))
            .collect()
    }

    pub fn auth(&self) -> Vec<(String, String)> {
        self.token
            .iter()
            .map(|t| ("Authorization".to_string(), format!("Bearer {t}")))
            .collect()
    }

    /// A request carrying the cluster's token, if any.
    pub fn call(&self, id: u64, method: &str, path: &str, body: &str) -> std::io::Result<Resp> {
        let auth = self.auth();
        let mut headers: Vec<(&str, &str)> =
            auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        request(
            &self.addr(id),
            method,
            path,
            &headers,
            body.as_bytes(),
            Duration::from_secs(10),
        )
    }

    /// `goose`, `duck`, or `None` when down.
    pub fn role(&self, id: u64) -> Option<String> {
        request(
            &self.addr(id),
            "GET",
            "/role",
            &[],
            b"",
            Duration::from_millis(1500),
        )
        .ok()
        .filter(|r| r.status == 200)
        .map(|r| r.body)
    }

    pub fn status(&self, id: u64) -> Option<serde_json::Value> {
        get(&self.addr(id), "/status")
            .ok()
            .filter(|r| r.status == 200)
            .map(|r| r.json())
    }

    /// The roles of `ids`, asked concurrently.
    pub fn roles(&self, ids: &[u64]) -> Vec<(u64, Option<String>)> {
        std::thread::scope(|s| {
            let handles: Vec<_> = ids
                .iter()
                .map(|&id| (id, s.spawn(move || self.role(id))))
                .collect();
            handles
                .into_iter()
                .map(|(id, h)| (id, h.join().unwrap_or(None)))
                .collect()
        })
    }

    /// Waits until exactly one of `ids` answers goose and every other one answers duck.
    pub fn wait_one_goose(&self, ids: &[u64], timeout: Duration) -> u64 {
        wait_for(&format!("exactly one goose among {ids:?}"), timeout, || {
            let roles = self.roles(ids);
            let geese: Vec<u64> = roles
                .iter()
                .filter(|(_, r)| r.as_deref() == Some("goose"))
                .map(|(id, _)| *id)
                .collect();
            let all_answered = roles.iter().all(|(_, r)| r.is_some());
            (geese.len() == 1 && all_answered).then(|| geese[0])
        })
    }

    pub fn kill(&mut self, id: u64) {
        self.node(id).kill();
    }

    pub fn restart(&mut self, id: u64) {
        let node = self.node(id);
        node.kill();
        node.spawn();
        let addr = node.addr.clone();
        wait_for(
            &format!("node {id} to serve again"),
            Duration::from_secs(10),
            || get(&addr, "/metrics").ok(),
        );
    }

    pub fn put(&self, leader: u64, key: &str, value: &str) -> std::io::Result<Resp> {
        self.call(leader, "PUT", &format!("/kv/{key}"), value)
    }

    pub fn dump_logs(&self) {
        for node in &self.nodes {
            eprintln!(
                "---- node {} log (tail) ----\n{}",
                node.id,
                node.log_tail(40)
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        if std::thread::panicking() {
            self.dump_logs();
            eprintln!("(files kept in {})", self.root.display());
        } else {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// Runs the binary to completion (for commands that exit by themselves).
pub fn run_bin(args: &[&str], timeout: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("DUCKGOOSE_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn duckgoose");
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("collect output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

pub fn file_exists(p: &Path) -> bool {
    p.exists()
}
