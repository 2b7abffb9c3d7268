//! Calls to provider components over Spin's local service chaining.

use std::hash::{BuildHasher, Hasher};

use component_io::outbound::{host_of, read_all};
use component_io::{send, UpstreamRequest};
use gateway_core::config::{Config, Deployment, KeySource};
use gateway_core::routing::{should_fail_over, shuffled};
use gateway_core::upstream::transport_error;
use gateway_core::{models, ApiError};
use spin_sdk::http::IncomingResponse;

/// Largest error body read back from a provider component.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// The headers that tell a provider component how to reach its upstream. The key itself is never
/// among them: only the name of the provider's own variable (or a config literal for self-hosted).
pub fn deployment_headers(d: &Deployment) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        (
            "x-gateway-provider".to_string(),
            d.provider.name().to_string(),
        ),
        ("x-gateway-timeout-ms".to_string(), d.timeout_ms.to_string()),
    ];
    if let Some(base) = &d.api_base {
        headers.push(("x-gateway-api-base".into(), base.clone()));
    }
    match &d.key {
        Some(KeySource::Variable(v)) => headers.push(("x-gateway-key-variable".into(), v.clone())),
        Some(KeySource::Literal(l)) => headers.push(("x-gateway-key-literal".into(), l.clone())),
        None => {}
    }
    if let Some(n) = d.max_output_tokens {
        headers.push(("x-gateway-default-max-tokens".into(), n.to_string()));
    }
    headers
}

/// Tries the model's deployments in random order until one answers, failing over on 429, 5xx
/// and transport errors.
pub fn failover<'c>(
    config: &'c Config,
    model: &str,
    send: impl FnMut(&Deployment) -> Result<IncomingResponse, ApiError>,
) -> Result<(IncomingResponse, &'c Deployment), ApiError> {
    failover_among(&config.deployments_for(model), model, send)
}

/// [`failover`] over a chosen subset of a model's deployments.
pub fn failover_among<'c>(
    deployments: &[&'c Deployment],
    model: &str,
    mut send: impl FnMut(&Deployment) -> Result<IncomingResponse, ApiError>,
) -> Result<(IncomingResponse, &'c Deployment), ApiError> {
    if deployments.is_empty() {
        return Err(models::model_not_found(model));
    }
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let mut last = None;
    for i in shuffled(deployments.len(), seed) {
        let d = deployments[i];
        match send(d) {
            Ok(response) => return Ok((response, d)),
            Err(e) if should_fail_over(&e) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| models::model_not_found(model)))
}

/// Posts a body to `path` on the deployment's provider component, with `extra` headers. A non-2xx
/// answer is returned as the provider's error (already OpenAI-shaped and naming the provider).
pub fn post(
    d: &Deployment,
    path: &str,
    body: &[u8],
    extra: &[(String, String)],
) -> Result<IncomingResponse, ApiError> {
    let url = format!("{}{path}", d.provider.internal_url());
    let mut headers = deployment_headers(d);
    headers.extend_from_slice(extra);
    let request = UpstreamRequest {
        method: "POST",
        url: &url,
        headers,
        body,
        // The provider enforces the upstream timeout; this only guards against a stuck hop.
        timeout_ms: d.timeout_ms.saturating_add(5_000),
    };
    let response =
        send(&request).map_err(|t| transport_error(d.provider.name(), host_of(&url), &t))?;
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let body = read_all(&response, MAX_ERROR_BODY).unwrap_or_default();
    Err(
        ApiError::from_openai_json(status, &body).unwrap_or_else(|| {
            gateway_core::upstream::by_status(
                d.provider.name(),
                status,
                "the provider component failed without an error body",
            )
        }),
    )
}
