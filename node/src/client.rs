//! The operator commands: thin wrappers over the HTTP API.

use std::time::Duration;

use duckgoose_core::{Command, NodeId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::{
    AddArgs, Client, FindGooseArgs, HealArgs, InspectArgs, PartitionArgs, RemoveArgs, TargetArgs,
    TransferArgs,
};

/// Redirects [`send`] follows at most (with forwarding, ducks do not redirect admin
/// requests; a node that does is followed only to a member).
const MAX_REDIRECTS: usize = 3;

/// The operator's HTTP client. It never follows a redirect by itself: [`send`] decides
/// where the token may go.
pub fn http_client(
    timeout: Duration,
    tls_ca: Option<&std::path::Path>,
) -> Result<reqwest::Client, String> {
    crate::tls::ClientTls::from_ca_file(tls_ca)?
        .builder()
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// `127.0.0.1:9901` or `http://127.0.0.1:9901/` → `http://127.0.0.1:9901`.
pub fn normalize(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

/// What find-goose prints before the colon: the port, like the seed's script.
fn label(url: &str) -> String {
    let u = normalize(url);
    let host = u.split("://").nth(1).unwrap_or(&u);
    let host = host.split('/').next().unwrap_or(host);
    match host.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => port.to_string(),
        _ => host.to_string(),
    }
}

pub async fn find_goose(args: FindGooseArgs) -> Result<(), String> {
    let urls = if args.urls.is_empty() {
        let scheme = if args.tls_ca.is_some() {
            "https://"
        } else {
            ""
        };
        (9900..=9904)
            .map(|p| format!("{scheme}127.0.0.1:{p}"))
            .collect()
    } else {
        args.urls
    };
    let client = http_client(
        Duration::from_millis(args.timeout_ms),
        args.tls_ca.as_deref(),
    )?;
    let asks = urls.iter().map(|u| {
        let client = client.clone();
        let url = format!("{}/role", normalize(u));
        async move {
            match client.get(&url).send().await {
                Ok(r) if r.status() == StatusCode::OK => match r.text().await {
                    Ok(t) if t.trim() == "goose" => "goose".to_string(),
                    Ok(t) if t.trim() == "duck" => "duck".to_string(),
                    Ok(t) => format!("unexpected answer {:?}", t.trim()),
                    Err(e) => format!("error: {}", error_chain(&e)),
                },
                Ok(r) => format!("error {}", r.status()),
                Err(e) if is_down(&e) => "down".to_string(),
                Err(e) if url.starts_with("http://") => format!(
                    "error: {} (if it serves HTTPS: pass --tls-ca FILE or an https:// URL)",
                    error_chain(&e)
                ),
                Err(e) => format!("error: {}", error_chain(&e)),
            }
        }
    });
    let handles: Vec<_> = asks.map(tokio::spawn).collect();
    for (url, handle) in urls.iter().zip(handles) {
        let answer = handle.await.unwrap_or_else(|e| format!("error {e}"));
        println!("{}: {answer}", label(url));
    }
    Ok(())
}

/// The error and its causes, on one line (reqwest's own message is only the outermost).
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Nothing answers there: refused, or no answer in time. Anything else (a failed TLS
/// handshake, plain HTTP to an HTTPS port) reached a live process and is worth showing.
fn is_down(e: &reqwest::Error) -> bool {
    if e.is_timeout() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::TimedOut
            )
        }) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Sends one request with the token. A `307`/`308` is followed (at most
/// [`MAX_REDIRECTS`] times, the token re-sent) only to an address the answering node
/// lists as a member: anywhere else is an error, so the token never leaves the cluster.
async fn send(
    client: &Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Result<(StatusCode, String), String> {
    let http = http_client(
        Duration::from_millis(client.timeout_ms),
        client.tls_ca.as_deref(),
    )?;
    let mut target = url;
    for _ in 0..=MAX_REDIRECTS {
        let mut req = http.request(method.clone(), &target);
        if let Some(token) = &client.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = &body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.map_err(|e| format!("{target}: {e}"))?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.map_err(|e| format!("{target}: {e}"))?;
        let redirect = [
            StatusCode::TEMPORARY_REDIRECT,
            StatusCode::PERMANENT_REDIRECT,
        ];
        let (true, Some(location)) = (redirect.contains(&status), location) else {
            return Ok((status, text));
        };
        let members = member_addrs(&http, &target).await?;
        if !is_member_url(&location, &members) {
            return Err(format!(
                "{target}: {status} to {location}, which is not a member address ({}); \
                 not sending the token there",
                members.join(", ")
            ));
        }
        target = location;
    }
    Err(format!(
        "{target}: more than {MAX_REDIRECTS} redirects; ask the goose directly"
    ))
}

/// The member addresses node `url` lists in its public `/status`.
async fn member_addrs(http: &reqwest::Client, url: &str) -> Result<Vec<String>, String> {
    let mut status_url = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    status_url.set_path("/status");
    status_url.set_query(None);
    let resp = http
        .get(status_url.clone())
        .send()
        .await
        .map_err(|e| format!("{status_url}: {e}"))?;
    let text = resp
        .text()
        .await
        .map_err(|e| format!("{status_url}: {e}"))?;
    let status: Value =
        serde_json::from_str(&text).map_err(|e| format!("{status_url}: bad JSON: {e}"))?;
    Ok(status["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["addr"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// Is `location` an http(s) URL whose `host:port` is one of `members`?
fn is_member_url(location: &str, members: &[String]) -> bool {
    let Ok(url) = reqwest::Url::parse(location) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let addr = format!("{host}:{port}");
    members.contains(&addr)
}

fn expect_ok(url: &str, (status, text): (StatusCode, String)) -> Result<String, String> {
    if status.is_success() {
        Ok(text)
    } else {
        // A typed refusal prints its message, as a plain-text one prints itself.
        let reason = crate::http::ErrorBody::parse(&text).map_or(text, |r| r.message);
        Err(format!("{url}: {status}: {}", reason.trim()))
    }
}

pub async fn status(args: TargetArgs) -> Result<(), String> {
    let url = format!("{}/status", normalize(&args.url));
    let text = expect_ok(
        &url,
        send(&args.client, reqwest::Method::GET, url.clone(), None).await?,
    )?;
    print!("{text}");
    Ok(())
}

/// `duckgoose probe URL`: one GET; an error (exit 1) unless the answer is 2xx.
pub async fn probe(args: TargetArgs) -> Result<(), String> {
    let url = normalize(&args.url);
    let text = expect_ok(
        &url,
        send(&args.client, reqwest::Method::GET, url.clone(), None).await?,
    )?;
    print!("{text}");
    Ok(())
}

async fn node_status(client: &Client, url: &str) -> Result<Value, String> {
    let url = format!("{}/status", normalize(url));
    let text = expect_ok(
        &url,
        send(client, reqwest::Method::GET, url.clone(), None).await?,
    )?;
    serde_json::from_str(&text).map_err(|e| format!("{url}: bad JSON: {e}"))
}

pub async fn partition(args: PartitionArgs) -> Result<(), String> {
    for url in &args.urls {
        let block: Vec<NodeId> = if args.split.is_empty() {
            args.block.clone()
        } else {
            let status = node_status(&args.client, url).await?;
            let me = status["id"].as_u64().unwrap_or(0);
            let members: Vec<NodeId> = status["members"]
                .as_array()
                .map(|a| a.iter().filter_map(|m| m["id"].as_u64()).collect())
                .unwrap_or_default();
            if args.split.contains(&me) {
                members
                    .into_iter()
                    .filter(|id| !args.split.contains(id))
                    .collect()
            } else {
                args.split.iter().copied().filter(|&id| id != me).collect()
            }
        };
        let target = format!("{}/admin/partition", normalize(url));
        let text = expect_ok(
            &target,
            send(
                &args.client,
                reqwest::Method::POST,
                target.clone(),
                Some(json!({
                    "block": block,
                    "block_in": args.block_in,
                    "block_out": args.block_out,
                })),
            )
            .await?,
        )?;
        println!("{}: {}", label(url), text.trim());
    }
    Ok(())
}

pub async fn heal(args: HealArgs) -> Result<(), String> {
    for url in &args.urls {
        let target = format!("{}/admin/partition", normalize(url));
        let text = expect_ok(
            &target,
            send(&args.client, reqwest::Method::DELETE, target.clone(), None).await?,
        )?;
        println!("{}: {}", label(url), text.trim());
    }
    Ok(())
}

pub async fn add(args: AddArgs) -> Result<(), String> {
    let target = format!("{}/admin/members", normalize(&args.url));
    let body = json!({ "id": args.id, "addr": args.addr });
    let text = expect_ok(
        &target,
        send(
            &args.client,
            reqwest::Method::POST,
            target.clone(),
            Some(body),
        )
        .await?,
    )?;
    println!("{}", text.trim());
    Ok(())
}

pub async fn remove(args: RemoveArgs) -> Result<(), String> {
    let target = format!("{}/admin/members/{}", normalize(&args.url), args.id);
    let text = expect_ok(
        &target,
        send(&args.client, reqwest::Method::DELETE, target.clone(), None).await?,
    )?;
    println!("{}", text.trim());
    Ok(())
}

pub async fn transfer(args: TransferArgs) -> Result<(), String> {
    let target = format!("{}/admin/transfer", normalize(&args.url));
    let body = json!({ "to": args.to });
    let text = expect_ok(
        &target,
        send(
            &args.client,
            reqwest::Method::POST,
            target.clone(),
            Some(body),
        )
        .await?,
    )?;
    println!("{}", text.trim());
    Ok(())
}

pub fn inspect(args: InspectArgs) -> Result<(), String> {
    let dir = &args.data_dir;
    let path = dir.join(crate::storage::WAL_FILE);
    let snapshot_path = dir.join(crate::snapshot_file::SNAPSHOT_FILE);
    // Read-only: the node id is the WAL's, checked against the snapshot's below.
    let snapshot = if snapshot_path.exists() {
        let data = std::fs::read(&snapshot_path)
            .map_err(|e| format!("cannot read {}: {e}", snapshot_path.display()))?;
        Some(
            crate::snapshot_file::decode_snapshot(&snapshot_path, &data)
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };
    let snapshot_index = snapshot.as_ref().map_or(0, |(_, s)| s.index);
    let replayed =
        crate::storage::replay_after(&path, snapshot_index).map_err(|e| e.to_string())?;
    if let Some((owner, _)) = &snapshot
        && *owner != replayed.node_id
    {
        return Err(format!(
            "{} belongs to node {owner}, but {} to node {}",
            snapshot_path.display(),
            path.display(),
            replayed.node_id
        ));
    }
    let p = &replayed.persisted;
    let members_json = |m: &duckgoose_core::Membership| {
        m.members()
            .iter()
            .map(|m| json!({"id": m.id, "addr": m.addr}))
            .collect::<Vec<_>>()
    };
    // Entries at or below the snapshot (a WAL not yet cut) count as the snapshot's.
    let tail: Vec<_> = p.log.iter().filter(|e| e.index > snapshot_index).collect();
    let membership = tail
        .iter()
        .rev()
        .find_map(|e| match &e.command {
            Command::Config(m) => Some(members_json(m)),
            _ => None,
        })
        .or_else(|| snapshot.as_ref().map(|(_, s)| members_json(&s.membership)));
    let (last_index, last_term) = match (tail.last(), &snapshot) {
        (Some(e), _) => (e.index, e.term),
        (None, Some((_, s))) => (s.index, s.term),
        (None, None) => (0, 0),
    };
    let snapshot_json = snapshot.as_ref().map(|(_, s)| {
        json!({
            "index": s.index,
            "term": s.term,
            "members": members_json(&s.membership),
            "bytes": s.data.len(),
            "keys": duckgoose_core::Kv::decode(&s.data).ok().map(|kv| kv.len()),
        })
    });
    let mut out = json!({
        "node_id": replayed.node_id,
        "term": p.term,
        "voted_for": p.voted_for,
        "last_log_index": last_index,
        "last_log_term": last_term,
        "members": membership,
        "snapshot": snapshot_json,
        "wal_entries": p.log.len(),
        "records": replayed.records,
        "bytes": replayed.valid_len,
        "torn_tail": replayed.torn_tail.as_ref().map(|t| json!({"offset": t.offset, "bytes": t.dropped_bytes})),
    });
    if args.entries {
        out["entries"] = serde_json::to_value(&p.log).map_err(|e| e.to_string())?;
    }
    println!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};

    use super::{is_member_url, send};
    use crate::cli::Client;

    /// Serves `app` on a free loopback port; its `host:port`.
    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// A node that redirects `POST /admin/transfer` to `location` and lists `members`.
    fn redirecting(location: String, members: Vec<String>) -> Router {
        let members: Vec<_> = members
            .iter()
            .map(|a| serde_json::json!({"id": 1, "addr": a}))
            .collect();
        let status = serde_json::json!({ "members": members }).to_string();
        Router::new()
            .route(
                "/admin/transfer",
                post(move || async move {
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(header::LOCATION, location)],
                    )
                }),
            )
            .route("/status", get(move || async move { status }))
    }

    /// A goose that records the `Authorization` headers it got.
    fn recording(seen: Arc<Mutex<Vec<String>>>) -> Router {
        Router::new().route(
            "/admin/transfer",
            post(move |headers: HeaderMap| async move {
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                seen.lock().unwrap().push(auth);
                (StatusCode::OK, "{\"to\":2}").into_response()
            }),
        )
    }

    fn operator() -> Client {
        Client {
            token: Some("tok".into()),
            timeout_ms: 5000,
            tls_ca: None,
        }
    }

    #[tokio::test]
    async fn a_redirect_to_a_member_is_followed_with_the_token() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let goose = serve(recording(seen.clone())).await;
        let duck = serve(redirecting(
            format!("http://{goose}/admin/transfer"),
            vec![goose.clone()],
        ))
        .await;
        let url = format!("http://{duck}/admin/transfer");
        let body = Some(serde_json::json!({"to": 2}));
        let (status, text) = send(&operator(), reqwest::Method::POST, url, body)
            .await
            .unwrap();
        assert_eq!((status.as_u16(), text.as_str()), (200, "{\"to\":2}"));
        assert_eq!(*seen.lock().unwrap(), vec!["Bearer tok".to_string()]);
    }

    #[tokio::test]
    async fn a_redirect_elsewhere_is_an_error_and_the_token_stays_home() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stranger = serve(recording(seen.clone())).await;
        let duck = serve(redirecting(
            format!("http://{stranger}/admin/transfer"),
            vec!["127.0.0.1:1".into()],
        ))
        .await;
        let url = format!("http://{duck}/admin/transfer");
        let err = send(&operator(), reqwest::Method::POST, url, None)
            .await
            .unwrap_err();
        assert!(err.contains("not a member address"), "{err}");
        assert!(err.contains(&stranger), "names the Location: {err}");
        assert!(seen.lock().unwrap().is_empty(), "nothing reached it");
    }

    #[tokio::test]
    async fn redirects_in_a_circle_stop() {
        // A node that redirects to itself, and lists itself as a member.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let app = redirecting(format!("http://{addr}/admin/transfer"), vec![addr.clone()]);
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://{addr}/admin/transfer");
        let err = send(&operator(), reqwest::Method::POST, url, None)
            .await
            .unwrap_err();
        assert!(err.contains("more than 3 redirects"), "{err}");
    }

    #[test]
    fn the_token_follows_a_redirect_only_to_a_member_address() {
        let members = vec!["127.0.0.1:9901".to_string(), "[::1]:9902".to_string()];
        assert!(is_member_url(
            "http://127.0.0.1:9901/admin/transfer",
            &members
        ));
        assert!(is_member_url("http://[::1]:9902/admin/members/3", &members));
        for elsewhere in [
            "http://127.0.0.1:9903/admin/transfer",
            "http://evil.example:9901/admin/transfer",
            "http://127.0.0.1/admin/transfer",
            "ftp://127.0.0.1:9901/admin/transfer",
            "/admin/transfer",
            "not a url",
            "http://user@127.0.0.2:9901/",
        ] {
            assert!(!is_member_url(elsewhere, &members), "{elsewhere}");
        }
    }
}
