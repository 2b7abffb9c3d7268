//! `GET /health`: whether the config loaded, and which providers have their key configured
//! (asked of each provider component; never the keys themselves).

use std::collections::BTreeMap;

use component_io::outbound::read_all;
use component_io::{send, UpstreamRequest};
use gateway_core::config::{KeySource, Provider};
use serde_json::{json, Value};

use crate::config_source;

/// Returns the status code and the JSON body.
pub fn check() -> (u16, Value) {
    let config = match config_source::load() {
        Ok(c) => c,
        Err(e) => {
            return (
                503,
                json!({
                    "status": "unhealthy",
                    "config": { "loaded": false, "error": format!("{}: {}", e.path, e.message) },
                }),
            )
        }
    };
    let mut by_provider: BTreeMap<Provider, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for d in &config.deployments {
        let (models, vars) = by_provider.entry(d.provider).or_default();
        if !models.contains(&d.model_name.as_str()) {
            models.push(&d.model_name);
        }
        if let Some(KeySource::Variable(v)) = &d.key {
            if !vars.contains(&v.as_str()) {
                vars.push(v);
            }
        }
    }
    let mut providers = serde_json::Map::new();
    for (provider, (models, vars)) in by_provider {
        let keys = provider_keys(provider, &vars);
        providers.insert(
            provider.name().to_string(),
            json!({ "component": provider.component(), "models": models, "reachable": keys.is_some(), "keys": keys }),
        );
    }
    (
        200,
        json!({
            "status": "healthy",
            "config": { "loaded": true, "models": config.model_names().len(), "deployments": config.deployments.len() },
            "providers": providers,
        }),
    )
}

/// Asks a provider component which of its key variables are set.
fn provider_keys(provider: Provider, vars: &[&str]) -> Option<Value> {
    let url = format!("{}/health", provider.internal_url());
    let request = UpstreamRequest {
        method: "GET",
        url: &url,
        headers: vec![("x-gateway-key-variable".into(), vars.join(","))],
        body: &[],
        timeout_ms: 5_000,
    };
    let response = send(&request).ok()?;
    let body = read_all(&response, 64 * 1024).ok()?;
    let value: Value = serde_json::from_slice(&body).ok()?;
    value.get("keys").cloned()
}
