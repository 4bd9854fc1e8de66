//! Every HTTP request body the node parses, through the node's own parsers
//! (`duckgoose::bodies`): the first byte picks the route, the rest is the body. Nothing
//! may panic, and what a parser accepts must be what the route needs.

#![no_main]

use duckgoose::bodies;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&route, body)) = data.split_first() else {
        return;
    };
    let me = 3;
    match route % 7 {
        0 => {
            if let Ok(b) = bodies::partition(body, me) {
                for id in b.inbound.iter().chain(&b.outbound) {
                    assert!(*id != 0 && *id != me);
                }
                assert!(
                    b.both()
                        .iter()
                        .all(|id| b.inbound.contains(id) && b.outbound.contains(id))
                );
            }
        }
        1 => {
            if let Ok((id, addr)) = bodies::add_member(body) {
                assert!(id > 0 && bodies::valid_addr(&addr));
            }
        }
        2 => {
            if let Ok(to) = bodies::transfer(body) {
                assert!(to > 0);
            }
        }
        3 => {
            if let Ok(c) = bodies::cas(body) {
                let json = serde_json::json!({ "expected": c.expected, "value": c.value });
                let again =
                    bodies::cas(json.to_string().as_bytes()).expect("re-encoded cas parses");
                assert_eq!(again, c);
            }
        }
        4 => {
            if let Ok(v) = bodies::value(body) {
                assert_eq!(v.as_bytes(), body);
            }
        }
        5 => {
            if let Ok(s) = std::str::from_utf8(body) {
                if let Ok(id) = bodies::member_id(s) {
                    assert!(id > 0);
                }
                let ok = bodies::check_key(s).is_ok();
                assert_eq!(ok, !s.is_empty() && s.len() <= bodies::MAX_KEY_BYTES);
            }
        }
        _ => {
            if let Ok(s) = std::str::from_utf8(body) {
                let _ = bodies::valid_addr(s);
            }
        }
    }
});
