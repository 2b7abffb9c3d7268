//! Server-sent events: an incremental parser that accepts bytes as they arrive from the network
//! (events may be split anywhere, including inside a UTF-8 sequence or a `\r\n`), and an emitter.

/// One parsed server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// The `event:` field, if the event had one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental SSE parser: feed it chunks, take complete events out.
#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl Parser {
    /// A parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(rel) = self.buf[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
            let end = start + rel;
            // A `\r` at the very end may be the first half of `\r\n`: wait for more bytes.
            if self.buf[end] == b'\r' && end + 1 == self.buf.len() {
                break;
            }
            let line = String::from_utf8_lossy(&self.buf[start..end]).into_owned();
            start = end + 1;
            if self.buf[end] == b'\r' && self.buf.get(start) == Some(&b'\n') {
                start += 1;
            }
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        self.buf.drain(..start);
        events
    }

    /// Ends the stream: returns a last event that had no terminating blank line, if any.
    pub fn finish(&mut self) -> Option<Event> {
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            let line = String::from_utf8_lossy(&rest).into_owned();
            if let Some(event) = self.line(&line) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let data = self.data.take();
        let event = self.event.take();
        data.map(|data| Event { event, data })
    }
}

/// Serializes a `data:` event (OpenAI style: no event name).
pub fn data(payload: &str) -> Vec<u8> {
    named(None, payload)
}

/// Serializes an event with an optional `event:` name (Anthropic style).
pub fn named(event: Option<&str>, payload: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 16);
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    for line in payload.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// The `data: [DONE]` terminator of OpenAI streams.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// A stream translator: one format's stream bytes in (as they arrive), another's out.
pub trait Translator {
    /// Feeds upstream bytes; returns the bytes to send to the client now.
    fn push(&mut self, chunk: &[u8]) -> Vec<u8>;
    /// Ends the stream; returns the closing bytes (an error event if the upstream ended early).
    fn finish(&mut self) -> Vec<u8>;
    /// An upstream error that arrived before any output, taken once: the answer can still be an
    /// HTTP error instead of a stream.
    fn early_error(&mut self) -> Option<crate::ApiError>;
    /// The bytes that end the stream after a transport failure: an error event and a clean end.
    fn fail(&mut self, error: &crate::ApiError) -> Vec<u8>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = Parser::new();
        let mut out: Vec<Event> = chunks.iter().flat_map(|c| p.push(c)).collect();
        out.extend(p.finish());
        out
    }

    #[test]
    fn parses_openai_stream() {
        let ev = all(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "{\"a\":1}");
        assert_eq!(ev[1].data, "[DONE]");
    }

    #[test]
    fn parses_named_events_split_anywhere() {
        let text = "event: message_start\r\ndata: {\"x\":\"é\"}\r\n\r\n: ping comment\n\nevent: ping\ndata: {}\n\n";
        let bytes = text.as_bytes();
        for split in 0..bytes.len() {
            let ev = all(&[&bytes[..split], &bytes[split..]]);
            assert_eq!(ev.len(), 2, "split at {split}");
            assert_eq!(ev[0].event.as_deref(), Some("message_start"));
            assert_eq!(ev[0].data, "{\"x\":\"é\"}");
            assert_eq!(ev[1].event.as_deref(), Some("ping"));
        }
    }

    #[test]
    fn multi_line_data_and_unterminated_tail() {
        let ev = all(&[b"data: a\ndata: b\n\ndata: tail"]);
        assert_eq!(ev[0].data, "a\nb");
        assert_eq!(ev[1].data, "tail");
    }

    #[test]
    fn emit_round_trips() {
        let bytes = named(Some("content_block_delta"), "{\"t\":1}");
        let ev = all(&[&bytes]);
        assert_eq!(ev[0].event.as_deref(), Some("content_block_delta"));
        assert_eq!(ev[0].data, "{\"t\":1}");
        assert_eq!(data("x"), b"data: x\n\n");
    }
}
