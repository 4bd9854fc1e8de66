//! Seeds the fuzz corpora (`fuzz/corpus/<target>/`) from real traffic: a three-node
//! cluster on loopback whose node 3 sits behind a recording proxy, under key-value load,
//! partitions (both ways and one-way), membership changes and transfers (so node 3 leads
//! for a while and receives votes and Append replies too). Every request that reaches
//! node 3 is recorded: peer batches seed `peer_batch`, client and admin bodies seed
//! `http_bodies`, and the nodes' logs (whole, and cut at record boundaries) seed `wal`.
//!
//!   cargo run -p duckgoose-tests --bin fuzz_corpus [-- --out fuzz/corpus --bin PATH]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use duckgoose_tests::nemesis::http::{Http, Reply};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
struct Args {
    /// Corpus root (one directory per target).
    #[arg(long, default_value = "fuzz/corpus")]
    out: PathBuf,
    /// The duckgoose binary (default: built with cargo).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Inputs kept per target at most.
    #[arg(long, default_value_t = 160)]
    max: usize,
}

const TOKEN: &str = "corpus";

type Streams = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// Forwards `listen` to `upstream`, recording what clients send.
async fn proxy(listener: tokio::net::TcpListener, upstream: String, streams: Streams) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        let upstream = upstream.clone();
        let record = Arc::new(Mutex::new(Vec::new()));
        streams.lock().unwrap().push(record.clone());
        tokio::spawn(async move {
            let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                return;
            };
            let (mut ri, mut wi) = inbound.split();
            let (mut ro, mut wo) = outbound.split();
            let up = async {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match ri.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    record.lock().unwrap().extend_from_slice(&buf[..n]);
                    if wo.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = wo.shutdown().await;
            };
            let down = async {
                let _ = tokio::io::copy(&mut ro, &mut wi).await;
            };
            tokio::join!(up, down);
        });
    }
}

/// Splits a recorded client stream into (method, path, body) requests.
fn requests(mut data: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&data[..end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let mut len = 0usize;
        let mut chunked = false;
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                    chunked = true;
                }
            }
        }
        let mut rest = &data[end + 4..];
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") else {
                    return out;
                };
                let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16)
                    .unwrap_or(0);
                rest = &rest[nl + 2..];
                if size == 0 {
                    rest = rest.get(2..).unwrap_or(&[]);
                    break;
                }
                if rest.len() < size + 2 {
                    return out;
                }
                body.extend_from_slice(&rest[..size]);
                rest = &rest[size + 2..];
            }
            body
        } else {
            if rest.len() < len {
                return out;
            }
            let body = rest[..len].to_vec();
            rest = &rest[len..];
            body
        };
        out.push((method, path, body));
        data = rest;
    }
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Keeps at most `max` inputs spread over the range of sizes, and writes them.
fn write_corpus(dir: &Path, inputs: BTreeSet<Vec<u8>>, max: usize) -> usize {
    let mut inputs: Vec<Vec<u8>> = inputs.into_iter().collect();
    inputs.sort_by_key(|i| (i.len(), i.clone()));
    let chosen: Vec<&Vec<u8>> = if inputs.len() <= max {
        inputs.iter().collect()
    } else {
        (0..max).map(|i| &inputs[i * inputs.len() / max]).collect()
    };
    std::fs::create_dir_all(dir).expect("corpus dir");
    for input in &chosen {
        let name = format!("seed-{:08x}-{}", crc32(input), input.len());
        std::fs::write(dir.join(name), input).expect("write corpus input");
    }
    chosen.len()
}

fn crc32(data: &[u8]) -> u32 {
    // A tiny CRC-32 (IEEE), only to name files.
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Cuts a log file after each of its first records (and keeps it whole).
fn wal_seeds(wal: &[u8]) -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    let mut pos = 8;
    let mut cuts = Vec::new();
    while pos + 8 <= wal.len() {
        let len = u32::from_le_bytes([wal[pos], wal[pos + 1], wal[pos + 2], wal[pos + 3]]) as usize;
        pos += 8 + len;
        if pos > wal.len() {
            break;
        }
        cuts.push(pos);
    }
    for &cut in cuts.iter().take(12) {
        seeds.push(wal[..cut].to_vec());
    }
    if wal.len() <= 64 * 1024 {
        seeds.push(wal.to_vec());
    }
    // Mode byte 0: as is; 1: the target fixes CRCs up (see fuzz_targets/wal.rs).
    let mut out = Vec::new();
    for s in seeds {
        for mode in [0u8, 1] {
            let mut v = vec![mode];
            v.extend_from_slice(&s);
            out.push(v);
        }
    }
    out
}

fn main() {
    let args = Args::parse();
    let bin = args.bin.clone().unwrap_or_else(|| {
        let opts = duckgoose_tests::nemesis::Options::parse_from(["nemesis"]);
        duckgoose_tests::nemesis::locate_binary(&opts).expect("the duckgoose binary")
    });
    let root = std::env::temp_dir().join(format!("duckgoose-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();

    // Node 3 listens on `real3`; everyone reaches it through the proxy on `p3`.
    let (p1, p2, p3, real3) = (free_port(), free_port(), free_port(), free_port());
    let addr = |p: u16| format!("127.0.0.1:{p}");
    let streams: Streams = Arc::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr(p3)))
        .expect("bind the proxy");
    rt.spawn(proxy(listener, addr(real3), streams.clone()));
    let peers = [(1, p1), (2, p2), (3, p3)];
    let mut children: Vec<Child> = Vec::new();
    for (id, port) in peers {
        let listen = if id == 3 { addr(real3) } else { addr(port) };
        let mut cmd = Command::new(&bin);
        cmd.args(["node", "--id", &id.to_string(), "--listen", &listen])
            .args(["--advertise", &addr(port), "--token", TOKEN])
            .arg("--data-dir")
            .arg(root.join(format!("node-{id}")));
        for (other, p) in peers.iter().filter(|(o, _)| *o != id) {
            cmd.args(["--peer", &format!("{other}={}", addr(*p))]);
        }
        let log = std::fs::File::create(root.join(format!("node-{id}.log"))).unwrap();
        children.push(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start a node"),
        );
    }

    // Plain HTTP is enough: the corpus is the request bodies, which TLS does not change.
    let http = Http::new(TOKEN, None).expect("an HTTP client");
    let call = |method: Method, port: u16, path: &str, body: Option<String>| {
        rt.block_on(http.call(method, &addr(port), path, body, Duration::from_secs(3)))
    };
    let goose = || -> Option<u16> {
        [p1, p2, p3].into_iter().find(|&p| {
            matches!(
                call(Method::GET, p, "/goose", None),
                Reply::Status { code: 200, .. }
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut g = None;
    while g.is_none() && Instant::now() < deadline {
        g = goose();
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut g = g.expect("a goose");
    let load = |g: u16, round: usize| {
        for i in 0..15 {
            let key = format!("k{}", i % 4);
            for port in [g, p3] {
                let v = format!("value {round}-{i} ✓");
                call(Method::PUT, port, &format!("/kv/{key}"), Some(v.clone()));
                call(Method::GET, port, &format!("/kv/{key}"), None);
                let cas = serde_json::json!({"expected": if i % 3 == 0 { None } else { Some(v) }, "value": format!("c{round}-{i}")});
                call(
                    Method::POST,
                    port,
                    &format!("/kv/{key}/cas"),
                    Some(cas.to_string()),
                );
                if i % 5 == 0 {
                    call(Method::DELETE, port, &format!("/kv/{key}"), None);
                }
            }
        }
    };
    for round in 0..6 {
        load(g, round);
        match round {
            // Node 3 leads: it receives votes and Append replies.
            0 | 3 => {
                call(
                    Method::POST,
                    g,
                    "/admin/transfer",
                    Some(r#"{"to":3}"#.into()),
                );
            }
            1 => {
                for body in [
                    r#"{"block":[1]}"#,
                    r#"{"block_in":[2],"block_out":[1]}"#,
                    r#"{"block_out":[2]}"#,
                ] {
                    call(Method::POST, p3, "/admin/partition", Some(body.into()));
                    std::thread::sleep(Duration::from_millis(400));
                }
                call(Method::DELETE, p3, "/admin/partition", None);
            }
            2 => {
                call(
                    Method::POST,
                    p3,
                    "/admin/members",
                    Some(r#"{"id":4,"addr":"127.0.0.1:9"}"#.into()),
                );
                call(Method::DELETE, p3, "/admin/members/4", None);
            }
            _ => {
                call(
                    Method::POST,
                    g,
                    "/admin/transfer",
                    Some(r#"{"to":1}"#.into()),
                );
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        if let Some(now) = goose() {
            g = now;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }

    // Sort what node 3 received.
    let mut by_target: BTreeMap<&str, BTreeSet<Vec<u8>>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for stream in streams.lock().unwrap().iter() {
        for (method, path, body) in requests(&stream.lock().unwrap()) {
            *counts
                .entry(format!("{method} {}", path.split('/').nth(1).unwrap_or("")))
                .or_default() += 1;
            let selector = match (method.as_str(), path.as_str()) {
                ("POST", "/raft/messages") => {
                    by_target.entry("peer_batch").or_default().insert(body);
                    continue;
                }
                ("POST", "/admin/partition") => 0u8,
                ("POST", "/admin/members") => 1,
                ("POST", "/admin/transfer") => 2,
                ("POST", p) if p.ends_with("/cas") => 3,
                ("PUT", _) => 4,
                (_, p) if p.starts_with("/kv/") || p.starts_with("/admin/members/") => {
                    let seg = p.rsplit('/').next().unwrap_or("").as_bytes().to_vec();
                    let mut v = vec![5u8];
                    v.extend_from_slice(&seg);
                    by_target.entry("http_bodies").or_default().insert(v);
                    continue;
                }
                _ => continue,
            };
            let mut v = vec![selector];
            v.extend_from_slice(&body);
            by_target.entry("http_bodies").or_default().insert(v);
        }
    }
    for a in ["127.0.0.1:9", "[::1]:80", "host-1.example:65535"] {
        let mut v = vec![6u8];
        v.extend_from_slice(a.as_bytes());
        by_target.entry("http_bodies").or_default().insert(v);
    }
    for id in 1..=3 {
        let wal = std::fs::read(root.join(format!("node-{id}/raft.wal"))).expect("a log");
        by_target.entry("wal").or_default().extend(wal_seeds(&wal));
    }
    eprintln!("requests seen by node 3: {counts:?}");
    for (target, inputs) in by_target {
        let n = inputs.len();
        let kept = write_corpus(&args.out.join(target), inputs, args.max);
        println!(
            "{target}: {n} distinct inputs, {kept} kept in {}",
            args.out.join(target).display()
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
