//! Upstream failures mapped to client errors that name the provider: the provider's own 4xx passed
//! on in OpenAI shape, 5xx and transport failures as 502/503/504.

use serde_json::Value;

use crate::error::{ApiError, ErrorType};

/// How a call to an upstream failed before an HTTP answer arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// The host is not in the component's `allowed_outbound_hosts`.
    Denied,
    /// Connection refused, reset, DNS or TLS failure.
    Unreachable(String),
    /// Connect, first-byte or between-bytes timeout.
    Timeout,
    /// Anything else the HTTP layer reported.
    Other(String),
}

/// Maps a transport failure to 502/504, naming the provider and the host (never a key).
pub fn transport_error(provider: &str, host: &str, failure: &Transport) -> ApiError {
    match failure {
        Transport::Denied => ApiError::new(
            502,
            ErrorType::Upstream,
            format!("{provider}: outbound request to {host} denied: the host is not in this provider's allowed_outbound_hosts"),
        )
        .with_code("upstream_host_not_allowed"),
        Transport::Unreachable(why) => ApiError::new(
            502,
            ErrorType::Upstream,
            format!("{provider}: could not reach {host}: {why}"),
        )
        .with_code("upstream_unreachable"),
        Transport::Timeout => ApiError::new(
            504,
            ErrorType::Upstream,
            format!("{provider}: timed out waiting for {host}"),
        )
        .with_code("upstream_timeout"),
        Transport::Other(why) => ApiError::new(
            502,
            ErrorType::Upstream,
            format!("{provider}: request to {host} failed: {why}"),
        )
        .with_code("upstream_error"),
    }
}

/// Maps an upstream HTTP error answer (non-2xx) of an OpenAI-format server.
pub fn openai_error(provider: &str, status: u16, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let message = err
        .and_then(|e| {
            e.get("message")
                .and_then(Value::as_str)
                .or_else(|| e.as_str())
        })
        .map(str::to_string)
        .unwrap_or_else(|| snippet(body));
    let field = |k: &str| {
        err.and_then(|e| e.get(k)).and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        })
    };
    let mut e = by_status(provider, status, &message);
    e.code = field("code").or(e.code);
    e.param = field("param");
    e
}

/// An error for a given upstream status with the provider's message.
pub fn by_status(provider: &str, status: u16, message: &str) -> ApiError {
    let message = format!("{provider}: {message}");
    match status {
        400 | 409 | 413 | 415 | 422 => ApiError::new(status, ErrorType::InvalidRequest, message),
        401 => ApiError::new(401, ErrorType::Authentication, message),
        403 => ApiError::new(403, ErrorType::Permission, message),
        404 => ApiError::new(404, ErrorType::NotFound, message),
        429 => ApiError::new(429, ErrorType::RateLimit, message),
        408 | 504 => ApiError::new(504, ErrorType::Upstream, message).with_code("upstream_timeout"),
        503 | 529 => {
            ApiError::new(503, ErrorType::Upstream, message).with_code("upstream_unavailable")
        }
        s if (400..500).contains(&s) => ApiError::new(s, ErrorType::InvalidRequest, message),
        _ => ApiError::new(502, ErrorType::Upstream, message).with_code("upstream_error"),
    }
}

/// A short, printable excerpt (300 characters at most) of an error body with no parsable message.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "upstream returned an error with an empty body".into();
    }
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_4xx_with_provider_named() {
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-***","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let e = openai_error("openai", 401, body);
        assert_eq!(e.status, 401);
        assert_eq!(e.message, "openai: Incorrect API key provided: sk-***");
        assert_eq!(e.code.as_deref(), Some("invalid_api_key"));
        let e = openai_error("openai-compatible", 400, br#"{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}"#);
        assert!(e.message.starts_with("openai-compatible:"));
    }

    #[test]
    fn maps_5xx_and_transport() {
        assert_eq!(openai_error("openai", 500, b"boom").status, 502);
        assert_eq!(openai_error("openai", 503, b"").status, 503);
        assert_eq!(
            openai_error("openai", 500, b"").message,
            "openai: upstream returned an error with an empty body"
        );
        let t = transport_error("openai", "api.openai.com", &Transport::Timeout);
        assert_eq!(t.status, 504);
        assert!(t.message.contains("openai") && t.message.contains("api.openai.com"));
        assert_eq!(transport_error("x", "h", &Transport::Denied).status, 502);
        assert_eq!(
            transport_error("x", "h", &Transport::Unreachable("refused".into())).status,
            502
        );
    }
}
