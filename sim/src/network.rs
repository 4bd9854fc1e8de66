//! The simulated network: per-directed-link connectivity (partitions are sets of cut
//! links, so one-way cuts come free), latency ranges, loss and duplication. Reordering
//! follows from random latency.

use alloc::vec::Vec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use duckgoose_core::rng::Rng;
use duckgoose_core::types::{Map, Millis, NodeId};

/// Faults on a link (or on every link, as the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct LinkFaults {
    pub latency_min: Millis,
    pub latency_max: Millis,
    /// Chance a message is lost, in parts per million.
    pub loss_ppm: u32,
    /// Chance a message is delivered twice, in parts per million.
    pub duplicate_ppm: u32,
}

impl LinkFaults {
    /// RaftScope's network: 10–15 ms, nothing lost.
    pub const CALM: LinkFaults = LinkFaults {
        latency_min: 10,
        latency_max: 15,
        loss_ppm: 0,
        duplicate_ppm: 0,
    };
}

/// What happens to one message sent now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Delivered after `delay`, and a second copy after `duplicate` if set.
    Deliver {
        delay: Millis,
        duplicate: Option<Millis>,
    },
    Cut,
    Lost,
}

#[derive(Clone, Debug)]
pub struct Network {
    pub defaults: LinkFaults,
    overrides: Map<(NodeId, NodeId), LinkFaults>,
    /// Cut directed links (a map to nothing: a sorted set).
    cut: Map<(NodeId, NodeId), ()>,
}

impl Network {
    pub fn new(defaults: LinkFaults) -> Self {
        Network {
            defaults,
            overrides: Map::new(),
            cut: Map::new(),
        }
    }

    pub fn faults(&self, from: NodeId, to: NodeId) -> LinkFaults {
        self.overrides
            .get(&(from, to))
            .copied()
            .unwrap_or(self.defaults)
    }

    pub fn set_link_faults(&mut self, from: NodeId, to: NodeId, faults: Option<LinkFaults>) {
        match faults {
            Some(f) => self.overrides.insert((from, to), f),
            None => self.overrides.remove(&(from, to)),
        };
    }

    pub fn is_connected(&self, from: NodeId, to: NodeId) -> bool {
        !self.cut.contains_key(&(from, to))
    }

    /// Splits `nodes` into groups that cannot talk to each other. Nodes named in no group
    /// form one more group together. Replaces any earlier partition or cut.
    pub fn partition(&mut self, groups: &[Vec<NodeId>], nodes: &[NodeId]) {
        self.cut.clear();
        let group_of = |id: NodeId| {
            groups
                .iter()
                .position(|g| g.contains(&id))
                .unwrap_or(groups.len())
        };
        for &a in nodes {
            for &b in nodes {
                if a != b && group_of(a) != group_of(b) {
                    self.cut.insert((a, b), ());
                }
            }
        }
    }

    /// Cuts (or restores) the single directed link `from → to`.
    pub fn set_cut(&mut self, from: NodeId, to: NodeId, cut: bool) {
        if cut {
            self.cut.insert((from, to), ());
        } else {
            self.cut.remove(&(from, to));
        }
    }

    /// Forgets every cut and override involving `id` (it left the cluster).
    pub fn heal_node(&mut self, id: NodeId) {
        self.cut.retain(|&(a, b), _| a != id && b != id);
        self.overrides.retain(|&(a, b), _| a != id && b != id);
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn cut_links(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.cut.keys().copied()
    }

    /// Decides a message's fate. Draws from `rng` in a fixed order, so runs replay exactly.
    pub fn route(&self, from: NodeId, to: NodeId, rng: &mut Rng) -> Fate {
        if !self.is_connected(from, to) {
            return Fate::Cut;
        }
        let faults = self.faults(from, to);
        if rng.chance_ppm(faults.loss_ppm) {
            return Fate::Lost;
        }
        let delay = rng.between(faults.latency_min, faults.latency_max + 1);
        let duplicate = rng
            .chance_ppm(faults.duplicate_ppm)
            .then(|| rng.between(faults.latency_min, faults.latency_max + 1));
        Fate::Deliver { delay, duplicate }
    }
}
