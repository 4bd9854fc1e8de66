//! `--peers-from-dns` with real processes: a tiny DNS server on a loopback UDP port
//! answers for a StatefulSet-like zone (`_peer._tcp.dg.test` SRV records whose targets
//! are `duckgoose-N.dg.test`, each an A record for 127.0.0.1), and nodes that are given
//! no `--peer`, no `--join` and no `--id` find each other through it: the founders wait
//! until DNS lists all of them, a later pod joins, and a name that never resolves ends
//! in a clear error at the deadline.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duckgoose_testkit::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");
const ZONE: &str = "dg.test";
const SRV_NAME: &str = "_peer._tcp.dg.test";

/// What the zone holds now (the test adds pods as it goes).
#[derive(Default)]
struct Zone {
    /// Pod ordinal → port.
    pods: BTreeMap<u64, u16>,
    /// The SRV name is gone (the pods' own names still resolve).
    srv_withdrawn: bool,
}

type Pods = Arc<Mutex<Zone>>;

/// A DNS server for [`ZONE`] on 127.0.0.1 (UDP), answering from `pods`; stops on drop.
struct DnsServer {
    addr: SocketAddr,
    pods: Pods,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    fn start() -> DnsServer {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a UDP port");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("local addr");
        let pods = Pods::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (pods, stop) = (pods.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let Ok(query) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let answer = answer(&query, &pods.lock().unwrap());
                    if let Ok(bytes) = answer.to_vec() {
                        let _ = socket.send_to(&bytes, from);
                    }
                }
            })
        };
        DnsServer {
            addr,
            pods,
            stop,
            thread: Some(thread),
        }
    }

    fn publish(&self, ordinal: u64, port: u16) {
        self.pods.lock().unwrap().pods.insert(ordinal, port);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn pod_host(ordinal: u64) -> String {
    format!("duckgoose-{ordinal}.{ZONE}")
}

fn fqdn(name: &str) -> Name {
    Name::from_ascii(format!("{name}.")).expect("a valid name")
}

/// The SRV name lists every pod; `duckgoose-N.ZONE` is 127.0.0.1 while pod N is listed;
/// anything else does not exist.
fn answer(query: &Message, zone: &Zone) -> Message {
    let pods = &zone.pods;
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    let Some(q) = query.queries.first() else {
        reply.metadata.response_code = ResponseCode::FormErr;
        return reply;
    };
    reply.add_query(q.clone());
    let asked = q.name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
    let ttl = 1;
    if asked == SRV_NAME.to_ascii_lowercase() && !pods.is_empty() && !zone.srv_withdrawn {
        if q.query_type == RecordType::SRV {
            for (&ordinal, &port) in pods {
                let srv = SRV::new(0, 0, port, fqdn(&pod_host(ordinal)));
                reply.add_answer(Record::from_rdata(q.name.clone(), ttl, RData::SRV(srv)));
            }
        }
        return reply;
    }
    if pods.keys().any(|&o| pod_host(o) == asked) {
        if q.query_type == RecordType::A {
            let a = RData::A(A(Ipv4Addr::LOCALHOST));
            reply.add_answer(Record::from_rdata(q.name.clone(), ttl, a));
        }
        return reply;
    }
    reply.metadata.response_code = ResponseCode::NXDomain;
    reply
}

/// Turns a testkit node's command line into a StatefulSet pod's: no `--id` (the
/// hostname `duckgoose-ORDINAL` gives it), no `--peer`/`--join`, the advertised address
/// is the pod's DNS name, and peers come from the SRV name.
fn as_pod(cluster: &mut Cluster, id: u64, initial_size: u64, dns: &DnsServer) -> u16 {
    let ordinal = id - 1;
    let p = cluster.node_mut(id);
    let port: u16 = p
        .peer_addr
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .expect("a port");
    let mut args = Vec::new();
    let mut old = std::mem::take(&mut p.args).into_iter();
    while let Some(arg) = old.next() {
        match arg.as_str() {
            "--id" | "--peer" | "--join" => {
                old.next();
            }
            "--advertise" => {
                old.next();
                args.extend([
                    "--advertise".into(),
                    format!("{}:{port}", pod_host(ordinal)),
                ]);
            }
            _ => args.push(arg),
        }
    }
    args.extend([
        "--peers-from-dns".into(),
        SRV_NAME.into(),
        "--initial-size".into(),
        initial_size.to_string(),
        "--dns-server".into(),
        dns.addr.to_string(),
        "--dns-wait-ms".into(),
        "60000".into(),
    ]);
    p.args = args;
    p.env = vec![("HOSTNAME".into(), format!("duckgoose-{ordinal}"))];
    port
}

fn members(cluster: &Cluster, id: u64) -> Option<Vec<(u64, String)>> {
    let status = cluster.status(id)?;
    status["members"]
        .as_array()?
        .iter()
        .map(|m| Some((m["id"].as_u64()?, m["addr"].as_str()?.to_string())))
        .collect()
}

#[test]
fn founders_wait_for_dns_then_find_each_other_and_a_later_pod_joins() {
    let dns = DnsServer::start();
    let mut cluster = Cluster::new(BIN, "dns-discovery", 3, Opts::default()).unwrap();
    assert!(cluster.token.is_some(), "the secure configuration");
    let mut ports = BTreeMap::new();
    for id in cluster.ids() {
        ports.insert(id, as_pod(&mut cluster, id, 3, &dns));
    }

    // Pods start before their records exist: the founders wait, serving nothing yet.
    for id in cluster.ids() {
        cluster.spawn(id).unwrap();
    }
    dns.publish(0, ports[&1]);
    dns.publish(1, ports[&2]);
    wait_for(
        "node 1 to say it waits for DNS",
        Duration::from_secs(10),
        || {
            cluster
                .log_tail(1, 50)
                .contains("waiting for DNS to list every founding member")
                .then_some(())
        },
    );
    assert!(
        cluster.status(1).is_none(),
        "a founder must not start alone"
    );
    assert!(cluster.is_running(1), "waiting is not failing");

    // The last record appears: all three find each other, elect one goose and agree.
    dns.publish(2, ports[&3]);
    let founders = cluster.ids();
    for &id in &founders {
        cluster.wait_serving(id);
    }
    let goose = cluster.wait_one_goose(&founders, Duration::from_secs(15));
    let expected: Vec<(u64, String)> = founders
        .iter()
        .map(|&id| (id, format!("{}:{}", pod_host(id - 1), ports[&id])))
        .collect();
    for &id in &founders {
        assert_eq!(members(&cluster, id).as_deref(), Some(&expected[..]));
        let leader = cluster.status(id).and_then(|s| s["leader"].as_u64());
        assert_eq!(leader, Some(goose), "node {id} agrees on the goose");
    }
    assert_eq!(cluster.put(goose, "k", "v").unwrap().status, 200);

    // A fourth pod, beyond the initial size, joins through the members DNS lists.
    cluster.prepare_joiner(4, "127.0.0.1:1").unwrap();
    ports.insert(4, as_pod(&mut cluster, 4, 3, &dns));
    dns.publish(3, ports[&4]);
    cluster.spawn(4).unwrap();
    cluster.wait_serving(4);
    let all = [1, 2, 3, 4];
    wait_for(
        "node 4 to be a member everywhere",
        Duration::from_secs(15),
        || {
            all.iter()
                .all(|&id| {
                    members(&cluster, id).is_some_and(|m| {
                        m.iter().map(|(id, _)| *id).collect::<Vec<_>>() == all
                            && m[3].1 == format!("{}:{}", pod_host(3), ports[&4])
                    })
                })
                .then_some(())
        },
    );
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    assert!(founders.contains(&goose) || goose == 4);

    // `duckgoose probe`, the image's health check: exit 0 only on a 2xx answer.
    let duck = *all.iter().find(|&&id| id != goose).unwrap();
    let probe = |id: u64| {
        let url = format!("{}/goose", cluster.url(id));
        run_bin(BIN, &["probe", &url], Duration::from_secs(10))
    };
    let (code, out, _) = probe(goose);
    assert_eq!((code, out.as_str()), (Some(0), "goose"));
    let (code, _, err) = probe(duck);
    assert_eq!(code, Some(1), "a duck's 503 fails the probe: {err}");
    assert!(err.contains("503"), "{err}");

    // A restart reads the membership from disk: the SRV name may be gone by then (the
    // members' names must still resolve: they are the members' addresses).
    dns.pods.lock().unwrap().srv_withdrawn = true;
    cluster.kill9(2);
    cluster.spawn(2).unwrap();
    cluster.wait_serving(2);
    cluster.wait_one_goose(&all, Duration::from_secs(15));
}

#[test]
fn a_name_that_never_resolves_is_a_clear_error_at_the_deadline() {
    let dns = DnsServer::start();
    let dir = temp_dir("dns-unresolved");
    let port = free_ports(1)[0];
    let listen = format!("127.0.0.1:{port}");
    let dns_addr = dns.addr.to_string();
    let data = dir.join("node-1").display().to_string();
    let started = Instant::now();
    let (code, _, stderr) = run_bin(
        BIN,
        &[
            "node",
            "--id",
            "1",
            "--listen",
            &listen,
            "--data-dir",
            &data,
            "--token",
            "t",
            "--peers-from-dns",
            "_peer._tcp.nowhere.test",
            "--initial-size",
            "3",
            "--dns-server",
            &dns_addr,
            "--dns-wait-ms",
            "1500",
        ],
        Duration::from_secs(20),
    );
    let took = started.elapsed();
    assert_eq!(code, Some(1), "exits with an error, not a panic: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("gave up waiting for every founding member after 1500 ms"),
        "{stderr}"
    );
    assert!(stderr.contains("_peer._tcp.nowhere.test"), "{stderr}");
    // It retried with backoff until the deadline rather than failing on the first try.
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(
        stderr.matches("waiting for DNS to list").count() >= 2,
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_node_without_id_needs_an_ordinal_hostname() {
    let dir = temp_dir("dns-no-ordinal");
    let data = dir.join("d").display().to_string();
    let mut child = std::process::Command::new(BIN)
        .args([
            "node",
            "--listen",
            "127.0.0.1:1",
            "--data-dir",
            &data,
            "--peers-from-dns",
            "x.test",
            "--initial-size",
            "3",
        ])
        .env("HOSTNAME", "no-ordinal-here")
        .env_remove("DUCKGOOSE_TOKEN")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let status = poll(Duration::from_secs(10), || child.try_wait().ok().flatten());
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot take a node id from the host name \"no-ordinal-here\""),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
