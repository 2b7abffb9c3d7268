//! The router: the gateway's public routes (`/v1/...` and the same paths without `/v1`).
//! It holds no provider key and reaches only the provider components (`*.spin.internal`).

mod admission;
mod chat;
mod completions;
mod config_source;
mod embeddings;
mod gate;
mod health;
mod kept;
mod ledger;
mod messages;
mod model_api;
mod params;
mod passthrough;
mod provider;
mod response_store;
mod responses;
mod route;
mod runtime_models;

use component_io::{respond_error, respond_json, Inbound};
use gateway_core::config::Config;
use gateway_core::routes::Route;
use gateway_core::{models, ApiError};
use spin_sdk::http::{IncomingRequest, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let inbound = Inbound::new(request);
    let route = match Route::resolve(&inbound.method, &inbound.path) {
        Ok(route) => route,
        Err(e) => return respond_error(out, &e, false),
    };
    match route {
        Route::Health | Route::Readiness => {
            let (status, body) = health::check();
            respond_json(out, status, &body, &[])
        }
        // LiteLLM's answer: the process is up, whatever its config says.
        Route::Liveliness => respond_json(out, 200, &serde_json::json!("I'm alive!"), &[]),
        Route::Admin(path) => gate::admin(&inbound, &path, out),
        Route::Models(path) => model_api::handle(&inbound, &path, out),
        Route::ChatCompletions => with_admitted(out, false, &inbound, |config, out| {
            chat::handle(&inbound, config, out)
        }),
        Route::Embeddings => with_admitted(out, false, &inbound, |config, out| {
            embeddings::handle(&inbound, config, out)
        }),
        Route::Completions => with_admitted(out, false, &inbound, |config, out| {
            completions::handle(&inbound, config, out)
        }),
        Route::Responses => with_admitted(out, false, &inbound, |config, out| {
            responses::handle(&inbound, config, out)
        }),
        Route::GetResponse(id) => responses::get(&inbound, &id, out),
        Route::DeleteResponse(id) => responses::delete(&inbound, &id, out),
        Route::Messages => with_admitted(out, true, &inbound, |config, out| {
            messages::handle(&inbound, config, out)
        }),
        Route::CountTokens => with_admitted(out, true, &inbound, |config, out| {
            messages::count_tokens(&inbound, config, out)
        }),
        Route::ListModels => with_config(out, false, &inbound, |config, out| {
            answer(
                out,
                gate::check(&inbound, "/v1/models")
                    .map(|grant| models::list(config, |name| gate::allows(&grant, name))),
            )
        }),
        Route::GetModel(id) => with_config(out, false, &inbound, |config, out| {
            answer(
                out,
                gate::check_model(&inbound, config, &id, "/v1/models")
                    .and_then(|_| models::get(config, &id)),
            )
        }),
    }
}

/// Runs `f` with the gateway config for this request, or answers the config error
/// (Anthropic-shaped on the Messages routes).
fn with_config(
    out: ResponseOutparam,
    anthropic: bool,
    inbound: &Inbound,
    f: impl FnOnce(&Config, ResponseOutparam),
) {
    match config_source::load_for(Some(inbound)) {
        Ok(config) => f(&config, out),
        Err(e) => respond_error(out, &ApiError::from(e), anthropic),
    }
}

/// [`with_config`] for routes that call a provider: the request must first get a slot among
/// those in flight ([`admission`]), which it holds until `f` has answered and recorded.
fn with_admitted(
    out: ResponseOutparam,
    anthropic: bool,
    inbound: &Inbound,
    f: impl FnOnce(&Config, ResponseOutparam),
) {
    with_config(
        out,
        anthropic,
        inbound,
        |config, out| match admission::admit(config.max_parallel_requests) {
            Ok(_slot) => f(config, out),
            Err(e) => respond_error(out, &e, anthropic),
        },
    )
}

/// Sends a JSON body, or the error.
fn answer(out: ResponseOutparam, result: Result<serde_json::Value, ApiError>) {
    match result {
        Ok(body) => respond_json(out, 200, &body, &[]),
        Err(e) => respond_error(out, &e, false),
    }
}
