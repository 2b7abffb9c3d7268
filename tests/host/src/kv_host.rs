//! Spin's key-value interfaces on the in-memory [`Stores`](crate::kv::Stores): a component may
//! open only the labels listed in its `key_value_stores`.

use wasmtime::component::Resource;

use crate::kv::{Bucket, CasHandle, Handle};
use crate::runtime::State;
use crate::spin_bindings::fermyon::spin::key_value;
use crate::spin_bindings::wasi::keyvalue::{atomics, store};

type Wt<T> = wasmtime::Result<T>;

impl State {
    fn label(&self, h: &Resource<Handle>) -> Option<String> {
        self.table_ref().get(h).ok().map(|h| h.label.clone())
    }

    fn bucket_label(&self, h: &Resource<Bucket>) -> Option<String> {
        self.table_ref().get(h).ok().map(|h| h.label.clone())
    }
}

impl key_value::Host for State {}

impl key_value::HostStore for State {
    fn open(&mut self, label: String) -> Result<Resource<Handle>, key_value::Error> {
        if !self.kv_allowed(&label) {
            return Err(key_value::Error::AccessDenied);
        }
        self.table_mut()
            .push(Handle { label })
            .map_err(|e| key_value::Error::Other(e.to_string()))
    }

    fn get(
        &mut self,
        h: Resource<Handle>,
        key: String,
    ) -> Result<Option<Vec<u8>>, key_value::Error> {
        let label = self.label(&h).ok_or(key_value::Error::NoSuchStore)?;
        Ok(self.stores().get(&label, &key))
    }

    fn set(
        &mut self,
        h: Resource<Handle>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), key_value::Error> {
        let label = self.label(&h).ok_or(key_value::Error::NoSuchStore)?;
        self.stores().set(&label, &key, value);
        Ok(())
    }

    fn delete(&mut self, h: Resource<Handle>, key: String) -> Result<(), key_value::Error> {
        let label = self.label(&h).ok_or(key_value::Error::NoSuchStore)?;
        self.stores().delete(&label, &key);
        Ok(())
    }

    fn exists(&mut self, h: Resource<Handle>, key: String) -> Result<bool, key_value::Error> {
        let label = self.label(&h).ok_or(key_value::Error::NoSuchStore)?;
        Ok(self.stores().get(&label, &key).is_some())
    }

    fn get_keys(&mut self, h: Resource<Handle>) -> Result<Vec<String>, key_value::Error> {
        let label = self.label(&h).ok_or(key_value::Error::NoSuchStore)?;
        Ok(self.stores().keys(&label))
    }

    fn drop(&mut self, h: Resource<Handle>) -> Wt<()> {
        self.table_mut().delete(h)?;
        Ok(())
    }
}

impl store::Host for State {
    fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, store::Error> {
        if !self.kv_allowed(&identifier) {
            return Err(store::Error::AccessDenied);
        }
        self.table_mut()
            .push(Bucket { label: identifier })
            .map_err(|e| store::Error::Other(e.to_string()))
    }
}

impl store::HostBucket for State {
    fn get(&mut self, h: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        let label = self.bucket_label(&h).ok_or(store::Error::NoSuchStore)?;
        Ok(self.stores().get(&label, &key))
    }

    fn set(
        &mut self,
        h: Resource<Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let label = self.bucket_label(&h).ok_or(store::Error::NoSuchStore)?;
        self.stores().set(&label, &key, value);
        Ok(())
    }

    fn delete(&mut self, h: Resource<Bucket>, key: String) -> Result<(), store::Error> {
        let label = self.bucket_label(&h).ok_or(store::Error::NoSuchStore)?;
        self.stores().delete(&label, &key);
        Ok(())
    }

    fn exists(&mut self, h: Resource<Bucket>, key: String) -> Result<bool, store::Error> {
        let label = self.bucket_label(&h).ok_or(store::Error::NoSuchStore)?;
        Ok(self.stores().get(&label, &key).is_some())
    }

    fn list_keys(
        &mut self,
        h: Resource<Bucket>,
        cursor: Option<String>,
    ) -> Result<store::KeyResponse, store::Error> {
        let label = self.bucket_label(&h).ok_or(store::Error::NoSuchStore)?;
        let keys = self
            .stores()
            .keys(&label)
            .into_iter()
            .filter(|k| cursor.as_ref().is_none_or(|c| k > c))
            .collect();
        Ok(store::KeyResponse { keys, cursor: None })
    }

    fn drop(&mut self, h: Resource<Bucket>) -> Wt<()> {
        self.table_mut().delete(h)?;
        Ok(())
    }
}

impl atomics::Host for State {
    fn increment(
        &mut self,
        h: Resource<Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, store::Error> {
        let label = self.bucket_label(&h).ok_or(store::Error::NoSuchStore)?;
        self.stores()
            .increment(&label, &key, delta)
            .map_err(store::Error::Other)
    }

    fn swap(&mut self, cas: Resource<CasHandle>, value: Vec<u8>) -> Result<(), atomics::CasError> {
        let c = self
            .table_mut()
            .delete(cas)
            .map_err(|e| atomics::CasError::StoreError(store::Error::Other(e.to_string())))?;
        if self.stores().swap(&c.label, &c.key, &c.seen, value) {
            Ok(())
        } else {
            let fresh = CasHandle {
                seen: self.stores().get(&c.label, &c.key),
                ..c
            };
            let handle = self
                .table_mut()
                .push(fresh)
                .map_err(|e| atomics::CasError::StoreError(store::Error::Other(e.to_string())))?;
            Err(atomics::CasError::CasFailed(handle))
        }
    }
}

impl atomics::HostCas for State {
    fn new(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
    ) -> Result<Resource<CasHandle>, store::Error> {
        let label = self
            .bucket_label(&bucket)
            .ok_or(store::Error::NoSuchStore)?;
        let seen = self.stores().get(&label, &key);
        self.table_mut()
            .push(CasHandle { label, key, seen })
            .map_err(|e| store::Error::Other(e.to_string()))
    }

    fn current(&mut self, cas: Resource<CasHandle>) -> Result<Option<Vec<u8>>, store::Error> {
        self.table_ref()
            .get(&cas)
            .map(|c| c.seen.clone())
            .map_err(|e| store::Error::Other(e.to_string()))
    }

    fn drop(&mut self, cas: Resource<CasHandle>) -> Wt<()> {
        self.table_mut().delete(cas)?;
        Ok(())
    }
}
