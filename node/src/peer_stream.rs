//! The peer transport: one persistent, ordered, authenticated stream per peer.
//!
//! A node opens the stream with an HTTP/1.1 Upgrade (`GET /raft/stream`,
//! `Upgrade: duckgoose-raft/1`) on the same port and behind the same checks as the peer
//! route (bearer token; a verified client certificate under `--tls-ca`). After the `101`
//! the connection carries frames one way, from the opener to the acceptor: a 4-byte
//! big-endian length, then one postcard-encoded [`PeerBatch`] of at most the peer body
//! limit (`--max-peer-body`). An oversized or malformed frame closes the stream with a
//! logged reason. Each node opens its own stream to each peer, so a pair of nodes uses
//! two connections, one per direction.
//!
//! When an established stream ends by a real close (EOF or reset, seen by the acceptor's
//! reader, or by the opener's write or its reader half, which waits for EOF), the replica
//! gets [`Input::PeerClosed`]: a follower of that peer then brings its election forward
//! (`Replica::peer_connection_closed`). Timeouts never count, and neither does a close
//! of a peer the admin partition route blocks (a partition drops messages and keeps the
//! connections open, so it sends no notice either way).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use duckgoose_core::{Message, NodeId};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::metrics::DirectionLabel;
use crate::runtime::{Input, PeerBatch, Shared};

/// The route that upgrades to a stream.
pub const PATH: &str = "/raft/stream";
/// The protocol named in `Upgrade`; a new framing would get a new name.
pub const PROTOCOL: &str = "duckgoose-raft/1";
/// Messages per frame at most.
const FRAME_MESSAGES: usize = 256;
/// First reconnect delay; it doubles per failure up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// A connection that lasted this long was healthy: the next failure starts the backoff
/// from [`BACKOFF_MIN`] again.
const HEALTHY: Duration = Duration::from_secs(1);

/// The peer body limit, which is also the frame limit (the router's extension).
#[derive(Clone, Copy, Debug)]
pub struct FrameLimit(pub usize);

/// Encodes one frame: the length prefix and the postcard body.
pub fn encode_frame(batch: &PeerBatch) -> Result<Vec<u8>, String> {
    let body = postcard::to_stdvec(batch).map_err(|e| format!("cannot encode messages: {e}"))?;
    let len = u32::try_from(body.len()).map_err(|_| "frame longer than 4 GiB".to_string())?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Why a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The other side closed or reset the connection: the notice goes to the replica.
    Closed(String),
    /// This side gave up on it (bad frame, shutting down, peer no longer addressed).
    Dropped(String),
}

/// Reads one frame; `Ok(None)` is a clean EOF between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    limit: usize,
) -> Result<Option<Vec<u8>>, End> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match rd.read(&mut len[got..]).await {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(End::Closed("EOF inside a frame header".into())),
            Ok(n) => got += n,
            Err(e) => return Err(End::Closed(format!("read failed: {e}"))),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(End::Dropped(format!(
            "oversized frame: {len} bytes, limit {limit} (--max-peer-body)"
        )));
    }
    // Grows as bytes arrive instead of trusting the prefix with an allocation up front.
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    match rd.take(len as u64).read_to_end(&mut body).await {
        Ok(n) if n == len => Ok(Some(body)),
        Ok(n) => Err(End::Closed(format!("EOF after {n} of {len} frame bytes"))),
        Err(e) => Err(End::Closed(format!("read failed: {e}"))),
    }
}

// ---- Inbound --------------------------------------------------------------------------

/// `GET /raft/stream` with `Upgrade: duckgoose-raft/1`; the router has already checked
/// the token and, under mutual TLS, the client certificate.
pub async fn accept(
    State(shared): State<Arc<Shared>>,
    Extension(limit): Extension<FrameLimit>,
    mut req: Request,
) -> Response {
    let wanted = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(PROTOCOL));
    if !wanted {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(header::UPGRADE, PROTOCOL)],
            format!("{PATH} needs `Connection: upgrade` and `Upgrade: {PROTOCOL}`\n"),
        )
            .into_response();
    }
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => serve_inbound(shared, TokioIo::new(upgraded), limit.0).await,
            Err(e) => tracing::debug!("peer stream upgrade failed: {e}"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, PROTOCOL)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Reads frames into the replica until the stream ends, then reports how.
async fn serve_inbound<R: AsyncRead + Unpin>(shared: Arc<Shared>, mut rd: R, limit: usize) {
    let mut peer: Option<NodeId> = None;
    let end = loop {
        let body = match read_frame(&mut rd, limit).await {
            Ok(Some(body)) => body,
            Ok(None) => break End::Closed("peer closed the stream".into()),
            Err(end) => break end,
        };
        let batch = match crate::bodies::peer_batch(&body, shared.id) {
            Ok(b) => b,
            Err(reason) => break End::Dropped(format!("malformed frame: {reason}")),
        };
        match peer {
            None => {
                peer = Some(batch.from);
                connection_up(&shared, batch.from, "inbound");
            }
            Some(p) if p != batch.from => {
                break End::Dropped(format!(
                    "frame from node {} on node {p}'s stream",
                    batch.from
                ));
            }
            Some(_) => {}
        }
        let n = batch.messages.len() as u64;
        if shared.is_blocked_in(batch.from) {
            // Partitioned: the traffic is lost, as on a cut link; the stream stays.
            shared.metrics.peer_messages_dropped.inc_by(n);
            continue;
        }
        let input = Input::Peer {
            from: batch.from,
            addr: batch.addr,
            messages: batch.messages,
        };
        match shared.inputs.try_send(input) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                shared.metrics.peer_messages_dropped.inc_by(n);
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                break End::Dropped("replica stopped".into());
            }
        }
    };
    match peer {
        Some(peer) => connection_down(&shared, peer, "inbound", &end).await,
        // Nothing was ever said on it: nobody to tell the replica about.
        None => tracing::info!(
            node = shared.id,
            "peer stream ended before its first frame: {end:?}"
        ),
    }
}

// ---- Outbound -------------------------------------------------------------------------

/// The task that owns the stream to peer `to` at `addr`: connects when there is
/// something to send, sends what is queued in frames, reconnects with backoff. Ends when
/// `rx` closes (the peer's address changed or the replica stopped).
pub async fn outbound(
    shared: Arc<Shared>,
    to: NodeId,
    addr: String,
    mut rx: mpsc::Receiver<Message>,
    limit: usize,
) {
    let mut backoff = Backoff::new(to);
    let mut failures: u32 = 0;
    while let Some(first) = rx.recv().await {
        let stream = match connect(&shared, &addr).await {
            Ok(s) => s,
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(node = shared.id, to, %addr, "cannot open a stream to peer: {e}");
                }
                shared.metrics.peer_messages_dropped.inc();
                wait_out(&shared, &mut rx, backoff.next()).await;
                continue;
            }
        };
        failures = 0;
        connection_up(&shared, to, "outbound");
        let since = Instant::now();
        let end = run_outbound(&shared, to, stream, first, &mut rx, limit).await;
        connection_down(&shared, to, "outbound", &end).await;
        if rx.is_closed() && matches!(end, End::Dropped(_)) {
            return;
        }
        if since.elapsed() >= HEALTHY {
            backoff.reset();
        }
        wait_out(&shared, &mut rx, backoff.next()).await;
    }
}

/// Sleeps `delay`, then drops what queued meanwhile: stale, better lost than late.
async fn wait_out(shared: &Shared, rx: &mut mpsc::Receiver<Message>, delay: Duration) {
    tokio::time::sleep(delay).await;
    let mut dropped = 0;
    while rx.try_recv().is_ok() {
        dropped += 1;
    }
    shared.metrics.peer_messages_dropped.inc_by(dropped);
}

async fn connect(shared: &Shared, addr: &str) -> Result<reqwest::Upgraded, String> {
    let url = format!("{}://{addr}{PATH}", shared.transport.scheme());
    let mut req = shared
        .transport
        .peer_client
        .get(&url)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, PROTOCOL);
    if let Some(token) = &shared.token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| error_chain(&e))?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        return Err(format!("HTTP {status}: {}", body.trim()));
    }
    resp.upgrade().await.map_err(|e| error_chain(&e))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

async fn run_outbound<S: AsyncRead + AsyncWrite>(
    shared: &Shared,
    to: NodeId,
    stream: S,
    first: Message,
    rx: &mut mpsc::Receiver<Message>,
    limit: usize,
) -> End {
    let (mut rd, mut wr) = tokio::io::split(stream);
    // The acceptor never writes: any read completing is its close (or a protocol error).
    let closed = async move {
        let mut byte = [0u8; 1];
        match rd.read(&mut byte).await {
            Ok(0) => End::Closed("peer closed the stream".into()),
            Ok(_) => End::Dropped("peer wrote on a one-way stream".into()),
            Err(e) => End::Closed(format!("read failed: {e}")),
        }
    };
    tokio::pin!(closed);
    let mut pending = Some(first);
    loop {
        let messages = match pending.take() {
            Some(first) => gather(first, rx),
            None => tokio::select! {
                end = &mut closed => return end,
                next = rx.recv() => match next {
                    Some(first) => gather(first, rx),
                    None => {
                        let _ = wr.shutdown().await;
                        return End::Dropped("no longer sending to this peer".into());
                    }
                },
            },
        };
        let n = messages.len() as u64;
        if shared.is_blocked_out(to) {
            // Partitioned: drop, but keep the connection so the peer sees no close.
            shared.metrics.peer_messages_dropped.inc_by(n);
            continue;
        }
        let frames = frames(shared, messages, limit);
        let write = async {
            for frame in &frames {
                wr.write_all(frame).await?;
            }
            wr.flush().await
        };
        tokio::select! {
            end = &mut closed => return end,
            written = write => match written {
                Ok(()) => {
                    shared.metrics.peer_messages_sent.inc_by(n);
                }
                Err(e) => return End::Closed(format!("write failed: {e}")),
            },
        }
    }
}

/// `first` and whatever else is queued, up to a frame's worth.
fn gather(first: Message, rx: &mut mpsc::Receiver<Message>) -> Vec<Message> {
    let mut messages = vec![first];
    while messages.len() < FRAME_MESSAGES {
        match rx.try_recv() {
            Ok(m) => messages.push(m),
            Err(_) => break,
        }
    }
    messages
}

/// Encodes `messages` into frames of at most `limit` bytes each, halving a batch that is
/// too big; a single message over the limit is dropped (the peer would refuse it).
fn frames(shared: &Shared, messages: Vec<Message>, limit: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut todo = vec![messages];
    while let Some(messages) = todo.pop() {
        let batch = PeerBatch {
            from: shared.id,
            addr: shared.advertise.clone(),
            messages,
        };
        match encode_frame(&batch) {
            Ok(frame) if frame.len() - 4 <= limit => out.push(frame),
            Ok(_) if batch.messages.len() > 1 => {
                let mut first = batch.messages;
                let second = first.split_off(first.len() / 2);
                // Popped last-in first-out: push the second half first to keep order.
                todo.push(second);
                todo.push(first);
            }
            Ok(frame) => {
                tracing::error!(
                    node = shared.id,
                    bytes = frame.len() - 4,
                    limit,
                    "a message is larger than the peer body limit; dropped"
                );
                shared.metrics.peer_messages_dropped.inc();
            }
            Err(e) => {
                tracing::error!(node = shared.id, "{e}");
                shared
                    .metrics
                    .peer_messages_dropped
                    .inc_by(batch.messages.len() as u64);
            }
        }
    }
    out
}

// ---- Both directions ------------------------------------------------------------------

fn connection_up(shared: &Shared, peer: NodeId, direction: &'static str) {
    shared
        .metrics
        .peer_connections_up
        .get_or_create(&DirectionLabel { direction })
        .inc();
    tracing::info!(node = shared.id, peer, direction, "peer connection up");
}

/// Counts and logs the end of an established stream and, for a real close of a peer
/// that is not partitioned off, tells the replica.
async fn connection_down(shared: &Shared, peer: NodeId, direction: &'static str, end: &End) {
    shared
        .metrics
        .peer_connections_down
        .get_or_create(&DirectionLabel { direction })
        .inc();
    let reason = match end {
        End::Closed(r) | End::Dropped(r) => r,
    };
    tracing::info!(
        node = shared.id,
        peer,
        direction,
        "peer connection down: {reason}"
    );
    let partitioned = shared.is_blocked_in(peer) || shared.is_blocked_out(peer);
    if !matches!(end, End::Closed(_)) || partitioned {
        return;
    }
    // The notice is worth a short wait when the replica's queue is momentarily full.
    for _ in 0..50 {
        match shared.inputs.try_send(Input::PeerClosed(peer)) {
            Ok(()) => return,
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                tokio::time::sleep(Duration::from_millis(2)).await
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
        }
    }
}

/// Exponential backoff with jitter: each delay is drawn from the upper half of a window
/// that doubles from [`BACKOFF_MIN`] to [`BACKOFF_MAX`], so peers that lost the same
/// node do not reconnect in lockstep.
struct Backoff {
    window: Duration,
    rng: u64,
}

impl Backoff {
    fn new(peer: NodeId) -> Backoff {
        // A per-process random seed (std's hasher keys) without another dependency.
        let rng = RandomState::new().hash_one(peer) | 1;
        Backoff {
            window: BACKOFF_MIN,
            rng,
        }
    }

    fn reset(&mut self) {
        self.window = BACKOFF_MIN;
    }

    fn next(&mut self) -> Duration {
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = self.window.as_micros() as u64 / 2;
        let delay = Duration::from_micros(half + self.rng % (half + 1));
        self.window = (self.window * 2).min(BACKOFF_MAX);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(2);
        let delays: Vec<Duration> = (0..12).map(|_| b.next()).collect();
        assert!(delays[0] >= BACKOFF_MIN / 2 && delays[0] <= BACKOFF_MIN);
        assert!(delays.iter().all(|d| *d <= BACKOFF_MAX));
        assert!(delays[11] >= BACKOFF_MAX / 2, "{delays:?}");
        b.reset();
        assert!(b.next() <= BACKOFF_MIN);
    }

    #[tokio::test]
    async fn frames_round_trip_and_bad_lengths_are_refused() {
        let batch = PeerBatch {
            from: 2,
            addr: "127.0.0.1:1".into(),
            messages: vec![],
        };
        let frame = encode_frame(&batch).unwrap();
        let mut two = frame.clone();
        two.extend_from_slice(&frame);
        let mut rd = &two[..];
        assert!(read_frame(&mut rd, 1024).await.unwrap().is_some());
        assert!(read_frame(&mut rd, 1024).await.unwrap().is_some());
        assert_eq!(read_frame(&mut rd, 1024).await, Ok(None));

        let huge = u32::MAX.to_be_bytes();
        let mut rd = &huge[..];
        assert!(matches!(
            read_frame(&mut rd, 1024).await,
            Err(End::Dropped(_))
        ));
        let mut rd = &frame[..frame.len() - 1];
        assert!(matches!(
            read_frame(&mut rd, 1024).await,
            Err(End::Closed(_))
        ));
        let mut rd = &frame[..2];
        assert!(matches!(
            read_frame(&mut rd, 1024).await,
            Err(End::Closed(_))
        ));
    }
}
