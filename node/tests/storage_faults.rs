//! Storage faults: the log truncated at every byte of its last record, a bit flipped
//! anywhere in any record, and ENOSPC/EIO on write and fsync through a fault-injecting
//! file layer (`Storage::open_with`). The node must recover exactly what was durable (a
//! record that was written but never confirmed durable may or may not come back: it was
//! never acknowledged) or refuse to start with a clear error; it must never report a
//! write durable that is not, and the replica must stop before any reply or message
//! that depends on a failed write leaves the process.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duckgoose::runtime::{self, Input, Shared};
use duckgoose::storage::{
    self, Layer, LogFile, MAGIC, Record, Storage, StorageError, WAL_FILE, encode_record,
};
use duckgoose_core::{
    Body, Command, Config, Entry, HardState, Index, LogWrite, Member, Membership, Message, Op,
    Output, Persisted, Replica, Reply, Request, RequestError, Term,
};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "duckgoose-faults-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn put(index: Index, term: Term, key: &str) -> Entry {
    Entry {
        index,
        term,
        command: Command::App(Op::Put {
            key: key.into(),
            value: format!("value of {key} at {index}"),
        }),
    }
}

fn bootstrap() -> Persisted {
    Persisted::bootstrap(Membership::new(vec![
        Member::new(1, "127.0.0.1:1"),
        Member::new(2, "127.0.0.1:2"),
        Member::new(3, "127.0.0.1:3"),
    ]))
}

/// One persist: a hard state or a log write, so that each is exactly one record.
#[derive(Clone)]
enum Change {
    Hard(HardState),
    Log(LogWrite),
}

fn apply(state: &mut Persisted, change: &Change) {
    match change {
        Change::Hard(hs) => {
            state.term = hs.term;
            state.voted_for = hs.voted_for;
        }
        Change::Log(lw) => {
            state.log.truncate(lw.truncate_from as usize - 1);
            state.log.extend(lw.entries.iter().cloned());
        }
    }
}

fn persist(s: &mut Storage, change: &Change) -> Result<Option<Duration>, StorageError> {
    match change {
        Change::Hard(hs) => s.persist(Some(hs), None),
        Change::Log(lw) => s.persist(None, Some(lw)),
    }
}

/// A history of changes: elections, appends, a truncation by a newer leader.
fn changes() -> Vec<Change> {
    let hard = |term, voted_for| Change::Hard(HardState { term, voted_for });
    let log = |truncate_from, entries| {
        Change::Log(LogWrite {
            truncate_from,
            entries,
        })
    };
    vec![
        hard(1, Some(2)),
        log(2, vec![put(2, 1, "a"), put(3, 1, "b")]),
        hard(2, None),
        hard(2, Some(1)),
        log(3, vec![put(3, 2, "c")]),
        log(4, vec![put(4, 2, "d"), put(5, 2, "e"), put(6, 2, "f")]),
        hard(3, Some(3)),
        log(6, vec![put(6, 3, "g")]),
    ]
}

/// Writes `changes()` into a fresh directory. Returns the file length and the state
/// after each change (index 0: before any).
fn write_log(dir: &Path) -> (Vec<u64>, Vec<Persisted>) {
    let (mut s, _) = Storage::open(dir, 1, bootstrap()).unwrap();
    let path = dir.join(WAL_FILE);
    let mut lens = vec![fs::metadata(&path).unwrap().len()];
    let mut states = vec![bootstrap()];
    for change in changes() {
        persist(&mut s, &change).unwrap();
        let mut next = states.last().unwrap().clone();
        apply(&mut next, &change);
        states.push(next);
        lens.push(fs::metadata(&path).unwrap().len());
    }
    (lens, states)
}

fn reopen(dir: &Path) -> Result<Persisted, StorageError> {
    Storage::open(dir, 1, Persisted::empty()).map(|(_, r)| r.persisted)
}

#[test]
fn truncating_the_last_record_at_every_byte_recovers_exactly_the_prefix() {
    let dir = tempdir("truncate");
    let (lens, states) = write_log(&dir);
    let path = dir.join(WAL_FILE);
    let full = fs::read(&path).unwrap();
    let n = lens.len() - 1;
    let (start, end) = (lens[n - 1] as usize, lens[n] as usize);
    assert_eq!(end, full.len());
    assert_eq!(reopen(&dir).unwrap(), states[n]);
    for cut in start..end {
        fs::write(&path, &full[..cut]).unwrap();
        let (mut s, rec) = Storage::open(&dir, 1, Persisted::empty())
            .unwrap_or_else(|e| panic!("cut at {cut}: must start, got {e}"));
        assert_eq!(rec.persisted, states[n - 1], "cut at {cut}");
        let torn = rec.torn_tail.map(|t| (t.offset, t.dropped_bytes));
        let expected = (cut > start).then_some((start as u64, (cut - start) as u64));
        assert_eq!(torn, expected, "cut at {cut}");
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            start as u64,
            "truncated"
        );
        // The log takes new writes where the prefix ends, and they survive.
        let change = Change::Log(LogWrite {
            truncate_from: 6,
            entries: vec![put(6, 3, "h")],
        });
        persist(&mut s, &change).unwrap();
        drop(s);
        let mut expected = states[n - 1].clone();
        apply(&mut expected, &change);
        assert_eq!(
            reopen(&dir).unwrap(),
            expected,
            "cut at {cut}, then a write"
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flipped_bit_anywhere_in_any_record_refuses_to_start_and_names_the_offset() {
    let dir = tempdir("bitflip");
    let (lens, _) = write_log(&dir);
    let path = dir.join(WAL_FILE);
    let full = fs::read(&path).unwrap();
    // Record boundaries: after the magic, every record of the fresh file, then one per
    // change.
    let mut starts = Vec::new();
    let mut pos = MAGIC.len();
    while pos < full.len() {
        starts.push(pos);
        let len = u32::from_le_bytes(full[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    assert_eq!(pos, full.len());
    assert!(starts.len() >= lens.len(), "{starts:?}");
    let mut flips = 0;
    for (r, &start) in starts.iter().enumerate() {
        let end = starts.get(r + 1).copied().unwrap_or(full.len());
        for byte in start..end {
            for bit in 0..8 {
                let mut data = full.clone();
                data[byte] ^= 1 << bit;
                fs::write(&path, &data).unwrap();
                match Storage::open(&dir, 1, Persisted::empty()) {
                    Err(StorageError::Corrupt { offset, .. }) if offset == start as u64 => {}
                    Err(e) => panic!("record {r} byte {byte} bit {bit}: wrong error {e}"),
                    Ok(_) => panic!(
                        "record {r} (of {}) byte {byte} bit {bit}: started on a damaged log",
                        starts.len()
                    ),
                }
                assert_eq!(fs::read(&path).unwrap(), data, "the file is left alone");
                flips += 1;
            }
        }
    }
    // The last record's refusal says what happened and where.
    let last = *starts.last().unwrap();
    let mut data = full.clone();
    data[last + 9] ^= 4;
    fs::write(&path, &data).unwrap();
    let msg = Storage::open(&dir, 1, Persisted::empty())
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(&format!("offset {last}")), "{msg}");
    assert!(msg.contains("complete but fails its CRC"), "{msg}");
    assert!(flips > 1000, "{flips}");
    // The magic too.
    let mut data = full.clone();
    data[3] ^= 1;
    fs::write(&path, &data).unwrap();
    assert!(matches!(
        Storage::open(&dir, 1, Persisted::empty()),
        Err(StorageError::NotAWal { .. })
    ));
    fs::remove_dir_all(&dir).unwrap();
}

// ---- The fault-injecting file layer ---------------------------------------------------

const ENOSPC: i32 = 28;
const EIO: i32 = 5;

/// What the next failing call does.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `append` writes this many bytes of the buffer, then fails with `errno`.
    Write { errno: i32, written: usize },
    /// `sync` fails with EIO; the disk then holds what `keeps` says of the bytes
    /// appended since the last successful sync.
    Sync { keeps: Keeps },
    /// `set_len` fails with EIO.
    SetLen,
}

#[derive(Clone, Copy, Debug)]
enum Keeps {
    /// Everything (the kernel wrote the pages back later).
    All,
    /// Nothing (the kernel dropped the dirty pages).
    Nothing,
    /// The first few bytes.
    Some(usize),
}

#[derive(Default)]
struct Plan {
    /// Fail the call after this many more successful calls of the same kind.
    pending: Vec<(Fault, usize)>,
    /// Which file name the faults apply to (`raft.wal` or `raft.wal.tmp`).
    only: Option<&'static str>,
    fired: usize,
}

struct Faulty {
    file: File,
    path: PathBuf,
    plan: Arc<Mutex<Plan>>,
    synced_len: u64,
}

impl Faulty {
    fn take(&self, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut plan = self.plan.lock().unwrap();
        if let Some(only) = plan.only
            && self.path.file_name().and_then(|n| n.to_str()) != Some(only)
        {
            return None;
        }
        let i = plan.pending.iter().position(|(f, _)| matches(f))?;
        if plan.pending[i].1 > 0 {
            plan.pending[i].1 -= 1;
            return None;
        }
        plan.fired += 1;
        Some(plan.pending.remove(i).0)
    }
}

impl LogFile for Faulty {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        use std::io::Write;
        if let Some(Fault::Write { errno, written }) =
            self.take(|f| matches!(f, Fault::Write { .. }))
        {
            self.file.write_all(&buf[..written.min(buf.len())])?;
            return Err(io::Error::from_raw_os_error(errno));
        }
        self.file.write_all(buf)
    }

    fn sync(&mut self) -> io::Result<()> {
        if let Some(Fault::Sync { keeps }) = self.take(|f| matches!(f, Fault::Sync { .. })) {
            let len = self.file.metadata()?.len();
            let keep = match keeps {
                Keeps::All => len,
                Keeps::Nothing => self.synced_len,
                Keeps::Some(n) => (self.synced_len + n as u64).min(len),
            };
            self.file.set_len(keep)?;
            return Err(io::Error::from_raw_os_error(EIO));
        }
        self.file.sync_data()?;
        self.synced_len = self.file.metadata()?.len();
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        if self.take(|f| matches!(f, Fault::SetLen)).is_some() {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        self.file.set_len(len)
    }
}

fn layer(plan: &Arc<Mutex<Plan>>) -> Layer {
    let plan = plan.clone();
    Arc::new(move |file: File, path: &Path| {
        let synced_len = file.metadata().map(|m| m.len()).unwrap_or(0);
        Box::new(Faulty {
            file,
            path: path.to_path_buf(),
            plan: plan.clone(),
            synced_len,
        }) as Box<dyn LogFile>
    })
}

fn plan(faults: &[(Fault, usize)]) -> Arc<Mutex<Plan>> {
    Arc::new(Mutex::new(Plan {
        pending: faults.to_vec(),
        only: Some(WAL_FILE),
        fired: 0,
    }))
}

/// Applies `changes()` through a faulty layer until the first error. Returns the index
/// of the change that failed and the states (as in `write_log`).
fn write_until_failure(dir: &Path, plan: &Arc<Mutex<Plan>>) -> (usize, Vec<Persisted>, String) {
    let (mut s, _) = Storage::open_with(dir, 1, bootstrap(), layer(plan)).unwrap();
    let mut states = vec![bootstrap()];
    for (i, change) in changes().iter().enumerate() {
        match persist(&mut s, change) {
            Ok(_) => {
                let mut next = states.last().unwrap().clone();
                apply(&mut next, change);
                states.push(next);
            }
            Err(e) => {
                // Poisoned: a later persist fails too, even with no fault pending, so
                // nothing written after the failure can be reported durable.
                let again = persist(&mut s, &changes()[0]).unwrap_err().to_string();
                assert!(again.contains("poisoned"), "{again}");
                let also_later = persist(&mut s, change).unwrap_err().to_string();
                assert!(also_later.contains("poisoned"), "{also_later}");
                return (i, states, e.to_string());
            }
        }
    }
    panic!("no fault fired");
}

#[test]
fn enospc_or_eio_on_write_is_never_durable_and_recovery_keeps_the_prefix() {
    let total: usize = {
        let mut buf = Vec::new();
        if let Change::Log(lw) = &changes()[5] {
            encode_record(
                &mut buf,
                &Record::Log {
                    truncate_from: lw.truncate_from,
                    entries: lw.entries.clone(),
                },
            );
        }
        buf.len()
    };
    for errno in [ENOSPC, EIO] {
        for written in [0, 1, 4, 8, 9, total / 2, total - 1] {
            let dir = tempdir("write");
            // The sixth change (a three-entry append) fails after `written` bytes.
            let p = plan(&[(Fault::Write { errno, written }, 5)]);
            let (failed, states, err) = write_until_failure(&dir, &p);
            assert_eq!(failed, 5);
            let expect = if errno == ENOSPC {
                "No space left on device"
            } else {
                "Input/output error"
            };
            assert!(
                err.contains("cannot write") && err.contains(expect),
                "{err}"
            );
            assert!(err.contains(WAL_FILE), "names the file: {err}");
            // Restart on plain files: exactly what was durable.
            let got = reopen(&dir).unwrap_or_else(|e| panic!("{errno}/{written}: {e}"));
            assert_eq!(got, states[5], "errno {errno}, {written} bytes written");
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn eio_on_fsync_is_never_durable_and_recovery_keeps_the_prefix() {
    for keeps in [Keeps::All, Keeps::Nothing, Keeps::Some(3), Keeps::Some(9)] {
        for at in [0, 1, 4, 7] {
            let dir = tempdir("fsync");
            let p = plan(&[(Fault::Sync { keeps }, at)]);
            let (failed, states, err) = write_until_failure(&dir, &p);
            assert_eq!(failed, at);
            assert!(err.contains("cannot fsync"), "{err}");
            assert!(err.contains("Input/output error"), "{err}");
            let got = reopen(&dir).unwrap_or_else(|e| panic!("{keeps:?} at {at}: {e}"));
            // The durable prefix, and at most the one record whose fsync failed (it was
            // never acknowledged, so having it or not are both fine). Never less.
            let mut with_it = states[at].clone();
            apply(&mut with_it, &changes()[at]);
            match keeps {
                Keeps::All => assert_eq!(got, with_it, "{keeps:?} at {at}"),
                Keeps::Nothing | Keeps::Some(_) => {
                    assert_eq!(got, states[at], "{keeps:?} at {at}")
                }
            }
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn faults_while_creating_repairing_or_compacting_refuse_to_start_with_a_clear_error() {
    // A new directory whose first write fails: a clear error and no half-made log, so
    // the next start begins afresh.
    for fault in [
        Fault::Write {
            errno: ENOSPC,
            written: 5,
        },
        Fault::Sync {
            keeps: Keeps::Some(2),
        },
    ] {
        let dir = tempdir("create");
        let p = plan(&[(fault, 0)]);
        p.lock().unwrap().only = Some("raft.wal.tmp");
        let err = Storage::open_with(&dir, 1, bootstrap(), layer(&p))
            .unwrap_err()
            .to_string();
        assert!(err.contains("raft.wal.tmp"), "{err}");
        assert!(
            !dir.join(WAL_FILE).exists(),
            "no log file after a failed create"
        );
        let (_, rec) = Storage::open(&dir, 1, bootstrap()).unwrap();
        assert!(rec.fresh);
        assert_eq!(rec.persisted, bootstrap());
        fs::remove_dir_all(&dir).unwrap();
    }

    // Cutting a torn tail fails: refuse, and leave the file for the next try.
    let dir = tempdir("repair");
    let (_, states) = write_log(&dir);
    let path = dir.join(WAL_FILE);
    let mut data = fs::read(&path).unwrap();
    data.extend_from_slice(&[50, 0, 0, 0, 1, 2, 3, 4, 5]);
    fs::write(&path, &data).unwrap();
    for fault in [Fault::SetLen, Fault::Sync { keeps: Keeps::All }] {
        let p = plan(&[(fault, 0)]);
        let err = Storage::open_with(&dir, 1, Persisted::empty(), layer(&p))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot truncate") || err.contains("cannot fsync"),
            "{err}"
        );
        assert!(err.contains("Input/output error"), "{err}");
    }
    assert_eq!(reopen(&dir).unwrap(), *states.last().unwrap());
    fs::remove_dir_all(&dir).unwrap();

    // Compaction on open fails: refuse, and the old log is untouched.
    let dir = tempdir("compact");
    let (mut s, _) = Storage::open(&dir, 1, bootstrap()).unwrap();
    let big = "x".repeat(4096);
    for term in 1..400 {
        let entry = Entry {
            index: 2,
            term,
            command: Command::App(Op::Put {
                key: "k".into(),
                value: big.clone(),
            }),
        };
        s.persist(
            Some(&HardState {
                term,
                voted_for: Some(1),
            }),
            Some(&LogWrite {
                truncate_from: 2,
                entries: vec![entry],
            }),
        )
        .unwrap();
    }
    drop(s);
    let before = fs::read(dir.join(WAL_FILE)).unwrap();
    let expected = storage::replay(&dir.join(WAL_FILE)).unwrap().persisted;
    for fault in [
        Fault::Write {
            errno: ENOSPC,
            written: 1000,
        },
        Fault::Sync {
            keeps: Keeps::Nothing,
        },
    ] {
        let p = plan(&[(fault, 0)]);
        p.lock().unwrap().only = Some("raft.wal.tmp");
        let err = Storage::open_with(&dir, 1, Persisted::empty(), layer(&p))
            .unwrap_err()
            .to_string();
        assert!(err.contains("raft.wal.tmp"), "{err}");
        assert_eq!(p.lock().unwrap().fired, 1);
        assert_eq!(fs::read(dir.join(WAL_FILE)).unwrap(), before, "untouched");
    }
    let (_, rec) = Storage::open(&dir, 1, Persisted::empty()).unwrap();
    assert_eq!(rec.persisted, expected);
    fs::remove_dir_all(&dir).unwrap();
}

// ---- The replica thread on a failing disk ---------------------------------------------

struct Running {
    shared: Arc<Shared>,
    thread: std::thread::JoinHandle<Result<(), String>>,
    tokio: tokio::runtime::Runtime,
}

/// Runs `runtime::run` for node 1 on `dir` through the faulty layer.
fn start_replica(
    dir: &Path,
    members: Membership,
    election_ms: (u64, u64),
    p: &Arc<Mutex<Plan>>,
) -> Running {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (storage, recovered) =
        Storage::open_with(dir, 1, Persisted::bootstrap(members), layer(p)).unwrap();
    let mut config = Config::new(1, 7);
    config.heartbeat_interval = 10;
    config.election_timeout_min = election_ms.0;
    config.election_timeout_max = election_ms.1;
    config.goose_lease = config.fast_failover_lease();
    let replica = Replica::new(config, recovered.persisted, 0, 5_000).unwrap();
    let (tx, rx) = sync_channel(1024);
    let shared = Arc::new(Shared::new(
        1,
        "127.0.0.1:1",
        None,
        tx,
        100,
        Duration::from_secs(5),
    ));
    let handle = tokio.handle().clone();
    let thread_shared = shared.clone();
    let thread = std::thread::spawn(move || {
        runtime::run(replica, storage, rx, thread_shared, handle, Instant::now())
    });
    Running {
        shared,
        thread,
        tokio,
    }
}

fn status(shared: &Shared) -> Option<runtime::Status> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    shared.inputs.try_send(Input::Status(tx)).ok()?;
    rx.blocking_recv().ok()
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn join_with_deadline(thread: std::thread::JoinHandle<Result<(), String>>) -> String {
    wait_for(
        "the replica thread to stop",
        Duration::from_secs(10),
        || thread.is_finished().then_some(()),
    );
    thread
        .join()
        .expect("the replica thread returns, it does not panic")
        .expect_err("the replica thread reports the storage failure")
}

#[test]
fn an_fsync_failure_stops_a_leader_before_it_acknowledges_the_write() {
    for keeps in [Keeps::Nothing, Keeps::All] {
        let dir = tempdir("leader");
        let p = plan(&[]);
        let running = start_replica(&dir, Membership::from_ids([1]), (20, 40), &p);
        // A single-node cluster elects itself and commits its no-op.
        wait_for(
            "a leader with a committed no-op",
            Duration::from_secs(10),
            || status(&running.shared).filter(|s| s.state == "leader" && s.commit_index >= 2),
        );
        // A write that succeeds first: the layer and the path work.
        let put = |key: &str| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            running
                .shared
                .inputs
                .try_send(Input::Request {
                    request: Request::Kv(Op::Put {
                        key: key.into(),
                        value: "v".into(),
                    }),
                    reply: tx,
                })
                .unwrap();
            rx
        };
        assert_eq!(
            put("before").blocking_recv().unwrap(),
            Ok(Reply::Kv(Output::Written))
        );
        // Now the next fsync fails.
        p.lock().unwrap().pending.push((Fault::Sync { keeps }, 0));
        let answer = put("lost").blocking_recv();
        assert!(
            !matches!(answer, Ok(Ok(_))),
            "{keeps:?}: a write whose fsync failed was acknowledged: {answer:?}"
        );
        assert!(matches!(answer, Err(_) | Ok(Err(RequestError::Timeout))));
        let err = join_with_deadline(running.thread);
        assert!(
            err.contains("storage failed") && err.contains("cannot fsync"),
            "{err}"
        );
        assert_eq!(p.lock().unwrap().fired, 1);
        // Restart: the acknowledged write is there.
        let got = reopen(&dir).unwrap();
        let has = |key: &str| {
            got.log
                .iter()
                .any(|e| matches!(&e.command, Command::App(Op::Put { key: k, .. }) if k == key))
        };
        assert!(has("before"));
        // Written but never acknowledged: with the pages kept it may come back, which is
        // fine; with them dropped it must not.
        if let Keeps::Nothing = keeps {
            assert!(!has("lost"));
        }
        drop(running.tokio);
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn an_fsync_failure_stops_a_follower_before_it_acknowledges_the_entries() {
    // Node 1 follows leader 2 of a three-node cluster. The Append's reply may leave only
    // after the entries are durable: with the fsync failing, no message may be handed to
    // the peer senders at all (no sender task is ever started).
    for fail in [false, true] {
        let dir = tempdir("follower");
        let p = plan(&[]);
        if fail {
            p.lock()
                .unwrap()
                .pending
                .push((Fault::Sync { keeps: Keeps::All }, 0));
        }
        let members = Membership::new(vec![
            Member::new(1, "127.0.0.1:1"),
            Member::new(2, "127.0.0.1:2"),
            Member::new(3, "127.0.0.1:3"),
        ]);
        // Long election timeouts: node 1 never campaigns during the test.
        let running = start_replica(&dir, members, (60_000, 120_000), &p);
        let append = Message {
            from: 2,
            to: 1,
            term: 1,
            body: Body::Append {
                prev_index: 1,
                prev_term: 0,
                entries: vec![Entry {
                    index: 2,
                    term: 1,
                    command: Command::Noop,
                }],
                commit: 1,
                round: 1,
            },
        };
        running
            .shared
            .inputs
            .try_send(Input::Peer {
                from: 2,
                addr: String::new(),
                messages: vec![append],
            })
            .unwrap();
        let tasks = || running.tokio.handle().metrics().num_alive_tasks();
        if fail {
            let err = join_with_deadline(running.thread);
            assert!(err.contains("cannot fsync"), "{err}");
            assert_eq!(tasks(), 0, "a reply was handed to a peer sender");
            assert_eq!(p.lock().unwrap().fired, 1);
        } else {
            // The control: the same Append, durable, is answered through a sender task.
            wait_for(
                "the reply to go to a peer sender",
                Duration::from_secs(10),
                || (tasks() > 0).then_some(()),
            );
            let s = status(&running.shared).unwrap();
            assert_eq!((s.term, s.last_log_index), (1, 2));
            running.shared.inputs.try_send(Input::Shutdown).unwrap();
            running.thread.join().unwrap().unwrap();
        }
        running.tokio.shutdown_background();
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn faults_while_saving_a_snapshot_keep_the_state_before_it_or_the_snapshot_whole() {
    use duckgoose_core::Snapshot;
    let membership = match &bootstrap().log[0].command {
        Command::Config(m) => m.clone(),
        _ => unreachable!("the bootstrap entry is a config"),
    };
    let snapshot = Snapshot {
        index: 4,
        term: 2,
        membership,
        data: b"the state through 4".to_vec(),
    };
    let entries: Vec<Entry> = (2..=6).map(|i| put(i, 2, "k")).collect();
    let mut before = bootstrap();
    before.log.extend(entries.clone());
    // In the snapshot file (before it is renamed in) or in the WAL cut after it.
    for file in ["raft.snap.tmp", "raft.wal.tmp"] {
        for fault in [
            Fault::Write {
                errno: ENOSPC,
                written: 7,
            },
            Fault::Sync {
                keeps: Keeps::Nothing,
            },
        ] {
            let dir = tempdir("snapfault");
            // Creating the directory writes raft.wal.tmp once: fail the second time.
            let skip = usize::from(file == "raft.wal.tmp");
            let p = plan(&[(fault, skip)]);
            p.lock().unwrap().only = Some(file);
            let (mut s, _) = Storage::open_with(&dir, 1, bootstrap(), layer(&p)).unwrap();
            let write = LogWrite {
                truncate_from: 2,
                entries: entries.clone(),
            };
            s.persist(None, Some(&write)).unwrap();
            let err = s
                .save_snapshot(&snapshot)
                .and_then(|_| s.cut_log(4, 0, None, &entries[3..]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(file), "{file} {fault:?}: {err}");
            assert_eq!(p.lock().unwrap().fired, 1);
            // Poisoned: nothing after the failure is reported durable.
            let again = s.persist(None, Some(&write)).unwrap_err().to_string();
            assert!(again.contains("poisoned"), "{again}");
            drop(s);

            // What comes back is the state before the snapshot, or (the snapshot was
            // renamed in, the cut failed) the snapshot with the entries after it.
            let (_, rec) = Storage::open(&dir, 1, bootstrap()).unwrap();
            let got = rec.persisted;
            if file == "raft.snap.tmp" {
                assert_eq!(got, before, "{fault:?}");
                assert!(!dir.join("raft.snap.tmp").exists());
            } else {
                assert_eq!(got.snapshot.as_ref(), Some(&snapshot), "{fault:?}");
                assert_eq!(got.log, entries[3..].to_vec(), "{fault:?}");
            }
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}
