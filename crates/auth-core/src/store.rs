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

/// Reads a counter without changing it, with a plain `get`: a read, not a write (on Spin's
/// SQLite store `increment(key, 0)` is a durable write transaction). Spin's SQLite store keeps
/// counters as 8 little-endian bytes, its Redis store as decimal text (`INCRBY`); both are read.
/// A missing key is 0.
pub fn read_counter(kv: &dyn Kv, key: &str) -> Result<i64, String> {
    match kv.get(key)? {
        None => Ok(0),
        Some(bytes) => decode_counter(&bytes).ok_or_else(|| format!("corrupt counter at {key}")),
    }
}

/// A counter value in either encoding. Decimal text is tried first: eight little-endian bytes
/// that are all ASCII digits would be a counter above 3.4e18, which the gateway never reaches.
pub fn decode_counter(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok().filter(|t| {
        let digits = t.strip_prefix('-').unwrap_or(t);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    match text {
        Some(t) => t.parse().ok(),
        None => <[u8; 8]>::try_from(bytes).ok().map(i64::from_le_bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_in_both_encodings() {
        for v in [0i64, 1, 7, 255, 1_000_000, -3, i64::MAX] {
            assert_eq!(decode_counter(&v.to_le_bytes()), Some(v), "sqlite {v}");
            assert_eq!(
                decode_counter(v.to_string().as_bytes()),
                Some(v),
                "redis {v}"
            );
        }
        // Eight decimal digits are Redis text, not SQLite bytes.
        assert_eq!(decode_counter(b"12345678"), Some(12_345_678));
        assert_eq!(decode_counter(b"abc"), None);
        assert_eq!(decode_counter(b""), None);
        assert_eq!(decode_counter(b"-"), None);
    }
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

    /// A [`Kv`] that counts reads (get, keys) and writes (set, delete, increment) of another.
    pub struct CountingKv<'a> {
        inner: &'a dyn Kv,
        reads: std::cell::Cell<u32>,
        writes: std::cell::Cell<u32>,
    }

    impl<'a> CountingKv<'a> {
        /// Counts the operations on `inner`.
        pub fn new(inner: &'a dyn Kv) -> Self {
            CountingKv {
                inner,
                reads: Default::default(),
                writes: Default::default(),
            }
        }

        /// Starts counting from zero.
        pub fn reset(&self) {
            self.reads.set(0);
            self.writes.set(0);
        }

        /// (reads, writes) so far.
        pub fn counts(&self) -> (u32, u32) {
            (self.reads.get(), self.writes.get())
        }

        fn read(&self) {
            self.reads.set(self.reads.get() + 1);
        }

        fn write(&self) {
            self.writes.set(self.writes.get() + 1);
        }
    }

    impl Kv for CountingKv<'_> {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
            self.read();
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
            self.write();
            self.inner.set(key, value)
        }
        fn delete(&self, key: &str) -> Result<(), String> {
            self.write();
            self.inner.delete(key)
        }
        fn keys(&self, prefix: &str) -> Result<Vec<String>, String> {
            self.read();
            self.inner.keys(prefix)
        }
        fn increment(&self, key: &str, delta: i64) -> Result<i64, String> {
            self.write();
            self.inner.increment(key, delta)
        }
    }
}
