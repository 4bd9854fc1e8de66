//! The browser playground, embedded in the binary by `build.rs` and served by every node:
//! `/` redirects to `/?live` (the page draws this node's real cluster), `/index.html` is
//! the simulator, and the page's modules and wasm sit at the paths they have in `www/`.
//! Public routes: the page holds no secret, and the token is typed into it, never served.
//!
//! A binary built before `scripts/build-web.sh` embeds no page; `/` then says how to build
//! one.

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file of `www/`.
pub struct Asset {
    /// Its URL path, e.g. `/ddg/stage.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzipped (best compression), made at build time.
    pub gzipped: &'static [u8],
    /// A quoted content hash.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/playground_assets.rs"));

/// Where `/` sends a browser: the page in live mode.
pub const LIVE_PATH: &str = "/?live";

const NOT_BUILT: &str = "<!doctype html>
<meta charset=\"utf-8\"><title>Duck Duck Goose: no playground in this build</title>
<h1>This duckgoose was built without the playground</h1>
<p>The page needs the simulator compiled to WebAssembly (<code>www/pkg/</code>), which was
missing when this binary was built. From the repository:</p>
<pre>scripts/build-web.sh
cargo build --release -p duckgoose</pre>
<p>The node's API works as usual: <a href=\"/status\">/status</a>, <a href=\"/goose\">/goose</a>.</p>
";

/// The routes for `/` and every embedded asset.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new().route("/", get(root));
    for asset in ASSETS {
        router = router.route(
            asset.path,
            get(move |headers: HeaderMap| serve(asset, headers)),
        );
    }
    if !PLAYGROUND_BUILT {
        router = router.route("/index.html", get(not_built));
    }
    router
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// `/` is the live page; `/?anything` (the page's own URL in live mode, `/?live`) is the
/// page itself.
async fn root(RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    // Redirect first, built or not: the page at `/?live` says how to build the playground
    // when it is missing, and `/` behaves the same in both binaries.
    if query.is_none() {
        let mut resp = StatusCode::SEE_OTHER.into_response();
        resp.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static(LIVE_PATH));
        return resp;
    }
    match find("/index.html") {
        Some(index) => serve(index, headers).await,
        None => not_built().await,
    }
}

async fn not_built() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        NOT_BUILT,
    )
        .into_response()
}

async fn serve(asset: &'static Asset, headers: HeaderMap) -> Response {
    let etag = HeaderValue::from_static(asset.etag);
    let mut resp = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == asset.etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(&headers) && asset.gzipped.len() < asset.body.len() {
        let mut resp = asset.gzipped.into_response();
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        resp
    } else {
        asset.body.into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::ETAG, etag);
    // Revalidate every time: the assets change with the binary, and a 304 is cheap.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.content_type.starts_with("text/html") {
        // Another site must not frame the page and steer a user's drags and clicks.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
    }
    resp
}

/// `Accept-Encoding` lists gzip (and does not refuse it with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_encoding(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn gzip_is_used_only_when_accepted() {
        assert!(accepts_gzip(&with_encoding("gzip, deflate, br")));
        assert!(accepts_gzip(&with_encoding("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&with_encoding("*")));
        assert!(!accepts_gzip(&with_encoding("gzip;q=0")));
        assert!(!accepts_gzip(&with_encoding("br, deflate")));
        assert!(!accepts_gzip(&with_encoding("xgzip")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_asset_has_a_type_and_a_tag() {
        for a in ASSETS {
            assert!(a.path.starts_with('/'), "{}", a.path);
            assert!(!a.content_type.is_empty(), "{}", a.path);
            assert!(
                a.etag.starts_with('"') && a.etag.ends_with('"'),
                "{}",
                a.etag
            );
        }
        if PLAYGROUND_BUILT {
            for path in [
                "/index.html",
                "/duck-duck-goose.js",
                "/pkg/duck-duck-goose.js",
                "/pkg/hunt-worker.js",
                "/pkg/duckgoose_wasm.js",
                "/pkg/duckgoose_wasm_bg.wasm",
            ] {
                assert!(find(path).is_some(), "{path} is embedded");
            }
            // The JS the wasm imports (wasm-bindgen's snippets/) is embedded too.
            let glue = std::str::from_utf8(find("/pkg/duckgoose_wasm.js").unwrap().body).unwrap();
            let snippets: Vec<&str> = glue
                .split("from './snippets/")
                .skip(1)
                .map(|rest| &rest[..rest.find('\'').unwrap()])
                .collect();
            assert!(!snippets.is_empty(), "the glue imports its frame decoder");
            for snippet in snippets {
                let path = format!("/pkg/snippets/{snippet}");
                assert!(find(&path).is_some(), "{path} is embedded");
            }
        }
    }
}
