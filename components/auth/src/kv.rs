//! [`auth_core::Kv`] on Spin's `default` key-value store (`wasi:keyvalue` store and atomics).

use spin_sdk::wit::wasi::keyvalue::{atomics, store};

/// The `default` store.
pub struct Store(store::Bucket);

impl Store {
    /// Opens the `default` store.
    pub fn open() -> Result<Store, String> {
        store::open("default")
            .map(Store)
            .map_err(|e| format!("{e:?}"))
    }
}

fn err(e: store::Error) -> String {
    format!("{e:?}")
}

impl auth_core::Kv for Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(key).map_err(err)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.set(key, value).map_err(err)
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.delete(key).map_err(err)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.0.list_keys(cursor.as_deref()).map_err(err)?;
            out.extend(page.keys.into_iter().filter(|k| k.starts_with(prefix)));
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        atomics::increment(&self.0, key, delta).map_err(err)
    }
}
