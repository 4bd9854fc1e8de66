//! Benchmarks of the duckgoose node against etcd 3.4, both as 5-node clusters on
//! loopback with the same timings (heartbeat 50 ms, election timeout 150–300 ms, PreVote
//! on; etcd always runs CheckQuorum). Run through `node/bench/run.sh`, which builds in
//! release mode and installs etcd and wrk from Debian.
//!
//! - failover: N trials of `kill -9` on the leader; the time until another node answers
//!   (duckgoose: `GET /goose` 200; etcd: a linearizable range read succeeds). p50/p99/max.
//! - load: wrk against the leader (duckgoose: `GET /goose`; etcd: linearizable range via
//!   the JSON gateway), requests/s and p99, with resident memory idle and under load.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
struct Args {
    /// Failover trials per system.
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// Seconds of load per system.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections under load.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Systems to run: duckgoose, etcd or both.
    #[arg(long, value_delimiter = ',', default_value = "duckgoose,etcd")]
    systems: Vec<String>,
    /// Skip the failover trials.
    #[arg(long)]
    no_failover: bool,
    /// Skip the load runs.
    #[arg(long)]
    no_load: bool,
    /// Where the clusters keep their data (wiped first).
    #[arg(long, default_value = "/tmp/duckgoose-bench")]
    dir: PathBuf,
}

// ---- HTTP --------------------------------------------------------------------------

fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Option<(u16, String)> {
    let sock: SocketAddr = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    ls.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

// ---- Clusters ----------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Duckgoose,
    Etcd,
}

struct Cluster {
    kind: Kind,
    dir: PathBuf,
    /// Client addresses.
    addrs: Vec<String>,
    commands: Vec<(String, Vec<String>)>,
    children: Vec<Option<Child>>,
}

impl Cluster {
    fn new(kind: Kind, root: &Path, n: usize) -> Cluster {
        let dir = root.join(match kind {
            Kind::Duckgoose => "duckgoose",
            Kind::Etcd => "etcd",
        });
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench dir");
        let ports = free_ports(2 * n);
        let addrs: Vec<String> = (0..n).map(|i| format!("127.0.0.1:{}", ports[i])).collect();
        let mut commands = Vec::new();
        match kind {
            Kind::Duckgoose => {
                let exe = duckgoose_bin();
                for i in 0..n {
                    let mut args = vec![
                        "node".to_string(),
                        "--id".into(),
                        (i + 1).to_string(),
                        "--listen".into(),
                        addrs[i].clone(),
                        "--data-dir".into(),
                        dir.join(format!("n{}", i + 1)).display().to_string(),
                        "--heartbeat-ms".into(),
                        "50".into(),
                        "--election-ms".into(),
                        "150-300".into(),
                        "--log".into(),
                        "warn".into(),
                    ];
                    for j in (0..n).filter(|&j| j != i) {
                        args.push("--peer".into());
                        args.push(format!("{}={}", j + 1, addrs[j]));
                    }
                    commands.push((exe.clone(), args));
                }
            }
            Kind::Etcd => {
                let peers: Vec<String> = (0..n)
                    .map(|i| format!("e{}=http://127.0.0.1:{}", i + 1, ports[n + i]))
                    .collect();
                for i in 0..n {
                    let peer = format!("http://127.0.0.1:{}", ports[n + i]);
                    let client = format!("http://{}", addrs[i]);
                    let args = vec![
                        "--name".to_string(),
                        format!("e{}", i + 1),
                        "--data-dir".into(),
                        dir.join(format!("e{}", i + 1)).display().to_string(),
                        "--listen-client-urls".into(),
                        client.clone(),
                        "--advertise-client-urls".into(),
                        client,
                        "--listen-peer-urls".into(),
                        peer.clone(),
                        "--initial-advertise-peer-urls".into(),
                        peer,
                        "--initial-cluster".into(),
                        peers.join(","),
                        "--initial-cluster-state".into(),
                        "new".into(),
                        "--initial-cluster-token".into(),
                        "bench".into(),
                        // etcd draws election timeouts from [t, 2t): 150–300 ms. It
                        // insists on t >= 5 x heartbeat, so its heartbeat is 30 ms.
                        "--heartbeat-interval".into(),
                        "30".into(),
                        "--election-timeout".into(),
                        "150".into(),
                        "--pre-vote=true".into(),
                        "--logger".into(),
                        "zap".into(),
                        "--log-level".into(),
                        "error".into(),
                    ];
                    commands.push(("etcd".to_string(), args));
                }
            }
        }
        let mut c = Cluster {
            kind,
            dir,
            addrs,
            commands,
            children: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            c.start(i);
        }
        c
    }

    fn start(&mut self, i: usize) {
        let (exe, args) = &self.commands[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("node-{}.log", i + 1)))
            .expect("log");
        let child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        self.children[i] = Some(child);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.children[i].as_ref().map(|c| c.id())
    }

    /// The one operation whose success means "the cluster serves again".
    fn probe(kind: Kind, addr: &str, timeout: Duration) -> bool {
        match kind {
            Kind::Duckgoose => {
                matches!(http(addr, "GET", "/goose", "", timeout), Some((200, b)) if b == "goose")
            }
            Kind::Etcd => matches!(
                http(addr, "POST", "/v3/kv/range", r#"{"key":"Zm9v"}"#, timeout),
                Some((200, b)) if b.contains("\"header\"")
            ),
        }
    }

    fn leader(&self) -> Option<usize> {
        match self.kind {
            Kind::Duckgoose => {
                let geese: Vec<usize> = (0..self.addrs.len())
                    .filter(|&i| self.children[i].is_some())
                    .filter(|&i| Self::probe(self.kind, &self.addrs[i], Duration::from_secs(1)))
                    .collect();
                (geese.len() == 1).then(|| geese[0])
            }
            Kind::Etcd => {
                let mut leaders = Vec::new();
                for i in (0..self.addrs.len()).filter(|&i| self.children[i].is_some()) {
                    let (status, body) = http(
                        &self.addrs[i],
                        "POST",
                        "/v3/maintenance/status",
                        "{}",
                        Duration::from_secs(1),
                    )?;
                    if status != 200 {
                        return None;
                    }
                    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                    let me = v["header"]["member_id"].as_str()?.to_string();
                    let leader = v["leader"].as_str()?.to_string();
                    if leader == "0" {
                        return None;
                    }
                    leaders.push(leader.clone());
                    if me == leader {
                        leaders.push(format!("at:{i}"));
                    }
                }
                let ids: std::collections::BTreeSet<&String> =
                    leaders.iter().filter(|l| !l.starts_with("at:")).collect();
                if ids.len() != 1 {
                    return None;
                }
                leaders
                    .iter()
                    .find_map(|l| l.strip_prefix("at:"))
                    .and_then(|i| i.parse().ok())
            }
        }
    }

    /// Every node running, one leader, and every node serving the probe (through the
    /// leader for etcd followers; for duckgoose the leader answers goose).
    fn wait_healthy(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader() {
                let ok = match self.kind {
                    Kind::Duckgoose => true,
                    Kind::Etcd => (0..self.addrs.len())
                        .all(|i| Self::probe(self.kind, &self.addrs[i], Duration::from_secs(1))),
                };
                if ok {
                    return l;
                }
            }
            if Instant::now() > deadline {
                panic!("{:?} cluster not healthy after {timeout:?}", self.kind);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

fn duckgoose_bin() -> String {
    if let Ok(b) = std::env::var("DUCKGOOSE_BIN") {
        return b;
    }
    // target/<profile>/examples/bench -> target/<profile>/duckgoose
    let exe = std::env::current_exe().expect("own path");
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("duckgoose").display().to_string())
        .expect("binary path")
}

// ---- Failover --------------------------------------------------------------------------

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Failover {
    samples_ms: Vec<f64>,
    failed: usize,
}

fn failover(kind: Kind, root: &Path, trials: usize) -> Failover {
    let mut cluster = Cluster::new(kind, root, 5);
    cluster.wait_healthy(Duration::from_secs(30));
    if kind == Kind::Etcd {
        let _ = http(
            &cluster.addrs[0],
            "POST",
            "/v3/kv/put",
            r#"{"key":"Zm9v","value":"YmFy"}"#,
            Duration::from_secs(5),
        );
    }
    let mut samples = Vec::new();
    let mut failed = 0;
    for trial in 0..trials {
        let leader = cluster.wait_healthy(Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(300));
        let others: Vec<String> = (0..5)
            .filter(|&i| i != leader)
            .map(|i| cluster.addrs[i].clone())
            .collect();
        cluster.kill(leader);
        let killed = Instant::now();
        let done = Arc::new(AtomicBool::new(false));
        let first = Arc::new(Mutex::new(None::<Duration>));
        std::thread::scope(|s| {
            for addr in &others {
                let (done, first) = (done.clone(), first.clone());
                s.spawn(move || {
                    let deadline = killed + Duration::from_secs(10);
                    while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
                        if Cluster::probe(kind, addr, Duration::from_millis(1000)) {
                            let took = killed.elapsed();
                            let mut f = first.lock().unwrap();
                            if f.is_none_or(|t| took < t) {
                                *f = Some(took);
                            }
                            done.store(true, Ordering::Relaxed);
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                });
            }
        });
        match *first.lock().unwrap() {
            Some(t) => samples.push(t.as_secs_f64() * 1000.0),
            None => failed += 1,
        }
        cluster.start(leader);
        if (trial + 1) % 10 == 0 {
            eprintln!("{kind:?}: {} trials", trial + 1);
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Failover {
        samples_ms: samples,
        failed,
    }
}

// ---- Load ------------------------------------------------------------------------------

struct Load {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    errors: String,
    idle_rss_leader_kib: u64,
    idle_rss_total_kib: u64,
    load_rss_leader_kib: u64,
    load_rss_total_kib: u64,
}

fn parse_latency(s: &str) -> f64 {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>().map_or(f64::NAN, |v| v * mult)
}

/// wrk against the leader; `path` is the duckgoose route (`/goose`, or `/status` as the
/// node's own baseline without a quorum round).
fn load(kind: Kind, root: &Path, seconds: u64, connections: usize, path: &str) -> Load {
    let cluster = Cluster::new(kind, root, 5);
    let leader = cluster.wait_healthy(Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(3));
    let pids: Vec<u32> = (0..5).filter_map(|i| cluster.pid(i)).collect();
    let leader_pid = cluster.pid(leader).unwrap_or(0);
    let idle_total = pids.iter().map(|&p| rss_kib(p)).sum();
    let idle_leader = rss_kib(leader_pid);

    let addr = &cluster.addrs[leader];
    let script = root.join("range.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = '{\"key\":\"Zm9v\"}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )
    .expect("lua");
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
        "--timeout",
        "2s",
    ]);
    match kind {
        Kind::Duckgoose => {
            cmd.arg(format!("http://{addr}{path}"));
        }
        Kind::Etcd => {
            cmd.arg("-s")
                .arg(&script)
                .arg(format!("http://{addr}/v3/kv/range"));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(Mutex::new((0u64, 0u64)));
    let sampler = {
        let (stop, peak, pids) = (stop.clone(), peak.clone(), pids.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let total: u64 = pids.iter().map(|&p| rss_kib(p)).sum();
                let l = rss_kib(leader_pid);
                let mut pk = peak.lock().unwrap();
                pk.0 = pk.0.max(l);
                pk.1 = pk.1.max(total);
                drop(pk);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let out = cmd.output().expect("run wrk (apt-get install wrk)");
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    eprintln!("{kind:?} wrk output:\n{text}");
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    let pct = |p: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            .map_or(f64::NAN, parse_latency)
    };
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let errors = text
        .lines()
        .find(|l| l.contains("Socket errors"))
        .unwrap_or("")
        .trim()
        .to_string();
    let pk = *peak.lock().unwrap();
    Load {
        rps,
        p50_ms: pct("50%"),
        p99_ms: pct("99%"),
        non_2xx,
        errors,
        idle_rss_leader_kib: idle_leader,
        idle_rss_total_kib: idle_total,
        load_rss_leader_kib: pk.0,
        load_rss_total_kib: pk.1,
    }
}

// ---- Report ------------------------------------------------------------------------------

fn main() {
    let args = Args::parse();
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir).expect("bench dir");
    let kinds: Vec<Kind> = args
        .systems
        .iter()
        .map(|s| match s.as_str() {
            "duckgoose" => Kind::Duckgoose,
            "etcd" => Kind::Etcd,
            other => panic!("unknown system {other}"),
        })
        .collect();
    let mut report = String::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    writeln!(
        report,
        "Machine: {cpus} CPUs; 5 nodes on loopback; election timeout 150-300 ms, PreVote on; heartbeat 50 ms (duckgoose) and 30 ms (etcd, which requires election >= 5 x heartbeat).\n"
    )
    .unwrap();
    if !args.no_failover {
        writeln!(
            report,
            "### Failover ({} trials of kill -9 on the leader)\n\n| system | p50 ms | p99 ms | max ms | min ms | no recovery in 10 s |\n|---|---|---|---|---|---|",
            args.trials
        )
        .unwrap();
        for &kind in &kinds {
            let f = failover(kind, &args.dir, args.trials);
            let s = &f.samples_ms;
            writeln!(
                report,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {} |",
                name(kind),
                percentile(s, 50.0),
                percentile(s, 99.0),
                s.last().copied().unwrap_or(f64::NAN),
                s.first().copied().unwrap_or(f64::NAN),
                f.failed
            )
            .unwrap();
            eprint!("{report}");
        }
        report.push('\n');
    }
    if !args.no_load {
        writeln!(
            report,
            "### Load ({} connections, {} s, wrk -t2, against the leader)\n\n| system | operation | requests/s | p50 ms | p99 ms | non-2xx | RSS idle leader / all 5 (MiB) | RSS under load leader / all 5 (MiB) |\n|---|---|---|---|---|---|---|---|",
            args.connections, args.seconds
        )
        .unwrap();
        let runs = kinds.iter().flat_map(|&kind| match kind {
            Kind::Duckgoose => vec![
                (kind, "/goose", "GET /goose (quorum-confirmed)"),
                (kind, "/status", "GET /status (local, no quorum round)"),
            ],
            Kind::Etcd => vec![(kind, "", "linearizable range (JSON gateway)")],
        });
        for (kind, path, op) in runs {
            let l = load(kind, &args.dir, args.seconds, args.connections, path);
            let mib = |k: u64| k as f64 / 1024.0;
            writeln!(
                report,
                "| {} | {op} | {:.0} | {:.2} | {:.2} | {}{} | {:.1} / {:.1} | {:.1} / {:.1} |",
                name(kind),
                l.rps,
                l.p50_ms,
                l.p99_ms,
                l.non_2xx,
                if l.errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", l.errors)
                },
                mib(l.idle_rss_leader_kib),
                mib(l.idle_rss_total_kib),
                mib(l.load_rss_leader_kib),
                mib(l.load_rss_total_kib),
            )
            .unwrap();
        }
    }
    println!("{report}");
}

fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Duckgoose => "duckgoose",
        Kind::Etcd => "etcd 3.4.23",
    }
}
