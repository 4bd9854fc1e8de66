//! Exhaustive exploration of the model within its bounds: breadth first (shortest
//! counterexamples; the frontier holds whole states) or depth first (memory is the
//! visited set of 64-bit fingerprints only, for the big offline bounds). Both stop at
//! the first failing state and return the path to it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use crate::model::{Action, Bounds, Failure, State, fingerprint};

/// Keys are fingerprints already: hashing them again would only cost time.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Fingerprints = BuildHasherDefault<Identity>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    BreadthFirst,
    DepthFirst,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub order: Order,
    /// Stop (unfinished) after this many distinct states.
    pub max_states: u64,
    /// Stop (unfinished) after this long.
    pub max_time: Duration,
    /// Check "goose eventually" from every `liveness_every`-th distinct state (0: never),
    /// allowing this many stable-network steps.
    pub liveness_every: u64,
    pub liveness_steps: usize,
    /// Print a progress line to stderr this often (states, transitions, depth, rate), so
    /// that a long offline bound shows how far it got even if it is stopped.
    pub progress_every: Option<Duration>,
}

impl Options {
    pub fn bfs() -> Options {
        Options {
            order: Order::BreadthFirst,
            max_states: u64::MAX,
            max_time: Duration::from_secs(u64::MAX / 4),
            liveness_every: 0,
            liveness_steps: 200,
            progress_every: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Counterexample {
    pub failure: Failure,
    /// From the initial state, the actions that reach the failing state.
    pub path: Vec<Action>,
}

#[derive(Clone, Debug)]
pub struct Report {
    /// Distinct (normalised) states seen.
    pub states: u64,
    /// Transitions taken (including into states already seen).
    pub transitions: u64,
    /// The longest path explored: for breadth first, the distance of the farthest state.
    pub depth: usize,
    /// Every state within the bounds was explored.
    pub complete: bool,
    pub elapsed: Duration,
    /// Stable-network liveness runs made, and the most steps one needed.
    pub liveness_checks: u64,
    pub liveness_max_steps: usize,
    pub counterexample: Option<Counterexample>,
}

impl Report {
    pub fn states_per_second(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

pub fn explore(bounds: &Bounds, options: &Options) -> Report {
    // Core assertions are caught and reported as failures: keep their panics quiet.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let report = match options.order {
        Order::BreadthFirst => breadth_first(bounds, options),
        Order::DepthFirst => depth_first(bounds, options),
    };
    std::panic::set_hook(hook);
    report
}

struct Progress {
    start: Instant,
    last_print: Instant,
    report: Report,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            start: Instant::now(),
            last_print: Instant::now(),
            report: Report {
                states: 0,
                transitions: 0,
                depth: 0,
                complete: false,
                elapsed: Duration::ZERO,
                liveness_checks: 0,
                liveness_max_steps: 0,
                counterexample: None,
            },
        }
    }

    fn out_of_budget(&mut self, options: &Options) -> bool {
        if !self.report.states.is_multiple_of(1024) {
            return self.report.states >= options.max_states;
        }
        if let Some(every) = options.progress_every
            && self.last_print.elapsed() >= every
        {
            self.last_print = Instant::now();
            let secs = self.start.elapsed().as_secs_f64();
            eprintln!(
                "progress: {} distinct states, {} transitions, depth {}, {secs:.0} s ({:.0} states/s)",
                self.report.states,
                self.report.transitions,
                self.report.depth,
                self.report.states as f64 / secs.max(1e-9)
            );
        }
        self.report.states >= options.max_states || self.start.elapsed() >= options.max_time
    }

    /// A new distinct state: checks liveness from it when due.
    fn visit(&mut self, state: &State, bounds: &Bounds, options: &Options) -> Option<Failure> {
        self.report.states += 1;
        if let Some(f) = state.failure() {
            return Some(f);
        }
        if options.liveness_every > 0
            && self.report.states.is_multiple_of(options.liveness_every)
            && state.within(bounds)
        {
            self.report.liveness_checks += 1;
            match state.goose_eventually(bounds, options.liveness_steps) {
                Ok(steps) => {
                    self.report.liveness_max_steps = self.report.liveness_max_steps.max(steps)
                }
                Err(f) => return Some(f),
            }
        }
        None
    }

    fn finish(mut self) -> Report {
        self.report.elapsed = self.start.elapsed();
        self.report
    }
}

fn breadth_first(bounds: &Bounds, options: &Options) -> Report {
    let mut progress = Progress::new();
    let initial = State::initial(bounds);
    let root = fingerprint(&initial);
    // Every state seen: its parent and the action from it (for counterexample paths).
    let mut parents: HashMap<u64, (u64, Option<Action>), Fingerprints> = HashMap::default();
    parents.insert(root, (root, None));
    let mut frontier: VecDeque<(State, u64, usize)> = VecDeque::new();
    let path_to = |parents: &HashMap<u64, (u64, Option<Action>), Fingerprints>, mut at: u64| {
        let mut path = Vec::new();
        while let Some((parent, Some(action))) = parents.get(&at) {
            path.push(action.clone());
            at = *parent;
        }
        path.reverse();
        path
    };
    if let Some(failure) = progress.visit(&initial, bounds, options) {
        progress.report.counterexample = Some(Counterexample {
            failure,
            path: Vec::new(),
        });
        return progress.finish();
    }
    frontier.push_back((initial, root, 0));
    let mut actions = Vec::new();
    while let Some((state, id, depth)) = frontier.pop_front() {
        if progress.out_of_budget(options) {
            return progress.finish();
        }
        state.actions(bounds, &mut actions);
        for action in &actions {
            let mut next = state.clone();
            next.step(action, bounds);
            progress.report.transitions += 1;
            let fp = fingerprint(&next);
            if parents.contains_key(&fp) {
                continue;
            }
            parents.insert(fp, (id, Some(action.clone())));
            progress.report.depth = progress.report.depth.max(depth + 1);
            if let Some(failure) = progress.visit(&next, bounds, options) {
                let path = path_to(&parents, fp);
                progress.report.counterexample = Some(Counterexample { failure, path });
                return progress.finish();
            }
            frontier.push_back((next, fp, depth + 1));
        }
    }
    progress.report.complete = true;
    progress.finish()
}

fn depth_first(bounds: &Bounds, options: &Options) -> Report {
    let mut progress = Progress::new();
    let initial = State::initial(bounds);
    let mut seen: HashSet<u64, Fingerprints> = HashSet::default();
    seen.insert(fingerprint(&initial));
    if let Some(failure) = progress.visit(&initial, bounds, options) {
        progress.report.counterexample = Some(Counterexample {
            failure,
            path: Vec::new(),
        });
        return progress.finish();
    }
    // The path: each state, its actions, the next one to try, and the action into it.
    struct Frame {
        state: State,
        actions: Vec<Action>,
        next: usize,
        via: Option<Action>,
    }
    let frame = |state: State, via: Option<Action>| {
        let mut actions = Vec::new();
        state.actions(bounds, &mut actions);
        Frame {
            state,
            actions,
            next: 0,
            via,
        }
    };
    let mut stack = vec![frame(initial, None)];
    while let Some(top) = stack.last_mut() {
        if progress.out_of_budget(options) {
            return progress.finish();
        }
        let Some(action) = top.actions.get(top.next).cloned() else {
            stack.pop();
            continue;
        };
        top.next += 1;
        let mut next = top.state.clone();
        next.step(&action, bounds);
        progress.report.transitions += 1;
        if !seen.insert(fingerprint(&next)) {
            continue;
        }
        progress.report.depth = progress.report.depth.max(stack.len());
        if let Some(failure) = progress.visit(&next, bounds, options) {
            let mut path: Vec<Action> = stack.iter().filter_map(|f| f.via.clone()).collect();
            path.push(action);
            progress.report.counterexample = Some(Counterexample { failure, path });
            return progress.finish();
        }
        stack.push(frame(next, Some(action)));
    }
    progress.report.complete = true;
    progress.finish()
}
