//! Load shedding: at most `global_max_parallel_requests` model requests in flight per replica.
//! Over the limit a request is refused at once with a 503 and `retry-after`, so overload is
//! answered by the gateway and never by Spin's instance pool running out.
//!
//! The count lives in the `local` key-value store, which the runtime config keeps in memory (per
//! replica, never shared through Redis). A request holds a [`Slot`] until everything after its
//! answer (usage record, request log) is done, so work after answers is bounded by the limit too.
//! Counters are per 5-minute epoch and a request counts in its own epoch and the next: a slot
//! lost to a trapped instance stops counting after at most two epochs instead of for ever
//! (requests longer than that, such as very long streams, stop counting too).

use gateway_core::{ApiError, ErrorType};
use spin_sdk::wit::wasi::keyvalue::{atomics, store};

/// Seconds per counting epoch.
const EPOCH_S: u64 = 300;

/// A request's place among those in flight; freed when dropped.
pub struct Slot {
    bucket: store::Bucket,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let _ = atomics::increment(&self.bucket, &self.key, -1);
    }
}

fn epoch_key(epoch: u64) -> String {
    format!("inflight/{epoch}")
}

/// The refusal sent when the replica is at its limit.
fn overloaded(limit: u64) -> ApiError {
    ApiError::new(
        503,
        ErrorType::Server,
        format!(
            "The gateway is at its limit of {limit} requests in flight (general_settings.global_max_parallel_requests); retry shortly."
        ),
    )
    .with_code("gateway_overloaded")
    .with_header("retry-after", "1")
}

/// Takes a slot, or refuses with 503 when `limit` requests are already in flight. If the local
/// store cannot be used the request goes on uncounted (and the reason is logged).
pub fn admit(limit: u64) -> Result<Option<Slot>, ApiError> {
    let bucket = match store::open("local") {
        Ok(b) => b,
        Err(e) => {
            eprintln!("load shedding off: key-value store `local` unavailable: {e:?}");
            return Ok(None);
        }
    };
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / EPOCH_S)
        .unwrap_or(0);
    let key = epoch_key(epoch);
    let mine = match atomics::increment(&bucket, &key, 1) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("load shedding off: counting failed: {e:?}");
            return Ok(None);
        }
    };
    let slot = Slot { bucket, key };
    if mine == 1 && epoch >= 2 {
        // The first request of an epoch drops the counter two epochs back.
        let _ = slot.bucket.delete(&epoch_key(epoch - 2));
    }
    let earlier = match epoch.checked_sub(1) {
        Some(e) => slot
            .bucket
            .get(&epoch_key(e))
            .ok()
            .flatten()
            .and_then(|b| auth_core::store::decode_counter(&b))
            .unwrap_or(0),
        None => 0,
    };
    let in_flight = u64::try_from(mine.saturating_add(earlier.max(0))).unwrap_or(0);
    if in_flight > limit {
        return Err(overloaded(limit)); // dropping the slot gives it back
    }
    Ok(Some(slot))
}
