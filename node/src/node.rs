//! `duckgoose node`: open storage, start the replica thread, serve HTTP, join if asked.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use duckgoose_core::{Config, Member, Membership, Persisted, Replica};
use tracing_subscriber::EnvFilter;

use crate::cli::NodeArgs;
use crate::discovery::{self, Discovery, Dns};
use crate::http::{self, Limits};
use crate::runtime::{self, Input, Shared};
use crate::serve;
use crate::storage::{self, Storage};
use crate::tls::{self, ClientTls, NodeTls, Transport};

/// Inputs queued for the replica before new ones are refused with 503.
const INPUT_QUEUE: usize = 16 * 1024;

pub fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn resolve(listen: &str) -> Result<SocketAddr, String> {
    listen
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve --listen {listen:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--listen {listen:?} resolves to no address"))
}

fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

pub async fn run(args: NodeArgs) -> Result<(), String> {
    init_logging(&args.log);
    let start = Instant::now();
    let discovery = match &args.peers_from_dns {
        Some(name) => Some(Discovery {
            dns: Dns::new(args.dns_server)?,
            name: name.clone(),
            initial_size: args.initial_size.unwrap_or(1),
            wait: Duration::from_millis(args.dns_wait_ms),
        }),
        None => None,
    };
    let id = match args.id {
        Some(id) => id,
        None => discovery::id_from_hostname()?,
    };

    // Security first: never serve an open node beyond this machine.
    let listen = resolve(&args.listen)?;
    if !listen.ip().is_loopback() && args.token.is_none() {
        return Err(format!(
            "refusing to listen on {listen} without a token: anyone who can reach it could \
             rewrite the cluster. Set --token (or DUCKGOOSE_TOKEN) on every node, or listen \
             on a loopback address such as 127.0.0.1"
        ));
    }
    if args.token.as_deref() == Some("") {
        return Err("--token must not be empty".into());
    }
    let advertise = match &args.advertise {
        Some(a) => a.clone(),
        None if listen.ip().is_unspecified() => {
            return Err(format!(
                "--listen {listen} is a wildcard address: set --advertise to the HOST:PORT \
                 peers should use"
            ));
        }
        None => args.listen.clone(),
    };
    if !http::valid_addr(&advertise) {
        return Err(format!("--advertise must be HOST:PORT, got {advertise:?}"));
    }
    if args.peers.iter().any(|p| p.id == id) {
        return Err(format!("--peer lists this node's own id {id}"));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(NodeTls::load(
            cert,
            key,
            args.tls_ca.as_deref(),
            &advertise,
        )?),
        _ => None,
    };
    if tls.is_none() && !listen.ip().is_loopback() {
        tracing::warn!(
            node = id,
            %listen,
            "serving plain HTTP beyond loopback: the token and all data cross the network \
             in clear text; set --tls-cert and --tls-key"
        );
    }
    // Peers found through DNS are reached through the same resolver.
    let resolver = discovery.as_ref().map(|d| d.dns.http_resolver());
    let client_tls = tls.as_ref().map(|t| t.client.clone()).unwrap_or_default();
    let mut peer_client = runtime::peer_client_builder(&client_tls);
    if let Some(resolver) = &resolver {
        peer_client = peer_client.dns_resolver(resolver.clone());
    }
    let transport = Transport {
        tls: tls.is_some(),
        require_client_cert: tls.as_ref().is_some_and(|t| t.mutual),
        peer_client: peer_client
            .build()
            .map_err(|e| format!("cannot build the peer HTTP client: {e}"))?,
    };

    let joining = args.join.is_some() || discovery.as_ref().is_some_and(|d| !d.is_founder(id));
    let founding_peers = match &discovery {
        Some(d) if d.is_founder(id) && storage::is_new(&args.data_dir) => {
            d.founders(id, &advertise).await?
        }
        Some(_) => Vec::new(),
        None => args.peers.clone(),
    };
    let mut members = vec![Member::new(id, advertise.clone())];
    members.extend(
        founding_peers
            .iter()
            .map(|p| Member::new(p.id, p.addr.clone())),
    );
    let flag_membership = Membership::new(members);
    let initial = if joining {
        Persisted::empty()
    } else {
        Persisted::bootstrap(flag_membership.clone())
    };

    let (storage, recovered) =
        Storage::open(&args.data_dir, id, initial).map_err(|e| e.to_string())?;
    let persisted = recovered.persisted;
    let disk_membership = persisted
        .log
        .iter()
        .rev()
        .find_map(|e| match &e.command {
            duckgoose_core::Command::Config(m) => Some(m.clone()),
            _ => None,
        })
        .or_else(|| persisted.snapshot.as_ref().map(|s| s.membership.clone()));
    if recovered.fresh {
        tracing::info!(node = id, dir = %args.data_dir.display(), "new data directory");
    } else {
        tracing::info!(
            node = id,
            dir = %args.data_dir.display(),
            term = persisted.term,
            voted_for = ?persisted.voted_for,
            entries = persisted.log.len(),
            snapshot_index = persisted.snapshot.as_ref().map_or(0, |s| s.index),
            "resuming from disk"
        );
        if !joining
            && discovery.is_none()
            && disk_membership
                .as_ref()
                .is_some_and(|m| *m != flag_membership)
        {
            tracing::warn!(
                node = id,
                "--peer flags differ from the membership on disk; the membership on disk wins"
            );
        }
    }
    let needs_join = joining && persisted.log.is_empty() && persisted.snapshot.is_none();
    let join_urls = match (&args.join, &discovery) {
        _ if !needs_join => Vec::new(),
        (Some(url), _) => vec![url.clone()],
        (None, Some(d)) => {
            let scheme = transport.scheme();
            d.members_to_join(id)
                .await?
                .into_iter()
                .map(|addr| format!("{scheme}://{addr}"))
                .collect()
        }
        (None, None) => Vec::new(),
    };

    let mut config = Config::new(id, args.seed.unwrap_or_else(random_seed));
    config.heartbeat_interval = args.heartbeat_ms;
    config.election_timeout_min = args.election_ms.0;
    config.election_timeout_max = args.election_ms.1;
    // Peers here are a LAN round trip away: a short lease makes a crashed goose's
    // successor come sooner (`Config::fast_failover_lease`: 1.5 heartbeats; the same on
    // every node as long as every node gets the same --heartbeat-ms).
    config.goose_lease = config.fast_failover_lease();
    if config.runs_unsafe_variant() {
        // Only the model checker and the simulator's counterexample hunt (the page's
        // Break Raft) run the core's broken variants; a node never does.
        return Err("refusing a config with a deliberately unsafe protocol variant".into());
    }
    let replica = Replica::new(config, persisted, 0, args.request_timeout_ms)
        .map_err(|e| format!("bad timing flags: {e}"))?;

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;

    let (tx, rx) = std::sync::mpsc::sync_channel(INPUT_QUEUE);
    let shared = Arc::new(
        Shared::new(
            id,
            advertise.clone(),
            args.token.clone(),
            tx.clone(),
            args.max_inflight,
            Duration::from_millis(args.request_timeout_ms),
        )
        .with_transport(transport)
        .with_peer_frame_limit(args.max_peer_body)
        .with_snapshot_entries(args.snapshot_entries)
        .with_cluster_control(args.cluster_control.clone())
        .with_watch_config(crate::watch::WatchConfig {
            max_watchers: args.max_watchers,
            confirm_every: Duration::from_millis(args.heartbeat_ms),
            keepalive: Duration::from_millis(args.watch_keepalive_ms),
        }),
    );
    tokio::spawn(crate::watch::track(shared.clone()));

    let handle = tokio::runtime::Handle::current();
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    let thread_shared = shared.clone();
    let replica_thread = std::thread::Builder::new()
        .name(format!("replica-{id}"))
        .spawn(move || {
            let result = runtime::run(replica, storage, rx, thread_shared, handle, start);
            let _ = done_tx.send(result);
        })
        .map_err(|e| format!("cannot start the replica thread: {e}"))?;

    tracing::info!(
        node = id,
        %listen,
        %advertise,
        auth = shared.token.is_some(),
        mutual_tls = shared.transport.require_client_cert,
        "serving {}://{advertise}",
        shared.transport.scheme()
    );
    if let Some(tls) = &tls {
        tls::watch(tls.identity.clone(), id);
    }

    if !join_urls.is_empty() {
        tokio::spawn(join_cluster(
            client_tls,
            resolver,
            join_urls,
            id,
            advertise,
            args.token.clone(),
        ));
    }

    let app = http::router(
        shared.clone(),
        Limits {
            client_body: args.max_body,
            peer_body: args.max_peer_body,
        },
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = match &tls {
        Some(tls) => tokio::spawn(serve::serve_tls(listener, app, tls.server.clone(), stop_rx)),
        None => tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(node = id, "server stopped: {e}");
            }
        }),
    };

    let mut signals = Signals::new();
    let outcome = tokio::select! {
        _ = signals.recv() => {
            // A planned stop: hand the goose role over first (bounded), then stop.
            let bound = Duration::from_millis(2 * args.election_ms.1);
            hand_off(&shared, &tx, bound, &mut signals, &mut done_rx).await
        }
        result = &mut done_rx => replica_outcome(result),
    };
    let _ = stop_tx.send(());
    let _ = tx.send(Input::Shutdown);
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let _ = tokio::task::spawn_blocking(move || replica_thread.join()).await;
    if outcome.is_ok() {
        tracing::info!(node = id, "stopped");
    }
    outcome
}

type ReplicaDone = tokio::sync::oneshot::Receiver<Result<(), String>>;

fn replica_outcome(
    result: Result<Result<(), String>, tokio::sync::oneshot::error::RecvError>,
) -> Result<(), String> {
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("replica thread died".to_string()),
    }
}

/// After a stop signal: answer duck from now on; a goose hands leadership to its most
/// caught-up follower and waits up to `bound` for another node to lead. A second signal
/// cuts the wait short.
async fn hand_off(
    shared: &Shared,
    tx: &std::sync::mpsc::SyncSender<Input>,
    bound: Duration,
    signals: &mut Signals,
    done_rx: &mut ReplicaDone,
) -> Result<(), String> {
    let id = shared.id;
    let started = Instant::now();
    shared.stop_answering_goose();
    let (reply, answer) = tokio::sync::oneshot::channel();
    // Blocking send: the queue may be full under load, and the stop must get through.
    let queued = {
        let tx = tx.clone();
        tokio::task::spawn_blocking(move || tx.send(Input::Handoff(reply)).is_ok())
    };
    let waited = async {
        if !queued.await.unwrap_or(false) {
            return None;
        }
        answer.await.ok()
    };
    tokio::select! {
        outcome = tokio::time::timeout(bound, waited) => {
            let took = started.elapsed().as_millis();
            match outcome {
                Ok(Some(runtime::Handoff::NotLeader)) => {
                    tracing::info!(node = id, "stop signal: not the goose, stopping");
                }
                Ok(Some(runtime::Handoff::Alone)) => {
                    tracing::info!(node = id, "stop signal: the only member, stopping");
                }
                Ok(Some(runtime::Handoff::Done { to, term })) => tracing::info!(
                    node = id,
                    to,
                    term,
                    "stop signal: node {to} leads now (term {term}) after {took} ms; stopping"
                ),
                // The replica stopped on its own (storage failure): its outcome says why.
                Ok(None) => return replica_outcome(done_rx.await),
                Err(_) => tracing::warn!(
                    node = id,
                    "stop signal: no other node took over within {} ms; stopping anyway",
                    bound.as_millis()
                ),
            }
            Ok(())
        }
        _ = signals.recv() => {
            tracing::warn!(node = id, "second stop signal: stopping now, without a handoff");
            Ok(())
        }
        result = &mut *done_rx => replica_outcome(result),
    }
}

/// SIGINT (ctrl-c) and SIGTERM, registered once so a second signal during the handoff
/// is not lost between two registrations.
pub struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    pub fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(int), Ok(term)) => Some((int, term)),
                _ => None,
            };
            Signals { unix }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    /// The next SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Default for Signals {
    fn default() -> Signals {
        Signals::new()
    }
}

pub async fn shutdown_signal() {
    Signals::new().recv().await
}

/// Asks the cluster to add this node, retrying until a member says it is done. The
/// request goes to any member (each retry to the next of `urls`); a duck forwards it to
/// the goose. A `307` (from a node
/// that redirects instead) is followed here, not by the HTTP client, which drops the
/// bearer token when the port changes.
async fn join_cluster(
    tls: ClientTls,
    resolver: Option<Arc<dyn reqwest::dns::Resolve>>,
    urls: Vec<String>,
    id: u64,
    advertise: String,
    token: Option<String>,
) {
    let mut builder = tls.builder();
    if let Some(resolver) = resolver {
        builder = builder.dns_resolver(resolver);
    }
    let client = builder
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    let endpoints: Vec<String> = urls
        .iter()
        .map(|url| format!("{}/admin/members", crate::client::normalize(url)))
        .collect();
    let Some(mut target) = endpoints.first().cloned() else {
        return;
    };
    let mut attempt = 0;
    let body = serde_json::json!({ "id": id, "addr": advertise }).to_string();
    let mut delay = Duration::from_millis(200);
    let mut redirects = 0;
    loop {
        let mut req = client
            .post(&target)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(t) = &token {
            req = req.bearer_auth(t);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let forwarded_to = resp
                    .headers()
                    .get(http::FORWARDED_TO)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let text = resp.text().await.unwrap_or_default();
                if status.is_success() {
                    match forwarded_to {
                        Some(goose) => tracing::info!(
                            node = id,
                            "joined the cluster (forwarded to goose {goose}): {}",
                            text.trim()
                        ),
                        None => tracing::info!(node = id, "joined the cluster: {}", text.trim()),
                    }
                    return;
                }
                let refusal = http::ErrorBody::parse(&text);
                if status == reqwest::StatusCode::CONFLICT
                    && refusal.is_some_and(|r| r.error == http::ErrorCode::AlreadyMember)
                {
                    tracing::info!(node = id, "already a member");
                    return;
                }
                if status == reqwest::StatusCode::TEMPORARY_REDIRECT
                    && let Some(location) = location
                    && redirects < 10
                {
                    // A duck names the goose: ask it straight away, with the token.
                    redirects += 1;
                    target = location;
                    continue;
                }
                if status == reqwest::StatusCode::UNAUTHORIZED {
                    tracing::error!(node = id, "join refused: wrong or missing --token");
                } else {
                    tracing::warn!(node = id, %status, "join not done yet: {}", text.trim());
                }
            }
            Err(e) => tracing::warn!(node = id, "cannot reach {target} to join: {e}"),
        }
        // Start over at a member we were given (the next one): the goose we were sent to
        // may be gone.
        attempt += 1;
        target = endpoints[attempt % endpoints.len()].clone();
        redirects = 0;
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}
