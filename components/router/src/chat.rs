//! `POST /v1/chat/completions`: validate, pick a deployment (failing over to the next one on
//! server-side errors), and relay the provider's answer, streamed chunk by chunk.

use std::hash::{BuildHasher, Hasher};

use component_io::outbound::{for_each_chunk, read_all, response_header};
use component_io::{respond_error, BodyWriter, Inbound};
use gateway_core::chat::ChatRequest;
use gateway_core::config::{Config, Deployment};
use gateway_core::relay::StreamRelay;
use gateway_core::routing::{require_json, should_fail_over, shuffled};
use gateway_core::upstream::transport_error;
use gateway_core::{models, sse, ApiError};
use serde_json::json;
use spin_sdk::http::{IncomingResponse, ResponseOutparam};

use crate::provider;

/// Largest non-streamed answer relayed.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Serves one chat-completion request.
pub fn handle(inbound: &Inbound, config: &Config, out: ResponseOutparam) {
    let request = match parse(inbound, config) {
        Ok(r) => r,
        Err(e) => return respond_error(out, &e, false),
    };
    match call(&request, config) {
        Ok((response, deployment)) if request.stream => stream(response, deployment, &request, out),
        Ok((response, deployment)) => whole(response, deployment, out),
        Err(e) => respond_error(out, &e, false),
    }
}

fn parse(inbound: &Inbound, config: &Config) -> Result<ChatRequest, ApiError> {
    require_json(inbound.header("content-type").as_deref())?;
    let raw = inbound.body(config.max_body_bytes)?;
    ChatRequest::parse(&raw)
}

/// Tries the model's deployments in random order until one answers.
fn call<'c>(
    request: &ChatRequest,
    config: &'c Config,
) -> Result<(IncomingResponse, &'c Deployment), ApiError> {
    let deployments = config.deployments_for(&request.model);
    if deployments.is_empty() {
        return Err(models::model_not_found(&request.model));
    }
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let mut last = None;
    for i in shuffled(deployments.len(), seed) {
        let d = deployments[i];
        let body = request.upstream_body(&d.upstream_model);
        match provider::post(d, "/chat/completions", &body) {
            Ok(response) => return Ok((response, d)),
            Err(e) if should_fail_over(&e) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| models::model_not_found(&request.model)))
}

/// Relays a non-streamed answer.
fn whole(response: IncomingResponse, d: &Deployment, out: ResponseOutparam) {
    match read_all(&response, MAX_ANSWER) {
        Ok(body) => {
            let mut w = BodyWriter::start(
                out,
                200,
                &[("content-type".to_string(), "application/json".to_string())],
            );
            w.write(&body);
            w.finish();
        }
        Err(t) => respond_error(
            out,
            &transport_error(d.provider.name(), d.provider.component(), &t),
            false,
        ),
    }
}

/// Relays a streamed answer event by event.
fn stream(
    response: IncomingResponse,
    d: &Deployment,
    request: &ChatRequest,
    out: ResponseOutparam,
) {
    let content_type = response_header(&response, "content-type")
        .unwrap_or_else(|| "text/event-stream".to_string());
    let mut w = BodyWriter::start(
        out,
        200,
        &[
            ("content-type".to_string(), content_type),
            ("cache-control".to_string(), "no-cache".to_string()),
        ],
    );
    let mut relay = StreamRelay::new(request.client_wants_usage);
    let result = for_each_chunk(&response, |chunk| {
        let bytes = relay.push(chunk);
        bytes.is_empty() || w.write(&bytes)
    });
    if let Err(t) = result {
        let e = transport_error(d.provider.name(), d.provider.component(), &t);
        w.write(&sse::data(
            &json!({ "error": e.to_openai_json()["error"] }).to_string(),
        ));
    }
    w.write(&relay.finish());
    w.finish();
}
