//! Checks shared by the request parsers of the OpenAI endpoints besides chat.

use gateway_core::ApiError;
use serde_json::{Map, Value};

/// The body as a JSON object and its non-empty `model`.
pub fn model_of(raw: &[u8]) -> Result<(Map<String, Value>, String), ApiError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        ApiError::bad_request(format!(
            "We could not parse the JSON body of your request: {e}"
        ))
        .with_code("invalid_json")
    })?;
    let Value::Object(body) = value else {
        return Err(
            ApiError::bad_request("The request body must be a JSON object")
                .with_code("invalid_json"),
        );
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
        Some(Value::String(_)) => {
            return Err(ApiError::bad_request("`model` must not be empty").with_param("model"))
        }
        None | Some(Value::Null) => {
            return Err(
                ApiError::bad_request("you must provide a model parameter").with_param("model")
            )
        }
        Some(_) => {
            return Err(ApiError::bad_request("`model` must be a string").with_param("model"))
        }
    };
    Ok((body, model))
}

/// `stream`: absent, null or a boolean.
pub fn stream_flag(body: &Map<String, Value>) -> Result<bool, ApiError> {
    match body.get("stream") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad_request("`stream` must be a boolean").with_param("stream")),
    }
}

/// `stream_options.include_usage`; `stream_options` must be an object when present.
pub fn wants_usage(body: &Map<String, Value>) -> Result<bool, ApiError> {
    match body.get("stream_options") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Object(o)) => Ok(o
            .get("include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
        Some(_) => Err(ApiError::bad_request("`stream_options` must be an object")
            .with_param("stream_options")),
    }
}

/// A 400 naming the parameter.
pub fn bad(message: impl Into<String>, param: &str) -> ApiError {
    ApiError::bad_request(message).with_param(param)
}

/// A non-empty token array (non-negative integers) at `param`.
pub fn token_ids(v: &[Value], param: &str) -> Result<Vec<i64>, ApiError> {
    if v.is_empty() {
        return Err(bad(format!("`{param}` must not be empty"), param));
    }
    v.iter()
        .enumerate()
        .map(|(i, t)| {
            t.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
                bad(
                    format!("`{param}[{i}]` must be a non-negative integer token id"),
                    &format!("{param}[{i}]"),
                )
            })
        })
        .collect()
}

/// A random-looking id with `prefix`, from `seed` (hex).
pub fn id(prefix: &str, seed: u64) -> String {
    format!("{prefix}{seed:016x}")
}
