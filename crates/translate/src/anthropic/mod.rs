//! OpenAI chat completions ⇄ Anthropic Messages (`POST /v1/messages`, `anthropic-version:
//! 2023-06-01`).

pub mod error;
pub mod request;
pub mod response;
pub mod stream;
pub mod usage;

/// The provider name used in messages.
pub const PROVIDER: &str = "anthropic";
/// The `anthropic-version` header value the gateway speaks.
pub const VERSION: &str = "2023-06-01";
/// `max_tokens` sent when neither the request nor `model_info.max_tokens` sets one.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// The tool used to get JSON output for `response_format` (LiteLLM's name, so logs line up).
pub const JSON_TOOL: &str = "json_tool_call";

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}
