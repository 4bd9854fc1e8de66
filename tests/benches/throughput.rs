//! Committed entries per second in an in-memory 3-node cluster, ours against tikv's
//! raft-rs on the same workload: propose a batch at the leader, then shuttle messages
//! between the three nodes (persisting to in-memory storage first, as both libraries
//! require) until the whole batch is committed at the leader. No I/O, no clocks.

use std::collections::VecDeque;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const VALUE: &str = "0123456789abcdef"; // 16-byte payloads
const BATCHES: [usize; 3] = [1, 16, 256];

mod ours {
    use super::*;
    use duckgoose_core::{Command, Config, Entry, Membership, Message, Op, Persisted, Raft, Role};

    pub struct Cluster {
        nodes: Vec<Raft>,
        /// What each node made durable (a Vec stands in for the disk).
        disks: Vec<Vec<Entry>>,
        queue: VecDeque<Message>,
        leader: usize,
        pub committed: u64,
    }

    impl Cluster {
        pub fn new() -> Cluster {
            let ids = [1, 2, 3];
            let nodes: Vec<Raft> = ids
                .iter()
                .map(|&id| {
                    let config = Config {
                        max_entries_per_message: 4096,
                        ..Config::new(id, id)
                    };
                    Raft::new(config, Persisted::bootstrap(Membership::from_ids(ids)), 0).unwrap()
                })
                .collect();
            let mut c = Cluster {
                nodes,
                disks: vec![Vec::new(); 3],
                queue: VecDeque::new(),
                leader: 0,
                committed: 0,
            };
            // Let time pass until someone leads, then put the leader first.
            let mut now = 0;
            while !c.nodes.iter().any(|n| n.role() == Role::Leader) {
                now += 10;
                c.nodes.iter_mut().for_each(|n| n.tick(now));
                c.pump();
                assert!(now < 10_000, "no leader");
            }
            let leader = c
                .nodes
                .iter()
                .position(|n| n.role() == Role::Leader)
                .unwrap();
            c.leader = leader;
            c.committed = 0;
            c
        }

        fn pump(&mut self) {
            loop {
                for (i, node) in self.nodes.iter_mut().enumerate() {
                    if !node.has_ready() {
                        continue;
                    }
                    let mut ready = node.ready();
                    if let Some(write) = ready.log_write.take() {
                        let disk = &mut self.disks[i];
                        disk.truncate((write.truncate_from - 1) as usize);
                        disk.extend(write.entries);
                    }
                    let released = node.advance(ready);
                    if i == self.leader {
                        self.committed += released.committed.len() as u64;
                    }
                    self.queue.extend(released.messages);
                }
                if self.queue.is_empty() && !self.nodes.iter().any(|n| n.has_ready()) {
                    return;
                }
                while let Some(m) = self.queue.pop_front() {
                    let to = (m.to - 1) as usize;
                    self.nodes[to].step(m);
                }
            }
        }

        pub fn commit_batch(&mut self, batch: usize) {
            let target = self.committed + batch as u64;
            let commands = (0..batch).map(|i| {
                Command::App(Op::Put {
                    key: format!("k{}", i % 64),
                    value: VALUE.to_string(),
                })
            });
            self.nodes[self.leader].propose_batch(commands).unwrap();
            self.pump();
            assert!(self.committed >= target);
        }
    }
}

mod raft_rs {
    use super::*;
    use raft::StateRole;
    use raft::prelude::*;
    use raft::storage::MemStorage;

    pub struct Cluster {
        nodes: Vec<RawNode<MemStorage>>,
        queue: VecDeque<Message>,
        pub committed: u64,
    }

    impl Cluster {
        pub fn new() -> Cluster {
            let logger = slog::Logger::root(slog::Discard, slog::o!());
            let nodes = (1..=3u64)
                .map(|id| {
                    let config = Config {
                        id,
                        election_tick: 10,
                        heartbeat_tick: 1,
                        max_size_per_msg: 1 << 20,
                        max_inflight_msgs: 256,
                        ..Default::default()
                    };
                    let storage = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
                    RawNode::new(&config, storage, &logger).unwrap()
                })
                .collect();
            let mut c = Cluster {
                nodes,
                queue: VecDeque::new(),
                committed: 0,
            };
            c.nodes[0].campaign().unwrap();
            c.pump();
            assert_eq!(c.nodes[0].raft.state, StateRole::Leader);
            c
        }

        fn pump(&mut self) {
            loop {
                for (i, node) in self.nodes.iter_mut().enumerate() {
                    if !node.has_ready() {
                        continue;
                    }
                    let store = node.raft.raft_log.store.clone();
                    let mut ready = node.ready();
                    self.queue.extend(ready.take_messages());
                    let mut committed = ready.take_committed_entries().len() as u64;
                    store.wl().append(ready.entries()).unwrap();
                    if let Some(hs) = ready.hs() {
                        store.wl().set_hardstate(hs.clone());
                    }
                    self.queue.extend(ready.take_persisted_messages());
                    let mut light = node.advance(ready);
                    if let Some(commit) = light.commit_index() {
                        store.wl().mut_hard_state().set_commit(commit);
                    }
                    self.queue.extend(light.take_messages());
                    committed += light.take_committed_entries().len() as u64;
                    node.advance_apply();
                    if i == 0 {
                        self.committed += committed;
                    }
                }
                if self.queue.is_empty() {
                    return;
                }
                while let Some(m) = self.queue.pop_front() {
                    let to = (m.to - 1) as usize;
                    self.nodes[to].step(m).unwrap();
                }
            }
        }

        pub fn commit_batch(&mut self, batch: usize) {
            let target = self.committed + batch as u64;
            for i in 0..batch {
                let data = format!("put k{} {VALUE}", i % 64).into_bytes();
                self.nodes[0].propose(vec![], data).unwrap();
            }
            self.pump();
            assert!(self.committed >= target);
        }
    }
}

fn committed_entries(c: &mut Criterion) {
    let mut group = c.benchmark_group("commit_3_nodes");
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("duckgoose", batch), &batch, |b, &batch| {
            let mut cluster = ours::Cluster::new();
            b.iter(|| cluster.commit_batch(batch));
        });
        group.bench_with_input(BenchmarkId::new("raft-rs", batch), &batch, |b, &batch| {
            let mut cluster = raft_rs::Cluster::new();
            b.iter(|| cluster.commit_batch(batch));
        });
    }
    group.finish();
}

criterion_group!(benches, committed_entries);
criterion_main!(benches);
