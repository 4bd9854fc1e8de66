//! The snapshot file, `raft.snap`: the node's latest snapshot (Raft §7), which stands in
//! for every log entry through its index.
//!
//! # Layout
//! The 8-byte magic `DGSNAP01`; one header record in the WAL's framing
//! (`[payload length: u32 LE][CRC-32: u32 LE][payload]`, the payload a postcard-encoded
//! [`Header`]: format version, node id, index, term, membership, data length and data
//! CRC); then the application's state, exactly `data_len` bytes.
//!
//! # Writing
//! A snapshot is written whole to `raft.snap.tmp`, fsynced, renamed over `raft.snap`,
//! and the directory fsynced: a crash leaves the old snapshot or the new one, never a
//! mix. A `raft.snap.tmp` found at start is the remains of a write that did not finish
//! (it was never renamed, so nothing depends on it): it is removed.
//!
//! # Reading
//! Since only whole, fsynced files are renamed into place, any damage in `raft.snap` is
//! corruption, not a torn write, and the node refuses to start naming the file and the
//! offset. It keeps no older snapshot to fall back on: the WAL is cut after each
//! snapshot, so the entries an older one would need are gone (see docs/node.md,
//! Storage).

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use duckgoose_core::{Index, Membership, NodeId, Snapshot, Term};
use serde::{Deserialize, Serialize};

use crate::storage::{
    Layer, StorageError, encode_record, io_err, record_at, sync_dir, write_atomically,
};

pub const SNAPSHOT_FILE: &str = "raft.snap";
pub const SNAPSHOT_TMP: &str = "raft.snap.tmp";
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"DGSNAP01";
const SNAPSHOT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    version: u32,
    node_id: NodeId,
    index: Index,
    term: Term,
    membership: Membership,
    data_len: u64,
    data_crc: u32,
}

/// A snapshot file's bytes for node `id`.
pub fn encode_snapshot(id: NodeId, snapshot: &Snapshot) -> Vec<u8> {
    let header = Header {
        version: SNAPSHOT_VERSION,
        node_id: id,
        index: snapshot.index,
        term: snapshot.term,
        membership: snapshot.membership.clone(),
        data_len: snapshot.data.len() as u64,
        data_crc: crc32fast::hash(&snapshot.data),
    };
    let mut buf = SNAPSHOT_MAGIC.to_vec();
    encode_record(&mut buf, &header);
    buf.extend_from_slice(&snapshot.data);
    buf
}

/// Checks and decodes a snapshot file's bytes; `path` only names it in errors. Returns
/// the node id it belongs to and the snapshot. (The fuzz target `snapshot_file` feeds
/// this arbitrary bytes: it must never panic.)
pub fn decode_snapshot(path: &Path, data: &[u8]) -> Result<(NodeId, Snapshot), StorageError> {
    let corrupt = |offset: usize, reason: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    if data.get(..SNAPSHOT_MAGIC.len()) != Some(SNAPSHOT_MAGIC.as_slice()) {
        return Err(corrupt(
            0,
            "not a duckgoose snapshot (bad magic header)".into(),
        ));
    }
    let at = SNAPSHOT_MAGIC.len();
    let Some((payload, data_start)) = record_at(data, at) else {
        return Err(corrupt(
            at,
            "the snapshot header fails its length or CRC check".into(),
        ));
    };
    let header: Header = match postcard::take_from_bytes(payload) {
        Ok((header, [])) => header,
        Ok((_, rest)) => {
            return Err(corrupt(
                at,
                format!(
                    "the snapshot header passes its CRC but {} bytes follow it",
                    rest.len()
                ),
            ));
        }
        Err(e) => {
            return Err(corrupt(
                at,
                format!("the snapshot header passes its CRC but cannot be decoded: {e}"),
            ));
        }
    };
    if header.version != SNAPSHOT_VERSION {
        return Err(corrupt(
            at,
            format!("unknown snapshot format version {}", header.version),
        ));
    }
    let body = &data[data_start..];
    if body.len() as u64 != header.data_len {
        return Err(corrupt(
            data_start,
            format!(
                "the header announces {} bytes of state but {} follow",
                header.data_len,
                body.len()
            ),
        ));
    }
    if crc32fast::hash(body) != header.data_crc {
        return Err(corrupt(
            data_start,
            "the snapshot's state fails its CRC check".into(),
        ));
    }
    if header.index == 0 {
        return Err(corrupt(at, "a snapshot of index 0".into()));
    }
    Ok((
        header.node_id,
        Snapshot {
            index: header.index,
            term: header.term,
            membership: header.membership,
            data: body.to_vec(),
        },
    ))
}

/// The snapshot in `dir` of node `id`, if there is one. Removes an unfinished
/// temporary file when `clean` (a starting node; `inspect` only looks).
pub fn load_snapshot(
    dir: &Path,
    id: NodeId,
    clean: bool,
) -> Result<Option<Snapshot>, StorageError> {
    let tmp = dir.join(SNAPSHOT_TMP);
    if clean && tmp.exists() {
        tracing::warn!(
            file = %tmp.display(),
            "removing an unfinished snapshot write (crash before it was renamed into place)"
        );
        fs::remove_file(&tmp).map_err(io_err(&tmp, "cannot remove"))?;
        sync_dir(dir)?;
    }
    let path = dir.join(SNAPSHOT_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let mut data = Vec::new();
    File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err(&path, "cannot read"))?;
    let (found, snapshot) = decode_snapshot(&path, &data)?;
    if found != id {
        return Err(StorageError::WrongNode {
            path,
            found,
            expected: id,
        });
    }
    Ok(Some(snapshot))
}

/// Writes `snapshot` as `dir`'s snapshot: temporary file, fsync, rename, directory
/// fsync. Every file goes through `layer` (fault injection).
pub fn save_snapshot(
    dir: &Path,
    id: NodeId,
    snapshot: &Snapshot,
    layer: &Layer,
) -> Result<u64, StorageError> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let path = dir.join(SNAPSHOT_FILE);
    let buf = encode_snapshot(id, snapshot);
    write_atomically(dir, &tmp, &path, &buf, layer)?;
    Ok(buf.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckgoose_core::Member;

    fn snapshot() -> Snapshot {
        Snapshot {
            index: 42,
            term: 3,
            membership: Membership::new(vec![
                Member::new(1, "127.0.0.1:1"),
                Member::new(2, "127.0.0.1:2"),
            ]),
            data: b"the state".to_vec(),
        }
    }

    #[test]
    fn round_trips() {
        let bytes = encode_snapshot(7, &snapshot());
        let (id, back) = decode_snapshot(Path::new("s"), &bytes).unwrap();
        assert_eq!((id, back), (7, snapshot()));
    }

    #[test]
    fn every_damaged_byte_and_every_cut_is_refused_with_an_offset() {
        let bytes = encode_snapshot(7, &snapshot());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            let err = decode_snapshot(Path::new("s"), &bad).unwrap_err();
            assert!(
                matches!(err, StorageError::Corrupt { offset, .. } if offset as usize <= i),
                "byte {i}: {err}"
            );
        }
        for len in 0..bytes.len() {
            let err = decode_snapshot(Path::new("s"), &bytes[..len]).unwrap_err();
            assert!(
                matches!(err, StorageError::Corrupt { .. }),
                "cut at {len}: {err}"
            );
        }
    }
}
