//! Recording a finished request: the key's meters in the shared key-value store (only what its
//! limits read), then its row into the request log through the replica's in-memory queue.
//!
//! Store operations per record (the storage budget, see README): none for the master key or a key
//! without limits; one atomic increment in the `limits` store for a TPM limit and one in the
//! shared durable store for a budget.
//! Two in-memory operations queue the row; one SQL transaction per batch of rows writes them.
//! Nothing else is written: spend totals and last use come from the log.

use crate::check::{Meters, UsageRecord, MICRO};
use crate::log_queue;
use crate::sql::Sql;
use crate::store::Kv;
use crate::windows;

/// Records a finished request that ended at `now_ms`. Its tokens count in the TPM window of the
/// minute it finished in (the minute they were spent). `kv` is the shared durable store,
/// `limits_kv` the store of RPM/TPM windows, `local` the replica's in-memory one, `open_log` opens
/// the SQL log when a batch is due.
#[allow(clippy::too_many_arguments)]
pub fn record_usage(
    kv: &dyn Kv,
    limits_kv: &dyn Kv,
    local: &dyn Kv,
    open_log: &dyn Fn() -> Result<Box<dyn Sql>, String>,
    usage: &UsageRecord,
    meters: &Meters,
    now_ms: u64,
    random: u64,
) -> Result<(), String> {
    if meters.tpm {
        let tokens = i64::try_from(usage.prompt_tokens.saturating_add(usage.completion_tokens))
            .unwrap_or(i64::MAX);
        let minute = now_ms / 60_000;
        let n = limits_kv.increment(&windows::tpm_key(&usage.key_id, minute), tokens)?;
        if tokens > 0 && n == tokens {
            windows::roll(limits_kv, &usage.key_id, minute)?;
        }
    }
    if let Some(counter) = &meters.spend_counter {
        let micro = (usage.cost_usd * MICRO).round() as i64;
        if micro != 0 {
            kv.increment(counter, micro)?;
        }
    }
    let call_id = format!("req_{random:016x}");
    log_queue::append(local, open_log, &call_id, usage, now_ms, random).map(drop)
}
