//! Real network cuts with network namespaces (needs root and iproute2), for the nemesis
//! and the node's netns test.
//!
//! Each node runs in its own namespace with two links:
//! - `eth0`, the **cluster** link, on one of the group bridges `…g0`, `…g1`, `…g2` (no
//!   address on the host side, so the host never routes between them). Peers reach each
//!   other only here (`--advertise` is this address). A partition moves the host ends of
//!   the veths onto different group bridges; an isolation takes a host end down.
//! - `eth1`, the **control** link, on a bridge the host (the test) sits on: clients,
//!   goose checks and admin calls always get through, so the run keeps observing nodes
//!   that are cut off from their peers.
//!
//! Names carry the nemesis's pid so that concurrent runs never collide, and leftovers
//! of dead runs are removed at start.

use std::process::Command;

use crate::NodeId;

pub const PORT: u16 = 7000;

pub struct Netns {
    pid: u32,
    /// Third octet of both subnets.
    x: u32,
    nodes: Vec<NodeId>,
    pub groups: usize,
}

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

fn ip_output(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default()
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes namespaces, links and bridges left by nemesis runs that are gone.
pub fn clean_stale() {
    let mut dead = std::collections::BTreeSet::new();
    for line in ip_output(&["netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if let Some(rest) = name.strip_prefix("dgn")
            && let Some((pid, _)) = rest.split_once('-')
            && let Ok(pid) = pid.parse::<u32>()
            && !pid_alive(pid)
        {
            let _ = ip(&["netns", "del", name]);
            dead.insert(pid);
        }
    }
    for line in ip_output(&["-o", "link", "show"]).lines() {
        // "12: dgn1234c3@if2: <...>" or "13: dgn1234g0: <...>"
        let Some(name) = line.split(": ").nth(1) else {
            continue;
        };
        let name = name.split('@').next().unwrap_or("");
        if let Some(rest) = name.strip_prefix("dgn") {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(pid) = digits.parse::<u32>()
                && !pid_alive(pid)
            {
                let _ = ip(&["link", "del", name]);
            }
        }
    }
}

impl Netns {
    fn ns(&self, id: NodeId) -> String {
        format!("dgn{}-{id}", self.pid)
    }
    /// Host end of the cluster link.
    fn cveth(&self, id: NodeId) -> String {
        format!("dgn{}c{id}", self.pid)
    }
    /// Host end of the control link.
    fn kveth(&self, id: NodeId) -> String {
        format!("dgn{}k{id}", self.pid)
    }
    fn group_bridge(&self, g: usize) -> String {
        format!("dgn{}g{g}", self.pid)
    }
    fn control_bridge(&self) -> String {
        format!("dgn{}k", self.pid)
    }

    /// Where peers reach node `id`.
    pub fn cluster_addr(&self, id: NodeId) -> String {
        format!("10.214.{}.{id}:{PORT}", self.x)
    }

    /// Where the nemesis reaches node `id`.
    pub fn control_addr(&self, id: NodeId) -> String {
        format!("10.215.{}.{id}:{PORT}", self.x)
    }

    /// The argv prefix that runs a command inside node `id`'s namespace.
    pub fn exec_prefix(&self, id: NodeId) -> Vec<String> {
        vec!["netns".into(), "exec".into(), self.ns(id)]
    }

    /// Sets up the bridges. Nodes are added with [`Netns::add_node`].
    pub fn setup(groups: usize) -> Result<Netns, String> {
        if !cfg!(target_os = "linux") {
            return Err("network namespaces need Linux".into());
        }
        clean_stale();
        let pid = std::process::id();
        let net = Netns {
            pid,
            x: 16 + pid % 200,
            nodes: Vec::new(),
            groups,
        };
        for g in 0..groups {
            let br = net.group_bridge(g);
            ip(&["link", "add", &br, "type", "bridge"])?;
            ip(&["link", "set", &br, "up"])?;
        }
        let br = net.control_bridge();
        ip(&["link", "add", &br, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("10.215.{}.254/24", net.x),
            "dev",
            &br,
        ])?;
        ip(&["link", "set", &br, "up"])?;
        Ok(net)
    }

    /// A namespace for node `id` (ids stay below 254), linked to group 0 and the control
    /// bridge.
    pub fn add_node(&mut self, id: NodeId) -> Result<(), String> {
        if id == 0 || id >= 254 {
            return Err(format!("node id {id} does not fit the subnet"));
        }
        let ns = self.ns(id);
        ip(&["netns", "add", &ns])?;
        self.nodes.push(id);
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        let x = self.x;
        for (host, inner, bridge, subnet, mac_tag) in [
            (self.cveth(id), "eth0", self.group_bridge(0), 214, 0xc),
            (self.kveth(id), "eth1", self.control_bridge(), 215, 0xd),
        ] {
            let mac = format!(
                "02:{mac_tag:02x}:{:02x}:{:02x}:00:{id:02x}",
                x,
                self.pid % 256
            );
            ip(&[
                "link", "add", &host, "type", "veth", "peer", "name", inner, "address", &mac,
                "netns", &ns,
            ])?;
            ip(&["link", "set", &host, "master", &bridge])?;
            ip(&["link", "set", &host, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.{subnet}.{x}.{id}/24"),
                "dev",
                inner,
            ])?;
            ip(&["-n", &ns, "link", "set", inner, "up"])?;
        }
        Ok(())
    }

    /// Puts every node in `groups[i]` on group bridge `i` (nodes in no group stay on
    /// group 0's bridge only if listed there). At most `self.groups` groups.
    pub fn partition(&self, groups: &[Vec<NodeId>]) -> Result<(), String> {
        for (g, members) in groups.iter().enumerate().take(self.groups) {
            for &id in members {
                ip(&[
                    "link",
                    "set",
                    &self.cveth(id),
                    "master",
                    &self.group_bridge(g),
                ])?;
                ip(&["link", "set", &self.cveth(id), "up"])?;
            }
        }
        Ok(())
    }

    /// Takes node `id`'s cluster link down: nothing gets to or from its peers.
    pub fn isolate(&self, id: NodeId) -> Result<(), String> {
        ip(&["link", "set", &self.cveth(id), "down"])
    }

    /// Every node back on group 0, every link up.
    pub fn heal(&self) -> Result<(), String> {
        let mut result = Ok(());
        let br = self.group_bridge(0);
        for &id in &self.nodes {
            let host = self.cveth(id);
            for args in [
                &["link", "set", "dev", &host, "master", &br][..],
                &["link", "set", "dev", &host, "up"][..],
            ] {
                if let Err(e) = ip(args)
                    && result.is_ok()
                {
                    result = Err(e);
                }
            }
        }
        result
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for &id in &self.nodes {
            let _ = ip(&["link", "del", &self.cveth(id)]);
            let _ = ip(&["link", "del", &self.kveth(id)]);
            let _ = ip(&["netns", "del", &self.ns(id)]);
        }
        for g in 0..self.groups {
            let _ = ip(&["link", "del", &self.group_bridge(g)]);
        }
        let _ = ip(&["link", "del", &self.control_bridge()]);
    }
}
