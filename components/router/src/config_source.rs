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

use component_io::Inbound;
use gateway_core::config::{Config, ConfigError};
use gateway_core::model_admin;
use serde_json::Value;
use spin_sdk::variables;
use spin_sdk::wit::wasi::keyvalue::store;

use crate::{gate, runtime_models};

/// The bundled config, prepared at build time.
const BUNDLED: &str = include_str!(concat!(env!("OUT_DIR"), "/gateway.json"));

/// YAML texts at least this long are cached as JSON; shorter ones parse faster than a lookup.
const CACHE_FROM: usize = 2048;

/// Loads and validates the active config: the YAML config with the runtime models appended, as
/// this replica last saw them (for a request that reads no shared store: the master key's).
pub fn load() -> Result<Config, ConfigError> {
    load_for(None)
}

/// [`load`] for a request: a virtual key's may bring this replica's runtime models up to date
/// (see `runtime_models`).
pub fn load_for(inbound: Option<&Inbound>) -> Result<Config, ConfigError> {
    let base = base_document()?;
    let runtime = runtime_models::current(inbound.is_some_and(is_virtual_key));
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

/// Whether the request carries a key other than the master key (the auth component will look it
/// up in the shared store).
fn is_virtual_key(inbound: &Inbound) -> bool {
    let master = variables::get("master_key").unwrap_or_default();
    match gate::key_of(inbound) {
        Some(key) => !master.is_empty() && !auth_core::keys::constant_time_eq(&key, &master),
        None => false,
    }
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
