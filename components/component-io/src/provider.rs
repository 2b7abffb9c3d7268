//! What every provider adapter shares: its own configuration (Spin variables and the router's
//! `x-gateway-*` headers), its key, and the upstream call with errors mapped to client errors.

use gateway_core::config::{is_spin_variable_name, DEFAULT_TIMEOUT_MS};
use gateway_core::upstream::transport_error;
use gateway_core::ApiError;
use serde_json::{json, Map, Value};
use spin_sdk::http::IncomingResponse;
use spin_sdk::variables;

use crate::outbound::{host_of, read_all, response_header};
use crate::{send, Inbound, UpstreamRequest};

/// Largest upstream error body read.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// Why no key could be had.
pub enum KeyError {
    /// The variable exists but is empty.
    Unset(String),
    /// The variable is not mapped into this component (or is not a valid name).
    NotMapped(String),
}

/// Settings of this deployment of the adapter.
pub struct Settings {
    /// Provider name used in messages (`openai`, `openai-compatible`).
    pub name: String,
    /// Spin component id, for messages.
    pub component: String,
    default_api_base: String,
    key_required: bool,
}

fn var(name: &str) -> Option<String> {
    variables::get(name).ok()
}

impl Settings {
    /// Reads the component variables (`provider_name`, `default_api_base`, `key_required`);
    /// `name` is used when `provider_name` is not set.
    pub fn load(name: &str) -> Settings {
        let name = var("provider_name").unwrap_or_else(|| name.into());
        Settings {
            component: format!("provider-{name}"),
            name,
            default_api_base: var("default_api_base").unwrap_or_default(),
            key_required: var("key_required").is_none_or(|v| v != "false"),
        }
    }

    /// The base URL (`x-gateway-api-base`, else the component default), without a trailing `/`.
    pub fn api_base(&self, inbound: &Inbound) -> Result<String, ApiError> {
        let base = inbound
            .header("x-gateway-api-base")
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| self.default_api_base.clone());
        if base.is_empty() {
            return Err(ApiError::internal(format!(
                "{}: no api_base configured for this model",
                self.name
            ))
            .with_code("config_error"));
        }
        Ok(base.trim_end_matches('/').to_string())
    }

    /// The upstream key: a literal from the config, or this component's own variable.
    pub fn key(&self, inbound: &Inbound) -> Result<Option<String>, KeyError> {
        if let Some(literal) = inbound.header("x-gateway-key-literal") {
            return Ok(Some(literal).filter(|k| !k.is_empty()));
        }
        let Some(name) = inbound.header("x-gateway-key-variable") else {
            return Ok(None);
        };
        if !is_spin_variable_name(&name) {
            return Err(KeyError::NotMapped(name));
        }
        match variables::get(&name) {
            Ok(v) if !v.is_empty() => Ok(Some(v)),
            Ok(_) if self.key_required => Err(KeyError::Unset(name)),
            Ok(_) => Ok(None),
            Err(_) => Err(KeyError::NotMapped(name)),
        }
    }

    /// Upstream timeout from `x-gateway-timeout-ms`.
    pub fn timeout_ms(&self, inbound: &Inbound) -> u64 {
        inbound
            .header("x-gateway-timeout-ms")
            .and_then(|t| t.parse().ok())
            .unwrap_or(DEFAULT_TIMEOUT_MS)
    }

    /// The stream's `stream_timeout` (`x-gateway-first-chunk-ms`): how long to wait for the
    /// first body chunk of a streamed answer.
    pub fn first_chunk_ms(&self, inbound: &Inbound) -> Option<u64> {
        inbound
            .header("x-gateway-first-chunk-ms")
            .and_then(|t| t.parse().ok())
    }

    /// `model_info.max_tokens` of the deployment (`x-gateway-default-max-tokens`).
    pub fn default_max_tokens(&self, inbound: &Inbound) -> Option<u64> {
        inbound
            .header("x-gateway-default-max-tokens")
            .and_then(|t| t.parse().ok())
    }

    /// The key, or a 500 `provider_key_missing` naming the variable (never a value).
    pub fn require_key(&self, inbound: &Inbound) -> Result<Option<String>, ApiError> {
        self.key(inbound).map_err(|e| {
            let message = match e {
                KeyError::Unset(var) => format!(
                    "{}: no API key configured: set the Spin variable `{var}` (e.g. SPIN_VARIABLE_{}=... spin up)",
                    self.name,
                    var.to_ascii_uppercase()
                ),
                KeyError::NotMapped(var) => format!(
                    "{}: the key variable `{var}` is not available to this provider component; map it under [component.{}.variables] in spin.toml",
                    self.name, self.component
                ),
            };
            ApiError::internal(message).with_code("provider_key_missing")
        })
    }

    /// Sends a request upstream; a non-2xx answer is mapped by `error` (status, body).
    pub fn call(
        &self,
        request: &UpstreamRequest,
        error: impl Fn(u16, &[u8]) -> ApiError,
    ) -> Result<IncomingResponse, ApiError> {
        let response =
            send(request).map_err(|t| transport_error(&self.name, host_of(request.url), &t))?;
        let status = response.status();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let body = read_all(&response, MAX_ERROR_BODY).unwrap_or_default();
        let mut e = error(status, &body);
        // The provider's own wait, for the router's retries and cooldowns.
        if let Some(wait) = response_header(&response, "retry-after") {
            e = e.with_header("retry-after", wait);
        }
        Err(e)
    }

    /// Which of the key variables named in `x-gateway-key-variable` (comma-separated) are set.
    /// Never reveals a value.
    pub fn health(&self, inbound: &Inbound) -> Value {
        let mut keys = Map::new();
        for name in inbound
            .header("x-gateway-key-variable")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let set =
                is_spin_variable_name(name) && variables::get(name).is_ok_and(|v| !v.is_empty());
            keys.insert(name.to_string(), Value::Bool(set));
        }
        json!({ "provider": self.name, "key_required": self.key_required, "keys": keys })
    }
}

/// Seconds since the Unix epoch (the `created` of translated answers).
pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads the router's request body as a JSON object.
pub fn json_body(
    inbound: &Inbound,
    limit: usize,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let raw = inbound.body(limit)?;
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(
            ApiError::bad_request("The request body must be a JSON object")
                .with_code("invalid_json"),
        ),
    }
}

/// Reads a whole JSON answer from an upstream, mapping failures to errors naming `provider`.
pub fn read_json(
    response: &IncomingResponse,
    provider: &str,
    limit: usize,
) -> Result<Value, ApiError> {
    let body = read_all(response, limit).map_err(|t| transport_error(provider, "upstream", &t))?;
    serde_json::from_slice(&body).map_err(|_| {
        ApiError::new(
            502,
            gateway_core::ErrorType::Upstream,
            format!("{provider}: the answer is not JSON"),
        )
        .with_code("upstream_error")
    })
}
