//! Responses the gateway keeps (`store` not false), so that `previous_response_id` continues a
//! conversation on any provider and `GET`/`DELETE /v1/responses/{id}` work. Kept in the durable
//! key-value store `default` under `responses/<id>` as JSON `{"key_id", "expires_at_ms",
//! "response", "messages", "native_deployment"}` (`messages`: the conversation as chat messages,
//! without the instructions; `native_deployment`: the deployment whose own Responses API made
//! it, which can continue it natively). Readable only by the key that created it; another key, or a response past its
//! retention, is not found (an expired one is deleted when met).

use gateway_core::{ApiError, ErrorType};
use serde_json::{json, Value};
use spin_sdk::wit::wasi::keyvalue::store;

/// How long a stored response is kept: 30 days, as OpenAI keeps them.
pub const RETENTION_MS: u64 = 30 * 24 * 3600 * 1000;

/// A stored response.
pub struct Stored {
    /// The `response` object.
    pub response: Value,
    /// The conversation up to and including it, as chat messages.
    pub messages: Vec<Value>,
    /// The deployment whose own Responses API answered, if one did.
    pub native_deployment: Option<String>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn key(id: &str) -> String {
    format!("responses/{id}")
}

fn bucket() -> Result<store::Bucket, ApiError> {
    store::open("default").map_err(|e| {
        eprintln!("responses: key-value store `default` unavailable ({e:?})");
        ApiError::new(503, ErrorType::Server, "the response store is unavailable")
            .with_code("store_unavailable")
    })
}

/// The 404 for a response id this key cannot see.
pub fn not_found(id: &str, param: &str) -> ApiError {
    let status = if param == "previous_response_id" {
        400
    } else {
        404
    };
    let kind = if status == 404 {
        ErrorType::NotFound
    } else {
        ErrorType::InvalidRequest
    };
    ApiError::new(status, kind, format!("No response found with id '{id}'."))
        .with_param(param)
        .with_code("response_not_found")
}

/// The response `id` as stored for `key_id`, if it is there, theirs and not expired.
pub fn load(id: &str, key_id: &str) -> Result<Option<Stored>, ApiError> {
    let b = bucket()?;
    let Some(raw) = b.get(&key(id)).ok().flatten() else {
        return Ok(None);
    };
    let Ok(v) = serde_json::from_slice::<Value>(&raw) else {
        return Ok(None);
    };
    if v["key_id"].as_str() != Some(key_id) {
        return Ok(None);
    }
    if v["expires_at_ms"].as_u64().is_none_or(|t| t <= now_ms()) {
        let _ = b.delete(&key(id));
        return Ok(None);
    }
    Ok(Some(Stored {
        response: v["response"].clone(),
        messages: v["messages"].as_array().cloned().unwrap_or_default(),
        native_deployment: v["native_deployment"].as_str().map(str::to_string),
    }))
}

/// Keeps a response and its conversation for `key_id`; failures are logged.
pub fn save(key_id: &str, response: &Value, messages: Vec<Value>, native_deployment: Option<&str>) {
    let Some(id) = response.get("id").and_then(Value::as_str) else {
        return;
    };
    let record = json!({"key_id": key_id, "expires_at_ms": now_ms() + RETENTION_MS,
        "response": response, "messages": messages, "native_deployment": native_deployment});
    match bucket() {
        Ok(b) => {
            if let Err(e) = b.set(&key(id), record.to_string().as_bytes()) {
                eprintln!("responses: response not stored ({e:?})");
            }
        }
        Err(e) => eprintln!("responses: response not stored ({})", e.message),
    }
}

/// Deletes the response `id` of `key_id`; false when there was none to see.
pub fn delete(id: &str, key_id: &str) -> Result<bool, ApiError> {
    if load(id, key_id)?.is_none() {
        return Ok(false);
    }
    let _ = bucket()?.delete(&key(id));
    Ok(true)
}
