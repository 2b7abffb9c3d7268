//! The gateway's one client-facing error: every failure anywhere in the gateway is turned into an
//! [`ApiError`] exactly once, and rendered as OpenAI's (or Anthropic's) error JSON.

use serde_json::{json, Value};

/// The error kinds OpenAI SDKs understand, as the `type` field of the error JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A malformed or unacceptable request (4xx).
    InvalidRequest,
    /// Missing, wrong, revoked or expired caller key (401).
    Authentication,
    /// The caller's key may not do this (403).
    Permission,
    /// The named model or path does not exist (404).
    NotFound,
    /// Rate limit or budget exhausted (429).
    RateLimit,
    /// A failure of the gateway itself or its configuration (500).
    Server,
    /// The upstream provider failed or could not be reached (502/503/504).
    Upstream,
}

impl ErrorType {
    /// The OpenAI `type` string.
    pub fn as_openai(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Permission => "permission_error",
            ErrorType::NotFound => "not_found_error",
            ErrorType::RateLimit => "rate_limit_error",
            ErrorType::Server => "server_error",
            ErrorType::Upstream => "upstream_error",
        }
    }

    /// The Anthropic `error.type` string for the same kind.
    pub fn as_anthropic(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Permission => "permission_error",
            ErrorType::NotFound => "not_found_error",
            ErrorType::RateLimit => "rate_limit_error",
            ErrorType::Server => "api_error",
            ErrorType::Upstream => "api_error",
        }
    }
}

/// A client-facing error: HTTP status plus the fields of OpenAI's error JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// Error kind.
    pub kind: ErrorType,
    /// Machine-readable code (`model_not_found`, `config_error`, ...), if any.
    pub code: Option<String>,
    /// The request parameter at fault, if any.
    pub param: Option<String>,
    /// Human-readable message. Never contains a secret.
    pub message: String,
    /// Extra response headers (e.g. `retry-after`).
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    /// A new error with no code, param or headers.
    pub fn new(status: u16, kind: ErrorType, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            code: None,
            param: None,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 400 `invalid_request_error`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, ErrorType::InvalidRequest, message)
    }

    /// 500 `server_error`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, ErrorType::Server, message)
    }

    /// Sets the machine-readable code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the offending parameter.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds response headers.
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = (String, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// OpenAI's error JSON: `{"error":{"message","type","param","code"}}`.
    pub fn to_openai_json(&self) -> Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind.as_openai(),
                "param": self.param,
                "code": self.code,
            }
        })
    }

    /// Anthropic's error JSON: `{"type":"error","error":{"type","message"}}`.
    pub fn to_anthropic_json(&self) -> Value {
        json!({
            "type": "error",
            "error": { "type": self.kind.as_anthropic(), "message": self.message }
        })
    }

    /// Serialized OpenAI error body.
    pub fn openai_body(&self) -> Vec<u8> {
        self.to_openai_json().to_string().into_bytes()
    }

    /// Reads an error back from OpenAI error JSON (as produced by [`ApiError::to_openai_json`]),
    /// e.g. when a provider component answered with an error.
    pub fn from_openai_json(status: u16, body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let err = value.get("error")?;
        let message = err.get("message")?.as_str()?.to_string();
        let kind = match err.get("type").and_then(Value::as_str) {
            Some("authentication_error") => ErrorType::Authentication,
            Some("permission_error") => ErrorType::Permission,
            Some("not_found_error") => ErrorType::NotFound,
            Some("rate_limit_error") => ErrorType::RateLimit,
            Some("server_error") => ErrorType::Server,
            Some("upstream_error") => ErrorType::Upstream,
            _ => ErrorType::InvalidRequest,
        };
        let text = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_string);
        Some(ApiError {
            status,
            kind,
            code: text("code"),
            param: text("param"),
            message,
            headers: Vec::new(),
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape_has_all_four_fields() {
        let e = ApiError::bad_request("bad").with_param("model");
        let v = e.to_openai_json();
        assert_eq!(v["error"]["message"], "bad");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "model");
        assert!(v["error"].get("code").is_some_and(Value::is_null));
    }

    #[test]
    fn round_trips_through_json() {
        let e = ApiError::new(404, ErrorType::NotFound, "nope").with_code("model_not_found");
        let back = ApiError::from_openai_json(404, &e.openai_body()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn anthropic_shape() {
        let v = ApiError::internal("x").to_anthropic_json();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "api_error");
    }
}
