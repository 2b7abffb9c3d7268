//! `POST /v1/chat/completions`: validate, check the caller, pick a deployment (failing over to the
//! next one on server-side errors), relay the provider's answer chunk by chunk, record usage.

use std::hash::{BuildHasher, Hasher};
use std::time::Instant;

use component_io::outbound::{for_each_chunk, read_all, response_header};
use component_io::{respond_error, BodyWriter, Inbound};
use gateway_core::chat::ChatRequest;
use gateway_core::config::{Config, Deployment};
use gateway_core::relay::StreamRelay;
use gateway_core::routing::{require_json, should_fail_over, shuffled};
use gateway_core::upstream::transport_error;
use gateway_core::usage::{cost_usd, Usage};
use gateway_core::{models, pricing, sse, ApiError};
use serde_json::{json, Value};
use spin_sdk::http::{IncomingResponse, ResponseOutparam};

use crate::gate::{self, Grant};
use crate::provider;

/// Largest non-streamed answer relayed.
const MAX_ANSWER: usize = 64 * 1024 * 1024;
/// The route name recorded in usage.
const ROUTE: &str = "/v1/chat/completions";

/// Timing and identity of one request, for its usage record.
struct Ledger {
    grant: Grant,
    model: String,
    stream: bool,
    started: Instant,
    started_at_ms: u64,
    ttft_ms: Option<u64>,
}

impl Ledger {
    fn mark_first_byte(&mut self) {
        if self.ttft_ms.is_none() {
            self.ttft_ms = Some(self.started.elapsed().as_millis() as u64);
        }
    }

    fn record(&self, d: Option<&Deployment>, usage: Option<Usage>, status: u16) {
        let usage = usage.unwrap_or_default();
        gate::record(&gate::Usage {
            key_id: self.grant.key_id.clone(),
            model: self.model.clone(),
            upstream_model: d.map(|d| d.upstream_model.clone()).unwrap_or_default(),
            provider: d.map(|d| d.provider.name().to_string()).unwrap_or_default(),
            route: ROUTE.to_string(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cached_tokens: usage.cached_tokens,
            cost_usd: d
                .map(|d| cost_usd(&usage, &pricing::effective(&d.prices, &d.upstream_model)))
                .unwrap_or(0.0),
            latency_ms: self.started.elapsed().as_millis() as u64,
            ttft_ms: self.ttft_ms,
            status,
            stream: self.stream,
            started_at_ms: self.started_at_ms,
        });
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Serves one chat-completion request.
pub fn handle(inbound: &Inbound, config: &Config, out: ResponseOutparam) {
    let started = Instant::now();
    let started_at_ms = now_ms();
    let request = match parse(inbound, config) {
        Ok(r) => r,
        Err(e) => return respond_error(out, &e, false),
    };
    let grant = match gate::check(inbound, &request.model, ROUTE) {
        Ok(g) => g,
        Err(e) => return respond_error(out, &e, false),
    };
    let mut ledger = Ledger {
        model: request.model.clone(),
        stream: request.stream,
        started,
        started_at_ms,
        ttft_ms: None,
        grant,
    };
    match call(&request, config) {
        Ok((response, d)) if request.stream => stream(response, d, &request, &mut ledger, out),
        Ok((response, d)) => whole(response, d, &mut ledger, out),
        Err(e) => {
            ledger.record(None, None, e.status);
            respond_error(out, &e, false)
        }
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

fn success_headers(ledger: &Ledger, content_type: String) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_string(), content_type)];
    headers.extend(gate::limit_headers(&ledger.grant.limits));
    headers
}

/// Relays a non-streamed answer.
fn whole(response: IncomingResponse, d: &Deployment, ledger: &mut Ledger, out: ResponseOutparam) {
    ledger.mark_first_byte();
    match read_all(&response, MAX_ANSWER) {
        Ok(body) => {
            let usage = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| Usage::from_response(&v));
            let mut w = BodyWriter::start(
                out,
                200,
                &success_headers(ledger, "application/json".into()),
            );
            w.write(&body);
            w.finish();
            ledger.record(Some(d), usage, 200);
        }
        Err(t) => {
            let e = transport_error(d.provider.name(), d.provider.component(), &t);
            ledger.record(Some(d), None, e.status);
            respond_error(out, &e, false)
        }
    }
}

/// Relays a streamed answer event by event.
fn stream(
    response: IncomingResponse,
    d: &Deployment,
    request: &ChatRequest,
    ledger: &mut Ledger,
    out: ResponseOutparam,
) {
    let content_type = response_header(&response, "content-type")
        .unwrap_or_else(|| "text/event-stream".to_string());
    let mut headers = success_headers(ledger, content_type);
    headers.push(("cache-control".to_string(), "no-cache".to_string()));
    let mut w = BodyWriter::start(out, 200, &headers);
    let mut relay = StreamRelay::new(request.client_wants_usage);
    let result = for_each_chunk(&response, |chunk| {
        let bytes = relay.push(chunk);
        if bytes.is_empty() {
            return true;
        }
        ledger.mark_first_byte();
        w.write(&bytes)
    });
    if let Err(t) = result {
        let e = transport_error(d.provider.name(), d.provider.component(), &t);
        w.write(&sse::data(
            &json!({ "error": e.to_openai_json()["error"] }).to_string(),
        ));
    }
    w.write(&relay.finish());
    w.finish();
    ledger.record(Some(d), relay.usage(), 200);
}
