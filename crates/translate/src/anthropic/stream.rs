//! Anthropic's SSE event sequence → OpenAI `chat.completion.chunk` events, as they arrive.
//!
//! `message_start` → the role chunk; `content_block_start`/`content_block_delta` of text → content
//! deltas, of `tool_use` → tool-call deltas (id and name first, then `input_json_delta` fragments
//! as argument fragments), of `thinking` → `reasoning_content` deltas (signatures as
//! `thinking_blocks`); `message_delta` → finish reason and output tokens; `message_stop` → the
//! final chunk, the usage chunk when asked, `[DONE]`; `error` → an error event and `[DONE]`;
//! `ping` is dropped.

use std::collections::HashMap;

use gateway_core::sse::{self, Parser, Translator};
use gateway_core::ApiError;
use serde_json::{json, Value};

use super::{error, finish_reason, usage, JSON_TOOL, PROVIDER};
use crate::openai::{error_event, Chunks, Tokens};

/// What a content block index is.
#[derive(Debug, Clone, Copy)]
enum Block {
    Text,
    Thinking,
    /// A tool call with its OpenAI `tool_calls` index.
    Tool(u64),
    /// The emulated `response_format` tool: its input is the answer's content.
    Json,
    Other,
}

/// Stream state.
#[derive(Debug)]
pub struct Stream {
    parser: Parser,
    chunks: Chunks,
    json_tool: bool,
    blocks: HashMap<u64, Block>,
    tools: u64,
    tokens: Tokens,
    finish: Option<&'static str>,
    emitted: bool,
    done: bool,
    early: Option<ApiError>,
}

impl Stream {
    /// A translator for one stream. `created` is the Unix time stamped on every chunk.
    pub fn new(json_tool: bool, include_usage: bool, created: u64) -> Stream {
        Stream {
            parser: Parser::new(),
            chunks: Chunks {
                id: String::new(),
                model: String::new(),
                created,
                include_usage,
            },
            json_tool,
            blocks: HashMap::new(),
            tools: 0,
            tokens: Tokens::default(),
            finish: None,
            emitted: false,
            done: false,
            early: None,
        }
    }

    /// Usage so far (complete once the stream ended).
    pub fn tokens(&self) -> Tokens {
        self.tokens
    }

    fn delta(&self, delta: Value) -> Vec<u8> {
        self.chunks.chunk(0, delta, None)
    }

    fn event(&mut self, name: Option<&str>, data: &str) -> Vec<u8> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        let kind = v.get("type").and_then(Value::as_str).or(name).unwrap_or("");
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                let m = &v["message"];
                self.chunks.id = m
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("msg")
                    .to_string();
                self.chunks.model = m
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if let Some(u) = m.get("usage") {
                    usage::merge(u, &mut self.tokens);
                }
                self.delta(json!({"role": "assistant", "content": ""}))
            }
            "content_block_start" => {
                let b = &v["content_block"];
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        self.blocks.insert(index, Block::Text);
                        match b
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            Some(t) => self.delta(json!({"content": t})),
                            None => Vec::new(),
                        }
                    }
                    Some("thinking") => {
                        self.blocks.insert(index, Block::Thinking);
                        Vec::new()
                    }
                    Some("redacted_thinking") => {
                        self.blocks.insert(index, Block::Other);
                        self.delta(json!({"thinking_blocks": [b]}))
                    }
                    Some("tool_use") => {
                        let name = b.get("name").and_then(Value::as_str).unwrap_or("");
                        if self.json_tool && name == JSON_TOOL {
                            self.blocks.insert(index, Block::Json);
                            return Vec::new();
                        }
                        let i = self.tools;
                        self.tools += 1;
                        self.blocks.insert(index, Block::Tool(i));
                        self.delta(json!({"tool_calls": [{"index": i, "id": b.get("id").cloned().unwrap_or(Value::Null),
                            "type": "function", "function": {"name": name, "arguments": ""}}]}))
                    }
                    _ => {
                        self.blocks.insert(index, Block::Other);
                        Vec::new()
                    }
                }
            }
            "content_block_delta" => {
                let d = &v["delta"];
                let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                match (
                    self.blocks.get(&index).copied(),
                    d.get("type").and_then(Value::as_str),
                ) {
                    (_, Some("text_delta")) => self.delta(json!({"content": text("text")})),
                    (_, Some("thinking_delta")) => {
                        self.delta(json!({"reasoning_content": text("thinking")}))
                    }
                    (_, Some("signature_delta")) => self.delta(json!({"thinking_blocks": [
                        {"type": "thinking", "thinking": "", "signature": text("signature")}]})),
                    (Some(Block::Json), Some("input_json_delta")) => {
                        let part = text("partial_json");
                        if part.is_empty() {
                            Vec::new()
                        } else {
                            self.delta(json!({"content": part}))
                        }
                    }
                    (Some(Block::Tool(i)), Some("input_json_delta")) => {
                        let part = text("partial_json");
                        if part.is_empty() {
                            Vec::new()
                        } else {
                            self.delta(json!({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
                        }
                    }
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    usage::merge(u, &mut self.tokens);
                }
                if let Some(stop) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    let json_answer = self.blocks.values().any(|b| matches!(b, Block::Json));
                    self.finish = Some(if json_answer && stop == "tool_use" {
                        "stop"
                    } else {
                        finish_reason(stop)
                    });
                }
                Vec::new()
            }
            "message_stop" => {
                self.done = true;
                let mut out = self
                    .chunks
                    .chunk(0, json!({}), Some(self.finish.unwrap_or("stop")));
                out.extend(self.chunks.usage(self.tokens));
                out.extend_from_slice(sse::DONE);
                out
            }
            "error" => {
                self.done = true;
                let e = error::from_event(&v);
                if !self.emitted {
                    self.early = Some(e.clone());
                }
                error_event(&e)
            }
            _ => Vec::new(),
        }
    }
}

impl Translator for Stream {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            if self.done {
                break;
            }
            out.extend(self.event(event.event.as_deref(), &event.data));
        }
        if !out.is_empty() && self.early.is_none() {
            self.emitted = true;
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(event) = self.parser.finish() {
            if !self.done {
                out.extend(self.event(event.event.as_deref(), &event.data));
            }
        }
        if !self.done {
            let e = ApiError::new(
                502,
                gateway_core::ErrorType::Upstream,
                format!("{PROVIDER}: the stream ended before message_stop"),
            )
            .with_code("upstream_error");
            out.extend(self.fail(&e));
        }
        out
    }

    fn early_error(&mut self) -> Option<ApiError> {
        self.early.take()
    }

    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        self.done = true;
        if !self.emitted {
            self.early = Some(error.clone());
        }
        error_event(error)
    }
}
