//! What runs against the cluster while the nemesis works: key-value clients, a goose
//! checker per node, and a status monitor. Everything they see goes into the history.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use duckgoose_core::rng::Rng;
use reqwest::Method;
use serde_json::Value;

use super::history::{Event, GooseAnswer, NodeId, Recorder, StatusSeen, kv};
use super::http::{Http, Reply, location_addr};

/// Process number of the final reads in the history.
pub const FINAL_PROCESS: u64 = 1000;
/// A client gives up on one request after this long (the nodes answer 504 after 2 s).
pub const CLIENT_TIMEOUT: Duration = Duration::from_millis(3000);
const GOOSE_TIMEOUT: Duration = Duration::from_millis(1000);

#[derive(Clone, Debug)]
pub struct NodeView {
    pub client_addr: String,
    pub peer_addr: String,
    /// Goose checks and status polls go to it.
    pub observed: bool,
}

#[derive(Default)]
pub struct View {
    pub nodes: BTreeMap<NodeId, NodeView>,
    pub by_addr: HashMap<String, NodeId>,
    /// The latest goose answer seen: (term, node).
    pub goose: Option<(u64, NodeId)>,
    /// Members as the latest goose reported them.
    pub members: Vec<NodeId>,
}

pub struct World {
    pub rec: Recorder,
    pub http: Http,
    pub view: RwLock<View>,
    pub stop_clients: AtomicBool,
    pub stop_observers: AtomicBool,
    next_op: AtomicU64,
}

impl World {
    /// The shared state of one run; `ca_pem`: the cluster's CA when it serves TLS.
    pub fn new(token: &str, ca_pem: Option<&str>) -> Result<World, String> {
        Ok(World {
            rec: Recorder::new(),
            http: Http::new(token, ca_pem)?,
            view: RwLock::new(View::default()),
            stop_clients: AtomicBool::new(false),
            stop_observers: AtomicBool::new(false),
            next_op: AtomicU64::new(1),
        })
    }

    pub fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.view.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn view_mut(&self) -> std::sync::RwLockWriteGuard<'_, View> {
        self.view.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_node(&self, id: NodeId, client_addr: &str, peer_addr: &str) {
        let mut v = self.view_mut();
        v.by_addr.insert(client_addr.to_string(), id);
        v.by_addr.insert(peer_addr.to_string(), id);
        v.nodes.insert(
            id,
            NodeView {
                client_addr: client_addr.to_string(),
                peer_addr: peer_addr.to_string(),
                observed: true,
            },
        );
    }

    pub fn client_addr(&self, id: NodeId) -> Option<String> {
        self.view().nodes.get(&id).map(|n| n.client_addr.clone())
    }

    pub fn observed(&self) -> Vec<NodeId> {
        self.view()
            .nodes
            .iter()
            .filter(|(_, n)| n.observed)
            .map(|(&id, _)| id)
            .collect()
    }

    pub fn goose_hint(&self) -> Option<NodeId> {
        self.view().goose.map(|(_, id)| id)
    }

    fn saw_goose(&self, term: u64, id: NodeId) {
        let mut v = self.view_mut();
        if v.goose.is_none_or(|(t, _)| term >= t) {
            v.goose = Some((term, id));
        }
    }
}

// ---- Key-value operations ---------------------------------------------------------------

pub enum Outcome {
    Ok(kv::Output),
    Fail(String),
    Info(String),
}

fn path_and_body(call: &kv::Op) -> (Method, String, Option<String>) {
    match call {
        // The workload sends no fences: a fenced write is its plain one plus a header.
        kv::Op::Fenced { op, .. } => path_and_body(op),
        kv::Op::Get { key } => (Method::GET, format!("/kv/{key}"), None),
        kv::Op::Put { key, value } => (Method::PUT, format!("/kv/{key}"), Some(value.clone())),
        kv::Op::Delete { key } => (Method::DELETE, format!("/kv/{key}"), None),
        kv::Op::Cas {
            key,
            expected,
            value,
        } => (
            Method::POST,
            format!("/kv/{key}/cas"),
            Some(serde_json::json!({ "expected": expected, "value": value }).to_string()),
        ),
    }
}

/// Performs `call` starting at node `node`, following up to 3 redirects (a redirect
/// means the duck did nothing). Returns the outcome and the node that gave it.
pub async fn perform(world: &World, mut node: NodeId, call: &kv::Op) -> (Outcome, NodeId) {
    let (method, path, body) = path_and_body(call);
    for _ in 0..4 {
        let Some(addr) = world.client_addr(node) else {
            return (Outcome::Fail(format!("no address for node {node}")), node);
        };
        let reply = world
            .http
            .call(method.clone(), &addr, &path, body.clone(), CLIENT_TIMEOUT)
            .await;
        let (code, location, body_text) = match reply {
            Reply::Unreached(e) => return (Outcome::Fail(format!("unreached: {e}")), node),
            Reply::Lost(e) => return (Outcome::Info(format!("lost: {e}")), node),
            Reply::Status {
                code,
                location,
                body,
                ..
            } => (code, location, body),
        };
        let outcome = match (code, call) {
            (200, kv::Op::Get { .. }) => Outcome::Ok(kv::Output::Value(Some(body_text))),
            (404, kv::Op::Get { .. }) if body_text.starts_with("no such key") => {
                Outcome::Ok(kv::Output::Value(None))
            }
            (200, kv::Op::Put { .. } | kv::Op::Delete { .. }) => Outcome::Ok(kv::Output::Written),
            (200, kv::Op::Cas { .. }) => {
                match serde_json::from_str::<Value>(&body_text)
                    .ok()
                    .and_then(|v| v["swapped"].as_bool())
                {
                    Some(s) => Outcome::Ok(kv::Output::Cas { swapped: s }),
                    None => Outcome::Info(format!("UNEXPECTED cas answer {body_text:?}")),
                }
            }
            (307, _) => {
                let next = location
                    .as_deref()
                    .and_then(location_addr)
                    .and_then(|a| world.view().by_addr.get(a).copied());
                match next {
                    Some(n) => {
                        node = n;
                        continue;
                    }
                    None => Outcome::Fail(format!("redirect to unknown {location:?}")),
                }
            }
            (503, _) => Outcome::Fail(format!("503 {}", body_text.trim())),
            (504, _) => Outcome::Info(format!("504 {}", body_text.trim())),
            (500.., _) => Outcome::Info(format!("UNEXPECTED {code} {}", body_text.trim())),
            _ => Outcome::Fail(format!("UNEXPECTED {code} {}", body_text.trim())),
        };
        return (outcome, node);
    }
    (Outcome::Fail("too many redirects".into()), node)
}

/// Runs `call` as one operation of `process` and records it.
pub async fn run_op(world: &World, process: u64, node: NodeId, call: kv::Op) -> (Outcome, NodeId) {
    let op = world.next_op.fetch_add(1, Ordering::Relaxed);
    world.rec.record(Event::Invoke {
        t: world.rec.now(),
        process,
        op,
        node,
        call: call.clone(),
    });
    let (outcome, answered) = perform(world, node, &call).await;
    let t = world.rec.now();
    world.rec.record(match &outcome {
        Outcome::Ok(result) => Event::Ok {
            t,
            process,
            op,
            node: answered,
            result: result.clone(),
        },
        Outcome::Fail(error) => Event::Fail {
            t,
            process,
            op,
            node: answered,
            error: error.clone(),
        },
        Outcome::Info(error) => Event::Info {
            t,
            process,
            op,
            node: answered,
            error: error.clone(),
        },
    });
    (outcome, answered)
}

/// One client: one operation at a time, on a few shared keys, until told to stop.
pub async fn client(world: Arc<World>, process: u64, keys: u32, think_ms: u64, seed: u64) {
    let mut rng = Rng::new(seed ^ process.wrapping_mul(0xA24B_AED4_963E_E407));
    let mut target: Option<NodeId> = None;
    let mut seq = 0u64;
    // What this client last saw in each key: CAS expects it, so some swaps succeed.
    let mut seen: HashMap<String, Option<String>> = HashMap::new();
    while !world.stop_clients.load(Ordering::Relaxed) {
        let key = format!("k{}", rng.below(keys as u64));
        seq += 1;
        let value = format!("p{process}-{seq}");
        let roll = rng.below(100);
        let call = if roll < 40 {
            kv::Op::Get { key: key.clone() }
        } else if roll < 70 {
            kv::Op::Put {
                key: key.clone(),
                value,
            }
        } else if roll < 90 {
            let expected = if rng.below(4) == 0 {
                None
            } else {
                seen.get(&key).cloned().flatten()
            };
            kv::Op::Cas {
                key: key.clone(),
                expected,
                value,
            }
        } else {
            kv::Op::Delete { key: key.clone() }
        };
        let nodes = world.observed();
        if nodes.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let node = target
            .filter(|t| nodes.contains(t))
            .or_else(|| world.goose_hint().filter(|g| nodes.contains(g)))
            .unwrap_or_else(|| nodes[rng.below(nodes.len() as u64) as usize]);
        let (outcome, answered) = run_op(&world, process, node, call.clone()).await;
        match outcome {
            Outcome::Ok(result) => {
                target = Some(answered);
                match (&call, result) {
                    (kv::Op::Get { .. }, kv::Output::Value(v)) => {
                        seen.insert(key, v);
                    }
                    (kv::Op::Put { value, .. }, _)
                    | (kv::Op::Cas { value, .. }, kv::Output::Cas { swapped: true }) => {
                        seen.insert(key, Some(value.clone()));
                    }
                    (kv::Op::Delete { .. }, _) => {
                        seen.insert(key, None);
                    }
                    _ => {}
                }
            }
            Outcome::Fail(_) | Outcome::Info(_) => {
                target = None;
                // Back off a little so a leaderless cluster is not hammered.
                tokio::time::sleep(Duration::from_millis(20 + rng.below(60))).await;
            }
        }
        if think_ms > 0 {
            tokio::time::sleep(Duration::from_millis(rng.below(think_ms + 1))).await;
        }
    }
}

// ---- Observers ----------------------------------------------------------------------------

/// Asks `id` "goose?" once and records a definite answer.
pub async fn ask_goose(world: &World, id: NodeId) -> Option<GooseAnswer> {
    let addr = world.client_addr(id)?;
    let invoked = world.rec.now();
    let reply = world.http.get(&addr, "/goose", GOOSE_TIMEOUT).await;
    let t = world.rec.now();
    let answer = match reply {
        Reply::Status {
            code: 200,
            term,
            body,
            ..
        } if body == "goose" => GooseAnswer::Goose { term },
        Reply::Status {
            code: 503,
            reason,
            body,
            ..
        } if body == "duck" => GooseAnswer::Duck {
            reason: reason.unwrap_or_default(),
        },
        _ => return None,
    };
    if let GooseAnswer::Goose { term: Some(term) } = answer {
        world.saw_goose(term, id);
    }
    world.rec.record(Event::Goose {
        t,
        invoked,
        node: id,
        answer: answer.clone(),
    });
    Some(answer)
}

/// Asks node `id` "goose?" over and over while it is observed.
pub async fn goose_checker(world: Arc<World>, id: NodeId, pause_ms: u64) {
    while !world.stop_observers.load(Ordering::Relaxed) {
        if !world.view().nodes.get(&id).is_some_and(|n| n.observed) {
            return;
        }
        if ask_goose(&world, id).await.is_none() {
            // Down or paused: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
    }
}

async fn poll_status(world: &World, id: NodeId) {
    let Some(addr) = world.client_addr(id) else {
        return;
    };
    let invoked = world.rec.now();
    let Reply::Status {
        code: 200, body, ..
    } = world.http.get(&addr, "/status", GOOSE_TIMEOUT).await
    else {
        return;
    };
    let t = world.rec.now();
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        world
            .rec
            .note(format!("UNEXPECTED status body from {id}: {body:?}"));
        return;
    };
    let members: Vec<NodeId> = v["members"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["id"].as_u64()).collect())
        .unwrap_or_default();
    let status = StatusSeen {
        state: v["state"].as_str().unwrap_or("?").to_string(),
        term: v["term"].as_u64().unwrap_or(0),
        leader: v["leader"].as_u64(),
        goose_term: v["goose_term"].as_u64(),
        commit_index: v["commit_index"].as_u64().unwrap_or(0),
        members: members.clone(),
    };
    // The status route asks the goose query too: its answer counts like /goose's.
    let answer = if v["role"] == "goose" {
        GooseAnswer::Goose {
            term: status.goose_term,
        }
    } else {
        GooseAnswer::Duck {
            reason: "status".into(),
        }
    };
    if let Some(term) = status.goose_term {
        world.saw_goose(term, id);
        let mut view = world.view_mut();
        if view.goose == Some((term, id)) {
            view.members = members;
        }
    }
    world.rec.record(Event::Goose {
        t,
        invoked,
        node: id,
        answer,
    });
    world.rec.record(Event::Status {
        t,
        invoked,
        node: id,
        status,
    });
}

/// Polls `/status` of every observed node every `every`.
pub async fn monitor(world: Arc<World>, every: Duration) {
    while !world.stop_observers.load(Ordering::Relaxed) {
        let mut polls = tokio::task::JoinSet::new();
        for id in world.observed() {
            let world = world.clone();
            polls.spawn(async move { poll_status(&world, id).await });
        }
        while polls.join_next().await.is_some() {}
        tokio::time::sleep(every).await;
    }
}
