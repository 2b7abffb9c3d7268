//! Anthropic message → OpenAI `chat.completion`.

use gateway_core::ApiError;
use serde_json::{json, Value};

use super::{finish_reason, usage, JSON_TOOL, PROVIDER};
use crate::openai::{completion, tool_call};

/// Translates a whole Anthropic message. `json_tool`: the request emulated `response_format`.
pub fn translate(message: &Value, json_tool: bool, created: u64) -> Result<Value, ApiError> {
    if message.get("type").and_then(Value::as_str) != Some("message") {
        return Err(ApiError::new(
            502,
            gateway_core::ErrorType::Upstream,
            format!("{PROVIDER}: the answer is not a message object"),
        )
        .with_code("upstream_error"));
    }
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let mut json_answered = false;
    for block in message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => {
                reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or(""));
                thinking_blocks.push(block.clone());
            }
            Some("redacted_thinking") => thinking_blocks.push(block.clone()),
            Some("tool_use") => {
                let name = block.get("name").and_then(Value::as_str).unwrap_or("");
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                if json_tool && name == JSON_TOOL {
                    text = input.to_string();
                    json_answered = true;
                } else {
                    let id = block.get("id").and_then(Value::as_str).unwrap_or("");
                    tool_calls.push(tool_call(id, name, &input.to_string()));
                }
            }
            _ => {}
        }
    }
    let stop = message
        .get("stop_reason")
        .and_then(Value::as_str)
        .unwrap_or("end_turn");
    let finish = if json_answered && stop == "tool_use" {
        "stop"
    } else {
        finish_reason(stop)
    };
    let mut msg = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
        "annotations": [],
    });
    if !tool_calls.is_empty() {
        msg["tool_calls"] = Value::Array(tool_calls);
    }
    if !thinking_blocks.is_empty() {
        msg["reasoning_content"] = json!(reasoning);
        msg["thinking_blocks"] = Value::Array(thinking_blocks);
    }
    let id = message.get("id").and_then(Value::as_str).unwrap_or("msg");
    let model = message.get("model").and_then(Value::as_str).unwrap_or("");
    let choice = json!({"index": 0, "message": msg, "logprobs": null, "finish_reason": finish});
    Ok(completion(
        id,
        model,
        created,
        vec![choice],
        usage::of_message(message),
    ))
}
