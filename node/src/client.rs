//! The operator commands: thin wrappers over the HTTP API.

use std::time::Duration;

use duckgoose_core::{Command, NodeId};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli::{
    AddArgs, Client, FindGooseArgs, HealArgs, InspectArgs, PartitionArgs, RemoveArgs, TargetArgs,
    TransferArgs,
};

/// A client for the operator commands; `tls_ca` verifies nodes' certificates.
pub fn http_client(
    timeout: Duration,
    tls_ca: Option<&std::path::Path>,
) -> Result<reqwest::Client, String> {
    crate::tls::ClientTls::from_ca_file(tls_ca)?
        .builder()
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
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
                    Err(_) => "down".to_string(),
                },
                Ok(r) => format!("error {}", r.status()),
                Err(_) => "down".to_string(),
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
    let mut req = http.request(method, &url);
    if let Some(token) = &client.token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("{url}: {e}"))?;
    Ok((status, text))
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
    let path = args.data_dir.join(crate::storage::WAL_FILE);
    let replayed = crate::storage::replay(&path).map_err(|e| e.to_string())?;
    let p = &replayed.persisted;
    let membership = p.log.iter().rev().find_map(|e| match &e.command {
        Command::Config(m) => Some(
            m.members()
                .iter()
                .map(|m| json!({"id": m.id, "addr": m.addr}))
                .collect::<Vec<_>>(),
        ),
        _ => None,
    });
    let mut out = json!({
        "node_id": replayed.node_id,
        "term": p.term,
        "voted_for": p.voted_for,
        "last_log_index": p.log.len(),
        "last_log_term": p.log.last().map_or(0, |e| e.term),
        "members": membership,
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
