//! Benchmarks of the duckgoose node against etcd 3.4, both as 5-node clusters on
//! loopback with the same timings (heartbeat 30 ms, election timeout 150–300 ms, PreVote
//! on; etcd always runs CheckQuorum). Run through `node/bench/run.sh`, which builds in
//! release mode and installs etcd and wrk from Debian.
//!
//! Secure configuration: duckgoose nodes always run with a bearer token (`--token`, a
//! fresh random one per run); the bench sends it to the routes that need it (`/kv`,
//! `/admin`, `/raft`) and checks at start that a request without it is refused. With
//! `--tls on` (or `both`: every part plain, then again with TLS) the bench makes a CA and
//! one certificate per node with rcgen; duckgoose serves HTTPS with peer mutual TLS
//! (`--tls-cert/--tls-key/--tls-ca`), etcd serves its clients over TLS and its peers over
//! mutual TLS, and every probe and wrk speak https.
//!
//! - failover: N trials of `kill -9` on the leader; the time until another node answers
//!   (duckgoose: `GET /goose` 200; etcd: a linearizable range read succeeds). p50/p99/max.
//! - load: wrk against the leader (duckgoose: `GET /goose`; etcd: linearizable range via
//!   the JSON gateway), requests/s and p99, with resident memory idle and under load.
//! - rolling: SIGTERM each node in turn, restart it on its data dir, wait until healthy,
//!   next; one prober per node asks every 1 ms (duckgoose: `GET /goose`; etcd: a
//!   linearizable range read). The longest window in which no node answered.
//! - steady (only with `--only steady`): a healthy cluster under wrk load for
//!   `--steady-seconds`; the term, the leader and the leader-change counters at the start
//!   and the end, and a sample every second, to show whether any election happened after
//!   the first.
//! - compaction (only with `--only compaction`; `compaction.rs`): 3 nodes, `--puts`
//!   writes over 1 000 keys; data directory and RSS per node every second (CSV and SVG
//!   plot), restart time of a follower, and catch-up time of a fourth node added after
//!   the writes.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use duckgoose_testkit::tls::{Ca, client_config};

mod compaction;

/// Both systems' heartbeat: etcd refuses an election timeout below 5 heartbeats, so at
/// 150 ms it allows at most 30 ms, and duckgoose runs the same.
const HEARTBEAT_MS: u64 = 30;

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum TlsMode {
    /// Plain HTTP (with the token).
    Off,
    /// HTTPS for clients, mutual TLS between peers (with the token).
    On,
    /// Every selected part twice: plain, then TLS.
    Both,
}

#[derive(Parser, Debug)]
struct Args {
    /// Failover trials per system.
    #[arg(long, default_value_t = 100)]
    trials: usize,
    /// Seconds of load per system.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections under load (load and steady).
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
    /// Run only these parts: failover, load, rolling, steady, compaction (overrides the
    /// --no-* flags). steady and compaction run only when named here.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Transport security: off (plain HTTP), on (TLS, peer mutual TLS) or both (each
    /// part plain, then with TLS). The token is always on.
    #[arg(long, value_enum, default_value_t = TlsMode::Off)]
    tls: TlsMode,
    /// Rolling restarts: how many times each node is restarted in turn.
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Rolling restarts: pause after a node is healthy again before stopping the next.
    #[arg(long, default_value_t = 300)]
    settle_ms: u64,
    /// Steady state: seconds of load on a healthy cluster per system.
    #[arg(long, default_value_t = 600)]
    steady_seconds: u64,
    /// Compaction: puts to write per system (over 1 000 keys).
    #[arg(long, default_value_t = 1_000_000)]
    puts: u64,
    /// Compaction: concurrent writer threads, one keep-alive connection each.
    #[arg(long, default_value_t = 16)]
    writers: usize,
    /// Compaction: how many times a follower is stopped and restarted.
    #[arg(long, default_value_t = 5)]
    restart_trials: usize,
    /// Compaction: how many times a node is added (and removed again before the next).
    #[arg(long, default_value_t = 3)]
    catch_up_trials: usize,
    /// Where the clusters keep their data (wiped first).
    #[arg(long, default_value = "/tmp/duckgoose-bench")]
    dir: PathBuf,
}

// ---- Security ----------------------------------------------------------------------

/// The token every duckgoose node runs with, and the TLS material when TLS is on.
#[derive(Clone)]
struct Sec {
    token: String,
    tls: Option<Arc<TlsFiles>>,
}

struct TlsFiles {
    /// Trusts the bench's CA; presents no client certificate (like any client).
    client: Arc<rustls::ClientConfig>,
    ca: PathBuf,
    /// Certificate and key of node i (0-based): SANs 127.0.0.1 and localhost,
    /// serverAuth and clientAuth. Node i of either system uses the same pair.
    nodes: Vec<(PathBuf, PathBuf)>,
}

impl Sec {
    fn new(root: &Path, tls: bool, n: usize) -> Sec {
        let tls = tls.then(|| {
            let dir = root.join("tls");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("TLS dir");
            let ca = Ca::new("duckgoose bench CA");
            let ca_pem = ca.pem();
            let ca_path = dir.join("ca.crt");
            std::fs::write(&ca_path, &ca_pem).expect("write the CA");
            let nodes = (0..n)
                .map(|i| {
                    ca.leaf(i as u64 + 1, &["127.0.0.1", "localhost"])
                        .write(&dir, &format!("node-{}", i + 1))
                })
                .collect();
            Arc::new(TlsFiles {
                client: Arc::new(client_config(&ca_pem, None)),
                ca: ca_path,
                nodes,
            })
        });
        Sec {
            token: random_token(),
            tls,
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    fn label(&self) -> &'static str {
        if self.tls.is_some() {
            "TLS (peers: mutual TLS), duckgoose with token"
        } else {
            "plain HTTP, duckgoose with token"
        }
    }

    /// The same settings without the token (to check that the nodes refuse it).
    fn without_token(&self) -> Sec {
        Sec {
            token: String::new(),
            tls: self.tls.clone(),
        }
    }
}

/// 128 random bits, hex.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Routes behind duckgoose's token (docs/node.md, Security); `/goose`, `/role`,
/// `/status` and `/metrics` are open for health checks and scrapers.
fn needs_token(path: &str) -> bool {
    ["/kv/", "/admin/", "/raft/"]
        .iter()
        .any(|p| path.starts_with(p))
}

// ---- HTTP --------------------------------------------------------------------------

/// One request on a fresh connection (`Connection: close`), TLS when `sec` says so.
fn http(
    sec: &Sec,
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Option<(u16, String)> {
    let mut conn = KeepAlive::new(sec, addr);
    conn.once = true;
    conn.call(method, path, body, timeout)
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
    sec: Sec,
    dir: PathBuf,
    /// Client addresses.
    addrs: Vec<String>,
    commands: Vec<(String, Vec<String>)>,
    children: Vec<Option<Child>>,
}

impl Cluster {
    fn new(kind: Kind, sec: &Sec, root: &Path, n: usize) -> Cluster {
        Self::with_flags(kind, sec, root, n, &[])
    }

    /// `n` nodes, each started with `extra` after the usual flags.
    fn with_flags(kind: Kind, sec: &Sec, root: &Path, n: usize, extra: &[String]) -> Cluster {
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
                        HEARTBEAT_MS.to_string(),
                        "--election-ms".into(),
                        "150-300".into(),
                        "--log".into(),
                        "warn".into(),
                    ];
                    for j in (0..n).filter(|&j| j != i) {
                        args.push("--peer".into());
                        args.push(format!("{}={}", j + 1, addrs[j]));
                    }
                    args.push("--token".into());
                    args.push(sec.token.clone());
                    if let Some(tls) = &sec.tls {
                        let (cert, key) = &tls.nodes[i];
                        for (flag, file) in [
                            ("--tls-cert", cert),
                            ("--tls-key", key),
                            ("--tls-ca", &tls.ca),
                        ] {
                            args.push(flag.into());
                            args.push(file.display().to_string());
                        }
                    }
                    args.extend_from_slice(extra);
                    commands.push((exe.clone(), args));
                }
            }
            Kind::Etcd => {
                let scheme = sec.scheme();
                let peers: Vec<String> = (0..n)
                    .map(|i| format!("e{}={scheme}://127.0.0.1:{}", i + 1, ports[n + i]))
                    .collect();
                for i in 0..n {
                    let peer = format!("{scheme}://127.0.0.1:{}", ports[n + i]);
                    let client = format!("{scheme}://{}", addrs[i]);
                    let mut args = vec![
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
                        // etcd draws election timeouts from [t, 2t): 150–300 ms.
                        "--heartbeat-interval".into(),
                        HEARTBEAT_MS.to_string(),
                        "--election-timeout".into(),
                        "150".into(),
                        "--pre-vote=true".into(),
                        "--logger".into(),
                        "zap".into(),
                        "--log-level".into(),
                        "error".into(),
                    ];
                    if let Some(tls) = &sec.tls {
                        // Clients: server-side TLS (no client certificates, like
                        // duckgoose's client API). Peers: mutual TLS against the CA.
                        let (cert, key) = &tls.nodes[i];
                        let file = |p: &PathBuf| p.display().to_string();
                        args.extend([
                            format!("--cert-file={}", file(cert)),
                            format!("--key-file={}", file(key)),
                            format!("--peer-cert-file={}", file(cert)),
                            format!("--peer-key-file={}", file(key)),
                            format!("--peer-trusted-ca-file={}", file(&tls.ca)),
                            "--peer-client-cert-auth=true".into(),
                        ]);
                    }
                    args.extend_from_slice(extra);
                    commands.push(("etcd".to_string(), args));
                }
            }
        }
        let mut c = Cluster {
            kind,
            sec: sec.clone(),
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
    fn probe(kind: Kind, sec: &Sec, addr: &str, timeout: Duration) -> bool {
        KeepAlive::new(sec, addr).once_probe(kind, timeout)
    }

    /// duckgoose refuses a token-protected route without the token and serves it with
    /// it (any answer but 401: 404 from the goose, 307 from a duck); panics otherwise.
    fn check_token(&self) {
        if self.kind != Kind::Duckgoose {
            return;
        }
        let addr = &self.addrs[0];
        let path = "/kv/bench-token-check";
        let t = Duration::from_secs(2);
        let without = http(&self.sec.without_token(), addr, "GET", path, "", t);
        let with = http(&self.sec, addr, "GET", path, "", t);
        assert!(
            matches!(without, Some((401, _))),
            "GET {path} without the token: expected 401, got {without:?}"
        );
        assert!(
            matches!(with, Some((s, _)) if s != 401),
            "GET {path} with the token: got {with:?}"
        );
    }

    fn leader(&self) -> Option<usize> {
        match self.kind {
            Kind::Duckgoose => {
                let geese: Vec<usize> = (0..self.addrs.len())
                    .filter(|&i| self.children[i].is_some())
                    .filter(|&i| {
                        Self::probe(self.kind, &self.sec, &self.addrs[i], Duration::from_secs(1))
                    })
                    .collect();
                (geese.len() == 1).then(|| geese[0])
            }
            Kind::Etcd => {
                let mut leaders = Vec::new();
                for i in (0..self.addrs.len()).filter(|&i| self.children[i].is_some()) {
                    let (status, body) = http(
                        &self.sec,
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
                    Kind::Etcd => (0..self.addrs.len()).all(|i| {
                        Self::probe(self.kind, &self.sec, &self.addrs[i], Duration::from_secs(1))
                    }),
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
fn healthy_cluster(kind: Kind, sec: &Sec, root: &Path) -> Cluster {
    let cluster = Cluster::new(kind, sec, root, 5);
    cluster.wait_healthy(Duration::from_secs(30));
    cluster.check_token();
    if kind == Kind::Etcd {
        let _ = http(
            sec,
            &cluster.addrs[0],
            "POST",
            "/v3/kv/put",
            r#"{"key":"Zm9v","value":"YmFy"}"#,
            Duration::from_secs(5),
        );
    }
    cluster
}

fn failover(kind: Kind, sec: &Sec, root: &Path, trials: usize) -> Failover {
    let mut cluster = healthy_cluster(kind, sec, root);
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
                        if Cluster::probe(kind, sec, addr, Duration::from_millis(1000)) {
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
fn load(kind: Kind, sec: &Sec, root: &Path, seconds: u64, connections: usize, path: &str) -> Load {
    let cluster = Cluster::new(kind, sec, root, 5);
    let leader = cluster.wait_healthy(Duration::from_secs(30));
    cluster.check_token();
    std::thread::sleep(Duration::from_secs(3));
    let pids: Vec<u32> = (0..5).filter_map(|i| cluster.pid(i)).collect();
    let leader_pid = cluster.pid(leader).unwrap_or(0);
    let idle_total = pids.iter().map(|&p| rss_kib(p)).sum();
    let idle_leader = rss_kib(leader_pid);

    let cmd = wrk(
        kind,
        sec,
        root,
        &cluster.addrs[leader],
        path,
        seconds,
        connections,
    );
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
    let w = run_wrk(kind, cmd);
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let pk = *peak.lock().unwrap();
    Load {
        rps: w.rps,
        p50_ms: w.p50_ms,
        p99_ms: w.p99_ms,
        non_2xx: w.non_2xx,
        errors: w.errors,
        idle_rss_leader_kib: idle_leader,
        idle_rss_total_kib: idle_total,
        load_rss_leader_kib: pk.0,
        load_rss_total_kib: pk.1,
    }
}

/// wrk against `addr`: duckgoose `GET path`; etcd a linearizable range through the JSON
/// gateway. https when TLS is on (wrk does not verify the certificate).
fn wrk(
    kind: Kind,
    sec: &Sec,
    root: &Path,
    addr: &str,
    path: &str,
    seconds: u64,
    connections: usize,
) -> Command {
    let script = root.join("range.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = '{\"key\":\"Zm9v\"}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )
    .expect("lua");
    let scheme = sec.scheme();
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
            if needs_token(path) {
                cmd.args(["-H", &format!("Authorization: Bearer {}", sec.token)]);
            }
            cmd.arg(format!("{scheme}://{addr}{path}"));
        }
        Kind::Etcd => {
            cmd.arg("-s")
                .arg(&script)
                .arg(format!("{scheme}://{addr}/v3/kv/range"));
        }
    }
    cmd
}

struct Wrk {
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    errors: String,
}

fn run_wrk(kind: Kind, mut cmd: Command) -> Wrk {
    let out = cmd.output().expect("run wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    eprintln!(
        "{kind:?} wrk output:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "  123456 requests in 10.00s, 12.34MB read"
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
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
    Wrk {
        requests,
        rps,
        p50_ms: pct("50%"),
        p99_ms: pct("99%"),
        non_2xx,
        errors,
    }
}

// ---- Report ------------------------------------------------------------------------------

fn main() {
    let mut args = Args::parse();
    let mut steady = false;
    if !args.only.is_empty() {
        for part in &args.only {
            assert!(
                ["failover", "load", "rolling", "steady", "compaction"].contains(&part.as_str()),
                "unknown part {part:?}: expected failover, load, rolling, steady or compaction"
            );
        }
        let has = |p: &str| args.only.iter().any(|o| o == p);
        (args.no_failover, args.no_load, args.no_rolling) =
            (!has("failover"), !has("load"), !has("rolling"));
        steady = has("steady");
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
    let modes = match args.tls {
        TlsMode::Off => vec![false],
        TlsMode::On => vec![true],
        TlsMode::Both => vec![false, true],
    };
    let mut report = String::new();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    writeln!(
        report,
        "Machine: {cpus} CPUs; 5 nodes on loopback; election timeout 150-300 ms, PreVote on; heartbeat {HEARTBEAT_MS} ms for both (etcd requires election >= 5 x heartbeat, so 30 is the most 150 allows). duckgoose nodes run with --token (sent on /kv, /admin, /raft; /goose, /status, /metrics are open).\n"
    )
    .unwrap();
    for tls in modes {
        let sec = Sec::new(&args.dir, tls, 5);
        run_parts(&mut report, &args, steady, &kinds, &sec);
    }
    println!("{report}");
}

fn run_parts(report: &mut String, args: &Args, steady: bool, kinds: &[Kind], sec: &Sec) {
    let label = sec.label();
    if !args.no_failover {
        writeln!(
            report,
            "### Failover ({} trials of kill -9 on the leader; {label})\n\n| system | p50 ms | p99 ms | max ms | min ms | no recovery in 10 s |\n|---|---|---|---|---|---|",
            args.trials
        )
        .unwrap();
        for &kind in kinds {
            let f = failover(kind, sec, &args.dir, args.trials);
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
            "### Load ({} connections, {} s, wrk -t2, against the leader; {label})\n\n| system | operation | requests/s | p50 ms | p99 ms | non-2xx | RSS idle leader / all 5 (MiB) | RSS under load leader / all 5 (MiB) |\n|---|---|---|---|---|---|---|---|",
            args.connections, args.seconds
        )
        .unwrap();
        let runs = kinds.iter().flat_map(|&kind| match kind {
            Kind::Duckgoose => vec![
                (kind, "/goose", "GET /goose (quorum-confirmed)"),
                (kind, "/status", "GET /status (goose query + JSON status)"),
            ],
            Kind::Etcd => vec![(kind, "", "linearizable range (JSON gateway)")],
        });
        for (kind, path, op) in runs {
            let l = load(kind, sec, &args.dir, args.seconds, args.connections, path);
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
            report,
            kinds,
            sec,
            &args.dir,
            args.rounds,
            Duration::from_millis(args.settle_ms),
        );
        report.push('\n');
    }
    if steady {
        steady_report(report, kinds, sec, args);
    }
    if args.only.iter().any(|p| p == "compaction") {
        compaction::report(report, kinds, sec, args);
    }
}

fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Duckgoose => "duckgoose",
        Kind::Etcd => "etcd 3.4.23",
    }
}

// ---- Rolling restart -------------------------------------------------------------------

/// A byte stream: a TCP connection, or TLS over one.
trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

struct Conn {
    /// The TCP connection under `reader` (for its timeouts).
    tcp: TcpStream,
    reader: BufReader<Box<dyn Io>>,
}

/// One HTTP/1.1 keep-alive connection (plain or TLS, as `sec` says): probing every 1 ms
/// with a connection each would run out of ephemeral ports (TIME_WAIT) within seconds.
/// Sends the token on the routes that need it.
struct KeepAlive {
    addr: SocketAddr,
    sec: Sec,
    /// One request, `Connection: close` (what `http()` does).
    once: bool,
    conn: Option<Conn>,
}

impl KeepAlive {
    fn new(sec: &Sec, addr: &str) -> KeepAlive {
        KeepAlive {
            addr: addr.parse().expect("probe address"),
            sec: sec.clone(),
            once: false,
            conn: None,
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
        if result.is_none() || self.once {
            self.conn = None;
        }
        result
    }

    fn connect(&self, timeout: Duration) -> Option<Conn> {
        let tcp = TcpStream::connect_timeout(&self.addr, timeout).ok()?;
        tcp.set_nodelay(true).ok()?;
        let stream: Box<dyn Io> = match &self.sec.tls {
            None => Box::new(tcp.try_clone().ok()?),
            Some(tls) => {
                let name = rustls::pki_types::ServerName::from(self.addr.ip());
                let client = rustls::ClientConnection::new(tls.client.clone(), name).ok()?;
                Box::new(rustls::StreamOwned::new(client, tcp.try_clone().ok()?))
            }
        };
        Some(Conn {
            tcp,
            reader: BufReader::new(stream),
        })
    }

    fn try_call(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        timeout: Duration,
    ) -> Option<(u16, String)> {
        if self.conn.is_none() {
            self.conn = Some(self.connect(timeout)?);
        }
        let conn = self.conn.as_mut()?;
        conn.tcp.set_read_timeout(Some(timeout)).ok()?;
        conn.tcp.set_write_timeout(Some(timeout)).ok()?;
        let reader = &mut conn.reader;
        let mut headers = String::new();
        if self.once {
            headers.push_str("Connection: close\r\n");
        }
        if needs_token(path) && !self.sec.token.is_empty() {
            let _ = write!(headers, "Authorization: Bearer {}\r\n", self.sec.token);
        }
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        reader.get_mut().write_all(req.as_bytes()).ok()?;
        reader.get_mut().flush().ok()?;
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
            self.conn = None;
        }
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// The one operation whose success means "the cluster serves again".
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

    /// `probe` on a fresh connection.
    fn once_probe(mut self, kind: Kind, timeout: Duration) -> bool {
        self.once = true;
        self.probe(kind, timeout)
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
            &cluster.sec,
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

fn rolling(kind: Kind, sec: &Sec, root: &Path, rounds: usize, settle: Duration) -> Rolling {
    let mut cluster = healthy_cluster(kind, sec, root);
    std::thread::sleep(Duration::from_millis(500));
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let probers: Vec<_> = cluster
        .addrs
        .iter()
        .map(|addr| {
            let (stop, answers) = (stop.clone(), answers.clone());
            let mut conn = KeepAlive::new(sec, addr);
            std::thread::spawn(move || {
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
    sec: &Sec,
    root: &Path,
    rounds: usize,
    settle: Duration,
) {
    writeln!(
        report,
        "### Rolling restart ({rounds} rounds: SIGTERM each of 5 nodes in turn, restart on its data dir, wait until healthy, {} ms pause; a prober per node every 1 ms; {})\n\n| system | probe | longest window with no node answering ms | worst, leader stopped ms | worst, follower stopped ms | leader stops | exit after SIGTERM max ms | answers (run s) |\n|---|---|---|---|---|---|---|---|",
        settle.as_millis(),
        sec.label()
    )
    .unwrap();
    for &kind in kinds {
        let r = rolling(kind, sec, root, rounds, settle);
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

// ---- Steady state ----------------------------------------------------------------------

/// What one node says about elections.
#[derive(Clone, Debug, Default)]
struct View {
    term: Option<u64>,
    /// duckgoose: the leader's id; etcd: the leader's member id.
    leader: Option<String>,
    /// duckgoose_leader_changes_total / etcd_server_leader_changes_seen_total (each
    /// node counts the leaders it saw, the first included).
    leader_changes: Option<u64>,
}

fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// etcd's JSON gateway writes uint64 as strings, under the proto field names.
fn json_u64(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

fn view(kind: Kind, sec: &Sec, addr: &str, with_metrics: bool) -> View {
    let t = Duration::from_secs(1);
    let json = |method, path, body| {
        http(sec, addr, method, path, body, t)
            .filter(|(status, _)| *status == 200)
            .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
    };
    let mut v = View::default();
    match kind {
        Kind::Duckgoose => {
            if let Some(s) = json("GET", "/status", "") {
                v.term = json_u64(&s["term"]);
                v.leader = json_u64(&s["leader"]).map(|l| l.to_string());
            }
        }
        Kind::Etcd => {
            if let Some(s) = json("POST", "/v3/maintenance/status", "{}") {
                v.term = json_u64(&s["raft_term"]).or_else(|| json_u64(&s["raftTerm"]));
                v.leader = json_u64(&s["leader"])
                    .filter(|&l| l != 0)
                    .map(|l| l.to_string());
            }
        }
    }
    if with_metrics {
        let name = match kind {
            Kind::Duckgoose => "duckgoose_leader_changes_total",
            Kind::Etcd => "etcd_server_leader_changes_seen_total",
        };
        v.leader_changes = http(sec, addr, "GET", "/metrics", "", t)
            .filter(|(status, _)| *status == 200)
            .and_then(|(_, b)| metric(&b, name));
    }
    v
}

fn views(kind: Kind, sec: &Sec, addrs: &[String], with_metrics: bool) -> Vec<View> {
    addrs
        .iter()
        .map(|a| view(kind, sec, a, with_metrics))
        .collect()
}

/// The highest term any node reports, and the leader most nodes name.
fn summary(vs: &[View]) -> (Option<u64>, Option<String>) {
    let term = vs.iter().filter_map(|v| v.term).max();
    let mut counts = std::collections::BTreeMap::<&String, usize>::new();
    for l in vs.iter().filter_map(|v| v.leader.as_ref()) {
        *counts.entry(l).or_default() += 1;
    }
    let leader = counts
        .into_iter()
        .max_by_key(|&(_, n)| n)
        .map(|(l, _)| l.clone());
    (term, leader)
}

struct Steady {
    seconds: f64,
    wrk: Wrk,
    start: Vec<View>,
    end: Vec<View>,
    /// Samples (one a second) whose highest term was above the previous sample's.
    term_rises: usize,
    /// Samples whose majority leader differed from the previous sample's.
    leader_switches: usize,
    samples: usize,
    /// etcd member id -> node number, for the report.
    names: Vec<(String, usize)>,
}

fn steady(kind: Kind, sec: &Sec, args: &Args) -> Steady {
    let cluster = healthy_cluster(kind, sec, &args.dir);
    let leader = cluster.wait_healthy(Duration::from_secs(30));
    // Let the first election's aftermath (catch-up, counters) settle.
    std::thread::sleep(Duration::from_secs(1));
    let names = match kind {
        Kind::Duckgoose => Vec::new(),
        Kind::Etcd => cluster
            .addrs
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let (_, b) = http(
                    sec,
                    a,
                    "POST",
                    "/v3/maintenance/status",
                    "{}",
                    Duration::from_secs(1),
                )?;
                let v: serde_json::Value = serde_json::from_str(&b).ok()?;
                Some((json_u64(&v["header"]["member_id"])?.to_string(), i + 1))
            })
            .collect(),
    };
    let start = views(kind, sec, &cluster.addrs, true);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stop, sec, addrs) = (stop.clone(), sec.clone(), cluster.addrs.clone());
        let first = summary(&start);
        std::thread::spawn(move || {
            let (mut last, mut rises, mut switches, mut samples) = (first, 0, 0, 0);
            let mut next = Instant::now() + Duration::from_secs(1);
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                next += Duration::from_secs(1);
                let now = summary(&views(kind, &sec, &addrs, false));
                samples += 1;
                if now.0.is_some() && now.0 > last.0 {
                    rises += 1;
                    eprintln!("{kind:?}: term {:?} -> {:?}", last.0, now.0);
                }
                if now.1.is_some() && last.1.is_some() && now.1 != last.1 {
                    switches += 1;
                    eprintln!("{kind:?}: leader {:?} -> {:?}", last.1, now.1);
                }
                // A sample in which no node answered keeps the last known values.
                last = (now.0.or(last.0), now.1.or(last.1));
            }
            (rises, switches, samples)
        })
    };
    let began = Instant::now();
    let cmd = wrk(
        kind,
        sec,
        &args.dir,
        &cluster.addrs[leader],
        match kind {
            Kind::Duckgoose => "/goose",
            Kind::Etcd => "",
        },
        args.steady_seconds,
        args.connections,
    );
    let w = run_wrk(kind, cmd);
    let seconds = began.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (term_rises, leader_switches, samples) = sampler.join().expect("sampler");
    let end = views(kind, sec, &cluster.addrs, true);
    Steady {
        seconds,
        wrk: w,
        start,
        end,
        term_rises,
        leader_switches,
        samples,
        names,
    }
}

fn steady_report(report: &mut String, kinds: &[Kind], sec: &Sec, args: &Args) {
    writeln!(
        report,
        "### Steady state ({} s of wrk load on a healthy cluster, {} connections, against the leader; {})\n\n| system | load | seconds | requests (wrk) | requests/s | non-2xx | term start / end | leader start / end | leaders seen before the load (counter, max over nodes) | leader changes during the run (counter, max over nodes) | term rises / leader switches in 1 s samples | elections after the first |\n|---|---|---|---|---|---|---|---|---|---|---|---|",
        args.steady_seconds,
        args.connections,
        sec.label()
    )
    .unwrap();
    for &kind in kinds {
        let r = steady(kind, sec, args);
        let (t0, l0) = summary(&r.start);
        let (t1, l1) = summary(&r.end);
        let node = |l: Option<String>| match (kind, l) {
            (_, None) => "none".to_string(),
            (Kind::Duckgoose, Some(id)) => format!("node {id}"),
            (Kind::Etcd, Some(id)) => r
                .names
                .iter()
                .find(|(m, _)| *m == id)
                .map_or(id.clone(), |(_, n)| format!("node {n}")),
        };
        let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
        // Per node: leaders seen at the end minus at the start.
        let changes = r
            .start
            .iter()
            .zip(&r.end)
            .filter_map(|(a, b)| Some(b.leader_changes?.saturating_sub(a.leader_changes?)))
            .max();
        let before = r.start.iter().filter_map(|v| v.leader_changes).max();
        let during = t1 != t0 || l1 != l0 || changes != Some(0) || r.term_rises > 0;
        let elections = if during {
            "yes"
        } else if before != Some(1) {
            "before the load only"
        } else {
            "no"
        };
        for (i, (a, b)) in r.start.iter().zip(&r.end).enumerate() {
            eprintln!("{kind:?}: node {}: start {a:?}, end {b:?}", i + 1);
        }
        let load = match kind {
            Kind::Duckgoose => "GET /goose",
            Kind::Etcd => "linearizable range",
        };
        writeln!(
            report,
            "| {} | {load} | {:.1} | {} | {:.0} | {}{} | {} / {} | {} / {} | {} | {} | {} / {} ({} samples) | {elections} |",
            name(kind),
            r.seconds,
            r.wrk.requests,
            r.wrk.rps,
            r.wrk.non_2xx,
            if r.wrk.errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.wrk.errors)
            },
            opt(t0),
            opt(t1),
            node(l0),
            node(l1),
            opt(before),
            opt(changes),
            r.term_rises,
            r.leader_switches,
            r.samples,
        )
        .unwrap();
        eprint!("{report}");
    }
    report.push('\n');
}
