//! Anthropic Messages (`POST /v1/messages`), per the API reference
//! (https://docs.anthropic.com/en/api/messages, /en/api/errors) and the streaming guide
//! (https://docs.anthropic.com/en/docs/build-with-claude/streaming): the message object, the SSE
//! event sequence (`message_start`, `content_block_start`, `ping`, `content_block_delta` with
//! `text_delta` / `input_json_delta` / `thinking_delta` / `signature_delta`,
//! `content_block_stop`, `message_delta`, `message_stop`, `error`) and error bodies.

use std::sync::Arc;

use bytes::Bytes;
use hyper::Response;
use serde_json::{json, Value};

use crate::server::{header, json_response, sse_response, Body, Recorded, State};

fn error(status: u16, kind: &str, message: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock01"}),
    )
}

fn kind_of(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// Text of the last user message (string content or its text blocks).
fn last_user_text(req: &Value) -> String {
    let Some(m) = req
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
    else {
        return String::new();
    };
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Validation Anthropic performs that the gateway must satisfy.
fn invalid(req: &Value) -> Option<String> {
    if !req.get("max_tokens").is_some_and(Value::is_u64) {
        return Some("max_tokens: Field required".into());
    }
    let messages = req.get("messages").and_then(Value::as_array)?;
    if messages.is_empty() {
        return Some("messages: at least one message is required".into());
    }
    let mut previous = "";
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        if role != "user" && role != "assistant" {
            return Some(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
        if role == previous {
            return Some(
                "messages: roles must alternate between \"user\" and \"assistant\"".into(),
            );
        }
        if let Some(blocks) = m["content"].as_array() {
            if blocks
                .iter()
                .any(|b| b["type"] == "text" && b["text"] == "")
            {
                return Some(format!(
                    "messages.{i}: text content blocks must be non-empty"
                ));
            }
        }
        previous = role;
    }
    (messages[0]["role"] != "user")
        .then(|| "messages: first message must use the \"user\" role".into())
}

/// The key and version checks of every Anthropic endpoint.
fn refused(state: &Arc<State>, r: &Recorded) -> Option<Response<Body>> {
    let keys = &state.config.anthropic_keys;
    let key = header(r, "x-api-key");
    if !keys.is_empty() && !key.is_some_and(|k| keys.iter().any(|x| x == k)) {
        return Some(error(401, "authentication_error", "invalid x-api-key"));
    }
    if header(r, "anthropic-version").is_none() {
        return Some(error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ));
    }
    None
}

/// Serves `POST /v1/messages/count_tokens` (`{"input_tokens": n}`). The count is the mock's own
/// rule, so tests can tell what was counted: 10 per message, 5 for a system prompt, 20 for tools.
pub fn count_tokens(state: &Arc<State>, r: &Recorded, req: &Value) -> Response<Body> {
    if let Some(refusal) = refused(state, r) {
        return refusal;
    }
    let mut counted = req.clone();
    counted["max_tokens"] = json!(1);
    if let Some(message) = invalid(&counted) {
        return error(400, "invalid_request_error", &message);
    }
    let messages = req["messages"].as_array().map_or(0, Vec::len) as u64;
    let system = if req.get("system").is_some() { 5 } else { 0 };
    let tools = if req.get("tools").is_some() { 20 } else { 0 };
    json_response(
        200,
        &json!({"input_tokens": 10 * messages + system + tools}),
    )
}

/// Serves `POST /v1/messages`.
pub async fn messages(state: &Arc<State>, r: &Recorded, req: &Value) -> Response<Body> {
    if let Some(refusal) = refused(state, r) {
        return refusal;
    }
    if let Some(message) = invalid(req) {
        return error(400, "invalid_request_error", &message);
    }
    let model = req["model"].as_str().unwrap_or("").to_string();
    if let Some(status) = model
        .strip_prefix("mock-error-")
        .and_then(|s| s.parse::<u16>().ok())
    {
        return error(status, kind_of(status), &format!("mock error {status}"));
    }
    if model == "mock-hang" {
        std::future::pending::<()>().await;
    }
    let forced = req.pointer("/tool_choice/type") == Some(&json!("tool"));
    let tool = if forced {
        req.pointer("/tool_choice/name")
            .and_then(Value::as_str)
            .map(str::to_string)
    } else if last_user_text(req).to_lowercase().contains("weather") {
        req.pointer("/tools/0/name")
            .and_then(Value::as_str)
            .map(str::to_string)
    } else {
        None
    };
    let input = match tool.as_deref() {
        Some("json_tool_call") => json!({"answer": "Paris"}),
        _ => json!({"location": "Paris"}),
    };
    let thinking = req.pointer("/thinking/type") == Some(&json!("enabled"));
    let stop = if tool.is_some() {
        "tool_use"
    } else {
        "end_turn"
    };
    if req.get("stream") != Some(&json!(true)) {
        let mut content = Vec::new();
        if thinking {
            content.push(
                json!({"type": "thinking", "thinking": "Let me think.", "signature": "sig_mock"}),
            );
        }
        match &tool {
            Some(name) => {
                if !forced {
                    content.push(json!({"type": "text", "text": "Let me check."}));
                }
                content.push(
                    json!({"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": input}),
                );
            }
            None => content.push(json!({"type": "text", "text": "Hello from mock anthropic"})),
        }
        return json_response(
            200,
            &json!({"id": "msg_mock01", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop, "stop_sequence": null,
                "usage": {"input_tokens": 19, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 10}}),
        );
    }
    let mut events: Vec<(&str, Value)> = vec![(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_mock01", "type": "message", "role": "assistant",
            "content": [], "model": model, "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 19, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    let mut block = |events: &mut Vec<(&str, Value)>, start: Value, deltas: Vec<Value>| {
        events.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        if index == 0 {
            events.push(("ping", json!({"type": "ping"})));
        }
        for d in deltas {
            events.push((
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": d}),
            ));
        }
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    };
    if thinking {
        block(
            &mut events,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
            vec![
                json!({"type": "thinking_delta", "thinking": "Let me"}),
                json!({"type": "thinking_delta", "thinking": " think."}),
                json!({"type": "signature_delta", "signature": "sig_mock"}),
            ],
        );
    }
    match &tool {
        Some(name) => {
            if !forced {
                block(
                    &mut events,
                    json!({"type": "text", "text": ""}),
                    vec![json!({"type": "text_delta", "text": "Let me check."})],
                );
            }
            let text = input.to_string();
            let (a, b) = text.split_at(text.len() / 2);
            block(
                &mut events,
                json!({"type": "tool_use", "id": "toolu_mock_1", "name": name, "input": {}}),
                [String::new(), a.to_string(), b.to_string()]
                    .into_iter()
                    .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                    .collect(),
            );
        }
        None => block(
            &mut events,
            json!({"type": "text", "text": ""}),
            ["Hello", " from", " mock", " anthropic"]
                .iter()
                .map(|t| json!({"type": "text_delta", "text": t}))
                .collect(),
        ),
    }
    events.push((
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 10}}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    let (tx, response) = sse_response();
    let state = state.clone();
    tokio::spawn(async move {
        for (i, (name, data)) in events.iter().enumerate() {
            if i == 2 && model == "mock-stream-gate" {
                state.gate.notified().await;
            }
            if i == 4 && model == "mock-midstream-error" {
                let err = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
                let _ = tx
                    .send(Bytes::from(format!("event: error\ndata: {err}\n\n")))
                    .await;
                return;
            }
            if tx
                .send(Bytes::from(format!("event: {name}\ndata: {data}\n\n")))
                .await
                .is_err()
            {
                return;
            }
            state.config.pace().await;
        }
    });
    response
}
