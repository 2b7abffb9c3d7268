//! Provider adapter for OpenAI-format upstreams. The same build serves two Spin components:
//! `provider-openai` (only `https://api.openai.com`, key variable `openai_api_key`) and
//! `provider-openai-compatible` (self-hosted vLLM, KServe, Ollama, llama.cpp: hosts from a
//! deploy-time variable). Which one it is comes from its own component variables. Chat,
//! legacy completions, embeddings and the Responses API are relayed as they are.

use component_io::outbound::{for_each_chunk_within, response_header};
use component_io::provider::Settings;
use component_io::{respond_error, respond_json, BodyWriter, Inbound, UpstreamRequest};
use gateway_core::upstream::{openai_error, transport_error};
use gateway_core::{sse, ApiError, ErrorType};
use serde_json::json;
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

/// Largest request body accepted from the router (the router enforces the configured limit).
const MAX_BODY: usize = 64 * 1024 * 1024;

#[http_component]
fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let inbound = Inbound::new(request);
    let settings = Settings::load("openai");
    match (inbound.method.as_str(), inbound.path.as_str()) {
        ("POST", path @ ("/chat/completions" | "/completions" | "/embeddings" | "/responses")) => {
            match call(&inbound, &settings, path) {
                Ok(response) => forward(response, out, &settings, &inbound),
                Err(e) => respond_error(out, &e, false),
            }
        }
        ("GET", "/health") => respond_json(out, 200, &settings.health(&inbound), &[]),
        _ => respond_error(
            out,
            &ApiError::new(
                404,
                ErrorType::NotFound,
                format!("{}: unknown path", settings.name),
            ),
            false,
        ),
    }
}

/// Sends the router's request to the same `path` upstream (`/chat/completions`, `/completions`,
/// `/embeddings`, `/responses`) and returns the upstream's successful answer.
fn call(
    inbound: &Inbound,
    settings: &Settings,
    path: &str,
) -> Result<spin_sdk::http::IncomingResponse, ApiError> {
    let body = inbound.body(MAX_BODY)?;
    let base = settings.api_base(inbound)?;
    let url = format!("{base}{path}");
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        (
            "accept".to_string(),
            "application/json, text/event-stream".to_string(),
        ),
    ];
    if let Some(key) = settings.require_key(inbound)? {
        headers.push(("authorization".into(), format!("Bearer {key}")));
    }
    let request = UpstreamRequest {
        method: "POST",
        url: &url,
        headers,
        body: &body,
        timeout_ms: settings.timeout_ms(inbound),
    };
    settings.call(&request, |status, body| {
        openai_error(&settings.name, status, body)
    })
}

/// Streams the upstream answer through unchanged, chunk by chunk. A stream whose first chunk
/// does not come within the router's `stream_timeout` is answered with a 504 instead, so the
/// router can try elsewhere.
fn forward(
    response: spin_sdk::http::IncomingResponse,
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
    let result = for_each_chunk_within(&response, first_chunk, |chunk| writer.write(chunk));
    if let Err(t) = result {
        let e = transport_error(&settings.name, "upstream", &t);
        if let Some(out) = writer.take_unsent() {
            return respond_error(out, &e, false);
        }
        if is_sse {
            writer.write(&sse::data(
                &json!({"error": e.to_openai_json()["error"]}).to_string(),
            ));
            writer.write(sse::DONE);
        }
    }
    writer.finish();
}
