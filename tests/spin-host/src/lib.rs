//! A small Spin-compatible test host on wasmtime 48 (WASI 0.2 HTTP, as `wasmtime serve` runs
//! it). It reads an app's `spin.toml` and runs the `.wasm` files `spin build` produced,
//! implementing exactly the Spin behaviour the app relies on: HTTP routes (private ones
//! unreachable from outside) with Spin's `spin-*` request headers, local service chaining,
//! `allowed_outbound_hosts`, application and component variables with `SPIN_VARIABLE_*`
//! overrides, key-value stores (Spin's and `wasi:keyvalue` with atomics), component
//! dependencies, and Spin's answers for unmatched routes and failing guests.

mod allowed_hosts;
mod app;
mod bindings;
mod compile;
mod compose;
mod instance;
mod kv;
mod logs;
mod manifest;
mod outbound;
mod routes;
mod server;
mod template;
mod variables;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How to start a host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Path of the app's `spin.toml`.
    pub manifest: PathBuf,
    /// Listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where `SPIN_VARIABLE_*` overrides are read from (e.g. `std::env::vars().collect()`).
    pub env: HashMap<String, String>,
}

/// A running host; it stops when dropped.
pub struct RunningHost {
    addr: SocketAddr,
    app: Arc<app::App>,
    shutdown: watch::Sender<bool>,
}

impl RunningHost {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every log line so far: guest stdout/stderr and host warnings, each `[component] text`.
    pub fn logs(&self) -> Vec<String> {
        self.app.logs.snapshot()
    }

    /// Lines like `spin up` prints for the public routes (`  id: http://addr/route`).
    pub fn routes(&self) -> Vec<String> {
        self.app.router.describe(&format!("http://{}", self.addr))
    }

    /// Stops accepting connections and closes the open ones.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Loads the app, compiles (or loads from the cache) its components and starts serving.
pub async fn start(cfg: HostConfig) -> Result<RunningHost> {
    let app = Arc::new(app::App::load(&cfg.manifest, &cfg.env, logs::Logs::default()).await?);
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("Unable to listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    app.set_listen_addr(addr);
    let (shutdown, stopped) = watch::channel(false);
    tokio::spawn(server::serve(app.clone(), listener, stopped));
    Ok(RunningHost {
        addr,
        app,
        shutdown,
    })
}
