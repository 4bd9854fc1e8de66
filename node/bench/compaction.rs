//! The compaction benchmark (issue 10): `--only compaction`.
//!
//! For each system, a 3-node cluster takes `--puts` writes over 1 000 keys (values of
//! 100 bytes) from `--writers` threads, each on one keep-alive connection to the leader.
//! Every second the bench samples each node's data directory (the sum of its files'
//! sizes, recursively) and resident memory; it writes them to
//! `<dir>/compaction-<system>.csv` and plots them to `<dir>/compaction-<system>.svg`.
//! After the writes it times follower restarts and the catch-up of a fourth node.
//!
//! duckgoose runs with its default `--snapshot-entries` (10 000). etcd keeps every
//! revision (MVCC history) until compacted, so it gets `--snapshot-count` equal to that
//! threshold and `--auto-compaction-mode=revision --auto-compaction-retention=1000`.
//! etcd 3.4's revision compactor only looks every 5 minutes, longer than the writes
//! take, so the bench also compacts it every second to the current revision − 1 000
//! through the API (what an operator or kube-apiserver does); etcd never gives the
//! freed pages of its bolt file back without a defrag, which the bench does not run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::{Args, Cluster, KeepAlive, Kind, Sec, free_ports, http, json_u64, metric, name};
use crate::{percentile, rss_kib};

/// The node's default `--snapshot-entries`; the bench passes no flag, so duckgoose runs
/// with it, and etcd gets the same `--snapshot-count`.
const SNAPSHOT_ENTRIES: u64 = 10_000;
/// Revisions of history etcd keeps (auto-compaction retention and the bench's own
/// compaction every second).
const ETCD_RETENTION: u64 = 1_000;
const NODES: usize = 3;
const KEYS: u64 = 1_000;
const VALUE_BYTES: usize = 100;
const RSS_GOAL_KIB: u64 = 32 * 1024;
/// A writer that gets no write through for this long gives up the run.
const STALL: Duration = Duration::from_secs(30);

/// Key `i % 1000`: `key-000` … `key-999`.
fn key(i: u64) -> String {
    format!("key-{:03}", i % KEYS)
}

/// 100 bytes that differ from one put to the next.
fn value(i: u64) -> String {
    format!("{i:0>VALUE_BYTES$}")
}

/// What the 1 000 keys and their values take: the state a snapshot must hold.
fn live_kv_bytes() -> u64 {
    KEYS * (key(0).len() + VALUE_BYTES) as u64
}

/// Standard base64 with padding (etcd's JSON gateway takes keys and values so).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The sum of the sizes of the files under `path` (apparent sizes, recursively); files
/// that vanish while it looks (a renamed temporary file) count as nothing.
fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn node_dir(cluster: &Cluster, i: usize) -> PathBuf {
    cluster.dir.join(match cluster.kind {
        Kind::Duckgoose => format!("n{}", i + 1),
        Kind::Etcd => format!("e{}", i + 1),
    })
}

/// Where the bytes of a node's data directory are, at the end.
fn breakdown(kind: Kind, dir: &Path) -> String {
    let kib = |b: u64| format!("{:.0} KiB", b as f64 / 1024.0);
    let file = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    match kind {
        Kind::Duckgoose => format!(
            "raft.wal {}, raft.snap {}",
            kib(file(dir.join("raft.wal"))),
            kib(file(dir.join("raft.snap")))
        ),
        Kind::Etcd => {
            let snap = dir.join("member/snap");
            let db = file(snap.join("db"));
            let wal = dir.join("member/wal");
            let wal_files = std::fs::read_dir(&wal).map_or(0, |d| d.count());
            format!(
                "wal/ {} ({wal_files} files), snap/db {}, snap/*.snap {}",
                kib(dir_bytes(&wal)),
                kib(db),
                kib(dir_bytes(&snap).saturating_sub(db))
            )
        }
    }
}

fn json(sec: &Sec, addr: &str, method: &str, path: &str, body: &str) -> Option<serde_json::Value> {
    http(sec, addr, method, path, body, Duration::from_secs(2))
        .filter(|(status, _)| *status == 200)
        .and_then(|(_, b)| serde_json::from_str(&b).ok())
}

/// duckgoose `/status`.
fn status(cluster: &Cluster, i: usize) -> Option<serde_json::Value> {
    json(&cluster.sec, &cluster.addrs[i], "GET", "/status", "")
}

/// etcd's revision as node `i` sees it (its `/v3/maintenance/status` header).
fn etcd_revision(cluster: &Cluster, i: usize) -> Option<u64> {
    let s = json(
        &cluster.sec,
        &cluster.addrs[i],
        "POST",
        "/v3/maintenance/status",
        "{}",
    )?;
    json_u64(&s["header"]["revision"])
}

/// Node `i`'s `/metrics` text, if it answers 200.
fn node_metrics(cluster: &Cluster, i: usize) -> Option<String> {
    http(
        &cluster.sec,
        &cluster.addrs[i],
        "GET",
        "/metrics",
        "",
        Duration::from_secs(2),
    )
    .filter(|(status, _)| *status == 200)
    .map(|(_, body)| body)
}

fn node_metric(cluster: &Cluster, i: usize, name: &str) -> Option<u64> {
    metric(&node_metrics(cluster, i)?, name)
}

/// Polls `done` every 5 ms until it holds or `timeout` after `since` passes; the time
/// from `since` until it held.
fn time_until(
    since: Instant,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Option<Duration> {
    loop {
        if done() {
            return Some(since.elapsed());
        }
        if since.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every node has applied the same state: duckgoose nodes have applied the leader's
/// commit index, etcd nodes report the same revision.
fn converged(cluster: &Cluster) -> bool {
    let running = (0..cluster.addrs.len()).filter(|&i| cluster.children[i].is_some());
    match cluster.kind {
        Kind::Duckgoose => {
            let Some(leader) = cluster.leader() else {
                return false;
            };
            let Some(commit) = status(cluster, leader).and_then(|s| json_u64(&s["commit_index"]))
            else {
                return false;
            };
            running
                .map(|i| status(cluster, i).and_then(|s| json_u64(&s["applied_index"])))
                .all(|a| a.is_some_and(|a| a >= commit))
        }
        Kind::Etcd => {
            let revs: Vec<Option<u64>> = running.map(|i| etcd_revision(cluster, i)).collect();
            revs.iter().all(|r| r.is_some() && *r == revs[0])
        }
    }
}

// ---- Writes and samples ------------------------------------------------------------

/// One sample a second.
struct Sample {
    seconds: f64,
    puts: u64,
    dir_bytes: Vec<u64>,
    rss_kib: Vec<u64>,
}

/// duckgoose's WAL bytes per log entry: `raft.wal`'s size over the entries after the
/// snapshot index, one ratio per node and sample, kept only when the WAL held at least
/// `MIN_WAL_ENTRIES` entries and no snapshot came between the reads (a cut between them
/// would pair a rewritten WAL with the old count).
#[derive(Default)]
struct WalMeasure {
    ratios: Vec<f64>,
}

const MIN_WAL_ENTRIES: u64 = 1_000;

impl WalMeasure {
    /// The median ratio.
    fn bytes_per_entry(&self) -> f64 {
        let mut sorted = self.ratios.clone();
        sorted.sort_by(f64::total_cmp);
        percentile(&sorted, 50.0)
    }
}

/// `duckgoose_last_log_index` and `duckgoose_snapshot_index` of node `i`.
fn log_indexes(cluster: &Cluster, i: usize) -> Option<(u64, u64)> {
    let text = node_metrics(cluster, i)?;
    Some((
        metric(&text, "duckgoose_last_log_index")?,
        metric(&text, "duckgoose_snapshot_index")?,
    ))
}

struct Writes {
    puts: u64,
    /// From the first put to the last acknowledgement.
    seconds: f64,
    /// Requests that did not succeed and were sent again.
    retries: u64,
    /// Why the writes stopped early, if they did.
    stalled: Option<String>,
    samples: Vec<Sample>,
    /// duckgoose only.
    wal: WalMeasure,
    largest_wal: u64,
    /// etcd only: compactions the bench requested.
    etcd_compactions: u64,
}

/// One put; true once the cluster acknowledged it.
fn put(conn: &mut KeepAlive, kind: Kind, i: u64) -> bool {
    let timeout = Duration::from_secs(10);
    match kind {
        Kind::Duckgoose => matches!(
            conn.call("PUT", &format!("/kv/{}", key(i)), &value(i), timeout),
            Some((200, _))
        ),
        Kind::Etcd => {
            let body = format!(
                r#"{{"key":"{}","value":"{}"}}"#,
                base64(key(i).as_bytes()),
                base64(value(i).as_bytes())
            );
            matches!(
                conn.call("POST", "/v3/kv/put", &body, timeout),
                Some((200, b)) if b.contains("\"header\"")
            )
        }
    }
}

/// A sample of every node's data directory and RSS.
fn sample(cluster: &Cluster, pids: &[u32], began: Instant, puts: u64) -> Sample {
    Sample {
        seconds: began.elapsed().as_secs_f64(),
        puts,
        dir_bytes: (0..NODES)
            .map(|i| dir_bytes(&node_dir(cluster, i)))
            .collect(),
        rss_kib: pids.iter().map(|&p| rss_kib(p)).collect(),
    }
}

fn write_and_sample(cluster: &Cluster, puts: u64, writers: usize) -> Writes {
    let kind = cluster.kind;
    let pids: Vec<u32> = (0..NODES).filter_map(|i| cluster.pid(i)).collect();
    let next = AtomicU64::new(0);
    let acked = AtomicU64::new(0);
    let retries = AtomicU64::new(0);
    let writing = AtomicUsize::new(writers);
    let stop_sampling = AtomicBool::new(false);
    let stalled = std::sync::Mutex::new(None::<String>);
    let target = AtomicUsize::new(cluster.wait_healthy(Duration::from_secs(30)));
    let began = Instant::now();
    let mut writes_seconds = 0.0;
    let (samples, wal, largest_wal, etcd_compactions) = std::thread::scope(|s| {
        for _ in 0..writers {
            s.spawn(|| {
                let mut leader = target.load(Ordering::Relaxed);
                let mut conn = KeepAlive::new(&cluster.sec, &cluster.addrs[leader]);
                let mut last_ok = Instant::now();
                'puts: loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= puts || stalled.lock().unwrap().is_some() {
                        break;
                    }
                    while !put(&mut conn, kind, i) {
                        retries.fetch_add(1, Ordering::Relaxed);
                        if last_ok.elapsed() > STALL {
                            *stalled.lock().unwrap() =
                                Some(format!("no write succeeded for {STALL:?} at put {i}"));
                            break 'puts;
                        }
                        // The leader may have changed: ask again, then retry the put.
                        std::thread::sleep(Duration::from_millis(20));
                        if let Some(l) = cluster.leader() {
                            target.store(l, Ordering::Relaxed);
                        }
                        let now = target.load(Ordering::Relaxed);
                        if now != leader {
                            leader = now;
                            conn = KeepAlive::new(&cluster.sec, &cluster.addrs[leader]);
                        }
                    }
                    last_ok = Instant::now();
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                writing.fetch_sub(1, Ordering::Relaxed);
            });
        }
        let sampler = s.spawn(|| {
            let mut samples = vec![sample(cluster, &pids, began, 0)];
            let (mut wal, mut largest_wal, mut compactions) = (WalMeasure::default(), 0, 0);
            let mut next_tick = began + Duration::from_secs(1);
            let mut compacted_to = 0;
            while !stop_sampling.load(Ordering::Relaxed) {
                if Instant::now() < next_tick {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                next_tick += Duration::from_secs(1);
                samples.push(sample(cluster, &pids, began, acked.load(Ordering::Relaxed)));
                match kind {
                    Kind::Duckgoose => {
                        for i in 0..NODES {
                            let before = log_indexes(cluster, i);
                            let bytes = std::fs::metadata(node_dir(cluster, i).join("raft.wal"))
                                .map_or(0, |m| m.len());
                            let after = log_indexes(cluster, i);
                            largest_wal = largest_wal.max(bytes);
                            if let (Some((last, snap)), Some((_, snap_after))) = (before, after) {
                                let entries = last.saturating_sub(snap);
                                if snap == snap_after && entries >= MIN_WAL_ENTRIES {
                                    wal.ratios.push(bytes as f64 / entries as f64);
                                }
                            }
                        }
                    }
                    Kind::Etcd => {
                        // Keep the last ETCD_RETENTION revisions, as duckgoose keeps
                        // at most a threshold of entries.
                        let leader = target.load(Ordering::Relaxed);
                        if let Some(rev) = etcd_revision(cluster, leader) {
                            let to = rev.saturating_sub(ETCD_RETENTION);
                            if to > compacted_to
                                && json(
                                    &cluster.sec,
                                    &cluster.addrs[leader],
                                    "POST",
                                    "/v3/kv/compaction",
                                    &format!(r#"{{"revision":"{to}"}}"#),
                                )
                                .is_some()
                            {
                                compacted_to = to;
                                compactions += 1;
                            }
                        }
                    }
                }
                if samples.len() % 10 == 0 {
                    let last = samples.last().unwrap();
                    eprintln!(
                        "{kind:?}: {:.0} s, {} puts, data dirs {:?} KiB, RSS {:?} KiB",
                        last.seconds,
                        last.puts,
                        last.dir_bytes.iter().map(|b| b / 1024).collect::<Vec<_>>(),
                        last.rss_kib
                    );
                }
            }
            samples.push(sample(cluster, &pids, began, acked.load(Ordering::Relaxed)));
            (samples, wal, largest_wal, compactions)
        });
        // The writers finish; then every node applies the last write; then a few more
        // samples show the settled state.
        while writing.load(Ordering::Relaxed) > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        writes_seconds = began.elapsed().as_secs_f64();
        if time_until(Instant::now(), Duration::from_secs(60), || {
            converged(cluster)
        })
        .is_none()
        {
            eprintln!("{kind:?}: nodes did not converge within 60 s after the writes");
        }
        std::thread::sleep(Duration::from_secs(3));
        stop_sampling.store(true, Ordering::Relaxed);
        sampler.join().expect("sampler")
    });
    Writes {
        puts: acked.into_inner(),
        seconds: writes_seconds,
        retries: retries.into_inner(),
        stalled: stalled.into_inner().unwrap(),
        samples,
        wal,
        largest_wal,
        etcd_compactions,
    }
}

fn write_csv(path: &Path, samples: &[Sample]) {
    let mut csv = String::from("seconds,puts");
    for i in 1..=NODES {
        let _ = write!(csv, ",data_dir_bytes_n{i}");
    }
    for i in 1..=NODES {
        let _ = write!(csv, ",rss_kib_n{i}");
    }
    csv.push('\n');
    for s in samples {
        let _ = write!(csv, "{:.1},{}", s.seconds, s.puts);
        for v in s.dir_bytes.iter().chain(&s.rss_kib) {
            let _ = write!(csv, ",{v}");
        }
        csv.push('\n');
    }
    std::fs::write(path, csv).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

// ---- Plot ----------------------------------------------------------------------------

const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
const WIDTH: f64 = 900.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 170.0;
const PANEL: f64 = 300.0;
const PLOT_TOP: f64 = 40.0;
const PLOT_HEIGHT: f64 = 210.0;

/// A round step that cuts `max` into about five.
fn tick_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn fmt_tick(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One line-chart panel at height `top`: one line per node, an optional dashed limit,
/// and a dotted mark where the writes ended.
#[allow(clippy::too_many_arguments)]
fn panel(
    svg: &mut String,
    top: f64,
    title: &str,
    unit: &str,
    lines: &[Vec<(f64, f64)>],
    limit: Option<(f64, &str)>,
    x_max: f64,
    writes_end: f64,
) {
    let plot_width = WIDTH - LEFT - RIGHT;
    let y_data = lines.iter().flatten().map(|p| p.1).fold(0.0f64, f64::max);
    let y_max = y_data.max(limit.map_or(0.0, |l| l.0)).max(1e-9) * 1.1;
    let (x_step, y_step) = (tick_step(x_max), tick_step(y_max));
    let x = |v: f64| LEFT + v / x_max.max(1e-9) * plot_width;
    let y = |v: f64| top + PLOT_TOP + PLOT_HEIGHT - v / y_max * PLOT_HEIGHT;
    let bottom = top + PLOT_TOP + PLOT_HEIGHT;
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{}" font-size="15" font-weight="bold">{title}</text>"#,
        top + 22.0
    );
    let mut t = 0.0;
    while t <= y_max {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            LEFT + plot_width,
            LEFT - 6.0,
            y(t) + 4.0,
            fmt_tick(t),
            yy = y(t)
        );
        t += y_step;
    }
    let mut t = 0.0;
    while t <= x_max {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
            x(t),
            bottom + 15.0,
            fmt_tick(t)
        );
        t += x_step;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{:.1}" width="{plot_width:.1}" height="{PLOT_HEIGHT}" fill="none" stroke="#444"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">seconds</text><text x="16" y="{:.1}" font-size="12" transform="rotate(-90 16 {:.1})" text-anchor="middle">{unit}</text>"##,
        top + PLOT_TOP,
        LEFT + plot_width / 2.0,
        bottom + 32.0,
        top + PLOT_TOP + PLOT_HEIGHT / 2.0,
        top + PLOT_TOP + PLOT_HEIGHT / 2.0,
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{:.1}" y2="{bottom:.1}" stroke="#888" stroke-dasharray="2,3"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#666">writes done</text>"##,
        top + PLOT_TOP,
        x(writes_end) - 58.0,
        bottom - 6.0,
        xx = x(writes_end)
    );
    if let Some((value, label)) = limit {
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#000" stroke-dasharray="6,4"/><text x="{:.1}" y="{:.1}" font-size="11">{label}</text>"##,
            LEFT + plot_width,
            LEFT + plot_width + 6.0,
            y(value) + 4.0,
            yy = y(value)
        );
    }
    for (n, line) in lines.iter().enumerate() {
        let points: Vec<String> = line
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        let color = COLORS[n % COLORS.len()];
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/><text x="{:.1}" y="{:.1}" font-size="12" fill="{color}">node {}</text>"#,
            points.join(" "),
            LEFT + plot_width + 6.0,
            top + PLOT_TOP + 60.0 + 16.0 * n as f64,
            n + 1
        );
    }
}

/// Data directory and RSS per node over the run, one panel each.
fn write_svg(path: &Path, kind: Kind, w: &Writes, dir_bound: Option<f64>) {
    let mib = |v: f64| v / (1024.0 * 1024.0);
    let x_max = w.samples.last().map_or(1.0, |s| s.seconds);
    let per_node = |f: &dyn Fn(&Sample, usize) -> f64| -> Vec<Vec<(f64, f64)>> {
        (0..NODES)
            .map(|i| w.samples.iter().map(|s| (s.seconds, f(s, i))).collect())
            .collect()
    };
    let dirs = per_node(&|s, i| mib(s.dir_bytes[i] as f64));
    let rss = per_node(&|s, i| s.rss_kib[i] as f64 / 1024.0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"#,
        2.0 * PANEL
    );
    let bound_label = dir_bound.map(|b| (mib(b), "goal bound"));
    panel(
        &mut svg,
        0.0,
        &format!(
            "{}: data directory per node ({} puts over 1000 keys)",
            name(kind),
            w.puts
        ),
        "MiB",
        &dirs,
        bound_label,
        x_max,
        w.seconds,
    );
    let rss_goal =
        (kind == Kind::Duckgoose).then_some((RSS_GOAL_KIB as f64 / 1024.0, "32 MiB goal"));
    panel(
        &mut svg,
        PANEL,
        &format!("{}: resident memory per node", name(kind)),
        "MiB",
        &rss,
        rss_goal,
        x_max,
        w.seconds,
    );
    svg.push_str("</svg>\n");
    std::fs::write(path, svg).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

// ---- Restarts ------------------------------------------------------------------------

struct Restarts {
    /// From spawning the process until it answered healthy.
    healthy_ms: Vec<f64>,
    /// SIGTERM until the process exited.
    exit_ms: Vec<f64>,
    failed: usize,
}

/// Whether restarted node `i` is back: duckgoose `/readyz` 200 (it knows the goose and
/// applied what it knows committed) and its applied index at least `target`, the
/// leader's commit index before the stop; etcd `/health` true (it has a leader and a
/// linearizable read through it succeeds).
fn healthy(cluster: &Cluster, i: usize, target: u64) -> bool {
    let addr = &cluster.addrs[i];
    let t = Duration::from_millis(500);
    match cluster.kind {
        Kind::Duckgoose => http(&cluster.sec, addr, "GET", "/readyz", "", t)
            .and_then(|(code, body)| (code == 200).then_some(body))
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
            .and_then(|v| json_u64(&v["applied_index"]))
            .is_some_and(|applied| applied >= target),
        Kind::Etcd => matches!(
            http(&cluster.sec, addr, "GET", "/health", "", t),
            Some((200, b)) if b.contains("\"true\"")
        ),
    }
}

fn restarts(cluster: &mut Cluster, trials: usize) -> Restarts {
    let mut r = Restarts {
        healthy_ms: Vec::new(),
        exit_ms: Vec::new(),
        failed: 0,
    };
    for trial in 0..trials {
        let leader = cluster.wait_healthy(Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(300));
        let followers: Vec<usize> = (0..NODES).filter(|&i| i != leader).collect();
        let node = followers[trial % followers.len()];
        let target = match cluster.kind {
            Kind::Duckgoose => status(cluster, leader)
                .and_then(|s| json_u64(&s["commit_index"]))
                .unwrap_or(0),
            Kind::Etcd => 0,
        };
        let mut child = cluster.children[node].take().expect("running");
        let signalled = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let exited = time_until(signalled, Duration::from_secs(10), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        if exited.is_none() {
            eprintln!(
                "{:?}: node {} ignored SIGTERM for 10 s; killed",
                cluster.kind,
                node + 1
            );
            let _ = child.kill();
            let _ = child.wait();
        }
        r.exit_ms.push(signalled.elapsed().as_secs_f64() * 1000.0);
        let spawned = Instant::now();
        cluster.start(node);
        match time_until(spawned, Duration::from_secs(30), || {
            healthy(cluster, node, target)
        }) {
            Some(t) => r.healthy_ms.push(t.as_secs_f64() * 1000.0),
            None => r.failed += 1,
        }
        eprintln!(
            "{:?}: restart {} of node {}: healthy after {:.0} ms",
            cluster.kind,
            trial + 1,
            node + 1,
            spawned.elapsed().as_secs_f64() * 1000.0
        );
    }
    r.healthy_ms.sort_by(f64::total_cmp);
    r
}

// ---- A fourth node -------------------------------------------------------------------

struct CatchUp {
    /// The new node's id (duckgoose) or name number (etcd `e<id>`).
    id: usize,
    /// From spawning the node until its state reached the leader's at its start.
    data_ms: Option<f64>,
    /// From spawning the node until it was a caught-up voter.
    ms: Option<f64>,
    /// etcd: how long `member add` took (before the node starts, not counted) and how
    /// many times etcd refused it first.
    add_ms: Option<f64>,
    add_refusals: usize,
    /// duckgoose: `duckgoose_snapshots_installed_total`; etcd:
    /// `etcd_network_snapshot_receive_success` on the new node.
    snapshots: Option<u64>,
    dir_bytes: u64,
    rss_kib: u64,
    breakdown: String,
}

/// Sets the value after `flag` (`--flag value`), or of `--flag=value`.
fn set_flag(args: &mut [String], flag: &str, value: &str) {
    let eq = format!("{flag}=");
    if let Some(i) = args.iter().position(|a| a == flag) {
        args[i + 1] = value.to_string();
    } else if let Some(a) = args.iter_mut().find(|a| a.starts_with(&eq)) {
        *a = format!("{eq}{value}");
    } else {
        panic!("no {flag} among {args:?}");
    }
}

fn flag_value<'a>(args: &'a [String], flag: &str) -> &'a str {
    let i = args.iter().position(|a| a == flag).expect("flag");
    &args[i + 1]
}

/// The data directory of the added node `id` (never reused: a removed node's id is not
/// given again).
fn added_dir(cluster: &Cluster, id: usize) -> PathBuf {
    cluster.dir.join(match cluster.kind {
        Kind::Duckgoose => format!("n{id}"),
        Kind::Etcd => format!("e{id}"),
    })
}

/// The added node's command: node 1's with its own id, addresses, data directory and
/// certificate, told to join the running cluster.
fn added_node(cluster: &Cluster, id: usize, leader: usize) -> (String, Vec<String>) {
    let (exe, mut args) = cluster.commands[0].clone();
    let [client, peer] = free_ports(2)[..] else {
        unreachable!()
    };
    let addr = format!("127.0.0.1:{client}");
    let scheme = cluster.sec.scheme();
    let dir = added_dir(cluster, id).display().to_string();
    if let Some(tls) = &cluster.sec.tls {
        // Every bench certificate names 127.0.0.1, so any one that is not node 1's will do.
        let (cert, key) = &tls.nodes[1 + id % (tls.nodes.len() - 1)];
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        match cluster.kind {
            Kind::Duckgoose => {
                set_flag(&mut args, "--tls-cert", &cert);
                set_flag(&mut args, "--tls-key", &key);
            }
            Kind::Etcd => {
                set_flag(&mut args, "--cert-file", &cert);
                set_flag(&mut args, "--key-file", &key);
                set_flag(&mut args, "--peer-cert-file", &cert);
                set_flag(&mut args, "--peer-key-file", &key);
            }
        }
    }
    match cluster.kind {
        Kind::Duckgoose => {
            set_flag(&mut args, "--id", &id.to_string());
            set_flag(&mut args, "--listen", &addr);
            set_flag(&mut args, "--data-dir", &dir);
            // A joiner names no founders: it asks the cluster to add it.
            while let Some(i) = args.iter().position(|a| a == "--peer") {
                args.drain(i..i + 2);
            }
            args.push("--join".into());
            args.push(format!("{scheme}://{}", cluster.addrs[leader]));
        }
        Kind::Etcd => {
            let name = format!("e{id}");
            let client_url = format!("{scheme}://{addr}");
            let peer_url = format!("{scheme}://127.0.0.1:{peer}");
            let founders = flag_value(&args, "--initial-cluster").to_string();
            set_flag(&mut args, "--name", &name);
            set_flag(&mut args, "--data-dir", &dir);
            set_flag(&mut args, "--listen-client-urls", &client_url);
            set_flag(&mut args, "--advertise-client-urls", &client_url);
            set_flag(&mut args, "--listen-peer-urls", &peer_url);
            set_flag(&mut args, "--initial-advertise-peer-urls", &peer_url);
            set_flag(
                &mut args,
                "--initial-cluster",
                &format!("{founders},{name}={peer_url}"),
            );
            set_flag(&mut args, "--initial-cluster-state", "existing");
        }
    }
    (exe, args)
}

/// Asks `leader_addr` for an admin change until it answers 200 (30 s at most; etcd and
/// duckgoose both refuse while another change or, for etcd, its health check is
/// pending), every ~100 ms. The answer's body, the time it took and the refusals.
fn admin_until_ok(
    sec: &Sec,
    leader_addr: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (String, f64, usize) {
    let started = Instant::now();
    let mut answer = None;
    let mut refusals = 0;
    let ok = time_until(started, Duration::from_secs(30), || {
        if answer.is_some() {
            refusals += 1;
            std::thread::sleep(Duration::from_millis(95));
        }
        answer = http(sec, leader_addr, method, path, body, Duration::from_secs(5));
        matches!(&answer, Some((200, _)))
    });
    assert!(ok.is_some(), "{method} {path}: {answer:?}");
    let body = answer.map(|(_, b)| b).unwrap_or_default();
    (body, started.elapsed().as_secs_f64() * 1000.0, refusals)
}

/// Adds node `id` and times it until it is a caught-up voter; it runs as the cluster's
/// node index `NODES` (the one after the founders). duckgoose: it starts with `--join`
/// and counts once its own `/status` lists it among the members (every member votes)
/// and its applied index reaches the leader's commit index at its start. etcd: `member
/// add` (a voter, not a learner) first, then the node starts with
/// `--initial-cluster-state existing`, and counts once the member list shows it started
/// and not a learner and its revision equals the leader's. Also returns etcd's member id.
fn add_node(cluster: &mut Cluster, id: usize) -> (CatchUp, Option<String>) {
    let leader = cluster.wait_healthy(Duration::from_secs(30));
    let (exe, args) = added_node(cluster, id, leader);
    let listen = match cluster.kind {
        Kind::Duckgoose => flag_value(&args, "--listen").to_string(),
        Kind::Etcd => flag_value(&args, "--listen-client-urls")
            .rsplit("//")
            .next()
            .expect("url")
            .to_string(),
    };
    let leader_addr = cluster.addrs[leader].clone();
    let sec = cluster.sec.clone();
    let (mut add_ms, mut add_refusals, mut member_id) = (None, 0, None);
    let target = match cluster.kind {
        Kind::Duckgoose => status(cluster, leader)
            .and_then(|s| json_u64(&s["commit_index"]))
            .expect("leader status"),
        Kind::Etcd => {
            let rev = etcd_revision(cluster, leader).expect("leader revision");
            let peer_url = flag_value(&args, "--initial-advertise-peer-urls");
            // etcd refuses to add a voter while fewer members than the new quorum have
            // been connected for 5 s (its strict reconfiguration check): right after
            // the restarts it answers "unhealthy cluster", so ask again until it takes it.
            let (body, ms, refusals) = admin_until_ok(
                &sec,
                &leader_addr,
                "POST",
                "/v3/cluster/member/add",
                &format!(r#"{{"peerURLs":["{peer_url}"]}}"#),
            );
            (add_ms, add_refusals) = (Some(ms), refusals);
            member_id = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| json_u64(&v["member"]["ID"]))
                .map(|m| m.to_string());
            rev
        }
    };
    cluster.addrs.push(listen);
    cluster.commands.push((exe, args));
    cluster.children.push(None);
    let new = NODES;
    let spawned = Instant::now();
    cluster.start(new);
    let kind = cluster.kind;
    let new_addr = cluster.addrs[new].clone();
    let mut data_ms = None;
    let caught_up = || {
        let (data, voter) = match kind {
            Kind::Duckgoose => status(cluster, new).map_or((false, false), |s| {
                let member = s["members"]
                    .as_array()
                    .is_some_and(|ms| ms.iter().any(|m| json_u64(&m["id"]) == Some(id as u64)));
                let applied = json_u64(&s["applied_index"]).is_some_and(|a| a >= target);
                (applied, member)
            }),
            Kind::Etcd => {
                let voter = json(&sec, &leader_addr, "POST", "/v3/cluster/member/list", "{}")
                    .and_then(|l| {
                        l["members"].as_array().map(|ms| {
                            ms.iter().any(|m| {
                                m["name"] == format!("e{id}")
                                    && !m["isLearner"].as_bool().unwrap_or(false)
                            })
                        })
                    })
                    .unwrap_or(false);
                let data = json(&sec, &new_addr, "POST", "/v3/maintenance/status", "{}")
                    .and_then(|s| json_u64(&s["header"]["revision"]))
                    .is_some_and(|r| r >= target);
                (data, voter)
            }
        };
        if data && data_ms.is_none() {
            data_ms = Some(spawned.elapsed().as_secs_f64() * 1000.0);
        }
        data && voter
    };
    let took = time_until(spawned, Duration::from_secs(120), caught_up);
    let snapshots = node_metric(
        cluster,
        new,
        match kind {
            Kind::Duckgoose => "duckgoose_snapshots_installed_total",
            Kind::Etcd => "etcd_network_snapshot_receive_success",
        },
    );
    let dir = added_dir(cluster, id);
    eprintln!("{kind:?}: node {id} added: data {data_ms:?} ms, voter {took:?}");
    let c = CatchUp {
        id,
        data_ms,
        ms: took.map(|t| t.as_secs_f64() * 1000.0),
        add_ms,
        add_refusals,
        snapshots,
        dir_bytes: dir_bytes(&dir),
        rss_kib: cluster.pid(new).map_or(0, rss_kib),
        breakdown: breakdown(kind, &dir),
    };
    (c, member_id)
}

/// Removes the added node again (through the admin API, then stops it and deletes its
/// directory), so the next trial adds a fresh node to the same 3 founders.
fn remove_node(cluster: &mut Cluster, id: usize, etcd_member: Option<String>) {
    let founders: Vec<usize> = (0..NODES).collect();
    let leader = loop {
        if let Some(l) = cluster.leader().filter(|l| founders.contains(l)) {
            break l;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (sec, leader_addr) = (cluster.sec.clone(), cluster.addrs[leader].clone());
    match cluster.kind {
        Kind::Duckgoose => {
            admin_until_ok(
                &sec,
                &leader_addr,
                "DELETE",
                &format!("/admin/members/{id}"),
                "",
            );
        }
        Kind::Etcd => {
            let member = etcd_member.expect("etcd member id from member add");
            admin_until_ok(
                &sec,
                &leader_addr,
                "POST",
                "/v3/cluster/member/remove",
                &format!(r#"{{"ID":"{member}"}}"#),
            );
        }
    }
    cluster.kill(NODES);
    cluster.addrs.truncate(NODES);
    cluster.commands.truncate(NODES);
    cluster.children.truncate(NODES);
    let _ = std::fs::remove_dir_all(added_dir(cluster, id));
}

/// `trials` nodes added one after another (each removed before the next is added).
fn catch_ups(cluster: &mut Cluster, trials: usize) -> Vec<CatchUp> {
    let mut out = Vec::new();
    for trial in 0..trials {
        let id = NODES + 1 + trial;
        let (c, member) = add_node(cluster, id);
        out.push(c);
        if trial + 1 < trials {
            remove_node(cluster, id, member);
        }
    }
    out
}

// ---- One system, and the report ------------------------------------------------------

struct Run {
    kind: Kind,
    writes: Writes,
    restarts: Restarts,
    catch_ups: Vec<CatchUp>,
    /// Node data directories at the end of the writes.
    breakdowns: Vec<String>,
}

fn run(kind: Kind, sec: &Sec, args: &Args) -> Run {
    let extra: Vec<String> = match kind {
        // The defaults: --snapshot-entries 10000.
        Kind::Duckgoose => Vec::new(),
        Kind::Etcd => vec![
            format!("--snapshot-count={SNAPSHOT_ENTRIES}"),
            "--auto-compaction-mode=revision".into(),
            format!("--auto-compaction-retention={ETCD_RETENTION}"),
        ],
    };
    let mut cluster = Cluster::with_flags(kind, sec, &args.dir, NODES, &extra);
    cluster.wait_healthy(Duration::from_secs(30));
    cluster.check_token();
    eprintln!(
        "{kind:?}: writing {} puts with {} writers",
        args.puts, args.writers
    );
    let writes = write_and_sample(&cluster, args.puts, args.writers);
    let system = match kind {
        Kind::Duckgoose => "duckgoose",
        Kind::Etcd => "etcd",
    };
    write_csv(
        &args.dir.join(format!("compaction-{system}.csv")),
        &writes.samples,
    );
    let bound = (kind == Kind::Duckgoose).then(|| dir_bound(&writes.wal));
    write_svg(
        &args.dir.join(format!("compaction-{system}.svg")),
        kind,
        &writes,
        bound,
    );
    let breakdowns = (0..NODES)
        .map(|i| breakdown(kind, &node_dir(&cluster, i)))
        .collect();
    let restarts = restarts(&mut cluster, args.restart_trials);
    let catch_ups = catch_ups(&mut cluster, args.catch_up_trials);
    Run {
        kind,
        writes,
        restarts,
        catch_ups,
        breakdowns,
    }
}

/// One WAL threshold: `SNAPSHOT_ENTRIES` entries at the measured bytes per entry.
fn wal_threshold(wal: &WalMeasure) -> f64 {
    SNAPSHOT_ENTRIES as f64 * wal.bytes_per_entry()
}

/// The goal's bound on a duckgoose data directory: 4 × the live key-value size plus
/// one WAL threshold.
fn dir_bound(wal: &WalMeasure) -> f64 {
    4.0 * live_kv_bytes() as f64 + wal_threshold(wal)
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

pub(crate) fn report(report: &mut String, kinds: &[Kind], sec: &Sec, args: &Args) {
    let live = live_kv_bytes();
    writeln!(
        report,
        "### Compaction ({NODES} nodes; {} puts over {KEYS} keys, values of {VALUE_BYTES} bytes, {} writer threads on keep-alive connections to the leader; {})\n\nduckgoose: default `--snapshot-entries {SNAPSHOT_ENTRIES}`. etcd: `--snapshot-count={SNAPSHOT_ENTRIES} --auto-compaction-mode=revision --auto-compaction-retention={ETCD_RETENTION}`, and since etcd 3.4's revision compactor only runs every 5 minutes the bench also compacts it every second to revision − {ETCD_RETENTION} (`/v3/kv/compaction`); etcd does not shrink its bolt file without a defrag (none is run) and preallocates 64 MiB WAL segments (sizes below are apparent file sizes). Live key-value size: {KEYS} × ({} key + {VALUE_BYTES} value bytes) = {live} bytes.\n",
        args.puts,
        args.writers,
        sec.label(),
        key(0).len(),
    )
    .unwrap();
    let runs: Vec<Run> = kinds
        .iter()
        .map(|&kind| {
            let r = run(kind, sec, args);
            eprintln!("{kind:?}: compaction part done");
            r
        })
        .collect();
    let mib = |b: f64| b / (1024.0 * 1024.0);

    writeln!(
        report,
        "| system | puts acknowledged | seconds | puts/s | retried requests | samples (1 s) | stopped early |\n|---|---|---|---|---|---|---|"
    )
    .unwrap();
    for r in &runs {
        let w = &r.writes;
        writeln!(
            report,
            "| {} | {} | {:.1} | {:.0} | {} | {} | {} |",
            name(r.kind),
            w.puts,
            w.seconds,
            w.puts as f64 / w.seconds,
            w.retries,
            w.samples.len(),
            w.stalled.as_deref().unwrap_or("no")
        )
        .unwrap();
    }
    report.push('\n');

    writeln!(
        report,
        "| system | node | data dir at end MiB | data dir max MiB | RSS at end MiB | RSS max MiB | data dir at end |\n|---|---|---|---|---|---|---|"
    )
    .unwrap();
    for r in &runs {
        let samples = &r.writes.samples;
        let Some(last) = samples.last() else { continue };
        for i in 0..NODES {
            let max_dir = samples.iter().map(|s| s.dir_bytes[i]).max().unwrap_or(0);
            let max_rss = samples.iter().map(|s| s.rss_kib[i]).max().unwrap_or(0);
            writeln!(
                report,
                "| {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {} |",
                name(r.kind),
                i + 1,
                mib(last.dir_bytes[i] as f64),
                mib(max_dir as f64),
                last.rss_kib[i] as f64 / 1024.0,
                max_rss as f64 / 1024.0,
                r.breakdowns[i]
            )
            .unwrap();
        }
    }
    report.push('\n');

    for r in runs.iter().filter(|r| r.kind == Kind::Duckgoose) {
        let w = &r.writes;
        let threshold = wal_threshold(&w.wal);
        let bound = dir_bound(&w.wal);
        let max_dir = w
            .samples
            .iter()
            .flat_map(|s| &s.dir_bytes)
            .max()
            .copied()
            .unwrap_or(0);
        let end_dir = w
            .samples
            .last()
            .and_then(|s| s.dir_bytes.iter().max().copied())
            .unwrap_or(0);
        let max_rss = w
            .samples
            .iter()
            .flat_map(|s| &s.rss_kib)
            .max()
            .copied()
            .unwrap_or(0);
        writeln!(
            report,
            "WAL threshold: {SNAPSHOT_ENTRIES} entries × {:.1} bytes per entry (measured: the median over {} samples of raft.wal's size / the entries after the snapshot index, each with ≥ {MIN_WAL_ENTRIES} entries and no snapshot between the reads) = {:.0} bytes ({:.2} MiB); the largest raft.wal sampled was {} bytes. Bound: 4 × {live} + {:.0} = {:.0} bytes ({:.2} MiB).\n\n| goal | measured | verdict |\n|---|---|---|\n| data dir ≤ 4 × live KV + one WAL threshold ({:.2} MiB), every node, every sample | max {:.2} MiB (at the end: {:.2} MiB) | {} |\n| RSS ≤ 32 MiB, every node, every sample | max {:.1} MiB | {} |\n",
            w.wal.bytes_per_entry(),
            w.wal.ratios.len(),
            threshold,
            mib(threshold),
            w.largest_wal,
            threshold,
            bound,
            mib(bound),
            mib(bound),
            mib(max_dir as f64),
            mib(end_dir as f64),
            verdict(max_dir as f64 <= bound),
            max_rss as f64 / 1024.0,
            verdict(max_rss <= RSS_GOAL_KIB),
        )
        .unwrap();
    }
    for r in runs.iter().filter(|r| r.kind == Kind::Etcd) {
        writeln!(
            report,
            "etcd: the bench compacted it {} times during the writes.\n",
            r.writes.etcd_compactions
        )
        .unwrap();
    }

    writeln!(
        report,
        "Restart of a follower after the writes ({} trials: SIGTERM, wait for the exit, start it on its data dir; time from the start until healthy):\n\n| system | healthy when | p50 ms | max ms | min ms | not healthy in 30 s | exit after SIGTERM max ms | goal ≤ 1 s (max) |\n|---|---|---|---|---|---|---|---|",
        args.restart_trials
    )
    .unwrap();
    for r in &runs {
        let s = &r.restarts.healthy_ms;
        let when = match r.kind {
            Kind::Duckgoose => {
                "`/readyz` 200 and applied index ≥ the leader's commit index before the stop"
            }
            Kind::Etcd => "`/health` true (a leader, and a linearizable read succeeds)",
        };
        let max = s.last().copied().unwrap_or(f64::NAN);
        writeln!(
            report,
            "| {} | {when} | {:.0} | {max:.0} | {:.0} | {} | {:.0} | {} |",
            name(r.kind),
            percentile(s, 50.0),
            s.first().copied().unwrap_or(f64::NAN),
            r.restarts.failed,
            r.restarts.exit_ms.iter().copied().fold(0.0, f64::max),
            verdict(r.restarts.failed == 0 && max <= 1000.0),
        )
        .unwrap();
    }
    report.push('\n');

    writeln!(
        report,
        "A fourth node added after the writes, {} times (each removed through the admin API and its directory deleted before the next, which gets a new id). duckgoose: started with `--join <leader>` and the token; caught up when its own `/status` lists it as a member (all members vote) and its applied index ≥ the leader's commit index at its start. etcd: `member add` through the v3 API first (not counted), then started with `--initial-cluster-state existing`; caught up when the member list shows it started and not a learner and its revision equals the leader's. Times from the node's start.\n\n| system | node | state caught up ms | caught-up voter ms | snapshots received | its data dir MiB | its RSS MiB | its data dir | member add (etcd, not counted) |\n|---|---|---|---|---|---|---|---|---|",
        args.catch_up_trials
    )
    .unwrap();
    let ms = |v: Option<f64>| v.map_or("not in 120 s".to_string(), |ms| format!("{ms:.0}"));
    for r in &runs {
        let snap = match r.kind {
            Kind::Duckgoose => "`duckgoose_snapshots_installed_total`",
            Kind::Etcd => "`etcd_network_snapshot_receive_success`",
        };
        for c in &r.catch_ups {
            let add = match (r.kind, c.add_ms) {
                (Kind::Etcd, Some(add)) => format!(
                    "{add:.0} ms, {} refusals (`unhealthy cluster`)",
                    c.add_refusals
                ),
                _ => "-".to_string(),
            };
            writeln!(
                report,
                "| {} | {} | {} | {} | {snap} = {} | {:.2} | {:.1} | {} | {add} |",
                name(r.kind),
                c.id,
                ms(c.data_ms),
                ms(c.ms),
                c.snapshots.map_or("?".to_string(), |n| n.to_string()),
                mib(c.dir_bytes as f64),
                c.rss_kib as f64 / 1024.0,
                c.breakdown
            )
            .unwrap();
        }
    }
    writeln!(
        report,
        "\n| system | caught-up voter p50 ms | max ms | not in 120 s |\n|---|---|---|---|"
    )
    .unwrap();
    for r in &runs {
        let mut done: Vec<f64> = r.catch_ups.iter().filter_map(|c| c.ms).collect();
        done.sort_by(f64::total_cmp);
        writeln!(
            report,
            "| {} | {:.0} | {:.0} | {} |",
            name(r.kind),
            percentile(&done, 50.0),
            done.last().copied().unwrap_or(f64::NAN),
            r.catch_ups.len() - done.len()
        )
        .unwrap();
    }
    for r in runs.iter().filter(|r| r.kind == Kind::Duckgoose) {
        let got = r
            .catch_ups
            .iter()
            .all(|c| c.snapshots.is_some_and(|n| n >= 1));
        writeln!(
            report,
            "\nduckgoose's new nodes got the state by snapshot (`duckgoose_snapshots_installed_total` ≥ 1 on every one): {}",
            verdict(got)
        )
        .unwrap();
    }
    writeln!(
        report,
        "\nSamples: `{0}/compaction-<system>.csv` (seconds, puts, data_dir_bytes per node, rss_kib per node) and `{0}/compaction-<system>.svg`.\n",
        args.dir.display()
    )
    .unwrap();
    eprint!("{report}");
}
