//! Peer message decoding: arbitrary bytes as the body of `POST /raft/messages`, through
//! the node's own parser (`duckgoose::bodies::peer_batch`). A decoded batch must survive
//! an encode/decode round trip, and its messages, stepped into a real node (of a
//! three-node cluster, then a restart), must not panic it or break an invariant.

#![no_main]

use duckgoose::bodies;
use duckgoose::runtime::PeerBatch;
use duckgoose_fuzz::Harness;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = bodies::peer_batch(data, 1) else {
        return;
    };
    assert!(batch.from != 0 && batch.from != 1);
    assert!(batch.messages.iter().all(|m| m.from == batch.from));
    assert!(batch.addr.is_empty() || bodies::valid_addr(&batch.addr));
    let bytes = postcard::to_stdvec(&batch).expect("a decoded batch encodes");
    let again: PeerBatch = postcard::from_bytes(&bytes).expect("and decodes again");
    assert_eq!(again.from, batch.from);
    assert_eq!(again.addr, batch.addr);
    assert_eq!(again.messages, batch.messages);

    let mut h = Harness::new(&[1, 2, 3], &[], true, true);
    for (i, m) in batch.messages.into_iter().enumerate() {
        let mut m = m;
        m.to = 1; // as the peer route does for its own node; wrong ones are refused anyway
        if i % 7 == 6 {
            h.tick(1, 40);
        }
        h.deliver(m);
    }
    h.restart(1);
    h.tick(1, 100);
});
