//! `duckgoose cluster`'s control API with real processes, in the secure configuration
//! (token, HTTPS, mutual TLS between nodes): it lists the children, crashes (kill -9),
//! restarts, pauses (SIGSTOP) and resumes them; it refuses a missing or wrong token and
//! bad input with clear errors; the nodes name it in `/status`; and stopping the cluster
//! also stops a paused child.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use duckgoose_testkit::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");
const TOKEN: &str = "control-test-token";

/// Stops the cluster process (SIGTERM, so it stops its nodes) whatever happens.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = signal(self.0.id(), "TERM");
            if poll(Duration::from_secs(10), || self.0.try_wait().ok().flatten()).is_none() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
}

struct Api {
    http: reqwest::blocking::Client,
    control: String,
}

impl Api {
    fn send(&self, method: &str, url: &str, headers: &[(&str, &str)]) -> Resp {
        request_with(
            &self.http,
            url,
            method,
            "",
            headers,
            b"",
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    fn act(&self, id: u64, action: &str) -> Resp {
        let bearer = format!("Bearer {TOKEN}");
        let url = format!("{}/nodes/{id}/{action}", self.control);
        self.send("POST", &url, &[("Authorization", &bearer)])
    }

    fn nodes(&self) -> Vec<Value> {
        let r = self.send("GET", &format!("{}/nodes", self.control), &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["nodes"].as_array().cloned().unwrap_or_default()
    }

    fn get(&self, url: &str, path: &str, timeout: Duration) -> Option<Resp> {
        request_with(&self.http, url, "GET", path, &[], b"", timeout).ok()
    }

    fn goose_among(&self, urls: &[(u64, String)]) -> Option<u64> {
        let geese: Vec<u64> = urls
            .iter()
            .filter(|(_, url)| {
                self.get(url, "/goose", Duration::from_millis(800))
                    .is_some_and(|r| r.status == 200)
            })
            .map(|(id, _)| *id)
            .collect();
        (geese.len() == 1).then(|| geese[0])
    }
}

#[test]
fn the_control_api_crashes_restarts_pauses_and_resumes_nodes() {
    let dir = temp_dir("cluster-control");
    let ca = duckgoose_testkit::tls::Ca::new("control test CA");
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca.pem()).expect("write the CA");
    let (cert, key) = ca.leaf(1, &["127.0.0.1"]).write(&dir, "node");
    let base = (20000..60000)
        .step_by(89)
        .map(|b: u16| b + (std::process::id() % 80) as u16)
        .find(|&b| (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", b + i)).is_ok()))
        .expect("a free port range");
    let mut child = Command::new(BIN)
        .args(["cluster", "--nodes", "3", "--base-port", &base.to_string()])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("--tls-ca")
        .arg(&ca_path)
        .env("DUCKGOOSE_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cluster");
    let out = Arc::new(Mutex::new(String::new()));
    let stdout = child.stdout.take().expect("piped stdout");
    let sink = out.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut out = sink.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
    let mut guard = Guard(child);
    let printed = |prefix: &str| -> Option<String> {
        let out = out.lock().unwrap();
        let line = out.lines().find(|l| l.starts_with(prefix))?;
        Some(line.rsplit(' ').next()?.to_string())
    };
    let control_nodes = wait_for("the control API's URL", Duration::from_secs(10), || {
        printed("control API")
    });
    let control = control_nodes.trim_end_matches("/nodes").to_string();
    assert!(control.starts_with("https://127.0.0.1:"), "{control}");
    let page = wait_for("the page's URL", Duration::from_secs(10), || {
        let out = out.lock().unwrap();
        let line = out.lines().find(|l| l.starts_with("playground, live: "))?;
        Some(line.split(' ').nth(2)?.to_string())
    });
    assert_eq!(page, format!("https://127.0.0.1:{base}/"));

    let api = Api {
        http: duckgoose_testkit::tls::https_client(&ca.pem(), None),
        control: control.clone(),
    };
    let urls: Vec<(u64, String)> = (1..=3)
        .map(|id| (id, format!("https://127.0.0.1:{}", base + id as u16 - 1)))
        .collect();
    let nodes = api.nodes();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    for (n, (id, url)) in nodes.iter().zip(&urls) {
        assert_eq!(n["id"], *id);
        assert_eq!(n["url"], url.as_str());
        assert_eq!(n["state"], "running");
        assert!(n["pid"].as_u64().is_some(), "{n}");
    }

    // Nodes name the control API in /status, for the page to find.
    let status = wait_for("node 1's status", Duration::from_secs(10), || {
        api.get(&urls[0].1, "/status", Duration::from_secs(2))
            .filter(|r| r.status == 200)
    });
    assert_eq!(status.json()["cluster_control"], control.as_str());

    // Pages served by the nodes may call it from a browser; others may not read it.
    let r = api.send(
        "GET",
        &format!("{control}/nodes"),
        &[("Origin", &urls[1].1)],
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(urls[1].1.as_str())
    );
    let r = api.send(
        "GET",
        &format!("{control}/nodes"),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(r.header("access-control-allow-origin"), None);

    // No token, a wrong token, bad input: refused, and nothing happens.
    let crash1 = format!("{control}/nodes/1/crash");
    let r = api.send("POST", &crash1, &[]);
    assert_eq!(r.status, 401);
    assert!(
        r.body.contains("missing or wrong bearer token"),
        "{}",
        r.body
    );
    let r = api.send("POST", &crash1, &[("Authorization", "Bearer nope")]);
    assert_eq!(r.status, 401);
    let bearer = format!("Bearer {TOKEN}");
    for (path, status, words) in [
        ("/nodes/abc/crash", 400, "positive integers"),
        ("/nodes/0/crash", 400, "positive integers"),
        ("/nodes/9/crash", 404, "no node 9"),
        ("/nodes/1/explode", 404, "crash, restart, pause or resume"),
    ] {
        let r = api.send(
            "POST",
            &format!("{control}{path}"),
            &[("Authorization", &bearer)],
        );
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.body.contains(words), "{path}: {}", r.body);
    }
    assert!(api.nodes().iter().all(|n| n["state"] == "running"));

    // Crash the goose: its process is gone, another node becomes the goose.
    let goose = wait_for("one goose", Duration::from_secs(15), || {
        api.goose_among(&urls)
    });
    let old_pid = api.nodes()[goose as usize - 1]["pid"].as_u64().unwrap();
    let r = api.act(goose, "crash");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "exited");
    assert_eq!(r.json()["pid"], Value::Null);
    assert!(
        !std::path::Path::new(&format!("/proc/{old_pid}")).exists(),
        "pid {old_pid} is gone"
    );
    let others: Vec<(u64, String)> = urls
        .iter()
        .filter(|(id, _)| *id != goose)
        .cloned()
        .collect();
    let successor = wait_for("a new goose", Duration::from_secs(10), || {
        api.goose_among(&others)
    });
    assert_ne!(successor, goose);
    let r = api.act(goose, "crash");
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"], "wrong_state");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("not running")
    );
    let r = api.act(goose, "pause");
    assert_eq!(r.status, 409, "{}", r.body);

    // Restart it: a new process on the same data, serving again.
    let r = api.act(goose, "restart");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "running");
    assert_ne!(r.json()["pid"].as_u64(), Some(old_pid));
    let url = &urls[goose as usize - 1].1;
    wait_for(
        "the restarted node to serve",
        Duration::from_secs(10),
        || {
            api.get(url, "/status", Duration::from_secs(1))
                .filter(|r| r.status == 200)
        },
    );
    assert_eq!(api.act(goose, "restart").status, 409, "it is running");

    // Pause a duck: it stops answering; resume it: it answers again.
    let duck = others
        .iter()
        .find(|(id, _)| *id != successor)
        .unwrap()
        .clone();
    let r = api.act(duck.0, "pause");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "paused");
    assert!(
        api.get(&duck.1, "/status", Duration::from_millis(500))
            .is_none(),
        "a paused node does not answer"
    );
    assert_eq!(api.act(duck.0, "pause").status, 409);
    let r = api.act(duck.0, "resume");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "running");
    wait_for("the resumed node to answer", Duration::from_secs(5), || {
        api.get(&duck.1, "/status", Duration::from_secs(1))
            .filter(|r| r.status == 200)
    });
    assert_eq!(api.act(duck.0, "resume").status, 409);

    // Stopping the cluster stops a paused child too (SIGCONT, then SIGTERM).
    assert_eq!(api.act(duck.0, "pause").status, 200);
    let pids: Vec<u64> = api
        .nodes()
        .iter()
        .filter_map(|n| n["pid"].as_u64())
        .collect();
    assert_eq!(pids.len(), 3);
    signal(guard.0.id(), "TERM").expect("SIGTERM the cluster");
    let exited = poll(Duration::from_secs(10), || {
        guard.0.try_wait().ok().flatten()
    });
    assert!(
        exited.is_some_and(|s| s.success()),
        "the cluster stops: {exited:?}"
    );
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "node pid {pid} is gone"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
