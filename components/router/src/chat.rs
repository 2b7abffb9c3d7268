//! `POST /v1/chat/completions`: validate, check the caller, pick a deployment (failing over to the
//! next one on server-side errors), relay the provider's answer chunk by chunk, record usage.

use std::time::Instant;

use component_io::outbound::{for_each_chunk, read_all, response_header};
use component_io::{respond_error, respond_whole, BodyWriter, Inbound};
use gateway_core::chat::ChatRequest;
use gateway_core::config::{Config, Deployment};
use gateway_core::relay::StreamRelay;
use gateway_core::routing::require_json;
use gateway_core::upstream::transport_error;
use gateway_core::usage::Usage;
use gateway_core::{sse, ApiError};
use serde_json::{json, Value};
use spin_sdk::http::{IncomingResponse, ResponseOutparam};

use crate::gate;
use crate::ledger::Ledger;
use crate::provider;

/// Largest non-streamed answer relayed.
const MAX_ANSWER: usize = 64 * 1024 * 1024;
/// The route name recorded in usage.
const ROUTE: &str = "/v1/chat/completions";

/// Serves one chat-completion request.
pub fn handle(inbound: &Inbound, config: &Config, out: ResponseOutparam) {
    let started = Instant::now();
    let request = match parse(inbound, config) {
        Ok(r) => r,
        Err(e) => return respond_error(out, &e, false),
    };
    let grant = match gate::check(inbound, &request.model, ROUTE) {
        Ok(g) => g,
        Err(e) => return respond_error(out, &e, false),
    };
    let mut ledger = Ledger::new(grant, &request.model, ROUTE, request.stream, started);
    let sent = provider::failover(config, &request.model, |d| {
        provider::post(
            d,
            "/chat/completions",
            &request.upstream_body(&d.upstream_model),
            &[],
        )
    });
    match sent {
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

/// Relays a non-streamed answer.
fn whole(response: IncomingResponse, d: &Deployment, ledger: &mut Ledger, out: ResponseOutparam) {
    ledger.mark_first_byte();
    match read_all(&response, MAX_ANSWER) {
        Ok(body) => {
            let usage = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| Usage::from_response(&v));
            respond_whole(out, 200, &ledger.headers("application/json"), &body);
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
    let mut headers = ledger.headers(&content_type);
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
