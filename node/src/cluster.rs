//! `duckgoose cluster`: a local cluster of child processes for trying things out.

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::cli::ClusterArgs;

struct Node {
    id: u64,
    args: Vec<String>,
    child: Option<Child>,
}

fn node_args(args: &ClusterArgs, id: u64, dir: &Path) -> Vec<String> {
    let port = |i: u64| u64::from(args.base_port) + i - 1;
    let mut v = vec![
        "node".to_string(),
        "--id".into(),
        id.to_string(),
        "--listen".into(),
        format!("127.0.0.1:{}", port(id)),
        "--data-dir".into(),
        dir.join(format!("node-{id}")).display().to_string(),
        "--heartbeat-ms".into(),
        args.heartbeat_ms.to_string(),
        "--election-ms".into(),
        args.election_ms.clone(),
    ];
    for peer in (1..=args.nodes).filter(|&p| p != id) {
        v.push("--peer".into());
        v.push(format!("{peer}=127.0.0.1:{}", port(peer)));
    }
    for (flag, file) in [
        ("--tls-cert", &args.tls_cert),
        ("--tls-key", &args.tls_key),
        ("--tls-ca", &args.tls_ca),
    ] {
        if let Some(file) = file {
            v.push(flag.into());
            v.push(file.display().to_string());
        }
    }
    v
}

fn spawn(exe: &Path, dir: &Path, node: &mut Node, token: Option<&str>) -> Result<u32, String> {
    let log_path = dir.join(format!("node-{}.log", node.id));
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let mut cmd = Command::new(exe);
    cmd.args(&node.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    // Children must not inherit the parent's cluster-wide settings as node flags.
    for var in [
        "DUCKGOOSE_NODES",
        "DUCKGOOSE_BASE_PORT",
        "DUCKGOOSE_DATA_DIR",
        "DUCKGOOSE_TLS_CERT",
        "DUCKGOOSE_TLS_KEY",
        "DUCKGOOSE_TLS_CA",
    ] {
        cmd.env_remove(var);
    }
    if let Some(t) = token {
        cmd.env("DUCKGOOSE_TOKEN", t);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start node {}: {e}", node.id))?;
    let pid = child.id().unwrap_or(0);
    node.child = Some(child);
    Ok(pid)
}

pub async fn run(args: ClusterArgs) -> Result<(), String> {
    if args.nodes == 0 || args.nodes > 99 {
        return Err("--nodes must be between 1 and 99".into());
    }
    if u64::from(args.base_port) + args.nodes - 1 > 65535 {
        return Err("ports would run past 65535".into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own binary: {e}"))?;
    fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
    let dir = fs::canonicalize(&args.data_dir)
        .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
    // Absolute paths, so the restart commands printed below work from any directory.
    let mut args = args;
    for file in [&mut args.tls_cert, &mut args.tls_key, &mut args.tls_ca]
        .into_iter()
        .flatten()
    {
        *file = fs::canonicalize(&*file).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    let mut nodes: Vec<Node> = (1..=args.nodes)
        .map(|id| Node {
            id,
            args: node_args(&args, id, &dir),
            child: None,
        })
        .collect();
    println!(
        "starting {} nodes; data and logs in {}",
        args.nodes,
        dir.display()
    );
    for node in &mut nodes {
        let pid = spawn(&exe, &dir, node, args.token.as_deref())?;
        println!(
            "node {}  {scheme}://127.0.0.1:{}  pid {pid}  log {}",
            node.id,
            u64::from(args.base_port) + node.id - 1,
            dir.join(format!("node-{}.log", node.id)).display()
        );
    }
    let urls: Vec<String> = (1..=args.nodes)
        .map(|id| {
            format!(
                "{scheme}://127.0.0.1:{}",
                u64::from(args.base_port) + id - 1
            )
        })
        .collect();
    let ca = match &args.tls_ca {
        Some(ca) => format!(" --tls-ca {}", ca.display()),
        None if args.tls_cert.is_some() => " --tls-ca <the CA of --tls-cert>".to_string(),
        None => String::new(),
    };
    println!("try: {} find-goose{ca} {}", exe.display(), urls.join(" "));
    println!("Ctrl-C stops every node.");

    let mut reported = vec![false; nodes.len()];
    let stop = crate::node::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        for (i, node) in nodes.iter_mut().enumerate() {
            let Some(child) = &mut node.child else {
                continue;
            };
            if let Ok(Some(status)) = child.try_wait() {
                if !reported[i] {
                    reported[i] = true;
                    let env = if args.token.is_some() {
                        "DUCKGOOSE_TOKEN=<token> "
                    } else {
                        ""
                    };
                    println!(
                        "node {} exited ({status}); restart it with:\n  {env}{} {}",
                        node.id,
                        exe.display(),
                        node.args.join(" ")
                    );
                }
                node.child = None;
            }
        }
    }
    println!("stopping the cluster");
    for node in &mut nodes {
        if let Some(child) = &mut node.child
            && let Some(pid) = child.id()
        {
            // SIGTERM first, so each node stops serving and flushes its logs.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
    // A goose may wait up to twice the longest election timeout for a handoff.
    let election_max = crate::cli::parse_range(&args.election_ms).map_or(300, |(_, hi)| hi);
    let grace = Duration::from_millis(2 * election_max) + Duration::from_secs(3);
    for node in &mut nodes {
        if let Some(mut child) = node.child.take() {
            match tokio::time::timeout(grace, child.wait()).await {
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill().await;
                }
            }
        }
    }
    println!("stopped");
    Ok(())
}
