//! Key-value stores: `fermyon:spin/key-value@2.0.0` and `wasi:keyvalue@0.2.0-draft2`
//! (store, atomics, batch) over in-memory maps shared by every component and instance of one
//! host, one map per store label. Semantics follow Spin's local (SQLite) store: `increment`
//! keeps an i64 as 8 little-endian bytes, and a CAS whose `current` saw no value upserts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use wasmtime::component::Resource;

use crate::bindings::fermyon::spin::key_value as spin_kv;
use crate::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::instance::InstanceState;

type Map = BTreeMap<String, Vec<u8>>;

/// All stores of one host, by label.
#[derive(Default)]
pub(crate) struct KvStores(Mutex<HashMap<String, Map>>);

impl KvStores {
    /// Runs `f` on a store's map while holding the lock (operations are atomic).
    fn with<R>(&self, label: &str, f: impl FnOnce(&mut Map) -> R) -> Result<R, String> {
        let mut stores = self
            .0
            .lock()
            .map_err(|_| "key-value store lock poisoned".to_string())?;
        Ok(f(stores.entry(label.to_string()).or_default()))
    }
}

/// An open `fermyon:spin/key-value.store`.
pub struct SpinStore {
    label: String,
}

/// An open `wasi:keyvalue/store.bucket`.
pub struct Bucket {
    label: String,
}

/// A `wasi:keyvalue/atomics.cas` handle: the value seen by `current`.
pub struct Cas {
    label: String,
    key: String,
    seen: Option<Vec<u8>>,
}

impl InstanceState {
    fn may_open(&self, label: &str) -> bool {
        self.component.kv_labels.iter().any(|l| l == label)
    }

    fn spin_label(&self, store: &Resource<SpinStore>) -> wasmtime::Result<String> {
        Ok(self.table.get(store)?.label.clone())
    }

    fn bucket_label(&self, bucket: &Resource<Bucket>) -> wasmtime::Result<String> {
        Ok(self.table.get(bucket)?.label.clone())
    }
}

fn increment_value(map: &mut Map, key: String, delta: i64) -> Result<i64, String> {
    let current = match map.get(&key) {
        None => 0,
        Some(v) => {
            let bytes: [u8; 8] = v
                .as_slice()
                .try_into()
                .map_err(|_| format!("value of {key:?} is not an 8-byte counter"))?;
            i64::from_le_bytes(bytes)
        }
    };
    let next = current
        .checked_add(delta)
        .ok_or_else(|| format!("incrementing {key:?} overflows"))?;
    map.insert(key, next.to_le_bytes().to_vec());
    Ok(next)
}

impl spin_kv::Host for InstanceState {}

impl spin_kv::HostStore for InstanceState {
    fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<SpinStore>, spin_kv::Error>> {
        if !self.may_open(&label) {
            return Ok(Err(spin_kv::Error::AccessDenied));
        }
        Ok(Ok(self.table.push(SpinStore { label })?))
    }

    fn get(
        &mut self,
        store: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        let label = self.spin_label(&store)?;
        Ok(self
            .kv
            .with(&label, |m| m.get(&key).cloned())
            .map_err(spin_kv::Error::Other))
    }

    fn set(
        &mut self,
        store: Resource<SpinStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let label = self.spin_label(&store)?;
        Ok(self
            .kv
            .with(&label, |m| {
                m.insert(key, value);
            })
            .map_err(spin_kv::Error::Other))
    }

    fn delete(
        &mut self,
        store: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let label = self.spin_label(&store)?;
        Ok(self
            .kv
            .with(&label, |m| {
                m.remove(&key);
            })
            .map_err(spin_kv::Error::Other))
    }

    fn exists(
        &mut self,
        store: Resource<SpinStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin_kv::Error>> {
        let label = self.spin_label(&store)?;
        Ok(self
            .kv
            .with(&label, |m| m.contains_key(&key))
            .map_err(spin_kv::Error::Other))
    }

    fn get_keys(
        &mut self,
        store: Resource<SpinStore>,
    ) -> wasmtime::Result<Result<Vec<String>, spin_kv::Error>> {
        let label = self.spin_label(&store)?;
        Ok(self
            .kv
            .with(&label, |m| m.keys().cloned().collect())
            .map_err(spin_kv::Error::Other))
    }

    fn drop(&mut self, store: Resource<SpinStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl store::Host for InstanceState {
    fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<Bucket>, store::Error>> {
        if !self.may_open(&identifier) {
            return Ok(Err(store::Error::AccessDenied));
        }
        Ok(Ok(self.table.push(Bucket { label: identifier })?))
    }
}

impl store::HostBucket for InstanceState {
    fn get(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| m.get(&key).cloned())
            .map_err(store::Error::Other))
    }

    fn set(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| {
                m.insert(key, value);
            })
            .map_err(store::Error::Other))
    }

    fn delete(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| {
                m.remove(&key);
            })
            .map_err(store::Error::Other))
    }

    fn exists(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<bool, store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| m.contains_key(&key))
            .map_err(store::Error::Other))
    }

    fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<store::KeyResponse, store::Error>> {
        if cursor.is_some() {
            return Ok(Err(store::Error::Other(
                "list_keys: cursor not supported".into(),
            )));
        }
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| store::KeyResponse {
                keys: m.keys().cloned().collect(),
                cursor: None,
            })
            .map_err(store::Error::Other))
    }

    fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for InstanceState {
    fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| increment_value(m, key, delta))
            .and_then(|r| r)
            .map_err(store::Error::Other))
    }

    fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let Cas { label, key, seen } = self.table.delete(cas)?;
        let swapped = self.kv.with(&label, |m| {
            let unchanged = match &seen {
                None => true,
                Some(old) => m.get(&key) == Some(old),
            };
            if unchanged {
                m.insert(key.clone(), value);
                None
            } else {
                Some(m.get(&key).cloned())
            }
        });
        match swapped {
            Err(e) => Ok(Err(atomics::CasError::StoreError(store::Error::Other(e)))),
            Ok(None) => Ok(Ok(())),
            Ok(Some(latest)) => {
                let retry = self.table.push(Cas {
                    label,
                    key,
                    seen: latest,
                })?;
                Ok(Err(atomics::CasError::CasFailed(retry)))
            }
        }
    }
}

impl atomics::HostCas for InstanceState {
    fn new(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> wasmtime::Result<Result<Resource<Cas>, store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(Ok(self.table.push(Cas {
            label,
            key,
            seen: None,
        })?))
    }

    fn current(
        &mut self,
        cas: Resource<Cas>,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, store::Error>> {
        let (label, key) = {
            let c = self.table.get(&cas)?;
            (c.label.clone(), c.key.clone())
        };
        let value = match self.kv.with(&label, |m| m.get(&key).cloned()) {
            Ok(v) => v,
            Err(e) => return Ok(Err(store::Error::Other(e))),
        };
        self.table.get_mut(&cas)?.seen = value.clone();
        Ok(Ok(value))
    }

    fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for InstanceState {
    fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<(String, Option<Vec<u8>>)>, store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| {
                keys.into_iter()
                    .filter_map(|k| m.get(&k).cloned().map(|v| (k, Some(v))))
                    .collect()
            })
            .map_err(store::Error::Other))
    }

    fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| m.extend(key_values))
            .map_err(store::Error::Other))
    }

    fn delete_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), store::Error>> {
        let label = self.bucket_label(&bucket)?;
        Ok(self
            .kv
            .with(&label, |m| {
                for k in keys {
                    m.remove(&k);
                }
            })
            .map_err(store::Error::Other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_uses_little_endian_counters() {
        let stores = KvStores::default();
        for expected in 1..=3 {
            let v = stores
                .with("default", |m| increment_value(m, "n".into(), 1))
                .unwrap()
                .unwrap();
            assert_eq!(v, expected);
        }
        let raw = stores
            .with("default", |m| m.get("n").cloned())
            .unwrap()
            .unwrap();
        assert_eq!(raw, 3i64.to_le_bytes());
        stores
            .with("default", |m| m.insert("s".into(), b"text".to_vec()))
            .unwrap();
        assert!(stores
            .with("default", |m| increment_value(m, "s".into(), 1))
            .unwrap()
            .is_err());
        assert!(stores.with("other", |m| m.is_empty()).unwrap());
    }
}
