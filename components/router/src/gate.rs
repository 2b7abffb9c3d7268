//! The auth component, reached through our WIT interface (a Spin component dependency): caller
//! checks before any upstream call, usage records after, and the admin API.

use component_io::{respond_json, Inbound};
use gateway_core::config::Config;
use gateway_core::credentials::caller_key;
use gateway_core::{ApiError, ErrorType};
use serde_json::Value;
use spin_sdk::http::ResponseOutparam;

mod bindings {
    wit_bindgen::generate!({ world: "router-deps", path: "../../wit" });
}

pub use bindings::llm_gateway::auth::auth::{Grant, LimitState, Usage};
use bindings::llm_gateway::auth::{admin, auth};

/// The caller's key from the request headers.
pub fn key_of(inbound: &Inbound) -> Option<String> {
    caller_key(
        inbound.header("authorization").as_deref(),
        inbound.header("x-api-key").as_deref(),
        inbound.header("x-goog-api-key").as_deref(),
    )
}

/// Checks the caller for a model on a route; counts the request against the key's limits. A
/// refusal is logged unless the config disables spend logs.
pub fn check_model(
    inbound: &Inbound,
    config: &Config,
    model: &str,
    route: &str,
) -> Result<Grant, ApiError> {
    auth::check(key_of(inbound).as_deref(), model, route, config.spend_logs).map_err(denial_error)
}

/// Checks the caller on a route that names no model (a refusal is not logged).
pub fn check(inbound: &Inbound, route: &str) -> Result<Grant, ApiError> {
    auth::check(key_of(inbound).as_deref(), "", route, false).map_err(denial_error)
}

/// Whether a grant lets its key use a model (the auth component's wildcard rule).
pub fn allows(grant: &Grant, model: &str) -> bool {
    grant.models.is_empty()
        || grant
            .models
            .iter()
            .any(|p| auth_core::keys::model_matches(p, model))
}

/// Records a finished request; failures are logged (without secrets), never shown to the caller.
pub fn record(usage: &Usage) {
    if let Err(e) = auth::record_usage(usage) {
        eprintln!("usage not recorded for key {}: {e}", usage.key_id);
    }
}

/// `x-ratelimit-*` headers OpenAI clients read.
pub fn limit_headers(state: &LimitState) -> Vec<(String, String)> {
    let mut h = Vec::new();
    let reset = format!("{}s", state.reset_seconds);
    for (kind, limit, remaining) in [
        ("requests", state.rpm_limit, state.rpm_remaining),
        ("tokens", state.tpm_limit, state.tpm_remaining),
    ] {
        if let Some(limit) = limit {
            h.push((format!("x-ratelimit-limit-{kind}"), limit.to_string()));
            h.push((
                format!("x-ratelimit-remaining-{kind}"),
                remaining.unwrap_or(0).to_string(),
            ));
            h.push((format!("x-ratelimit-reset-{kind}"), reset.clone()));
        }
    }
    h
}

fn denial_error(denial: auth::Denial) -> ApiError {
    use auth::Denial as D;
    match denial {
        D::NoMasterKey => ApiError::new(
            401,
            ErrorType::Authentication,
            "This gateway has no master key configured, so it refuses every request. Set one, e.g. `SPIN_VARIABLE_MASTER_KEY=sk-... spin up` (in a cluster: the SpinApp variable `master_key`).",
        )
        .with_code("no_master_key"),
        D::MissingKey => ApiError::new(
            401,
            ErrorType::Authentication,
            "You didn't provide an API key. Send it as `Authorization: Bearer <key>`, `x-api-key` or `x-goog-api-key`.",
        )
        .with_code("missing_api_key"),
        D::InvalidKey => ApiError::new(401, ErrorType::Authentication, "Invalid API key.")
            .with_code("invalid_api_key"),
        D::ExpiredKey => ApiError::new(401, ErrorType::Authentication, "This API key has expired.")
            .with_code("expired_api_key"),
        D::ModelNotAllowed(model) => ApiError::new(
            403,
            ErrorType::Permission,
            format!("This API key is not allowed to use the model `{model}`."),
        )
        .with_param("model")
        .with_code("model_not_allowed"),
        D::RateLimited(state) => {
            let mut e = ApiError::new(
                429,
                ErrorType::RateLimit,
                format!(
                    "Rate limit reached for this API key; retry in {}s.",
                    state.reset_seconds
                ),
            )
            .with_code("rate_limit_exceeded")
            .with_header("retry-after", state.reset_seconds.to_string());
            e.headers.extend(limit_headers(&state));
            e
        }
        D::BudgetExceeded(detail) => ApiError::new(
            429,
            ErrorType::RateLimit,
            format!("Budget exceeded for this API key: {detail}"),
        )
        .with_code("budget_exceeded"),
        // The shared store (Redis in a cluster) failed: the key cannot be checked, so the request
        // is refused, never served unchecked. A 503 with `retry-after`: the store usually returns.
        D::StoreError(detail) => ApiError::new(
            503,
            ErrorType::Server,
            format!(
                "The gateway's key-value store is unavailable, so this API key cannot be checked; retry shortly (auth store error: {detail})."
            ),
        )
        .with_code("auth_store_error")
        .with_header("retry-after", STORE_RETRY_AFTER_S.to_string()),
    }
}

/// Seconds a caller is asked to wait when the key-value store failed.
const STORE_RETRY_AFTER_S: u32 = 5;

/// Serves a LiteLLM-compatible admin path (`/key/...`, `/spend/...`, the usage API, `/metrics`)
/// through the auth component.
pub fn admin(inbound: &Inbound, path: &str, out: ResponseOutparam) {
    const MAX_ADMIN_BODY: usize = 1024 * 1024;
    let body = match inbound.body(MAX_ADMIN_BODY) {
        Ok(b) => b,
        Err(e) => return component_io::respond_error(out, &e, false),
    };
    let Ok(body) = String::from_utf8(body) else {
        return component_io::respond_error(
            out,
            &ApiError::bad_request("The request body must be UTF-8 JSON").with_code("invalid_json"),
            false,
        );
    };
    let response = admin::handle(&admin::AdminRequest {
        method: inbound.method.clone(),
        path: path.to_string(),
        query: inbound.query.clone(),
        key: key_of(inbound),
        body,
    });
    // An answer that names its content type (`/metrics`) goes out as it is; a scrape also gets
    // the deployments' routing state, which lives in the router's stores.
    if response
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        let mut body = response.body;
        if path == "/metrics" && response.status == 200 {
            body.push_str(&crate::health::deployment_metrics());
        }
        return component_io::respond_whole(
            out,
            response.status,
            &response.headers,
            body.as_bytes(),
        );
    }
    let value: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    respond_json(out, response.status, &value, &response.headers);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_is_a_503_with_retry_after_naming_the_store() {
        let e = denial_error(auth::Denial::StoreError(
            "Other(\"Reconnecting failed: Connection refused\")".into(),
        ));
        assert_eq!(e.status, 503);
        assert_eq!(e.code.as_deref(), Some("auth_store_error"));
        assert_eq!(
            e.headers,
            vec![("retry-after".to_string(), STORE_RETRY_AFTER_S.to_string())]
        );
        let json = e.to_openai_json();
        assert_eq!(json["error"]["type"], "server_error");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("key-value store is unavailable"),
            "{message}"
        );
        assert!(message.contains("Connection refused"), "{message}");
        assert_eq!(e.to_anthropic_json()["error"]["type"], "api_error");
    }
}
