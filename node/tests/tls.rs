//! TLS with real processes: a cluster on HTTPS with mutual TLS between peers and a
//! token; the operator commands and a joiner with `--tls-ca`; who the handshake and the
//! peer routes refuse; plain HTTP to a TLS port; clear start-up errors; certificates
//! reloaded without a restart.

use std::path::Path;
use std::time::Duration;

use duckgoose_testkit::tls::{Ca, Validity, https_client, server_cert, write_atomically};
use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    run_bin(BIN, args, Duration::from_secs(20))
}

#[test]
fn a_mutual_tls_cluster_elects_serves_and_refuses_strangers() {
    let mut cluster = Cluster::start_tls(BIN, "tls", 3, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let tls = cluster.tls.as_ref().expect("a TLS cluster");
    let ca_pem = tls.ca.pem();
    let ca_path = tls.ca_path.display().to_string();
    let token = cluster.token.clone().expect("a token");
    let bearer = format!("Bearer {token}");

    // The goose answers /goose and commits writes over HTTPS (peers reach each other
    // over mutual TLS, or nothing would commit).
    let resp = cluster
        .request(goose, "GET", "/goose", &[], b"", Duration::from_secs(5))
        .expect("GET /goose over https");
    assert_eq!((resp.status, resp.body.as_str()), (200, "goose"));
    let put = cluster
        .put(goose, "greeting", "hello")
        .expect("PUT over https");
    assert_eq!(put.status, 200, "{}", put.body);
    let got = cluster
        .call(goose, "GET", "/kv/greeting", "")
        .expect("GET over https");
    assert_eq!((got.status, got.body.as_str()), (200, "hello"));
    // A duck redirects to the goose's https URL.
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let redirect = cluster.call(duck, "GET", "/kv/greeting", "").unwrap();
    assert_eq!(redirect.status, 307);
    let location = redirect.header("location").unwrap_or_default();
    assert!(
        location.starts_with(&format!("https://{}", cluster.addr(goose))),
        "{location}"
    );

    // The operator commands with --tls-ca: bare host:port means https.
    let addrs: Vec<String> = all.iter().map(|&id| cluster.addr(id)).collect();
    let mut args = vec!["find-goose", "--tls-ca", &ca_path];
    args.extend(addrs.iter().map(|a| a.as_str()));
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.matches("goose").count(), 1, "{out}");
    assert_eq!(out.matches("duck").count(), 2, "{out}");
    let goose_addr = cluster.addr(goose);
    let (code, out, err) = run(&[
        "status",
        &goose_addr,
        "--tls-ca",
        &ca_path,
        "--token",
        &token,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"role\":\"goose\""), "{out}");
    // Without --tls-ca the operator command cannot verify the node.
    let (code, _, err) = run(&["status", &format!("https://{goose_addr}")]);
    assert_eq!(code, Some(1), "{err}");
    let to = duck.to_string();
    let (code, out, err) = run(&[
        "transfer",
        &goose_addr,
        "--to",
        &to,
        "--tls-ca",
        &ca_path,
        "--token",
        &token,
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(cluster.wait_one_goose(&all, Duration::from_secs(10)), duck);
    let goose = duck;

    // A client without a certificate: the client API serves it, peer routes refuse it
    // with 403 and a typed error (even with the token).
    let certless = https_client(&ca_pem, None);
    let url = cluster.url(goose);
    let role = request_with(
        &certless,
        &url,
        "GET",
        "/role",
        &[],
        b"",
        Duration::from_secs(5),
    )
    .expect("/role without a client certificate");
    assert_eq!(role.status, 200);
    let auth = [("Authorization", bearer.as_str())];
    let peer = request_with(
        &certless,
        &url,
        "POST",
        "/raft/messages",
        &auth,
        b"x",
        Duration::from_secs(5),
    )
    .expect("a peer route without a client certificate");
    assert_eq!(peer.status, 403, "{}", peer.body);
    assert_eq!(
        peer.json()["error"],
        "client_cert_required",
        "{}",
        peer.body
    );

    // A certificate the CA signed passes the check (the token is still required, and
    // the body is then checked).
    let member = tls.ca.leaf(900, &["127.0.0.1"]);
    let with_cert = https_client(&ca_pem, Some(&member));
    let no_token = request_with(
        &with_cert,
        &url,
        "POST",
        "/raft/messages",
        &[],
        b"x",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(no_token.status, 401, "{}", no_token.body);
    let garbage = request_with(
        &with_cert,
        &url,
        "POST",
        "/raft/messages",
        &auth,
        b"x",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(garbage.status, 400, "{}", garbage.body);

    // A certificate from another CA is refused at the handshake, even for /role.
    let stranger = Ca::new("stranger").leaf(901, &["127.0.0.1"]);
    let refused = request_with(
        &https_client(&ca_pem, Some(&stranger)),
        &url,
        "GET",
        "/role",
        &[],
        b"",
        Duration::from_secs(5),
    );
    assert!(refused.is_err(), "a wrong-CA client got {refused:?}");

    // Plain HTTP to the TLS port fails for that client; the node keeps serving HTTPS.
    let plain = request(
        &cluster.addr(goose),
        "GET",
        "/role",
        &[],
        b"",
        Duration::from_secs(5),
    );
    assert!(plain.is_err(), "plain HTTP got {plain:?}");
    assert_eq!(cluster.role(goose).as_deref(), Some("goose"));

    // A joiner with --tls-ca joins over mutual TLS and becomes a voter.
    let via = cluster.node(1).peer_addr.clone();
    cluster.prepare_joiner(4, &via).unwrap();
    cluster.spawn(4).unwrap();
    cluster.wait_serving(4);
    wait_for("node 4 to be a member", Duration::from_secs(15), || {
        let members = cluster.status(goose)?["members"].as_array()?.len();
        (members == 4).then_some(())
    });
    let all = cluster.ids();
    cluster.wait_one_goose(&all, Duration::from_secs(10));
    let put = cluster.put(goose, "after-join", "yes").unwrap();
    assert_eq!(put.status, 200, "{}", put.body);

    for node in cluster.procs.values() {
        assert!(
            !node.log_tail(10_000).contains("panicked"),
            "node {}",
            node.id
        );
    }
}

#[test]
fn certificates_reload_without_a_restart() {
    let mut cluster = Cluster::start_tls(BIN, "tls-reload", 3, Opts::default());
    let all = cluster.ids();
    cluster.wait_one_goose(&all, Duration::from_secs(10));
    let ca_pem = cluster.tls.as_ref().unwrap().ca.pem();
    let addr = cluster.addr(1);
    let pid = cluster.node(1).child.as_ref().unwrap().id();
    let before = server_cert(&addr, "127.0.0.1", &ca_pem).expect("a TLS handshake");

    // New files (new serial): a fresh connection soon sees the new certificate.
    let renewed = cluster.renew_cert(1).unwrap();
    assert_ne!(renewed, before);
    wait_for(
        "node 1 to serve its new certificate",
        Duration::from_secs(10),
        || (server_cert(&addr, "127.0.0.1", &ca_pem).ok()? == renewed).then_some(()),
    );
    assert_eq!(cluster.node(1).child.as_ref().unwrap().id(), pid);
    assert!(cluster.is_running(1));
    assert_eq!(cluster.node(1).starts, 1);

    // A bad file is logged and the node keeps serving the certificate it had.
    let (cert, _) = cluster.node(1).tls_files.clone().unwrap();
    write_atomically(&cert, "not a certificate\n");
    wait_for(
        "the failed reload in the log",
        Duration::from_secs(10),
        || {
            cluster
                .log_tail(1, 200)
                .contains("TLS certificate reload failed (file change)")
                .then_some(())
        },
    );
    assert_eq!(server_cert(&addr, "127.0.0.1", &ca_pem).unwrap(), renewed);
    // SIGHUP reloads too (still failing here, and saying so).
    signal(pid, "HUP").unwrap();
    wait_for(
        "the SIGHUP reload in the log",
        Duration::from_secs(10),
        || {
            cluster
                .log_tail(1, 200)
                .contains("TLS certificate reload failed (SIGHUP)")
                .then_some(())
        },
    );
    assert!(cluster.is_running(1));
    assert_eq!(server_cert(&addr, "127.0.0.1", &ca_pem).unwrap(), renewed);

    // Good files again, and the cluster still works with the rotated identities.
    let again = cluster.renew_cert(1).unwrap();
    wait_for(
        "node 1 to serve its newest certificate",
        Duration::from_secs(10),
        || (server_cert(&addr, "127.0.0.1", &ca_pem).ok()? == again).then_some(()),
    );
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    let put = cluster.put(goose, "rotated", "yes").unwrap();
    assert_eq!(put.status, 200, "{}", put.body);
}

/// `duckgoose node` with these TLS files on a loopback port, which must refuse to start
/// before touching its data directory: (exit code, stderr).
fn start_with(dir: &Path, cert: &Path, key: &Path, ca: Option<&Path>) -> (Option<i32>, String) {
    let port = free_ports(1)[0];
    let listen = format!("127.0.0.1:{port}");
    let data = dir.join("data");
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let data_arg = data.display().to_string();
    let mut args = vec![
        "node",
        "--id",
        "1",
        "--listen",
        &listen,
        "--data-dir",
        &data_arg,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    let ca = ca.map(|c| c.display().to_string());
    if let Some(ca) = &ca {
        args.extend(["--tls-ca", ca.as_str()]);
    }
    let (code, _, err) = run(&args);
    assert!(!data.exists(), "refused before touching the disk: {err}");
    (code, err)
}

#[test]
fn bad_tls_files_are_clear_start_up_errors() {
    let dir = temp_dir("tls-errors");
    let ca = Ca::new("errors");
    let (good_cert, good_key) = ca.leaf(1, &["127.0.0.1"]).write(&dir, "good");
    let (_, other_key) = ca.leaf(2, &["127.0.0.1"]).write(&dir, "other");
    let (expired_cert, expired_key) = ca
        .leaf_valid(3, &["127.0.0.1"], Validity::Expired)
        .write(&dir, "expired");
    let (future_cert, future_key) = ca
        .leaf_valid(4, &["127.0.0.1"], Validity::NotYet)
        .write(&dir, "future");
    let missing = dir.join("missing.crt");
    let garbage = dir.join("garbage.crt");
    std::fs::write(&garbage, "hello\n").unwrap();
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca.pem()).unwrap();

    // What any other configuration error exits with (a wildcard bind without a token).
    let port = free_ports(1)[0];
    let (config_error, _, err) = run(&[
        "node",
        "--id",
        "1",
        "--listen",
        &format!("0.0.0.0:{port}"),
        "--advertise",
        "10.0.0.1:1",
        "--data-dir",
        &dir.join("data").display().to_string(),
    ]);
    assert!(err.contains("refusing to listen"), "{err}");
    assert_ne!(config_error, Some(0));

    let cases: [(&Path, &Path, &[&str]); 6] = [
        (
            &good_cert,
            &other_key,
            &["does not match", "good.crt", "other.key"],
        ),
        (&expired_cert, &expired_key, &["expired", "expired.crt"]),
        (&future_cert, &future_key, &["not valid yet", "future.crt"]),
        (&missing, &good_key, &["cannot read", "missing.crt"]),
        (&garbage, &good_key, &["no PEM certificate", "garbage.crt"]),
        (&good_cert, &garbage, &["--tls-key", "garbage.crt"]),
    ];
    for (cert, key, needles) in cases {
        let (code, err) = start_with(&dir, cert, key, Some(&ca_path));
        assert_eq!(code, config_error, "{err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, err) = start_with(&dir, &good_cert, &good_key, Some(&missing));
    assert_eq!(code, config_error, "{err}");
    assert!(
        err.contains("--tls-ca") && err.contains("missing.crt"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
