//! OpenAI `chat.completion.chunk` stream → Anthropic's SSE event sequence: `message_start`,
//! `ping`, then for each run of thinking, text or one tool call a `content_block_start`, its
//! deltas (`thinking_delta`, `text_delta`, `input_json_delta`) and `content_block_stop`, then
//! `message_delta` (stop reason and usage) and `message_stop`. An upstream error becomes an
//! `error` event.

use gateway_core::sse::{self, Parser, Translator};
use gateway_core::{ApiError, ErrorType};
use serde_json::{json, Value};

use super::response::usage;
use super::{message_id, stop_reason};
use crate::openai::Tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Thinking,
    Text,
    Tool(u64),
}

/// Stream state.
#[derive(Debug, Default)]
pub struct Stream {
    parser: Parser,
    started: bool,
    open: Option<(Kind, u64)>,
    blocks: u64,
    finish: Option<String>,
    usage: Option<Value>,
    done: bool,
    early: Option<ApiError>,
}

fn event(name: &str, payload: Value) -> Vec<u8> {
    sse::named(Some(name), &payload.to_string())
}

impl Stream {
    /// A translator with nothing seen.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Usage from the upstream's usage chunk, in OpenAI terms.
    pub fn tokens(&self) -> Option<Tokens> {
        let u = self.usage.as_ref()?;
        let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        Some(Tokens {
            prompt: n("/prompt_tokens"),
            completion: n("/completion_tokens"),
            cached: n("/prompt_tokens_details/cached_tokens"),
            cache_write: 0,
            reasoning: n("/completion_tokens_details/reasoning_tokens"),
        })
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            out.extend(event(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// Makes `kind` the open block, starting it (with `start` as its `content_block`) if needed.
    fn block(&mut self, kind: Kind, start: Value, out: &mut Vec<u8>) -> u64 {
        if let Some((k, index)) = self.open {
            if k == kind {
                return index;
            }
        }
        self.close_block(out);
        let index = self.blocks;
        self.blocks += 1;
        self.open = Some((kind, index));
        out.extend(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        index
    }

    fn delta(index: u64, delta: Value) -> Vec<u8> {
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        )
    }

    fn end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.close_block(&mut out);
        self.done = true;
        let mut u = usage(self.usage.as_ref());
        if self.usage.is_none() {
            u = json!({"output_tokens": 0});
        }
        out.extend(event(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason(self.finish.as_deref().unwrap_or("stop")), "stop_sequence": null},
                "usage": u}),
        ));
        out.extend(event("message_stop", json!({"type": "message_stop"})));
        out
    }

    fn error(&mut self, e: ApiError) -> Vec<u8> {
        self.done = true;
        if !self.started {
            self.early = Some(e.clone());
        }
        event("error", e.to_anthropic_json())
    }

    fn chunk(&mut self, data: &str) -> Vec<u8> {
        if data.trim() == "[DONE]" {
            return self.end();
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        if v.get("error").is_some() {
            let e = ApiError::from_openai_json(502, data.as_bytes()).unwrap_or_else(|| {
                ApiError::new(502, ErrorType::Upstream, "the upstream stream failed")
            });
            return self.error(e);
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.extend(event(
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": message_id(v.get("id").and_then(Value::as_str).unwrap_or("gateway")),
                    "type": "message", "role": "assistant",
                    "model": v.get("model").and_then(Value::as_str).unwrap_or(""),
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0}}}),
            ));
            out.extend(event("ping", json!({"type": "ping"})));
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = v
            .pointer("/choices/0")
            .filter(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        else {
            return out;
        };
        let d = &choice["delta"];
        if let Some(r) = d
            .get("reasoning_content")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            let i = self.block(
                Kind::Thinking,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                &mut out,
            );
            out.extend(Self::delta(
                i,
                json!({"type": "thinking_delta", "thinking": r}),
            ));
        }
        if let Some(t) = d
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let i = self.block(Kind::Text, json!({"type": "text", "text": ""}), &mut out);
            out.extend(Self::delta(i, json!({"type": "text_delta", "text": t})));
        }
        for call in d
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let n = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let start = json!({"type": "tool_use",
                "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
                "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
                "input": {}});
            let i = self.block(Kind::Tool(n), start, &mut out);
            if let Some(args) = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                out.extend(Self::delta(
                    i,
                    json!({"type": "input_json_delta", "partial_json": args}),
                ));
            }
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_string());
            self.close_block(&mut out);
        }
        out
    }
}

impl Translator for Stream {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in self.parser.push(chunk) {
            if self.done {
                break;
            }
            out.extend(self.chunk(&e.data));
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(e) = self.parser.finish() {
            if !self.done {
                out.extend(self.chunk(&e.data));
            }
        }
        if !self.done {
            if self.finish.is_some() {
                out.extend(self.end());
            } else {
                let e = ApiError::new(
                    502,
                    ErrorType::Upstream,
                    "the upstream stream ended before finishing",
                )
                .with_code("upstream_error");
                out.extend(self.error(e));
            }
        }
        out
    }

    fn early_error(&mut self) -> Option<ApiError> {
        self.early.take()
    }

    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        self.done = true;
        if !self.started {
            self.early = Some(error.clone());
        }
        event("error", error.to_anthropic_json())
    }
}
