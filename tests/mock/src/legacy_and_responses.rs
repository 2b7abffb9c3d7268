//! OpenAI's legacy `POST /v1/completions` (the `text_completion` object and its stream, with the
//! usage chunk under `stream_options.include_usage`) and the Responses API `POST /v1/responses`
//! (the `response` object; streamed as `response.created`, `response.in_progress`,
//! `response.output_item.added`, `response.content_part.added`, `response.output_text.delta`...,
//! `.done` events and `response.completed`, each `event:` named with a `sequence_number`), per
//! the API reference. Embeddings are in `embed.rs`.

use std::sync::Arc;

use bytes::Bytes;
use hyper::Response;
use serde_json::{json, Value};

use crate::server::{header, json_response, sse_response, Body, Recorded, State};

const CREATED: u64 = 1_741_569_952;

/// OpenAI's 401 for a wrong key, or `None` when the key is accepted.
pub fn refuse_key(state: &State, r: &Recorded) -> Option<Response<Body>> {
    let keys = &state.config.openai_keys;
    let bearer = header(r, "authorization").and_then(|a| a.strip_prefix("Bearer "));
    if keys.is_empty() || bearer.is_some_and(|b| keys.iter().any(|k| k == b)) {
        return None;
    }
    Some(json_response(
        401,
        &json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
    ))
}

fn usage() -> Value {
    json!({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12})
}

/// Serves `POST /v1/completions`.
pub async fn completions(state: &Arc<State>, req: &Value) -> Response<Body> {
    let model = req["model"].as_str().unwrap_or("").to_string();
    let prompts = match &req["prompt"] {
        Value::Array(a) if a.iter().any(|p| p.is_string() || p.is_array()) => a.len(),
        Value::Null => {
            return json_response(
                400,
                &json!({"error": {"message": "'prompt' is a required property", "type": "invalid_request_error", "param": "prompt", "code": null}}),
            )
        }
        _ => 1,
    };
    if req["stream"] != true {
        let choices: Vec<Value> = (0..prompts)
            .map(|i| json!({"text": " Hello from mock completions", "index": i, "logprobs": null, "finish_reason": "stop"}))
            .collect();
        return json_response(
            200,
            &json!({"id": "cmpl-mock1", "object": "text_completion", "created": CREATED, "model": model,
                "choices": choices, "usage": usage(), "system_fingerprint": null}),
        );
    }
    let include_usage = req.pointer("/stream_options/include_usage") == Some(&json!(true));
    let mut events = Vec::new();
    for i in 0..prompts {
        for (piece, finish) in [
            (" Hello", Value::Null),
            (" from", Value::Null),
            (" mock", json!("stop")),
        ] {
            events.push(json!({"id": "cmpl-mock1", "object": "text_completion", "created": CREATED, "model": model,
                "choices": [{"text": piece, "index": i, "logprobs": null, "finish_reason": finish}]}));
        }
    }
    if include_usage {
        events.push(json!({"id": "cmpl-mock1", "object": "text_completion", "created": CREATED, "model": model,
            "choices": [], "usage": usage()}));
    }
    send_events(state, events.into_iter().map(|e| (None, e)).collect(), true)
}

fn send_events(
    state: &Arc<State>,
    events: Vec<(Option<String>, Value)>,
    done: bool,
) -> Response<Body> {
    let (tx, response) = sse_response();
    let state = state.clone();
    tokio::spawn(async move {
        for (name, event) in events {
            let text = match name {
                Some(n) => format!("event: {n}\ndata: {event}\n\n"),
                None => format!("data: {event}\n\n"),
            };
            if tx.send(Bytes::from(text)).await.is_err() {
                return;
            }
            state.config.pace().await;
        }
        if done {
            let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
        }
    });
    response
}

/// Serves `POST /v1/responses`.
pub async fn responses(state: &Arc<State>, req: &Value) -> Response<Body> {
    let model = req["model"].as_str().unwrap_or("").to_string();
    if req.get("input").is_none_or(Value::is_null) {
        return json_response(
            400,
            &json!({"error": {"message": "Missing required parameter: 'input'.", "type": "invalid_request_error", "param": "input", "code": "missing_required_parameter"}}),
        );
    }
    let text = "Hello from mock responses";
    let item = |status: &str, text: &str| {
        json!({"id": "msg_mock1", "type": "message", "status": status, "role": "assistant",
            "content": if status == "completed" { json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]) } else { json!([]) }})
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": "resp_mock1", "object": "response", "created_at": CREATED, "status": status,
            "background": false, "error": null, "incomplete_details": null, "instructions": req.get("instructions").cloned().unwrap_or(Value::Null),
            "max_output_tokens": null, "model": model, "output": output, "parallel_tool_calls": true,
            "previous_response_id": req.get("previous_response_id").cloned().unwrap_or(Value::Null),
            "reasoning": {"effort": null, "summary": null}, "store": true, "temperature": 1.0,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
            "truncation": "disabled", "usage": usage, "user": null, "metadata": {}})
    };
    let usage = json!({"input_tokens": 6, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 4, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 10});
    let done = response("completed", json!([item("completed", text)]), usage);
    if req["stream"] != true {
        return json_response(200, &done);
    }
    let part =
        |t: &str| json!({"type": "output_text", "text": t, "annotations": [], "logprobs": []});
    let mut events = vec![
        json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
        json!({"type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null)}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item("in_progress", "")}),
        json!({"type": "response.content_part.added", "item_id": "msg_mock1", "output_index": 0, "content_index": 0, "part": part("")}),
    ];
    for piece in ["Hello", " from", " mock", " responses"] {
        events.push(json!({"type": "response.output_text.delta", "item_id": "msg_mock1", "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []}));
    }
    events.push(json!({"type": "response.output_text.done", "item_id": "msg_mock1", "output_index": 0, "content_index": 0, "text": text, "logprobs": []}));
    events.push(json!({"type": "response.content_part.done", "item_id": "msg_mock1", "output_index": 0, "content_index": 0, "part": part(text)}));
    events.push(json!({"type": "response.output_item.done", "output_index": 0, "item": item("completed", text)}));
    events.push(json!({"type": "response.completed", "response": done}));
    let named = events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["sequence_number"] = json!(i);
            (e["type"].as_str().map(str::to_string), e)
        })
        .collect();
    send_events(state, named, false)
}
