//! An in-memory key-value store shared by all components and instances of one host, per store
//! label, as Spin's `fermyon:spin/key-value` and `wasi:keyvalue` (store, atomics) present it.
//! `increment` is atomic: one lock guards each read-modify-write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One store's contents: key → value.
type Store = HashMap<String, Vec<u8>>;

/// All stores of a host, by label.
#[derive(Debug, Clone, Default)]
pub struct Stores(Arc<Mutex<HashMap<String, Store>>>);

/// An open Spin `store` resource.
#[derive(Debug, Clone)]
pub struct Handle {
    /// Store label.
    pub label: String,
}

/// An open wasi `bucket` resource (a separate type from Spin's `store`, as the linker requires).
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Store label.
    pub label: String,
}

/// A compare-and-swap handle: the value seen when it was created.
#[derive(Debug, Clone)]
pub struct CasHandle {
    /// Store label.
    pub label: String,
    /// Key.
    pub key: String,
    /// Value at creation.
    pub seen: Option<Vec<u8>>,
}

impl Stores {
    fn with<R>(&self, label: &str, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(all.entry(label.to_string()).or_default())
    }

    /// Value of a key.
    pub fn get(&self, label: &str, key: &str) -> Option<Vec<u8>> {
        self.with(label, |s| s.get(key).cloned())
    }

    /// Sets a key.
    pub fn set(&self, label: &str, key: &str, value: Vec<u8>) {
        self.with(label, |s| {
            s.insert(key.to_string(), value);
        })
    }

    /// Deletes a key.
    pub fn delete(&self, label: &str, key: &str) {
        self.with(label, |s| {
            s.remove(key);
        })
    }

    /// All keys, sorted.
    pub fn keys(&self, label: &str) -> Vec<String> {
        let mut keys = self.with(label, |s| s.keys().cloned().collect::<Vec<_>>());
        keys.sort();
        keys
    }

    /// Atomically adds `delta` to a little-endian i64 counter (missing = 0) and returns the result.
    pub fn increment(&self, label: &str, key: &str, delta: i64) -> Result<i64, String> {
        self.with(label, |s| {
            let current = match s.get(key) {
                None => 0,
                Some(v) => {
                    let bytes: [u8; 8] = v
                        .as_slice()
                        .try_into()
                        .map_err(|_| format!("value of {key} is not an 8-byte counter"))?;
                    i64::from_le_bytes(bytes)
                }
            };
            let next = current.wrapping_add(delta);
            s.insert(key.to_string(), next.to_le_bytes().to_vec());
            Ok(next)
        })
    }

    /// Sets `key` to `value` only if it still holds `seen`.
    pub fn swap(&self, label: &str, key: &str, seen: &Option<Vec<u8>>, value: Vec<u8>) -> bool {
        self.with(label, |s| {
            if s.get(key) == seen.as_ref() {
                s.insert(key.to_string(), value);
                true
            } else {
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_is_atomic_across_threads() {
        let stores = Stores::default();
        let mut seen: Vec<i64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..50)
                .map(|_| s.spawn(|| stores.increment("default", "n", 1).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        seen.sort();
        assert_eq!(seen, (1..=50).collect::<Vec<_>>());
        assert!(stores.swap("default", "n", &Some(50i64.to_le_bytes().to_vec()), vec![1]));
        assert!(!stores.swap("default", "n", &None, vec![2]));
        assert!(stores.increment("default", "n", 1).is_err());
    }
}
