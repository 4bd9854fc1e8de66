//! Many clients ask "are you the goose?" concurrently while the goose is killed,
//! restarted and hands over leadership. Goose answers must respect real time: an answer
//! that completed before another began never carries a higher term, and one term never
//! has two geese.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

#[derive(Debug, Clone)]
struct Answer {
    node: u64,
    term: u64,
    start: Instant,
    end: Instant,
}

#[test]
fn concurrent_goose_checks_never_break_term_order() {
    let mut cluster = Cluster::start(BIN, "goose-order", 5, Opts::default());
    let all = cluster.ids();
    let first = cluster.wait_one_goose(&all, Duration::from_secs(10));

    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let ducks = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let addrs: Vec<(u64, String)> = all.iter().map(|&id| (id, cluster.addr(id))).collect();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (answers, ducks, stop, addrs) =
                (answers.clone(), ducks.clone(), stop.clone(), addrs.clone());
            std::thread::spawn(move || {
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let (node, addr) = &addrs[i % addrs.len()];
                    i += 1;
                    let start = Instant::now();
                    let Ok(r) = request(addr, "GET", "/goose", &[], b"", Duration::from_secs(2))
                    else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    let end = Instant::now();
                    if r.status == 200 {
                        let term = r
                            .header("x-duckgoose-term")
                            .and_then(|t| t.parse().ok())
                            .expect("goose answers carry their term");
                        answers.lock().unwrap().push(Answer {
                            node: *node,
                            term,
                            start,
                            end,
                        });
                    } else {
                        assert_eq!(r.status, 503, "{}", r.body);
                        *ducks.lock().unwrap() += 1;
                    }
                }
            })
        })
        .collect();

    // Each phase lasts until the clients have collected this many goose answers from the
    // goose of that phase, so every phase is really under load.
    let answers_from = |node: u64| {
        answers
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.node == node)
            .count()
    };
    let under_load = |node: u64| {
        let before = answers_from(node);
        wait_for(
            &format!("clients to get 50 more goose answers from node {node}"),
            Duration::from_secs(10),
            || (answers_from(node) >= before + 50).then_some(()),
        );
    };

    // Disturb: kill -9 the goose, bring it back, then transfer leadership.
    under_load(first);
    cluster.kill9(first);
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != first).collect();
    let second = cluster.wait_one_goose(&rest, Duration::from_secs(5));
    cluster.restart(first);
    under_load(second);
    let target = *rest.iter().find(|&&id| id != second).expect("a target");
    let r = cluster
        .call(
            second,
            "POST",
            "/admin/transfer",
            &format!("{{\"to\":{target}}}"),
        )
        .expect("transfer");
    assert_eq!(r.status, 200, "{}", r.body);
    let third = cluster.wait_one_goose(&all, Duration::from_secs(5));
    assert_eq!(third, target);
    under_load(third);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }

    let mut answers = answers.lock().unwrap().clone();
    let terms: std::collections::BTreeSet<u64> = answers.iter().map(|a| a.term).collect();
    assert!(
        terms.len() >= 3,
        "expected geese of at least 3 terms, saw {terms:?}"
    );
    assert!(answers.len() > 100, "only {} goose answers", answers.len());
    assert!(*ducks.lock().unwrap() > 100);

    // One goose per term.
    let mut by_term = std::collections::BTreeMap::new();
    for a in &answers {
        let node = *by_term.entry(a.term).or_insert(a.node);
        assert_eq!(node, a.node, "two geese in term {}", a.term);
    }
    // Real-time order: sort by completion; every answer's term is at least the highest
    // term of any answer that completed before it started.
    answers.sort_by_key(|a| a.end);
    let mut by_start: Vec<&Answer> = answers.iter().collect();
    by_start.sort_by_key(|a| a.start);
    let mut done = 0;
    let mut max_done_term = 0;
    for b in by_start {
        while done < answers.len() && answers[done].end < b.start {
            max_done_term = max_done_term.max(answers[done].term);
            done += 1;
        }
        assert!(
            b.term >= max_done_term,
            "node {} answered goose of term {} after a goose of term {} had answered",
            b.node,
            b.term,
            max_done_term
        );
    }
}
