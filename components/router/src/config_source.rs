//! Where the gateway config comes from: the `gateway_config` variable (whole YAML or JSON text,
//! e.g. from a Kubernetes ConfigMap), else the `gateway.yaml` bundled at build time.
//!
//! The config is read on every request (a component keeps nothing between requests), so reading
//! it must be cheap: the bundled file is embedded as JSON by `build.rs`; a YAML variable larger
//! than [`CACHE_FROM`] is parsed once per replica and kept, as JSON, in the in-memory `local`
//! store under a hash of its text (YAML parsing is about ten times slower than JSON, and a
//! fifty-model config takes over a millisecond).
//!
//! Runtime models (added through the model API, see `runtime_models`) are appended to the
//! document's `model_list` and validated with it.

use std::hash::{Hash, Hasher};

use gateway_core::config::{Config, ConfigError};
use gateway_core::model_admin;
use serde_json::Value;
use spin_sdk::variables;
use spin_sdk::wit::wasi::keyvalue::store;

use crate::runtime_models;

/// The bundled config, prepared at build time.
const BUNDLED: &str = include_str!(concat!(env!("OUT_DIR"), "/gateway.json"));

/// YAML texts at least this long are cached as JSON; shorter ones parse faster than a lookup.
const CACHE_FROM: usize = 2048;

/// Loads and validates the active config: the YAML config with the runtime models appended.
pub fn load() -> Result<Config, ConfigError> {
    let base = base_document()?;
    let runtime = runtime_models::current();
    if runtime.models.is_empty() {
        return Config::from_value(&base);
    }
    // Runtime models were valid with this config when stored; should the config have changed
    // under them since, the config still serves, without them.
    Config::from_value(&model_admin::merged_document(&base, &runtime)).or_else(|e| {
        eprintln!(
            "runtime models ignored: with them the config fails at {}: {}",
            e.path, e.message
        );
        Config::from_value(&base)
    })
}

/// The YAML (or bundled) config as a document, without runtime models.
pub fn base_document() -> Result<Value, ConfigError> {
    match variables::get("gateway_config") {
        Ok(text) if !text.trim().is_empty() => document(&text),
        _ => Config::document(BUNDLED),
    }
}

/// The variable's text as a document, from the replica's cache when it was read before.
fn document(text: &str) -> Result<Value, ConfigError> {
    if text.len() < CACHE_FROM || text.trim_start().starts_with('{') {
        return Config::document(text);
    }
    let Ok(local) = store::open("local") else {
        return Config::document(text);
    };
    // SipHash with fixed keys: the same text gets the same key in every instance.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    let key = format!("config/{:016x}-{}", hasher.finish(), text.len());
    if let Some(v) = local
        .get(&key)
        .ok()
        .flatten()
        .and_then(|json| serde_json::from_slice(&json).ok())
    {
        return Ok(v);
    }
    let value = Config::document(text)?;
    let _ = local.set(&key, value.to_string().as_bytes());
    Ok(value)
}
