//! A Server-Sent Events parser (the `text/event-stream` format of the WHATWG HTML
//! standard), fed the body in whatever chunks the network delivers.
//!
//! Lines end in `\n` or `\r\n`. A blank line ends an event; `data:` lines join with
//! `\n`; `id:` sets the id to resume from; lines starting with `:` are comments (a
//! server's keepalives). A line longer than [`MAX_LINE`] is an error rather than a
//! buffer that grows without bound.

/// Longest line accepted, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The `id:` in force when the event was dispatched (it carries over from earlier
    /// events, as the standard's "last event ID" does).
    pub id: Option<String>,
    /// The `event:` type; `None` for the default type (`message`).
    pub kind: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// What one chunk of input held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub events: Vec<Event>,
    /// Comment lines seen (keepalives): proof that the server is alive.
    pub comments: usize,
}

/// The parser's state between chunks.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes of a line whose end has not arrived yet.
    partial: Vec<u8>,
    last_id: Option<String>,
    kind: Option<String>,
    data: String,
    /// Some `data:` line arrived for the event being built (an empty one counts).
    has_data: bool,
}

/// A line longer than [`MAX_LINE`], or one that is not UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl Parser {
    /// Feeds the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Parsed, ParseError> {
        let mut out = Parsed::default();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (piece, tail) = rest.split_at(end);
            rest = &tail[1..];
            if self.partial.len() + piece.len() > MAX_LINE {
                return Err(too_long());
            }
            self.partial.extend_from_slice(piece);
            let mut line = std::mem::take(&mut self.partial);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8(line)
                .map_err(|_| ParseError("an event-stream line is not UTF-8".into()))?;
            self.line(&line, &mut out);
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            return Err(too_long());
        }
        self.partial.extend_from_slice(rest);
        Ok(out)
    }

    /// The id of the last event: what a client resuming the stream sends as
    /// `Last-Event-ID`.
    pub fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    fn line(&mut self, line: &str, out: &mut Parsed) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            out.comments += 1;
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "event" => self.kind = Some(value.to_string()),
            // `retry:` and unknown fields: ignored, as the standard says.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Parsed) {
        let kind = self.kind.take();
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        out.events.push(Event {
            id: self.last_id.clone(),
            kind: kind.filter(|k| !k.is_empty() && k != "message"),
            data: std::mem::take(&mut self.data),
        });
    }
}

fn too_long() -> ParseError {
    ParseError(format!(
        "an event-stream line is longer than {MAX_LINE} bytes"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: Option<&str>, data: &str) -> Event {
        Event {
            id: id.map(str::to_string),
            kind: None,
            data: data.to_string(),
        }
    }

    #[test]
    fn events_ids_and_keepalives() {
        let mut p = Parser::default();
        let got = p
            .feed(b"id: 1\ndata: {\"goose\":true}\n\n: keepalive\n\nid: 2\ndata: x\n\n")
            .unwrap();
        assert_eq!(
            got.events,
            vec![event(Some("1"), "{\"goose\":true}"), event(Some("2"), "x")]
        );
        assert_eq!(got.comments, 1);
        assert_eq!(p.last_id(), Some("2"));
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_events() {
        let input = b"id: 7\r\ndata: a\r\ndata: b\r\n\r\n: keepalive\n\ndata:c\n\n";
        let whole = Parser::default().feed(input).unwrap();
        assert_eq!(
            whole.events,
            vec![event(Some("7"), "a\nb"), event(Some("7"), "c")]
        );
        for cut in 0..input.len() {
            let mut p = Parser::default();
            let mut first = p.feed(&input[..cut]).unwrap();
            let second = p.feed(&input[cut..]).unwrap();
            first.events.extend(second.events);
            assert_eq!(first.events, whole.events, "cut at {cut}");
            assert_eq!(first.comments + second.comments, 1, "cut at {cut}");
        }
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_but_its_id_counts() {
        let mut p = Parser::default();
        let got = p.feed(b"id: 5\n\nevent: ping\n\n").unwrap();
        assert!(got.events.is_empty());
        assert_eq!(p.last_id(), Some("5"));
        // An unfinished event waits for its blank line.
        assert!(p.feed(b"data: late").unwrap().events.is_empty());
        assert_eq!(
            p.feed(b"\n\n").unwrap().events,
            vec![event(Some("5"), "late")]
        );
    }

    #[test]
    fn event_types_fields_without_values_and_unknown_fields() {
        let mut p = Parser::default();
        let got = p
            .feed(b"event: goose\nretry: 100\nfoo: bar\ndata\n\nevent: message\ndata: m\n\n")
            .unwrap();
        assert_eq!(
            got.events,
            vec![
                Event {
                    id: None,
                    kind: Some("goose".into()),
                    data: String::new()
                },
                event(None, "m"),
            ]
        );
    }

    #[test]
    fn overlong_and_non_utf8_lines_are_errors() {
        let mut p = Parser::default();
        let long = vec![b'a'; MAX_LINE + 1];
        assert!(p.feed(&long).is_err());
        let mut p = Parser::default();
        p.feed(&long[..MAX_LINE]).unwrap();
        assert!(p.feed(b"a").is_err(), "the limit holds across chunks");
        let mut p = Parser::default();
        assert!(p.feed(b"data: \xff\n").is_err());
    }
}
