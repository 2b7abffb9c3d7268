//! Reading the scalar OpenAI request parameters every translation needs, with 400s that name the
//! parameter.

use gateway_core::ApiError;
use serde_json::{Map, Value};

/// `reasoning_effort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// `none`: no reasoning.
    None,
    /// `minimal`.
    Minimal,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `xhigh`.
    XHigh,
}

impl Effort {
    /// Thinking-token budget used for Anthropic and Gemini 2.x (LiteLLM's values, documented in
    /// the README): minimal 1024 (Anthropic's minimum), low 1024, medium 2048, high 4096,
    /// xhigh 16384.
    pub fn budget(self) -> u64 {
        match self {
            Effort::None => 0,
            Effort::Minimal | Effort::Low => 1024,
            Effort::Medium => 2048,
            Effort::High => 4096,
            Effort::XHigh => 16384,
        }
    }

    /// The effort whose budget is closest below `budget` (for Anthropic `thinking` → OpenAI).
    pub fn from_budget(budget: u64) -> Effort {
        match budget {
            0 => Effort::None,
            1..=1535 => Effort::Low,
            1536..=3071 => Effort::Medium,
            3072..=12287 => Effort::High,
            _ => Effort::XHigh,
        }
    }

    /// The OpenAI string.
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::None => "none",
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::XHigh => "xhigh",
        }
    }
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFormat {
    /// `{"type":"json_object"}`.
    JsonObject,
    /// `{"type":"json_schema","json_schema":{"name","schema","strict"}}`.
    JsonSchema {
        /// Schema name.
        name: String,
        /// The JSON Schema.
        schema: Value,
    },
}

fn bad(param: &str, message: String) -> ApiError {
    ApiError::bad_request(message).with_param(param)
}

/// A number parameter, if present.
pub fn number(body: &Map<String, Value>, key: &str) -> Result<Option<f64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| bad(key, format!("`{key}` must be a number"))),
    }
}

/// A non-negative integer parameter, if present.
pub fn integer(body: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(key, format!("`{key}` must be a non-negative integer"))),
    }
}

/// A boolean parameter, if present.
pub fn boolean(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| bad(key, format!("`{key}` must be a boolean"))),
    }
}

/// `max_completion_tokens`, else `max_tokens`; must be at least 1.
pub fn max_tokens(body: &Map<String, Value>) -> Result<Option<u64>, ApiError> {
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(n) = integer(body, key)? {
            if n == 0 {
                return Err(bad(key, format!("`{key}` must be at least 1")));
            }
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// `stop`: a string or a list of strings.
pub fn stop(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    match body.get("stop") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str().map(str::to_string).ok_or_else(|| {
                    bad(
                        "stop",
                        "`stop` must be a string or a list of strings".into(),
                    )
                })
            })
            .collect(),
        Some(_) => Err(bad(
            "stop",
            "`stop` must be a string or a list of strings".into(),
        )),
    }
}

/// `reasoning_effort`.
pub fn effort(body: &Map<String, Value>) -> Result<Option<Effort>, ApiError> {
    let Some(v) = body.get("reasoning_effort").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let effort = match v.as_str() {
        Some("none") => Effort::None,
        Some("minimal") => Effort::Minimal,
        Some("low") => Effort::Low,
        Some("medium") => Effort::Medium,
        Some("high") => Effort::High,
        Some("xhigh") => Effort::XHigh,
        _ => {
            return Err(bad(
                "reasoning_effort",
                "`reasoning_effort` must be one of none, minimal, low, medium, high, xhigh".into(),
            ))
        }
    };
    Ok(Some(effort))
}

/// `response_format` (`text` counts as none).
pub fn response_format(body: &Map<String, Value>) -> Result<Option<ResponseFormat>, ApiError> {
    let Some(rf) = body.get("response_format").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match rf.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let js = rf
                .get("json_schema")
                .filter(|v| v.is_object())
                .ok_or_else(|| {
                    bad(
                        "response_format.json_schema",
                        "`response_format.json_schema` must be an object with a `schema`".into(),
                    )
                })?;
            let schema = js
                .get("schema")
                .filter(|s| s.is_object())
                .cloned()
                .ok_or_else(|| {
                    bad(
                        "response_format.json_schema.schema",
                        "`response_format.json_schema.schema` must be a JSON Schema object".into(),
                    )
                })?;
            let name = js
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("response")
                .to_string();
            Ok(Some(ResponseFormat::JsonSchema { name, schema }))
        }
        _ => Err(bad(
            "response_format.type",
            "`response_format.type` must be text, json_object or json_schema".into(),
        )),
    }
}

/// OpenAI parameters the Anthropic and Gemini translations cannot honour: each would change the
/// answer's shape (log probabilities, audio, predicted outputs, web search, legacy functions).
const UNTRANSLATABLE: &[&str] = &[
    "logprobs",
    "top_logprobs",
    "audio",
    "prediction",
    "web_search_options",
    "functions",
    "function_call",
];

/// Removes what [`reject`] would refuse for `provider` (`anthropic` also `n`), for
/// `drop_params`; returns the names dropped.
pub fn drop_untranslatable(body: &mut Map<String, Value>, provider: &str) -> Vec<String> {
    let mut dropped = Vec::new();
    for key in UNTRANSLATABLE {
        if body.remove(*key).is_some() {
            dropped.push(key.to_string());
        }
    }
    if provider == "anthropic" && body.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        body.remove("n");
        dropped.push("n".into());
    }
    dropped
}

/// 400 `unsupported_parameter` when the request sets one of [`UNTRANSLATABLE`].
pub fn reject(body: &Map<String, Value>, provider: &str) -> Result<(), ApiError> {
    for key in UNTRANSLATABLE {
        let set = match body.get(*key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        if set {
            return Err(bad(
                key,
                format!("`{key}` is not supported by {provider} models through this gateway"),
            )
            .with_code("unsupported_parameter"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn drops_what_would_be_refused() {
        let mut body =
            map(json!({"model": "m", "logprobs": true, "n": 2, "audio": {}, "user": "u"}));
        let dropped = drop_untranslatable(&mut body, "anthropic");
        assert_eq!(dropped, ["logprobs", "audio", "n"]);
        assert!(reject(&body, "anthropic").is_ok());
        assert_eq!(body.keys().collect::<Vec<_>>(), ["model", "user"]);
        let mut body = map(json!({"n": 2}));
        assert!(drop_untranslatable(&mut body, "gemini").is_empty());
    }

    #[test]
    fn reads_and_rejects() {
        assert_eq!(max_tokens(&map(json!({"max_tokens": 5}))).unwrap(), Some(5));
        assert_eq!(
            max_tokens(&map(json!({"max_tokens": 5, "max_completion_tokens": 7}))).unwrap(),
            Some(7)
        );
        assert_eq!(
            max_tokens(&map(json!({"max_tokens": 0})))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            max_tokens(&map(json!({"max_tokens": "x"})))
                .unwrap_err()
                .param
                .as_deref(),
            Some("max_tokens")
        );
        assert_eq!(stop(&map(json!({"stop": "a"}))).unwrap(), vec!["a"]);
        assert!(stop(&map(json!({"stop": [1]}))).is_err());
        assert_eq!(
            effort(&map(json!({"reasoning_effort": "high"}))).unwrap(),
            Some(Effort::High)
        );
        assert!(effort(&map(json!({"reasoning_effort": "max"}))).is_err());
        assert!(response_format(&map(json!({"response_format": {"type": "xml"}}))).is_err());
        assert!(
            response_format(&map(json!({"response_format": {"type": "json_schema"}}))).is_err()
        );
        let e = reject(&map(json!({"logprobs": true})), "anthropic").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));
        assert!(reject(&map(json!({"logprobs": false})), "anthropic").is_ok());
    }

    #[test]
    fn budgets_round_trip() {
        for e in [Effort::Low, Effort::Medium, Effort::High, Effort::XHigh] {
            assert_eq!(Effort::from_budget(e.budget()), e);
        }
    }
}
