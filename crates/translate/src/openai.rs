//! Building OpenAI output: `chat.completion` objects, `chat.completion.chunk` events, usage and
//! the error event that ends a failed stream.

use gateway_core::{sse, ApiError};
use serde_json::{json, Value};

/// Token counts in OpenAI's terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    /// All prompt tokens, cached ones included.
    pub prompt: u64,
    /// All generated tokens, reasoning included.
    pub completion: u64,
    /// Prompt tokens read from a cache.
    pub cached: u64,
    /// Prompt tokens written to a cache (Anthropic only).
    pub cache_write: u64,
    /// Reasoning tokens among the completion tokens.
    pub reasoning: u64,
}

impl Tokens {
    /// OpenAI's `usage` object.
    pub fn to_json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt.saturating_add(self.completion),
            "prompt_tokens_details": { "cached_tokens": self.cached },
            "completion_tokens_details": { "reasoning_tokens": self.reasoning },
        })
    }
}

/// Emits the `chat.completion.chunk` events of one stream.
#[derive(Debug, Clone)]
pub struct Chunks {
    /// Completion id shared by every chunk.
    pub id: String,
    /// Model reported in every chunk.
    pub model: String,
    /// Unix seconds.
    pub created: u64,
    /// Whether the client asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
}

impl Chunks {
    /// One chunk with one choice.
    pub fn chunk(&self, index: u64, delta: Value, finish_reason: Option<&str>) -> Vec<u8> {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": index,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        sse::data(&chunk.to_string())
    }

    /// The final usage chunk (empty `choices`), only when the client asked for it.
    pub fn usage(&self, tokens: Tokens) -> Vec<u8> {
        if !self.include_usage {
            return Vec::new();
        }
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": tokens.to_json(),
        });
        sse::data(&chunk.to_string())
    }
}

/// A whole `chat.completion` object.
pub fn completion(
    id: &str,
    model: &str,
    created: u64,
    choices: Vec<Value>,
    tokens: Tokens,
) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": tokens.to_json(),
    })
}

/// The error event that ends a failed OpenAI stream, followed by `[DONE]`.
pub fn error_event(error: &ApiError) -> Vec<u8> {
    let mut out = sse::data(&json!({ "error": error.to_openai_json()["error"] }).to_string());
    out.extend_from_slice(sse::DONE);
    out
}

/// A tool call in OpenAI's message format.
pub fn tool_call(id: &str, name: &str, arguments: &str) -> Value {
    json!({ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } })
}
