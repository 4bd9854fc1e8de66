//! The snapshot file reader: arbitrary bytes as `raft.snap`
//! (`snapshot_file::decode_snapshot`). With the first byte odd, the header record's CRC
//! is fixed up first, so the fuzzer reaches the header's decoding and the state checks
//! behind it. Nothing may panic; a file that decodes must re-encode to a file that
//! decodes to the same snapshot.

#![no_main]

use std::path::Path;

use duckgoose::snapshot_file::{SNAPSHOT_MAGIC, decode_snapshot, encode_snapshot};
use libfuzzer_sys::fuzz_target;

/// Rewrites the header frame's CRC (`[len][crc][payload]` after the magic).
fn fix_header_crc(data: &mut [u8]) {
    let pos = SNAPSHOT_MAGIC.len();
    if data.len() < pos + 8 {
        return;
    }
    let len = u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
    let Some(end) = (pos + 8).checked_add(len).filter(|&e| e <= data.len()) else {
        return;
    };
    let crc = crc32fast::hash(&data[pos + 8..end]);
    data[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        fix_header_crc(&mut bytes);
    }
    let Ok((node_id, snapshot)) = decode_snapshot(Path::new("fuzz.snap"), &bytes) else {
        return;
    };
    // Re-encoding gives a file that decodes to the same snapshot (not necessarily the
    // same bytes: postcard accepts overlong varints under a matching CRC).
    let again = encode_snapshot(node_id, &snapshot);
    let back =
        decode_snapshot(Path::new("fuzz.snap"), &again).expect("a re-encoded snapshot decodes");
    assert_eq!(back, (node_id, snapshot), "a snapshot file round-trips");
});
