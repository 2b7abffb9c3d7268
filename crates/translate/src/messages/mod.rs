//! The Anthropic Messages front door (`POST /v1/messages`): the request validated as Anthropic
//! does, translated to OpenAI chat for non-Anthropic models, and the OpenAI answer (whole or
//! streamed) translated back to an Anthropic message and event sequence.

pub mod count;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage_tap;

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// An Anthropic message id for an OpenAI completion id.
pub fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_string()
    } else {
        format!("msg_{}", id.trim_start_matches("chatcmpl-"))
    }
}
