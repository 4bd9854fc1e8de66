//! `duckgoose cluster`: a local cluster of child processes for trying things out. The
//! [`Supervisor`] owns the children (start, crash with SIGKILL, restart, pause with
//! SIGSTOP, resume); `cluster_control` serves it to the playground's live mode.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rustix::process::{Pid, Signal};
use serde::Serialize;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::cli::ClusterArgs;

struct Node {
    id: u64,
    args: Vec<String>,
    child: Option<Child>,
    /// Stopped with SIGSTOP by the control API.
    paused: bool,
    /// Its exit was asked for (a crash from the control API) or already printed.
    exit_expected: bool,
}

/// A child node as the control API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: u64,
    pub url: String,
    /// While the process exists.
    pub pid: Option<u32>,
    pub state: NodeState,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    Running,
    /// Stopped with SIGSTOP: alive, but it neither answers nor notices time passing.
    Paused,
    /// Not running (crashed, killed or failed); `restart` starts it again.
    Exited,
}

/// Why a control request did nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum ControlError {
    NoSuchNode(u64),
    /// The action does not apply in the node's current state.
    WrongState {
        id: u64,
        state: NodeState,
        action: &'static str,
    },
    /// Starting or signalling the process failed.
    Failed(String),
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlError::NoSuchNode(id) => write!(f, "this cluster has no node {id}"),
            ControlError::WrongState { id, state, action } => {
                let state = match state {
                    NodeState::Running => "running",
                    NodeState::Paused => "paused",
                    NodeState::Exited => "not running",
                };
                write!(f, "cannot {action} node {id}: it is {state}")
            }
            ControlError::Failed(e) => f.write_str(e),
        }
    }
}

/// The cluster's children and how to start them again.
pub struct Supervisor {
    exe: PathBuf,
    dir: PathBuf,
    token: Option<String>,
    scheme: &'static str,
    base_port: u16,
    nodes: Mutex<Vec<Node>>,
}

fn node_args(args: &ClusterArgs, id: u64, dir: &Path, control: Option<&str>) -> Vec<String> {
    let mut v = vec![
        "node".to_string(),
        "--id".into(),
        id.to_string(),
        "--listen".into(),
        format!("127.0.0.1:{}", port(args.base_port, id)),
        "--data-dir".into(),
        dir.join(format!("node-{id}")).display().to_string(),
        "--heartbeat-ms".into(),
        args.heartbeat_ms.to_string(),
        "--election-ms".into(),
        args.election_ms.clone(),
    ];
    for peer in (1..=args.nodes).filter(|&p| p != id) {
        v.push("--peer".into());
        v.push(format!("{peer}=127.0.0.1:{}", port(args.base_port, peer)));
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
    if let Some(url) = control {
        v.push("--cluster-control".into());
        v.push(url.to_string());
    }
    v
}

/// Node `id` listens on `base + id - 1`.
fn port(base: u16, id: u64) -> u64 {
    u64::from(base) + id - 1
}

fn signal(child: &Child, sig: Signal) -> Result<(), ControlError> {
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .and_then(Pid::from_raw)
        .ok_or_else(|| ControlError::Failed("the process is gone".into()))?;
    rustix::process::kill_process(pid, sig)
        .map_err(|e| ControlError::Failed(format!("cannot signal pid {pid}: {e}")))
}

impl Node {
    /// Reaps an exited child; its state after that.
    fn state(&mut self) -> NodeState {
        if let Some(child) = &mut self.child
            && !matches!(child.try_wait(), Ok(None))
        {
            // Exited, or cannot be waited for: either way it is not running.
            self.child = None;
        }
        match (&self.child, self.paused) {
            (None, _) => NodeState::Exited,
            (Some(_), true) => NodeState::Paused,
            (Some(_), false) => NodeState::Running,
        }
    }
}

impl Supervisor {
    pub fn url(&self, id: u64) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, port(self.base_port, id))
    }

    fn info(&self, node: &mut Node) -> NodeInfo {
        let state = node.state();
        NodeInfo {
            id: node.id,
            url: self.url(node.id),
            pid: node.child.as_ref().and_then(Child::id),
            state,
        }
    }

    pub async fn list(&self) -> Vec<NodeInfo> {
        let mut nodes = self.nodes.lock().await;
        nodes.iter_mut().map(|n| self.info(n)).collect()
    }

    /// Runs `f` on node `id`, then answers its new state.
    async fn with_node(
        &self,
        id: u64,
        f: impl FnOnce(&Self, &mut Node, NodeState) -> Result<(), ControlError>,
    ) -> Result<NodeInfo, ControlError> {
        let mut nodes = self.nodes.lock().await;
        let node = nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or(ControlError::NoSuchNode(id))?;
        let state = node.state();
        f(self, node, state)?;
        Ok(self.info(node))
    }

    /// `kill -9`: the node stops at once, without a handoff, as on a power cut. Answers
    /// once the process is gone (so a restart right after finds its port and data free).
    pub async fn crash(&self, id: u64) -> Result<NodeInfo, ControlError> {
        let mut nodes = self.nodes.lock().await;
        let node = nodes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or(ControlError::NoSuchNode(id))?;
        let state = node.state();
        let Some(child) = &mut node.child else {
            return Err(ControlError::WrongState {
                id,
                state,
                action: "crash",
            });
        };
        // SIGKILL ends a stopped (paused) process too.
        child
            .kill()
            .await
            .map_err(|e| ControlError::Failed(format!("cannot kill node {id}: {e}")))?;
        node.child = None;
        node.paused = false;
        node.exit_expected = true;
        println!("node {id} crashed (kill -9) by the control API");
        Ok(self.info(node))
    }

    /// Starts a node that is not running again, on its data directory.
    pub async fn restart(&self, id: u64) -> Result<NodeInfo, ControlError> {
        self.with_node(id, |sup, node, state| {
            if state != NodeState::Exited {
                return Err(ControlError::WrongState {
                    id,
                    state,
                    action: "restart",
                });
            }
            let pid = sup.spawn(node).map_err(ControlError::Failed)?;
            println!("node {id} restarted by the control API, pid {pid}");
            Ok(())
        })
        .await
    }

    /// SIGSTOP: the process freezes, its sockets stay open.
    pub async fn pause(&self, id: u64) -> Result<NodeInfo, ControlError> {
        self.stop_or_continue(id, true).await
    }

    /// SIGCONT after a pause.
    pub async fn resume(&self, id: u64) -> Result<NodeInfo, ControlError> {
        self.stop_or_continue(id, false).await
    }

    /// Pause (SIGSTOP) a running node, or resume (SIGCONT) a paused one.
    async fn stop_or_continue(&self, id: u64, pause: bool) -> Result<NodeInfo, ControlError> {
        let (from, sig, action, done) = if pause {
            (
                NodeState::Running,
                Signal::STOP,
                "pause",
                "paused (SIGSTOP)",
            )
        } else {
            (
                NodeState::Paused,
                Signal::CONT,
                "resume",
                "resumed (SIGCONT)",
            )
        };
        self.with_node(id, |_, node, state| match (&node.child, state) {
            (Some(child), s) if s == from => {
                signal(child, sig)?;
                node.paused = pause;
                println!("node {id} {done} by the control API");
                Ok(())
            }
            _ => Err(ControlError::WrongState { id, state, action }),
        })
        .await
    }

    fn spawn(&self, node: &mut Node) -> Result<u32, String> {
        let log_path = self.dir.join(format!("node-{}.log", node.id));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let mut cmd = Command::new(&self.exe);
        cmd.args(&node.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        // Children must not inherit the parent's cluster-wide settings as node flags.
        for var in [
            "DUCKGOOSE_NODES",
            "DUCKGOOSE_BASE_PORT",
            "DUCKGOOSE_CONTROL_PORT",
            "DUCKGOOSE_DATA_DIR",
            "DUCKGOOSE_TLS_CERT",
            "DUCKGOOSE_TLS_KEY",
            "DUCKGOOSE_TLS_CA",
        ] {
            cmd.env_remove(var);
        }
        if let Some(t) = &self.token {
            cmd.env("DUCKGOOSE_TOKEN", t);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start node {}: {e}", node.id))?;
        let pid = child.id().unwrap_or(0);
        node.child = Some(child);
        node.paused = false;
        node.exit_expected = false;
        Ok(pid)
    }

    /// Notices children that exited on their own and says how to restart them.
    async fn report_exits(&self) {
        let mut nodes = self.nodes.lock().await;
        for node in nodes.iter_mut() {
            let had_child = node.child.is_some();
            if had_child && node.state() == NodeState::Exited && !node.exit_expected {
                node.exit_expected = true;
                let env = if self.token.is_some() {
                    "DUCKGOOSE_TOKEN=<token> "
                } else {
                    ""
                };
                println!(
                    "node {} exited; restart it from the page, or with:\n  {env}{} {}",
                    node.id,
                    self.exe.display(),
                    node.args.join(" ")
                );
            }
        }
    }

    /// SIGTERM to every child (SIGCONT first to a paused one, or it could not act on
    /// it), then SIGKILL to any still running after `grace`.
    async fn stop_all(&self, grace: Duration) {
        let mut nodes = self.nodes.lock().await;
        for node in nodes.iter_mut() {
            if let Some(child) = &node.child {
                if node.paused {
                    let _ = signal(child, Signal::CONT);
                    node.paused = false;
                }
                // SIGTERM first, so each node stops serving and flushes its logs.
                let _ = signal(child, Signal::TERM);
            }
        }
        for node in nodes.iter_mut() {
            if let Some(mut child) = node.child.take()
                && tokio::time::timeout(grace, child.wait()).await.is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

pub async fn run(args: ClusterArgs) -> Result<(), String> {
    if args.nodes == 0 || args.nodes > 99 {
        return Err("--nodes must be between 1 and 99".into());
    }
    if port(args.base_port, args.nodes) > 65535 {
        return Err("ports would run past 65535".into());
    }
    if args.token.as_deref() == Some("") {
        return Err("--token must not be empty".into());
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

    let supervisor = Arc::new(Supervisor {
        exe: exe.clone(),
        dir: dir.clone(),
        token: args.token.clone(),
        scheme,
        base_port: args.base_port,
        nodes: Mutex::new(Vec::new()),
    });
    let control = crate::cluster_control::start(&args, supervisor.clone()).await?;
    {
        let mut nodes = supervisor.nodes.lock().await;
        *nodes = (1..=args.nodes)
            .map(|id| Node {
                id,
                args: node_args(&args, id, &dir, Some(&control.url)),
                child: None,
                paused: false,
                exit_expected: false,
            })
            .collect();
        println!(
            "starting {} nodes; data and logs in {}",
            args.nodes,
            dir.display()
        );
        for node in nodes.iter_mut() {
            let pid = supervisor.spawn(node)?;
            println!(
                "node {}  {}  pid {pid}  log {}",
                node.id,
                supervisor.url(node.id),
                dir.join(format!("node-{}.log", node.id)).display()
            );
        }
    }
    let urls: Vec<String> = (1..=args.nodes).map(|id| supervisor.url(id)).collect();
    let ca = match &args.tls_ca {
        Some(ca) => format!(" --tls-ca {}", ca.display()),
        None if args.tls_cert.is_some() => " --tls-ca <the CA of --tls-cert>".to_string(),
        None => String::new(),
    };
    println!("try: {} find-goose{ca} {}", exe.display(), urls.join(" "));
    println!(
        "control API (crash, restart, pause, resume): {}/nodes",
        control.url
    );
    let token_hint = if args.token.is_some() {
        " (type the cluster's token into the page)"
    } else {
        ""
    };
    println!("playground, live: {}/{token_hint}", supervisor.url(1));
    println!("Ctrl-C stops every node.");

    let stop = crate::node::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        supervisor.report_exits().await;
    }
    println!("stopping the cluster");
    control.stop();
    // A goose may wait up to twice the longest election timeout for a handoff.
    let election_max = crate::cli::parse_range(&args.election_ms).map_or(300, |(_, hi)| hi);
    let grace = Duration::from_millis(2 * election_max) + Duration::from_secs(3);
    supervisor.stop_all(grace).await;
    println!("stopped");
    Ok(())
}
