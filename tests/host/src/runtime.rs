//! Compiling and running components: one fresh instance per request (like Spin), WASI 0.2 HTTP,
//! Spin variables, local service chaining and `allowed_outbound_hosts` enforcement.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use http_body_util::BodyExt;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use crate::allowlist::Allowlist;
use crate::kv::Stores;
use crate::manifest::{render, ComponentDecl, Manifest};
use crate::runtime_config::RuntimeConfig;
use crate::spin_bindings;
use crate::sqlite::Location;

/// Shared, append-only log of the host and its guests.
pub type Logs = Arc<Mutex<Vec<String>>>;

/// Appends a line to the logs and to stderr.
pub fn log(logs: &Logs, line: String) {
    eprintln!("{line}");
    if let Ok(mut l) = logs.lock() {
        l.push(line);
    }
}

/// A component ready to instantiate.
pub struct Prepared {
    /// Component id.
    pub id: String,
    pre: ProxyPre<State>,
    /// Rendered component variables.
    pub variables: HashMap<String, String>,
    allow: Allowlist,
    kv_labels: Vec<String>,
    sqlite_labels: Vec<String>,
}

/// The loaded application.
pub struct App {
    engine: Engine,
    /// Components serving HTTP, by id.
    pub components: HashMap<String, Arc<Prepared>>,
    /// Log lines.
    pub logs: Logs,
    stores: Stores,
    sqlite: BTreeMap<String, Location>,
}

/// Per-instance state.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    /// Open SQLite connections of this instance.
    pub sqlite_connections: usize,
}

/// Outbound HTTP policy of one instance.
pub struct Hooks {
    app: Arc<App>,
    component: Arc<Prepared>,
}

impl State {
    /// The instance's resource table.
    pub fn table_ref(&self) -> &ResourceTable {
        &self.table
    }

    /// The instance's resource table, mutably.
    pub fn table_mut(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Whether this component may open a key-value store label.
    pub fn kv_allowed(&self, label: &str) -> bool {
        self.hooks.component.kv_labels.iter().any(|l| l == label)
    }

    /// Whether this component may open a SQLite database label (its `sqlite_databases`).
    pub fn sqlite_allowed(&self, label: &str) -> bool {
        self.hooks
            .component
            .sqlite_labels
            .iter()
            .any(|l| l == label)
    }

    /// Where a SQLite database label lives, if it is defined.
    pub fn sqlite_location(&self, label: &str) -> Option<Location> {
        self.hooks.app.sqlite.get(label).cloned()
    }

    /// Whether this component's `allowed_outbound_hosts` lets it reach `scheme://host:port`.
    pub fn outbound_allowed(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.hooks.component.allow.allows(scheme, host, port)
    }

    /// The host's key-value stores.
    pub fn stores(&self) -> Stores {
        self.hooks.app.stores.clone()
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl spin_bindings::fermyon::spin::variables::Host for State {
    fn get(
        &mut self,
        name: String,
    ) -> Result<String, spin_bindings::fermyon::spin::variables::Error> {
        use spin_bindings::fermyon::spin::variables::Error;
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(Error::InvalidName(format!(
                "invalid variable name {name:?}"
            )));
        }
        self.hooks
            .component
            .variables
            .get(&name)
            .cloned()
            .ok_or_else(|| Error::Undefined(format!("no variable for {name:?}")))
    }
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = std::result::Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = std::result::Result<
                    (
                        http::Response<WasiBody>,
                        Box<
                            dyn std::future::Future<Output = std::result::Result<(), HttpError>>
                                + Send,
                        >,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        type HttpResult<T> = std::result::Result<T, HttpError>;
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or("https").to_string();
        let host = uri.host().unwrap_or("").to_string();
        let port = uri.port_u16();
        if !self.component.allow.allows(&scheme, &host, port) {
            let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
            log(
                &self.app.logs,
                format!(
                    "[{}] WARN A component tried to make an HTTP request to a non-allowed host '{scheme}://{authority}'. To allow requests, add 'allowed_outbound_hosts = [\"{scheme}://{authority}\"]' to the manifest component section.",
                    self.component.id
                ),
            );
            return Box::new(async { HttpResult::Err(HttpError::HttpRequestDenied) });
        }
        let done: Box<dyn std::future::Future<Output = HttpResult<()>> + Send> =
            Box::new(async { HttpResult::Ok(()) });
        if let Some(target) = host.strip_suffix(".spin.internal") {
            let app = self.app.clone();
            let target = target.to_string();
            return Box::new(async move {
                let Some(component) = app.components.get(&target).cloned() else {
                    return Err(HttpError::DestinationNotFound);
                };
                let response = app
                    .serve(component, request)
                    .await
                    .map_err(|e| HttpError::InternalError(Some(e.to_string())))?;
                HttpResult::Ok((response, done))
            });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: Box<dyn std::future::Future<Output = HttpResult<()>> + Send> = Box::new(io);
            HttpResult::Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}

fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    Engine::new(&config).map_err(wt)
}

/// Converts wasmtime's error type into `anyhow`'s, keeping the whole chain as text.
pub fn wt(e: wasmtime::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// Compiles a component, reusing a cached native artifact keyed by the wasm bytes.
fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    let cache_dir = cache_dir();
    let cached = cache_dir.join(format!("{:016x}.cwasm", hasher.finish()));
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same build of the host.
        if let Ok(c) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok(c);
        }
    }
    let component = Component::new(engine, bytes).map_err(wt)?;
    if std::fs::create_dir_all(&cache_dir).is_ok() {
        let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
        if let Ok(data) = component.serialize() {
            if std::fs::write(&tmp, data).is_ok() {
                let _ = std::fs::rename(&tmp, &cached);
            }
        }
    }
    Ok(component)
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-host-cache")
}

impl App {
    /// Loads the manifest's HTTP components with resolved variables.
    pub fn load(
        manifest: &Manifest,
        variables: &HashMap<String, String>,
        runtime_config: &RuntimeConfig,
        logs: Logs,
    ) -> Result<Arc<App>> {
        let mut ids: Vec<&String> = manifest.components.keys().collect();
        ids.sort();
        for id in ids {
            let c = &manifest.components[id];
            runtime_config.check_component(id, &c.key_value_stores, &c.sqlite_databases)?;
        }
        let engine = engine()?;
        let mut linker: Linker<State> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wt)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(wt)?;
        spin_bindings::fermyon::spin::variables::add_to_linker::<State, HasSelf<State>>(
            &mut linker,
            |s| s,
        )
        .map_err(wt)?;
        spin_bindings::fermyon::spin::key_value::add_to_linker::<State, HasSelf<State>>(
            &mut linker,
            |s| s,
        )
        .map_err(wt)?;
        spin_bindings::wasi::keyvalue::store::add_to_linker::<State, HasSelf<State>>(
            &mut linker,
            |s| s,
        )
        .map_err(wt)?;
        spin_bindings::wasi::keyvalue::atomics::add_to_linker::<State, HasSelf<State>>(
            &mut linker,
            |s| s,
        )
        .map_err(wt)?;
        spin_bindings::spin::sqlite::sqlite::add_to_linker::<State, HasSelf<State>>(
            &mut linker,
            |s| s,
        )
        .map_err(wt)?;
        spin_bindings::fermyon::spin::sqlite::add_to_linker::<State, HasSelf<State>>(
            &mut linker,
            |s| s,
        )
        .map_err(wt)?;
        spin_bindings::spin::postgres::postgres::add_to_linker::<State, HasSelf<State>>(
            &mut linker,
            |s| s,
        )
        .map_err(wt)?;
        let mut components = HashMap::new();
        for (_, id) in &manifest.triggers {
            if components.contains_key(id) {
                continue;
            }
            let decl: &ComponentDecl = &manifest.components[id];
            let component = if decl.dependencies.is_empty() {
                compile(
                    &engine,
                    &std::fs::read(&decl.source).with_context(|| {
                        format!(
                            "reading component {} (run ./scripts/build-wasm)",
                            decl.source.display()
                        )
                    })?,
                )?
            } else {
                let mut ids: Vec<&String> = decl.dependencies.iter().map(|(_, dep)| dep).collect();
                ids.dedup();
                let deps = ids
                    .into_iter()
                    .map(|dep| {
                        manifest
                            .components
                            .get(dep)
                            .map(|d| d.source.as_path())
                            .with_context(|| {
                                format!("component {id} depends on unknown component {dep}")
                            })
                    })
                    .collect::<Result<Vec<_>>>()?;
                compile(&engine, &crate::compose::compose(&decl.source, &deps)?)?
            };
            let pre = linker
                .instantiate_pre(&component)
                .and_then(ProxyPre::new)
                .map_err(wt)
                .with_context(|| format!("component {id}: imports not satisfied"))?;
            let vars = decl
                .variables
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        render(v, variables)
                            .with_context(|| format!("component {id} variable {k}"))?,
                    ))
                })
                .collect::<Result<HashMap<_, _>>>()?;
            let hosts = decl
                .allowed_outbound_hosts
                .iter()
                .map(|h| render(h, variables))
                .collect::<Result<Vec<_>>>()?;
            let allow = Allowlist::parse(&hosts).with_context(|| format!("component {id}"))?;
            components.insert(
                id.clone(),
                Arc::new(Prepared {
                    id: id.clone(),
                    pre,
                    variables: vars,
                    allow,
                    // A composed dependency runs with these too
                    // (dependencies_inherit_configuration).
                    kv_labels: decl.key_value_stores.clone(),
                    sqlite_labels: decl.sqlite_databases.clone(),
                }),
            );
        }
        Ok(Arc::new(App {
            engine,
            components,
            logs,
            stores: Stores::default(),
            sqlite: runtime_config.sqlite_databases.clone(),
        }))
    }

    /// Serves one request on a fresh instance of a component.
    pub async fn serve<B>(
        self: &Arc<Self>,
        component: Arc<Prepared>,
        request: http::Request<B>,
    ) -> Result<http::Response<HyperOutgoingBody>>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<HttpError>,
    {
        let output = MemoryOutputPipe::new(1 << 20);
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .build();
        let mut store = Store::new(
            &self.engine,
            State {
                wasi,
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                hooks: Hooks {
                    app: self.clone(),
                    component: component.clone(),
                },
                sqlite_connections: 0,
            },
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(wt)?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(tx)
            .map_err(wt)?;
        let pre = component.pre.clone();
        let logs = self.logs.clone();
        let id = component.id.clone();
        let task = tokio::spawn(async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            }
            .await;
            drop(store);
            for line in String::from_utf8_lossy(&output.contents()).lines() {
                log(&logs, format!("[{id}] {line}"));
            }
            if let Err(e) = &result {
                log(&logs, format!("[{id}] ERROR guest failed: {e:?}"));
            }
            result
        });
        match rx.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => {
                anyhow::bail!("component {} answered with error {code:?}", component.id)
            }
            Err(_) => match task.await {
                Ok(Ok(())) => anyhow::bail!("component {} never set a response", component.id),
                Ok(Err(e)) => Err(wt(e).context(format!("component {} failed", component.id))),
                Err(e) => Err(e.into()),
            },
        }
    }
}
