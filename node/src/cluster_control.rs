//! The control API of `duckgoose cluster`, for the playground's live mode: list the child
//! nodes, and crash (SIGKILL), restart, pause (SIGSTOP) or resume (SIGCONT) one.
//!
//! - `GET /nodes` (public, like a node's `/status`): `{"nodes": [{"id", "url", "pid",
//!   "state": "running" | "paused" | "exited"}]}`.
//! - `POST /nodes/{id}/crash|restart|pause|resume`: with the cluster's token (401
//!   otherwise); answers the node's new entry, or 404 (no such node), 409 (not in a state
//!   the action applies to: `wrong_state`), 400 (a malformed id).
//!
//! It listens on 127.0.0.1 only, serves HTTPS when the cluster does (same certificate),
//! and lets pages served by the cluster's nodes call it from a browser (`cors`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::cli::ClusterArgs;
use crate::cluster::{ControlError, NodeInfo, Supervisor};

struct Control {
    supervisor: Arc<Supervisor>,
    token: Option<String>,
    /// The children's addresses: pages they serve may call this API.
    node_urls: Vec<String>,
}

impl crate::cors::AllowedOrigins for Control {
    fn allows(&self, origin: &str) -> bool {
        self.node_urls.iter().any(|url| {
            url.split_once("://")
                .is_some_and(|(scheme, addr)| crate::cors::is_origin_of(origin, scheme, addr))
        })
    }
}

/// The running control server.
pub struct ControlServer {
    /// `http(s)://127.0.0.1:PORT`
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl ControlServer {
    pub fn stop(self) {
        let _ = self.stop.send(());
    }
}

/// Binds `127.0.0.1:--control-port` and serves the API in the background.
pub async fn start(
    args: &ClusterArgs,
    supervisor: Arc<Supervisor>,
) -> Result<ControlServer, String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.control_port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.control_port))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("control API address: {e}"))?
        .port();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let identity = Arc::new(crate::tls::Identity::load(cert, key)?);
            Some(crate::tls::server_config(identity, None)?)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let control = Arc::new(Control {
        node_urls: (1..=args.nodes).map(|id| supervisor.url(id)).collect(),
        supervisor,
        token: args.token.clone(),
    });
    let app = router(control);
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    match tls {
        Some(config) => {
            tokio::spawn(crate::serve::serve_tls(listener, app, config, stop_rx));
        }
        None => {
            tokio::spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await;
                if let Err(e) = served {
                    eprintln!("duckgoose cluster: control API stopped: {e}");
                }
            });
        }
    }
    Ok(ControlServer {
        url: format!("{scheme}://127.0.0.1:{port}"),
        stop,
    })
}

fn router(control: Arc<Control>) -> Router {
    Router::new()
        .route("/nodes", get(list))
        .route("/nodes/{id}/{action}", post(act))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such route\n") })
        .layer(middleware::from_fn_with_state(
            control.clone(),
            crate::cors::cors::<Control>,
        ))
        .with_state(control)
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

async fn list(State(control): State<Arc<Control>>) -> Response {
    let nodes = control.supervisor.list().await;
    json_response(StatusCode::OK, json!({ "nodes": nodes }))
}

async fn act(
    State(control): State<Arc<Control>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = &control.token
        && !crate::http::bearer_matches(&headers, token)
    {
        return crate::http::unauthorized();
    }
    let Some(id) = id.parse::<u64>().ok().filter(|&id| id > 0) else {
        return (
            StatusCode::BAD_REQUEST,
            format!("node ids are positive integers, got {id:?}\n"),
        )
            .into_response();
    };
    let sup = &control.supervisor;
    let done = match action.as_str() {
        "crash" => sup.crash(id).await,
        "restart" => sup.restart(id).await,
        "pause" => sup.pause(id).await,
        "resume" => sup.resume(id).await,
        other => {
            return (
                StatusCode::NOT_FOUND,
                format!("no action {other:?}: crash, restart, pause or resume\n"),
            )
                .into_response();
        }
    };
    answer(done)
}

fn answer(done: Result<NodeInfo, ControlError>) -> Response {
    let (status, code) = match &done {
        Ok(info) => return json_response(StatusCode::OK, json!(info)),
        Err(ControlError::NoSuchNode(_)) => (StatusCode::NOT_FOUND, "no_such_node"),
        Err(ControlError::WrongState { .. }) => (StatusCode::CONFLICT, "wrong_state"),
        Err(ControlError::Failed(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "failed"),
    };
    let message = done.err().map(|e| e.to_string()).unwrap_or_default();
    json_response(status, json!({ "error": code, "message": message }))
}
