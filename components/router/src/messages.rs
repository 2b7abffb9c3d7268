//! `POST /v1/messages`: the Anthropic Messages front door. Anthropic models get the request as
//! sent (model rewritten, `anthropic-beta` passed on) and the answer relayed untouched; every
//! other model goes through OpenAI chat and back, so the client always sees Anthropic's message
//! and event sequence. Errors are Anthropic-shaped. `POST /v1/messages/count_tokens` counts a
//! request's input tokens the same way round.

use std::time::Instant;

use component_io::outbound::for_each_chunk;
use component_io::provider::read_json;
use component_io::{respond_error, respond_json, translated, BodyWriter, Inbound};
use gateway_core::config::{Config, Deployment, Provider};
use gateway_core::policy::RequestPolicy;
use gateway_core::routing::require_json;
use gateway_core::upstream::transport_error;
use gateway_core::usage::Usage;
use gateway_core::{models, sse, ApiError};
use serde_json::{json, Map, Value};
use spin_sdk::http::{IncomingResponse, ResponseOutparam};
use translate::anthropic;
use translate::messages::request::MessagesRequest;
use translate::messages::usage_tap::UsageTap;
use translate::messages::{count, response, stream};

use crate::gate;
use crate::ledger::{usage_of, Ledger};
use crate::{provider, route};

/// The route name recorded in usage.
const ROUTE: &str = "/v1/messages";
/// The route name given to auth for token counting.
const COUNT_ROUTE: &str = "/v1/messages/count_tokens";
/// Largest non-streamed answer relayed.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Serves one Messages request.
pub fn handle(inbound: &Inbound, config: &Config, out: ResponseOutparam) {
    let started = Instant::now();
    let request = match parse(inbound, config) {
        Ok(r) => r,
        Err(e) => return respond_error(out, &e, true),
    };
    let grant = match gate::check_model(inbound, config, &request.model, ROUTE) {
        Ok(g) => g,
        Err(e) => return respond_error(out, &e, true),
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
    let beta = beta_header(inbound);
    let policy = match RequestPolicy::take(&mut Map::new(), |h| inbound.header(h)) {
        Ok(p) => p,
        Err(e) => return respond_error(out, &e, true),
    };
    let routed = ledger.route(config, request.stream, &policy, &|_| true, |d, limits| {
        if d.provider == Provider::Anthropic {
            provider::post(
                d,
                "/messages",
                &request.native_body(&d.upstream_model),
                &beta,
                limits,
            )
        } else {
            request.to_openai().and_then(|mut body| {
                body.insert("model".into(), json!(d.upstream_model));
                if request.stream {
                    body.insert("stream_options".into(), json!({"include_usage": true}));
                }
                provider::post(
                    d,
                    "/chat/completions",
                    Value::Object(body).to_string().as_bytes(),
                    &[],
                    limits,
                )
            })
        }
    });
    let (response, d) = match routed {
        Ok(s) => s,
        Err(e) => {
            ledger.record_error(None, &e);
            return respond_error(out, &e.with_headers(ledger.routing_headers(None)), true);
        }
    };
    match (d.provider == Provider::Anthropic, request.stream) {
        (true, true) => native_stream(response, d, &mut ledger, out),
        (true, false) => whole(response, d, &mut ledger, out, |v| {
            let usage = usage_of(anthropic::usage::of_message(&v));
            (v, Some(usage))
        }),
        (false, true) => translated_stream(response, d, &mut ledger, out),
        (false, false) => whole(response, d, &mut ledger, out, |v| {
            let usage = Usage::from_response(&v);
            (response::translate(&v), usage)
        }),
    }
}

/// Serves one `count_tokens` request. Anthropic and Gemini deployments count natively; a model
/// served only by OpenAI-format providers gets an estimate, marked `x-gateway-token-count:
/// estimate`. Nothing is generated, so nothing is recorded as spend.
pub fn count_tokens(inbound: &Inbound, config: &Config, out: ResponseOutparam) {
    match counted(inbound, config) {
        Ok((v, estimated)) => {
            let headers: &[(String, String)] = if estimated {
                &[("x-gateway-token-count".into(), "estimate".into())]
            } else {
                &[]
            };
            respond_json(out, 200, &v, headers)
        }
        Err(e) => respond_error(out, &e, true),
    }
}

/// The count answer, and whether it is an estimate.
fn counted(inbound: &Inbound, config: &Config) -> Result<(Value, bool), ApiError> {
    require_json(inbound.header("content-type").as_deref())?;
    let request = MessagesRequest::parse_count(&inbound.body(config.max_body_bytes)?)?;
    gate::check_model(inbound, config, &request.model, COUNT_ROUTE)?;
    let deployments = config.deployments_for(&request.model);
    if deployments.is_empty() {
        return Err(models::model_not_found(&request.model));
    }
    if !deployments
        .iter()
        .any(|d| matches!(d.provider, Provider::Anthropic | Provider::Gemini))
    {
        return Ok((
            json!({"input_tokens": count::estimate(&request.body)}),
            true,
        ));
    }
    let beta = beta_header(inbound);
    let policy = RequestPolicy::take(&mut Map::new(), |h| inbound.header(h))?;
    let native = |d: &Deployment| matches!(d.provider, Provider::Anthropic | Provider::Gemini);
    let routed = route::run(
        config,
        &request.model,
        false,
        &policy,
        &native,
        |d, limits| {
            if d.provider == Provider::Anthropic {
                return provider::post(
                    d,
                    "/messages/count_tokens",
                    &request.native_body(&d.upstream_model),
                    &beta,
                    limits,
                );
            }
            let mut body = request.to_openai()?;
            body.insert("model".into(), json!(d.upstream_model));
            provider::post(
                d,
                "/count_tokens",
                Value::Object(body).to_string().as_bytes(),
                &[],
                limits,
            )
        },
    );
    let (response, d) = routed.result?;
    let v = read_json(&response, d.provider.name(), MAX_ANSWER)?;
    let answer = match d.provider {
        Provider::Anthropic => v,
        _ => count::from_adapter(&v, d.provider.name())?,
    };
    Ok((answer, false))
}

/// The caller's `anthropic-beta` header, passed on to Anthropic.
fn beta_header(inbound: &Inbound) -> Vec<(String, String)> {
    inbound
        .header("anthropic-beta")
        .map(|b| vec![("anthropic-beta".to_string(), b)])
        .unwrap_or_default()
}

fn parse(inbound: &Inbound, config: &Config) -> Result<MessagesRequest, ApiError> {
    require_json(inbound.header("content-type").as_deref())?;
    let raw = inbound.body(config.max_body_bytes)?;
    MessagesRequest::parse(&raw)
}

/// A non-streamed answer: read, converted by `convert` (answer and usage), sent.
fn whole(
    upstream: IncomingResponse,
    d: &Deployment,
    ledger: &mut Ledger,
    out: ResponseOutparam,
    convert: impl FnOnce(Value) -> (Value, Option<Usage>),
) {
    ledger.mark_first_byte();
    let body = read_json(&upstream, d.provider.name(), MAX_ANSWER);
    match body {
        Ok(v) => {
            let (answer, usage) = convert(v);
            let cost = usage.map(|u| Ledger::cost(d, &u));
            ledger.keep_json(&answer);
            respond_json(
                out,
                200,
                &answer,
                &ledger.headers("application/json", cost)[1..],
            );
            ledger.record(Some(d), usage, 200);
        }
        Err(e) => {
            ledger.record_error(Some(d), &e);
            respond_error(out, &e, true);
        }
    }
}

fn stream_headers(ledger: &Ledger) -> Vec<(String, String)> {
    let mut headers = ledger.headers("text/event-stream", None);
    headers.push(("cache-control".to_string(), "no-cache".to_string()));
    headers
}

/// Anthropic's own stream, relayed byte for byte; usage read on the way.
fn native_stream(
    upstream: IncomingResponse,
    d: &Deployment,
    ledger: &mut Ledger,
    out: ResponseOutparam,
) {
    let mut w = BodyWriter::start(out, 200, &stream_headers(ledger));
    let mut tap = UsageTap::new();
    let result = for_each_chunk(&upstream, |chunk| {
        ledger.mark_first_byte();
        ledger.keep_answer(chunk);
        tap.push(chunk);
        w.write(chunk)
    });
    if let Err(t) = result {
        let e = transport_error(d.provider.name(), d.provider.component(), &t);
        let event = sse::named(Some("error"), &e.to_anthropic_json().to_string());
        ledger.keep_answer(&event);
        w.write(&event);
    }
    w.finish();
    ledger.record(Some(d), Some(usage_of(tap.tokens())), 200);
}

/// An OpenAI stream from another provider, as Anthropic events.
fn translated_stream(
    upstream: IncomingResponse,
    d: &Deployment,
    ledger: &mut Ledger,
    out: ResponseOutparam,
) {
    ledger.mark_first_byte();
    let mut t = stream::Stream::new();
    let on_transport = |t: &_| transport_error(d.provider.name(), d.provider.component(), t);
    let headers = stream_headers(ledger);
    let status = translated::stream(
        &upstream,
        out,
        &mut ledger.tee(&mut t),
        &headers,
        true,
        None,
        &on_transport,
    );
    ledger.record(Some(d), t.tokens().map(usage_of), status);
}
