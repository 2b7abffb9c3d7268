//! A small Spin-compatible test host on wasmtime 48 (WASI 0.2 HTTP, as `wasmtime serve` runs it).
//! It reads the app's `spin.toml` and implements exactly the Spin behaviour the app relies on:
//! HTTP routes (private ones unreachable from outside), local service chaining to
//! `*.spin.internal`, `allowed_outbound_hosts` enforcement (denied requests fail in the guest with
//! `HttpRequestDenied` and a warning naming the host), app and component variables with
//! `SPIN_VARIABLE_*` overrides, and Spin's answers for unmatched routes and failing guests.

mod allowlist;
mod compose;
mod kv;
mod kv_host;
pub mod manifest;
mod runtime;
mod server;
pub mod spin_bindings;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::net::TcpListener;

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

/// A running host; stops when dropped.
pub struct RunningHost {
    addr: SocketAddr,
    logs: runtime::Logs,
    task: tokio::task::JoinHandle<()>,
    /// Public routes as `(pattern, component)`.
    pub routes: Vec<(String, String)>,
}

impl RunningHost {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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

/// Loads the app and starts serving it.
pub async fn start(config: HostConfig) -> Result<RunningHost> {
    let manifest = manifest::Manifest::load(&config.manifest)?;
    let variables = manifest::resolve_variables(&manifest.variables, &config.env)?;
    let logs: runtime::Logs = Arc::new(Mutex::new(Vec::new()));
    let app = runtime::App::load(&manifest, &variables, logs.clone())?;
    let routes = server::public_routes(&manifest.triggers);
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let listed = routes
        .iter()
        .map(|r| (r.pattern.clone(), r.component.clone()))
        .collect();
    let task = tokio::spawn(server::run(listener, app, routes, config.tcp_nodelay));
    Ok(RunningHost {
        addr,
        logs,
        task,
        routes: listed,
    })
}
