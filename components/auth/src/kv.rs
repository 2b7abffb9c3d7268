//! [`auth_core::Kv`] on Spin's key-value stores (`wasi:keyvalue` store and atomics): `default`,
//! durable and shared by replicas (keys, budgets), `limits` (RPM/TPM windows: shared, need not be
//! durable) and `local`, each replica's in-memory store (the request-log queue).

use std::cell::{Cell, OnceCell};

use auth_core::store_health::{self, Before};
use spin_sdk::wit::wasi::keyvalue::{atomics, store};

/// A store, opened on first use: a request that needs no store (the master key, a key without
/// limits) never opens the shared one. A shared store is opened only after its [`Guard`] allows it.
pub struct Store<'g> {
    label: &'static str,
    bucket: OnceCell<store::Bucket>,
    guard: Option<&'g Guard>,
}

impl Store<'static> {
    /// This replica's in-memory store `local`.
    pub fn local() -> Store<'static> {
        Store {
            label: "local",
            bucket: OnceCell::new(),
            guard: None,
        }
    }
}

impl<'g> Store<'g> {
    /// The shared store `label` (`default`, `limits`), reached through `guard`.
    pub fn shared(label: &'static str, guard: &'g Guard) -> Store<'g> {
        Store {
            label,
            bucket: OnceCell::new(),
            guard: Some(guard),
        }
    }

    fn bucket(&self) -> Result<&store::Bucket, String> {
        if let Some(b) = self.bucket.get() {
            return Ok(b);
        }
        if let Some(guard) = self.guard {
            guard.enter()?;
        }
        // Opening a shared store reaches it (Spin pings Redis): the call that can stall.
        let opened = store::open(self.label);
        if let Some(guard) = self.guard {
            guard.answered();
        }
        let b = opened.map_err(|e| format!("store `{}`: {e:?}", self.label))?;
        Ok(self.bucket.get_or_init(|| b))
    }
}

/// Whether one call of the component may reach the shared stores ([`store_health`]), decided
/// once for all of them, and the replica's `local` store it remembers that in.
pub struct Guard {
    local: Store<'static>,
    decision: OnceCell<Result<bool, String>>,
    reported: Cell<bool>,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            local: Store::local(),
            decision: OnceCell::new(),
            reported: Cell::new(false),
        }
    }
}

impl Guard {
    /// The replica's `local` store.
    pub fn local(&self) -> &Store<'static> {
        &self.local
    }

    /// Allows the shared stores, or refuses with an error naming how long they have not answered.
    fn enter(&self) -> Result<(), String> {
        self.decision
            .get_or_init(
                || match store_health::before(&self.local, crate::now_ms()) {
                    Ok(Before::Go { probe }) => Ok(probe),
                    Ok(Before::Refuse { waited_ms }) => Err(format!(
                        "the shared key-value store has not answered for {} s",
                        waited_ms / 1000
                    )),
                    // Without the local store there is no memory of stalls: go on.
                    Err(_) => Ok(false),
                },
            )
            .clone()
            .map(drop)
    }

    /// A shared store answered: a probe reports it, once.
    fn answered(&self) {
        if matches!(self.decision.get(), Some(Ok(true))) && !self.reported.replace(true) {
            let _ = store_health::answered(&self.local, crate::now_ms());
        }
    }
}

fn err(e: store::Error) -> String {
    format!("{e:?}")
}

impl auth_core::Kv for Store<'_> {
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
