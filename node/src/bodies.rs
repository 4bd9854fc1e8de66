//! Every request body the node accepts, parsed and checked in one place: the HTTP
//! handlers call these, and so do the fuzz targets (`fuzz/`), so what is fuzzed is exactly
//! what serves. Each returns the reason a body is refused (the handler answers 400 with
//! it); none may panic, whatever the bytes.

use std::collections::BTreeSet;

use duckgoose_core::{Message, NodeId};
use serde::Deserialize;

use crate::runtime::{Blocked, PeerBatch};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

fn json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("malformed JSON body: {e}"))
}

/// A key from the path: one non-empty segment of at most [`MAX_KEY_BYTES`].
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("empty key".into());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("key longer than {MAX_KEY_BYTES} bytes"));
    }
    Ok(())
}

/// `PUT /kv/{key}`: the body is the value, UTF-8 text.
pub fn value(body: &[u8]) -> Result<String, String> {
    String::from_utf8(body.to_vec()).map_err(|_| "value must be UTF-8 text".into())
}

/// `POST /kv/{key}/cas`: `{"expected": null | "v", "value": "w"}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cas {
    /// `None` (JSON `null`): swap only if the key is absent.
    pub expected: Option<String>,
    pub value: String,
}

pub fn cas(body: &[u8]) -> Result<Cas, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        // Required, even when null: a forgotten field must not mean "absent".
        #[serde(deserialize_with = "required_nullable")]
        expected: Option<String>,
        value: String,
    }
    fn required_nullable<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<String>, D::Error> {
        Option::<String>::deserialize(d)
    }
    let Raw { expected, value } = json(body)?;
    Ok(Cas { expected, value })
}

/// `POST /admin/partition`: `{"block":[..]}` cuts both directions; `{"block_in":[..]}`
/// drops what these ids send us, `{"block_out":[..]}` what we send them (one-way cuts).
/// The fields combine, and together replace whatever was blocked before.
pub fn partition(body: &[u8], me: NodeId) -> Result<Blocked, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        block: Option<Vec<NodeId>>,
        block_in: Option<Vec<NodeId>>,
        block_out: Option<Vec<NodeId>>,
    }
    let Raw {
        block,
        block_in,
        block_out,
    } = json(body)?;
    if block.is_none() && block_in.is_none() && block_out.is_none() {
        return Err("malformed JSON body: give block, block_in or block_out (DELETE heals)".into());
    }
    let both: BTreeSet<NodeId> = block.unwrap_or_default().into_iter().collect();
    let mut blocked = Blocked {
        inbound: both.clone(),
        outbound: both,
    };
    blocked.inbound.extend(block_in.unwrap_or_default());
    blocked.outbound.extend(block_out.unwrap_or_default());
    let all = || blocked.inbound.iter().chain(&blocked.outbound);
    if all().any(|&id| id == 0) {
        return Err("node ids are positive".into());
    }
    if all().any(|&id| id == me) {
        return Err("a node cannot block itself".into());
    }
    Ok(blocked)
}

/// `POST /admin/members`: `{"id":6,"addr":"127.0.0.1:9906"}`.
pub fn add_member(body: &[u8]) -> Result<(NodeId, String), String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        id: NodeId,
        addr: String,
    }
    let Raw { id, addr } = json(body)?;
    if id == 0 {
        return Err("node ids are positive".into());
    }
    if !valid_addr(&addr) {
        return Err(format!("addr must be host:port, got {addr:?}"));
    }
    Ok((id, addr))
}

/// `DELETE /admin/members/{id}`: the id from the path.
pub fn member_id(segment: &str) -> Result<NodeId, String> {
    match segment.parse::<NodeId>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(format!(
            "node id must be a positive integer, got {segment:?}"
        )),
    }
}

/// `POST /admin/transfer`: `{"to":3}`.
pub fn transfer(body: &[u8]) -> Result<NodeId, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        to: NodeId,
    }
    let Raw { to } = json(body)?;
    if to == 0 {
        return Err("node ids are positive".into());
    }
    Ok(to)
}

/// `POST /raft/messages` at node `me`: a postcard [`PeerBatch`]. Keeps only the messages
/// the sender speaks for itself (`from` matches the batch's sender), and drops an
/// announced address that is not `host:port`. The core still validates every message
/// before it reaches the protocol (`Message::validate`).
pub fn peer_batch(body: &[u8], me: NodeId) -> Result<PeerBatch, String> {
    let batch: PeerBatch =
        postcard::from_bytes(body).map_err(|e| format!("malformed peer batch: {e}"))?;
    if batch.from == 0 || batch.from == me {
        return Err("bad sender id".into());
    }
    let from = batch.from;
    let messages: Vec<Message> = batch
        .messages
        .into_iter()
        .filter(|m| m.from == from)
        .collect();
    let addr = if valid_addr(&batch.addr) {
        batch.addr
    } else {
        String::new()
    };
    Ok(PeerBatch {
        from,
        addr,
        messages,
    })
}

/// `host:port` with a plausible host and a non-zero port.
pub fn valid_addr(addr: &str) -> bool {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && host.len() <= 253
        && port.parse::<u16>().is_ok_and(|p| p != 0)
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_bodies() {
        assert_eq!(
            cas(br#"{"expected":null,"value":"w"}"#),
            Ok(Cas {
                expected: None,
                value: "w".into()
            })
        );
        assert_eq!(
            cas(br#"{"expected":"v","value":"w"}"#),
            Ok(Cas {
                expected: Some("v".into()),
                value: "w".into()
            })
        );
        for bad in [
            &br#"{"value":"w"}"#[..],
            br#"{"expected":"v"}"#,
            br#"{"expected":1,"value":"w"}"#,
            br#"{"expected":null,"value":"w","x":1}"#,
            b"{",
            b"",
        ] {
            let err = cas(bad).unwrap_err();
            assert!(err.contains("malformed JSON"), "{err}");
        }
    }

    #[test]
    fn partition_bodies() {
        let p = partition(br#"{"block":[2,3]}"#, 1).unwrap();
        assert_eq!(p.both(), vec![2, 3]);
        let p = partition(br#"{"block_in":[2],"block_out":[3]}"#, 1).unwrap();
        assert_eq!(p.inbound.iter().copied().collect::<Vec<_>>(), vec![2]);
        assert_eq!(p.outbound.iter().copied().collect::<Vec<_>>(), vec![3]);
        assert!(p.both().is_empty());
        let p = partition(br#"{"block":[4],"block_out":[3]}"#, 1).unwrap();
        assert_eq!(p.both(), vec![4]);
        assert_eq!(p.outbound.len(), 2);
        assert!(partition(b"{}", 1).unwrap_err().contains("block_in"));
        assert!(
            partition(br#"{"block_in":[0]}"#, 1)
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            partition(br#"{"block_out":[1]}"#, 1)
                .unwrap_err()
                .contains("itself")
        );
        assert!(
            partition(br#"{"blocks":[2]}"#, 1)
                .unwrap_err()
                .contains("malformed JSON")
        );
    }

    #[test]
    fn admin_bodies_and_ids() {
        assert_eq!(
            add_member(br#"{"id":6,"addr":"127.0.0.1:9906"}"#),
            Ok((6, "127.0.0.1:9906".into()))
        );
        assert!(add_member(br#"{"id":0,"addr":"a:1"}"#).is_err());
        assert!(add_member(br#"{"id":6,"addr":"a:0"}"#).is_err());
        assert_eq!(transfer(br#"{"to":3}"#), Ok(3));
        assert!(transfer(br#"{"to":0}"#).is_err());
        assert_eq!(member_id("7"), Ok(7));
        assert!(member_id("0").is_err());
        assert!(member_id("-1").is_err());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(value(&[0xff]).is_err());
    }

    #[test]
    fn peer_batches_speak_only_for_their_sender() {
        use duckgoose_core::Body;
        let msg = |from| Message {
            from,
            to: 1,
            term: 1,
            body: Body::PreVoteReply { granted: true },
        };
        let batch = PeerBatch {
            from: 2,
            addr: "not an address".into(),
            messages: vec![msg(2), msg(3)],
        };
        let bytes = postcard::to_stdvec(&batch).unwrap();
        let got = peer_batch(&bytes, 1).unwrap();
        assert_eq!(got.messages, vec![msg(2)]);
        assert_eq!(got.addr, "");
        assert_eq!(peer_batch(&bytes, 2).unwrap_err(), "bad sender id");
        assert!(
            peer_batch(b"\xff\xff", 1)
                .unwrap_err()
                .contains("malformed peer batch")
        );
    }
}
