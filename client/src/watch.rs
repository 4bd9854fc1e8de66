//! [`Client::watch`]: a node's goose state as a stream, from `GET /goose/watch`
//! (Server-Sent Events), reconnecting with backoff; a node without the route is polled on
//! `/status`.
//!
//! A reconnection does not send `Last-Event-ID`. Every lost stream is handed out as an
//! `Err`, after which the program must not act as the goose's until the next `Ok`; a
//! stream resumed after an unchanged state would send nothing, and the program would wait
//! for a change that may never come. A fresh stream starts with the node's answer now.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION};

use crate::sse::Parser;
use crate::{Client, Error, Fence, GooseState};

/// The stream [`Client::watch`] returns. It never ends.
pub type GooseWatch = Pin<Box<dyn Stream<Item = Result<GooseState, Error>> + Send>>;

struct Watch {
    client: Client,
    /// The node's base URL.
    base: String,
    /// How the node is watched; `None` until the first connection tells.
    source: Source,
    /// Events parsed but not yet handed out.
    pending: VecDeque<GooseState>,
    /// The next attempt waits this long first (zero after a success).
    delay: Duration,
}

enum Source {
    /// Not connected: the next step connects (to the event stream, unless the node
    /// showed it has none).
    Idle { polling: bool },
    Events {
        resp: reqwest::Response,
        parser: Parser,
    },
    /// Polling `/status`; the last state handed out, to report only changes.
    Polling { last: Option<GooseState> },
}

pub(crate) fn watch(client: Client, base: String) -> GooseWatch {
    let state = Watch {
        client,
        base,
        source: Source::Idle { polling: false },
        pending: VecDeque::new(),
        delay: Duration::ZERO,
    };
    Box::pin(futures_util::stream::unfold(state, |mut w| async move {
        let item = w.next().await;
        Some((item, w))
    }))
}

impl Watch {
    async fn next(&mut self) -> Result<GooseState, Error> {
        loop {
            if let Some(state) = self.pending.pop_front() {
                return Ok(state);
            }
            let result = match &mut self.source {
                Source::Idle { polling } => {
                    let polling = *polling;
                    self.wait().await;
                    if polling {
                        self.source = Source::Polling { last: None };
                        Ok(())
                    } else {
                        self.connect().await
                    }
                }
                Source::Events { .. } => self.read().await,
                Source::Polling { .. } => match self.poll().await {
                    Ok(Some(state)) => return Ok(state),
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = result {
                let polling = matches!(self.source, Source::Polling { .. });
                self.source = Source::Idle { polling };
                self.back_off();
                return Err(e);
            }
        }
    }

    async fn wait(&self) {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
    }

    fn back_off(&mut self) {
        let (first, max) = self.client.inner.backoff;
        self.delay = if self.delay.is_zero() {
            first
        } else {
            (self.delay * 2).min(max)
        };
    }

    /// Opens the event stream; its first event is the node's answer now.
    async fn connect(&mut self) -> Result<(), Error> {
        let url = format!("{}/goose/watch", self.base);
        let inner = &self.client.inner;
        let mut req = inner.http.get(&url).header(ACCEPT, "text/event-stream");
        if let Some(token) = &inner.token {
            req = req.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let resp = tokio::time::timeout(inner.timeout, req.send())
            .await
            .map_err(|_| Error::Unreachable {
                url: url.clone(),
                message: "no answer to the watch request in time".into(),
            })?
            .map_err(|e| Error::transport(&url, &e))?;
        match resp.status() {
            StatusCode::OK => {
                self.source = Source::Events {
                    resp,
                    parser: Parser::default(),
                };
                Ok(())
            }
            // A node from before the event stream: poll instead.
            StatusCode::NOT_FOUND => {
                self.source = Source::Polling { last: None };
                Ok(())
            }
            StatusCode::UNAUTHORIZED => Err(Error::Unauthorized),
            status => {
                let body = resp.text().await.unwrap_or_default();
                Err(Error::Refused {
                    url,
                    status: status.as_u16(),
                    message: body.trim().to_string(),
                })
            }
        }
    }

    /// Reads the next chunk of the event stream into `pending`.
    async fn read(&mut self) -> Result<(), Error> {
        let idle = self.client.inner.watch_idle;
        let url = format!("{}/goose/watch", self.base);
        let Source::Events { resp, parser } = &mut self.source else {
            return Ok(());
        };
        let chunk = match tokio::time::timeout(idle, resp.chunk()).await {
            Err(_) => {
                return Err(Error::OutcomeUnknown {
                    url,
                    message: format!("the watch was silent for {idle:?}; reconnecting"),
                });
            }
            Ok(Err(e)) => return Err(Error::transport(&url, &e)),
            Ok(Ok(None)) => {
                return Err(Error::Unreachable {
                    url,
                    message: "the node ended the watch; reconnecting".into(),
                });
            }
            Ok(Ok(Some(chunk))) => chunk,
        };
        let parsed = parser.feed(&chunk).map_err(|e| Error::Protocol {
            url: url.clone(),
            message: e.0,
        })?;
        for event in parsed.events {
            match serde_json::from_str::<GooseState>(&event.data) {
                Ok(state) => self.pending.push_back(state),
                // Another kind of event, from a newer node: not ours to read.
                Err(_) if event.kind.is_some() => {}
                Err(e) => {
                    return Err(Error::Protocol {
                        url,
                        message: format!("a watch event that is not a goose state ({e})"),
                    });
                }
            }
        }
        if !self.pending.is_empty() || parsed.comments > 0 {
            self.delay = Duration::ZERO;
        }
        Ok(())
    }

    /// One poll of `/status`: the state when it changed.
    async fn poll(&mut self) -> Result<Option<GooseState>, Error> {
        let Source::Polling { last } = &self.source else {
            return Ok(None);
        };
        if last.is_some() {
            tokio::time::sleep(self.client.inner.watch_poll).await;
        }
        let status = self.client.status(&self.base).await?;
        let state = state_of_status(&status).ok_or_else(|| Error::Protocol {
            url: format!("{}/status", self.base),
            message: "/status without id, role or term".into(),
        })?;
        self.delay = Duration::ZERO;
        let Source::Polling { last } = &mut self.source else {
            return Ok(None);
        };
        if last.as_ref() == Some(&state) {
            return Ok(None);
        }
        *last = Some(state.clone());
        Ok(Some(state))
    }
}

/// The goose state a node's `/status` JSON describes.
fn state_of_status(status: &serde_json::Value) -> Option<GooseState> {
    let goose = match status["role"].as_str()? {
        "goose" => true,
        "duck" => false,
        _ => return None,
    };
    Some(GooseState {
        goose,
        node: status["id"].as_u64()?,
        term: status["term"].as_u64()?,
        fence: status["fence"].as_u64().filter(|_| goose).map(Fence),
        leader: status["leader"].as_u64(),
    })
}
