//! The storage the auth logic needs: Spin's key-value store with atomic increment.

/// A key-value store with an atomic counter increment.
pub trait Kv {
    /// Value of a key.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Sets a key.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String>;
    /// Deletes a key.
    fn delete(&self, key: &str) -> Result<(), String>;
    /// Keys starting with `prefix`.
    fn keys(&self, prefix: &str) -> Result<Vec<String>, String>;
    /// Atomically adds `delta` to a counter (missing = 0) and returns the new value.
    fn increment(&self, key: &str, delta: i64) -> Result<i64, String>;
}

/// Reads a JSON value.
pub fn get_json<T: serde::de::DeserializeOwned>(
    kv: &dyn Kv,
    key: &str,
) -> Result<Option<T>, String> {
    match kv.get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("corrupt value at {key}: {e}")),
    }
}

/// Writes a JSON value.
pub fn set_json<T: serde::Serialize>(kv: &dyn Kv, key: &str, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
    kv.set(key, &bytes)
}

/// Reads a counter without changing it.
pub fn counter(kv: &dyn Kv, key: &str) -> Result<i64, String> {
    kv.increment(key, 0)
}

#[cfg(test)]
pub mod memory {
    //! An in-memory [`Kv`] for tests.
    use super::Kv;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// In-memory store.
    #[derive(Default)]
    pub struct MemoryKv(pub Mutex<BTreeMap<String, Vec<u8>>>);

    impl Kv for MemoryKv {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
            self.0.lock().unwrap().insert(key.into(), value.to_vec());
            Ok(())
        }
        fn delete(&self, key: &str) -> Result<(), String> {
            self.0.lock().unwrap().remove(key);
            Ok(())
        }
        fn keys(&self, prefix: &str) -> Result<Vec<String>, String> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect())
        }
        fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
            let mut m = self.0.lock().unwrap();
            let cur = m
                .get(key)
                .map(|v| i64::from_le_bytes(v.as_slice().try_into().unwrap_or([0; 8])))
                .unwrap_or(0);
            m.insert(key.into(), (cur + delta).to_le_bytes().to_vec());
            Ok(cur + delta)
        }
    }
}
