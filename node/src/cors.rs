//! Cross-origin requests for the playground's live mode: the page served by one member
//! (`https://127.0.0.1:9900`) reads and drives the others (`…:9901`, …) and the cluster's
//! control API, which are other origins to a browser. Only origins the server allows (for
//! a node: its cluster's members) get CORS headers; everything else is unchanged. Routes
//! keep their token checks, so a cross-origin request can do exactly what the same
//! request from curl can, and a page from any other site still cannot read the answers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Which page origins may call this server from a browser.
pub trait AllowedOrigins: Send + Sync + 'static {
    fn allows(&self, origin: &str) -> bool;
}

/// What a page may send beyond the safelisted headers.
const ALLOW_HEADERS: &str = "authorization, content-type, if-fence, last-event-id";
const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE";
/// The answer headers a page may read (the rest of the safelist is implicit).
const EXPOSE_HEADERS: &str = "duckgoose-fence, duckgoose-state, x-duckgoose-term, \
                              x-duckgoose-reason, www-authenticate, location";

/// Axum middleware: answers preflights from allowed origins and marks their answers
/// readable. Put it outermost, so refusals (a 401) are readable too.
pub async fn cors<T: AllowedOrigins>(
    State(allowed): State<Arc<T>>,
    req: Request,
    next: Next,
) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let ok = allowed.allows(&origin);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        if !ok {
            return (
                StatusCode::FORBIDDEN,
                format!("origin {origin} is not a member of this cluster\n"),
            )
                .into_response();
        }
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        allow(&mut resp, &origin);
        return resp;
    }
    let mut resp = next.run(req).await;
    if ok {
        allow(&mut resp, &origin);
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    resp
}

fn allow(resp: &mut Response, origin: &str) {
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.append(header::VARY, HeaderValue::from_static("origin"));
}

/// Whether a browser's `Origin` header names the server at `scheme://addr` (`addr` is
/// `host:port`): host names compare without case, and a default port may be left out.
pub fn is_origin_of(origin: &str, scheme: &str, addr: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
    else {
        return false;
    };
    let default_port = match scheme {
        "https" => ":443",
        _ => ":80",
    };
    let addr = addr.strip_suffix(default_port).unwrap_or(addr);
    let rest = rest.strip_suffix(default_port).unwrap_or(rest);
    rest.eq_ignore_ascii_case(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_their_member_address() {
        assert!(is_origin_of(
            "https://127.0.0.1:9900",
            "https",
            "127.0.0.1:9900"
        ));
        assert!(is_origin_of(
            "http://Node-1.example:80",
            "http",
            "node-1.example:80"
        ));
        assert!(is_origin_of("https://a.example", "https", "a.example:443"));
        assert!(!is_origin_of(
            "http://127.0.0.1:9900",
            "https",
            "127.0.0.1:9900"
        ));
        assert!(!is_origin_of(
            "https://127.0.0.1:99001",
            "https",
            "127.0.0.1:9900"
        ));
        assert!(!is_origin_of(
            "https://127.0.0.1:9900.evil.example",
            "https",
            "127.0.0.1:9900"
        ));
        assert!(!is_origin_of(
            "https://evil.example",
            "https",
            "127.0.0.1:9900"
        ));
        assert!(!is_origin_of("null", "https", "127.0.0.1:9900"));
    }
}
