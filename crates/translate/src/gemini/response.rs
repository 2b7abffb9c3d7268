//! Gemini `GenerateContentResponse` → OpenAI `chat.completion`.

use gateway_core::ApiError;
use serde_json::{json, Value};

use super::{error, finish_reason, ids, tokens};
use crate::openai::{completion, tool_call};

/// The content of one candidate (or one streamed piece of it).
#[derive(Debug, Default)]
pub struct Content {
    /// Answer text.
    pub text: String,
    /// Thought summaries.
    pub reasoning: String,
    /// Function calls: name, JSON arguments, thought signature.
    pub calls: Vec<(String, String, Option<String>)>,
}

/// Reads a candidate's parts.
pub fn content(candidate: &Value) -> Content {
    let mut c = Content::default();
    let parts = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array);
    for p in parts.into_iter().flatten() {
        if let Some(f) = p.get("functionCall") {
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let args = f.get("args").cloned().unwrap_or_else(|| json!({}));
            let sig = p
                .get("thoughtSignature")
                .and_then(Value::as_str)
                .map(str::to_string);
            c.calls.push((name, args.to_string(), sig));
        } else if let Some(t) = p.get("text").and_then(Value::as_str) {
            if p.get("thought").and_then(Value::as_bool) == Some(true) {
                c.reasoning.push_str(t);
            } else {
                c.text.push_str(t);
            }
        }
    }
    c
}

/// The response id (Gemini's `responseId`, else a fixed one).
pub fn response_id(resp: &Value) -> String {
    resp.get("responseId")
        .and_then(Value::as_str)
        .unwrap_or("gemini")
        .to_string()
}

/// A prompt block (`promptFeedback.blockReason` and no candidates) as an error.
pub fn blocked(resp: &Value) -> Option<ApiError> {
    let reason = resp
        .pointer("/promptFeedback/blockReason")
        .and_then(Value::as_str)?;
    let none = resp
        .get("candidates")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    none.then(|| error::prompt_blocked(reason))
}

/// Translates a whole response. `model` is used when the response names none.
pub fn translate(resp: &Value, model: &str, created: u64) -> Result<Value, ApiError> {
    if let Some(e) = blocked(resp) {
        return Err(e);
    }
    let rid = response_id(resp);
    let candidates = resp
        .get("candidates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut choices = Vec::new();
    for (i, cand) in candidates.iter().enumerate() {
        let index = cand
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(i as u64);
        let c = content(cand);
        let reason = cand
            .get("finishReason")
            .and_then(Value::as_str)
            .unwrap_or("STOP");
        let finish = finish_reason(reason, !c.calls.is_empty());
        if finish == "content_filter"
            && c.text.is_empty()
            && c.calls.is_empty()
            && candidates.len() == 1
        {
            return Err(error::safety_stop(reason));
        }
        let calls: Vec<Value> = c
            .calls
            .iter()
            .enumerate()
            .map(|(n, (name, args, sig))| {
                tool_call(
                    &ids::make(&rid, index, n as u64, sig.as_deref()),
                    name,
                    args,
                )
            })
            .collect();
        let mut msg = json!({
            "role": "assistant",
            "content": if c.text.is_empty() && !calls.is_empty() { Value::Null } else { json!(c.text) },
            "refusal": null,
            "annotations": [],
        });
        if !calls.is_empty() {
            msg["tool_calls"] = Value::Array(calls);
        }
        if !c.reasoning.is_empty() {
            msg["reasoning_content"] = json!(c.reasoning);
        }
        choices.push(
            json!({"index": index, "message": msg, "logprobs": null, "finish_reason": finish}),
        );
    }
    if choices.is_empty() {
        return Err(ApiError::new(
            502,
            gateway_core::ErrorType::Upstream,
            "gemini: the response has no candidates",
        )
        .with_code("upstream_error"));
    }
    let model = resp
        .get("modelVersion")
        .and_then(Value::as_str)
        .unwrap_or(model);
    Ok(completion(
        &format!("chatcmpl-{rid}"),
        model,
        created,
        choices,
        tokens(resp).unwrap_or_default(),
    ))
}
