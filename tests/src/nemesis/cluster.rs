//! The `duckgoose node` processes the nemesis owns: start, `kill -9`, SIGTERM, SIGSTOP /
//! SIGCONT, restart on the same data directory, join a fresh node; on loopback or, with
//! [`Netns`], each in its own network namespace.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::history::NodeId;
use super::net::{self, Netns};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Running,
    Paused,
    /// Killed or stopped by the nemesis; restartable.
    Down,
    /// Removed from the cluster and stopped for good.
    Removed,
}

pub struct Proc {
    pub id: NodeId,
    /// Where the nemesis reaches the node.
    pub client_addr: String,
    /// Where peers reach it (`--advertise`).
    pub peer_addr: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    pub args: Vec<String>,
    pub child: Option<Child>,
    pub state: State,
    /// Starts so far.
    pub starts: u32,
}

pub struct Cluster {
    pub bin: PathBuf,
    pub root: PathBuf,
    pub token: String,
    pub procs: BTreeMap<NodeId, Proc>,
    pub net: Option<Netns>,
    seed: u64,
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn signal(pid: u32, sig: &str) -> Result<(), String> {
    let out = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .output()
        .map_err(|e| format!("kill -s {sig} {pid}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "kill -s {sig} {pid}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Cluster {
    /// Prepares (does not start) `n` founders with ids `1..=n`.
    pub fn new(
        bin: PathBuf,
        root: PathBuf,
        n: u64,
        net: Option<Netns>,
        seed: u64,
    ) -> Result<Cluster, String> {
        let mut cluster = Cluster {
            bin,
            root,
            token: format!("nemesis-{seed:x}"),
            procs: BTreeMap::new(),
            net,
            seed,
        };
        let mut addrs = BTreeMap::new();
        for id in 1..=n {
            addrs.insert(id, cluster.allocate(id)?);
        }
        for id in 1..=n {
            let peers: Vec<String> = addrs
                .iter()
                .filter(|(other, _)| **other != id)
                .flat_map(|(other, (_, peer))| ["--peer".to_string(), format!("{other}={peer}")])
                .collect();
            let (client, peer) = addrs[&id].clone();
            cluster.add_proc(id, client, peer, peers);
        }
        Ok(cluster)
    }

    /// Addresses for node `id`: (client, peer).
    fn allocate(&mut self, id: NodeId) -> Result<(String, String), String> {
        match &mut self.net {
            Some(net) => {
                net.add_node(id)?;
                Ok((net.control_addr(id), net.cluster_addr(id)))
            }
            None => {
                let addr = format!("127.0.0.1:{}", free_port()?);
                Ok((addr.clone(), addr))
            }
        }
    }

    fn add_proc(&mut self, id: NodeId, client_addr: String, peer_addr: String, extra: Vec<String>) {
        let dir = self.root.join(format!("node-{id}"));
        let listen = if self.net.is_some() {
            format!("0.0.0.0:{}", net::PORT)
        } else {
            peer_addr.clone()
        };
        let mut args = vec![
            "node".to_string(),
            "--id".into(),
            id.to_string(),
            "--listen".into(),
            listen,
            "--advertise".into(),
            peer_addr.clone(),
            "--data-dir".into(),
            dir.display().to_string(),
            "--token".into(),
            self.token.clone(),
            "--request-timeout-ms".into(),
            "2000".into(),
            "--seed".into(),
            (self.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_string(),
        ];
        args.extend(extra);
        self.procs.insert(
            id,
            Proc {
                id,
                client_addr,
                peer_addr,
                log: self.root.join(format!("node-{id}.log")),
                dir,
                args,
                child: None,
                state: State::Down,
                starts: 0,
            },
        );
    }

    /// A fresh node `id` that joins through `via` (a member's peer address).
    pub fn prepare_joiner(&mut self, id: NodeId, via: &str) -> Result<(), String> {
        let (client, peer) = self.allocate(id)?;
        self.add_proc(
            id,
            client,
            peer,
            vec!["--join".into(), format!("http://{via}")],
        );
        Ok(())
    }

    pub fn proc(&self, id: NodeId) -> Option<&Proc> {
        self.procs.get(&id)
    }

    pub fn ids_in(&self, state: State) -> Vec<NodeId> {
        self.procs
            .values()
            .filter(|p| p.state == state)
            .map(|p| p.id)
            .collect()
    }

    /// Starts node `id` (on its existing data directory, if any).
    pub fn spawn(&mut self, id: NodeId) -> Result<(), String> {
        let prefix = self.net.as_ref().map(|n| n.exec_prefix(id));
        let p = self.procs.get_mut(&id).ok_or(format!("no node {id}"))?;
        if p.child.is_some() {
            return Err(format!("node {id} is already running"));
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p.log)
            .map_err(|e| format!("{}: {e}", p.log.display()))?;
        let mut cmd = match &prefix {
            Some(prefix) => {
                let mut c = Command::new("ip");
                c.args(prefix).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        let child = cmd
            .args(&p.args)
            .env_remove("DUCKGOOSE_TOKEN")
            .env("DUCKGOOSE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start node {id}: {e}"))?;
        p.child = Some(child);
        p.state = State::Running;
        p.starts += 1;
        Ok(())
    }

    /// `kill -9` (resuming a paused node first is not needed: SIGKILL works on it).
    pub fn kill9(&mut self, id: NodeId) -> Option<ExitStatus> {
        let p = self.procs.get_mut(&id)?;
        let mut child = p.child.take()?;
        let _ = child.kill();
        let status = child.wait().ok();
        if p.state != State::Removed {
            p.state = State::Down;
        }
        status
    }

    /// SIGTERM, then `kill -9` if it has not exited within `grace`.
    pub fn terminate(&mut self, id: NodeId, grace: Duration) -> Option<ExitStatus> {
        let p = self.procs.get_mut(&id)?;
        let child = p.child.as_mut()?;
        if p.state == State::Paused {
            let _ = signal(child.id(), "CONT");
        }
        let _ = signal(child.id(), "TERM");
        let deadline = Instant::now() + grace;
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut child = p.child.take()?;
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if p.state != State::Removed {
            p.state = State::Down;
        }
        status
    }

    pub fn pause(&mut self, id: NodeId) -> Result<(), String> {
        let p = self.procs.get_mut(&id).ok_or("no such node")?;
        let pid = p.child.as_ref().ok_or("not running")?.id();
        signal(pid, "STOP")?;
        p.state = State::Paused;
        Ok(())
    }

    pub fn resume(&mut self, id: NodeId) -> Result<(), String> {
        let p = self.procs.get_mut(&id).ok_or("no such node")?;
        let pid = p.child.as_ref().ok_or("not running")?.id();
        signal(pid, "CONT")?;
        p.state = State::Running;
        Ok(())
    }

    pub fn mark_removed(&mut self, id: NodeId) {
        if let Some(p) = self.procs.get_mut(&id) {
            p.state = State::Removed;
        }
    }

    /// Nodes that exited without the nemesis asking: (id, exit status).
    pub fn reap(&mut self) -> Vec<(NodeId, ExitStatus)> {
        let mut exited = Vec::new();
        for p in self.procs.values_mut() {
            if let Some(child) = &mut p.child
                && let Ok(Some(status)) = child.try_wait()
            {
                p.child = None;
                if p.state != State::Removed {
                    p.state = State::Down;
                }
                exited.push((p.id, status));
            }
        }
        exited
    }

    pub fn log_tail(&self, id: NodeId, lines: usize) -> String {
        let Some(p) = self.procs.get(&id) else {
            return String::new();
        };
        let text = fs::read_to_string(&p.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Kills every process (the nemesis is done or giving up).
    pub fn shutdown(&mut self) {
        let ids: Vec<NodeId> = self.procs.keys().copied().collect();
        for id in ids {
            self.kill9(id);
        }
    }

    pub fn data_dir(&self, id: NodeId) -> Option<&Path> {
        self.procs.get(&id).map(|p| p.dir.as_path())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}
