//! A Server-Sent Events client for tests of `GET /goose/watch`, over a plain TCP socket
//! so that it sees the bytes exactly as the node sends them: an HTTP/1.1 request, the
//! status line and headers, then the (chunked) body parsed into events as the SSE spec
//! says (`field: value` lines, a blank line ends an event, `:` starts a comment).
//!
//! A thread reads the stream and hands each event and comment over a channel, so a test
//! waits for the next one with a deadline. Plain HTTP only.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// One event: its `id`, `event` type (if any) and `data` (lines joined with `\n`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {:?}", self.data))
    }
}

/// What the stream carried, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseItem {
    Event(SseEvent),
    /// A comment line's text after the `:` (leading space removed).
    Comment(String),
}

/// An open event stream.
pub struct SseStream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    items: Receiver<SseItem>,
    socket: TcpStream,
    /// Every event handed out so far, in order (see [`SseStream::history`]).
    seen: RefCell<Vec<SseEvent>>,
}

impl SseStream {
    /// `GET path` on `addr` (`host:port`) with `headers`. Returns once the status line
    /// and headers are in (`timeout` at most); a non-200 answer's body is not read.
    pub fn open(
        addr: &str,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> std::io::Result<SseStream> {
        let mut socket = TcpStream::connect(addr)?;
        socket.set_read_timeout(Some(timeout))?;
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        socket.write_all(request.as_bytes())?;
        let mut reader = BufReader::new(socket.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut response_headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                response_headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        // From here the reader thread waits as long as the stream lives.
        socket.set_read_timeout(None)?;
        let chunked = response_headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        let (tx, items) = channel();
        if status == 200 {
            std::thread::spawn(move || {
                let body: Box<dyn BufRead> = if chunked {
                    Box::new(BufReader::new(Dechunk::new(reader)))
                } else {
                    Box::new(reader)
                };
                parse(body, |item| tx.send(item).is_ok());
            });
        }
        Ok(SseStream {
            status,
            headers: response_headers,
            items,
            socket,
            seen: RefCell::default(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The next event or comment; `None` at the deadline or when the stream ended.
    pub fn next_item(&self, timeout: Duration) -> Option<SseItem> {
        let item = self.items.recv_timeout(timeout).ok()?;
        if let SseItem::Event(e) = &item {
            self.seen.borrow_mut().push(e.clone());
        }
        Some(item)
    }

    /// Every event the stream handed out so far, in order: for checks over a whole run
    /// (one event per change, fences that only grow).
    pub fn history(&self) -> Vec<SseEvent> {
        self.seen.borrow().clone()
    }

    /// The next event, skipping comments; `None` at the deadline or the stream's end.
    pub fn next_event(&self, timeout: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_item(left)? {
                SseItem::Event(e) => return Some(e),
                SseItem::Comment(_) => {}
            }
        }
    }

    /// Events until one's JSON data satisfies `want`; panics with `what` at the deadline.
    pub fn wait_event(
        &self,
        what: &str,
        timeout: Duration,
        mut want: impl FnMut(&serde_json::Value) -> bool,
    ) -> SseEvent {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(e) if want(&e.json()) => return e,
                Some(e) => seen.push(e.data),
                None => panic!("timed out after {timeout:?} waiting for {what}; saw {seen:?}"),
            }
        }
    }
}

impl Drop for SseStream {
    fn drop(&mut self) {
        // Ends the reader thread too.
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

/// Parses an SSE body, calling `emit` for each event and comment until it returns false
/// or the body ends.
fn parse(body: impl BufRead, mut emit: impl FnMut(SseItem) -> bool) {
    let mut event = SseEvent::default();
    let mut has_data = false;
    for line in body.lines() {
        let Ok(line) = line else { return };
        if line.is_empty() {
            if has_data && !emit(SseItem::Event(std::mem::take(&mut event))) {
                return;
            }
            event = SseEvent::default();
            has_data = false;
            continue;
        }
        if let Some(comment) = line.strip_prefix(':') {
            let comment = comment.strip_prefix(' ').unwrap_or(comment);
            if !emit(SseItem::Comment(comment.to_string())) {
                return;
            }
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" => {
                if has_data {
                    event.data.push('\n');
                }
                event.data.push_str(value);
                has_data = true;
            }
            "id" => event.id = Some(value.to_string()),
            "event" => event.event = Some(value.to_string()),
            _ => {}
        }
    }
}

/// Reads an HTTP/1.1 chunked body as plain bytes.
struct Dechunk<R> {
    inner: R,
    /// Bytes left in the current chunk.
    left: usize,
    done: bool,
}

impl<R: BufRead> Dechunk<R> {
    fn new(inner: R) -> Dechunk<R> {
        Dechunk {
            inner,
            left: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Read for Dechunk<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut size = String::new();
            self.inner.read_line(&mut size)?;
            let hex = size.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(hex, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size:?}")))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..n])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n;
        if self.left == 0 {
            let mut crlf = String::new();
            self.inner.read_line(&mut crlf)?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<SseItem> {
        let mut out = Vec::new();
        parse(text.as_bytes(), |i| {
            out.push(i);
            true
        });
        out
    }

    #[test]
    fn parses_events_comments_and_multiline_data() {
        let got = items(": keepalive\n\nid: 7.goose.1\ndata: {\"a\":1}\n\ndata: x\ndata:y\n\n");
        assert_eq!(
            got,
            vec![
                SseItem::Comment("keepalive".into()),
                SseItem::Event(SseEvent {
                    id: Some("7.goose.1".into()),
                    event: None,
                    data: "{\"a\":1}".into(),
                }),
                SseItem::Event(SseEvent {
                    id: None,
                    event: None,
                    data: "x\ny".into(),
                }),
            ]
        );
    }

    #[test]
    fn dechunks() {
        let body = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
        let mut out = String::new();
        Dechunk::new(body.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello, world");
    }
}
