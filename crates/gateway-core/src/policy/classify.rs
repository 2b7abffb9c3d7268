//! What kind of failure an attempt ended with, and whether trying again can help.

use crate::error::ApiError;

/// The class of a failed attempt (LiteLLM's exception names in `retry_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// 400 and other 4xx the caller must fix.
    BadRequest,
    /// 401.
    Authentication,
    /// 403.
    PermissionDenied,
    /// 404.
    NotFound,
    /// 400 naming the context window (`context_length_exceeded`, "prompt is too long").
    ContextWindow,
    /// 400 refused by a content policy or safety filter.
    ContentPolicy,
    /// 408 / 504 and transport timeouts.
    Timeout,
    /// 409.
    Conflict,
    /// 429.
    RateLimit,
    /// 5xx from the provider.
    Server,
    /// No HTTP answer: connection refused, reset, DNS, TLS.
    Transport,
    /// Not tried: the deployment is cooling down (or over its own RPM/TPM).
    Cooling,
}

impl ErrorClass {
    /// Classifies an upstream error (already mapped to the gateway's [`ApiError`]).
    pub fn of(e: &ApiError) -> ErrorClass {
        let code = e.code.as_deref().unwrap_or("");
        let message = e.message.to_ascii_lowercase();
        match e.status {
            429 => ErrorClass::RateLimit,
            408 | 504 => ErrorClass::Timeout,
            409 => ErrorClass::Conflict,
            401 => ErrorClass::Authentication,
            403 => ErrorClass::PermissionDenied,
            404 => ErrorClass::NotFound,
            502 if matches!(code, "upstream_unreachable" | "upstream_host_not_allowed") => {
                ErrorClass::Transport
            }
            s if s >= 500 => ErrorClass::Server,
            _ if code == "context_length_exceeded"
                || message.contains("context length")
                || message.contains("context window")
                || message.contains("prompt is too long")
                || message.contains("maximum context")
                || message.contains("input token count") =>
            {
                ErrorClass::ContextWindow
            }
            _ if matches!(code, "content_policy_violation" | "content_filter")
                || message.contains("content policy")
                || message.contains("content management policy")
                || message.contains("safety") =>
            {
                ErrorClass::ContentPolicy
            }
            _ => ErrorClass::BadRequest,
        }
    }

    /// Whether the same request can succeed when tried again (here or on another deployment):
    /// 408, 409, 429, 5xx, transport failures and timeouts. Never the caller's own mistakes.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::Timeout
                | ErrorClass::Conflict
                | ErrorClass::RateLimit
                | ErrorClass::Server
                | ErrorClass::Transport
                | ErrorClass::Cooling
        )
    }

    /// The short name used in logs, headers, `/health` and usage rows.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::BadRequest => "bad_request",
            ErrorClass::Authentication => "authentication",
            ErrorClass::PermissionDenied => "permission_denied",
            ErrorClass::NotFound => "not_found",
            ErrorClass::ContextWindow => "context_window",
            ErrorClass::ContentPolicy => "content_policy",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Conflict => "conflict",
            ErrorClass::RateLimit => "rate_limit",
            ErrorClass::Server => "server",
            ErrorClass::Transport => "transport",
            ErrorClass::Cooling => "cooling",
        }
    }

    /// LiteLLM's `retry_policy` key for this class.
    pub fn policy_key(self) -> &'static str {
        match self {
            ErrorClass::BadRequest => "BadRequestErrorRetries",
            ErrorClass::Authentication => "AuthenticationErrorRetries",
            ErrorClass::PermissionDenied => "PermissionDeniedErrorRetries",
            ErrorClass::NotFound => "NotFoundErrorRetries",
            ErrorClass::ContextWindow => "ContextWindowExceededErrorRetries",
            ErrorClass::ContentPolicy => "ContentPolicyViolationErrorRetries",
            ErrorClass::Timeout => "TimeoutErrorRetries",
            ErrorClass::Conflict => "ConflictErrorRetries",
            ErrorClass::RateLimit => "RateLimitErrorRetries",
            ErrorClass::Server | ErrorClass::Cooling => "InternalServerErrorRetries",
            ErrorClass::Transport => "APIConnectionErrorRetries",
        }
    }

    /// Every class, for parsing `retry_policy` keys.
    pub const ALL: [ErrorClass; 12] = [
        ErrorClass::BadRequest,
        ErrorClass::Authentication,
        ErrorClass::PermissionDenied,
        ErrorClass::NotFound,
        ErrorClass::ContextWindow,
        ErrorClass::ContentPolicy,
        ErrorClass::Timeout,
        ErrorClass::Conflict,
        ErrorClass::RateLimit,
        ErrorClass::Server,
        ErrorClass::Transport,
        ErrorClass::Cooling,
    ];

    /// How telling this failure is as the final answer when every attempt failed: the caller's
    /// own mistake first, then the provider failing, then rate limits, then cooldowns.
    pub fn weight(self) -> u8 {
        match self {
            ErrorClass::Cooling => 0,
            ErrorClass::RateLimit => 1,
            c if c.retryable() => 2,
            _ => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorType;

    fn e(status: u16, code: Option<&str>, message: &str) -> ApiError {
        let mut e = ApiError::new(status, ErrorType::Upstream, message);
        e.code = code.map(str::to_string);
        e
    }

    #[test]
    fn classes_and_retryability() {
        let table = [
            (e(400, None, "bad"), ErrorClass::BadRequest, false),
            (e(401, None, "x"), ErrorClass::Authentication, false),
            (e(403, None, "x"), ErrorClass::PermissionDenied, false),
            (e(404, None, "x"), ErrorClass::NotFound, false),
            (e(413, None, "x"), ErrorClass::BadRequest, false),
            (e(422, None, "x"), ErrorClass::BadRequest, false),
            (e(408, None, "x"), ErrorClass::Timeout, true),
            (e(409, None, "x"), ErrorClass::Conflict, true),
            (e(429, None, "x"), ErrorClass::RateLimit, true),
            (e(500, None, "x"), ErrorClass::Server, true),
            (
                e(503, Some("upstream_unavailable"), "x"),
                ErrorClass::Server,
                true,
            ),
            (
                e(504, Some("upstream_timeout"), "x"),
                ErrorClass::Timeout,
                true,
            ),
            (
                e(502, Some("upstream_unreachable"), "x"),
                ErrorClass::Transport,
                true,
            ),
            (
                e(400, Some("context_length_exceeded"), "x"),
                ErrorClass::ContextWindow,
                false,
            ),
            (
                e(
                    400,
                    None,
                    "anthropic: prompt is too long: 210000 tokens > 200000 maximum",
                ),
                ErrorClass::ContextWindow,
                false,
            ),
            (
                e(400, Some("content_policy_violation"), "x"),
                ErrorClass::ContentPolicy,
                false,
            ),
        ];
        for (error, class, retryable) in table {
            assert_eq!(ErrorClass::of(&error), class, "{error:?}");
            assert_eq!(class.retryable(), retryable, "{class:?}");
        }
    }

    #[test]
    fn the_callers_mistake_is_the_most_telling() {
        assert!(ErrorClass::BadRequest.weight() > ErrorClass::Server.weight());
        assert!(ErrorClass::Server.weight() > ErrorClass::RateLimit.weight());
        assert!(ErrorClass::RateLimit.weight() > ErrorClass::Cooling.weight());
    }
}
