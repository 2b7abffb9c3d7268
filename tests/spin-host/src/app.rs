//! A loaded application: the manifest resolved against the environment, every HTTP component
//! compiled (or taken from the cache) and pre-instantiated once.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::allowed_hosts::AllowedHosts;
use crate::compile::{self, CacheKey};
use crate::compose::{self, DependencyWasm};
use crate::instance::{self, InstanceState};
use crate::kv::KvStores;
use crate::logs::Logs;
use crate::manifest::{ComponentDecl, DependencySource, Manifest};
use crate::routes::Router;
use crate::variables::{AppVariables, ComponentVariables};

/// A component ready to serve requests, with the configuration its instances run with.
pub(crate) struct ComponentRuntime {
    pub id: String,
    pub pre: ProxyPre<InstanceState>,
    pub variables: ComponentVariables,
    pub allowed: AllowedHosts,
    pub kv_labels: Vec<String>,
    pub environment: Vec<(String, String)>,
}

/// A running application.
pub(crate) struct App {
    pub engine: &'static Engine,
    pub router: Router,
    /// Components with an HTTP trigger (public or private), by id.
    components: HashMap<String, Arc<ComponentRuntime>>,
    pub kv: Arc<KvStores>,
    pub logs: Logs,
    listen: OnceLock<SocketAddr>,
}

impl App {
    /// Loads the manifest, resolves variables and prepares every HTTP component.
    pub async fn load(manifest: &Path, env: &HashMap<String, String>, logs: Logs) -> Result<App> {
        let m = Manifest::load(manifest)?;
        let vars = AppVariables::resolve(&m.variables, env)
            .with_context(|| format!("application {:?}", m.name))?;
        let router = Router::new(&m.triggers)?;
        let engine = compile::engine()?;
        let ids: Vec<String> = m.components.keys().cloned().collect();

        let mut tasks = Vec::new();
        let mut seen = Vec::new();
        for trigger in &m.triggers {
            if seen.contains(&trigger.component) {
                continue;
            }
            seen.push(trigger.component.clone());
            let id = trigger.component.clone();
            let decl = m.components.get(&id).context("trigger component")?.clone();
            let sources = dependency_sources(&decl, &m.components)?;
            tasks.push(tokio::spawn(async move {
                compile_component(engine, &id, &decl, sources)
                    .await
                    .with_context(|| format!("component {id:?}"))
                    .map(|c| (id, decl, c))
            }));
        }

        let linker = instance::linker(engine)?;
        let mut components = HashMap::new();
        for task in tasks {
            let (id, decl, component) = task.await??;
            let pre = ProxyPre::new(linker.instantiate_pre(&component)?)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component {id:?} is not a wasi:http component"))?;
            let runtime = runtime(&id, &decl, pre, &vars, &ids)
                .with_context(|| format!("component {id:?}"))?;
            components.insert(id, Arc::new(runtime));
        }

        Ok(App {
            engine,
            router,
            components,
            kv: Arc::default(),
            logs,
            listen: OnceLock::new(),
        })
    }

    /// A component reachable over HTTP (routed or by service chaining).
    pub fn http_component(&self, id: &str) -> Option<Arc<ComponentRuntime>> {
        self.components.get(id).cloned()
    }

    /// The address the app listens on, once bound.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.get().copied()
    }

    /// Records the bound address (for self requests).
    pub fn set_listen_addr(&self, addr: SocketAddr) {
        let _ = self.listen.set(addr);
    }
}

/// `(name, export, path)` of each dependency of a component.
fn dependency_sources(
    decl: &ComponentDecl,
    all: &BTreeMap<String, ComponentDecl>,
) -> Result<Vec<(String, Option<String>, PathBuf)>> {
    decl.dependencies
        .iter()
        .map(|d| {
            let path = match &d.source {
                DependencySource::Path(p) => p.clone(),
                DependencySource::Component(id) => all
                    .get(id)
                    .with_context(|| format!("dependency {:?}: unknown component {id:?}", d.name))?
                    .source
                    .clone(),
            };
            Ok((d.name.clone(), d.export.clone(), path))
        })
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "reading {} (was the component built with `spin build`?)",
            path.display()
        )
    })
}

/// Compiles a component (composed with its dependencies) or takes it from the cache.
async fn compile_component(
    engine: &'static Engine,
    id: &str,
    decl: &ComponentDecl,
    deps: Vec<(String, Option<String>, PathBuf)>,
) -> Result<wasmtime::component::Component> {
    let parent = read(&decl.source)?;
    let mut key = CacheKey::new(engine);
    key.add(&parent);
    let mut dep_wasm = Vec::new();
    for (name, export, path) in deps {
        let bytes = read(&path)?;
        key.add(name.as_bytes());
        key.add(export.as_deref().unwrap_or("").as_bytes());
        key.add(&bytes);
        dep_wasm.push(DependencyWasm {
            name,
            export,
            bytes,
        });
    }
    let id = id.to_string();
    compile::component(engine, key, move || {
        if dep_wasm.is_empty() {
            Ok(parent)
        } else {
            compose::compose(&id, parent, dep_wasm)
        }
    })
    .await
}

/// Renders a component's configuration.
fn runtime(
    id: &str,
    decl: &ComponentDecl,
    pre: ProxyPre<InstanceState>,
    vars: &AppVariables,
    ids: &[String],
) -> Result<ComponentRuntime> {
    let rendered = decl
        .allowed_outbound_hosts
        .iter()
        .map(|h| Ok((h.clone(), vars.render(h)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(ComponentRuntime {
        id: id.to_string(),
        pre,
        variables: ComponentVariables::new(id, &decl.variables, vars)?,
        allowed: AllowedHosts::parse(&rendered, ids)?,
        kv_labels: decl.key_value_stores.clone(),
        environment: decl
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}
