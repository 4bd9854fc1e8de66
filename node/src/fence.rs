//! Fencing tokens on the HTTP API: the `Duckgoose-Fence` header every goose answer
//! carries, the `If-Fence` precondition on key-value writes, and the 412 for a write the
//! store refused.
//!
//! The fence is the goose's term. Terms strictly increase across leaderships and each
//! leadership has exactly one, so "the term your goose answer named" is a token no older
//! leadership can present. The HTTP layer only carries it: the replicated store decides,
//! when the entry is applied (`duckgoose_core::Op::Fenced`), so a write proposed by an
//! ex-goose and committed later by its successor is judged by the log, not by a check
//! that was true when it was proposed.

// Helpers return a ready-made error response; its size does not matter on that path.
#![allow(clippy::result_large_err)]

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use duckgoose_core::{Op, Term};
use serde_json::json;

/// On every goose answer: the fencing token of this leadership.
pub const FENCE_HEADER: &str = "duckgoose-fence";
/// On a key-value write: take effect only in the leadership this fence names.
pub const IF_FENCE_HEADER: &str = "if-fence";

/// Adds the fence header to a goose answer.
pub fn stamp(resp: &mut Response, fence: Term) {
    resp.headers_mut()
        .insert(FENCE_HEADER, HeaderValue::from(fence));
}

/// Wraps `op` in the fence the request's `If-Fence` names, if any; 400 for a malformed one.
pub fn guard(headers: &HeaderMap, op: Op) -> Result<Op, Response> {
    let Some(value) = headers.get(IF_FENCE_HEADER) else {
        return Ok(op);
    };
    let fence = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<Term>().ok())
        .ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                "If-Fence must be a fencing token (a decimal number) from a goose answer\n",
            )
                .into_response()
        })?;
    Ok(Op::Fenced {
        fence,
        op: Box::new(op),
    })
}

/// 412: the store refused a write whose fence names an older (or other) leadership.
pub fn refused(fence: Term, term: Term) -> Response {
    let body = json!({
        "error": "stale_fence",
        "message": format!(
            "fence {fence} is stale: the write was ordered in the leadership of term {term}; not applied"
        ),
        "fence": fence,
        "current": term,
    });
    let mut resp = (
        StatusCode::PRECONDITION_FAILED,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
        .into_response();
    stamp(&mut resp, term);
    resp
}
