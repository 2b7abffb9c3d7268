//! OpenAI chat completions ⇄ Google Gemini `generateContent` / `streamGenerateContent?alt=sse`.

pub mod count;
pub mod error;
pub mod ids;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;

/// The provider name used in messages.
pub const PROVIDER: &str = "gemini";

/// Gemini `finishReason` → OpenAI `finish_reason` (`tool_calls` when the candidate called tools).
pub fn finish_reason(reason: &str, called_tools: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => "content_filter",
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}

/// Usage from `usageMetadata`: thinking tokens count as completion (reasoning) tokens, as OpenAI
/// counts them.
pub fn tokens(response: &serde_json::Value) -> Option<crate::openai::Tokens> {
    let u = response.get("usageMetadata")?;
    let n = |k: &str| u.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let reasoning = n("thoughtsTokenCount");
    Some(crate::openai::Tokens {
        prompt: n("promptTokenCount").saturating_add(n("toolUsePromptTokenCount")),
        completion: n("candidatesTokenCount").saturating_add(reasoning),
        cached: n("cachedContentTokenCount"),
        cache_write: 0,
        reasoning,
    })
}
