//! `POST /v1/completions` (legacy text completions): validation, and the bridge through chat for
//! providers without the endpoint (Anthropic, Gemini): each prompt becomes one user message,
//! each chat answer the `text_completion` choices of its prompt, in order; streams become
//! `text_completion` chunks.

use gateway_core::sse::{self, Parser, Translator};
use gateway_core::{ApiError, ErrorType};
use serde_json::{json, Map, Value};

use crate::request::{bad, model_of, stream_flag, token_ids as tokens, wants_usage};

/// Most prompts in one request.
pub const MAX_PROMPTS: usize = 2048;

/// Parameters that have no chat equivalent; refused on a bridged provider unless dropped.
const UNBRIDGEABLE: &[&str] = &["echo", "logprobs", "suffix", "best_of"];
/// Parameters that mean the same in chat and are copied.
const SHARED: &[&str] = &[
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "logit_bias",
];

/// One prompt of a completions request.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// A text.
    Text(String),
    /// Token ids.
    Tokens(Vec<i64>),
}

/// A validated completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// The request object as sent.
    pub body: Map<String, Value>,
    /// The logical model name.
    pub model: String,
    /// The prompts, in order.
    pub prompts: Vec<Prompt>,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true`.
    pub client_wants_usage: bool,
}

fn prompts(prompt: Option<&Value>) -> Result<Vec<Prompt>, ApiError> {
    let list = match prompt {
        None | Some(Value::Null) => {
            return Err(bad("Missing required parameter: 'prompt'", "prompt"))
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(bad("`prompt` must not be an empty string", "prompt"))
        }
        Some(Value::String(s)) => return Ok(vec![Prompt::Text(s.clone())]),
        Some(Value::Array(l)) if l.is_empty() => {
            return Err(bad("`prompt` must not be an empty list", "prompt"))
        }
        Some(Value::Array(l)) => l,
        Some(_) => return Err(bad(
            "`prompt` must be a string, a list of strings, a token array or a list of token arrays",
            "prompt",
        )),
    };
    if list.len() > MAX_PROMPTS {
        return Err(bad(
            format!("`prompt` has {} items; at most {MAX_PROMPTS}", list.len()),
            "prompt",
        ));
    }
    if list.iter().all(Value::is_number) {
        return Ok(vec![Prompt::Tokens(tokens(list, "prompt")?)]);
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let param = format!("prompt[{i}]");
            match p {
                Value::String(s) if s.is_empty() => {
                    Err(bad(format!("`{param}` must not be empty"), &param))
                }
                Value::String(s) => Ok(Prompt::Text(s.clone())),
                Value::Array(t) => Ok(Prompt::Tokens(tokens(t, &param)?)),
                _ => Err(bad(
                    format!("`{param}` must be a string or a token array"),
                    &param,
                )),
            }
        })
        .collect()
}

impl CompletionRequest {
    /// Parses and validates the raw body.
    pub fn parse(raw: &[u8]) -> Result<CompletionRequest, ApiError> {
        let (body, model) = model_of(raw)?;
        let prompts = prompts(body.get("prompt"))?;
        let stream = stream_flag(&body)?;
        let client_wants_usage = wants_usage(&body)?;
        for key in ["max_tokens", "n", "best_of"] {
            if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
                if v.as_u64().is_none_or(|n| n == 0 && key != "max_tokens") {
                    return Err(bad(format!("`{key}` must be a positive integer"), key));
                }
            }
        }
        Ok(CompletionRequest {
            body,
            model,
            prompts,
            stream,
            client_wants_usage,
        })
    }

    /// The body for an OpenAI-format upstream: as sent, `model` rewritten, and usage asked for
    /// on streams (stripped again when the client did not ask).
    pub fn upstream_body(&self, upstream_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("model".into(), json!(upstream_model));
        if self.stream {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Value::Object(body).to_string().into_bytes()
    }

    /// Refuses what chat cannot express (`echo`, `logprobs`, `suffix`, `best_of` > 1) with 400
    /// `unsupported_parameter`, or drops it when `drop` (`drop_params`).
    pub fn check_bridgeable(&mut self, provider: &str, drop: bool) -> Result<(), ApiError> {
        for key in UNBRIDGEABLE {
            let set = match self.body.get(*key) {
                None | Some(Value::Null) | Some(Value::Bool(false)) => false,
                Some(Value::String(s)) => !s.is_empty(),
                Some(Value::Number(n)) if *key == "best_of" => n.as_u64().unwrap_or(2) > 1,
                Some(_) => true,
            };
            if !set {
                continue;
            }
            if drop {
                self.body.remove(*key);
                continue;
            }
            return Err(ApiError::new(
                400,
                ErrorType::InvalidRequest,
                format!("{provider} does not support `{key}` on /v1/completions (it is served through chat); remove it or set drop_params"),
            )
            .with_param(*key)
            .with_code("unsupported_parameter"));
        }
        Ok(())
    }

    /// The chat request for prompt `i`.
    pub fn chat_body(&self, i: usize, upstream_model: &str) -> Result<Value, ApiError> {
        let text = match self.prompts.get(i) {
            Some(Prompt::Text(t)) => t,
            _ => {
                return Err(ApiError::new(
                    400,
                    ErrorType::InvalidRequest,
                    "token prompts cannot be sent to this provider (it is served through chat); send the text",
                )
                .with_param("prompt")
                .with_code("unsupported_parameter"))
            }
        };
        let mut chat = Map::new();
        chat.insert("model".into(), json!(upstream_model));
        chat.insert(
            "messages".into(),
            json!([{"role": "user", "content": text}]),
        );
        for key in SHARED {
            if let Some(v) = self.body.get(*key).filter(|v| !v.is_null()) {
                chat.insert((*key).into(), v.clone());
            }
        }
        if self.stream {
            chat.insert("stream".into(), json!(true));
            chat.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Ok(Value::Object(chat))
    }
}

fn finish_of(choice: &Value) -> Value {
    choice.get("finish_reason").cloned().unwrap_or(Value::Null)
}

fn add_usage(total: &mut [u64; 3], u: Option<&Value>) {
    let n = |p: &str| {
        u.and_then(|u| u.pointer(p))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    total[0] = total[0].saturating_add(n("/prompt_tokens"));
    total[1] = total[1].saturating_add(n("/completion_tokens"));
    total[2] = total[2].saturating_add(n("/prompt_tokens_details/cached_tokens"));
}

fn usage_json(t: [u64; 3]) -> Value {
    json!({"prompt_tokens": t[0], "completion_tokens": t[1], "total_tokens": t[0].saturating_add(t[1]),
        "prompt_tokens_details": {"cached_tokens": t[2]}})
}

/// Chat answers (one per prompt, in order) → one `text_completion`; `n` choices per prompt are
/// numbered `prompt * n + choice`.
pub fn from_chat(answers: &[Value], model: &str, id: &str, created: u64) -> Value {
    let mut choices = Vec::new();
    let mut usage = [0u64; 3];
    for answer in answers {
        for c in answer
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = c
                .pointer("/message/content")
                .and_then(Value::as_str)
                .unwrap_or("");
            choices.push(
                json!({"text": text, "index": choices.len(), "logprobs": null,
                "finish_reason": finish_of(c)}),
            );
        }
        add_usage(&mut usage, answer.get("usage"));
    }
    json!({"id": id, "object": "text_completion", "created": created, "model": model,
        "choices": choices, "usage": usage_json(usage)})
}

/// A whole `text_completion` as the stream a client asked for: one chunk per choice, then the
/// usage chunk when wanted, then `[DONE]`.
pub fn as_stream(completion: &Value, include_usage: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let head = |choices: Value| {
        json!({"id": completion["id"], "object": "text_completion", "created": completion["created"],
            "model": completion["model"], "choices": choices})
    };
    for c in completion
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(sse::data(&head(json!([c])).to_string()));
    }
    if include_usage {
        let mut u = head(json!([]));
        u["usage"] = completion["usage"].clone();
        out.extend(sse::data(&u.to_string()));
    }
    out.extend_from_slice(sse::DONE);
    out
}

/// Chat `chat.completion.chunk` stream (one prompt) → `text_completion` chunks.
#[derive(Debug)]
pub struct Stream {
    parser: Parser,
    include_usage: bool,
    usage: Option<Value>,
    finished: bool,
    done: bool,
    early: Option<ApiError>,
    started: bool,
}

impl Stream {
    /// A translator; `include_usage` keeps the usage chunk for the client.
    pub fn new(include_usage: bool) -> Stream {
        Stream {
            parser: Parser::default(),
            include_usage,
            usage: None,
            finished: false,
            done: false,
            early: None,
            started: false,
        }
    }

    /// The usage chunk's `usage`, once seen.
    pub fn usage(&self) -> Option<&Value> {
        self.usage.as_ref()
    }

    fn event(&mut self, data: &str) -> Vec<u8> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return sse::DONE.to_vec();
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        if v.get("error").is_some() {
            return self.fail(
                &ApiError::from_openai_json(502, data.as_bytes()).unwrap_or_else(|| {
                    ApiError::new(502, ErrorType::Upstream, "the upstream stream failed")
                }),
            );
        }
        self.started = true;
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let choices: Vec<Value> = v
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                if !c["finish_reason"].is_null() {
                    self.finished = true;
                }
                json!({"text": c.pointer("/delta/content").and_then(Value::as_str).unwrap_or(""),
                    "index": c.get("index").cloned().unwrap_or(json!(0)),
                    "logprobs": null, "finish_reason": finish_of(c)})
            })
            .collect();
        let mut chunk = json!({"id": v.get("id").cloned().unwrap_or(json!("cmpl-gateway")),
            "object": "text_completion", "created": v.get("created").cloned().unwrap_or(json!(0)),
            "model": v.get("model").cloned().unwrap_or(json!("")), "choices": choices});
        if choices_empty(&chunk) {
            if !self.include_usage || self.usage.is_none() {
                return Vec::new();
            }
            chunk["usage"] = self.usage.clone().unwrap_or(Value::Null);
        }
        sse::data(&chunk.to_string())
    }
}

fn choices_empty(chunk: &Value) -> bool {
    chunk["choices"].as_array().is_none_or(Vec::is_empty)
}

impl Translator for Stream {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in self.parser.push(chunk) {
            if self.done {
                break;
            }
            out.extend(self.event(&e.data));
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(e) = self.parser.finish() {
            if !self.done {
                out.extend(self.event(&e.data));
            }
        }
        if !self.done {
            if self.finished {
                self.done = true;
                out.extend_from_slice(sse::DONE);
            } else {
                out.extend(
                    self.fail(
                        &ApiError::new(
                            502,
                            ErrorType::Upstream,
                            "the upstream stream ended before finishing",
                        )
                        .with_code("upstream_error"),
                    ),
                );
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
        sse::data(&json!({"error": error.to_openai_json()["error"]}).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<CompletionRequest, ApiError> {
        CompletionRequest::parse(v.to_string().as_bytes())
    }

    #[test]
    fn prompt_forms_and_bad_input() {
        assert_eq!(
            parse(json!({"model": "m", "prompt": "hi"}))
                .unwrap()
                .prompts
                .len(),
            1
        );
        assert_eq!(
            parse(json!({"model": "m", "prompt": ["a", "b"]}))
                .unwrap()
                .prompts
                .len(),
            2
        );
        assert_eq!(
            parse(json!({"model": "m", "prompt": [1, 2]}))
                .unwrap()
                .prompts,
            vec![Prompt::Tokens(vec![1, 2])]
        );
        let cases = [
            (json!({"prompt": "x"}), "model"),
            (json!({"model": "m"}), "prompt"),
            (json!({"model": "m", "prompt": ""}), "prompt"),
            (json!({"model": "m", "prompt": []}), "prompt"),
            (json!({"model": "m", "prompt": 5}), "prompt"),
            (json!({"model": "m", "prompt": ["a", null]}), "prompt[1]"),
            (json!({"model": "m", "prompt": [[1, 0.5]]}), "prompt[0][1]"),
            (json!({"model": "m", "prompt": "x", "stream": 1}), "stream"),
            (json!({"model": "m", "prompt": "x", "n": 0}), "n"),
            (
                json!({"model": "m", "prompt": "x", "max_tokens": "3"}),
                "max_tokens",
            ),
            (
                json!({"model": "m", "prompt": "x", "stream_options": 3}),
                "stream_options",
            ),
        ];
        for (body, param) in cases {
            let e = parse(body.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
        }
    }

    #[test]
    fn unbridgeable_parameters_are_refused_or_dropped() {
        for (k, v) in [
            ("echo", json!(true)),
            ("logprobs", json!(2)),
            ("suffix", json!("end")),
            ("best_of", json!(3)),
        ] {
            let mut r = parse(json!({"model": "m", "prompt": "x", k: v})).unwrap();
            let e = r.check_bridgeable("anthropic", false).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(k)));
            assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));
            r.check_bridgeable("anthropic", true).unwrap();
            assert!(!r.body.contains_key(k));
        }
        let mut r =
            parse(json!({"model": "m", "prompt": "x", "echo": false, "best_of": 1})).unwrap();
        r.check_bridgeable("gemini", false).unwrap();
    }

    #[test]
    fn chat_answers_become_one_completion() {
        let r = parse(json!({"model": "m", "prompt": ["a", "b"], "max_tokens": 5, "stop": ["\n"], "stream": true})).unwrap();
        let chat = r.chat_body(1, "claude").unwrap();
        assert_eq!(chat["messages"], json!([{"role": "user", "content": "b"}]));
        assert_eq!(
            (chat["max_tokens"].clone(), chat["stop"].clone()),
            (json!(5), json!(["\n"]))
        );
        assert_eq!(chat["stream_options"]["include_usage"], true);
        let answer = |t: &str| {
            json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
        };
        let c = from_chat(&[answer("A"), answer("B")], "m", "cmpl-1", 7);
        assert_eq!(c["object"], "text_completion");
        assert_eq!(
            c["choices"][1],
            json!({"text": "B", "index": 1, "logprobs": null, "finish_reason": "stop"})
        );
        assert_eq!(c["usage"]["total_tokens"], 10);
        let s = String::from_utf8(as_stream(&c, true)).unwrap();
        assert_eq!(s.matches("data: ").count(), 4);
        assert!(s.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn chat_chunks_become_text_completion_chunks() {
        let mut t = Stream::new(false);
        let mut out = t.push(b"data: {\"id\":\"c1\",\"model\":\"m\",\"created\":1,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"He\"},\"finish_reason\":null}]}\n\n");
        out.extend(t.push(b"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n"));
        out.extend(t.finish());
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("\"object\":\"text_completion\""));
        assert!(s.contains("\"text\":\"He\""));
        assert!(!s.contains("usage"), "usage chunk stripped: {s}");
        assert_eq!(s.matches("[DONE]").count(), 1);
        assert_eq!(t.usage().unwrap()["prompt_tokens"], 1);
    }
}
