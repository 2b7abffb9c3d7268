//! Anthropic errors (`{"type":"error","error":{"type","message"}}`) → client errors naming the
//! provider.

use gateway_core::upstream::{by_status, snippet};
use gateway_core::ApiError;
use serde_json::Value;

use super::PROVIDER;

/// An HTTP error answer from Anthropic.
pub fn from_response(status: u16, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| snippet(body));
    let mut e = by_status(PROVIDER, status, &message);
    if let Some(kind) = err.and_then(|e| e.get("type")).and_then(Value::as_str) {
        e.code = Some(kind.to_string());
    }
    e
}

/// An `error` event inside a stream (`{"type":"error","error":{"type","message"}}`).
pub fn from_event(event: &Value) -> ApiError {
    let kind = event
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("api_error");
    let status = match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    };
    from_response(status, event.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_documented_errors() {
        let e = from_response(
            401,
            br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_1"}"#,
        );
        assert_eq!(
            (e.status, e.message.as_str()),
            (401, "anthropic: invalid x-api-key")
        );
        assert_eq!(e.kind.as_openai(), "authentication_error");
        let e = from_response(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(
            (e.status, e.code.as_deref()),
            (503, Some("overloaded_error"))
        );
        assert_eq!(from_response(500, b"").status, 502);
        let e = from_event(
            &serde_json::json!({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}),
        );
        assert_eq!(e.status, 429);
    }
}
