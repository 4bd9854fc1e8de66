//! `--peers-from-dns`: where a node finds its founding peers, or the members it joins
//! through, when it runs as a pod of a Kubernetes StatefulSet behind a headless Service.
//!
//! The design, in one place:
//! - The node's id is its pod ordinal plus one (`duckgoose-0` is id 1), read from the
//!   hostname, unless `--id` says otherwise.
//! - One SRV lookup of the given name lists the pods: each record's target is a pod's
//!   stable DNS name (`duckgoose-2.duckgoose.ns.svc.cluster.local.`, whose ordinal gives
//!   the id) and its port the pod's serving port. Member addresses are those names, never
//!   pod IPs, which change when a pod is rescheduled.
//! - Ids `1..=--initial-size` found the cluster: each waits until DNS lists all of them
//!   and bootstraps with exactly that membership, so all founders start from the same one.
//!   A higher id is a later pod: it joins (as `--join` does) through the members DNS lists.
//! - DNS is only read on a node's first start: after that the membership on disk wins.
//! - Names in peer addresses are resolved with the same resolver, so a test's DNS server
//!   (`--dns-server`) serves both discovery and connections.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use duckgoose_core::NodeId;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use crate::cli::Peer;

/// First and longest pause between lookups while DNS does not list the members yet.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LONGEST_RETRY: Duration = Duration::from_secs(5);

/// A DNS resolver: the system's (`/etc/resolv.conf`) or one name server's.
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
}

impl Dns {
    /// `server`: ask only this name server (tests); `None`: the system configuration.
    pub fn new(server: Option<SocketAddr>) -> Result<Dns, String> {
        let mut builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut ns.connections {
                    connection.port = addr.port();
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?,
        };
        let opts = builder.options_mut();
        // Pods come and go: do not trust an answer for long, and above all not a "no such
        // name" that was true only until the pod's record appeared.
        opts.positive_max_ttl = Some(Duration::from_secs(30));
        opts.negative_max_ttl = Some(Duration::from_secs(1));
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot build the DNS resolver: {e}"))?;
        Ok(Dns { resolver })
    }

    /// The members `name`'s SRV records list, by id. Records whose target has no
    /// ordinal are skipped with a warning; of two records with one id, the first wins.
    pub async fn members(&self, name: &str) -> Result<BTreeMap<NodeId, String>, String> {
        let lookup = self
            .resolver
            .srv_lookup(name)
            .await
            .map_err(|e| format!("SRV lookup of {name:?}: {e}"))?;
        let mut members = BTreeMap::new();
        for record in lookup.answers() {
            let RData::SRV(srv) = &record.data else {
                continue;
            };
            let target = srv.target.to_ascii();
            let host = target.trim_end_matches('.').to_ascii_lowercase();
            let Some(id) = ordinal_id(&host) else {
                tracing::warn!(
                    "SRV record {target} of {name} has no pod ordinal (NAME-N): skipped"
                );
                continue;
            };
            members
                .entry(id)
                .or_insert_with(|| format!("{host}:{}", srv.port));
        }
        Ok(members)
    }

    /// A resolver for the HTTP clients that reach peers by name.
    pub fn http_resolver(&self) -> Arc<dyn reqwest::dns::Resolve> {
        Arc::new(HttpResolver(self.resolver.clone()))
    }
}

struct HttpResolver(TokioResolver);

impl reqwest::dns::Resolve for HttpResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = resolver.lookup_ip(host.as_str()).await?;
            // The HTTP client puts the URL's port in.
            let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// `duckgoose-2` or `duckgoose-2.duckgoose.ns.svc.cluster.local` → 3: a StatefulSet
/// pod's ordinal plus one (node ids are positive).
pub fn ordinal_id(host: &str) -> Option<NodeId> {
    let first_label = host.split('.').next()?;
    let (_, ordinal) = first_label.rsplit_once('-')?;
    if ordinal.is_empty() || !ordinal.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    ordinal.parse::<NodeId>().ok()?.checked_add(1)
}

/// This machine's host name: `$HOSTNAME` (which Kubernetes sets to the pod name), else
/// the kernel's.
pub fn hostname() -> Result<String, String> {
    if let Ok(name) = std::env::var("HOSTNAME")
        && !name.trim().is_empty()
    {
        return Ok(name.trim().to_string());
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("cannot read the host name: {e}"))
}

/// The node id the host name's ordinal gives.
pub fn id_from_hostname() -> Result<NodeId, String> {
    let host = hostname()?;
    ordinal_id(&host).ok_or_else(|| {
        format!(
            "cannot take a node id from the host name {host:?}: expected NAME-ORDINAL, as \
             a StatefulSet pod's (duckgoose-0 is id 1); set --id"
        )
    })
}

/// What DNS must list before a node can start, and what it then does.
pub struct Discovery {
    pub dns: Dns,
    /// The SRV name (`--peers-from-dns`).
    pub name: String,
    /// Ids `1..=initial_size` found the cluster (`--initial-size`).
    pub initial_size: u64,
    /// When to give up waiting for DNS (`--dns-wait-ms`).
    pub wait: Duration,
}

impl Discovery {
    pub fn is_founder(&self, id: NodeId) -> bool {
        id <= self.initial_size
    }

    /// A founder's peers: waits until DNS lists every founder, then returns the others.
    /// `advertise` must be what DNS says for this node, or the founders would start
    /// from different memberships.
    pub async fn founders(&self, id: NodeId, advertise: &str) -> Result<Vec<Peer>, String> {
        let founders = self
            .wait_for("every founding member", |members| {
                let missing: Vec<NodeId> = (1..=self.initial_size)
                    .filter(|i| !members.contains_key(i))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("ids {missing:?} not listed yet"))
                }
            })
            .await?;
        let own = founders
            .get(&id)
            .ok_or_else(|| format!("DNS does not list node {id} itself"))?;
        if !own.eq_ignore_ascii_case(advertise) {
            return Err(format!(
                "DNS lists node {id} as {own} but --advertise is {advertise}: every founder \
                 must start from the same membership; set --advertise to {own}"
            ));
        }
        Ok(founders
            .into_iter()
            .filter(|(i, _)| *i != id && *i <= self.initial_size)
            .map(|(id, addr)| Peer { id, addr })
            .collect())
    }

    /// A later node's way in: waits until DNS lists another member, then returns the
    /// addresses of all the others, founders first.
    pub async fn members_to_join(&self, id: NodeId) -> Result<Vec<String>, String> {
        let members = self
            .wait_for("another member to join through", |members| {
                if members.keys().any(|&i| i != id) {
                    Ok(())
                } else {
                    Err("no other member listed yet".to_string())
                }
            })
            .await?;
        Ok(members
            .into_iter()
            .filter(|(i, _)| *i != id)
            .map(|(_, addr)| addr)
            .collect())
    }

    /// Looks `name` up until `ready` accepts what it lists, backing off between tries
    /// (pods start before their records exist); an error at the deadline.
    async fn wait_for(
        &self,
        what: &str,
        ready: impl Fn(&BTreeMap<NodeId, String>) -> Result<(), String>,
    ) -> Result<BTreeMap<NodeId, String>, String> {
        let deadline = Instant::now() + self.wait;
        let mut delay = FIRST_RETRY;
        loop {
            let problem = match self.dns.members(&self.name).await {
                Ok(members) => match ready(&members) {
                    Ok(()) => {
                        tracing::info!(name = %self.name, ?members, "DNS lists {what}");
                        return Ok(members);
                    }
                    Err(e) => format!("{e} (listed: {:?})", members.keys().collect::<Vec<_>>()),
                },
                Err(e) => e,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "--peers-from-dns {}: gave up waiting for {what} after {} ms: {problem}",
                    self.name,
                    self.wait.as_millis()
                ));
            }
            tracing::info!(name = %self.name, "waiting for DNS to list {what}: {problem}");
            tokio::time::sleep(delay.min(deadline - now)).await;
            delay = (delay * 2).min(LONGEST_RETRY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_pod_ordinals() {
        assert_eq!(ordinal_id("duckgoose-0"), Some(1));
        assert_eq!(
            ordinal_id("duckgoose-2.duckgoose.default.svc.cluster.local"),
            Some(3)
        );
        assert_eq!(ordinal_id("my-duck-goose-10"), Some(11));
        assert_eq!(ordinal_id("duckgoose"), None);
        assert_eq!(ordinal_id("duckgoose-"), None);
        assert_eq!(ordinal_id("duckgoose-x1"), None);
        assert_eq!(ordinal_id("duckgoose-+1"), None);
        assert_eq!(ordinal_id("a-18446744073709551615"), None);
    }
}
