//! The `duckgoose node` processes a test or the nemesis owns: founders and joiners, on
//! loopback or each in its own network namespace; start, `kill -9`, SIGTERM, SIGSTOP /
//! SIGCONT, restart on the same data directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::net::{self, Netns};
use crate::tls::{Ca, https_client};
use crate::{NodeId, Resp, poll, request_with, signal, wait_for};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Running,
    Paused,
    /// Killed or stopped; restartable.
    Down,
    /// Removed from the cluster and stopped for good.
    Removed,
}

/// The bearer token every node gets. The secure configuration is the default.
#[derive(Clone, Debug, Default)]
pub enum Token {
    /// A fresh token, unique to the cluster.
    #[default]
    Generated,
    Fixed(String),
    /// No `--token`: every route is open (loopback only). A test opts into this.
    Open,
}

#[derive(Default)]
pub struct Opts {
    pub token: Token,
    /// Arguments appended to every node's command line.
    pub extra: Vec<String>,
    /// Where data dirs and logs go (default: a fresh temp dir).
    pub root: Option<PathBuf>,
    /// Keep `root` on drop (the nemesis keeps its run's files).
    pub keep_files: bool,
    /// Passes `--seed` (derived from this and the id) to every node.
    pub seed: Option<u64>,
    /// Runs each node in its own network namespace.
    pub netns: Option<Netns>,
}

/// A TLS cluster's CA and the client its request helpers use.
pub struct ClusterTls {
    pub ca: Ca,
    /// `ROOT/tls/ca.crt`: what nodes get as `--tls-ca`.
    pub ca_path: PathBuf,
    pub client: reqwest::blocking::Client,
    next_serial: u64,
}

pub struct Proc {
    pub id: NodeId,
    /// Where the test reaches the node.
    pub client_addr: String,
    /// Where peers reach it (`--advertise`).
    pub peer_addr: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    /// `--tls-cert` and `--tls-key`, in a TLS cluster.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    pub args: Vec<String>,
    /// Environment variables set for the process (e.g. `HOSTNAME`).
    pub env: Vec<(String, String)>,
    pub child: Option<Child>,
    pub state: State,
    /// Starts so far.
    pub starts: u32,
}

impl Proc {
    /// Where the test reaches the node (`host:port`).
    pub fn addr(&self) -> &str {
        &self.client_addr
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

pub struct Cluster {
    pub bin: PathBuf,
    pub root: PathBuf,
    pub token: Option<String>,
    pub procs: BTreeMap<NodeId, Proc>,
    pub net: Option<Netns>,
    pub tls: Option<ClusterTls>,
    extra: Vec<String>,
    seed: Option<u64>,
    keep_files: bool,
}

impl Cluster {
    /// Prepares (does not start) `n` founders with ids `1..=n`.
    pub fn new(bin: impl Into<PathBuf>, name: &str, n: u64, opts: Opts) -> Result<Cluster, String> {
        Cluster::prepare(bin, name, n, opts, false)
    }

    /// Like [`Cluster::new`], serving HTTPS with mutual TLS between peers: the cluster
    /// makes a CA and a certificate per node (in `ROOT/tls/`), passes `--tls-cert`,
    /// `--tls-key` and `--tls-ca`, and its request helpers speak https, trusting the CA.
    pub fn new_tls(
        bin: impl Into<PathBuf>,
        name: &str,
        n: u64,
        opts: Opts,
    ) -> Result<Cluster, String> {
        Cluster::prepare(bin, name, n, opts, true)
    }

    fn prepare(
        bin: impl Into<PathBuf>,
        name: &str,
        n: u64,
        opts: Opts,
        tls: bool,
    ) -> Result<Cluster, String> {
        let root = match opts.root {
            Some(root) => {
                fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
                root
            }
            None => crate::temp_dir(name),
        };
        let token = match opts.token {
            Token::Generated => Some(format!("testkit-{name}-{}", crate::unique())),
            Token::Fixed(t) => Some(t),
            Token::Open => None,
        };
        let tls = if tls {
            let dir = root.join("tls");
            fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let ca = Ca::new(&format!("duckgoose test CA {name}"));
            let ca_path = dir.join("ca.crt");
            fs::write(&ca_path, ca.pem()).map_err(|e| format!("{}: {e}", ca_path.display()))?;
            let client = https_client(&ca.pem(), None);
            Some(ClusterTls {
                ca,
                ca_path,
                client,
                next_serial: 1,
            })
        } else {
            None
        };
        let mut cluster = Cluster {
            bin: bin.into(),
            root,
            token,
            procs: BTreeMap::new(),
            net: opts.netns,
            tls,
            extra: opts.extra,
            seed: opts.seed,
            keep_files: opts.keep_files,
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

    /// `n` founders, started, each serving HTTP. Panics if one does not come up.
    pub fn start(bin: impl Into<PathBuf>, name: &str, n: u64, opts: Opts) -> Cluster {
        Cluster::launch(Cluster::new(bin, name, n, opts).expect("prepare the cluster"))
    }

    /// Like [`Cluster::start`], TLS as [`Cluster::new_tls`] says.
    pub fn start_tls(bin: impl Into<PathBuf>, name: &str, n: u64, opts: Opts) -> Cluster {
        Cluster::launch(Cluster::new_tls(bin, name, n, opts).expect("prepare the cluster"))
    }

    fn launch(mut cluster: Cluster) -> Cluster {
        for id in cluster.ids() {
            cluster.spawn(id).expect("start a node");
        }
        for id in cluster.ids() {
            cluster.wait_serving(id);
        }
        cluster
    }

    /// Addresses for node `id`: (client, peer).
    fn allocate(&mut self, id: NodeId) -> Result<(String, String), String> {
        match &mut self.net {
            Some(net) => {
                net.add_node(id)?;
                Ok((net.control_addr(id), net.cluster_addr(id)))
            }
            None => {
                let addr = format!("127.0.0.1:{}", crate::try_free_ports(1)?[0]);
                Ok((addr.clone(), addr))
            }
        }
    }

    fn add_proc(&mut self, id: NodeId, client_addr: String, peer_addr: String, more: Vec<String>) {
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
        ];
        if let Some(t) = &self.token {
            args.extend(["--token".into(), t.clone()]);
        }
        let tls_files = self
            .issue_cert(id, &[&client_addr, &peer_addr])
            .map(|(files, _)| files);
        if let (Some((cert, key)), Some(tls)) = (&tls_files, &self.tls) {
            args.extend([
                "--tls-cert".into(),
                cert.display().to_string(),
                "--tls-key".into(),
                key.display().to_string(),
                "--tls-ca".into(),
                tls.ca_path.display().to_string(),
            ]);
        }
        if let Some(seed) = self.seed {
            let seed = seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            args.extend(["--seed".into(), seed.to_string()]);
        }
        args.extend(more);
        args.extend(self.extra.iter().cloned());
        self.procs.insert(
            id,
            Proc {
                id,
                client_addr,
                peer_addr,
                log: self.root.join(format!("node-{id}.log")),
                dir,
                tls_files,
                args,
                env: Vec::new(),
                child: None,
                state: State::Down,
                starts: 0,
            },
        );
    }

    /// Replaces node `id`'s certificate and key files with a fresh certificate (new
    /// serial, same names), as an operator rotating it would: the DER of the new one.
    /// `None` outside a TLS cluster.
    pub fn renew_cert(&mut self, id: NodeId) -> Option<Vec<u8>> {
        let p = self.procs.get(&id)?;
        let (client, peer) = (p.client_addr.clone(), p.peer_addr.clone());
        self.issue_cert(id, &[&client, &peer]).map(|(_, der)| der)
    }

    /// In a TLS cluster, a fresh certificate (new serial) for node `id`, valid for the
    /// hosts of `addrs`, 127.0.0.1 and localhost, written to `ROOT/tls/node-ID.{crt,key}`:
    /// the files and the certificate's DER.
    fn issue_cert(&mut self, id: NodeId, addrs: &[&str]) -> Option<((PathBuf, PathBuf), Vec<u8>)> {
        let tls = self.tls.as_mut()?;
        let mut hosts = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        for addr in addrs {
            let host = addr.rsplit_once(':').map_or(*addr, |(h, _)| h);
            if !hosts.iter().any(|h| h == host) {
                hosts.push(host.to_string());
            }
        }
        let hosts: Vec<&str> = hosts.iter().map(|h| h.as_str()).collect();
        let leaf = tls.ca.leaf(tls.next_serial, &hosts);
        tls.next_serial += 1;
        Some((
            leaf.write(&self.root.join("tls"), &format!("node-{id}")),
            leaf.der,
        ))
    }

    /// The PEM of a TLS cluster's CA (what clients must trust); `None` without TLS.
    pub fn ca_pem(&self) -> Option<String> {
        self.tls.as_ref().map(|tls| tls.ca.pem())
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// `scheme://host:port` of node `id`, as the test reaches it.
    pub fn url(&self, id: NodeId) -> String {
        format!("{}://{}", self.scheme(), self.addr(id))
    }

    /// A fresh node `id` (not started) that joins through `via`, a member's peer address.
    pub fn prepare_joiner(&mut self, id: NodeId, via: &str) -> Result<(), String> {
        let (client, peer) = self.allocate(id)?;
        let join = format!("{}://{via}", self.scheme());
        self.add_proc(id, client, peer, vec!["--join".into(), join]);
        Ok(())
    }

    pub fn proc(&self, id: NodeId) -> Option<&Proc> {
        self.procs.get(&id)
    }

    /// Node `id`; panics if there is none.
    pub fn node(&self, id: NodeId) -> &Proc {
        self.proc(id).unwrap_or_else(|| panic!("no node {id}"))
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Proc {
        self.procs
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// Where the test reaches node `id`.
    pub fn addr(&self, id: NodeId) -> String {
        self.node(id).client_addr.clone()
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.procs.keys().copied().collect()
    }

    pub fn ids_in(&self, state: State) -> Vec<NodeId> {
        self.procs
            .values()
            .filter(|p| p.state == state)
            .map(|p| p.id)
            .collect()
    }

    pub fn data_dir(&self, id: NodeId) -> Option<&Path> {
        self.procs.get(&id).map(|p| p.dir.as_path())
    }

    // ---- Processes -------------------------------------------------------------------

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
            .env_remove("DUCKGOOSE_TLS_CERT")
            .env_remove("DUCKGOOSE_TLS_KEY")
            .env_remove("DUCKGOOSE_TLS_CA")
            .env("DUCKGOOSE_LOG", "info")
            .envs(p.env.iter().map(|(k, v)| (k, v)))
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

    /// Polls until node `id` answers HTTP; panics after 10 s.
    pub fn wait_serving(&self, id: NodeId) {
        wait_for(
            &format!("node {id} to serve on {}", self.url(id)),
            Duration::from_secs(10),
            || {
                self.request(id, "GET", "/metrics", &[], b"", Duration::from_secs(5))
                    .ok()
            },
        );
    }

    /// `kill -9` (works on a paused node too), then reap.
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
        let status = poll(grace, || child.try_wait().ok().flatten());
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

    /// `kill -9`, start again on the same data directory, wait until it serves.
    pub fn restart(&mut self, id: NodeId) {
        self.kill9(id);
        self.spawn(id).expect("restart a node");
        self.wait_serving(id);
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

    /// Is node `id`'s process alive (not reaped)?
    pub fn is_running(&mut self, id: NodeId) -> bool {
        match self.procs.get_mut(&id).and_then(|p| p.child.as_mut()) {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// Nodes that exited without being asked: (id, exit status).
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
        self.proc(id).map(|p| p.log_tail(lines)).unwrap_or_default()
    }

    pub fn dump_logs(&self) {
        for p in self.procs.values() {
            eprintln!("---- node {} log (tail) ----\n{}", p.id, p.log_tail(40));
        }
    }

    /// Kills every process.
    pub fn shutdown(&mut self) {
        for id in self.ids() {
            self.kill9(id);
        }
    }

    // ---- HTTP (blocking; not for use on an async runtime's threads) -------------------

    /// `Authorization: Bearer <token>`, if the cluster has a token.
    pub fn auth(&self) -> Vec<(&'static str, String)> {
        self.token
            .iter()
            .map(|t| ("Authorization", format!("Bearer {t}")))
            .collect()
    }

    /// The client the request helpers use: the testkit's plain one, or in a TLS cluster
    /// one that trusts the cluster's CA (and presents no client certificate).
    pub fn http(&self) -> &reqwest::blocking::Client {
        match &self.tls {
            Some(tls) => &tls.client,
            None => crate::http::client(),
        }
    }

    /// One request to node `id` over the cluster's scheme, with exactly `headers`.
    pub fn request(
        &self,
        id: NodeId,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> std::io::Result<Resp> {
        request_with(
            self.http(),
            &self.url(id),
            method,
            path,
            headers,
            body,
            timeout,
        )
    }

    /// A request to node `id` carrying the cluster's token (and a JSON content type
    /// when there is a body).
    pub fn call(&self, id: NodeId, method: &str, path: &str, body: &str) -> std::io::Result<Resp> {
        let auth = self.auth();
        let mut headers: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        self.request(
            id,
            method,
            path,
            &headers,
            body.as_bytes(),
            Duration::from_secs(10),
        )
    }

    /// Asks node `from` to hand leadership to `to` (`POST /admin/transfer`) and asserts
    /// that it answered 200 (the transfer is done once `to` leads).
    pub fn transfer(&self, from: NodeId, to: NodeId) {
        let r = self
            .call(
                from,
                "POST",
                "/admin/transfer",
                &format!(r#"{{"to":{to}}}"#),
            )
            .expect("transfer");
        assert_eq!(r.status, 200, "transfer: {}", r.body);
    }

    pub fn put(&self, id: NodeId, key: &str, value: &str) -> std::io::Result<Resp> {
        self.call(id, "PUT", &format!("/kv/{key}"), value)
    }

    /// `goose`, `duck`, or `None` when down.
    pub fn role(&self, id: NodeId) -> Option<String> {
        self.request(id, "GET", "/role", &[], b"", Duration::from_millis(1500))
            .ok()
            .filter(|r| r.status == 200)
            .map(|r| r.body)
    }

    pub fn status(&self, id: NodeId) -> Option<serde_json::Value> {
        self.request(id, "GET", "/status", &[], b"", Duration::from_secs(5))
            .ok()
            .filter(|r| r.status == 200)
            .map(|r| r.json())
    }

    /// The value of node `id`'s Prometheus sample `name` (for example
    /// `duckgoose_pre_votes_started_total`), `None` when down or absent.
    pub fn metric(&self, id: NodeId, name: &str) -> Option<f64> {
        let body = self
            .request(id, "GET", "/metrics", &[], b"", Duration::from_secs(5))
            .ok()
            .filter(|r| r.status == 200)?
            .body;
        body.lines().find_map(|line| {
            let (sample, value) = line.rsplit_once(' ')?;
            let metric = sample.split('{').next()?;
            (metric == name).then(|| value.parse().ok()).flatten()
        })
    }

    /// Polls until each of `ids` has started `rounds` more pre-vote rounds than now: proof
    /// that that many election timeouts passed on those nodes with no leader heard.
    /// Panics after `timeout`.
    pub fn wait_pre_votes(&self, ids: &[NodeId], rounds: f64, timeout: Duration) {
        const PRE_VOTES: &str = "duckgoose_pre_votes_started_total";
        let start: Vec<f64> = ids
            .iter()
            .map(|&id| self.metric(id, PRE_VOTES).unwrap_or(0.0))
            .collect();
        wait_for(
            &format!("{rounds} more pre-vote rounds on each of {ids:?}"),
            timeout,
            || {
                ids.iter()
                    .zip(&start)
                    .all(|(&id, &before)| {
                        self.metric(id, PRE_VOTES)
                            .is_some_and(|now| now >= before + rounds)
                    })
                    .then_some(())
            },
        );
    }

    /// Cuts `side_a` off from `side_b` in both directions, through each node's
    /// `POST /admin/partition` (it replaces that node's blocked set).
    pub fn partition(&self, side_a: &[NodeId], side_b: &[NodeId]) -> Result<(), String> {
        for (side, other) in [(side_a, side_b), (side_b, side_a)] {
            for &id in side {
                let body = serde_json::json!({ "block": other }).to_string();
                let r = self
                    .call(id, "POST", "/admin/partition", &body)
                    .map_err(|e| format!("partition node {id}: {e}"))?;
                if r.status != 200 {
                    return Err(format!("partition node {id}: {} {}", r.status, r.body));
                }
            }
        }
        Ok(())
    }

    /// Undoes [`Cluster::partition`] on `ids` (`DELETE /admin/partition`).
    pub fn heal(&self, ids: &[NodeId]) -> Result<(), String> {
        for &id in ids {
            let r = self
                .call(id, "DELETE", "/admin/partition", "")
                .map_err(|e| format!("heal node {id}: {e}"))?;
            if r.status != 200 {
                return Err(format!("heal node {id}: {} {}", r.status, r.body));
            }
        }
        Ok(())
    }

    /// The roles of `ids`, asked concurrently.
    pub fn roles(&self, ids: &[NodeId]) -> Vec<(NodeId, Option<String>)> {
        std::thread::scope(|s| {
            let handles: Vec<_> = ids
                .iter()
                .map(|&id| (id, s.spawn(move || self.role(id))))
                .collect();
            handles
                .into_iter()
                .map(|(id, h)| (id, h.join().unwrap_or(None)))
                .collect()
        })
    }

    /// Exactly one of `ids` answers goose and every other one duck: that goose.
    pub fn one_goose(&self, ids: &[NodeId]) -> Option<NodeId> {
        let roles = self.roles(ids);
        let geese: Vec<NodeId> = roles
            .iter()
            .filter(|(_, r)| r.as_deref() == Some("goose"))
            .map(|(id, _)| *id)
            .collect();
        let all_answered = roles.iter().all(|(_, r)| r.is_some());
        (geese.len() == 1 && all_answered).then(|| geese[0])
    }

    /// Waits until exactly one of `ids` answers goose and every other one answers duck.
    pub fn wait_one_goose(&self, ids: &[NodeId], timeout: Duration) -> NodeId {
        wait_for(&format!("exactly one goose among {ids:?}"), timeout, || {
            self.one_goose(ids)
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Processes first: the namespaces they run in go when `net` drops, after this.
        self.shutdown();
        if std::thread::panicking() {
            self.dump_logs();
            eprintln!("(files kept in {})", self.root.display());
        } else if !self.keep_files {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}
