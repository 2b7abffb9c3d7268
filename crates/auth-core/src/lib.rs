//! Virtual keys, per-key model access, rate limits, budgets and usage accounting, as pure logic
//! over a small key-value trait ([`Kv`]), so it runs natively in tests and in the `auth`
//! component on Spin's key-value store.
//!
//! Key-value layout (all JSON unless noted; never a key in clear):
//! - `key/<hmac-hex>` → [`KeyRecord`]; `keyid/<id>` → `<hmac-hex>` (admin lookups by id);
//! - `rpm/<id>/<minute>`, `tpm/<id>/<minute>` → i64 counters (atomic increment), deleted once the
//!   key's next minute starts;
//! - `spend/<id>` and `spend/<id>/<period>` → i64 micro-USD counters (atomic increment);
//! - `log/<ms>/<id>/<n>` → [`UsageRecord`]; `used/<id>` → last use, Unix ms as text.

pub mod admin;
pub mod check;
pub mod keys;
pub mod store;

pub use check::{check, record_usage, Denial, Grant, LimitState, UsageRecord};
pub use keys::KeyRecord;
pub use store::Kv;
