//! Relaying an OpenAI SSE stream from a provider to the client: events pass through as they
//! arrive; the usage chunk the gateway always asks for is captured, and dropped again when the
//! client did not ask for it.

use serde_json::Value;

use crate::sse::{self, Parser};
use crate::usage::{is_usage_chunk, Usage};

/// Incremental OpenAI stream relay.
#[derive(Debug)]
pub struct StreamRelay {
    parser: Parser,
    client_wants_usage: bool,
    usage: Option<Usage>,
    saw_done: bool,
}

impl StreamRelay {
    /// A relay for a client that did (or did not) set `stream_options.include_usage`.
    pub fn new(client_wants_usage: bool) -> Self {
        StreamRelay {
            parser: Parser::new(),
            client_wants_usage,
            usage: None,
            saw_done: false,
        }
    }

    /// Feeds upstream bytes; returns the bytes to send to the client now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let events = self.parser.push(chunk);
        let mut out = Vec::new();
        for event in events {
            self.relay(&event, &mut out);
        }
        out
    }

    /// Ends the stream; returns any last bytes (including a `[DONE]` if the upstream sent none).
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(event) = self.parser.finish() {
            self.relay(&event, &mut out);
        }
        if !self.saw_done {
            out.extend_from_slice(sse::DONE);
            self.saw_done = true;
        }
        out
    }

    /// The usage reported by the upstream, if any.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn relay(&mut self, event: &sse::Event, out: &mut Vec<u8>) {
        if self.saw_done {
            return;
        }
        if event.data.trim() == "[DONE]" {
            self.saw_done = true;
            out.extend_from_slice(sse::DONE);
            return;
        }
        if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
            if let Some(u) = Usage::from_response(&value) {
                self.usage = Some(u);
            }
            if is_usage_chunk(&value) && !self.client_wants_usage {
                return;
            }
        }
        out.extend_from_slice(&sse::named(event.event.as_deref(), &event.data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n\
data: [DONE]\n\n";

    fn run(wants: bool, pieces: usize) -> (String, Option<Usage>) {
        let mut relay = StreamRelay::new(wants);
        let bytes = STREAM.as_bytes();
        let step = bytes.len().div_ceil(pieces);
        let mut out = Vec::new();
        for chunk in bytes.chunks(step) {
            out.extend(relay.push(chunk));
        }
        out.extend(relay.finish());
        (String::from_utf8(out).unwrap(), relay.usage())
    }

    #[test]
    fn strips_usage_chunk_unless_asked_and_always_captures_it() {
        for pieces in [1, 3, 17, 200] {
            let (text, usage) = run(false, pieces);
            assert!(!text.contains("\"choices\":[]"), "{text}");
            assert_eq!(text.matches("[DONE]").count(), 1);
            assert_eq!(usage.unwrap().total(), 11);
            let (text, _) = run(true, pieces);
            assert_eq!(text, STREAM);
        }
    }

    #[test]
    fn adds_done_when_upstream_ends_without_it() {
        let mut relay = StreamRelay::new(false);
        let mut out = relay.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n");
        out.extend(relay.finish());
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("data: [DONE]\n\n"));
    }
}
