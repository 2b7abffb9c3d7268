//! Usage of a native Anthropic stream relayed untouched (front door to an Anthropic model): the
//! events are only read, for accounting.

use gateway_core::sse::Parser;
use serde_json::Value;

use crate::anthropic::usage;
use crate::openai::Tokens;

/// Watches Anthropic SSE bytes for `message_start` / `message_delta` usage.
#[derive(Debug, Default)]
pub struct UsageTap {
    parser: Parser,
    tokens: Tokens,
}

impl UsageTap {
    /// A tap with nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a chunk of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        for event in self.parser.push(chunk) {
            let Ok(v) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            let u = match v.get("type").and_then(Value::as_str) {
                Some("message_start") => v.pointer("/message/usage"),
                Some("message_delta") => v.get("usage"),
                _ => None,
            };
            if let Some(u) = u {
                usage::merge(u, &mut self.tokens);
            }
        }
    }

    /// Usage seen so far.
    pub fn tokens(&self) -> Tokens {
        self.tokens
    }
}
