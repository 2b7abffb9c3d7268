//! OpenAI Chat Completions: `chat.completion`, `chat.completion.chunk` streams and error objects.

use std::sync::Arc;

use bytes::Bytes;
use hyper::Response;
use serde_json::{json, Value};

use crate::server::{header, json_response, sse_response, Body, Recorded, State};

const CREATED: u64 = 1_741_569_952;

fn error(status: u16, message: &str, kind: &str, code: Value) -> Response<Body> {
    json_response(
        status,
        &json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}

fn usage() -> Value {
    json!({
        "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

/// The first declared tool's name, when the last message is a user's asking about the weather
/// (after a tool result the model answers in text).
fn tool_call(req: &Value) -> Option<String> {
    let name = req.pointer("/tools/0/function/name")?.as_str()?.to_string();
    let last_user = req
        .get("messages")?
        .as_array()?
        .last()
        .filter(|m| m["role"] == "user")?;
    last_user
        .get("content")?
        .to_string()
        .to_lowercase()
        .contains("weather")
        .then_some(name)
}

/// The number after `prefix` in a model name (`mock-delay-250-x` → 250).
fn number_after(model: &str, prefix: &str) -> Option<u64> {
    model.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

/// Scripted failures, by model name (each distinct name counts its own calls):
/// - `mock-fail-<n>-<status>[-tag]`: the first `n` calls fail with `status` (a 429 with
///   `retry-after: 0`), later ones answer;
/// - `mock-retry-after-<s>[-tag]`: every call is a 429 with `retry-after: <s>`;
/// - `mock-context-window[-tag]`: OpenAI's `context_length_exceeded` 400;
/// - `mock-content-policy[-tag]`: OpenAI's `content_policy_violation` 400.
fn scripted_failure(state: &State, model: &str) -> Option<Response<Body>> {
    if let Some(rest) = model.strip_prefix("mock-fail-") {
        let mut parts = rest.split('-');
        let n: u32 = parts.next()?.parse().ok()?;
        let status: u16 = parts.next()?.parse().ok()?;
        if state.count_call(model) >= n {
            return None;
        }
        let mut r = status_error(status);
        if status == 429 {
            r.headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("0"));
        }
        return Some(r);
    }
    if let Some(s) = number_after(model, "mock-retry-after-") {
        let mut r = status_error(429);
        if let Ok(v) = hyper::header::HeaderValue::from_str(&s.to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        return Some(r);
    }
    if model.starts_with("mock-context-window") {
        return Some(error(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130012 tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            json!("context_length_exceeded"),
        ));
    }
    if model.starts_with("mock-content-policy") {
        return Some(error(
            400,
            "Your request was rejected as a result of our safety system.",
            "invalid_request_error",
            json!("content_policy_violation"),
        ));
    }
    None
}

/// OpenAI's error object for a status.
fn status_error(status: u16) -> Response<Body> {
    let (message, kind) = match status {
        429 => ("Rate limit reached for requests", "requests"),
        408 => ("Request timed out.", "timeout"),
        s if s >= 500 => (
            "The server had an error while processing your request.",
            "server_error",
        ),
        _ => ("mock error", "invalid_request_error"),
    };
    error(status, message, kind, Value::Null)
}

/// Serves `POST .../chat/completions`.
pub async fn chat(state: &Arc<State>, r: &Recorded, req: &Value) -> Response<Body> {
    let keys = &state.config.openai_keys;
    let bearer = header(r, "authorization").and_then(|a| a.strip_prefix("Bearer "));
    if !keys.is_empty() && !bearer.is_some_and(|b| keys.iter().any(|k| k == b)) {
        let shown = bearer
            .map(|b| format!("{}***", &b[..b.len().min(3)]))
            .unwrap_or_default();
        return error(
            401,
            &format!("Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys."),
            "invalid_request_error",
            json!("invalid_api_key"),
        );
    }
    let Some(model) = req.get("model").and_then(Value::as_str).map(str::to_string) else {
        return error(
            400,
            "you must provide a model parameter",
            "invalid_request_error",
            Value::Null,
        );
    };
    if let Some(failure) = scripted_failure(state, &model) {
        return failure;
    }
    if let Some(ms) = number_after(&model, "mock-delay-") {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(status) = model
        .strip_prefix("mock-error-")
        .and_then(|s| s.parse::<u16>().ok())
    {
        let kind = match status {
            429 => "rate_limit_exceeded",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        };
        return error(status, &format!("mock error {status}"), kind, Value::Null);
    }
    if model == "mock-hang" {
        std::future::pending::<()>().await;
    }
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let tool = tool_call(req);
    if !stream {
        let message = match &tool {
            Some(name) => {
                json!({"role": "assistant", "content": null, "refusal": null, "annotations": [],
                "tool_calls": [{"id": "call_mock_1", "type": "function",
                    "function": {"name": name, "arguments": "{\"location\":\"Paris\"}"}}]})
            }
            None => {
                json!({"role": "assistant", "content": "Hello from mock openai", "refusal": null, "annotations": []})
            }
        };
        return json_response(
            200,
            &json!({
                "id": "chatcmpl-mock1", "object": "chat.completion", "created": CREATED, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": null,
                    "finish_reason": if tool.is_some() { "tool_calls" } else { "stop" }}],
                "usage": usage(), "service_tier": "default", "system_fingerprint": null
            }),
        );
    }
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({"id": "chatcmpl-mock1", "object": "chat.completion.chunk", "created": CREATED,
            "model": model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    match &tool {
        Some(name) => {
            events.push(chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_mock_1", "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
                Value::Null,
            ));
            for piece in ["{\"loc", "ation\":", "\"Paris\"}"] {
                events.push(chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                    Value::Null,
                ));
            }
            events.push(chunk(json!({}), json!("tool_calls")));
        }
        None => {
            for piece in ["Hello", " from", " mock", " openai"] {
                events.push(chunk(json!({"content": piece}), Value::Null));
            }
            events.push(chunk(json!({}), json!("stop")));
        }
    }
    if include_usage {
        events.push(
            json!({"id": "chatcmpl-mock1", "object": "chat.completion.chunk", "created": CREATED,
            "model": model, "system_fingerprint": "fp_mock", "choices": [], "usage": usage()}),
        );
    }
    let (tx, response) = sse_response();
    let state = state.clone();
    tokio::spawn(async move {
        for (i, event) in events.iter().enumerate() {
            if i == 0 && model == "mock-slow-first-event" {
                // A model that thinks before its first token: the head leaves well before it.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            if let Some(ms) = number_after(&model, "mock-first-event-after-").filter(|_| i == 0) {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            if i == 2 && model == "mock-stream-gate" {
                state.gate.notified().await;
            }
            if i == 3 && model == "mock-midstream-error" {
                let err = json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null}});
                let _ = tx.send(Bytes::from(format!("data: {err}\n\n"))).await;
                return;
            }
            if tx
                .send(Bytes::from(format!("data: {event}\n\n")))
                .await
                .is_err()
            {
                return;
            }
            state.config.pace().await;
        }
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    response
}
