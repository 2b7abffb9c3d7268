//! `POST /v1/embeddings`: OpenAI and OpenAI-compatible deployments get the request as sent
//! (`model` rewritten), Gemini's adapter translates it to `batchEmbedContents`; Anthropic has no
//! embeddings (400). `encoding_format: base64` is honoured for every provider: float answers are
//! encoded here. Usage is recorded like chat.

use std::time::Instant;

use component_io::outbound::{read_all, response_header};
use component_io::{respond_error, respond_json, Inbound};
use gateway_core::config::{Config, Deployment, Provider};
use gateway_core::policy::RequestPolicy;
use gateway_core::routing::require_json;
use gateway_core::upstream::transport_error;
use gateway_core::usage::Usage;
use gateway_core::{ApiError, ErrorType};
use serde_json::Value;
use spin_sdk::http::ResponseOutparam;
use translate::embeddings::{self, EmbeddingsRequest};

use crate::gate;
use crate::ledger::Ledger;
use crate::{provider, route};

/// The route name recorded in usage.
const ROUTE: &str = "/v1/embeddings";
/// Largest answer read.
const MAX_ANSWER: usize = 256 * 1024 * 1024;

/// The `model_info.mode` of a deployment, when set.
pub fn mode(d: &Deployment) -> Option<&str> {
    d.model_info.get("mode").and_then(Value::as_str)
}

/// Whether `d` can serve embeddings: not Anthropic, and not declared another mode.
fn embeds(d: &Deployment) -> bool {
    d.provider != Provider::Anthropic && mode(d).is_none_or(|m| m == "embedding")
}

/// 400 when a known model has no deployment that embeds.
fn check_model(config: &Config, model: &str) -> Result<(), ApiError> {
    let deployments = config.deployments_for(model);
    let Some(first) = deployments.first() else {
        return Ok(());
    };
    if deployments.iter().any(|d| embeds(d)) {
        return Ok(());
    }
    let why = match mode(first) {
        Some(m) if first.provider != Provider::Anthropic => {
            format!("it is configured with model_info.mode `{m}`")
        }
        _ => format!("{} has no embeddings endpoint", first.provider.name()),
    };
    Err(ApiError::new(
        400,
        ErrorType::InvalidRequest,
        format!("The model `{model}` cannot create embeddings: {why}."),
    )
    .with_param("model")
    .with_code("model_not_supported"))
}

/// Serves one embeddings request.
pub fn handle(inbound: &Inbound, config: &Config, out: ResponseOutparam) {
    let started = Instant::now();
    let (request, policy) = match parse(inbound, config) {
        Ok(r) => r,
        Err(e) => return respond_error(out, &e, false),
    };
    let grant = match gate::check_model(inbound, config, &request.model, ROUTE) {
        Ok(g) => g,
        Err(e) => return respond_error(out, &e, false),
    };
    if let Err(e) = check_model(config, &request.model) {
        return respond_error(out, &e, false);
    }
    let mut ledger = Ledger::new(grant, &request.model, ROUTE, false, started, config);
    ledger.keep_request(&request.body);
    let routed = ledger.route(config, false, &policy, &embeds, |d, limits| {
        provider::post(
            d,
            "/embeddings",
            &request.upstream_body(&d.upstream_model),
            &[],
            limits,
        )
    });
    let (response, d) = match routed {
        Ok(r) => r,
        Err(e) => {
            ledger.record(None, None, e.status);
            return respond_error(out, &e.with_headers(ledger.routing_headers(None)), false);
        }
    };
    ledger.mark_first_byte();
    let estimated = response_header(&response, "x-gateway-usage");
    let body = read_all(&response, MAX_ANSWER)
        .map_err(|t| transport_error(d.provider.name(), d.provider.component(), &t))
        .and_then(|b| {
            serde_json::from_slice::<Value>(&b).map_err(|_| {
                ApiError::new(
                    502,
                    ErrorType::Upstream,
                    format!("{}: the embeddings answer is not JSON", d.provider.name()),
                )
                .with_code("upstream_error")
            })
        });
    match body {
        Ok(mut answer) => {
            if request.base64 {
                embeddings::to_base64(&mut answer);
            }
            let usage = Usage::from_response(&answer);
            let cost = usage.map(|u| Ledger::cost(d, &u));
            let mut headers = ledger.headers("application/json", cost);
            headers.remove(0);
            if let Some(e) = estimated {
                headers.push(("x-gateway-usage".into(), e));
            }
            ledger.keep_json(&answer);
            respond_json(out, 200, &answer, &headers);
            route::finished(
                config,
                d,
                usage.map_or(0, |u| u.total()),
                ledger.elapsed_ms(),
            );
            ledger.record(Some(d), usage, 200);
        }
        Err(e) => {
            ledger.record(Some(d), None, e.status);
            respond_error(out, &e, false)
        }
    }
}

fn parse(
    inbound: &Inbound,
    config: &Config,
) -> Result<(EmbeddingsRequest, RequestPolicy), ApiError> {
    require_json(inbound.header("content-type").as_deref())?;
    let raw = inbound.body(config.max_body_bytes)?;
    let mut request = EmbeddingsRequest::parse(&raw)?;
    let policy = RequestPolicy::take(&mut request.body, |h| inbound.header(h))?;
    Ok((request, policy))
}
