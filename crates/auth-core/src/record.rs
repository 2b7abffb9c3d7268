//! Recording a finished request: the key's meters in the shared key-value store (only what its
//! limits read), then its row into the request log through the replica's in-memory queue.
//!
//! Store operations per record (the storage budget, see README): none for the master key or a key
//! without limits; one atomic increment in the `limits` store for a TPM limit, and one there for
//! a budget: its cost, pending until the row's batch moves it to the durable counter in the
//! shared store (checks add both, so every replica sharing `limits` sees the spend at once).
//! Two in-memory operations queue the row; one SQL transaction per batch of rows writes them.
//! Nothing else is written: spend totals and last use come from the log.

use crate::check::{Meters, UsageRecord};
use crate::log_queue::{self, Sinks};
use crate::store::Kv;
use crate::windows;

/// Records a finished request that ended at `now_ms`. Its tokens count in the TPM window of the
/// minute it finished in (the minute they were spent). `stores` names the shared durable store,
/// the `limits` store and how to open the SQL log; `local` is the replica's in-memory store.
/// The row's id is `call_id`, or one made from `random`.
pub fn record_usage(
    stores: &Sinks,
    local: &dyn Kv,
    usage: &UsageRecord,
    meters: &Meters,
    now_ms: u64,
    random: u64,
    call_id: Option<&str>,
) -> Result<(), String> {
    let limits_kv = stores.limits;
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
        let micro = (usage.cost_usd * crate::check::MICRO).round() as i64;
        if micro != 0 {
            limits_kv.increment(&crate::check::pending_spend_key(counter), micro)?;
        }
    }
    if !stores.log_rows && meters.spend_counter.is_none() {
        return Ok(());
    }
    let call_id = call_id.map_or_else(|| format!("req_{random:016x}"), str::to_string);
    log_queue::append(
        local,
        stores,
        &call_id,
        usage,
        meters.spend_counter.as_deref(),
        now_ms,
        random,
    )
    .map(drop)
}
