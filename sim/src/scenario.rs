//! A recorded run: configuration plus timed actions. Replaying it gives the same trace
//! anywhere (this is how the playground scrubs time and shares runs by URL).

use alloc::vec::Vec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use duckgoose_core::Millis;

use crate::trace::TraceMode;
use crate::validate::{Invalid, MAX_TIME, check_scenario};
use crate::{Action, Cluster, SimConfig};

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

/// Replays `scenario` to `until` keeping only the hash and the node-event count: what
/// the native `replay` binary prints, for the cross-target determinism test.
pub fn replay_hash(scenario: &Scenario, until: Millis) -> Result<(u64, u64), Invalid> {
    check_scenario(scenario)?;
    let cluster = scenario.replay(until.min(MAX_TIME), TraceMode::HashOnly);
    Ok((cluster.trace().hash(), cluster.node_events()))
}
