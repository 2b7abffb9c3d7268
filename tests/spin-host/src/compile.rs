//! One wasmtime engine per process and a two-level cache of compiled components: in memory
//! (each distinct component compiles once per process) and on disk (`Component::serialize`
//! files keyed by a hash of the inputs and the engine's compatibility hash), so a new host
//! starts without compiling.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result};
use tokio::sync::OnceCell;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// The process-wide engine.
pub(crate) fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e);
    }
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config)?;
    Ok(ENGINE.get_or_init(|| engine))
}

/// A cache key over everything that determines a compiled component.
pub(crate) struct CacheKey(DefaultHasher);

impl CacheKey {
    /// A key for this engine's configuration.
    pub fn new(engine: &Engine) -> CacheKey {
        let mut h = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        CacheKey(h)
    }

    /// Adds an input (wasm bytes, dependency names, ...).
    pub fn add(&mut self, part: &[u8]) {
        part.len().hash(&mut self.0);
        part.hash(&mut self.0);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

type Slot = Arc<OnceCell<Component>>;

/// Returns the compiled component for `key`, compiling `wasm()` only when neither the process
/// nor the disk cache has it.
pub(crate) async fn component(
    engine: &'static Engine,
    key: CacheKey,
    wasm: impl FnOnce() -> Result<Vec<u8>> + Send + 'static,
) -> Result<Component> {
    static MEMORY: OnceLock<Mutex<HashMap<u64, Slot>>> = OnceLock::new();
    let key = key.finish();
    let slot: Slot = {
        let mut map = MEMORY
            .get_or_init(Default::default)
            .lock()
            .map_err(|_| anyhow::anyhow!("component cache lock poisoned"))?;
        map.entry(key).or_default().clone()
    };
    let component = slot
        .get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || load_or_compile(engine, key, wasm))
                .await
                .context("compiling a component")?
        })
        .await?;
    Ok(component.clone())
}

fn load_or_compile(
    engine: &Engine,
    key: u64,
    wasm: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<Component> {
    let dir = cache_dir();
    let path = dir.join(format!("{key:016x}.cwasm"));
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same engine
        // configuration (its hash is part of the key), and wasmtime checks the header anyway.
        if let Ok(c) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(c);
        }
    }
    let bytes = wasm()?;
    let component = Component::new(engine, &bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the component")?;
    if let Ok(serialized) = component.serialize() {
        store(&dir, &path, &serialized);
    }
    Ok(component)
}

/// Writes a cache file atomically; a failure only costs a recompilation later.
fn store(dir: &Path, path: &Path, bytes: &[u8]) {
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// `$SPIN_HOST_CACHE_DIR`, else `<cargo target dir>/spin-host-cache` (found from the running
/// executable), else a directory under the system temp dir.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SPIN_HOST_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .find(|d| d.join("CACHEDIR.TAG").exists())
            .map(Path::to_path_buf)
    });
    target
        .unwrap_or_else(std::env::temp_dir)
        .join("spin-host-cache")
}
