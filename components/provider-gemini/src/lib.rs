//! Provider adapter for Google Gemini. Reaches only its own origin (`gemini_origin`, by default
//! `https://generativelanguage.googleapis.com`) with its own key variable (`gemini_api_key`),
//! sent as the `x-goog-api-key` header, never in the URL.
//!
//! - `POST /chat/completions`: an OpenAI chat request, translated to
//!   `{api_base}/models/{model}:generateContent` (or `:streamGenerateContent?alt=sse`) and back.
//! - `POST /count_tokens`: the same request counted with `:countTokens`, answered as
//!   `{"object": "response.input_tokens", "input_tokens": n}`.
//! - `POST /embeddings`: an OpenAI embeddings request, sent as `:batchEmbedContents` calls of at
//!   most 100 inputs and answered as OpenAI's list (floats), merged in order; Gemini reports no
//!   usage, so it is estimated and marked `x-gateway-usage: estimated`.

use component_io::provider::{json_body, read_json, unix_time, Settings};
use component_io::{respond_error, respond_json, translated, Inbound, UpstreamRequest};
use gateway_core::upstream::transport_error;
use gateway_core::{ApiError, ErrorType};
use spin_sdk::http::{IncomingRequest, IncomingResponse, ResponseOutparam};
use spin_sdk::http_component;
use translate::embeddings;
use translate::gemini::{count, error, request, response, stream};

/// Largest request body accepted from the router (the router enforces the configured limit).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest non-streamed answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

#[http_component]
fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let inbound = Inbound::new(request);
    let settings = Settings::load("gemini");
    match (inbound.method.as_str(), inbound.path.as_str()) {
        ("POST", "/chat/completions") => chat(&inbound, &settings, out),
        ("POST", "/count_tokens") => count_tokens(&inbound, &settings, out),
        ("POST", "/embeddings") => embeddings(&inbound, &settings, out),
        ("GET", "/health") => respond_json(out, 200, &settings.health(&inbound), &[]),
        _ => respond_error(
            out,
            &ApiError::new(404, ErrorType::NotFound, "gemini: unknown path"),
            false,
        ),
    }
}

/// Posts a Gemini body to `{api_base}/models/{model}:{method}` with this component's key.
fn post(
    inbound: &Inbound,
    settings: &Settings,
    model_method: &str,
    body: &serde_json::Value,
) -> Result<IncomingResponse, ApiError> {
    let url = format!("{}/models/{model_method}", settings.api_base(inbound)?);
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(key) = settings.require_key(inbound)? {
        headers.push(("x-goog-api-key".into(), key));
    }
    let body = body.to_string();
    let request = UpstreamRequest {
        method: "POST",
        url: &url,
        headers,
        body: body.as_bytes(),
        timeout_ms: settings.timeout_ms(inbound),
    };
    settings.call(&request, error::from_response)
}

/// OpenAI chat → `generateContent` / `streamGenerateContent` → OpenAI chat.
fn chat(inbound: &Inbound, settings: &Settings, out: ResponseOutparam) {
    let sent = json_body(inbound, MAX_BODY).and_then(|body| {
        let prepared = request::translate(&body)?;
        let method = if prepared.stream {
            format!("{}:streamGenerateContent?alt=sse", prepared.model)
        } else {
            format!("{}:generateContent", prepared.model)
        };
        let response = post(inbound, settings, &method, &prepared.body)?;
        Ok((prepared, response))
    });
    let (prepared, upstream) = match sent {
        Ok(s) => s,
        Err(e) => return respond_error(out, &e, false),
    };
    if prepared.stream {
        let mut t = stream::Stream::new(&prepared.model, prepared.include_usage, unix_time());
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
        .and_then(|value| response::translate(&value, &prepared.model, unix_time()));
    match answer {
        Ok(v) => respond_json(out, 200, &v, &[]),
        Err(e) => respond_error(out, &e, false),
    }
}

/// OpenAI chat request → `countTokens` → `{"object": "response.input_tokens", "input_tokens"}`.
fn count_tokens(inbound: &Inbound, settings: &Settings, out: ResponseOutparam) {
    let counted = json_body(inbound, MAX_BODY).and_then(|body| {
        let prepared = request::translate(&body)?;
        let method = format!("{}:countTokens", prepared.model);
        let upstream = post(inbound, settings, &method, &count::request(&prepared))?;
        count::response(&read_json(&upstream, &settings.name, MAX_ANSWER)?)
    });
    match counted {
        Ok(v) => respond_json(out, 200, &v, &[]),
        Err(e) => respond_error(out, &e, false),
    }
}

/// OpenAI embeddings → `batchEmbedContents` (in chunks) → OpenAI's embeddings list.
fn embeddings(inbound: &Inbound, settings: &Settings, out: ResponseOutparam) {
    let answered = json_body(inbound, MAX_BODY).and_then(|body| {
        let model = body
            .get("model")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut answers = Vec::new();
        for batch in embeddings::gemini_batches(&body, &model)? {
            let method = format!("{model}:batchEmbedContents");
            let upstream = post(inbound, settings, &method, &batch)?;
            answers.push(read_json(&upstream, &settings.name, MAX_ANSWER)?);
        }
        embeddings::from_gemini(&answers, &body, &model)
    });
    match answered {
        Ok(v) => respond_json(
            out,
            200,
            &v,
            &[("x-gateway-usage".into(), "estimated".into())],
        ),
        Err(e) => respond_error(out, &e, false),
    }
}
