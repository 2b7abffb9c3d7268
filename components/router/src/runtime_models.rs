//! Runtime models in the stores: the shared list in `default` (written by the model API), and
//! each replica's view of it in `local`. The healthy path reads only `local`. A replica asks
//! `default` for the version at most once a second (`model_admin::REFRESH_MS`), and only on a
//! request that reads the shared store anyway (a virtual key's, which the auth component looks up
//! there), under the same stall guard as the auth component (`auth_core::store_health`): a
//! master-key request never touches the shared store, so it keeps working while Redis is down.
//! A change is served at once by the replica that made it, and within a second of their next
//! virtual-key request by the others; the list itself is read again only when its version changed.

use auth_core::store_health::{self, Before};
use gateway_core::model_admin::{RuntimeModels, Seen, MODELS_KEY, VERSION_KEY};
use spin_sdk::wit::wasi::keyvalue::store;

const SEEN_KEY: &str = "models/seen";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn doc_key(version: &str) -> String {
    format!("models/doc/{version}")
}

/// The runtime models this replica serves (none when no store answers). `may_ask_shared`: the
/// request reads the shared store anyway (a virtual key), so it may compare the version.
pub fn current(may_ask_shared: bool) -> RuntimeModels {
    let Ok(local) = store::open("local") else {
        return RuntimeModels::default();
    };
    let now = now_ms();
    let mut seen = local
        .get(SEEN_KEY)
        .ok()
        .flatten()
        .map(|b| Seen::parse(&b))
        .unwrap_or_default();
    if may_ask_shared && seen.stale(now) {
        let guard = Local(&local);
        if let Ok(Before::Go { .. }) = store_health::before(&guard, now) {
            // Claimed before asking, so one request a second asks at most.
            let old = seen.version.clone();
            seen.checked_ms = now;
            let _ = local.set(SEEN_KEY, &seen.to_bytes());
            if let Some(version) = shared_version() {
                let _ = store_health::answered(&guard, now_ms());
                seen.version = version;
                let _ = local.set(SEEN_KEY, &seen.to_bytes());
                if seen.version != old && !old.is_empty() {
                    let _ = local.delete(&doc_key(&old));
                }
            }
        }
    }
    if seen.version.is_empty() {
        return RuntimeModels::default();
    }
    if let Some(bytes) = local.get(&doc_key(&seen.version)).ok().flatten() {
        return RuntimeModels::from_json(&bytes);
    }
    if !may_ask_shared {
        return RuntimeModels::default();
    }
    let models = read_shared().unwrap_or_default();
    let _ = local.set(&doc_key(&models.version), &models.to_json());
    models
}

/// The replica's in-memory store as the stall guard reads and writes it.
struct Local<'a>(&'a store::Bucket);

impl auth_core::Kv for Local<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(key).map_err(|e| format!("{e:?}"))
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.set(key, value).map_err(|e| format!("{e:?}"))
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.delete(key).map_err(|e| format!("{e:?}"))
    }
    fn keys(&self, _prefix: &str) -> Result<Vec<String>, String> {
        Err("not used by the stall guard".into())
    }
    fn increment(&self, _key: &str, _delta: i64) -> Result<i64, String> {
        Err("not used by the stall guard".into())
    }
}

/// The version the shared store holds (empty: no runtime models), if it answers.
fn shared_version() -> Option<String> {
    let shared = store::open("default").ok()?;
    let bytes = shared.get(VERSION_KEY).ok()?;
    Some(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())
}

/// The list as stored in the shared store, read fresh (for writes).
pub fn read_shared() -> Result<RuntimeModels, String> {
    let shared = store::open("default").map_err(|e| format!("{e:?}"))?;
    Ok(shared
        .get(MODELS_KEY)
        .map_err(|e| format!("{e:?}"))?
        .map(|b| RuntimeModels::from_json(&b))
        .unwrap_or_default())
}

/// Stores a new list (the list first, then its version, which replicas compare) and makes it
/// this replica's view at once.
pub fn write_shared(models: &RuntimeModels) -> Result<(), String> {
    let shared = store::open("default").map_err(|e| format!("{e:?}"))?;
    shared
        .set(MODELS_KEY, &models.to_json())
        .map_err(|e| format!("{e:?}"))?;
    shared
        .set(VERSION_KEY, models.version.as_bytes())
        .map_err(|e| format!("{e:?}"))?;
    if let Ok(local) = store::open("local") {
        let _ = local.set(&doc_key(&models.version), &models.to_json());
        let seen = Seen {
            checked_ms: now_ms(),
            version: models.version.clone(),
        };
        let _ = local.set(SEEN_KEY, &seen.to_bytes());
    }
    Ok(())
}

/// A new version: time and randomness, unique across replicas.
pub fn new_version() -> String {
    format!(
        "{}-{:08x}",
        now_ms(),
        wasi::random::random::get_random_u64() as u32
    )
}
