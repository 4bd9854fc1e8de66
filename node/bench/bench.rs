//! Benchmarks of the duckgoose node against etcd 3.4, both as 5-node clusters on
//! loopback with the same timings (heartbeat 50 ms, election timeout 150–300 ms, PreVote
//! on; etcd always runs CheckQuorum). Run through `node/bench/run.sh`, which builds in
//! release mode and installs etcd and wrk from Debian.
//!
//! - failover: N trials of `kill -9` on the leader; the time until another node answers
//!   (duckgoose: `GET /goose` 200; etcd: a linearizable range read succeeds). p50/p99/max.
//! - load: wrk against the leader (duckgoose: `GET /goose`; etcd: linearizable range via
//!   the JSON gateway), requests/s and p99, with resident memory idle and under load.
//! - rolling: SIGTERM each node in turn, restart it on its data dir, wait until healthy,
//!   next; one prober per node asks every 1 ms (duckgoose: `GET /goose`; etcd: a
//!   linearizable range read). The longest window in which no node answered.

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
    /// Skip the rolling restarts.
    #[arg(long)]
    no_rolling: bool,
    /// Run only these parts: failover, load, rolling (overrides the --no-* flags).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Rolling restarts: how many times each node is restarted in turn.
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Rolling restarts: pause after a node is healthy again before stopping the next.
    #[arg(long, default_value_t = 300)]
    settle_ms: u64,
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

/// Five nodes, healthy; etcd gets one key, so its linearizable range reads have data.
fn healthy_cluster(kind: Kind, root: &Path) -> Cluster {
    let cluster = Cluster::new(kind, root, 5);
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
    cluster
}

fn failover(kind: Kind, root: &Path, trials: usize) -> Failover {
    let mut cluster = healthy_cluster(kind, root);
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
    let mut args = Args::parse();
    if !args.only.is_empty() {
        for part in &args.only {
            assert!(
                ["failover", "load", "rolling"].contains(&part.as_str()),
                "unknown part {part:?}: expected failover, load or rolling"
            );
        }
        let has = |p: &str| args.only.iter().any(|o| o == p);
        (args.no_failover, args.no_load, args.no_rolling) =
            (!has("failover"), !has("load"), !has("rolling"));
    }
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
        report.push('\n');
    }
    if !args.no_rolling {
        rolling_report(
            &mut report,
            &kinds,
            &args.dir,
            args.rounds,
            Duration::from_millis(args.settle_ms),
        );
    }
    println!("{report}");
}

fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Duckgoose => "duckgoose",
        Kind::Etcd => "etcd 3.4.23",
    }
}

// ---- Rolling restart -------------------------------------------------------------------

/// One HTTP/1.1 keep-alive connection: probing every 1 ms with a connection each would
/// run out of ephemeral ports (TIME_WAIT) within seconds.
struct KeepAlive {
    addr: SocketAddr,
    stream: Option<std::io::BufReader<TcpStream>>,
}

impl KeepAlive {
    fn new(addr: &str) -> KeepAlive {
        KeepAlive {
            addr: addr.parse().expect("probe address"),
            stream: None,
        }
    }

    /// One request; `None` (and a fresh connection next time) on any failure.
    fn call(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        timeout: Duration,
    ) -> Option<(u16, String)> {
        let result = self.try_call(method, path, body, timeout);
        if result.is_none() {
            self.stream = None;
        }
        result
    }

    fn try_call(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        timeout: Duration,
    ) -> Option<(u16, String)> {
        use std::io::BufRead;
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, timeout).ok()?;
            s.set_nodelay(true).ok()?;
            self.stream = Some(std::io::BufReader::new(s));
        }
        let reader = self.stream.as_mut()?;
        reader.get_ref().set_read_timeout(Some(timeout)).ok()?;
        reader.get_ref().set_write_timeout(Some(timeout)).ok()?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        reader.get_mut().write_all(req.as_bytes()).ok()?;
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
        let (mut length, mut chunked, mut close) = (0usize, false, false);
        loop {
            line.clear();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':')?;
            let (name, value) = (name.to_ascii_lowercase(), value.trim().to_ascii_lowercase());
            match name.as_str() {
                "content-length" => length = value.parse().ok()?,
                "transfer-encoding" => chunked = value.contains("chunked"),
                "connection" => close = value == "close",
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line).ok()?;
                let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).ok()?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            reader.read_exact(&mut body).ok()?;
        }
        if close {
            self.stream = None;
        }
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// `Cluster::probe` over this connection.
    fn probe(&mut self, kind: Kind, timeout: Duration) -> bool {
        match kind {
            Kind::Duckgoose => {
                matches!(self.call("GET", "/goose", "", timeout), Some((200, b)) if b == "goose")
            }
            Kind::Etcd => matches!(
                self.call("POST", "/v3/kv/range", r#"{"key":"Zm9v"}"#, timeout),
                Some((200, b)) if b.contains("\"header\"")
            ),
        }
    }
}

/// One node stopped and restarted.
struct Restart {
    node: usize,
    was_leader: bool,
    /// SIGTERM to exit.
    stop_ms: f64,
    /// Longest window without any node answering, from SIGTERM until healthy again.
    gap_ms: f64,
}

struct Rolling {
    restarts: Vec<Restart>,
    /// Longest window without any node answering over the whole run.
    longest_ms: f64,
    probes: usize,
    seconds: f64,
}

/// The longest stretch of `[from, to]` that holds none of `sorted`.
fn longest_gap(sorted: &[Instant], from: Instant, to: Instant) -> Duration {
    let mut last = from;
    let mut longest = Duration::ZERO;
    for &t in sorted.iter().filter(|&&t| t >= from && t <= to) {
        longest = longest.max(t - last);
        last = t;
    }
    longest.max(to.saturating_duration_since(last))
}

/// duckgoose: the restarted node knows the leader; etcd: `wait_healthy` already has every
/// node serve a linearizable read, which needs the leader.
fn rejoined(cluster: &Cluster, i: usize) -> bool {
    match cluster.kind {
        Kind::Duckgoose => http(
            &cluster.addrs[i],
            "GET",
            "/status",
            "",
            Duration::from_secs(1),
        )
        .and_then(|(status, body)| (status == 200).then_some(body))
        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["leader"].is_u64()),
        Kind::Etcd => true,
    }
}

fn rolling(kind: Kind, root: &Path, rounds: usize, settle: Duration) -> Rolling {
    let mut cluster = healthy_cluster(kind, root);
    std::thread::sleep(Duration::from_millis(500));
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let probers: Vec<_> = cluster
        .addrs
        .iter()
        .map(|addr| {
            let (stop, answers, addr) = (stop.clone(), answers.clone(), addr.clone());
            std::thread::spawn(move || {
                let mut conn = KeepAlive::new(&addr);
                let mut mine = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if conn.probe(kind, Duration::from_millis(500)) {
                        mine.push(Instant::now());
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                answers.lock().unwrap().extend(mine);
            })
        })
        .collect();
    // Probers connected and answering before the first stop.
    std::thread::sleep(Duration::from_millis(500));
    let began = Instant::now();
    let mut steps = Vec::new();
    for _ in 0..rounds {
        for i in 0..5 {
            std::thread::sleep(settle);
            let leader = cluster.wait_healthy(Duration::from_secs(30));
            let pid = cluster.pid(i).expect("running");
            let signalled = Instant::now();
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let mut child = cluster.children[i].take().expect("running");
            let deadline = signalled + Duration::from_secs(10);
            let exited = loop {
                if let Ok(Some(status)) = child.try_wait() {
                    break Some(status);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            let stop_ms = signalled.elapsed().as_secs_f64() * 1000.0;
            // etcd ends a graceful stop by re-raising SIGTERM on itself (osutil's
            // HandleInterrupts), so for it death by SIGTERM is the clean exit.
            let clean = exited.is_some_and(|s| {
                use std::os::unix::process::ExitStatusExt;
                s.success() || (kind == Kind::Etcd && s.signal() == Some(15))
            });
            if !clean {
                eprintln!("{kind:?}: node {} did not exit cleanly: {exited:?}", i + 1);
            }
            cluster.start(i);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                cluster.wait_healthy(Duration::from_secs(30));
                if rejoined(&cluster, i) {
                    break;
                }
                assert!(Instant::now() < deadline, "node {} did not rejoin", i + 1);
                std::thread::sleep(Duration::from_millis(20));
            }
            steps.push((i, i == leader, signalled, stop_ms, Instant::now()));
            eprintln!(
                "{kind:?}: restarted node {}{} (exit after {stop_ms:.0} ms)",
                i + 1,
                if i == leader { " (leader)" } else { "" }
            );
        }
    }
    // Answers after the last restart close the last window.
    std::thread::sleep(Duration::from_millis(200));
    let ended = Instant::now();
    stop.store(true, Ordering::Relaxed);
    for p in probers {
        let _ = p.join();
    }
    let mut answers = std::mem::take(&mut *answers.lock().unwrap());
    answers.sort();
    let restarts = steps
        .into_iter()
        .map(|(node, was_leader, signalled, stop_ms, healthy)| Restart {
            node,
            was_leader,
            stop_ms,
            gap_ms: longest_gap(&answers, signalled, healthy).as_secs_f64() * 1000.0,
        })
        .collect();
    Rolling {
        restarts,
        longest_ms: longest_gap(&answers, began, ended).as_secs_f64() * 1000.0,
        probes: answers.len(),
        seconds: (ended - began).as_secs_f64(),
    }
}

fn rolling_report(
    report: &mut String,
    kinds: &[Kind],
    root: &Path,
    rounds: usize,
    settle: Duration,
) {
    writeln!(
        report,
        "### Rolling restart ({rounds} rounds: SIGTERM each of 5 nodes in turn, restart on its data dir, wait until healthy, {} ms pause; a prober per node every 1 ms)\n\n| system | probe | longest window with no node answering ms | worst, leader stopped ms | worst, follower stopped ms | leader stops | exit after SIGTERM max ms | answers (run s) |\n|---|---|---|---|---|---|---|---|",
        settle.as_millis()
    )
    .unwrap();
    for &kind in kinds {
        let r = rolling(kind, root, rounds, settle);
        let worst = |leader: bool| {
            r.restarts
                .iter()
                .filter(|s| s.was_leader == leader)
                .map(|s| s.gap_ms)
                .fold(f64::NAN, f64::max)
        };
        let probe = match kind {
            Kind::Duckgoose => "GET /goose 200",
            Kind::Etcd => "linearizable range 200",
        };
        for s in &r.restarts {
            eprintln!(
                "{kind:?}: node {}{}: window {:.1} ms, exit {:.0} ms",
                s.node + 1,
                if s.was_leader { " (leader)" } else { "" },
                s.gap_ms,
                s.stop_ms
            );
        }
        writeln!(
            report,
            "| {} | {probe} | {:.1} | {:.1} | {:.1} | {} | {:.0} | {} ({:.1}) |",
            name(kind),
            r.longest_ms,
            worst(true),
            worst(false),
            r.restarts.iter().filter(|s| s.was_leader).count(),
            r.restarts.iter().map(|s| s.stop_ms).fold(0.0, f64::max),
            r.probes,
            r.seconds
        )
        .unwrap();
        eprint!("{report}");
    }
}
