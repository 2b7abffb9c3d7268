//! Google Gemini `models/{model}:generateContent` and `:streamGenerateContent?alt=sse`, per the
//! API reference (https://ai.google.dev/api/generate-content), function calling and thought
//! signatures (https://ai.google.dev/gemini-api/docs/function-calling,
//! /gemini-api/docs/thought-signatures) and errors (/gemini-api/docs/troubleshooting): the
//! `GenerateContentResponse` object (candidates, finishReason, usageMetadata, modelVersion,
//! responseId), `data:` events with CRLF separators and no terminator, and
//! `{"error":{"code","message","status","details"}}` bodies. The key is accepted only in the
//! `x-goog-api-key` header; a `key=` query parameter is refused so a key in a URL fails tests.

use std::sync::Arc;

use bytes::Bytes;
use hyper::Response;
use serde_json::{json, Value};

use crate::server::{header, json_response, sse_response, Body, Recorded, State};

fn error(status: u16, message: &str) -> Response<Body> {
    let text = match status {
        400 => "INVALID_ARGUMENT",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    json_response(
        status,
        &json!({"error": {"code": status, "message": message, "status": text}}),
    )
}

/// A field under its camelCase or snake_case name (proto JSON accepts both).
fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(snake))
}

fn invalid(req: &Value) -> Option<String> {
    let contents = req.get("contents").and_then(Value::as_array);
    let Some(contents) = contents.filter(|c| !c.is_empty()) else {
        return Some("* GenerateContentRequest.contents: contents is not specified".into());
    };
    for (i, c) in contents.iter().enumerate() {
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        if role != "user" && role != "model" {
            return Some(format!(
                "Please use a valid role: user, model. (contents[{i}].role = {role})"
            ));
        }
        if c.get("parts")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            return Some(format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty."
            ));
        }
    }
    None
}

fn usage(thoughts: bool) -> Value {
    let mut u = json!({"promptTokenCount": 19, "candidatesTokenCount": 10, "totalTokenCount": 29,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 19}]});
    if thoughts {
        u["thoughtsTokenCount"] = json!(5);
        u["totalTokenCount"] = json!(34);
    }
    u
}

/// Serves `:countTokens` with a `generateContentRequest` (`{"totalTokens": n, ...}`). The count
/// is the mock's own rule, so tests can tell what was counted: 3 per content, 2 for a system
/// instruction, 10 for tools.
fn count_tokens(model: &str, req: &Value) -> Response<Body> {
    let Some(inner) = field(req, "generateContentRequest", "generate_content_request") else {
        return error(
            400,
            "* CountTokensRequest: contents or generateContentRequest is required",
        );
    };
    if inner.get("model").and_then(Value::as_str) != Some(&format!("models/{model}")) {
        return error(
            400,
            "* GenerateContentRequest.model: must be the model of the URL, as models/{model}",
        );
    }
    if let Some(message) = invalid(inner) {
        return error(400, &message);
    }
    let contents = inner["contents"].as_array().map_or(0, Vec::len) as u64;
    let system = if field(inner, "systemInstruction", "system_instruction").is_some() {
        2
    } else {
        0
    };
    let tools = if inner.get("tools").is_some() { 10 } else { 0 };
    let total = 3 * contents + system + tools;
    json_response(
        200,
        &json!({"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}),
    )
}

/// Serves `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`.
pub async fn generate(state: &Arc<State>, r: &Recorded, req: &Value) -> Response<Body> {
    let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
    if query.split('&').any(|p| p.starts_with("key=")) {
        return error(
            400,
            "mock: API keys must be sent in the x-goog-api-key header, never in the URL",
        );
    }
    let keys = &state.config.gemini_keys;
    if !keys.is_empty() && !header(r, "x-goog-api-key").is_some_and(|k| keys.iter().any(|x| x == k))
    {
        return json_response(
            400,
            &json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"}}]}}),
        );
    }
    let Some((model, method)) = path.rsplit('/').next().and_then(|m| m.split_once(':')) else {
        return error(404, "mock: unknown path");
    };
    let model = model.to_string();
    if method == "countTokens" {
        return count_tokens(&model, req);
    }
    if method == "batchEmbedContents" {
        return crate::embed::gemini(&model, req);
    }
    let stream = method == "streamGenerateContent";
    if stream && !query.split('&').any(|p| p == "alt=sse") {
        return error(400, "mock: streamGenerateContent without alt=sse answers a JSON array; the gateway must ask for SSE");
    }
    if let Some(message) = invalid(req) {
        return error(400, &message);
    }
    if let Some(status) = model
        .strip_prefix("mock-error-")
        .and_then(|s| s.parse::<u16>().ok())
    {
        return error(status, &format!("mock error {status}"));
    }
    if model == "mock-hang" {
        std::future::pending::<()>().await;
    }
    let generation = field(req, "generationConfig", "generation_config")
        .cloned()
        .unwrap_or(Value::Null);
    let thoughts = generation
        .get("thinkingConfig")
        .or_else(|| generation.get("thinking_config"))
        .and_then(|t| field(t, "includeThoughts", "include_thoughts"))
        == Some(&json!(true));
    let json_mode = field(&generation, "responseMimeType", "response_mime_type")
        == Some(&json!("application/json"));
    let declared = field(req, "tools", "tools")
        .and_then(|t| t.get(0))
        .and_then(|t| field(t, "functionDeclarations", "function_declarations"))
        .and_then(|d| d.pointer("/0/name"))
        .and_then(Value::as_str);
    let last_user = req["contents"]
        .as_array()
        .and_then(|c| c.iter().rev().find(|c| c["role"] == "user"))
        .map(|c| c["parts"].to_string().to_lowercase())
        .unwrap_or_default();
    let call = declared
        .filter(|_| last_user.contains("weather") && !last_user.contains("functionresponse"));
    let mut parts = Vec::new();
    if thoughts {
        parts.push(json!({"text": "Let me think.", "thought": true}));
    }
    let texts: Vec<&str> = if json_mode {
        vec!["{\"answer\":", "\"Paris\"}"]
    } else {
        vec!["Hello", " from", " mock", " gemini"]
    };
    match call {
        Some(name) => parts.push(json!({"functionCall": {"name": name, "args": {"location": "Paris"}}, "thoughtSignature": "c2lnX21vY2s="})),
        None => parts.push(json!({"text": texts.concat()})),
    }
    let candidate = |parts: Value, finish: Option<&str>| {
        let mut c = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        c
    };
    let whole = |body: Value| {
        if !stream {
            return json_response(200, &body);
        }
        let (tx, response) = sse_response();
        tokio::spawn(async move {
            let _ = tx.send(Bytes::from(format!("data: {body}\r\n\r\n"))).await;
        });
        response
    };
    if model == "mock-prompt-blocked" {
        return whole(
            json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]},
                "usageMetadata": {"promptTokenCount": 19, "totalTokenCount": 19}, "modelVersion": model, "responseId": "mockresp1"}),
        );
    }
    if model == "mock-safety-stop" {
        return whole(
            json!({"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": true}]}],
                "usageMetadata": usage(false), "modelVersion": model, "responseId": "mockresp1"}),
        );
    }
    if !stream {
        return json_response(
            200,
            &json!({"candidates": [candidate(Value::Array(parts), Some("STOP"))], "usageMetadata": usage(thoughts),
                "modelVersion": model, "responseId": "mockresp1"}),
        );
    }
    let mut events = Vec::new();
    let piece = |c: Value, u: Option<Value>| {
        let mut e = json!({"candidates": [c], "modelVersion": model, "responseId": "mockresp1"});
        if let Some(u) = u {
            e["usageMetadata"] = u;
        }
        e
    };
    if thoughts {
        events.push(piece(
            candidate(json!([{"text": "Let me think.", "thought": true}]), None),
            None,
        ));
    }
    match call {
        Some(_) => events.push(piece(
            candidate(
                json!([parts.last().cloned().unwrap_or(Value::Null)]),
                Some("STOP"),
            ),
            Some(usage(thoughts)),
        )),
        None => {
            let last = texts.len() - 1;
            for (i, t) in texts.iter().enumerate() {
                let finish = (i == last).then_some("STOP");
                let u = (i == last).then(|| usage(thoughts));
                events.push(piece(candidate(json!([{"text": t}]), finish), u));
            }
        }
    }
    let (tx, response) = sse_response();
    let state = state.clone();
    tokio::spawn(async move {
        for (i, event) in events.iter().enumerate() {
            if i == 1 && model == "mock-stream-gate" {
                state.gate.notified().await;
            }
            if i == 2 && model == "mock-midstream-error" {
                let err = json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}});
                let _ = tx.send(Bytes::from(format!("data: {err}\r\n\r\n"))).await;
                return;
            }
            if tx
                .send(Bytes::from(format!("data: {event}\r\n\r\n")))
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
