//! A real network cut: three nodes, each in its own network namespace joined to a bridge
//! by a veth pair. Cutting the goose's link (deleting its veth) isolates it for real, at
//! the kernel; the other two elect a new goose and the isolated one answers duck. Putting
//! the link back heals the cluster to exactly one goose.
//!
//! Needs root and iproute2, so it is ignored by plain `cargo test`; `scripts/test-node`
//! runs it. Where namespaces are not permitted it says so and passes.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const PORT: u16 = 7000;
const TOKEN: &str = "netns-test-token";

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Namespaces `dg<tag>-<i>`, veths `vh<tag>-<i>`, a bridge `br-dg<tag>`, and the subnet
/// 10.213.<x>.0/24 (node i at .i, the bridge at .254). Removed on drop.
struct Net {
    tag: u32,
    x: u32,
    n: usize,
}

impl Net {
    fn ns(&self, i: usize) -> String {
        format!("dg{}-{i}", self.tag)
    }
    fn veth(&self, i: usize) -> String {
        format!("vh{}-{i}", self.tag)
    }
    fn bridge(&self) -> String {
        format!("br-dg{}", self.tag)
    }
    fn addr(&self, i: usize) -> String {
        format!("10.213.{}.{i}:{PORT}", self.x)
    }

    fn setup(n: usize) -> Result<Net, String> {
        let tag = std::process::id() % 100_000;
        let net = Net {
            tag,
            x: 100 + tag % 100,
            n,
        };
        ip(&["netns", "add", &net.ns(1)])?;
        let br = net.bridge();
        ip(&["link", "add", &br, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("10.213.{}.254/24", net.x),
            "dev",
            &br,
        ])?;
        ip(&["link", "set", &br, "up"])?;
        for i in 1..=n {
            if i > 1 {
                ip(&["netns", "add", &net.ns(i)])?;
            }
            ip(&["-n", &net.ns(i), "link", "set", "lo", "up"])?;
            net.connect(i)?;
        }
        Ok(net)
    }

    fn connect(&self, i: usize) -> Result<(), String> {
        let (ns, veth) = (self.ns(i), self.veth(i));
        // A fixed MAC per node, so neighbours' ARP caches stay right across a reconnect.
        let mac = format!("02:00:0d:{:02x}:00:{i:02x}", self.x);
        ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "address", &mac, "netns",
            &ns,
        ])?;
        ip(&["link", "set", &veth, "master", &self.bridge()])?;
        ip(&["link", "set", &veth, "up"])?;
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("10.213.{}.{i}/24", self.x),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])
    }

    /// Removes node i's link: both veth ends disappear.
    fn cut(&self, i: usize) -> Result<(), String> {
        ip(&["link", "del", &self.veth(i)])
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 1..=self.n {
            let _ = ip(&["link", "del", &self.veth(i)]);
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
    }
}

struct Procs(Vec<std::process::Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn role(net: &Net, i: usize) -> Option<String> {
    request(
        &net.addr(i),
        "GET",
        "/role",
        &[],
        b"",
        Duration::from_millis(800),
    )
    .ok()
    .filter(|r| r.status == 200)
    .map(|r| r.body)
}

/// Asks a node from inside its own namespace (it may be cut off from ours).
fn role_inside(net: &Net, i: usize) -> Option<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", &net.ns(i), BIN, "find-goose"])
        .arg(format!("127.0.0.1:{PORT}"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.trim()
        .strip_prefix(&format!("{PORT}: "))
        .map(|s| s.to_string())
}

fn one_goose(net: &Net, ids: &[usize]) -> Option<usize> {
    let roles: Vec<Option<String>> = ids.iter().map(|&i| role(net, i)).collect();
    let geese: Vec<usize> = ids
        .iter()
        .zip(&roles)
        .filter(|(_, r)| r.as_deref() == Some("goose"))
        .map(|(&i, _)| i)
        .collect();
    (geese.len() == 1 && roles.iter().all(|r| r.is_some())).then(|| geese[0])
}

#[test]
#[ignore = "needs root and iproute2; run by scripts/test-node"]
fn cutting_the_gooses_link_elects_another_and_healing_restores_one_goose() {
    let net = match Net::setup(3) {
        Ok(net) => net,
        Err(e) => {
            eprintln!("SKIPPED: network namespaces are not permitted here ({e})");
            return;
        }
    };
    let root = temp_dir("netns");
    let mut procs = Procs(Vec::new());
    for i in 1..=3 {
        let mut args = vec![
            "netns".to_string(),
            "exec".into(),
            net.ns(i),
            BIN.into(),
            "node".into(),
            "--id".into(),
            i.to_string(),
            "--listen".into(),
            format!("0.0.0.0:{PORT}"),
            "--advertise".into(),
            net.addr(i),
            "--data-dir".into(),
            root.join(format!("node-{i}")).display().to_string(),
            "--token".into(),
            TOKEN.into(),
        ];
        for j in (1..=3).filter(|&j| j != i) {
            args.push("--peer".into());
            args.push(format!("{j}={}", net.addr(j)));
        }
        let log = std::fs::File::create(root.join(format!("node-{i}.log"))).unwrap();
        procs.0.push(
            Command::new("ip")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn node in its namespace"),
        );
    }
    let dump = || {
        for i in 1..=3 {
            let log = std::fs::read_to_string(root.join(format!("node-{i}.log")));
            eprintln!("---- node {i} ----\n{}", log.unwrap_or_default());
        }
    };
    let all = [1, 2, 3];
    let Some(goose) = poll(Duration::from_secs(15), || one_goose(&net, &all)) else {
        dump();
        panic!("no single goose across namespaces");
    };

    // Cut the goose's cable.
    net.cut(goose).expect("cut the link");
    let cut_at = Instant::now();
    let rest: Vec<usize> = all.iter().copied().filter(|&i| i != goose).collect();
    let Some(new_goose) = poll(Duration::from_secs(10), || one_goose(&net, &rest)) else {
        dump();
        panic!("the connected pair elected no goose");
    };
    let elected = cut_at.elapsed();
    assert_ne!(new_goose, goose);
    // The isolated node, asked from inside its namespace, is a duck.
    let Some(()) = poll(Duration::from_secs(5), || {
        (role_inside(&net, goose).as_deref() == Some("duck")).then_some(())
    }) else {
        dump();
        panic!("the isolated node still claims to be the goose");
    };
    eprintln!("link cut: new goose {new_goose} after {elected:?}");

    // Put the cable back: exactly one goose again.
    net.connect(goose).expect("reconnect");
    let Some(healed) = poll(Duration::from_secs(10), || one_goose(&net, &all)) else {
        dump();
        panic!("no single goose after healing");
    };
    assert_eq!(
        healed, new_goose,
        "the returning node must not depose the goose"
    );
    drop(procs);
    let _ = std::fs::remove_dir_all(&root);
}

fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
