//! The storage record reader: arbitrary bytes as a log file (`storage::replay_bytes`).
//! With the first byte odd, every record's CRC is fixed up first, so the fuzzer reaches
//! the decoding and replay rules behind the checksum. Nothing may panic; a log that
//! replays must re-encode (as a compaction would write it) to the same state, and a torn
//! tail, once cut off, must replay to the same state with no tail.

#![no_main]

use std::path::Path;

use duckgoose::storage;
use libfuzzer_sys::fuzz_target;

/// Rewrites each `[len][crc][payload]` frame's CRC to match its payload.
fn fix_crcs(data: &mut [u8]) {
    let mut pos = storage::MAGIC.len();
    while pos + 8 <= data.len() {
        let len =
            u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        let end = pos + 8 + len;
        if len == 0 || end > data.len() {
            return;
        }
        let crc = crc32fast::hash(&data[pos + 8..end]);
        data[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
        pos = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        fix_crcs(&mut bytes);
    }
    let path = Path::new("fuzz.wal");
    let Ok(replayed) = storage::replay_bytes(path, &bytes) else {
        return;
    };
    assert!(replayed.valid_len as usize <= bytes.len());
    match &replayed.torn_tail {
        Some(t) => {
            assert_eq!(t.offset, replayed.valid_len);
            assert_eq!(t.offset + t.dropped_bytes, bytes.len() as u64);
            let cut = storage::replay_bytes(path, &bytes[..replayed.valid_len as usize])
                .expect("the valid prefix replays");
            assert_eq!(cut.persisted, replayed.persisted);
            assert!(cut.torn_tail.is_none());
        }
        None => assert_eq!(replayed.valid_len as usize, bytes.len()),
    }
    let compact = storage::encode_log(replayed.node_id, &replayed.persisted);
    let again = storage::replay_bytes(path, &compact).expect("a compacted log replays");
    assert_eq!(again.persisted, replayed.persisted);
    assert_eq!(again.node_id, replayed.node_id);
    assert!(again.torn_tail.is_none());
});
