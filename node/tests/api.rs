//! The HTTP API's edges with real processes: tokens (401 changes nothing), malformed
//! bodies (400 with a reason), size limits (413), redirects from ducks, refusing to
//! listen beyond loopback without a token, the data-dir lock, and the operator commands.

use std::time::Duration;

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

const TOKEN: &str = "s3cret-token";

fn send(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    request(addr, method, path, headers, body, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

#[test]
fn tokens_bad_bodies_and_size_limits() {
    let cluster = Cluster::start(
        BIN,
        "api",
        3,
        Opts {
            token: Token::Fixed(TOKEN.into()),
            extra: vec!["--max-peer-body".into(), "200000".into()],
            ..Opts::default()
        },
    );
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let addr = cluster.addr(goose);
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let wrong = [("Authorization", "Bearer nope")];

    // 401 without the token, or with a wrong one, on admin, peer and key-value routes;
    // and nothing changes.
    for headers in [&[][..], &wrong[..]] {
        for (method, path, body) in [
            ("POST", "/admin/partition", r#"{"block":[2]}"#),
            ("DELETE", "/admin/partition", ""),
            ("POST", "/admin/members", r#"{"id":9,"addr":"127.0.0.1:9"}"#),
            ("DELETE", "/admin/members/2", ""),
            ("POST", "/admin/transfer", r#"{"to":2}"#),
            ("POST", "/raft/messages", "garbage"),
            ("PUT", "/kv/secret", "x"),
            ("GET", "/kv/secret", ""),
        ] {
            let r = send(&addr, method, path, headers, body.as_bytes());
            assert_eq!(r.status, 401, "{method} {path} {headers:?}: {}", r.body);
        }
    }
    let s = cluster.status(goose).unwrap();
    assert_eq!(s["blocked"], serde_json::json!([]));
    assert_eq!(s["members"].as_array().unwrap().len(), 3);
    assert_eq!(s["role"], "goose", "no transfer happened");
    let r = send(&addr, "GET", "/kv/secret", &auth, b"");
    assert_eq!(r.status, 404, "the unauthenticated PUT wrote nothing");
    // Public routes need no token.
    for path in ["/role", "/goose", "/status", "/metrics"] {
        assert_eq!(send(&addr, "GET", path, &[], b"").status, 200, "{path}");
    }

    // 400 with a reason.
    for (method, path, body, reason) in [
        ("POST", "/admin/partition", "{nope", "malformed JSON"),
        (
            "POST",
            "/admin/partition",
            r#"{"block":"2"}"#,
            "malformed JSON",
        ),
        ("POST", "/admin/partition", r#"{"block":[0]}"#, "positive"),
        ("POST", "/admin/members", r#"{"id":6}"#, "malformed JSON"),
        (
            "POST",
            "/admin/members",
            r#"{"id":6,"addr":"nowhere"}"#,
            "host:port",
        ),
        (
            "POST",
            "/admin/members",
            r#"{"id":0,"addr":"127.0.0.1:1"}"#,
            "positive",
        ),
        ("DELETE", "/admin/members/abc", "", "positive integer"),
        ("POST", "/admin/transfer", "[]", "malformed JSON"),
        (
            "POST",
            "/raft/messages",
            "\u{ff}\u{ff}\u{ff}garbage",
            "malformed peer batch",
        ),
    ] {
        let r = send(&addr, method, path, &auth, body.as_bytes());
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.body);
        assert!(r.body.contains(reason), "{method} {path}: {}", r.body);
    }
    let long_key = "k".repeat(2000);
    let r = send(&addr, "PUT", &format!("/kv/{long_key}"), &auth, b"v");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = send(&addr, "PUT", "/kv/bin", &auth, &[0xff, 0xfe]);
    assert_eq!(r.status, 400, "{}", r.body);

    // 413 above the body limits.
    let big = vec![b'x'; 100 * 1024];
    let r = send(&addr, "PUT", "/kv/big", &auth, &big);
    assert_eq!(r.status, 413, "{}", r.body);
    let huge = vec![b'x'; 300 * 1024];
    let r = send(&addr, "POST", "/raft/messages", &auth, &huge);
    assert_eq!(r.status, 413, "{}", r.body);
    let r = send(&addr, "POST", "/admin/partition", &auth, &big);
    assert_eq!(r.status, 413, "{}", r.body);

    // Writes work with the token; a duck redirects to the goose.
    assert_eq!(send(&addr, "PUT", "/kv/a", &auth, b"1").status, 200);
    let r = send(&cluster.addr(duck), "GET", "/kv/a", &auth, b"");
    assert_eq!(r.status, 307);
    assert_eq!(
        r.header("location"),
        Some(format!("http://{addr}/kv/a").as_str())
    );
    let r = send(&addr, "GET", "/kv/a", &auth, b"");
    assert_eq!((r.status, r.body.as_str()), (200, "1"));
    assert_eq!(send(&addr, "DELETE", "/kv/a", &auth, b"").status, 200);
    assert_eq!(send(&addr, "GET", "/kv/a", &auth, b"").status, 404);

    // Nothing above hurt the cluster: same goose, no panics in any log.
    assert_eq!(cluster.wait_one_goose(&all, Duration::from_secs(5)), goose);
    for node in cluster.procs.values() {
        assert!(
            !node.log_tail(10_000).contains("panicked"),
            "node {}",
            node.id
        );
    }

    // The data dir is locked: a second process on node 1's directory refuses to start.
    let mut args: Vec<String> = cluster.node(1).args.clone();
    let port = free_ports(1)[0];
    let pos = args.iter().position(|a| a == "--listen").unwrap();
    args[pos + 1] = format!("127.0.0.1:{port}");
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (code, _, err) = run_bin(BIN, &args, Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("in use by another process"), "{err}");
}

#[test]
fn refuses_to_listen_beyond_loopback_without_a_token() {
    let dir = temp_dir("no-token");
    let port = free_ports(1)[0];
    let listen = format!("0.0.0.0:{port}");
    let data = dir.join("d").display().to_string();
    let (code, _, err) = run_bin(
        BIN,
        &[
            "node",
            "--id",
            "1",
            "--listen",
            &listen,
            "--advertise",
            "10.0.0.1:1",
            "--data-dir",
            &data,
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("refusing to listen"), "{err}");
    assert!(err.contains("--token"), "{err}");
    assert!(!dir.join("d").exists(), "refused before touching the disk");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_node_that_knows_no_goose_answers_421_and_503() {
    // A joiner pointed at a dead address never learns of a goose.
    let mut cluster = Cluster::new(BIN, "lonely", 0, Opts::default()).unwrap();
    let dead = format!("127.0.0.1:{}", free_ports(1)[0]);
    cluster.prepare_joiner(9, &dead).unwrap();
    cluster.spawn(9).unwrap();
    cluster.wait_serving(9);
    let addr = cluster.addr(9);
    let bearer = format!("Bearer {}", cluster.token.as_deref().unwrap());
    let auth = [("Authorization", bearer.as_str())];
    let r = send(&addr, "POST", "/admin/transfer", &auth, br#"{"to":1}"#);
    assert_eq!(r.status, 421, "{}", r.body);
    let r = send(
        &addr,
        "POST",
        "/admin/members",
        &auth,
        br#"{"id":5,"addr":"127.0.0.1:5"}"#,
    );
    assert_eq!(r.status, 421, "{}", r.body);
    let r = send(&addr, "GET", "/kv/x", &auth, b"");
    assert_eq!(r.status, 503, "{}", r.body);
    let r = send(&addr, "GET", "/goose", &[], b"");
    assert_eq!((r.status, r.body.as_str()), (503, "duck"));
    let r = send(&addr, "GET", "/role", &[], b"");
    assert_eq!((r.status, r.body.as_str()), (200, "duck"));
    let s = send(&addr, "GET", "/status", &[], b"").json();
    assert_eq!(s["leader"], serde_json::Value::Null);
    assert_eq!(s["members"], serde_json::json!([]));
}

#[test]
fn cluster_find_goose_and_admin_commands() {
    // The secure configuration a user would try: a token, HTTPS and mutual TLS between
    // the nodes (one certificate for 127.0.0.1, signed by a CA the commands trust).
    let dir = temp_dir("cluster-cmd");
    let ca = duckgoose_testkit::tls::Ca::new("cluster test CA");
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca.pem()).expect("write the CA");
    let (cert, key) = ca.leaf(1, &["127.0.0.1", "localhost"]).write(&dir, "node");
    let https = duckgoose_testkit::tls::https_client(&ca.pem(), None);
    let get_json = |url: &str, path: &str| -> Option<serde_json::Value> {
        let r = https.get(format!("https://{url}{path}")).send().ok()?;
        serde_json::from_str(&r.text().ok()?).ok()
    };
    // Every command gets the token and the CA the way an operator would set them once.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .env("DUCKGOOSE_TOKEN", TOKEN)
            .env("DUCKGOOSE_TLS_CA", &ca_path)
            .output()
            .expect("run a command");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ports = free_ports(4);
    // `cluster` wants consecutive ports: find a base whose 3 ports are free.
    let base = (20000..60000)
        .step_by(97)
        .map(|b: u16| b + (std::process::id() % 90) as u16)
        .find(|&b| (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", b + i)).is_ok()))
        .expect("a free port range");
    let child = std::process::Command::new(BIN)
        .args([
            "cluster",
            "--nodes",
            "3",
            "--base-port",
            &base.to_string(),
            "--data-dir",
            &dir.display().to_string(),
            "--tls-cert",
            &cert.display().to_string(),
            "--tls-key",
            &key.display().to_string(),
            "--tls-ca",
            &ca_path.display().to_string(),
        ])
        .env("DUCKGOOSE_TOKEN", TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn cluster");
    /// Stops the cluster process (SIGTERM, so it stops its nodes) whatever happens.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            if self.0.try_wait().ok().flatten().is_none() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &self.0.id().to_string()])
                    .status();
                for _ in 0..500 {
                    if self.0.try_wait().ok().flatten().is_some() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let mut guard = Guard(child);
    let urls: Vec<String> = (0..3).map(|i| format!("127.0.0.1:{}", base + i)).collect();
    let dead = format!("127.0.0.1:{}", ports[3]);
    let find = |urls: &[String]| {
        let mut args = vec!["find-goose"];
        args.extend(urls.iter().map(|s| s.as_str()));
        cli(&args).1
    };
    let out = wait_for("one goose in the cluster", Duration::from_secs(15), || {
        let mut with_dead = urls.clone();
        with_dead.push(dead.clone());
        let out = find(&with_dead);
        (out.matches(": goose").count() == 1 && out.matches(": duck").count() == 2).then_some(out)
    });
    // Without the CA a new user is told the node is up but speaks HTTPS, not "down".
    let (_, plain, _) = run_bin(BIN, &["find-goose", &urls[0]], Duration::from_secs(10));
    assert!(
        plain.contains("error:") && plain.contains("--tls-ca") && !plain.contains("down"),
        "{plain}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (line, url) in lines.iter().zip(&urls) {
        let port = url.rsplit(':').next().unwrap();
        assert!(
            *line == format!("{port}: goose") || *line == format!("{port}: duck"),
            "{line}"
        );
    }
    assert_eq!(lines[3], format!("{}: down", ports[3]));
    let goose_port: u16 = lines
        .iter()
        .find(|l| l.ends_with("goose"))
        .and_then(|l| l.split(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    let goose_id = u64::from(goose_port - base + 1);

    // transfer, partition --split and heal through the commands.
    let target = if goose_id == 1 { 2 } else { 1 };
    wait_for("node 1 to know the goose", Duration::from_secs(5), || {
        (get_json(&urls[0], "/status")?["leader"].as_u64()? == goose_id).then_some(())
    });
    let (code, out, err) = cli(&["transfer", &urls[0], "--to", &target.to_string()]);
    // Asked on a duck or on the goose, it works: a duck forwards it to the goose.
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("\"to\":{target}")), "{out}");
    wait_for(
        "the transfer target to be goose",
        Duration::from_secs(5),
        || {
            find(&urls)
                .contains(&format!("{}: goose", base + target as u16 - 1))
                .then_some(())
        },
    );
    let mut args = vec!["partition", "--split", "1"];
    args.extend(urls.iter().map(|s| s.as_str()));
    let (code, out, err) = cli(&args);
    assert_eq!(code, Some(0), "{out}{err}");
    wait_for("node 1 to be cut off", Duration::from_secs(5), || {
        let out = find(&urls);
        (out.contains(&format!("{}: duck", base)) && out.matches(": goose").count() == 1)
            .then_some(())
    });
    let mut args = vec!["heal"];
    args.extend(urls.iter().map(|s| s.as_str()));
    let (code, out, err) = cli(&args);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, _) = cli(&["status", &urls[0]]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"blocked\":[]"), "{out}");

    // SIGTERM stops the whole cluster.
    let pid = guard.0.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = wait_for("cluster to exit", Duration::from_secs(10), || {
        guard.0.try_wait().ok().flatten()
    });
    assert!(exited.success(), "{exited}");
    wait_for("every node to stop", Duration::from_secs(5), || {
        urls.iter()
            .all(|u| std::net::TcpStream::connect(u).is_err())
            .then_some(())
    });
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_node_setting_can_come_from_duckgoose_environment_variables() {
    // A one-node cluster configured only through the environment.
    let dir = temp_dir("env");
    let port = free_ports(1)[0];
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(BIN)
        .arg("node")
        .env("DUCKGOOSE_ID", "4")
        .env("DUCKGOOSE_LISTEN", &addr)
        .env("DUCKGOOSE_DATA_DIR", dir.join("d"))
        .env("DUCKGOOSE_TOKEN", TOKEN)
        .env("DUCKGOOSE_HEARTBEAT_MS", "20")
        .env("DUCKGOOSE_ELECTION_MS", "100-200")
        .env("DUCKGOOSE_MAX_BODY", "10")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let status = wait_for("the env-configured node", Duration::from_secs(10), || {
        let s = get(&addr, "/status").ok()?.json();
        (s["role"] == "goose").then_some(s)
    });
    assert_eq!(status["id"], 4);
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    assert_eq!(
        send(&addr, "PUT", "/kv/k", &[], b"v").status,
        401,
        "token from env"
    );
    assert_eq!(send(&addr, "PUT", "/kv/k", &auth, b"v").status, 200);
    assert_eq!(
        send(&addr, "PUT", "/kv/k", &auth, b"longer than ten bytes").status,
        413,
        "body limit from env"
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
