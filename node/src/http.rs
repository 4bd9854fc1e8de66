//! The HTTP API: public read-only routes, the key-value store, admin routes and the peer
//! route. Every handler turns bad input into a 4xx with a reason; nothing here panics.
//!
//! A duck redirects key-value requests to the goose (`307`; clients follow with their own
//! credentials) but forwards the admin requests only the goose serves (add, remove,
//! transfer) itself, with the cluster's token: an HTTP client drops `Authorization` on a
//! redirect to another origin, so a secured `307` could never succeed.

// Helpers return a ready-made error response; its size does not matter on that path.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, Request as HttpRequest, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use duckgoose_core::{
    DuckReason, Member, NodeId, Op, Output, ProposeError, Reply, Request, RequestError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::bodies;
use crate::goose_queries::{GooseAnswer, GooseQueries};
use crate::runtime::{self, CallError, Input, Shared};

pub use crate::bodies::{MAX_KEY_BYTES, valid_addr};

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest body on client and admin routes (413 above it).
    pub client_body: usize,
    /// Largest body on the peer route.
    pub peer_body: usize,
}

type App = Arc<Shared>;

/// On an admin request a duck forwards: the forwarding node's id. Whoever receives it
/// and is not the goose refuses rather than forwarding again, so requests never loop.
pub const FORWARDED_BY: &str = "duckgoose-forwarded-by";
/// On the answer to a forwarded admin request: the id of the goose that gave it.
pub const FORWARDED_TO: &str = "duckgoose-forwarded-to";
/// How much longer than the goose's own request timeout a forwarding duck waits.
const FORWARD_MARGIN: Duration = Duration::from_secs(2);

/// The HTTP client a duck forwards admin requests to the goose with.
#[derive(Clone)]
struct Forwarder(reqwest::Client);

pub fn router(shared: App, limits: Limits) -> Router {
    let auth = middleware::from_fn_with_state(shared.clone(), require_token);
    let public = Router::new()
        .route("/role", get(role))
        .route("/goose", get(goose))
        .route("/goose/watch", get(crate::watch::stream))
        .route("/readyz", get(crate::health::readyz))
        .route("/livez", get(crate::health::livez))
        .route("/status", get(status))
        .route("/metrics", get(metrics));
    let protected = Router::new()
        .route("/kv/{key}", get(kv_get).put(kv_put).delete(kv_delete))
        .route("/kv/{key}/cas", post(kv_cas))
        .route("/admin/partition", post(partition).delete(heal))
        .route("/admin/members", post(add_member))
        .route("/admin/members/{id}", delete(remove_member))
        .route("/admin/transfer", post(transfer))
        .layer(Extension(Forwarder(shared.transport.peer_client.clone())))
        .layer(DefaultBodyLimit::max(limits.client_body))
        .route_layer(auth.clone());
    let peer = Router::new()
        .route("/raft/messages", post(peer_messages))
        .route(crate::peer_stream::PATH, get(crate::peer_stream::accept))
        .layer(Extension(crate::peer_stream::FrameLimit(limits.peer_body)))
        .layer(DefaultBodyLimit::max(limits.peer_body))
        .route_layer(auth)
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_client_cert,
        ));
    public
        .merge(protected)
        .merge(peer)
        .merge(crate::playground::routes())
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such route\n") })
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            crate::cors::cors::<Shared>,
        ))
        .with_state(shared)
}

/// A page served by any member may call this node from a browser (live mode).
impl crate::cors::AllowedOrigins for Shared {
    fn allows(&self, origin: &str) -> bool {
        let scheme = self.transport.scheme();
        crate::cors::is_origin_of(origin, scheme, &self.advertise)
            || self
                .addresses
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .any(|addr| crate::cors::is_origin_of(origin, scheme, addr))
    }
}

// ---- Security ----------------------------------------------------------------------

/// With a token set, the request must carry `Authorization: Bearer <token>`.
async fn require_token(State(shared): State<App>, req: HttpRequest, next: Next) -> Response {
    match &shared.token {
        Some(token) if !bearer_matches(req.headers(), token) => unauthorized(),
        _ => next.run(req).await,
    }
}

/// The request carries `Authorization: Bearer <token>`.
pub(crate) fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

/// 401 for a missing or wrong token.
pub(crate) fn unauthorized() -> Response {
    let mut resp = (StatusCode::UNAUTHORIZED, "missing or wrong bearer token\n").into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// Under mutual TLS, peer routes serve only connections that presented a certificate the
/// cluster's CA signed (the client API also serves clients without one).
async fn require_client_cert(State(shared): State<App>, req: HttpRequest, next: Next) -> Response {
    if !shared.transport.require_client_cert {
        return next.run(req).await;
    }
    let cert = req.extensions().get::<crate::tls::ClientCert>().copied();
    if cert.is_some_and(|c| c.verified) {
        return next.run(req).await;
    }
    coded(
        StatusCode::FORBIDDEN,
        ErrorCode::ClientCertRequired,
        "peer routes need a client certificate signed by the cluster's CA (--tls-ca)",
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---- Errors --------------------------------------------------------------------------

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut body = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    (status, body).into_response()
}

/// What a refusal that code acts on is: the `error` field of its JSON body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// `409`: the id to add is already a member.
    AlreadyMember,
    /// `409`: another membership change is in flight.
    ChangeInProgress,
    /// `404`: the id to remove is not a member.
    NotMember,
    /// `503`: this node is not the goose and the request was already forwarded once, so
    /// it is not forwarded again. The message names the goose this node knows of.
    NotLeader,
    /// `502`: a duck could not reach the goose to forward an admin request to it, or
    /// lost the connection before the answer.
    GooseUnreachable,
    /// `504`: the goose did not answer a forwarded admin request in time; it may or may
    /// not take effect.
    GooseTimeout,
    /// `403`: a peer route under mutual TLS, on a connection without a verified client
    /// certificate.
    ClientCertRequired,
}

/// The body of a typed refusal: `{"error": "already_member", "message": "…"}`. The
/// message is for people; code matches on `error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    /// Parses a response body; `None` when it is not a typed refusal.
    pub fn parse(body: &str) -> Option<ErrorBody> {
        serde_json::from_str(body).ok()
    }
}

fn coded(status: StatusCode, error: ErrorCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error,
        message: message.into(),
    };
    let json = serde_json::to_string(&body).unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{json}\n"),
    )
        .into_response()
}

fn call_error(e: CallError) -> Response {
    match e {
        CallError::Overloaded => text(StatusCode::SERVICE_UNAVAILABLE, "overloaded; retry"),
        CallError::ShuttingDown => text(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        CallError::Abandoned => text(
            StatusCode::GATEWAY_TIMEOUT,
            "the node stopped before the outcome was known; the request may or may not take \
             effect",
        ),
    }
}

fn redirect(shared: &Shared, leader: NodeId, uri: &Uri) -> Option<Response> {
    let addr = shared.address_of(leader)?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("{}://{addr}{path}", shared.transport.scheme());
    let value = HeaderValue::from_str(&location).ok()?;
    let mut resp = text(
        StatusCode::TEMPORARY_REDIRECT,
        format!("duck; the goose is node {leader} at {location}"),
    );
    resp.headers_mut().insert(header::LOCATION, value);
    Some(resp)
}

/// Maps a request the replica refused. `admin` picks 421 over 503 for a duck that knows
/// no goose.
fn request_error(shared: &Shared, err: RequestError, uri: &Uri, admin: bool) -> Response {
    match err {
        RequestError::NotLeader { leader: Some(l) } => redirect(shared, l, uri)
            .unwrap_or_else(|| no_goose(admin, &format!("duck; goose {l} has no known address"))),
        RequestError::NotLeader { leader: None }
        | RequestError::Unconfirmed(DuckReason::NotLeader { leader: None }) => {
            no_goose(admin, "duck; no goose known")
        }
        RequestError::Unconfirmed(DuckReason::NotLeader { leader: Some(l) }) => {
            redirect(shared, l, uri).unwrap_or_else(|| no_goose(admin, "duck"))
        }
        RequestError::Refused(ProposeError::ChangeInProgress) => coded(
            StatusCode::CONFLICT,
            ErrorCode::ChangeInProgress,
            "another membership change is in flight; retry after it commits",
        ),
        RequestError::Refused(ProposeError::AlreadyMember { id }) => coded(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyMember,
            format!("{id} is already a member"),
        ),
        RequestError::Refused(ProposeError::NotMember { id }) => coded(
            StatusCode::NOT_FOUND,
            ErrorCode::NotMember,
            format!("{id} is not a member"),
        ),
        RequestError::Refused(e @ ProposeError::WouldEmptyCluster) => {
            text(StatusCode::BAD_REQUEST, e.to_string())
        }
        RequestError::Refused(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}; retry")),
        RequestError::Unconfirmed(reason) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("could not confirm leadership: {reason}; retry"),
        ),
        RequestError::Overwritten => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "lost to a newer goose's entry; not applied; retry",
        ),
        RequestError::Timeout => text(
            StatusCode::GATEWAY_TIMEOUT,
            "timed out; the request may or may not take effect",
        ),
    }
}

fn no_goose(admin: bool, why: &str) -> Response {
    if admin {
        text(StatusCode::MISDIRECTED_REQUEST, why)
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, why)
    }
}

fn unexpected(reply: Reply) -> Response {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("unexpected reply {reply:?}"),
    )
}

fn bad_request(reason: String) -> Response {
    text(StatusCode::BAD_REQUEST, reason)
}

// ---- Goose ---------------------------------------------------------------------------

/// Asks the core's goose query (batched with concurrent askers, see `goose_queries`).
/// `Ok(term)` for goose, `Err(reason)` for duck.
async fn ask_goose(shared: &App) -> Result<Result<u64, String>, Response> {
    let answer = if shared.is_stopping() {
        Ok(Err("stepping down: this node is stopping".into()))
    } else {
        let _place = runtime::InflightGuard::acquire(shared).map_err(call_error)?;
        match GooseQueries::ask(shared).await {
            GooseAnswer::Goose { term } => Ok(Ok(term)),
            GooseAnswer::Duck { reason } => Ok(Err(reason)),
            GooseAnswer::Failed(e) => Err(call_error(e)),
        }
    };
    if let Ok(a) = &answer {
        shared.metrics.count_goose_answer(a.is_ok());
    }
    answer
}

fn goose_response(
    ok_status: StatusCode,
    duck_status: StatusCode,
    answer: Result<u64, String>,
) -> Response {
    match answer {
        Ok(term) => {
            let mut resp = (ok_status, "goose").into_response();
            resp.headers_mut()
                .insert("x-duckgoose-term", HeaderValue::from(term));
            crate::fence::stamp(&mut resp, term);
            resp
        }
        Err(reason) => {
            let mut resp = (duck_status, "duck").into_response();
            if let Ok(v) = HeaderValue::from_str(&reason) {
                resp.headers_mut().insert("x-duckgoose-reason", v);
            }
            resp
        }
    }
}

async fn role(State(shared): State<App>) -> Response {
    match ask_goose(&shared).await {
        Ok(answer) => goose_response(StatusCode::OK, StatusCode::OK, answer),
        Err(resp) => resp,
    }
}

/// `GET /goose`; with `wait` or `after`, a blocking query (see `watch::long_poll`).
async fn goose(
    State(shared): State<App>,
    query: Result<Query<crate::watch::WaitQuery>, QueryRejection>,
) -> Response {
    match query {
        Ok(Query(q)) if q.is_blocking() => return crate::watch::long_poll(&shared, q).await,
        Ok(_) => {}
        Err(e) => return bad_request(e.body_text()),
    }
    match ask_goose(&shared).await {
        Ok(answer) => goose_response(StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE, answer),
        Err(resp) => resp,
    }
}

async fn status(State(shared): State<App>) -> Response {
    let answer = match ask_goose(&shared).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let status = match runtime::status_of(&shared).await {
        Ok(s) => s,
        Err(e) => return call_error(e),
    };
    let mut value = match serde_json::to_value(&status) {
        Ok(v) => v,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    value["role"] = json!(if answer.is_ok() { "goose" } else { "duck" });
    if let Ok(term) = answer {
        value["goose_term"] = json!(term);
        value["fence"] = json!(term);
    }
    if let Some(control) = &shared.cluster_control {
        value["cluster_control"] = json!(control);
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

async fn metrics(State(shared): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}

// ---- Key-value store -------------------------------------------------------------------

fn check_key(key: &str) -> Result<(), Response> {
    bodies::check_key(key).map_err(bad_request)
}

async fn kv_get(State(shared): State<App>, Path(key): Path<String>, uri: Uri) -> Response {
    if let Err(r) = check_key(&key) {
        return r;
    }
    match runtime::call(&shared, Request::Kv(Op::Get { key })).await {
        Ok(Ok(Reply::Kv(Output::Value(Some(v))))) => (StatusCode::OK, v).into_response(),
        Ok(Ok(Reply::Kv(Output::Value(None)))) => text(StatusCode::NOT_FOUND, "no such key"),
        Ok(Ok(other)) => unexpected(other),
        Ok(Err(e)) => request_error(&shared, e, &uri, false),
        Err(e) => call_error(e),
    }
}

async fn kv_put(
    State(shared): State<App>,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_key(&key) {
        return r;
    }
    let value = match bodies::value(&body) {
        Ok(v) => v,
        Err(reason) => return bad_request(reason),
    };
    let op = match crate::fence::guard(&headers, Op::Put { key, value }) {
        Ok(op) => op,
        Err(resp) => return resp,
    };
    match runtime::call(&shared, Request::Kv(op)).await {
        Ok(Ok(Reply::Kv(Output::Written))) => text(StatusCode::OK, "ok"),
        Ok(Ok(Reply::Kv(Output::StaleFence { fence, term }))) => crate::fence::refused(fence, term),
        Ok(Ok(other)) => unexpected(other),
        Ok(Err(e)) => request_error(&shared, e, &uri, false),
        Err(e) => call_error(e),
    }
}

async fn kv_delete(
    State(shared): State<App>,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_key(&key) {
        return r;
    }
    let op = match crate::fence::guard(&headers, Op::Delete { key }) {
        Ok(op) => op,
        Err(resp) => return resp,
    };
    match runtime::call(&shared, Request::Kv(op)).await {
        Ok(Ok(Reply::Kv(Output::Written))) => text(StatusCode::OK, "ok"),
        Ok(Ok(Reply::Kv(Output::StaleFence { fence, term }))) => crate::fence::refused(fence, term),
        Ok(Ok(other)) => unexpected(other),
        Ok(Err(e)) => request_error(&shared, e, &uri, false),
        Err(e) => call_error(e),
    }
}

/// `POST /kv/{key}/cas` with `{"expected": null | "v", "value": "w"}`: sets `value` iff
/// the key currently holds `expected` (`null`: the key is absent). 200 `{"swapped": bool}`.
async fn kv_cas(
    State(shared): State<App>,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_key(&key) {
        return r;
    }
    let bodies::Cas { expected, value } = match bodies::cas(&body) {
        Ok(c) => c,
        Err(reason) => return bad_request(reason),
    };
    let cas = Op::Cas {
        key,
        expected,
        value,
    };
    let op = match crate::fence::guard(&headers, cas) {
        Ok(op) => op,
        Err(resp) => return resp,
    };
    match runtime::call(&shared, Request::Kv(op)).await {
        Ok(Ok(Reply::Kv(Output::Cas { swapped }))) => json_ok(json!({ "swapped": swapped })),
        Ok(Ok(Reply::Kv(Output::StaleFence { fence, term }))) => crate::fence::refused(fence, term),
        Ok(Ok(other)) => unexpected(other),
        Ok(Err(e)) => request_error(&shared, e, &uri, false),
        Err(e) => call_error(e),
    }
}

// ---- Admin ---------------------------------------------------------------------------

fn blocked_json(blocked: &runtime::Blocked) -> Response {
    json_ok(json!({
        "blocked": blocked.both(),
        "blocked_in": blocked.inbound,
        "blocked_out": blocked.outbound,
    }))
}

async fn partition(State(shared): State<App>, body: Bytes) -> Response {
    let new = match bodies::partition(&body, shared.id) {
        Ok(b) => b,
        Err(reason) => return bad_request(reason),
    };
    *shared.blocked.write().unwrap_or_else(|e| e.into_inner()) = new.clone();
    tracing::info!(
        node = shared.id,
        inbound = ?new.inbound,
        outbound = ?new.outbound,
        "partition: dropping Raft traffic"
    );
    blocked_json(&new)
}

async fn heal(State(shared): State<App>) -> Response {
    *shared.blocked.write().unwrap_or_else(|e| e.into_inner()) = runtime::Blocked::default();
    tracing::info!(node = shared.id, "partition healed");
    blocked_json(&runtime::Blocked::default())
}

fn json_ok(value: serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

fn membership_json(reply: Reply) -> Response {
    match reply {
        Reply::MembershipChanged { index, membership } => {
            let members: Vec<_> = membership
                .members()
                .iter()
                .map(|m| json!({"id": m.id, "addr": m.addr}))
                .collect();
            json_ok(json!({ "index": index, "members": members }))
        }
        other => unexpected(other),
    }
}

/// An admin request as it arrived, kept so a duck can forward it to the goose.
struct AdminRequest {
    method: Method,
    uri: Uri,
    /// It carries [`FORWARDED_BY`]: a duck already forwarded it here.
    forwarded: bool,
    body: Bytes,
}

impl AdminRequest {
    fn new(method: Method, uri: Uri, headers: &HeaderMap, body: Bytes) -> AdminRequest {
        AdminRequest {
            method,
            uri,
            forwarded: headers.contains_key(FORWARDED_BY),
            body,
        }
    }
}

async fn add_member(
    State(shared): State<App>,
    Extension(forwarder): Extension<Forwarder>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (id, addr) = match bodies::add_member(&body) {
        Ok(b) => b,
        Err(reason) => return bad_request(reason),
    };
    let forward = AdminRequest::new(Method::POST, uri, &headers, body);
    let request = Request::AddMember(Member::new(id, addr));
    admin_call(&shared, &forwarder, request, forward, membership_json).await
}

async fn remove_member(
    State(shared): State<App>,
    Extension(forwarder): Extension<Forwarder>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let id = match bodies::member_id(&id) {
        Ok(id) => id,
        Err(reason) => return bad_request(reason),
    };
    let forward = AdminRequest::new(Method::DELETE, uri, &headers, Bytes::new());
    admin_call(
        &shared,
        &forwarder,
        Request::RemoveMember(id),
        forward,
        membership_json,
    )
    .await
}

async fn transfer(
    State(shared): State<App>,
    Extension(forwarder): Extension<Forwarder>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let to = match bodies::transfer(&body) {
        Ok(to) => to,
        Err(reason) => return bad_request(reason),
    };
    let forward = AdminRequest::new(Method::POST, uri, &headers, body);
    admin_call(
        &shared,
        &forwarder,
        Request::Transfer { to },
        forward,
        |reply| match reply {
            Reply::Transferred { to, term } => json_ok(json!({ "to": to, "term": term })),
            other => unexpected(other),
        },
    )
    .await
}

/// Runs an admin request here; a refusal goes to [`admin_refusal`], which may forward
/// `forward` (the same request as received) to the goose.
async fn admin_call(
    shared: &Shared,
    forwarder: &Forwarder,
    request: Request,
    forward: AdminRequest,
    answer: impl FnOnce(Reply) -> Response,
) -> Response {
    match runtime::call(shared, request).await {
        Ok(Ok(reply)) => answer(reply),
        Ok(Err(e)) => admin_refusal(shared, forwarder, e, forward).await,
        Err(e) => call_error(e),
    }
}

// ---- Forwarding --------------------------------------------------------------------

/// The goose a refusal names, when it is "not the leader, try `l`".
fn named_goose(err: &RequestError) -> Option<NodeId> {
    match err {
        RequestError::NotLeader { leader: Some(l) }
        | RequestError::Unconfirmed(DuckReason::NotLeader { leader: Some(l) }) => Some(*l),
        _ => None,
    }
}

/// Answers an admin request the replica refused. A duck that knows the goose's address
/// forwards the request there, unless it was forwarded here already.
async fn admin_refusal(
    shared: &Shared,
    forwarder: &Forwarder,
    err: RequestError,
    request: AdminRequest,
) -> Response {
    let Some(leader) = named_goose(&err).filter(|&l| l != shared.id) else {
        return request_error(shared, err, &request.uri, true);
    };
    if request.forwarded {
        return not_forwarded_again(shared.id, leader);
    }
    match shared.address_of(leader) {
        Some(addr) => forward(shared, forwarder, leader, &addr, request).await,
        None => request_error(shared, err, &request.uri, true),
    }
}

fn not_forwarded_again(me: NodeId, leader: NodeId) -> Response {
    coded(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotLeader,
        format!(
            "node {me} is not the goose (it knows node {leader} as the goose) and does not \
             forward a request another node forwarded; retry"
        ),
    )
}

/// Sends `request` to the goose with this node's token and returns the goose's status
/// and body unchanged, marked with [`FORWARDED_TO`].
async fn forward(
    shared: &Shared,
    forwarder: &Forwarder,
    leader: NodeId,
    addr: &str,
    request: AdminRequest,
) -> Response {
    let path = request.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}://{addr}{path}", shared.transport.scheme());
    let wait = shared.request_timeout + FORWARD_MARGIN;
    let mut out = forwarder
        .0
        .request(request.method, &url)
        .timeout(wait)
        .header(FORWARDED_BY, shared.id);
    if let Some(token) = &shared.token {
        out = out.bearer_auth(token);
    }
    if !request.body.is_empty() {
        out = out
            .header(header::CONTENT_TYPE, "application/json")
            .body(request.body);
    }
    tracing::debug!(node = shared.id, leader, %url, "forwarding an admin request to the goose");
    let answer = match out.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
            resp.bytes().await.map(|body| (status, content_type, body))
        }
        Err(e) => Err(e),
    };
    let (status, content_type, body) = match answer {
        Ok(a) => a,
        Err(e) => return forward_failed(leader, addr, wait, &e),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = (status, body).into_response();
    if let Some(ct) = content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp.headers_mut()
        .insert(FORWARDED_TO, HeaderValue::from(leader));
    resp
}

fn forward_failed(leader: NodeId, addr: &str, wait: Duration, e: &reqwest::Error) -> Response {
    if e.is_connect() {
        coded(
            StatusCode::BAD_GATEWAY,
            ErrorCode::GooseUnreachable,
            format!(
                "duck; cannot reach goose {leader} at {addr} to forward to it: {e}; nothing was done; retry"
            ),
        )
    } else if e.is_timeout() {
        coded(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::GooseTimeout,
            format!(
                "duck; goose {leader} at {addr} did not answer within {} ms; the request may or \
                 may not take effect",
                wait.as_millis()
            ),
        )
    } else {
        coded(
            StatusCode::BAD_GATEWAY,
            ErrorCode::GooseUnreachable,
            format!(
                "duck; lost goose {leader} at {addr} while forwarding to it: {e}; the request \
                 may or may not take effect"
            ),
        )
    }
}

// ---- Peers ---------------------------------------------------------------------------

async fn peer_messages(State(shared): State<App>, body: Bytes) -> Response {
    let batch = match bodies::peer_batch(&body, shared.id) {
        Ok(b) => b,
        Err(reason) => return bad_request(reason),
    };
    if shared.is_blocked_in(batch.from) {
        // Partitioned: the traffic is lost, as on a cut link.
        shared
            .metrics
            .peer_messages_dropped
            .inc_by(batch.messages.len() as u64);
        return StatusCode::NO_CONTENT.into_response();
    }
    match shared.inputs.try_send(Input::Peer {
        from: batch.from,
        addr: batch.addr,
        messages: batch.messages,
    }) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
    }
}
