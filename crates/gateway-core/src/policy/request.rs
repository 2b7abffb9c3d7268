//! A request's own routing options (LiteLLM's body keys and `x-litellm-*` headers), taken out of
//! the body so they never reach a provider.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Routing options a caller set on one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestPolicy {
    /// `num_retries` (body) or `x-litellm-num-retries`.
    pub num_retries: Option<u32>,
    /// `fallbacks` (body): replaces the configured fallbacks of the requested group.
    pub fallbacks: Option<Vec<String>>,
    /// `disable_fallbacks` (body).
    pub disable_fallbacks: bool,
    /// `timeout` (body, seconds) or `x-litellm-timeout`: per attempt, whole answer.
    pub timeout_ms: Option<u64>,
    /// `stream_timeout` (body, seconds): per attempt, time to the first chunk.
    pub stream_timeout_ms: Option<u64>,
    /// `drop_params` (body).
    pub drop_params: Option<bool>,
}

/// The body keys [`RequestPolicy::take`] removes.
const KEYS: &[&str] = &[
    "num_retries",
    "fallbacks",
    "disable_fallbacks",
    "timeout",
    "stream_timeout",
    "drop_params",
];

fn bad(param: &str, message: &str) -> ApiError {
    ApiError::bad_request(format!("`{param}` {message}")).with_param(param)
}

fn seconds(v: &Value, param: &str) -> Result<u64, ApiError> {
    let s = match v {
        Value::String(s) => s.trim().parse::<f64>().ok(),
        v => v.as_f64(),
    };
    s.filter(|s| *s > 0.0 && s.is_finite())
        .map(|s| (s * 1000.0) as u64)
        .ok_or_else(|| bad(param, "must be a positive number of seconds"))
}

fn retries(v: &Value, param: &str) -> Result<u32, ApiError> {
    let n = match v {
        Value::String(s) => s.trim().parse::<u64>().ok(),
        v => v.as_u64(),
    };
    n.and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= 10)
        .ok_or_else(|| bad(param, "must be an integer from 0 to 10"))
}

impl RequestPolicy {
    /// Takes the routing keys out of `body` and reads the routing headers (`header` looks one
    /// up by lower-case name).
    pub fn take(
        body: &mut Map<String, Value>,
        header: impl Fn(&str) -> Option<String>,
    ) -> Result<RequestPolicy, ApiError> {
        let mut p = RequestPolicy::default();
        let mut found: Vec<(&str, Value)> = Vec::new();
        for key in KEYS {
            if let Some(v) = body.remove(*key) {
                if !v.is_null() {
                    found.push((key, v));
                }
            }
        }
        for (key, v) in found {
            match key {
                "num_retries" => p.num_retries = Some(retries(&v, key)?),
                "fallbacks" => {
                    let list = v
                        .as_array()
                        .ok_or_else(|| bad(key, "must be a list of model names"))?;
                    let names = list
                        .iter()
                        .map(|m| m.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad(key, "must be a list of model names"))?;
                    p.fallbacks = Some(names);
                }
                "disable_fallbacks" => {
                    p.disable_fallbacks =
                        v.as_bool().ok_or_else(|| bad(key, "must be a boolean"))?
                }
                "timeout" => p.timeout_ms = Some(seconds(&v, key)?),
                "stream_timeout" => p.stream_timeout_ms = Some(seconds(&v, key)?),
                _ => {
                    p.drop_params = Some(v.as_bool().ok_or_else(|| bad(key, "must be a boolean"))?)
                }
            }
        }
        if let Some(h) = header("x-litellm-num-retries") {
            p.num_retries = Some(retries(&Value::String(h), "x-litellm-num-retries")?);
        }
        if let Some(h) = header("x-litellm-timeout") {
            p.timeout_ms = Some(seconds(&Value::String(h), "x-litellm-timeout")?);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn takes_routing_keys_out_of_the_body() {
        let mut body = json!({"model": "m", "num_retries": 1, "fallbacks": ["b"], "timeout": 2.5,
            "stream_timeout": "1", "disable_fallbacks": false, "drop_params": true, "user": "u"})
        .as_object()
        .cloned()
        .unwrap();
        let p = RequestPolicy::take(&mut body, |_| None).unwrap();
        assert_eq!(body.keys().collect::<Vec<_>>(), ["model", "user"]);
        assert_eq!(p.num_retries, Some(1));
        assert_eq!(p.fallbacks, Some(vec!["b".to_string()]));
        assert_eq!(p.timeout_ms, Some(2_500));
        assert_eq!(p.stream_timeout_ms, Some(1_000));
        assert_eq!(p.drop_params, Some(true));
    }

    #[test]
    fn headers_win_and_bad_values_are_400s_naming_the_param() {
        let mut body = Map::new();
        body.insert("num_retries".into(), json!(3));
        let p = RequestPolicy::take(&mut body, |h| match h {
            "x-litellm-num-retries" => Some("0".into()),
            "x-litellm-timeout" => Some("0.5".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((p.num_retries, p.timeout_ms), (Some(0), Some(500)));
        for (v, param) in [
            (json!({"num_retries": -1}), "num_retries"),
            (json!({"num_retries": 99}), "num_retries"),
            (json!({"fallbacks": "b"}), "fallbacks"),
            (json!({"fallbacks": [1]}), "fallbacks"),
            (json!({"timeout": 0}), "timeout"),
            (json!({"disable_fallbacks": "yes"}), "disable_fallbacks"),
        ] {
            let mut body = v.as_object().cloned().unwrap();
            let e = RequestPolicy::take(&mut body, |_| None).unwrap_err();
            assert_eq!((e.status, e.param.as_deref()), (400, Some(param)));
        }
        let e = RequestPolicy::take(&mut Map::new(), |h| {
            (h == "x-litellm-timeout").then(|| "soon".to_string())
        })
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("x-litellm-timeout"));
    }
}
