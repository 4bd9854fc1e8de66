//! Durable Raft state: term, vote and log in one append-only write-ahead log.
//!
//! # Layout of a data directory
//! - `LOCK`: held with an exclusive OS file lock while a node runs, so two processes
//!   can never share a directory.
//! - `raft.wal`: the 8-byte magic `DGWAL001`, then records. Each record is
//!   `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload]`, the payload being a
//!   [`Record`] encoded with postcard. The first record is always `Meta` (format version
//!   and node id). `HardState` records replace term and vote; `Log` records drop every
//!   entry from `truncate_from` on and append their entries.
//!
//! - `raft.snap`: the latest snapshot, if any ([`crate::snapshot_file`]). It stands in for
//!   every entry through its index. Log writes after it may start past the end of the
//!   log (a follower that installed a leader's snapshot skips what it covers).
//!
//! # Snapshots and cutting the log
//! A snapshot is made durable first, in its own file renamed into place
//! ([`Storage::save_snapshot`]); then the `Ready`'s log write, which may start past the
//! end of the WAL's log where the snapshot covers the gap; then the WAL is rewritten to
//! hold only term, vote and the entries after the snapshot ([`Storage::cut_log`]), so it
//! stays as small as the entries since the last snapshot. A crash after the snapshot and
//! before the cut leaves a snapshot and an uncut WAL; recovery applies Raft's install
//! rule to that pair (a suffix that matches the snapshot at its index is kept, one that
//! does not is dropped).
//!
//! Every `persist` writes its records with one `write` and then `fdatasync`s before it
//! returns, and the node sends no message that depends on them before that.
//!
//! After a failed write or fsync the storage is poisoned: every later `persist` fails
//! too, so nothing written after the failure can ever be reported durable (after a failed
//! fsync the kernel may have dropped the dirty pages and marked them clean, so a retry
//! could "succeed" without the data).
//!
//! # Recovery
//! Records are replayed in order. The last record is a **torn tail** (the process died
//! mid-write, so it was never acknowledged) only when the file ends inside it: its length
//! runs past the end of the file, or only zeros follow (a preallocated tail). It is
//! logged, truncated away and the node starts. Anything else that fails its checks is
//! **corruption**, and the node refuses to start naming the file and offset, because
//! silently dropping a record that was fsynced (and so maybe acknowledged) could break
//! safety:
//! - a bad record followed by a valid one (corruption in the middle);
//! - a last record whose bytes are all there but fail the CRC (a write is one `write`
//!   call of the whole record, so a crash can cut it short but not change it);
//! - a last record whose length field was damaged: the length runs past the end of the
//!   file, yet the bytes up to the end of the file are exactly the record its CRC names.
//!
//! # Fault injection
//! Every file the log writes goes through [`LogFile`] (plain [`File`] in production).
//! [`Storage::open_with`] takes a [`Layer`] that wraps them: the storage-fault tests use
//! it to fail writes and fsyncs (ENOSPC, EIO), tear writes, and lose unsynced data.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use duckgoose_core::{Entry, HardState, Index, LogWrite, NodeId, Persisted, Snapshot, Term};

use crate::snapshot_file;
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 8] = b"DGWAL001";
pub const WAL_FILE: &str = "raft.wal";
pub const LOCK_FILE: &str = "LOCK";
/// 2: an entry's key-value command is one `Command::App(kv::Op)` (1 had Put, Delete and
/// Cas as commands of their own). A version-1 WAL is refused by name, never misread.
const FORMAT_VERSION: u32 = 2;
const HEADER: usize = 8;
/// No single record may exceed this; a larger length field is damage, not data.
pub const MAX_RECORD: usize = 64 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    Meta {
        version: u32,
        node_id: NodeId,
    },
    HardState {
        term: Term,
        voted_for: Option<NodeId>,
    },
    Log {
        truncate_from: Index,
        entries: Vec<Entry>,
    },
}

#[derive(Debug)]
pub enum StorageError {
    Io {
        path: PathBuf,
        what: &'static str,
        source: io::Error,
    },
    Locked {
        path: PathBuf,
    },
    NotAWal {
        path: PathBuf,
    },
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    WrongNode {
        path: PathBuf,
        found: NodeId,
        expected: NodeId,
    },
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { path, what, source } => {
                write!(f, "{what} {}: {source}", path.display())
            }
            StorageError::Locked { path } => write!(
                f,
                "data directory is in use by another process (lock held on {})",
                path.display()
            ),
            StorageError::NotAWal { path } => write!(
                f,
                "{} is not a duckgoose log (bad magic header); refusing to start",
                path.display()
            ),
            StorageError::Corrupt {
                path,
                offset,
                reason,
            } => write!(
                f,
                "corrupt {} at offset {offset}: {reason}; refusing to start (this is damage, \
                 not a write cut short by a crash)",
                path.display()
            ),
            StorageError::WrongNode {
                path,
                found,
                expected,
            } => write!(
                f,
                "{} belongs to node {found}, not node {expected}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StorageError {}

/// The file operations the log needs once a file is open. [`File`] in production; tests
/// wrap it (see [`Layer`]) to inject failures.
pub trait LogFile: Send {
    /// Writes all of `buf` at the end of the file (one `write` for a whole batch).
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes (dropping a torn tail).
    fn set_len(&mut self, len: u64) -> io::Result<()>;
}

impl LogFile for File {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_all(buf)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
}

/// Wraps every file the log writes: the log itself and the temporary file a rewrite
/// goes through. The path says which.
pub type Layer = Arc<dyn Fn(File, &Path) -> Box<dyn LogFile> + Send + Sync>;

/// No wrapping: the real file.
pub fn plain_files() -> Layer {
    Arc::new(|file, _| Box::new(file))
}

pub(crate) fn io_err<'a>(
    path: &'a Path,
    what: &'static str,
) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// What recovery found, besides the state itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub offset: u64,
    pub dropped_bytes: u64,
}

#[derive(Debug)]
pub struct Recovered {
    /// Term, vote, the snapshot (if any) and the log entries after it.
    pub persisted: Persisted,
    /// The directory held no log yet.
    pub fresh: bool,
    pub torn_tail: Option<TornTail>,
}

/// Read-only view of a log, for `duckgoose inspect` and recovery.
#[derive(Debug)]
pub struct Replayed {
    pub node_id: NodeId,
    pub persisted: Persisted,
    /// Byte length of the valid prefix.
    pub valid_len: u64,
    pub torn_tail: Option<TornTail>,
    pub records: usize,
}

pub struct Storage {
    dir: PathBuf,
    id: NodeId,
    layer: Layer,
    path: PathBuf,
    file: Box<dyn LogFile>,
    /// A write or fsync failed: nothing may be reported durable any more.
    poisoned: bool,
    /// Held for the life of the process: dropping it releases the lock.
    _lock: File,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage").field("path", &self.path).finish()
    }
}

/// Whether `dir` holds no node state yet (a first start).
pub fn is_new(dir: &Path) -> bool {
    !dir.join(WAL_FILE).exists()
}

impl Storage {
    /// Opens (creating if needed) the data directory of node `id`. `initial` is what a new
    /// directory starts with (the bootstrap log for a founder, empty for a joiner).
    pub fn open(
        dir: &Path,
        id: NodeId,
        initial: Persisted,
    ) -> Result<(Storage, Recovered), StorageError> {
        Storage::open_with(dir, id, initial, plain_files())
    }

    /// [`Storage::open`], with every written file wrapped by `layer` (fault injection).
    pub fn open_with(
        dir: &Path,
        id: NodeId,
        initial: Persisted,
        layer: Layer,
    ) -> Result<(Storage, Recovered), StorageError> {
        fs::create_dir_all(dir).map_err(io_err(dir, "cannot create data directory"))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path, "cannot open lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StorageError::Locked { path: lock_path });
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(io_err(&lock_path, "cannot lock")(e));
            }
        }

        let path = dir.join(WAL_FILE);
        if !path.exists() && dir.join(snapshot_file::SNAPSHOT_FILE).exists() {
            // The WAL is only ever replaced by a rename, never removed: without it the
            // term and vote are gone, and starting afresh could vote twice in a term.
            return Err(StorageError::Corrupt {
                path,
                offset: 0,
                reason: "the log is missing but a snapshot is there".into(),
            });
        }
        if !path.exists() {
            write_fresh(dir, &path, id, &initial, &layer)?;
            let file = open_append(&path, &layer)?;
            let recovered = Recovered {
                persisted: initial,
                fresh: true,
                torn_tail: None,
            };
            return Ok((
                Storage {
                    dir: dir.to_path_buf(),
                    id,
                    layer,
                    path,
                    file,
                    poisoned: false,
                    _lock: lock,
                },
                recovered,
            ));
        }

        let snapshot = snapshot_file::load_snapshot(dir, id, true)?;
        let snapshot_index = snapshot.as_ref().map_or(0, |s| s.index);
        let replayed = replay_after(&path, snapshot_index)?;
        if replayed.node_id != id {
            return Err(StorageError::WrongNode {
                path,
                found: replayed.node_id,
                expected: id,
            });
        }
        if let Some(torn) = &replayed.torn_tail {
            tracing::warn!(
                file = %path.display(),
                offset = torn.offset,
                dropped_bytes = torn.dropped_bytes,
                "torn tail in the log (crash mid-write): truncating it"
            );
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err(&path, "cannot open"))?;
            let mut file = layer(file, &path);
            file.set_len(replayed.valid_len)
                .map_err(io_err(&path, "cannot truncate"))?;
            file.sync().map_err(io_err(&path, "cannot fsync"))?;
        }
        let (persisted, covered) = follow_snapshot(&path, replayed.persisted, snapshot)?;
        // The log only grows with writes and elections, but truncated suffixes, old hard
        // states and entries a snapshot covers are dead weight: rewrite when they
        // dominate, or when a snapshot was not yet followed by its cut.
        let live = encoded_len(&persisted);
        if covered || replayed.valid_len > 2 * live + (1 << 20) {
            tracing::info!(
                file = %path.display(),
                bytes = replayed.valid_len,
                live,
                "compacting the log"
            );
            write_fresh(dir, &path, id, &persisted, &layer)?;
        }
        let file = open_append(&path, &layer)?;
        Ok((
            Storage {
                dir: dir.to_path_buf(),
                id,
                layer,
                path,
                file,
                poisoned: false,
                _lock: lock,
            },
            Recovered {
                persisted,
                fresh: false,
                torn_tail: replayed.torn_tail,
            },
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes `snapshot` durable as the directory's snapshot. Call it before
    /// [`Storage::persist`] of the same `Ready`: that log write may start past the end of
    /// the WAL's log, which only a snapshot on disk covers. Returns the file's size.
    pub fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<u64, StorageError> {
        self.check_not_poisoned()?;
        self.poisoned = true;
        let bytes = snapshot_file::save_snapshot(&self.dir, self.id, snapshot, &self.layer)?;
        self.poisoned = false;
        Ok(bytes)
    }

    /// Cuts the WAL after a snapshot through `snapshot_index` to `term`, `voted_for` and
    /// `log` (the entries after the snapshot, every one of them already durable). Call
    /// it after [`Storage::persist`] of the snapshot's `Ready`, so the cut WAL holds that
    /// write too.
    pub fn cut_log(
        &mut self,
        snapshot_index: Index,
        term: Term,
        voted_for: Option<NodeId>,
        log: &[Entry],
    ) -> Result<(), StorageError> {
        self.check_not_poisoned()?;
        debug_assert!(
            log.first().is_none_or(|e| e.index == snapshot_index + 1),
            "the log kept after a snapshot starts right after it"
        );
        self.poisoned = true;
        let tail = Persisted {
            term,
            voted_for,
            log: log.to_vec(),
            snapshot: None,
        };
        write_fresh(&self.dir, &self.path, self.id, &tail, &self.layer)?;
        self.file = open_append(&self.path, &self.layer)?;
        self.poisoned = false;
        Ok(())
    }

    fn check_not_poisoned(&self) -> Result<(), StorageError> {
        if self.poisoned {
            return Err(StorageError::Io {
                path: self.path.clone(),
                what: "an earlier write or fsync failed on",
                source: io::Error::other("storage is poisoned; restart the node"),
            });
        }
        Ok(())
    }

    /// Makes `hard_state` and `log_write` durable. Returns how long the fsync took. After
    /// an error, every later call fails too (see the module docs).
    pub fn persist(
        &mut self,
        hard_state: Option<&HardState>,
        log_write: Option<&LogWrite>,
    ) -> Result<Option<Duration>, StorageError> {
        if hard_state.is_none() && log_write.is_none() {
            return Ok(None);
        }
        self.check_not_poisoned()?;
        // Poisoned unless both the write and the fsync succeed.
        self.poisoned = true;
        let mut buf = Vec::new();
        if let Some(hs) = hard_state {
            encode_record(
                &mut buf,
                &Record::HardState {
                    term: hs.term,
                    voted_for: hs.voted_for,
                },
            );
        }
        if let Some(lw) = log_write {
            encode_record(
                &mut buf,
                &Record::Log {
                    truncate_from: lw.truncate_from,
                    entries: lw.entries.clone(),
                },
            );
        }
        self.file
            .append(&buf)
            .map_err(io_err(&self.path, "cannot write"))?;
        let start = Instant::now();
        self.file
            .sync()
            .map_err(io_err(&self.path, "cannot fsync"))?;
        self.poisoned = false;
        Ok(Some(start.elapsed()))
    }
}

/// Joins a snapshot and the log replayed after it, as Raft installs a snapshot: entries
/// the snapshot covers go; a suffix that matches the snapshot at its index is kept, one
/// that does not (left by a crash between a leader's snapshot and the cut that drops the
/// conflicting log) is dropped. Also says whether anything went, so the WAL is cut.
fn follow_snapshot(
    path: &Path,
    mut persisted: Persisted,
    snapshot: Option<Snapshot>,
) -> Result<(Persisted, bool), StorageError> {
    let Some(snapshot) = snapshot else {
        return Ok((persisted, false));
    };
    let before = persisted.log.len();
    let matches = persisted
        .log
        .iter()
        .find(|e| e.index == snapshot.index)
        .is_none_or(|e| e.term == snapshot.term);
    if matches {
        persisted.log.retain(|e| e.index > snapshot.index);
    } else {
        tracing::warn!(
            file = %path.display(),
            snapshot_index = snapshot.index,
            "the log conflicts with the snapshot at its index: dropping the log after it"
        );
        persisted.log.clear();
    }
    if let Some(first) = persisted.log.first()
        && first.index != snapshot.index + 1
    {
        return Err(StorageError::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            reason: format!(
                "the log starts at {} but the snapshot ends at {}: entries are missing",
                first.index, snapshot.index
            ),
        });
    }
    let covered = persisted.log.len() != before;
    persisted.snapshot = Some(snapshot);
    Ok((persisted, covered))
}

fn open_append(path: &Path, layer: &Layer) -> Result<Box<dyn LogFile>, StorageError> {
    let file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_err(path, "cannot open"))?;
    Ok(layer(file, path))
}

fn encoded_len(p: &Persisted) -> u64 {
    let mut buf = Vec::new();
    encode_state(&mut buf, 0, p);
    buf.len() as u64
}

fn encode_state(buf: &mut Vec<u8>, id: NodeId, p: &Persisted) {
    encode_record(
        buf,
        &Record::Meta {
            version: FORMAT_VERSION,
            node_id: id,
        },
    );
    if p.term != 0 || p.voted_for.is_some() {
        encode_record(
            buf,
            &Record::HardState {
                term: p.term,
                voted_for: p.voted_for,
            },
        );
    }
    for chunk in p.log.chunks(1024) {
        encode_record(
            buf,
            &Record::Log {
                truncate_from: chunk[0].index,
                entries: chunk.to_vec(),
            },
        );
    }
}

/// Writes a complete log for `p` to a temporary file, syncs it and renames it into place,
/// so a crash leaves either the old file or the new one.
fn write_fresh(
    dir: &Path,
    path: &Path,
    id: NodeId,
    p: &Persisted,
    layer: &Layer,
) -> Result<(), StorageError> {
    let tmp = dir.join(format!("{WAL_FILE}.tmp"));
    write_atomically(dir, &tmp, path, &encode_log(id, p), layer)
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one: the
/// bytes go to `tmp` (through `layer`), which is fsynced and renamed over `path`, and
/// then `dir` is fsynced so the rename itself is durable.
pub(crate) fn write_atomically(
    dir: &Path,
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    layer: &Layer,
) -> Result<(), StorageError> {
    let file = File::create(tmp).map_err(io_err(tmp, "cannot create"))?;
    let mut file = layer(file, tmp);
    file.append(bytes).map_err(io_err(tmp, "cannot write"))?;
    file.sync().map_err(io_err(tmp, "cannot fsync"))?;
    drop(file);
    fs::rename(tmp, path).map_err(io_err(path, "cannot rename into place"))?;
    sync_dir(dir)
}

/// A complete log file holding `p` for node `id`: what a fresh or compacted log is.
pub fn encode_log(id: NodeId, p: &Persisted) -> Vec<u8> {
    let mut buf = MAGIC.to_vec();
    encode_state(&mut buf, id, p);
    buf
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "cannot fsync directory"))
}

pub fn encode_record<R: Serialize>(buf: &mut Vec<u8>, record: &R) {
    // Serializing plain data into a Vec cannot fail.
    let payload = postcard::to_stdvec(record).unwrap_or_default();
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    buf.extend_from_slice(&payload);
}

/// A record that checks out at `pos`: (its payload, the offset after it).
pub(crate) fn record_at(data: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let header = data.get(pos..pos.checked_add(HEADER)?)?;
    let len = u32::from_le_bytes(header[0..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().ok()?);
    if len == 0 || len > MAX_RECORD {
        return None;
    }
    let start = pos + HEADER;
    let payload = data.get(start..start.checked_add(len)?)?;
    (crc32fast::hash(payload) == crc).then_some((payload, start + len))
}

/// Is there any valid record starting after `pos`? Decides torn tail versus corruption.
fn valid_record_after(data: &[u8], pos: usize) -> Option<usize> {
    (pos + 1..data.len().saturating_sub(HEADER)).find(|&p| {
        record_at(data, p)
            .and_then(|(payload, _)| postcard::from_bytes::<Record>(payload).ok())
            .is_some()
    })
}

/// The last record, at `pos`, fails its checks: is that damage rather than a torn write?
/// A torn write leaves a prefix of the record (the file ends inside it) or zeros; it
/// cannot leave all of the record's bytes with some of them changed. `Some(reason)` for
/// damage.
fn damaged_last_record(data: &[u8], pos: usize) -> Option<String> {
    let rest = &data[pos..];
    if rest.iter().all(|&b| b == 0) {
        return None; // a preallocated or zero-filled tail
    }
    let header = rest.get(..HEADER)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let body = &rest[HEADER..];
    if len <= body.len() && len > 0 {
        // Every byte the header announces is there, yet the record fails: the bytes changed.
        return Some(format!(
            "the last record ({len} bytes) is complete but fails its CRC check: the log was \
             damaged after it was written"
        ));
    }
    if !body.is_empty()
        && body.len() <= MAX_RECORD
        && crc32fast::hash(body) == crc
        && postcard::from_bytes::<Record>(body).is_ok()
    {
        return Some(format!(
            "the last record's length field says {len} bytes, but the {} bytes that follow \
             are exactly the record its CRC names: the length field was damaged",
            body.len()
        ));
    }
    None // the file ends inside the record: torn
}

/// Reads and checks a whole log without changing it (a data directory with no snapshot).
pub fn replay(path: &Path) -> Result<Replayed, StorageError> {
    replay_after(path, 0)
}

/// Reads and checks a whole log that follows a snapshot through `snapshot_index` (0: none).
pub fn replay_after(path: &Path, snapshot_index: Index) -> Result<Replayed, StorageError> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err(path, "cannot read"))?;
    replay_bytes_after(path, &data, snapshot_index)
}

/// Checks and replays the bytes of a log file with no snapshot before it.
pub fn replay_bytes(path: &Path, data: &[u8]) -> Result<Replayed, StorageError> {
    replay_bytes_after(path, data, 0)
}

/// Checks and replays the bytes of a log file; `path` only names it in errors. A log
/// write may start past the end of the log only where the snapshot through
/// `snapshot_index` covers the gap. The replayed log is contiguous but need not start at
/// 1. (The fuzz target `wal` feeds this arbitrary bytes: it must never panic.)
pub fn replay_bytes_after(
    path: &Path,
    data: &[u8],
    snapshot_index: Index,
) -> Result<Replayed, StorageError> {
    let corrupt = |offset: usize, reason: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
        return Err(StorageError::NotAWal {
            path: path.to_path_buf(),
        });
    }
    let mut pos = MAGIC.len();
    let mut node_id = None;
    let mut persisted = Persisted::empty();
    // The index of the log's first entry (where it starts when empty).
    let mut first: Index = 1;
    let mut torn_tail = None;
    let mut records = 0;
    while pos < data.len() {
        let Some((payload, next)) = record_at(data, pos) else {
            if let Some(later) = valid_record_after(data, pos) {
                return Err(corrupt(
                    pos,
                    format!(
                        "record fails its length or CRC check, but a valid record follows at offset {later}"
                    ),
                ));
            }
            if let Some(reason) = damaged_last_record(data, pos) {
                return Err(corrupt(pos, reason));
            }
            torn_tail = Some(TornTail {
                offset: pos as u64,
                dropped_bytes: (data.len() - pos) as u64,
            });
            break;
        };
        let record: Record = postcard::from_bytes(payload).map_err(|e| {
            corrupt(
                pos,
                format!("record passes its CRC but cannot be decoded: {e}"),
            )
        })?;
        match record {
            Record::Meta {
                version,
                node_id: id,
            } => {
                if records != 0 {
                    return Err(corrupt(pos, "metadata record after the start".into()));
                }
                if version != FORMAT_VERSION {
                    return Err(corrupt(pos, format!("unknown format version {version}")));
                }
                node_id = Some(id);
            }
            _ if node_id.is_none() => {
                return Err(corrupt(
                    pos,
                    "log does not start with a metadata record".into(),
                ));
            }
            Record::HardState { term, voted_for } => {
                if term < persisted.term {
                    return Err(corrupt(
                        pos,
                        format!("term goes backwards ({term} after {})", persisted.term),
                    ));
                }
                persisted.term = term;
                persisted.voted_for = voted_for;
            }
            Record::Log {
                truncate_from,
                entries,
            } => {
                // The log holds `first..end`.
                let end = first + persisted.log.len() as Index;
                if truncate_from == 0
                    || (truncate_from > end && truncate_from > snapshot_index.saturating_add(1))
                {
                    return Err(corrupt(
                        pos,
                        format!(
                            "log write starts at {truncate_from} but the log ends at {} \
                             (snapshot through {snapshot_index})",
                            end - 1
                        ),
                    ));
                }
                if truncate_from < first {
                    return Err(corrupt(
                        pos,
                        format!(
                            "log write starts at {truncate_from}, before the log's first \
                             entry {first}"
                        ),
                    ));
                }
                if entries
                    .iter()
                    .enumerate()
                    .any(|(i, e)| e.index != truncate_from + i as Index)
                {
                    return Err(corrupt(pos, "log write entries are not contiguous".into()));
                }
                if truncate_from > end {
                    // The snapshot covers the gap: the log goes on from here.
                    persisted.log.clear();
                    first = truncate_from;
                } else {
                    persisted.log.truncate((truncate_from - first) as usize);
                }
                let prev_term = persisted.log.last().map_or(0, |e| e.term);
                if entries.first().is_some_and(|e| e.term < prev_term)
                    || entries.windows(2).any(|w| w[1].term < w[0].term)
                {
                    return Err(corrupt(pos, "entry terms decrease".into()));
                }
                persisted.log.extend(entries);
            }
        }
        records += 1;
        pos = next;
    }
    let Some(node_id) = node_id else {
        // Only a torn first record: the file was being created. Treat like no file.
        return Err(corrupt(MAGIC.len(), "no metadata record".into()));
    };
    Ok(Replayed {
        node_id,
        persisted,
        valid_len: pos as u64,
        torn_tail,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckgoose_core::{Command, Member, Membership, Op};

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "duckgoose-storage-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
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
                value: format!("v{index}"),
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

    fn write_some(dir: &Path) -> Persisted {
        let (mut s, rec) = Storage::open(dir, 1, bootstrap()).unwrap();
        assert!(rec.fresh);
        s.persist(
            Some(&HardState {
                term: 2,
                voted_for: Some(1),
            }),
            Some(&LogWrite {
                truncate_from: 2,
                entries: vec![put(2, 2, "a"), put(3, 2, "b")],
            }),
        )
        .unwrap();
        // A new leader overwrites index 3.
        s.persist(
            Some(&HardState {
                term: 3,
                voted_for: None,
            }),
            Some(&LogWrite {
                truncate_from: 3,
                entries: vec![put(3, 3, "c"), put(4, 3, "d")],
            }),
        )
        .unwrap();
        let mut expected = bootstrap();
        expected.term = 3;
        expected.voted_for = None;
        expected
            .log
            .extend([put(2, 2, "a"), put(3, 3, "c"), put(4, 3, "d")]);
        expected
    }

    #[test]
    fn round_trips_hard_state_truncation_and_appends() {
        let dir = tempdir("roundtrip");
        let expected = write_some(&dir);
        let (_s, rec) = Storage::open(&dir, 1, Persisted::empty()).unwrap();
        assert!(!rec.fresh);
        assert_eq!(rec.torn_tail, None);
        assert_eq!(rec.persisted, expected);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lock_keeps_a_second_opener_out() {
        let dir = tempdir("lock");
        let (s, _) = Storage::open(&dir, 1, bootstrap()).unwrap();
        let err = Storage::open(&dir, 1, bootstrap()).unwrap_err();
        assert!(matches!(err, StorageError::Locked { .. }), "{err}");
        drop(s);
        Storage::open(&dir, 1, bootstrap()).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrong_node_is_refused() {
        let dir = tempdir("wrongnode");
        drop(Storage::open(&dir, 1, bootstrap()).unwrap());
        let err = Storage::open(&dir, 2, bootstrap()).unwrap_err();
        assert!(err.to_string().contains("belongs to node 1"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_torn_tail_is_truncated_and_the_prefix_kept() {
        let dir = tempdir("torn");
        let expected = write_some(&dir);
        let path = dir.join(WAL_FILE);
        let full = fs::read(&path).unwrap();
        let last = replay(&path).unwrap();
        assert_eq!(last.valid_len as usize, full.len());
        // Append a record, then cut it at every possible length.
        let mut extra = Vec::new();
        encode_record(
            &mut extra,
            &Record::Log {
                truncate_from: 5,
                entries: vec![put(5, 3, "e")],
            },
        );
        for cut in 1..extra.len() {
            let mut data = full.clone();
            data.extend_from_slice(&extra[..cut]);
            fs::write(&path, &data).unwrap();
            let (_s, rec) = Storage::open(&dir, 1, Persisted::empty()).unwrap();
            assert_eq!(
                rec.torn_tail,
                Some(TornTail {
                    offset: full.len() as u64,
                    dropped_bytes: cut as u64
                })
            );
            assert_eq!(rec.persisted, expected, "cut at {cut}");
            assert_eq!(fs::read(&path).unwrap().len(), full.len(), "truncated");
        }
        // Zeros after the last record (a preallocated tail) are torn too.
        let mut data = full.clone();
        data.extend_from_slice(&[0; 100]);
        fs::write(&path, &data).unwrap();
        let (_s, rec) = Storage::open(&dir, 1, Persisted::empty()).unwrap();
        assert_eq!(rec.persisted, expected);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corruption_in_the_middle_refuses_with_file_and_offset() {
        let dir = tempdir("corrupt");
        write_some(&dir);
        let path = dir.join(WAL_FILE);
        let full = fs::read(&path).unwrap();
        // Offsets of each record.
        let mut offsets = Vec::new();
        let mut pos = MAGIC.len();
        while let Some((_, next)) = record_at(&full, pos) {
            offsets.push(pos);
            pos = next;
        }
        assert!(offsets.len() >= 4);
        // Flip one byte in each record but the last, header or payload alike.
        for (i, &off) in offsets[..offsets.len() - 1].iter().enumerate() {
            for delta in [0, 4, 9] {
                let mut data = full.clone();
                data[off + delta] ^= 0x5a;
                fs::write(&path, &data).unwrap();
                let err = Storage::open(&dir, 1, Persisted::empty()).unwrap_err();
                let msg = err.to_string();
                assert!(
                    matches!(err, StorageError::Corrupt { offset, .. } if offset == off as u64),
                    "record {i} delta {delta}: {msg}"
                );
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.contains(&format!("offset {off}")), "{msg}");
            }
        }
        // The file was left alone.
        let mut data = full.clone();
        data[offsets[1] + 9] ^= 0x5a;
        fs::write(&path, &data).unwrap();
        let _ = Storage::open(&dir, 1, Persisted::empty());
        assert_eq!(fs::read(&path).unwrap(), data);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_magic_is_refused() {
        let dir = tempdir("magic");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(WAL_FILE), b"hello world").unwrap();
        let err = Storage::open(&dir, 1, bootstrap()).unwrap_err();
        assert!(matches!(err, StorageError::NotAWal { .. }), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dead_weight_is_compacted_on_open() {
        let dir = tempdir("compact");
        let (mut s, _) = Storage::open(&dir, 1, bootstrap()).unwrap();
        let big = "x".repeat(4096);
        // Rewrite index 2 over and over: about 2 MiB of dead entries.
        for term in 1..600 {
            s.persist(
                Some(&HardState {
                    term,
                    voted_for: Some(1),
                }),
                Some(&LogWrite {
                    truncate_from: 2,
                    entries: vec![Entry {
                        index: 2,
                        term,
                        command: Command::App(Op::Put {
                            key: "k".into(),
                            value: big.clone(),
                        }),
                    }],
                }),
            )
            .unwrap();
        }
        drop(s);
        let before = fs::metadata(dir.join(WAL_FILE)).unwrap().len();
        let (_s, rec) = Storage::open(&dir, 1, Persisted::empty()).unwrap();
        let after = fs::metadata(dir.join(WAL_FILE)).unwrap().len();
        assert!(after < before / 10, "{before} -> {after}");
        assert_eq!(rec.persisted.term, 599);
        assert_eq!(rec.persisted.log.len(), 2);
        let (_, again) = (
            drop(_s),
            Storage::open(&dir, 1, Persisted::empty()).unwrap(),
        );
        assert_eq!(again.1.persisted, rec.persisted);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn snapshot_at(index: Index, term: Term) -> Snapshot {
        Snapshot {
            index,
            term,
            membership: bootstrap_membership(),
            data: format!("state through {index}").into_bytes(),
        }
    }

    fn bootstrap_membership() -> Membership {
        match &bootstrap().log[0].command {
            Command::Config(m) => m.clone(),
            _ => unreachable!("the bootstrap entry is a config"),
        }
    }

    #[test]
    fn a_snapshot_cuts_the_wal_and_a_restart_is_snapshot_plus_tail() {
        let dir = tempdir("snapcut");
        let (mut s, _) = Storage::open(&dir, 1, bootstrap()).unwrap();
        let entries: Vec<Entry> = (2..=500).map(|i| put(i, 2, "k")).collect();
        s.persist(
            Some(&HardState {
                term: 2,
                voted_for: Some(1),
            }),
            Some(&LogWrite {
                truncate_from: 2,
                entries: entries.clone(),
            }),
        )
        .unwrap();
        let before = fs::metadata(dir.join(WAL_FILE)).unwrap().len();
        let tail = &entries[398..]; // 400..=500
        s.save_snapshot(&snapshot_at(399, 2)).unwrap();
        s.cut_log(399, 2, Some(1), tail).unwrap();
        let after = fs::metadata(dir.join(WAL_FILE)).unwrap().len();
        assert!(after * 3 < before, "WAL {before} -> {after} bytes");
        // More writes after the cut append as usual.
        s.persist(
            None,
            Some(&LogWrite {
                truncate_from: 501,
                entries: vec![put(501, 2, "k")],
            }),
        )
        .unwrap();
        drop(s);

        let (_, rec) = Storage::open(&dir, 1, bootstrap()).unwrap();
        assert_eq!(rec.persisted.snapshot, Some(snapshot_at(399, 2)));
        assert_eq!(rec.persisted.log.first().map(|e| e.index), Some(400));
        assert_eq!(rec.persisted.log.last().map(|e| e.index), Some(501));
        assert_eq!((rec.persisted.term, rec.persisted.voted_for), (2, Some(1)));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_installed_snapshot_past_the_log_end_lets_the_log_go_on_after_it() {
        let dir = tempdir("snapgap");
        let (mut s, _) = Storage::open(&dir, 1, bootstrap()).unwrap();
        // A follower at index 1 installs a leader's snapshot through 300; the log goes on
        // at 301. Recovery reads the uncut WAL too (crash before the cut).
        snapshot_file::save_snapshot(&dir, 1, &snapshot_at(300, 4), &plain_files()).unwrap();
        s.persist(
            None,
            Some(&LogWrite {
                truncate_from: 301,
                entries: vec![put(301, 4, "x")],
            }),
        )
        .unwrap();
        drop(s);
        let (_, rec) = Storage::open(&dir, 1, bootstrap()).unwrap();
        assert_eq!(rec.persisted.snapshot.as_ref().map(|s| s.index), Some(300));
        assert_eq!(rec.persisted.log, vec![put(301, 4, "x")]);

        // Without the snapshot the same WAL has a hole: refused, naming the offset.
        fs::remove_file(dir.join(snapshot_file::SNAPSHOT_FILE)).unwrap();
        let err = Storage::open(&dir, 1, bootstrap()).unwrap_err();
        assert!(
            matches!(&err, StorageError::Corrupt { reason, .. } if reason.contains("log ends at")),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Entries 2..=6 of `log_term` on disk, then (a crash before the cut) a snapshot
    /// through 4 of `snapshot_term`: the indexes of the log recovery keeps.
    fn kept_after_an_uncut_snapshot(name: &str, log_term: Term, snapshot_term: Term) -> Vec<Index> {
        let dir = tempdir(name);
        let (mut s, _) = Storage::open(&dir, 1, bootstrap()).unwrap();
        s.persist(
            None,
            Some(&LogWrite {
                truncate_from: 2,
                entries: (2..=6).map(|i| put(i, log_term, "k")).collect(),
            }),
        )
        .unwrap();
        let snapshot = snapshot_at(4, snapshot_term);
        snapshot_file::save_snapshot(&dir, 1, &snapshot, &plain_files()).unwrap();
        drop(s);
        let (_, rec) = Storage::open(&dir, 1, bootstrap()).unwrap();
        assert_eq!(rec.persisted.snapshot, Some(snapshot));
        fs::remove_dir_all(&dir).unwrap();
        rec.persisted.log.iter().map(|e| e.index).collect()
    }

    #[test]
    fn a_crash_between_a_leaders_snapshot_and_the_cut_drops_the_conflicting_log() {
        // A leader that lost wrote term 2; the new leader's snapshot says index 4 is of
        // term 3: the suffix conflicts and goes.
        assert_eq!(
            kept_after_an_uncut_snapshot("snapconflict", 2, 3),
            Vec::<Index>::new()
        );
        // A snapshot that matches at its index keeps the suffix after it.
        assert_eq!(kept_after_an_uncut_snapshot("snapmatch", 2, 2), vec![5, 6]);
    }

    #[test]
    fn a_torn_snapshot_write_is_ignored_and_a_damaged_snapshot_refuses_to_start() {
        let dir = tempdir("snaptorn");
        let (mut s, _) = Storage::open(&dir, 1, bootstrap()).unwrap();
        s.save_snapshot(&snapshot_at(1, 0)).unwrap();
        s.cut_log(1, 0, None, &[]).unwrap();
        drop(s);
        // A crash mid-write of the next snapshot leaves half a temporary file.
        let next = snapshot_file::encode_snapshot(1, &snapshot_at(1, 0));
        fs::write(
            dir.join(snapshot_file::SNAPSHOT_TMP),
            &next[..next.len() / 2],
        )
        .unwrap();
        let (_, rec) = Storage::open(&dir, 1, bootstrap()).unwrap();
        assert_eq!(rec.persisted.snapshot, Some(snapshot_at(1, 0)));
        assert!(!dir.join(snapshot_file::SNAPSHOT_TMP).exists());

        // A snapshot without its WAL: refused, never started afresh.
        let wal = fs::read(dir.join(WAL_FILE)).unwrap();
        fs::remove_file(dir.join(WAL_FILE)).unwrap();
        let err = Storage::open(&dir, 1, bootstrap()).unwrap_err().to_string();
        assert!(err.contains("log is missing"), "{err}");
        fs::write(dir.join(WAL_FILE), wal).unwrap();

        // One flipped bit in the snapshot's state: refused, with file and offset.
        let path = dir.join(snapshot_file::SNAPSHOT_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let err = Storage::open(&dir, 1, bootstrap()).unwrap_err().to_string();
        assert!(err.contains("raft.snap") && err.contains("offset"), "{err}");
        assert!(err.contains("CRC"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
