//! Runtime models in the stores: the shared list in `default` (written by the model API), and
//! each replica's view of it in `local`. The healthy path reads only `local`: the replica asks
//! `default` for the version at most once a second (`model_admin::REFRESH_MS`), so a change is served at
//! once by the replica that made it and within a second by every other one; the list itself is
//! read from `default` only when its version changed.

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

/// The runtime models this replica serves (none when no store answers).
pub fn current() -> RuntimeModels {
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
    if seen.stale(now) {
        // Claimed before asking, so one request a second waits on the shared store at most.
        let old = seen.version.clone();
        seen.checked_ms = now;
        let _ = local.set(SEEN_KEY, &seen.to_bytes());
        if let Some(version) = shared_version() {
            seen.version = version;
            let _ = local.set(SEEN_KEY, &seen.to_bytes());
            if seen.version != old && !old.is_empty() {
                let _ = local.delete(&doc_key(&old));
            }
        }
    }
    if seen.version.is_empty() {
        return RuntimeModels::default();
    }
    if let Some(bytes) = local.get(&doc_key(&seen.version)).ok().flatten() {
        return RuntimeModels::from_json(&bytes);
    }
    let models = read_shared().unwrap_or_default();
    let _ = local.set(&doc_key(&models.version), &models.to_json());
    models
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
