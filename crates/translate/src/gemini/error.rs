//! Gemini errors (`{"error":{"code","message","status","details"}}`), prompt blocks and safety
//! stops → client errors naming the provider.

use gateway_core::upstream::{by_status, snippet};
use gateway_core::{ApiError, ErrorType};
use serde_json::Value;

use super::PROVIDER;

/// An HTTP error answer (or an error object inside a stream) from Gemini.
pub fn from_response(status: u16, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    from_error(status, err, body)
}

/// An `{"error":{...}}` object.
pub fn from_error(status: u16, err: Option<&Value>, raw: &[u8]) -> ApiError {
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| snippet(raw));
    let reason = err
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .and_then(|d| {
            d.iter()
                .find_map(|x| x.get("reason").and_then(Value::as_str))
        });
    // Gemini answers a wrong key with 400 INVALID_ARGUMENT / API_KEY_INVALID: it is an
    // authentication failure.
    let status = match reason {
        Some("API_KEY_INVALID") => 401,
        _ => status,
    };
    let mut e = by_status(PROVIDER, status, &message);
    e.code = reason
        .or_else(|| err.and_then(|e| e.get("status")).and_then(Value::as_str))
        .map(str::to_string)
        .or(e.code);
    e
}

/// 400 for a prompt Gemini blocked (`promptFeedback.blockReason`).
pub fn prompt_blocked(reason: &str) -> ApiError {
    ApiError::new(
        400,
        ErrorType::InvalidRequest,
        format!("{PROVIDER}: the prompt was blocked ({reason})"),
    )
    .with_code("content_policy_violation")
}

/// 400 for an answer stopped by safety filters before producing any content.
pub fn safety_stop(reason: &str) -> ApiError {
    ApiError::new(
        400,
        ErrorType::InvalidRequest,
        format!("{PROVIDER}: the response was blocked by safety filters ({reason})"),
    )
    .with_code("content_policy_violation")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_key_is_401() {
        let body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}"#;
        let e = from_response(400, body);
        assert_eq!(
            (e.status, e.code.as_deref()),
            (401, Some("API_KEY_INVALID"))
        );
        assert_eq!(
            e.message,
            "gemini: API key not valid. Please pass a valid API key."
        );
        let e = from_response(
            429,
            br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#,
        );
        assert_eq!(
            (e.status, e.code.as_deref()),
            (429, Some("RESOURCE_EXHAUSTED"))
        );
        assert_eq!(from_response(503, b"{}").status, 503);
        assert_eq!(from_response(500, b"").status, 502);
    }
}
