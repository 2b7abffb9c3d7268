//! Gemini `streamGenerateContent?alt=sse` (one `GenerateContentResponse` per `data:` event) →
//! OpenAI `chat.completion.chunk` events, as they arrive: the role chunk first, text and thought
//! deltas, each function call whole as one tool-call delta (Gemini sends calls whole), the finish
//! reason, the usage chunk when asked, `[DONE]`. An `{"error":...}` event, a prompt block or an
//! early end become an error event and `[DONE]`.

use std::collections::BTreeMap;

use gateway_core::sse::{self, Parser, Translator};
use gateway_core::{ApiError, ErrorType};
use serde_json::{json, Value};

use super::response::{blocked, content, response_id};
use super::{error, finish_reason, ids, tokens, PROVIDER};
use crate::openai::{error_event, Chunks, Tokens};

#[derive(Debug, Default)]
struct Candidate {
    started: bool,
    calls: u64,
    finished: bool,
}

/// Stream state.
#[derive(Debug)]
pub struct Stream {
    parser: Parser,
    chunks: Chunks,
    candidates: BTreeMap<u64, Candidate>,
    tokens: Tokens,
    response_id: Option<String>,
    emitted: bool,
    done: bool,
    early: Option<ApiError>,
}

impl Stream {
    /// A translator for one stream; `model` is reported until Gemini names its `modelVersion`.
    pub fn new(model: &str, include_usage: bool, created: u64) -> Stream {
        Stream {
            parser: Parser::new(),
            chunks: Chunks {
                id: String::new(),
                model: model.to_string(),
                created,
                include_usage,
            },
            candidates: BTreeMap::new(),
            tokens: Tokens::default(),
            response_id: None,
            emitted: false,
            done: false,
            early: None,
        }
    }

    /// Usage so far (complete once the stream ended).
    pub fn tokens(&self) -> Tokens {
        self.tokens
    }

    fn error(&mut self, e: ApiError) -> Vec<u8> {
        self.done = true;
        if !self.emitted {
            self.early = Some(e.clone());
        }
        error_event(&e)
    }

    fn event(&mut self, data: &str) -> Vec<u8> {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        if let Some(err) = v.get("error") {
            let status = err.get("code").and_then(Value::as_u64).unwrap_or(500) as u16;
            return self.error(error::from_error(status, Some(err), data.as_bytes()));
        }
        if let Some(e) = blocked(&v) {
            return self.error(e);
        }
        if self.response_id.is_none() {
            let rid = response_id(&v);
            self.chunks.id = format!("chatcmpl-{rid}");
            self.response_id = Some(rid);
        }
        if let Some(m) = v.get("modelVersion").and_then(Value::as_str) {
            self.chunks.model = m.to_string();
        }
        if let Some(t) = tokens(&v) {
            self.tokens = t;
        }
        let rid = self.response_id.clone().unwrap_or_default();
        let mut out = Vec::new();
        let candidates = v
            .get("candidates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, cand) in candidates.iter().enumerate() {
            let index = cand
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(i as u64);
            let c = content(cand);
            let reason = cand.get("finishReason").and_then(Value::as_str);
            let state = self.candidates.entry(index).or_default();
            if !state.started {
                if let Some(r) = reason {
                    let nothing = c.text.is_empty() && c.calls.is_empty() && c.reasoning.is_empty();
                    if nothing
                        && finish_reason(r, false) == "content_filter"
                        && candidates.len() == 1
                        && !self.emitted
                    {
                        return self.error(error::safety_stop(r));
                    }
                }
                state.started = true;
                out.extend(self.chunks.chunk(
                    index,
                    json!({"role": "assistant", "content": ""}),
                    None,
                ));
            }
            if !c.reasoning.is_empty() {
                out.extend(self.chunks.chunk(
                    index,
                    json!({"reasoning_content": c.reasoning}),
                    None,
                ));
            }
            if !c.text.is_empty() {
                out.extend(self.chunks.chunk(index, json!({"content": c.text}), None));
            }
            for (name, args, sig) in &c.calls {
                let n = state.calls;
                state.calls += 1;
                let id = ids::make(&rid, index, n, sig.as_deref());
                out.extend(self.chunks.chunk(
                    index,
                    json!({"tool_calls": [{"index": n, "id": id, "type": "function",
                        "function": {"name": name, "arguments": args}}]}),
                    None,
                ));
            }
            if let Some(r) = reason {
                state.finished = true;
                out.extend(self.chunks.chunk(
                    index,
                    json!({}),
                    Some(finish_reason(r, state.calls > 0)),
                ));
            }
        }
        if !out.is_empty() {
            self.emitted = true;
        }
        out
    }
}

impl Translator for Stream {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for event in self.parser.push(chunk) {
            if self.done {
                break;
            }
            out.extend(self.event(&event.data));
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(event) = self.parser.finish() {
            if !self.done {
                out.extend(self.event(&event.data));
            }
        }
        if self.done {
            return out;
        }
        if self.candidates.is_empty() || self.candidates.values().any(|c| !c.finished) {
            let e = ApiError::new(
                502,
                ErrorType::Upstream,
                format!("{PROVIDER}: the stream ended before a finishReason"),
            )
            .with_code("upstream_error");
            out.extend(self.fail(&e));
            return out;
        }
        self.done = true;
        out.extend(self.chunks.usage(self.tokens));
        out.extend_from_slice(sse::DONE);
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
