//! A recorded run: configuration plus timed actions. Replaying it gives the same trace
//! anywhere (this is how the playground scrubs time and shares runs by URL).

use alloc::vec::Vec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::trace::TraceMode;
use super::{Action, Cluster, SimConfig};
use crate::types::Millis;

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Scenario {
    pub config: SimConfig,
    /// Actions in time order; several may share a time (applied in list order).
    pub actions: Vec<(Millis, Action)>,
}

impl Scenario {
    pub fn new(config: SimConfig) -> Self {
        Scenario {
            config,
            actions: Vec::new(),
        }
    }

    /// Replays the scenario up to `until`.
    pub fn replay(&self, until: Millis, trace: TraceMode) -> Cluster {
        let mut cluster = Cluster::new(self.config.clone(), trace);
        for (at, action) in &self.actions {
            if *at > until {
                break;
            }
            cluster.run_until(*at);
            cluster.apply(action.clone());
        }
        cluster.run_until(until);
        cluster
    }
}
