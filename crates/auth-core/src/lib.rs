//! Virtual keys, per-key model access, rate limits, budgets and usage accounting, as pure logic
//! over a small key-value trait ([`Kv`]), so it runs natively in tests and in the `auth`
//! component on Spin's key-value store.
//!
//! Key-value layout (all JSON unless noted; never a key in clear):
//! - `key/<hmac-hex>` → [`KeyRecord`]; `keyid/<id>` → `<hmac-hex>` (admin lookups by id);
//! - `rpm/<id>/<minute>`, `tpm/<id>/<minute>` → i64 counters (atomic increment), only for keys
//!   with that limit; `win/<id>` → the key's last two active minutes (see [`windows`]);
//! - `spend/<id>` or `spend/<id>/<period>` → i64 micro-USD counter, only for keys with a budget.
//!
//! Per-request history (one row per request: spend, tokens, last use) lives in the SQL request
//! log ([`request_log`], summed into [`rollup`]s that the usage API and `/metrics` read), not in
//! the shared key-value store; rows reach it in batches through the replica's in-memory `local`
//! store ([`log_queue`]: `logq/...` keys). The key table ([`key_table`]) mirrors the keys for
//! `/key/list`.

pub mod admin;
pub mod check;
pub mod histogram;
pub mod key_table;
pub mod keys;
pub mod log_queue;
pub mod metrics;
pub mod query_params;
pub mod record;
pub mod request_log;
pub mod retention;
pub mod rollup;
pub mod schema;
pub mod sql;
pub mod store;
pub mod store_health;
pub mod usage_api;
pub mod windows;

pub use check::{check, Denial, Grant, LimitState, Meters, UsageRecord};
pub use keys::KeyRecord;
pub use record::record_usage;
pub use sql::{Sql, SqlValue};
pub use store::Kv;
