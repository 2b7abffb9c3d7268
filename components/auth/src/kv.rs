//! [`auth_core::Kv`] on Spin's key-value stores (`wasi:keyvalue` store and atomics): `default`,
//! durable and shared by replicas (keys, budgets), `limits` (RPM/TPM windows: shared, need not be
//! durable) and `local`, each replica's in-memory store (the request-log queue).

use auth_core::store_health::{self, Before};
use spin_sdk::wit::wasi::keyvalue::{atomics, store};

/// A store, opened on first use: a request that needs no store (the master key, a key without
/// limits) never opens the shared one.
pub struct Store {
    label: &'static str,
    bucket: std::cell::OnceCell<store::Bucket>,
}

impl Store {
    /// The store `label`, not opened yet.
    pub fn new(label: &'static str) -> Store {
        Store {
            label,
            bucket: std::cell::OnceCell::new(),
        }
    }

    fn bucket(&self) -> Result<&store::Bucket, String> {
        if let Some(b) = self.bucket.get() {
            return Ok(b);
        }
        // Opening a shared store reaches it (Spin pings Redis): the call that can stall.
        let probe = self.label != "local" && shared_store_may_be_called()?;
        let opened = store::open(self.label);
        if probe {
            let _ = store_health::answered(&Store::new("local"), crate::now_ms());
        }
        let b = opened.map_err(|e| format!("store `{}`: {e:?}", self.label))?;
        Ok(self.bucket.get_or_init(|| b))
    }
}

/// Whether this request may call a shared store ([`store_health`]); `Ok(true)` when it probes.
/// A refusal is an error naming how long the store has not answered.
fn shared_store_may_be_called() -> Result<bool, String> {
    match store_health::before(&Store::new("local"), crate::now_ms()) {
        Ok(Before::Go { probe }) => Ok(probe),
        Ok(Before::Refuse { waited_ms }) => Err(format!(
            "the shared key-value store has not answered for {} s",
            waited_ms / 1000
        )),
        // Without the local store there is no memory of stalls: go on.
        Err(_) => Ok(false),
    }
}

fn err(e: store::Error) -> String {
    format!("{e:?}")
}

impl auth_core::Kv for Store {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.bucket()?.get(key).map_err(err)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.bucket()?.set(key, value).map_err(err)
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.bucket()?.delete(key).map_err(err)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.bucket()?.list_keys(cursor.as_deref()).map_err(err)?;
            out.extend(page.keys.into_iter().filter(|k| k.starts_with(prefix)));
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        atomics::increment(self.bucket()?, key, delta).map_err(err)
    }
}
