//! LiteLLM's model management API (`/model/new`, `/model/update`, `PATCH /model/{id}/update`,
//! `/model/delete`, `GET /model/info`), master key only. Runtime models are validated by the
//! config loader (gateway-core's `model_admin`), their key variable confirmed by the provider
//! component, and stored in the shared `default` store (see [`runtime_models`]).

use component_io::outbound::read_all;
use component_io::{respond_error, respond_json, send, Inbound, UpstreamRequest};
use gateway_core::config::{Config, Provider};
use gateway_core::model_admin::{self, ModelPath, RuntimeModels};
use gateway_core::{ApiError, ErrorType};
use serde_json::Value;
use spin_sdk::http::ResponseOutparam;

use crate::{config_source, gate, runtime_models};

const MAX_BODY: usize = 256 * 1024;

/// Serves one model API request.
pub fn handle(inbound: &Inbound, path: &ModelPath, out: ResponseOutparam) {
    match serve(inbound, path) {
        Ok(body) => respond_json(out, 200, &body, &[]),
        Err(e) => respond_error(out, &e, false),
    }
}

fn serve(inbound: &Inbound, path: &ModelPath) -> Result<Value, ApiError> {
    let grant = gate::check(inbound, "/model")?;
    if !grant.is_master {
        return Err(ApiError::new(
            401,
            ErrorType::Authentication,
            "Only the master key may manage models.",
        )
        .with_code("invalid_api_key"));
    }
    let base = config_source::base_document().map_err(ApiError::from)?;
    let stored = runtime_models::read_shared().map_err(store_error)?;
    let change = match path {
        ModelPath::Info => return info(&base, &stored, &inbound.query),
        ModelPath::New => {
            let id = format!("rt-{:016x}", wasi::random::random::get_random_u64());
            model_admin::create(&base, &stored, &json_body(inbound)?, &id)?
        }
        ModelPath::Update => model_admin::update(&base, &stored, None, &json_body(inbound)?)?,
        ModelPath::UpdateById(id) => {
            model_admin::update(&base, &stored, Some(id), &json_body(inbound)?)?
        }
        ModelPath::Delete => model_admin::delete(&base, &stored, &json_body(inbound)?)?,
    };
    if let Some((provider, variable)) = &change.key_variable {
        confirm_variable(*provider, variable)?;
    }
    runtime_models::write_shared(&RuntimeModels {
        version: runtime_models::new_version(),
        models: change.models,
    })
    .map_err(store_error)?;
    Ok(change.answer)
}

/// `GET /model/info`, optionally `?litellm_model_id=<id>`.
fn info(base: &Value, stored: &RuntimeModels, query: &str) -> Result<Value, ApiError> {
    let merged = model_admin::merged_document(base, stored);
    let config = Config::from_value(&merged).map_err(ApiError::from)?;
    let id = query_param(query, "litellm_model_id");
    Ok(model_admin::info(&config, &merged, id.as_deref()))
}

fn json_body(inbound: &Inbound) -> Result<Value, ApiError> {
    let raw = inbound.body(MAX_BODY)?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&raw).map_err(|e| {
        ApiError::bad_request(format!("The request body is not valid JSON: {e}"))
            .with_code("invalid_json")
    })
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|p| {
        p.split_once('=')
            .filter(|(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v.to_string())
    })
}

fn store_error(e: String) -> ApiError {
    ApiError::internal(format!("model store error: {e}")).with_code("model_store_error")
}

/// Asks the provider component whether `variable` is set there (never its value); a runtime
/// model may only name a key variable that exists.
fn confirm_variable(provider: Provider, variable: &str) -> Result<(), ApiError> {
    let url = format!("{}/health", provider.internal_url());
    let request = UpstreamRequest {
        method: "GET",
        url: &url,
        headers: vec![("x-gateway-key-variable".into(), variable.to_string())],
        body: &[],
        timeout_ms: 5_000,
    };
    let set = send(&request)
        .ok()
        .and_then(|r| read_all(&r, 64 * 1024).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("keys")?.get(variable)?.as_bool());
    match set {
        Some(true) => Ok(()),
        Some(false) => Err(ApiError::bad_request(format!(
            "litellm_params.api_key: the variable `{variable}` is not set in the `{}` component; name a key variable that exists there (set it with SPIN_VARIABLE_{} and map it in spin.toml)",
            provider.component(),
            variable.to_ascii_uppercase()
        ))
        .with_param("litellm_params.api_key")
        .with_code("invalid_model")),
        None => Err(ApiError::new(
            502,
            ErrorType::Upstream,
            format!("The `{}` component did not answer whether `{variable}` is set", provider.component()),
        )
        .with_code("provider_unreachable")),
    }
}
