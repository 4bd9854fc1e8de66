//! The playground a node serves, over HTTPS with a token, as a browser fetches it: `/`
//! sends it to the live page, each asset is byte for byte the file in `www/` with its
//! content type (gzipped when asked for, 304 on a matching ETag), and pages served by a
//! member may call the other members across origins while other sites may not.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");
const WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../www");

/// Whether the binary was built with the wasm (`scripts/build-web.sh` ran before).
fn playground_built() -> bool {
    Path::new(WWW).join("pkg/duckgoose_wasm_bg.wasm").is_file()
}

struct Fetched {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn fetch(
    cluster: &Cluster,
    id: u64,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Fetched {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = cluster
        .http()
        .request(method, format!("{}{path}", cluster.url(id)))
        .timeout(Duration::from_secs(10));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().unwrap_or_else(|e| panic!("{path}: {e}"));
    Fetched {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().expect("body").to_vec(),
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[test]
fn a_node_serves_the_playground_over_https() {
    let cluster = Cluster::start_tls(BIN, "playground", 2, Opts::default());

    // `/` is the live page: a redirect a browser follows without any token.
    let root = fetch(&cluster, 1, "GET", "/", &[]);
    assert_eq!(root.status, 303);
    assert_eq!(root.header("location"), "/?live");

    if !playground_built() {
        let page = fetch(&cluster, 1, "GET", "/?live", &[]);
        assert_eq!(page.status, 200);
        let text = String::from_utf8_lossy(&page.body);
        assert!(text.contains("scripts/build-web.sh"), "{text}");
        return;
    }

    for (path, file, content_type) in [
        ("/?live", "index.html", "text/html; charset=utf-8"),
        ("/index.html", "index.html", "text/html; charset=utf-8"),
        (
            "/duck-duck-goose.js",
            "duck-duck-goose.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/pkg/duck-duck-goose.js",
            "pkg/duck-duck-goose.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/ddg/stage.js",
            "ddg/stage.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/pkg/duckgoose_wasm.js",
            "pkg/duckgoose_wasm.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/pkg/duckgoose_wasm_bg.wasm",
            "pkg/duckgoose_wasm_bg.wasm",
            "application/wasm",
        ),
    ] {
        let want = std::fs::read(Path::new(WWW).join(file)).expect("read the www file");
        let plain = fetch(&cluster, 1, "GET", path, &[]);
        assert_eq!(plain.status, 200, "{path}");
        assert_eq!(plain.header("content-type"), content_type, "{path}");
        assert_eq!(
            plain.header("content-encoding"),
            "",
            "{path}: not asked for gzip"
        );
        assert!(
            plain.body == want,
            "{path}: the embedded bytes are the file's"
        );
        assert_eq!(plain.header("x-content-type-options"), "nosniff");

        let gz = fetch(&cluster, 1, "GET", path, &[("Accept-Encoding", "gzip, br")]);
        assert_eq!(gz.header("content-encoding"), "gzip", "{path}");
        assert!(gz.body.len() < want.len(), "{path}: gzip is smaller");
        assert!(
            gunzip(&gz.body) == want,
            "{path}: gzip holds the same bytes"
        );

        let etag = plain.header("etag").to_string();
        assert!(etag.starts_with('"'), "{path}: {etag}");
        let again = fetch(&cluster, 1, "GET", path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
    }
    let html = fetch(&cluster, 1, "GET", "/index.html", &[]);
    assert_eq!(
        html.header("content-security-policy"),
        "frame-ancestors 'none'"
    );
    // Tests and type declarations are not part of the page.
    for path in [
        "/e2e/helpers.mjs",
        "/pkg/duckgoose_wasm.d.ts",
        "/nope.js",
        "/../Cargo.toml",
    ] {
        assert_eq!(fetch(&cluster, 1, "GET", path, &[]).status, 404, "{path}");
    }
}

#[test]
fn only_pages_of_members_may_call_a_node_across_origins() {
    let cluster = Cluster::start_tls(BIN, "playground-cors", 2, Opts::default());
    let member = cluster.url(2);
    let stranger = format!("https://127.0.0.1:{}", free_ports(1)[0]);
    let auth = cluster.auth();
    let bearer = auth[0].1.as_str();

    // A member's page reads /status and the answers' headers.
    let s = fetch(&cluster, 1, "GET", "/status", &[("Origin", &member)]);
    assert_eq!(s.status, 200);
    assert_eq!(s.header("access-control-allow-origin"), member);
    assert!(s.header("vary").contains("origin"), "{:?}", s.headers);
    // Other sites get no CORS headers: the browser keeps the answer from them.
    let s = fetch(&cluster, 1, "GET", "/status", &[("Origin", &stranger)]);
    assert_eq!(s.status, 200);
    assert_eq!(s.header("access-control-allow-origin"), "");
    let s = fetch(
        &cluster,
        1,
        "GET",
        "/status",
        &[("Origin", "http://127.0.0.1:1")],
    );
    assert_eq!(
        s.header("access-control-allow-origin"),
        "",
        "http is not https"
    );

    // Preflight for an authenticated partition call.
    let preflight = |origin: &str| {
        fetch(
            &cluster,
            1,
            "OPTIONS",
            "/admin/partition",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "authorization, content-type",
                ),
            ],
        )
    };
    let ok = preflight(&member);
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), member);
    assert!(
        ok.header("access-control-allow-headers")
            .contains("authorization")
    );
    assert!(ok.header("access-control-allow-methods").contains("POST"));
    let refused = preflight(&stranger);
    assert_eq!(refused.status, 403);
    assert!(String::from_utf8_lossy(&refused.body).contains("not a member"));
    assert_eq!(refused.header("access-control-allow-origin"), "");

    // The token is still required, and its refusal is readable by the page.
    let body = r#"{"block":[2]}"#;
    let partition = |headers: &[(&str, &str)]| {
        let mut req = cluster
            .http()
            .post(format!("{}/admin/partition", cluster.url(1)))
            .body(body)
            .header("Content-Type", "application/json")
            .header("Origin", member.as_str());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().expect("partition");
        let allowed = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or("").to_string());
        (r.status().as_u16(), allowed, r.text().unwrap_or_default())
    };
    let (status, allowed, text) = partition(&[]);
    assert_eq!(status, 401);
    assert_eq!(allowed.as_deref(), Some(member.as_str()));
    assert!(text.contains("bearer token"), "{text}");
    let (status, _, _) = partition(&[("Authorization", "Bearer wrong")]);
    assert_eq!(status, 401);
    assert_eq!(cluster.status(1).unwrap()["blocked"], serde_json::json!([]));
    let (status, _, text) = partition(&[("Authorization", bearer)]);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        cluster.status(1).unwrap()["blocked"],
        serde_json::json!([2])
    );
}
