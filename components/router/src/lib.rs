//! The router: the gateway's public routes (`/v1/...` and the same paths without `/v1`).
//! It holds no provider key and reaches only the provider components (`*.spin.internal`).

mod chat;
mod config_source;
mod gate;
mod health;
mod ledger;
mod messages;
mod provider;

use component_io::{respond_error, respond_json, Inbound};
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
    match &route {
        Route::Health => {
            let (status, body) = health::check();
            return respond_json(out, status, &body, &[]);
        }
        Route::Admin(path) => return gate::admin(&inbound, path, out),
        _ => {}
    }
    let config = match config_source::load() {
        Ok(c) => c,
        Err(e) => {
            let anthropic = route == Route::Messages;
            return respond_error(out, &ApiError::from(e), anthropic);
        }
    };
    match route {
        Route::ChatCompletions => chat::handle(&inbound, &config, out),
        Route::ListModels => answer(
            out,
            gate::check(&inbound, "", "/v1/models")
                .map(|grant| models::list(&config, |name| gate::allows(&grant, name))),
        ),
        Route::GetModel(id) => answer(
            out,
            gate::check(&inbound, &id, "/v1/models").and_then(|_| models::get(&config, &id)),
        ),
        Route::Messages => messages::handle(&inbound, &config, out),
        Route::Health | Route::Admin(_) => unreachable!("answered above"),
    }
}

/// Sends a JSON body, or the error.
fn answer(out: ResponseOutparam, result: Result<serde_json::Value, ApiError>) {
    match result {
        Ok(body) => respond_json(out, 200, &body, &[]),
        Err(e) => respond_error(out, &e, false),
    }
}
