//! Calls to provider components over Spin's local service chaining.

use component_io::outbound::{host_of, read_all, response_header};
use component_io::{send, UpstreamRequest};
use gateway_core::config::{Deployment, KeySource};
use gateway_core::policy::AttemptLimits;
use gateway_core::upstream::transport_error;
use gateway_core::ApiError;
use spin_sdk::http::IncomingResponse;

/// Largest error body read back from a provider component.
const MAX_ERROR_BODY: usize = 1024 * 1024;

/// The headers that tell a provider component how to reach its upstream. The key itself is never
/// among them: only the name of the provider's own variable (or a config literal for self-hosted).
fn deployment_headers(d: &Deployment, timeout_ms: u64) -> Vec<(String, String)> {
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        (
            "x-gateway-provider".to_string(),
            d.provider.name().to_string(),
        ),
        ("x-gateway-timeout-ms".to_string(), timeout_ms.to_string()),
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

/// Posts a body to `path` on the deployment's provider component, with `extra` headers. A non-2xx
/// answer is returned as the provider's error (already OpenAI-shaped and naming the provider).
pub fn post(
    d: &Deployment,
    path: &str,
    body: &[u8],
    extra: &[(String, String)],
    limits: &AttemptLimits,
) -> Result<IncomingResponse, ApiError> {
    let url = format!("{}{path}", d.provider.internal_url());
    let mut headers = deployment_headers(d, limits.timeout_ms);
    headers.extend_from_slice(extra);
    // The provider enforces the attempt's limits upstream (Spin applies no first-byte timeout to
    // a chained request); this only guards against a stuck hop.
    if limits.first_byte_ms < limits.timeout_ms {
        headers.push((
            "x-gateway-first-chunk-ms".into(),
            limits.first_byte_ms.to_string(),
        ));
    }
    let request = UpstreamRequest {
        method: "POST",
        url: &url,
        headers,
        body,
        timeout_ms: limits.timeout_ms.saturating_add(5_000),
    };
    let response =
        send(&request).map_err(|t| transport_error(d.provider.name(), host_of(&url), &t))?;
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok(response);
    }
    let body = read_all(&response, MAX_ERROR_BODY).unwrap_or_default();
    let mut e = ApiError::from_openai_json(status, &body).unwrap_or_else(|| {
        gateway_core::upstream::by_status(
            d.provider.name(),
            status,
            "the provider component failed without an error body",
        )
    });
    if let Some(wait) = response_header(&response, "retry-after") {
        e = e.with_header("retry-after", wait);
    }
    Err(e)
}
