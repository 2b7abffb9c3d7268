//! Provider adapter for Anthropic. Reaches only its own origin (`anthropic_origin`, by default
//! `https://api.anthropic.com`) with its own key variable (`anthropic_api_key`), sent as
//! `x-api-key` with `anthropic-version: 2023-06-01`.
//!
//! - `POST /chat/completions`: an OpenAI chat request, translated to Messages and back (streams
//!   event by event).
//! - `POST /messages`: a native Messages request (the gateway's `/v1/messages` front door),
//!   passed through with every Anthropic field intact and the answer relayed unchanged.
//! - `POST /messages/count_tokens`: the same for Anthropic's token counting.

use component_io::outbound::{for_each_chunk_within, response_header};
use component_io::provider::{json_body, read_json, unix_time, Settings};
use component_io::{respond_error, respond_json, translated, BodyWriter, Inbound, UpstreamRequest};
use gateway_core::upstream::transport_error;
use gateway_core::{sse, ApiError, ErrorType};
use spin_sdk::http::{IncomingRequest, IncomingResponse, ResponseOutparam};
use spin_sdk::http_component;
use translate::anthropic::{error, request, response, stream, VERSION};

/// Largest request body accepted from the router (the router enforces the configured limit).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest non-streamed answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

#[http_component]
fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let inbound = Inbound::new(request);
    let settings = Settings::load("anthropic");
    match (inbound.method.as_str(), inbound.path.as_str()) {
        ("POST", "/chat/completions") => chat(&inbound, &settings, out),
        ("POST", "/messages") => match native(&inbound, &settings, "/v1/messages") {
            Ok(response) => relay(response, out, &settings, &inbound),
            Err(e) => respond_error(out, &e, false),
        },
        ("POST", "/messages/count_tokens") => {
            match native(&inbound, &settings, "/v1/messages/count_tokens") {
                Ok(response) => relay(response, out, &settings, &inbound),
                Err(e) => respond_error(out, &e, false),
            }
        }
        ("GET", "/health") => respond_json(out, 200, &settings.health(&inbound), &[]),
        _ => respond_error(
            out,
            &ApiError::new(404, ErrorType::NotFound, "anthropic: unknown path"),
            false,
        ),
    }
}

/// Posts a Messages body to `{api_base}{path}` (`/v1/messages` or its `/count_tokens`) with this
/// component's key.
fn post(
    inbound: &Inbound,
    settings: &Settings,
    path: &str,
    body: &[u8],
) -> Result<IncomingResponse, ApiError> {
    let url = format!("{}{path}", settings.api_base(inbound)?);
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("anthropic-version".to_string(), VERSION.to_string()),
    ];
    if let Some(key) = settings.require_key(inbound)? {
        headers.push(("x-api-key".into(), key));
    }
    if let Some(beta) = inbound.header("anthropic-beta") {
        headers.push(("anthropic-beta".into(), beta));
    }
    let request = UpstreamRequest {
        method: "POST",
        url: &url,
        headers,
        body,
        timeout_ms: settings.timeout_ms(inbound),
    };
    settings.call(&request, error::from_response)
}

/// OpenAI chat → Messages → OpenAI chat.
fn chat(inbound: &Inbound, settings: &Settings, out: ResponseOutparam) {
    let sent = json_body(inbound, MAX_BODY).and_then(|body| {
        let prepared = request::translate(&body, settings.default_max_tokens(inbound))?;
        let response = post(
            inbound,
            settings,
            "/v1/messages",
            prepared.body.to_string().as_bytes(),
        )?;
        Ok((prepared, response))
    });
    let (prepared, upstream) = match sent {
        Ok(s) => s,
        Err(e) => return respond_error(out, &e, false),
    };
    if prepared.stream {
        let mut t = stream::Stream::new(prepared.json_tool, prepared.include_usage, unix_time());
        let headers = [
            ("content-type".to_string(), "text/event-stream".to_string()),
            ("cache-control".to_string(), "no-cache".to_string()),
        ];
        let on_transport = |t: &_| transport_error(&settings.name, "upstream", t);
        translated::stream(
            &upstream,
            out,
            &mut t,
            &headers,
            false,
            settings.first_chunk_ms(inbound),
            &on_transport,
        );
        return;
    }
    let answer = read_json(&upstream, &settings.name, MAX_ANSWER)
        .and_then(|value| response::translate(&value, prepared.json_tool, unix_time()));
    match answer {
        Ok(v) => respond_json(out, 200, &v, &[]),
        Err(e) => respond_error(out, &e, false),
    }
}

/// Native Messages (or token counting) passthrough.
fn native(
    inbound: &Inbound,
    settings: &Settings,
    path: &str,
) -> Result<IncomingResponse, ApiError> {
    let body = inbound.body(MAX_BODY)?;
    post(inbound, settings, path, &body)
}

/// Relays a native answer unchanged; a failure mid-stream ends it with an Anthropic `error` event,
/// and no first chunk within the router's `stream_timeout` is a 504 answer instead.
fn relay(
    response: IncomingResponse,
    out: ResponseOutparam,
    settings: &Settings,
    inbound: &Inbound,
) {
    let content_type =
        response_header(&response, "content-type").unwrap_or_else(|| "application/json".into());
    let is_sse = content_type.starts_with("text/event-stream");
    let mut writer = BodyWriter::start(
        out,
        response.status(),
        &[("content-type".to_string(), content_type)],
    );
    let first_chunk = settings.first_chunk_ms(inbound).filter(|_| is_sse);
    if let Err(t) = for_each_chunk_within(&response, first_chunk, |chunk| writer.write(chunk)) {
        let e = transport_error(&settings.name, "upstream", &t);
        if let Some(out) = writer.take_unsent() {
            return respond_error(out, &e, true);
        }
        if is_sse {
            writer.write(&sse::named(
                Some("error"),
                &e.to_anthropic_json().to_string(),
            ));
        }
    }
    writer.finish();
}
