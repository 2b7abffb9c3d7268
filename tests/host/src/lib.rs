//! A small Spin-compatible test host on wasmtime 48 (WASI 0.2 HTTP, as `wasmtime serve` runs it).
//! It reads the app's `spin.toml` and implements exactly the Spin behaviour the app relies on:
//! HTTP routes (private ones unreachable from outside), local service chaining to
//! `*.spin.internal`, `allowed_outbound_hosts` enforcement (denied requests fail in the guest with
//! `HttpRequestDenied` and a warning naming the host), app and component variables with
//! `SPIN_VARIABLE_*` overrides, Spin's answers for unmatched routes and failing guests, key-value
//! stores (`fermyon:spin/key-value`, `wasi:keyvalue`) and SQLite databases (`spin:sqlite`,
//! `fermyon:spin/sqlite`) with the labels of Spin's runtime configuration file.

mod allowlist;
mod compose;
mod kv;
mod kv_host;
pub mod manifest;
mod pg_host;
mod runtime;
pub mod runtime_config;
mod server;
pub mod spin_bindings;
pub mod sqlite;
mod sqlite_host;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::net::TcpListener;

pub use runtime_config::StateDir;

/// How to start a host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Path of `spin.toml`.
    pub manifest: PathBuf,
    /// Listen address (port 0 picks one).
    pub listen: SocketAddr,
    /// Environment the `SPIN_VARIABLE_*` overrides are read from.
    pub env: HashMap<String, String>,
    /// Set `TCP_NODELAY` on accepted connections. Spin does not (its HTTP trigger serves the
    /// accepted stream as it is), so this is off except to measure what it would change.
    pub tcp_nodelay: bool,
}

/// Spin's runtime options (`spin up --runtime-config-file ... --state-dir ...`).
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// The runtime configuration file, if any.
    pub runtime_config_file: Option<PathBuf>,
    /// The state directory.
    pub state_dir: StateDir,
}

impl HostOptions {
    /// What [`start`] uses for a test: the runtime config file named by `RUNTIME_CONFIG_FILE` in
    /// `config.env` (Spin's variable for it), else `runtime-config.toml` beside the manifest if
    /// there is one; and a fresh temporary state directory, so no two hosts share a database.
    pub fn for_tests(config: &HostConfig) -> HostOptions {
        let beside = config
            .manifest
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("runtime-config.toml");
        let runtime_config_file = match config.env.get("RUNTIME_CONFIG_FILE") {
            Some(f) if !f.is_empty() => Some(PathBuf::from(f)),
            _ => beside.exists().then_some(beside),
        };
        HostOptions {
            runtime_config_file,
            state_dir: StateDir::Temporary,
        }
    }
}

/// A running host; stops when dropped.
pub struct RunningHost {
    addr: SocketAddr,
    logs: runtime::Logs,
    task: tokio::task::JoinHandle<()>,
    /// Public routes as `(pattern, component)`.
    pub routes: Vec<(String, String)>,
    state_dir: Option<PathBuf>,
    _temporary: Option<tempfile::TempDir>,
}

impl RunningHost {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The state directory (where the `default` SQLite database lives), if any.
    pub fn state_dir(&self) -> Option<&std::path::Path> {
        self.state_dir.as_deref()
    }

    /// Every log line so far (host warnings and guest output, prefixed with the component id).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Loads the app and starts serving it with [`HostOptions::for_tests`].
pub async fn start(config: HostConfig) -> Result<RunningHost> {
    let options = HostOptions::for_tests(&config);
    start_with(config, options).await
}

/// Loads the app with a runtime configuration and state directory and starts serving it.
pub async fn start_with(config: HostConfig, options: HostOptions) -> Result<RunningHost> {
    let manifest = manifest::Manifest::load(&config.manifest)?;
    let variables = manifest::resolve_variables(&manifest.variables, &config.env)?;
    let temporary = match options.state_dir {
        StateDir::Temporary => Some(
            tempfile::Builder::new()
                .prefix("test-host-state-")
                .tempdir()
                .context("making a temporary state directory")?,
        ),
        _ => None,
    };
    let app_dir = std::path::absolute(
        config
            .manifest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new(".")),
    )?;
    let runtime_config = runtime_config::RuntimeConfig::load(
        options.runtime_config_file.as_deref(),
        &options.state_dir,
        &app_dir,
        temporary.as_ref().map(|t| t.path()),
    )?;
    let logs: runtime::Logs = Arc::new(Mutex::new(Vec::new()));
    let app = runtime::App::load(&manifest, &variables, &runtime_config, logs.clone())?;
    let routes = server::public_routes(&manifest.triggers);
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let listed = routes
        .iter()
        .map(|r| (r.pattern.clone(), r.component.clone()))
        .collect();
    let mut info = serde_json::Map::new();
    info.insert("name".into(), manifest.name.clone().into());
    if let Some(version) = &manifest.version {
        info.insert("version".into(), version.clone().into());
    }
    let info = serde_json::to_string_pretty(&info)?;
    let task = tokio::spawn(server::run(listener, app, routes, config.tcp_nodelay, info));
    Ok(RunningHost {
        addr,
        logs,
        task,
        routes: listed,
        state_dir: runtime_config.state_dir,
        _temporary: temporary,
    })
}
