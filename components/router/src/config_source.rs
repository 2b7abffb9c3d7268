//! Where the gateway config comes from: the `gateway_config` variable (whole YAML text, e.g.
//! from a Kubernetes ConfigMap), else the `gateway.yaml` bundled at build time.

use gateway_core::config::{Config, ConfigError};
use spin_sdk::variables;

/// The config bundled into the router at build time.
const BUNDLED: &str = include_str!("../../../gateway.yaml");

/// Loads and validates the active config.
pub fn load() -> Result<Config, ConfigError> {
    match variables::get("gateway_config") {
        Ok(text) if !text.trim().is_empty() => Config::parse(&text),
        _ => Config::parse(BUNDLED),
    }
}
