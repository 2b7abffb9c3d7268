//! Per-request instance state (one fresh `Store` per request, like Spin) and the shared linker
//! providing WASI 0.2, wasi:http and the Spin interfaces.

use std::sync::{Arc, OnceLock};

use anyhow::Result;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::Engine;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::app::{App, ComponentRuntime};
use crate::bindings;
use crate::bindings::fermyon::spin::variables;
use crate::kv::KvStores;
use crate::outbound::Outbound;
use crate::variables::LookupError;

/// The data of one instance's `Store`.
pub(crate) struct InstanceState {
    pub table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Outbound,
    /// The component (after composition: the parent whose configuration the instance runs with).
    pub component: Arc<ComponentRuntime>,
    /// The host's key-value stores.
    pub kv: Arc<KvStores>,
}

impl InstanceState {
    /// Fresh state for one request to `component`.
    pub fn new(app: &Arc<App>, component: &Arc<ComponentRuntime>) -> InstanceState {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(app.logs.guest_output(&component.id))
            .stderr(app.logs.guest_output(&component.id))
            .envs(&component.environment);
        InstanceState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: Outbound::new(app.clone(), component.clone()),
            component: component.clone(),
            kv: app.kv.clone(),
        }
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl variables::Host for InstanceState {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(self.component.variables.get(&name).map_err(|e| match e {
            LookupError::InvalidName(m) => variables::Error::InvalidName(m),
            LookupError::Undefined(m) => variables::Error::Undefined(m),
        }))
    }
}

/// The linker shared by every host of the process (one engine per process).
pub(crate) fn linker(engine: &Engine) -> Result<&'static Linker<InstanceState>> {
    static LINKER: OnceLock<Linker<InstanceState>> = OnceLock::new();
    if let Some(l) = LINKER.get() {
        return Ok(l);
    }
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::Host_::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
    Ok(LINKER.get_or_init(|| linker))
}
