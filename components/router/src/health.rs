//! `GET /health`: whether the config loaded, and which providers have their key configured
//! (asked of each provider component; never the keys themselves).

use std::collections::BTreeMap;

use component_io::outbound::read_all;
use component_io::{send, UpstreamRequest};
use gateway_core::config::{Config, KeySource, Provider};
use serde_json::{json, Value};
use spin_sdk::wit::wasi::keyvalue::store;

use crate::{config_source, route};

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
            "config": {
                "loaded": true,
                "models": config.model_names().len(),
                "deployments": config.deployments.len(),
                "routing_strategy": config.router.strategy.name(),
                "ignored_settings": config.router.ignored,
            },
            "providers": providers,
            "deployments": deployments(&config),
        }),
    )
}

/// Each deployment's state from real traffic (the shared routing state; no provider is called):
/// `healthy` or `cooling` with until when, and its last failure.
fn deployments(config: &Config) -> Vec<Value> {
    let limits = store::open("limits").ok();
    let now = now_ms();
    config
        .deployments
        .iter()
        .map(|d| {
            let cooling = cooling(limits.as_ref(), &d.id, now);
            let last = limits
                .as_ref()
                .and_then(|l| l.get(&format!("route/last/{}", d.id)).ok().flatten())
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            json!({
                "id": d.id,
                "model_name": d.model_name,
                "provider": d.provider.name(),
                "upstream_model": d.upstream_model,
                "state": if cooling.is_some() { "cooling" } else { "healthy" },
                "cooling_until_ms": cooling.as_ref().map(|c| c.until_ms),
                "cooling_because": cooling.as_ref().map(|c| json!({"status": c.status, "error": c.error})),
                "last_failure": last,
            })
        })
        .collect()
}

/// The deployments' routing state in Prometheus text (`litellm_deployment_state`,
/// `litellm_deployment_cooled_down_total`), for `/metrics`; empty when the config does not load.
pub fn deployment_metrics() -> String {
    let Ok(config) = config_source::load() else {
        return String::new();
    };
    let limits = store::open("limits").ok();
    let now = now_ms();
    let states: Vec<_> = config
        .deployments
        .iter()
        .map(|d| auth_core::metrics::DeploymentState {
            model: &d.model_name,
            id: &d.id,
            provider: d.provider.name(),
            cooling: cooling(limits.as_ref(), &d.id, now).is_some(),
            cooled: limits
                .as_ref()
                .map_or(0, |l| route::counter(l, &format!("route/cooled/{}", d.id))),
        })
        .collect();
    auth_core::metrics::render_deployments(&states)
}

/// A deployment's cooldown when it is cooling now.
fn cooling(limits: Option<&store::Bucket>, id: &str, now: u64) -> Option<route::Cooldown> {
    limits
        .and_then(|l| route::cooldown(l, id))
        .filter(|c| c.until_ms > now)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
