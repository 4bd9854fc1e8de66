//! # duckgoose-client
//!
//! An async client for a Duck Duck Goose cluster: ask whether a node is the goose, get
//! the current goose's **fence**, watch a node's goose state as a [`Stream`], and use the
//! replicated key-value store with writes **fenced** by a leadership.
//!
//! ## The fence
//!
//! Every goose answer carries a fencing token, the goose's Raft term, which strictly
//! increases from one leadership to the next. A program that acts only while its node is
//! the goose stamps each write with the fence it was given ([`Client::put`] and friends
//! take an `Option<Fence>`; on the wire, `If-Fence: F`). The cluster checks the fence
//! when it applies the write, in log order: a write whose fence names an older
//! leadership is refused with [`Error::StaleFence`], even when it arrives at the new goose
//! through a redirect or was delayed for seconds. So a paused or partitioned ex-goose's
//! program cannot overwrite the work of its successor.
//!
//! ## Redirects and the token
//!
//! A duck answers key-value requests with a `307` to the goose. HTTP clients drop
//! `Authorization` on a redirect to another origin, so this client follows redirects
//! itself and sends the token on only to cluster members: the addresses given to the
//! [`Builder`] and those the redirecting node lists in its `/status`. A redirect anywhere
//! else is [`Error::UntrustedRedirect`].
//!
//! ## Example
//!
//! ```no_run
//! use duckgoose_client::{Client, Error};
//! use futures_util::StreamExt;
//!
//! # async fn run() -> Result<(), Error> {
//! let client = Client::builder()
//!     .member("http://127.0.0.1:9901")
//!     .member("http://127.0.0.1:9902")
//!     .token("s3cret")
//!     .build()?;
//!
//! // Act only while the local node is the goose, fencing every write.
//! let mut watch = client.watch("http://127.0.0.1:9901");
//! while let Some(event) = watch.next().await {
//!     let Ok(state) = event else { continue }; // disconnected: not known to be goose
//!     let Some(fence) = state.fence.filter(|_| state.goose) else { continue };
//!     match client.put("job/owner", "worker-1", Some(fence)).await {
//!         Ok(()) => {}
//!         Err(Error::StaleFence { .. }) => continue, // a newer goose exists: stop
//!         Err(e) => eprintln!("{e}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `examples/singleton-worker` in the repository is a complete program built this way.
//!
//! [`Stream`]: futures_util::Stream

#![forbid(unsafe_code)]

mod error;
pub mod members;
pub mod sse;
pub mod tls;
mod watch;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

pub use crate::error::Error;
pub use crate::watch::GooseWatch;

/// The response header every goose answer carries: the fence of its leadership.
pub const FENCE_HEADER: &str = "duckgoose-fence";
/// The request header that makes a write take effect only in the leadership it names.
pub const IF_FENCE_HEADER: &str = "if-fence";
/// Redirects followed at most for one request.
pub const MAX_REDIRECTS: usize = 3;

/// A fencing token: the term of one leadership. Larger is newer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fence(pub u64);

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a node says about itself: one event of [`Client::watch`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GooseState {
    /// The node is the goose, confirmed by a quorum.
    pub goose: bool,
    /// The node's id.
    pub node: u64,
    /// The node's current term.
    pub term: u64,
    /// The fence to stamp writes with, when `goose`.
    pub fence: Option<Fence>,
    /// The goose this node knows of, if any.
    pub leader: Option<u64>,
}

/// Builds a [`Client`].
#[derive(Clone, Debug)]
pub struct Builder {
    members: Vec<String>,
    token: Option<String>,
    tls_ca: Option<PathBuf>,
    timeout: Duration,
    connect_timeout: Duration,
    watch_idle: Duration,
    watch_poll: Duration,
    backoff: (Duration, Duration),
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            members: Vec::new(),
            token: None,
            tls_ca: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            watch_idle: Duration::from_secs(30),
            watch_poll: Duration::from_millis(200),
            backoff: (Duration::from_millis(50), Duration::from_secs(2)),
        }
    }
}

impl Builder {
    /// Adds a member's address: `http(s)://host:port`, or `host:port` (https when a CA
    /// is set). Requests go to the members in turn until one takes them.
    pub fn member(mut self, url: impl Into<String>) -> Self {
        self.members.push(url.into());
        self
    }

    /// Adds several members (see [`Builder::member`]).
    pub fn members<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.members.extend(urls.into_iter().map(Into::into));
        self
    }

    /// The cluster's bearer token, sent on key-value requests (and watches) to members.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// A PEM file with the CA that signs the nodes' certificates (the nodes'
    /// `--tls-ca`). Without one, https servers are verified against the platform roots.
    pub fn tls_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca = Some(path.into());
        self
    }

    /// How long one request may take, answer included (default 10 s). Past it, a write's
    /// outcome is [`Error::OutcomeUnknown`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long making a connection may take (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A watch that receives nothing, not even a keepalive, for this long counts as
    /// broken and reconnects (default 30 s).
    pub fn watch_idle_timeout(mut self, idle: Duration) -> Self {
        self.watch_idle = idle;
        self
    }

    /// How often a watch polls `/status` on a node without `/goose/watch` (default
    /// 200 ms).
    pub fn watch_poll_interval(mut self, every: Duration) -> Self {
        self.watch_poll = every;
        self
    }

    /// A watch's reconnect delay: it starts at `first` and doubles up to `max` while
    /// attempts fail (default 50 ms to 2 s).
    pub fn watch_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = (first, max.max(first));
        self
    }

    /// The client. Fails on no member, a malformed address or an unreadable CA file.
    pub fn build(self) -> Result<Client, Error> {
        if self.members.is_empty() {
            return Err(Error::Config("no member address given".into()));
        }
        let scheme = if self.tls_ca.is_some() {
            "https"
        } else {
            "http"
        };
        let mut members = Vec::new();
        for m in &self.members {
            let url = members::normalize_with(m, scheme);
            if members::host_port(&url).is_none() {
                return Err(Error::Config(format!(
                    "{m:?} is not an http(s) address of a node"
                )));
            }
            if !members.contains(&url) {
                members.push(url);
            }
        }
        let http = tls::builder(self.tls_ca.as_deref())
            .map_err(Error::Config)?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                scheme,
                members,
                token: self.token,
                timeout: self.timeout,
                watch_idle: self.watch_idle,
                watch_poll: self.watch_poll,
                backoff: self.backoff,
                goose_hint: Mutex::new(None),
            }),
        })
    }
}

/// A client of one cluster. Cheap to clone (clones share connections).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// No overall timeout (watches are long); each request sets its own.
    http: reqwest::Client,
    /// For bare addresses: `https` when a CA was given.
    scheme: &'static str,
    /// Normalized base URLs, as given.
    members: Vec<String>,
    token: Option<String>,
    timeout: Duration,
    watch_idle: Duration,
    watch_poll: Duration,
    backoff: (Duration, Duration),
    /// The base URL that last took a key-value request: asked first next time.
    goose_hint: Mutex<Option<String>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("members", &self.inner.members)
            .field("token", &self.inner.token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// A node's answer, read whole.
struct Answer {
    /// The URL that gave it (after redirects).
    url: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    /// The body's human-readable reason: a typed refusal's `message`, or the text.
    fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_else(|| self.body.trim().to_string())
    }
}

/// A key-value request: what is sent, and with which fence.
struct KvRequest {
    method: Method,
    path: String,
    body: Option<(String, &'static str)>,
    fence: Option<Fence>,
}

impl Client {
    /// Starts a [`Builder`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The member base URLs this client was given, normalized.
    pub fn members(&self) -> &[String] {
        &self.inner.members
    }

    fn base(&self, node: &str) -> String {
        members::normalize_with(node, self.inner.scheme)
    }

    // ---- Goose -----------------------------------------------------------------------

    /// Asks `node` (a URL or `host:port`) whether it is the goose right now, confirmed
    /// by a quorum: its fence if so, `None` if it is a duck.
    pub async fn goose_fence(&self, node: &str) -> Result<Option<Fence>, Error> {
        let url = format!("{}/goose", self.base(node));
        let answer = self.get_public(&url).await?;
        match answer.status {
            StatusCode::OK => fence_header(&answer).map(Some),
            StatusCode::SERVICE_UNAVAILABLE if answer.body.trim() == "duck" => Ok(None),
            _ => Err(unexpected(answer)),
        }
    }

    /// Is `node` (a URL or `host:port`) the goose right now, confirmed by a quorum?
    pub async fn is_goose(&self, node: &str) -> Result<bool, Error> {
        Ok(self.goose_fence(node).await?.is_some())
    }

    /// The current goose's fence: every member is asked (the configured ones and those
    /// they list), and the goose's answer wins. [`Error::NoGoose`] when none says goose.
    pub async fn fence(&self) -> Result<Fence, Error> {
        let mut nodes = self.inner.members.clone();
        for base in &self.inner.members {
            if let Ok(addrs) = self.member_addrs(base).await {
                for addr in addrs {
                    let url = self.base(&addr);
                    if !nodes.contains(&url) {
                        nodes.push(url);
                    }
                }
                break;
            }
        }
        let asks = nodes.iter().map(|n| self.goose_fence(n));
        let answers = futures_util::future::join_all(asks).await;
        let mut best: Option<Fence> = None;
        let mut last_error = None;
        for (node, answer) in nodes.iter().zip(answers) {
            match answer {
                Ok(Some(fence)) => {
                    // Two geese answering at once is possible only across a leadership
                    // change: the newer one is the goose.
                    best = best.max(Some(fence));
                    *self.hint() = Some(node.clone());
                }
                Ok(None) => {}
                Err(e) => last_error = Some(e),
            }
        }
        best.ok_or_else(|| Error::NoGoose {
            message: match last_error {
                Some(e) => format!("no member answered goose (last error: {e})"),
                None => "no member answered goose".into(),
            },
        })
    }

    /// Watches `node` (a URL or `host:port`): a stream of its [`GooseState`], one item per
    /// change, first the state at connection time. It never ends; drop it to stop.
    ///
    /// An `Err` item means the watch lost the node (refused, broken, silent past the idle
    /// timeout, or a malformed event): until the next `Ok`, the node is **not known to
    /// be the goose**, and a program acting as the goose's must stop. The stream then
    /// reconnects by itself, with backoff, and the new stream's first item is the node's
    /// answer again, changed or not. A node without `GET /goose/watch` is polled on
    /// `/status`.
    pub fn watch(&self, node: &str) -> GooseWatch {
        watch::watch(self.clone(), self.base(node))
    }

    // ---- Key-value store -------------------------------------------------------------

    /// Reads `key` from the goose: `None` when absent.
    pub async fn get(&self, key: &str) -> Result<Option<String>, Error> {
        let answer = self
            .kv(KvRequest {
                method: Method::GET,
                path: kv_path(key),
                body: None,
                fence: None,
            })
            .await?;
        match answer.status {
            StatusCode::OK => Ok(Some(answer.body)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(kv_error(answer)),
        }
    }

    /// Sets `key` to `value` once committed; with a fence, only in that leadership.
    pub async fn put(&self, key: &str, value: &str, fence: Option<Fence>) -> Result<(), Error> {
        let answer = self
            .kv(KvRequest {
                method: Method::PUT,
                path: kv_path(key),
                body: Some((value.to_string(), "text/plain; charset=utf-8")),
                fence,
            })
            .await?;
        match answer.status {
            StatusCode::OK => Ok(()),
            _ => Err(kv_error(answer)),
        }
    }

    /// Deletes `key` once committed; with a fence, only in that leadership.
    pub async fn delete(&self, key: &str, fence: Option<Fence>) -> Result<(), Error> {
        let answer = self
            .kv(KvRequest {
                method: Method::DELETE,
                path: kv_path(key),
                body: None,
                fence,
            })
            .await?;
        match answer.status {
            StatusCode::OK => Ok(()),
            _ => Err(kv_error(answer)),
        }
    }

    /// Compare-and-set: sets `key` to `value` iff it holds `expected` (`None`: iff it is
    /// absent); with a fence, only in that leadership. `Ok(true)` when it swapped.
    pub async fn cas(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
        fence: Option<Fence>,
    ) -> Result<bool, Error> {
        let body = serde_json::json!({ "expected": expected, "value": value }).to_string();
        let answer = self
            .kv(KvRequest {
                method: Method::POST,
                path: format!("{}/cas", kv_path(key)),
                body: Some((body, "application/json")),
                fence,
            })
            .await?;
        if answer.status != StatusCode::OK {
            return Err(kv_error(answer));
        }
        serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v["swapped"].as_bool())
            .ok_or_else(|| Error::Protocol {
                url: answer.url.clone(),
                message: format!("a CAS answer without \"swapped\": {:?}", answer.body),
            })
    }

    // ---- Sending ---------------------------------------------------------------------

    fn hint(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.inner
            .goose_hint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a key-value request to the members in turn (the last goose first), each
    /// followed across redirects, until one takes it. A member that cannot be reached,
    /// or answers that no goose is known, passes it on: nothing was applied there. A
    /// member that does not answer in time passes a read on; a write's outcome there is
    /// unknown, so it is the caller's error, and that member is no longer asked first.
    async fn kv(&self, req: KvRequest) -> Result<Answer, Error> {
        let mut order = self.inner.members.clone();
        if let Some(hint) = self.hint().clone() {
            order.retain(|m| *m != hint);
            order.insert(0, hint);
        }
        let mut last = None;
        for base in order {
            match self.follow(&base, &req).await {
                Ok(answer) if answer.status == StatusCode::SERVICE_UNAVAILABLE => {
                    last = Some(kv_error(answer));
                }
                Ok(answer) => {
                    if let Some(origin) = origin_of(&answer.url) {
                        *self.hint() = Some(origin);
                    }
                    return Ok(answer);
                }
                Err(e @ Error::Unreachable { .. }) => last = Some(e),
                Err(e @ Error::OutcomeUnknown { .. }) => {
                    // A node that went silent (paused, cut off) must not stay the first
                    // one asked, or every later request would wait on it too.
                    let mut hint = self.hint();
                    if hint.as_deref() == Some(base.as_str()) {
                        *hint = None;
                    }
                    drop(hint);
                    // A read changed nothing: ask the next member. A write may have been
                    // applied: only the caller may decide to send it again.
                    if req.method != Method::GET {
                        return Err(e);
                    }
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::NoGoose {
            message: "no member to ask".into(),
        }))
    }

    /// One request from `base`, following `307`/`308` to members only.
    async fn follow(&self, base: &str, req: &KvRequest) -> Result<Answer, Error> {
        let mut url = format!("{base}{}", req.path);
        for _ in 0..=MAX_REDIRECTS {
            let mut out = self
                .inner
                .http
                .request(req.method.clone(), &url)
                .timeout(self.inner.timeout);
            if let Some(token) = &self.inner.token {
                out = out.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            if let Some(fence) = req.fence {
                out = out.header(IF_FENCE_HEADER, fence.0);
            }
            if let Some((body, content_type)) = &req.body {
                out = out.header(CONTENT_TYPE, *content_type).body(body.clone());
            }
            let answer = self.read(&url, out).await?;
            let redirect = matches!(
                answer.status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            );
            let location = answer
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let (true, Some(location)) = (redirect, location) else {
                return Ok(answer);
            };
            if !self.is_member(&url, &location).await {
                return Err(Error::UntrustedRedirect { url, location });
            }
            url = location;
        }
        Err(Error::TooManyRedirects { url })
    }

    /// Is `location` a member: one this client was given, or one `from` lists?
    async fn is_member(&self, from: &str, location: &str) -> bool {
        let given: Vec<String> = self
            .inner
            .members
            .iter()
            .filter_map(|m| members::host_port(m))
            .collect();
        if members::is_member_url(location, &given) {
            return true;
        }
        let Some(origin) = origin_of(from) else {
            return false;
        };
        match self.member_addrs(&origin).await {
            Ok(listed) => members::is_member_url(location, &listed),
            Err(_) => false,
        }
    }

    /// The member addresses node `base` lists in its public `/status`.
    async fn member_addrs(&self, base: &str) -> Result<Vec<String>, Error> {
        let status = self.status(base).await?;
        Ok(members::addrs_in_status(&status))
    }

    /// Node `base`'s `/status` JSON.
    pub(crate) async fn status(&self, base: &str) -> Result<serde_json::Value, Error> {
        let url = format!("{base}/status");
        let answer = self.get_public(&url).await?;
        if answer.status != StatusCode::OK {
            return Err(unexpected(answer));
        }
        serde_json::from_str(&answer.body).map_err(|e| Error::Protocol {
            url,
            message: format!("/status is not JSON: {e}"),
        })
    }

    async fn get_public(&self, url: &str) -> Result<Answer, Error> {
        let req = self.inner.http.get(url).timeout(self.inner.timeout);
        self.read(url, req).await
    }

    async fn read(&self, url: &str, req: reqwest::RequestBuilder) -> Result<Answer, Error> {
        let resp = req.send().await.map_err(|e| Error::transport(url, &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.map_err(|e| Error::transport(url, &e))?;
        Ok(Answer {
            url: url.to_string(),
            status,
            headers,
            body,
        })
    }
}

fn kv_path(key: &str) -> String {
    format!("/kv/{}", percent_encode_segment(key))
}

/// Encodes `key` as one path segment: everything but unreserved characters.
fn percent_encode_segment(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `scheme://host:port` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = members::host_port(url)?;
    Some(format!("{}://{host}", parsed.scheme()))
}

fn fence_header(answer: &Answer) -> Result<Fence, Error> {
    answer
        .headers
        .get(FENCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map(Fence)
        .ok_or_else(|| Error::Protocol {
            url: answer.url.clone(),
            message: format!("a goose answer without a {FENCE_HEADER} header"),
        })
}

/// Any status the caller did not expect.
fn unexpected(answer: Answer) -> Error {
    match answer.status {
        StatusCode::UNAUTHORIZED => Error::Unauthorized,
        StatusCode::SERVICE_UNAVAILABLE => Error::Unavailable {
            message: answer.message(),
            url: answer.url,
        },
        status => Error::Refused {
            message: answer.message(),
            status: status.as_u16(),
            url: answer.url,
        },
    }
}

/// A key-value answer that is not a success.
fn kv_error(answer: Answer) -> Error {
    match answer.status {
        StatusCode::PRECONDITION_FAILED => {
            stale_fence(&answer).unwrap_or_else(|| Error::Protocol {
                message: format!("a 412 without a stale-fence body: {:?}", answer.body),
                url: answer.url,
            })
        }
        StatusCode::GATEWAY_TIMEOUT => Error::OutcomeUnknown {
            message: answer.message(),
            url: answer.url,
        },
        StatusCode::SERVICE_UNAVAILABLE => {
            let message = answer.message();
            // What a duck, an unconfirmed leader and an overwritten entry say; the rest
            // (overloaded, shutting down) is the node's own trouble.
            let no_goose = [
                "duck",
                "could not confirm leadership",
                "lost to a newer goose",
            ];
            if no_goose.iter().any(|p| message.starts_with(p)) {
                Error::NoGoose { message }
            } else {
                Error::Unavailable {
                    url: answer.url,
                    message,
                }
            }
        }
        _ => unexpected(answer),
    }
}

fn stale_fence(answer: &Answer) -> Option<Error> {
    let body: serde_json::Value = serde_json::from_str(&answer.body).ok()?;
    if body["error"] != "stale_fence" {
        return None;
    }
    Some(Error::StaleFence {
        fence: Fence(body["fence"].as_u64()?),
        current: Fence(body["current"].as_u64()?),
    })
}
