//! `POST /v1/chat/completions`: validate, check the caller, route to a deployment by the
//! gateway's policy (retries, fallbacks, cooldowns, deadlines), relay the provider's answer chunk
//! by chunk, record usage.

use std::time::Instant;

use component_io::outbound::{for_each_chunk, read_all, response_header};
use component_io::{respond_error, respond_whole, BodyWriter, Inbound};
use gateway_core::chat::ChatRequest;
use gateway_core::config::{Config, Deployment};
use gateway_core::policy::{AttemptLimits, RequestPolicy};
use gateway_core::relay::StreamRelay;
use gateway_core::routing::require_json;
use gateway_core::upstream::transport_error;
use gateway_core::usage::Usage;
use gateway_core::{sse, ApiError};
use serde_json::{json, Value};
use spin_sdk::http::{IncomingResponse, ResponseOutparam};

use crate::gate;
use crate::ledger::Ledger;
use crate::{params, provider, route};

/// Largest non-streamed answer relayed.
const MAX_ANSWER: usize = 64 * 1024 * 1024;
/// The route name recorded in usage.
const ROUTE: &str = "/v1/chat/completions";

/// Serves one chat-completion request.
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
    let mut ledger = Ledger::new(
        grant,
        &request.model,
        ROUTE,
        request.stream,
        started,
        config,
    );
    ledger.keep_request(&request.body);
    let routed = ledger.route(config, request.stream, &policy, &|_| true, |d, limits| {
        let body = params::for_deployment(config, d, &policy, &request.body);
        let result = provider::post(
            d,
            "/chat/completions",
            &upstream_body(&request, body, d),
            &[],
            limits,
        );
        result.map(|r| (r, *limits))
    });
    match routed {
        Ok(((response, limits), d)) if request.stream => {
            stream(response, d, &request, &limits, &mut ledger, config, out)
        }
        Ok(((response, _), d)) => whole(response, d, &mut ledger, config, out),
        Err(e) => {
            ledger.record_error(None, &e);
            respond_error(out, &e.with_headers(ledger.routing_headers(None)), false)
        }
    }
}

/// The request, and its routing options taken out of the body.
fn parse(inbound: &Inbound, config: &Config) -> Result<(ChatRequest, RequestPolicy), ApiError> {
    require_json(inbound.header("content-type").as_deref())?;
    let raw = inbound.body(config.max_body_bytes)?;
    let mut request = ChatRequest::parse(&raw)?;
    let policy = RequestPolicy::take(&mut request.body, |h| inbound.header(h))?;
    Ok((request, policy))
}

/// The body sent to `d`'s provider component.
fn upstream_body(
    request: &ChatRequest,
    body: serde_json::Map<String, Value>,
    d: &Deployment,
) -> Vec<u8> {
    ChatRequest {
        body,
        ..request.clone()
    }
    .upstream_body(&d.upstream_model)
}

/// Relays a non-streamed answer.
fn whole(
    response: IncomingResponse,
    d: &Deployment,
    ledger: &mut Ledger,
    config: &Config,
    out: ResponseOutparam,
) {
    ledger.mark_first_byte();
    let reading = Instant::now();
    let body = read_all(&response, MAX_ANSWER);
    ledger.waited(reading);
    match body {
        Ok(body) => {
            let usage = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| Usage::from_response(&v));
            let cost = usage.map(|u| Ledger::cost(d, &u)).unwrap_or(0.0);
            ledger.keep_answer(&body);
            respond_whole(
                out,
                200,
                &ledger.headers("application/json", Some(cost)),
                &body,
            );
            route::finished(
                config,
                d,
                usage.map_or(0, |u| u.total()),
                ledger.elapsed_ms(),
            );
            ledger.record(Some(d), usage, 200);
        }
        Err(t) => {
            let e = transport_error(d.provider.name(), d.provider.component(), &t);
            ledger.record_error(Some(d), &e);
            respond_error(out, &e, false)
        }
    }
}

/// Relays a streamed answer event by event, ending it with an error event when the attempt's
/// whole-answer `timeout` passes.
fn stream(
    response: IncomingResponse,
    d: &Deployment,
    request: &ChatRequest,
    limits: &AttemptLimits,
    ledger: &mut Ledger,
    config: &Config,
    out: ResponseOutparam,
) {
    let content_type = response_header(&response, "content-type")
        .unwrap_or_else(|| "text/event-stream".to_string());
    let mut headers = ledger.headers(&content_type, None);
    headers.push(("cache-control".to_string(), "no-cache".to_string()));
    let mut w = BodyWriter::start(out, 200, &headers);
    let mut relay = StreamRelay::new(request.client_wants_usage);
    let began = Instant::now();
    let mut late = false;
    let result = for_each_chunk(&response, |chunk| {
        if began.elapsed().as_millis() as u64 > limits.timeout_ms {
            late = true;
            return false;
        }
        let bytes = relay.push(chunk);
        if bytes.is_empty() {
            return true;
        }
        ledger.mark_first_byte();
        ledger.keep_answer(&bytes);
        w.write(&bytes)
    });
    let failure = match result {
        Err(t) => Some(transport_error(
            d.provider.name(),
            d.provider.component(),
            &t,
        )),
        Ok(()) if late => Some(transport_error(
            d.provider.name(),
            d.provider.component(),
            &gateway_core::upstream::Transport::Timeout,
        )),
        Ok(()) => None,
    };
    if let Some(e) = failure {
        let event = sse::data(&json!({ "error": e.to_openai_json()["error"] }).to_string());
        ledger.keep_answer(&event);
        w.write(&event);
    }
    let tail = relay.finish();
    ledger.keep_answer(&tail);
    w.write(&tail);
    w.finish();
    let usage = relay.usage();
    route::finished(
        config,
        d,
        usage.map_or(0, |u| u.total()),
        ledger.elapsed_ms(),
    );
    ledger.record(Some(d), usage, 200);
}
