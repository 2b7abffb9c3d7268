//! `POST /v1/responses` (OpenAI Responses API): OpenAI and OpenAI-compatible deployments get the
//! request as sent (streamed or not); every other provider, and a follow-up of a response the
//! gateway kept (unless OpenAI made it on the same deployment), goes through chat and back
//! ([`translate::responses`]). `GET` and `DELETE /v1/responses/{id}` read the gateway's store
//! ([`response_store`]).

use std::time::Instant;

use component_io::provider::{read_json, unix_time};
use component_io::{respond_error, respond_json, translated, Inbound};
use gateway_core::config::{Config, Deployment, Provider};
use gateway_core::policy::{AttemptLimits, RequestPolicy};
use gateway_core::routing::require_json;
use gateway_core::sse::{self, Parser};
use gateway_core::upstream::transport_error;
use gateway_core::usage::Usage;
use gateway_core::ApiError;
use serde_json::{json, Value};
use spin_sdk::http::{IncomingResponse, ResponseOutparam};
use translate::responses::response::{self as bridged_response, Echo};
use translate::responses::{stream as bridged_stream, ResponsesRequest};

use crate::completions::{check_generates, generates, native};
use crate::gate;
use crate::ledger::{usage_of, Ledger};
use crate::passthrough::{self, Tap};
use crate::response_store::{self, Stored};
use crate::{params, provider, route};

/// The route name recorded in usage.
const ROUTE: &str = "/v1/responses";
/// Largest chat answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// What an attempt got.
enum Answer {
    /// The upstream's own Responses API answer.
    Native(IncomingResponse),
    /// A chat answer to translate.
    Chat(IncomingResponse),
}

/// Serves one `POST /v1/responses`.
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
    let history = match &request.previous_response_id {
        None => None,
        Some(id) => match response_store::load(id, &grant.key_id) {
            Ok(Some(stored)) => Some(stored),
            Ok(None) => {
                return respond_error(
                    out,
                    &response_store::not_found(id, "previous_response_id"),
                    false,
                )
            }
            Err(e) => return respond_error(out, &e, false),
        },
    };
    let key_id = grant.key_id.clone();
    let mut ledger = Ledger::new(
        grant,
        &request.model,
        ROUTE,
        request.stream,
        started,
        config,
    );
    ledger.keep_request(&request.body);
    let echo = Echo {
        id: translate::request::id("resp_", wasi::random::random::get_random_u64()),
        created_at: unix_time(),
        model: request.model.clone(),
        request: request.body.clone(),
        store: request.store,
    };
    let routed = ledger.route(config, request.stream, &policy, &generates, |d, limits| {
        attempt(config, d, &request, &policy, history.as_ref(), limits)
    });
    let (answer, d) = match routed {
        Ok(r) => r,
        Err(e) => {
            ledger.record(None, None, e.status);
            return respond_error(out, &e.with_headers(ledger.routing_headers(None)), false);
        }
    };
    let native_deployment = matches!(answer, Answer::Native(_)).then(|| d.id.clone());
    let mut keeper = Keeper {
        key_id: &key_id,
        request: &request,
        history,
        native_deployment,
        kept: false,
    };
    match answer {
        Answer::Native(response) if request.stream => {
            let mut tap = NativeTap {
                parser: Parser::default(),
                last: None,
                keeper: &mut keeper,
            };
            passthrough::stream(response, d, &mut tap, &mut ledger, config, out);
        }
        Answer::Native(response) => {
            passthrough::whole(
                response,
                d,
                &mut ledger,
                config,
                out,
                |v| bridged_response::tokens(v).map(usage_of),
                &mut |v| keeper.keep(v),
            );
        }
        Answer::Chat(response) if request.stream => {
            ledger.mark_first_byte();
            let mut t = Keeping {
                inner: bridged_stream::Stream::new(echo),
                keeper: &mut keeper,
            };
            let mut headers = ledger.headers("text/event-stream", None);
            headers.push(("cache-control".into(), "no-cache".into()));
            let on_transport =
                |t: &_| transport_error(d.provider.name(), d.provider.component(), t);
            let status = translated::stream(
                &response,
                out,
                &mut ledger.tee(&mut t),
                &headers,
                false,
                None,
                &on_transport,
            );
            let usage = t.inner.tokens().map(usage_of);
            route::finished(
                config,
                d,
                usage.map_or(0, |u| u.total()),
                ledger.elapsed_ms(),
            );
            ledger.record(Some(d), usage, status);
        }
        Answer::Chat(response) => {
            ledger.mark_first_byte();
            match read_json(&response, d.provider.name(), MAX_ANSWER) {
                Ok(answer) => {
                    let r = bridged_response::from_chat(&answer, &echo);
                    keeper.keep(&r);
                    let usage = bridged_response::tokens(&r).map(usage_of);
                    let cost = usage.map(|u| Ledger::cost(d, &u));
                    ledger.keep_json(&r);
                    respond_json(out, 200, &r, &ledger.headers("application/json", cost)[1..]);
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
                    respond_error(out, &e, false);
                }
            }
        }
    }
}

/// Stores a finished response with the conversation so far (once, when `store` is not false),
/// before the client sees its end, so a follow-up can never arrive first.
struct Keeper<'a> {
    key_id: &'a str,
    request: &'a ResponsesRequest,
    history: Option<Stored>,
    native_deployment: Option<String>,
    kept: bool,
}

impl Keeper<'_> {
    fn keep(&mut self, response: &Value) {
        if self.kept || !self.request.store || response.get("id").is_none() {
            return;
        }
        self.kept = true;
        let mut messages = self.history.take().map(|h| h.messages).unwrap_or_default();
        messages.extend(self.request.input_messages().unwrap_or_default());
        messages.extend(bridged_response::output_messages(response));
        response_store::save(
            self.key_id,
            response,
            messages,
            self.native_deployment.as_deref(),
        );
    }
}

/// The bridged stream, keeping the response as soon as it is complete.
struct Keeping<'k, 'a> {
    inner: bridged_stream::Stream,
    keeper: &'k mut Keeper<'a>,
}

impl Keeping<'_, '_> {
    fn after(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        if let Some(r) = self.inner.response() {
            self.keeper.keep(r);
        }
        bytes
    }
}

impl gateway_core::sse::Translator for Keeping<'_, '_> {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let out = self.inner.push(chunk);
        self.after(out)
    }
    fn finish(&mut self) -> Vec<u8> {
        let out = self.inner.finish();
        self.after(out)
    }
    fn early_error(&mut self) -> Option<ApiError> {
        self.inner.early_error()
    }
    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        self.inner.fail(error)
    }
}

/// One attempt on `d`: native when the provider has the Responses API and there is no kept
/// conversation, or OpenAI's own made it on this deployment; else through chat.
fn attempt(
    config: &Config,
    d: &Deployment,
    request: &ResponsesRequest,
    policy: &RequestPolicy,
    history: Option<&Stored>,
    limits: &AttemptLimits,
) -> Result<Answer, ApiError> {
    // Self-hosted servers may implement the Responses API without `previous_response_id`
    // (llama.cpp's refuses it): only OpenAI continues its own conversations.
    let continues_natively = history.is_none_or(|h| {
        d.provider == Provider::OpenAi && h.native_deployment.as_deref() == Some(d.id.as_str())
    });
    if native(d) && continues_natively {
        let body = params::for_deployment(config, d, policy, &request.body);
        let request = ResponsesRequest {
            body,
            ..request.clone()
        };
        return provider::post(
            d,
            "/responses",
            &request.upstream_body(&d.upstream_model),
            &[],
            limits,
        )
        .map(Answer::Native);
    }
    request.refuse_built_in_tools(d.provider.name())?;
    let messages = history.map(|h| h.messages.as_slice()).unwrap_or(&[]);
    let chat = match request.chat_body(messages, &d.upstream_model)? {
        Value::Object(map) => params::for_deployment(config, d, policy, &map),
        _ => Default::default(),
    };
    provider::post(
        d,
        "/chat/completions",
        Value::Object(chat).to_string().as_bytes(),
        &[],
        limits,
    )
    .map(Answer::Chat)
}

/// `GET /v1/responses/{id}`.
pub fn get(inbound: &Inbound, id: &str, out: ResponseOutparam) {
    let found = gate::check(inbound, ROUTE).and_then(|grant| {
        response_store::load(id, &grant.key_id)?
            .map(|s| s.response)
            .ok_or_else(|| response_store::not_found(id, "response_id"))
    });
    match found {
        Ok(v) => respond_json(out, 200, &v, &[]),
        Err(e) => respond_error(out, &e, false),
    }
}

/// `DELETE /v1/responses/{id}`.
pub fn delete(inbound: &Inbound, id: &str, out: ResponseOutparam) {
    let deleted = gate::check(inbound, ROUTE).and_then(|grant| {
        if response_store::delete(id, &grant.key_id)? {
            Ok(json!({"id": id, "object": "response", "deleted": true}))
        } else {
            Err(response_store::not_found(id, "response_id"))
        }
    });
    match deleted {
        Ok(v) => respond_json(out, 200, &v, &[]),
        Err(e) => respond_error(out, &e, false),
    }
}

fn parse(
    inbound: &Inbound,
    config: &Config,
) -> Result<(ResponsesRequest, RequestPolicy), ApiError> {
    require_json(inbound.header("content-type").as_deref())?;
    let raw = inbound.body(config.max_body_bytes)?;
    let mut request = ResponsesRequest::parse(&raw)?;
    let policy = RequestPolicy::take(&mut request.body, |h| inbound.header(h))?;
    Ok((request, policy))
}

/// Passes a native Responses stream on unchanged, keeping its final `response` object.
struct NativeTap<'k, 'a> {
    parser: Parser,
    last: Option<Value>,
    keeper: &'k mut Keeper<'a>,
}

impl NativeTap<'_, '_> {
    fn see(&mut self, data: &str) {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return;
        };
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
        if matches!(kind, "response.completed" | "response.incomplete") {
            if let Some(r) = v.get("response") {
                self.keeper.keep(r);
            }
        }
        if matches!(
            kind,
            "response.completed" | "response.incomplete" | "response.failed"
        ) {
            self.last = v.get("response").cloned();
        }
    }
}

impl Tap for NativeTap<'_, '_> {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        for e in self.parser.push(chunk) {
            self.see(&e.data);
        }
        chunk.to_vec()
    }
    fn finish(&mut self) -> Vec<u8> {
        if let Some(e) = self.parser.finish() {
            self.see(&e.data);
        }
        Vec::new()
    }
    fn usage(&self) -> Option<Usage> {
        self.last
            .as_ref()
            .and_then(bridged_response::tokens)
            .map(usage_of)
    }
    fn error_event(&self, e: &ApiError) -> Vec<u8> {
        let body = e.to_openai_json();
        let err = &body["error"];
        sse::named(
            Some("error"),
            &json!({"type": "error", "code": err["code"], "message": err["message"],
                "param": err["param"], "sequence_number": 0})
            .to_string(),
        )
    }
}
