//! A Jepsen-style nemesis against a real cluster of `duckgoose node` processes: seeded
//! faults under concurrent key-value load and goose checks on every node, a full
//! history, and checks afterwards (see [`check`]). `tests/src/bin/nemesis.rs` is the
//! command line; `scripts/test-nemesis` runs the short mode in CI.

pub mod check;
pub mod faults;
pub mod history;
pub mod http;
pub mod plot;
pub mod workload;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use check::Facts;
use duckgoose_testkit::{Cluster, Netns, Opts, Token};
use faults::{Kind, Nemesis, Timing};
use history::{Event, GooseAnswer, Phase, kv};
use workload::{FINAL_PROCESS, Outcome, World};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NetnsMode {
    /// Use network namespaces when running as root with iproute2, else skip them.
    Auto,
    On,
    Off,
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "nemesis",
    about = "Faults against a real Duck Duck Goose cluster under load, then check the history"
)]
pub struct Options {
    /// Seed of the fault schedule and the clients' choices (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// CI mode: one minute of faults with a quicker tempo.
    #[arg(long)]
    pub short: bool,
    /// Minutes of faults (default 10, or 1 with --short).
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Founding nodes.
    #[arg(long, default_value_t = 5)]
    pub nodes: u64,
    /// Concurrent key-value clients.
    #[arg(long, default_value_t = 5)]
    pub clients: u64,
    /// Keys the clients share.
    #[arg(long, default_value_t = 6)]
    pub keys: u32,
    /// Longest pause between one client's operations, ms.
    #[arg(long, default_value_t = 10)]
    pub think_ms: u64,
    /// The duckgoose binary (default: build it with cargo, profile `test`: optimised,
    /// with the core's debug assertions on).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Where the history, report and timeline go (default: target/nemesis/seed-<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub netns: NetnsMode,
    /// A goose must answer within this long after the last heal.
    #[arg(long, default_value_t = 1000)]
    pub recovery_ms: u64,
    /// Only these faults (comma-separated; default all): kill, kill-majority, stop,
    /// pause, partition, isolate-goose, one-way, netns-partition, netns-isolate,
    /// transfer, remove, join.
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    /// Re-check a recorded history.jsonl instead of running.
    #[arg(long)]
    pub check: Option<PathBuf>,
    /// Keep the nodes' data directories even when the run passes.
    #[arg(long)]
    pub keep_data: bool,
    /// Serve plain HTTP (token only). By default the cluster runs as a deployment
    /// should: a token, HTTPS, and mutual TLS between peers.
    #[arg(long)]
    pub plain: bool,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The duckgoose binary: `--bin`, or built with cargo (a no-op when up to date).
pub fn locate_binary(opts: &Options) -> Result<PathBuf, String> {
    if let Some(bin) = &opts.bin {
        return if bin.is_file() {
            Ok(bin.clone())
        } else {
            Err(format!("--bin {}: no such file", bin.display()))
        };
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("nemesis: building duckgoose (cargo build -p duckgoose --profile test)");
    let out = Command::new(&cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "-p",
            "duckgoose",
            "--bin",
            "duckgoose",
            "--profile",
            "test",
            "--locked",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(std::process::Stdio::inherit())
        .output();
    match out {
        Ok(out) if out.status.success() => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if v["reason"] == "compiler-artifact"
                    && v["target"]["name"] == "duckgoose"
                    && let Some(exe) = v["executable"].as_str()
                {
                    return Ok(PathBuf::from(exe));
                }
            }
            Err("cargo built duckgoose but named no executable".into())
        }
        Ok(out) => Err(format!("cargo build -p duckgoose failed ({})", out.status)),
        Err(e) => {
            // No cargo: look next to this binary.
            let sibling = std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.join("duckgoose")));
            match sibling {
                Some(p) if p.is_file() => Ok(p),
                _ => Err(format!("cannot run cargo ({e}) and no --bin given")),
            }
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

fn repro_command(opts: &Options, seed: u64, minutes: f64, netns: bool) -> String {
    let mut cmd = format!(
        "cargo run --profile test -p duckgoose-tests --bin nemesis -- --seed {seed} --minutes {minutes}"
    );
    if opts.short {
        cmd.push_str(" --short");
    }
    cmd.push_str(if netns { " --netns on" } else { " --netns off" });
    if opts.plain {
        cmd.push_str(" --plain");
    }
    for (flag, value, default) in [
        ("--nodes", opts.nodes, 5),
        ("--clients", opts.clients, 5),
        ("--keys", opts.keys as u64, 6),
        ("--think-ms", opts.think_ms, 10),
        ("--recovery-ms", opts.recovery_ms, 1000),
    ] {
        if value != default {
            cmd.push_str(&format!(" {flag} {value}"));
        }
    }
    if !opts.faults.is_empty() {
        cmd.push_str(&format!(" --faults {}", opts.faults.join(",")));
    }
    cmd
}

/// Asks every observed node "goose?" at once, repeatedly, until one says goose or the
/// deadline passes. Returns when that answer completed (history time).
fn await_goose(rt: &tokio::runtime::Runtime, world: &Arc<World>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let found = rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for id in world.observed() {
                let world = world.clone();
                set.spawn(async move { workload::ask_goose(&world, id).await });
            }
            let mut found = false;
            while let Some(r) = set.join_next().await {
                found |= matches!(r, Ok(Some(GooseAnswer::Goose { .. })));
            }
            found
        });
        if found {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The first goose answer to a question asked at or after `since`.
fn first_goose_after(events: &[Event], since: u64) -> Option<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Goose {
                t,
                invoked,
                answer: GooseAnswer::Goose { .. },
                ..
            } if *invoked >= since => Some(*t),
            _ => None,
        })
        .min()
}

fn log_panics(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (i, line) in text.lines().enumerate() {
                if line.contains("panicked") {
                    found.push(format!("{}:{}: {line}", path.display(), i + 1));
                }
            }
        }
    }
    found
}

pub struct RunResult {
    pub passed: bool,
    pub out: PathBuf,
}

/// Re-checks a recorded history.
pub fn recheck(path: &Path) -> Result<bool, String> {
    let (header, events) = history::read_jsonl(path)?;
    let facts: Facts = serde_json::from_value(header["facts"].clone())
        .map_err(|e| format!("history header has no facts: {e}"))?;
    let verdict = check::check(&events, &facts);
    print!("{}", check::report(&header, &facts, &verdict));
    Ok(verdict.anomalies.is_empty())
}

pub fn run(opts: &Options) -> Result<RunResult, String> {
    let seed = opts.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000)
    });
    let minutes = opts.minutes.unwrap_or(if opts.short { 1.0 } else { 10.0 });
    let timing = if opts.short {
        Timing {
            interval_ms: (300, 1200),
            hold_ms: (300, 2000),
        }
    } else {
        Timing {
            interval_ms: (500, 2500),
            hold_ms: (500, 4000),
        }
    };
    let mut kinds: Vec<Kind> = if opts.faults.is_empty() {
        Kind::ALL.to_vec()
    } else {
        opts.faults
            .iter()
            .map(|f| Kind::parse(f).ok_or(format!("unknown fault {f:?}")))
            .collect::<Result<_, _>>()?
    };

    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| target_dir.join("nemesis").join(format!("seed-{seed}")));
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let built = locate_binary(opts)?;

    // Network namespaces, where permitted.
    let net = match opts.netns {
        NetnsMode::Off => None,
        mode => {
            let attempt = if is_root() {
                Netns::setup(3)
            } else {
                Err("not root".into())
            };
            match attempt {
                Ok(n) => Some(n),
                Err(e) if mode == NetnsMode::On => {
                    return Err(format!("--netns on, but namespaces are not permitted: {e}"));
                }
                Err(e) => {
                    eprintln!("nemesis: network namespaces not permitted ({e}); loopback only");
                    None
                }
            }
        }
    };
    let netns = net.is_some();
    if !netns {
        kinds.retain(|k| !k.needs_netns());
    }

    let data = std::env::temp_dir().join(format!("duckgoose-nemesis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    // A private copy, so that a concurrent rebuild cannot swap the binary mid-run.
    let bin = data.join("duckgoose");
    std::fs::copy(&built, &bin).map_err(|e| format!("copy {}: {e}", built.display()))?;

    let repro = repro_command(opts, seed, minutes, netns);
    eprintln!(
        "nemesis: seed {seed}, {minutes} min of faults, {} nodes, {} clients, {} keys, netns {}, {}; \
         output in {}",
        opts.nodes,
        opts.clients,
        opts.keys,
        if netns { "on" } else { "off" },
        if opts.plain {
            "token over plain HTTP"
        } else {
            "token and mutual TLS"
        },
        out.display()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let prepare = if opts.plain {
        Cluster::new
    } else {
        Cluster::new_tls
    };
    let cluster = prepare(
        bin.clone(),
        "nemesis",
        opts.nodes,
        Opts {
            token: Token::Fixed(format!("nemesis-{seed:x}")),
            // Compaction every 64 entries: snapshots, WAL cuts and InstallSnapshot to
            // nodes that were down or cut off happen all through the run.
            extra: vec![
                "--request-timeout-ms".into(),
                "2000".into(),
                "--snapshot-entries".into(),
                "64".into(),
            ],
            root: Some(data.clone()),
            keep_files: true,
            seed: Some(seed),
            netns: net,
        },
    )?;
    let world = Arc::new(World::new(
        cluster.token.as_deref().unwrap_or_default(),
        cluster.ca_pem().as_deref(),
    )?);
    let mut nemesis = Nemesis::new(
        world.clone(),
        cluster,
        rt.handle().clone(),
        seed,
        kinds,
        timing,
        30,
    );
    nemesis.start_all()?;
    if !await_goose(&rt, &world, Duration::from_secs(30)) {
        return Err("the cluster elected no goose at start".into());
    }

    // Load and observers.
    let monitor = rt.spawn(workload::monitor(world.clone(), Duration::from_millis(200)));
    let clients: Vec<_> = (1..=opts.clients)
        .map(|p| {
            rt.spawn(workload::client(
                world.clone(),
                p,
                opts.keys,
                opts.think_ms,
                seed,
            ))
        })
        .collect();

    // Faults.
    let until = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    nemesis.run(until);

    // Heal everything; a goose must answer soon after.
    nemesis.heal_all()?;
    let healed_at = world.rec.now();
    world.rec.record(Event::Nemesis {
        t: healed_at,
        id: 0,
        phase: Phase::Instant,
        fault: "heal-all".into(),
        nodes: nemesis.live_nodes(),
        detail: String::new(),
    });
    let recovered = await_goose(&rt, &world, Duration::from_secs(10));
    // Some load while it settles, then the clients finish what they are doing.
    std::thread::sleep(Duration::from_secs(2));
    world.stop_clients.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for c in clients {
            let _ = tokio::time::timeout(Duration::from_secs(15), c).await;
        }
    });

    // Everything restarts at once, on its data; then read every key.
    nemesis.restart_all()?;
    let restarted_at = world.rec.now();
    let restarted = await_goose(&rt, &world, Duration::from_secs(20));
    if restarted {
        for k in 0..opts.keys {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let live = nemesis.live_nodes();
                let node = world
                    .goose_hint()
                    .filter(|g| live.contains(g))
                    .unwrap_or(live[0]);
                let call = kv::Op::Get {
                    key: format!("k{k}"),
                };
                let (outcome, _) = rt.block_on(workload::run_op(&world, FINAL_PROCESS, node, call));
                if matches!(outcome, Outcome::Ok(kv::Output::Value(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    world.stop_observers.store(true, Ordering::Relaxed);
    let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), monitor).await });
    let unexpected = std::mem::take(&mut nemesis.unexpected_exits);
    let clean_windows = std::mem::take(&mut nemesis.clean_windows);
    let counts = nemesis.counts.clone();
    nemesis.cluster.shutdown();

    let events = world.rec.snapshot();
    let facts = Facts {
        healed_at: Some(healed_at),
        goose_after_heal: recovered
            .then(|| first_goose_after(&events, healed_at))
            .flatten(),
        recovery_bound_ms: opts.recovery_ms,
        restarted_at: Some(restarted_at),
        goose_after_restart: restarted
            .then(|| first_goose_after(&events, restarted_at))
            .flatten(),
        clean_windows,
        unexpected_exits: unexpected,
        log_panics: log_panics(&data),
        fault_counts: counts
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        keys: opts.keys,
        minutes,
    };
    let header = serde_json::json!({
        "seed": seed,
        "mode": if opts.short { "short" } else { "long" },
        "minutes": minutes,
        "nodes": opts.nodes,
        "clients": opts.clients,
        "keys": opts.keys,
        "netns": netns,
        "started": world.rec.start_wall_ns.to_string(),
        "binary": built.display().to_string(),
        "repro": repro,
        "facts": facts,
    });
    let verdict = check::check(&events, &facts);
    let report = check::report(&header, &facts, &verdict);
    history::write_jsonl(&out.join("history.jsonl"), &header, &events)
        .map_err(|e| format!("writing the history: {e}"))?;
    std::fs::write(out.join("report.txt"), &report).map_err(|e| e.to_string())?;
    if let Some(violation) = &verdict.violation {
        let _ = std::fs::write(out.join("violation.txt"), violation);
    }
    let title = format!(
        "nemesis seed {seed}: {} ops, {} faults, {} anomalies",
        verdict.stats.get("ops").copied().unwrap_or(0),
        facts.fault_counts.values().sum::<u64>(),
        verdict.anomalies.len()
    );
    std::fs::write(out.join("timeline.svg"), plot::svg(&events, &title))
        .map_err(|e| e.to_string())?;
    let logs = out.join("logs");
    let _ = std::fs::create_dir_all(&logs);
    if let Ok(entries) = std::fs::read_dir(&data) {
        for entry in entries.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "log")
                && let Some(name) = p.file_name()
            {
                let _ = std::fs::copy(&p, logs.join(name));
            }
        }
    }
    print!("{report}");
    let passed = verdict.anomalies.is_empty();
    drop(nemesis);
    if passed && !opts.keep_data {
        let _ = std::fs::remove_dir_all(&data);
    } else {
        eprintln!("nemesis: node data kept in {}", data.display());
    }
    println!(
        "history: {}\nreport: {}\ntimeline: {}",
        out.join("history.jsonl").display(),
        out.join("report.txt").display(),
        out.join("timeline.svg").display()
    );
    if !passed {
        println!(
            "\nFAILED with seed {seed}. Reproduce the same fault schedule with:\n  {repro}\n\
             (the schedule follows the seed; real processes interleave differently on each \
             run). Re-check this history with:\n  cargo run --profile test -p duckgoose-tests \
             --bin nemesis -- --check {}",
            out.join("history.jsonl").display()
        );
    }
    Ok(RunResult { passed, out })
}
