//! The command line: `duckgoose node|cluster|find-goose|status|partition|heal|add|remove|
//! transfer|inspect`. Every flag can also be set with a `DUCKGOOSE_*` environment variable.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use duckgoose_core::NodeId;

#[derive(Parser, Debug)]
#[command(
    name = "duckgoose",
    version,
    about = "Duck Duck Goose: a Raft cluster where exactly one node is the goose",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the node variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one node.
    Node(NodeArgs),
    /// Start a local cluster of nodes as child processes; Ctrl-C stops them all.
    Cluster(ClusterArgs),
    /// Ask each node "duck or goose?" and print one line per node.
    FindGoose(FindGooseArgs),
    /// Print a node's /status JSON.
    Status(TargetArgs),
    /// GET a URL (e.g. `http://127.0.0.1:9900/readyz`) and exit 0 only on a 2xx answer:
    /// a container health check for images without curl.
    Probe(TargetArgs),
    /// Make nodes drop all Raft traffic to and from some ids.
    Partition(PartitionArgs),
    /// Undo `partition` on nodes.
    Heal(HealArgs),
    /// Add a voter (sent to the goose; answers once the change commits).
    Add(AddArgs),
    /// Remove a voter (sent to the goose; answers once the change commits).
    Remove(RemoveArgs),
    /// Hand the goose role to another node.
    Transfer(TransferArgs),
    /// Print what a stopped node's data directory holds (term, vote, log) as JSON.
    Inspect(InspectArgs),
}

/// `2=127.0.0.1:9902`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub id: NodeId,
    pub addr: String,
}

fn parse_peer(s: &str) -> Result<Peer, String> {
    let (id, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("expected ID=HOST:PORT, got {s:?}"))?;
    let id: NodeId = id
        .trim()
        .parse()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| format!("peer id must be a positive integer, got {id:?}"))?;
    let addr = addr.trim().to_string();
    if !crate::http::valid_addr(&addr) {
        return Err(format!("peer address must be HOST:PORT, got {addr:?}"));
    }
    Ok(Peer { id, addr })
}

fn parse_id(s: &str) -> Result<NodeId, String> {
    s.trim()
        .parse::<NodeId>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| format!("node ids are positive integers, got {s:?}"))
}

/// `150-300`
pub(crate) fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("expected MIN-MAX in ms, got {s:?}"))?;
    let lo: u64 = lo.trim().parse().map_err(|e| format!("{lo:?}: {e}"))?;
    let hi: u64 = hi.trim().parse().map_err(|e| format!("{hi:?}: {e}"))?;
    if lo == 0 || hi <= lo {
        return Err(format!("need 0 < MIN < MAX, got {lo}-{hi}"));
    }
    Ok((lo, hi))
}

#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// This node's id (a positive integer, unique in the cluster). With
    /// --peers-from-dns it defaults to the host name's ordinal plus one (`duckgoose-0`
    /// is id 1).
    #[arg(long, env = "DUCKGOOSE_ID", value_parser = parse_id, required_unless_present = "peers_from_dns")]
    pub id: Option<NodeId>,
    /// Address to serve HTTP on (clients, admin and peers).
    #[arg(long, env = "DUCKGOOSE_LISTEN")]
    pub listen: String,
    /// Address other nodes use to reach this one (default: --listen).
    #[arg(long, env = "DUCKGOOSE_ADVERTISE")]
    pub advertise: Option<String>,
    /// A founding peer, ID=HOST:PORT; repeat for each. Only read on first start: after
    /// that the membership on disk wins.
    #[arg(long = "peer", env = "DUCKGOOSE_PEER", value_delimiter = ',', value_parser = parse_peer)]
    pub peers: Vec<Peer>,
    /// Join a running cluster through any member's URL instead of founding one.
    #[arg(long, env = "DUCKGOOSE_JOIN", conflicts_with = "peers")]
    pub join: Option<String>,
    /// Find the founding peers, or the members to join through, in this DNS name's SRV
    /// records (a StatefulSet's headless Service, e.g.
    /// `_peer._tcp.duckgoose.default.svc.cluster.local`): each target's pod ordinal
    /// gives its id. Only read on first start. See docs/node.md, "DNS discovery".
    #[arg(long, env = "DUCKGOOSE_PEERS_FROM_DNS", conflicts_with_all = ["peers", "join"], requires = "initial_size")]
    pub peers_from_dns: Option<String>,
    /// With --peers-from-dns: ids 1..=N found the cluster (wait until DNS lists all of
    /// them); a node with a higher id joins it.
    #[arg(long, env = "DUCKGOOSE_INITIAL_SIZE", value_parser = parse_id, requires = "peers_from_dns")]
    pub initial_size: Option<u64>,
    /// With --peers-from-dns: ask this DNS server (IP:PORT) instead of the system's
    /// (/etc/resolv.conf), for discovery and for peers' names. Meant for tests.
    #[arg(long, env = "DUCKGOOSE_DNS_SERVER", requires = "peers_from_dns")]
    pub dns_server: Option<std::net::SocketAddr>,
    /// With --peers-from-dns: how long to wait for DNS to list the members, in ms,
    /// before exiting with an error.
    #[arg(long, env = "DUCKGOOSE_DNS_WAIT_MS", default_value_t = 300_000)]
    pub dns_wait_ms: u64,
    /// Directory for the log, term and vote (created if missing; locked while running).
    #[arg(long, env = "DUCKGOOSE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Shared secret: peer, admin and key-value requests must carry
    /// `Authorization: Bearer <token>`. Required to listen on a non-loopback address.
    #[arg(long, env = "DUCKGOOSE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Serve HTTPS with this PEM certificate (chain) instead of plain HTTP. Reloaded on
    /// SIGHUP and when the file changes.
    #[arg(long, env = "DUCKGOOSE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "DUCKGOOSE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s) that sign the nodes' certificates: peer traffic becomes
    /// mutual TLS (peers present their certificate as client identity and are verified
    /// against this CA), and --join verifies the member it asks.
    #[arg(long, env = "DUCKGOOSE_TLS_CA", requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
    /// Leader heartbeat interval in ms.
    #[arg(long, env = "DUCKGOOSE_HEARTBEAT_MS", default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Election timeout range in ms (MIN is also the CheckQuorum window and leader
    /// stickiness).
    #[arg(long, env = "DUCKGOOSE_ELECTION_MS", default_value = "150-300", value_parser = parse_range)]
    pub election_ms: (u64, u64),
    /// How long a client request may wait for its outcome, in ms.
    #[arg(long, env = "DUCKGOOSE_REQUEST_TIMEOUT_MS", default_value_t = 5000)]
    pub request_timeout_ms: u64,
    /// Largest client/admin request body in bytes (413 above).
    #[arg(long, env = "DUCKGOOSE_MAX_BODY", default_value_t = 64 * 1024)]
    pub max_body: usize,
    /// Largest peer request body in bytes (413 above).
    #[arg(long, env = "DUCKGOOSE_MAX_PEER_BODY", default_value_t = 32 << 20)]
    pub max_peer_body: usize,
    /// Client requests waiting at once before new ones get 503.
    #[arg(long, env = "DUCKGOOSE_MAX_INFLIGHT", default_value_t = 10_000)]
    pub max_inflight: usize,
    /// Goose watchers (`GET /goose/watch` streams and blocking `GET /goose` queries)
    /// open at once before new ones get 503.
    #[arg(long, env = "DUCKGOOSE_MAX_WATCHERS", default_value_t = 1024)]
    pub max_watchers: usize,
    /// Idle time in ms after which a watch stream sends a `: keepalive` comment.
    #[arg(long, env = "DUCKGOOSE_WATCH_KEEPALIVE_MS", default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub watch_keepalive_ms: u64,
    /// Compact the log into a snapshot once this many entries were applied since the
    /// last one (0: never). The WAL is cut after each snapshot.
    #[arg(long, env = "DUCKGOOSE_SNAPSHOT_ENTRIES", default_value_t = crate::runtime::DEFAULT_SNAPSHOT_ENTRIES)]
    pub snapshot_entries: u64,
    /// Seed for the election-timeout jitter (default: random).
    #[arg(long, env = "DUCKGOOSE_SEED")]
    pub seed: Option<u64>,
    /// Log filter (tracing syntax, e.g. `info` or `duckgoose=debug`).
    #[arg(long, env = "DUCKGOOSE_LOG", default_value = "info")]
    pub log: String,
    /// The control API of the `duckgoose cluster` that started this node (`cluster` sets
    /// it). `/status` names it, so the playground's live mode can crash, restart and
    /// pause nodes through it.
    #[arg(long, env = "DUCKGOOSE_CLUSTER_CONTROL", value_parser = parse_control_url)]
    pub cluster_control: Option<String>,
}

/// `https://127.0.0.1:41234`: a scheme and HOST:PORT, nothing else.
fn parse_control_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    let addr = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| format!("expected http://HOST:PORT or https://HOST:PORT, got {s:?}"))?;
    if !crate::http::valid_addr(addr) {
        return Err(format!("expected http(s)://HOST:PORT, got {s:?}"));
    }
    Ok(s.to_string())
}

#[derive(Args, Debug, Clone)]
pub struct ClusterArgs {
    /// How many nodes (ids 1..=N).
    #[arg(long, env = "DUCKGOOSE_NODES", default_value_t = 5)]
    pub nodes: u64,
    /// Node i listens on 127.0.0.1:(base-port + i - 1).
    #[arg(long, env = "DUCKGOOSE_BASE_PORT", default_value_t = 9900)]
    pub base_port: u16,
    /// The control API (crash, restart, pause, resume nodes; the playground's live mode
    /// uses it) listens on 127.0.0.1 at this port; 0 picks a free one.
    #[arg(long, env = "DUCKGOOSE_CONTROL_PORT", default_value_t = 0)]
    pub control_port: u16,
    /// Each node keeps its data in DIR/node-ID and logs to DIR/node-ID.log.
    #[arg(long, env = "DUCKGOOSE_DATA_DIR", default_value = "duckgoose-data")]
    pub data_dir: PathBuf,
    /// The nodes' token (see `node --token`); the control API requires it too.
    #[arg(long, env = "DUCKGOOSE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[arg(long, env = "DUCKGOOSE_HEARTBEAT_MS", default_value_t = 50)]
    pub heartbeat_ms: u64,
    #[arg(long, env = "DUCKGOOSE_ELECTION_MS", default_value = "150-300")]
    pub election_ms: String,
    /// Every node serves HTTPS with this PEM certificate (chain), which must be valid
    /// for 127.0.0.1; with --tls-ca it is also each node's client certificate to its
    /// peers, so it needs the clientAuth usage too.
    #[arg(long, env = "DUCKGOOSE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "DUCKGOOSE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The PEM CA that signed --tls-cert: peer traffic becomes mutual TLS.
    #[arg(long, env = "DUCKGOOSE_TLS_CA", requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct Client {
    /// Bearer token for admin routes.
    #[arg(long, env = "DUCKGOOSE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Per-request timeout in ms.
    #[arg(long, env = "DUCKGOOSE_CLIENT_TIMEOUT_MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Verify nodes' HTTPS certificates against this PEM CA; bare HOST:PORT URLs then
    /// mean https.
    #[arg(long, env = "DUCKGOOSE_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct FindGooseArgs {
    /// Node URLs (http://host:port or host:port). Default: 127.0.0.1:9900..9904.
    #[arg(env = "DUCKGOOSE_NODES_URLS", value_delimiter = ',')]
    pub urls: Vec<String>,
    /// How long to wait for each node, in ms.
    #[arg(long, env = "DUCKGOOSE_CLIENT_TIMEOUT_MS", default_value_t = 1000)]
    pub timeout_ms: u64,
    /// Verify nodes' HTTPS certificates against this PEM CA; bare HOST:PORT URLs then
    /// mean https.
    #[arg(long, env = "DUCKGOOSE_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Node URL.
    pub url: String,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Args, Debug, Clone)]
pub struct PartitionArgs {
    /// Node URLs to partition.
    #[arg(required = true)]
    pub urls: Vec<String>,
    /// Ids each of these nodes should stop talking to (both directions).
    #[arg(long, value_delimiter = ',', value_parser = parse_id, required_unless_present_any = ["split", "block_in", "block_out"], conflicts_with = "split")]
    pub block: Vec<NodeId>,
    /// One-way: ids whose messages these nodes drop on arrival.
    #[arg(long, value_delimiter = ',', value_parser = parse_id, conflicts_with = "split")]
    pub block_in: Vec<NodeId>,
    /// One-way: ids these nodes stop sending to.
    #[arg(long, value_delimiter = ',', value_parser = parse_id, conflicts_with = "split")]
    pub block_out: Vec<NodeId>,
    /// Cut the listed ids off from every other member: each node given blocks the
    /// other side (ask every member, so the cut is symmetric).
    #[arg(long, value_delimiter = ',', value_parser = parse_id)]
    pub split: Vec<NodeId>,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Args, Debug, Clone)]
pub struct HealArgs {
    #[arg(required = true)]
    pub urls: Vec<String>,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Args, Debug, Clone)]
pub struct AddArgs {
    /// Any member's URL.
    pub url: String,
    #[arg(long, value_parser = parse_id)]
    pub id: NodeId,
    /// The new node's HOST:PORT.
    #[arg(long)]
    pub addr: String,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Args, Debug, Clone)]
pub struct RemoveArgs {
    /// Any member's URL.
    pub url: String,
    #[arg(long, value_parser = parse_id)]
    pub id: NodeId,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Args, Debug, Clone)]
pub struct TransferArgs {
    /// Any member's URL.
    pub url: String,
    #[arg(long, value_parser = parse_id)]
    pub to: NodeId,
    #[command(flatten)]
    pub client: Client,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// A node's data directory.
    #[arg(env = "DUCKGOOSE_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Print every log entry, not only the summary.
    #[arg(long)]
    pub entries: bool,
}

/// With `tls` set (a `--tls-*` file), a bare `host:port` means `https://host:port`.
fn default_to_https(url: &mut String, tls: &Option<PathBuf>) {
    if tls.is_some() && !url.contains("://") {
        *url = format!("https://{}", url.trim());
    }
}

impl Command {
    /// Applies [`default_to_https`] to every node URL an operator command was given.
    fn default_urls_to_https(&mut self) {
        match self {
            Command::FindGoose(a) => a
                .urls
                .iter_mut()
                .for_each(|u| default_to_https(u, &a.tls_ca)),
            Command::Status(a) | Command::Probe(a) => {
                default_to_https(&mut a.url, &a.client.tls_ca)
            }
            Command::Partition(a) => a
                .urls
                .iter_mut()
                .for_each(|u| default_to_https(u, &a.client.tls_ca)),
            Command::Heal(a) => a
                .urls
                .iter_mut()
                .for_each(|u| default_to_https(u, &a.client.tls_ca)),
            Command::Add(a) => default_to_https(&mut a.url, &a.client.tls_ca),
            Command::Remove(a) => default_to_https(&mut a.url, &a.client.tls_ca),
            Command::Transfer(a) => default_to_https(&mut a.url, &a.client.tls_ca),
            Command::Node(a) => {
                // A TLS node's cluster is TLS too.
                if let Some(join) = &mut a.join {
                    default_to_https(join, &a.tls_cert);
                }
            }
            Command::Cluster(_) | Command::Inspect(_) => {}
        }
    }
}

pub fn main() -> ExitCode {
    let mut cli = Cli::parse();
    cli.command.default_urls_to_https();
    // Before any HTTP client is built: reqwest needs a process-wide rustls provider.
    crate::tls::install_default_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("duckgoose: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Node(args) => runtime.block_on(crate::node::run(args)),
        Command::Cluster(args) => runtime.block_on(crate::cluster::run(args)),
        Command::FindGoose(args) => runtime.block_on(crate::client::find_goose(args)),
        Command::Status(args) => runtime.block_on(crate::client::status(args)),
        Command::Probe(args) => runtime.block_on(crate::client::probe(args)),
        Command::Partition(args) => runtime.block_on(crate::client::partition(args)),
        Command::Heal(args) => runtime.block_on(crate::client::heal(args)),
        Command::Add(args) => runtime.block_on(crate::client::add(args)),
        Command::Remove(args) => runtime.block_on(crate::client::remove(args)),
        Command::Transfer(args) => runtime.block_on(crate::client::transfer(args)),
        Command::Inspect(args) => crate::client::inspect(args),
    };
    // Peer senders may be waiting on connections: do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("duckgoose: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_peers_ranges_and_ids() {
        assert_eq!(
            parse_peer("2=127.0.0.1:9902"),
            Ok(Peer {
                id: 2,
                addr: "127.0.0.1:9902".into()
            })
        );
        assert!(parse_peer("0=127.0.0.1:1").is_err());
        assert!(parse_peer("2=nope").is_err());
        assert!(parse_peer("127.0.0.1:1").is_err());
        assert_eq!(parse_range("150-300"), Ok((150, 300)));
        assert!(parse_range("300-150").is_err());
        assert!(parse_range("0-10").is_err());
        assert!(parse_id("0").is_err());
        assert_eq!(
            parse_control_url("https://127.0.0.1:4000"),
            Ok("https://127.0.0.1:4000".into())
        );
        assert!(parse_control_url("127.0.0.1:4000").is_err());
        assert!(parse_control_url("https://127.0.0.1:4000/x").is_err());
        assert!(parse_control_url("ftp://127.0.0.1:4000").is_err());
        assert_eq!(parse_id("7"), Ok(7));
    }

    #[test]
    fn a_tls_ca_makes_bare_addresses_https() {
        let url_of = |args: &[&str]| {
            let mut cli = Cli::try_parse_from(args).expect("parses");
            cli.command.default_urls_to_https();
            match cli.command {
                Command::Status(a) => a.url,
                Command::Node(a) => a.join.unwrap_or_default(),
                other => panic!("{other:?}"),
            }
        };
        let status = ["duckgoose", "status", "127.0.0.1:1"];
        assert_eq!(url_of(&status), "127.0.0.1:1");
        let with_ca = [&status[..], &["--tls-ca", "ca.crt"]].concat();
        assert_eq!(url_of(&with_ca), "https://127.0.0.1:1");
        let explicit = [
            "duckgoose",
            "status",
            "http://127.0.0.1:1",
            "--tls-ca",
            "ca.crt",
        ];
        assert_eq!(url_of(&explicit), "http://127.0.0.1:1");
        let node = [
            "duckgoose",
            "node",
            "--id",
            "2",
            "--listen",
            "127.0.0.1:2",
            "--data-dir",
            "d",
            "--join",
            "127.0.0.1:1",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
        ];
        assert_eq!(url_of(&node), "https://127.0.0.1:1");
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
