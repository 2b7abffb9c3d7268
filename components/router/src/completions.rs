//! `POST /v1/completions` (legacy text completions): OpenAI and OpenAI-compatible deployments
//! get the request as sent (streamed or not); Anthropic and Gemini get one chat request per
//! prompt and the answers come back as one `text_completion` (or its stream).

use std::time::Instant;

use component_io::provider::{read_json, unix_time};
use component_io::{respond_error, respond_json, translated, BodyWriter, Inbound};
use gateway_core::config::{Config, Deployment, Provider};
use gateway_core::policy::{AttemptLimits, RequestPolicy};
use gateway_core::relay::StreamRelay;
use gateway_core::routing::require_json;
use gateway_core::upstream::transport_error;
use gateway_core::usage::Usage;
use gateway_core::{ApiError, ErrorType};
use serde_json::Value;
use spin_sdk::http::{IncomingResponse, ResponseOutparam};
use translate::completions::{self, CompletionRequest};

use crate::embeddings::mode;
use crate::gate;
use crate::ledger::Ledger;
use crate::{params, passthrough, provider, route};

/// The route name recorded in usage.
const ROUTE: &str = "/v1/completions";
/// Largest chat answer read per prompt.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// What an attempt got.
enum Answer {
    /// The upstream's own `/completions` answer.
    Native(IncomingResponse),
    /// One chat stream (a single prompt, streamed).
    ChatStream(IncomingResponse),
    /// Whole chat answers, one per prompt.
    Chats(Vec<Value>),
}

/// Whether `d` serves `/completions` itself.
pub fn native(d: &Deployment) -> bool {
    matches!(d.provider, Provider::OpenAi | Provider::OpenAiCompatible)
}

/// Whether `d` may answer a generation request (not an embedding model).
pub fn generates(d: &Deployment) -> bool {
    mode(d) != Some("embedding")
}

/// 400 when every deployment of a known model is an embedding model.
pub fn check_generates(config: &Config, model: &str) -> Result<(), ApiError> {
    let deployments = config.deployments_for(model);
    if deployments.is_empty() || deployments.iter().any(|d| generates(d)) {
        return Ok(());
    }
    Err(ApiError::new(
        400,
        ErrorType::InvalidRequest,
        format!("The model `{model}` is an embedding model (model_info.mode: embedding); use /v1/embeddings"),
    )
    .with_param("model")
    .with_code("model_not_supported"))
}

/// Serves one completions request.
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
    if let Err(e) = check_generates(config, &request.model) {
        return respond_error(out, &e, false);
    }
    let mut ledger = Ledger::new(
        grant,
        &request.model,
        ROUTE,
        request.stream,
        started,
        config,
    );
    ledger.keep_request(&request.body);
    let routed = ledger.route(config, request.stream, &policy, &generates, |d, limits| {
        attempt(config, d, &request, &policy, limits)
    });
    let (answer, d) = match routed {
        Ok(r) => r,
        Err(e) => {
            ledger.record(None, None, e.status);
            return respond_error(out, &e.with_headers(ledger.routing_headers(None)), false);
        }
    };
    match answer {
        Answer::Native(response) if request.stream => {
            let mut relay = StreamRelay::new(request.client_wants_usage);
            passthrough::stream(response, d, &mut relay, &mut ledger, config, out)
        }
        Answer::Native(response) => {
            passthrough::whole(
                response,
                d,
                &mut ledger,
                config,
                out,
                Usage::from_response,
                &mut |_| {},
            );
        }
        Answer::ChatStream(response) => {
            ledger.mark_first_byte();
            let mut t = completions::Stream::new(request.client_wants_usage);
            let mut headers = ledger.headers("text/event-stream", None);
            headers.push(("cache-control".into(), "no-cache".into()));
            let on_transport =
                |t: &_| transport_error(d.provider.name(), d.provider.component(), t);
            let status =
                translated::stream(&response, out, &mut t, &headers, false, None, &on_transport);
            let usage = t
                .usage()
                .and_then(|u| Usage::from_response(&serde_json::json!({"usage": u})));
            route::finished(
                config,
                d,
                usage.map_or(0, |u| u.total()),
                ledger.elapsed_ms(),
            );
            ledger.record(Some(d), usage, status);
        }
        Answer::Chats(answers) => {
            ledger.mark_first_byte();
            let id = translate::request::id("cmpl-", wasi::random::random::get_random_u64());
            let completion = completions::from_chat(&answers, &request.model, &id, unix_time());
            let usage = Usage::from_response(&completion);
            if request.stream {
                let mut headers = ledger.headers("text/event-stream", None);
                headers.push(("cache-control".into(), "no-cache".into()));
                let mut w = BodyWriter::start(out, 200, &headers);
                let events = completions::as_stream(&completion, request.client_wants_usage);
                ledger.keep_answer(&events);
                w.write(&events);
                w.finish();
            } else {
                let cost = usage.map(|u| Ledger::cost(d, &u));
                ledger.keep_json(&completion);
                respond_json(
                    out,
                    200,
                    &completion,
                    &ledger.headers("application/json", cost)[1..],
                );
            }
            route::finished(
                config,
                d,
                usage.map_or(0, |u| u.total()),
                ledger.elapsed_ms(),
            );
            ledger.record(Some(d), usage, 200);
        }
    }
}

/// One attempt on `d`.
fn attempt(
    config: &Config,
    d: &Deployment,
    request: &CompletionRequest,
    policy: &RequestPolicy,
    limits: &AttemptLimits,
) -> Result<Answer, ApiError> {
    if native(d) {
        let body = params::for_deployment(config, d, policy, &request.body);
        let request = CompletionRequest {
            body,
            ..request.clone()
        };
        return provider::post(
            d,
            "/completions",
            &request.upstream_body(&d.upstream_model),
            &[],
            limits,
        )
        .map(Answer::Native);
    }
    let drop = policy
        .drop_params
        .or(d.policy.drop_params)
        .unwrap_or(config.router.drop_params);
    let mut bridged = request.clone();
    bridged.check_bridgeable(d.provider.name(), drop)?;
    let streamed_live = request.stream && request.prompts.len() == 1;
    bridged.stream = streamed_live;
    let chat = |i: usize| -> Result<Vec<u8>, ApiError> {
        let body = bridged.chat_body(i, &d.upstream_model)?;
        let body = match body {
            Value::Object(map) => params::for_deployment(config, d, policy, &map),
            _ => Default::default(),
        };
        Ok(Value::Object(body).to_string().into_bytes())
    };
    if streamed_live {
        return provider::post(d, "/chat/completions", &chat(0)?, &[], limits)
            .map(Answer::ChatStream);
    }
    let mut answers = Vec::with_capacity(bridged.prompts.len());
    for i in 0..bridged.prompts.len() {
        let response = provider::post(d, "/chat/completions", &chat(i)?, &[], limits)?;
        answers.push(read_json(&response, d.provider.name(), MAX_ANSWER)?);
    }
    Ok(Answer::Chats(answers))
}

fn parse(
    inbound: &Inbound,
    config: &Config,
) -> Result<(CompletionRequest, RequestPolicy), ApiError> {
    require_json(inbound.header("content-type").as_deref())?;
    let raw = inbound.body(config.max_body_bytes)?;
    let mut request = CompletionRequest::parse(&raw)?;
    let policy = RequestPolicy::take(&mut request.body, |h| inbound.header(h))?;
    Ok((request, policy))
}
