//! Refusing at once while the shared store does not answer. A key-value call is synchronous and
//! cannot be timed out from inside a component, and Spin's Redis client answers nothing while it
//! reconnects (minutes, with its default backoff). So each replica remembers, in its in-memory
//! `local` store, when the shared store last answered and when a call started after that: once a
//! call has been unanswered for [`STALL_MS`], new requests that need the store are refused with a
//! 503 at once instead of joining the wait; one request every [`PROBE_EVERY_MS`] is let through to
//! find out whether the store is back. The requests already waiting cannot be cut short.
//!
//! Cost: one in-memory read per request that opens the shared store; two writes at most once a
//! second.

use crate::store::Kv;

/// A call unanswered this long means the shared store is stalled.
pub const STALL_MS: u64 = 3_000;
/// While stalled, one request this often goes through as a probe.
pub const PROBE_EVERY_MS: u64 = 10_000;
/// A success older than this is confirmed again by the next request (a probe).
pub const FRESH_MS: u64 = 1_000;

const KEY: &str = "shared/health";

/// What a request does before its first call to the shared store.
#[derive(Debug, PartialEq, Eq)]
pub enum Before {
    /// Go on; a probe reports back with [`answered`].
    Go {
        /// This request confirms the store's health.
        probe: bool,
    },
    /// Refuse: a call has been unanswered for this long.
    Refuse {
        /// Milliseconds since that call started.
        waited_ms: u64,
    },
}

/// `(last answer, start of a call after it)` in Unix ms; zeros when unknown.
fn read(local: &dyn Kv) -> Result<(u64, u64), String> {
    let text = local
        .get(KEY)?
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let mut parts = text.split(',').map(|p| p.parse::<u64>().unwrap_or(0));
    Ok((parts.next().unwrap_or(0), parts.next().unwrap_or(0)))
}

fn write(local: &dyn Kv, answered_ms: u64, started_ms: u64) -> Result<(), String> {
    local.set(KEY, format!("{answered_ms},{started_ms}").as_bytes())
}

/// Decides, at `now_ms`, whether a request may call the shared store.
pub fn before(local: &dyn Kv, now_ms: u64) -> Result<Before, String> {
    let (answered_ms, started_ms) = read(local)?;
    if started_ms > answered_ms {
        let waited_ms = now_ms.saturating_sub(started_ms);
        if waited_ms >= PROBE_EVERY_MS {
            write(local, answered_ms, now_ms)?;
            return Ok(Before::Go { probe: true });
        }
        if waited_ms >= STALL_MS {
            return Ok(Before::Refuse { waited_ms });
        }
        return Ok(Before::Go { probe: false });
    }
    if now_ms.saturating_sub(answered_ms) >= FRESH_MS {
        write(local, answered_ms, now_ms)?;
        return Ok(Before::Go { probe: true });
    }
    Ok(Before::Go { probe: false })
}

/// A probe's call was answered (successfully or with an error: the store is there).
pub fn answered(local: &dyn Kv, now_ms: u64) -> Result<(), String> {
    write(local, now_ms, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryKv;

    #[test]
    fn a_healthy_store_costs_one_read_and_a_probe_a_second() {
        let local = MemoryKv::default();
        assert_eq!(before(&local, 10_000).unwrap(), Before::Go { probe: true });
        answered(&local, 10_001).unwrap();
        for t in [10_002, 10_500, 10_999] {
            assert_eq!(before(&local, t).unwrap(), Before::Go { probe: false });
        }
        assert_eq!(before(&local, 11_100).unwrap(), Before::Go { probe: true });
    }

    #[test]
    fn a_stalled_store_refuses_then_probes_then_recovers() {
        let local = MemoryKv::default();
        answered(&local, 1_000).unwrap();
        // The probe at 5 s never answers.
        assert_eq!(before(&local, 5_000).unwrap(), Before::Go { probe: true });
        assert_eq!(before(&local, 7_000).unwrap(), Before::Go { probe: false });
        assert_eq!(
            before(&local, 8_000).unwrap(),
            Before::Refuse { waited_ms: 3_000 }
        );
        assert!(matches!(
            before(&local, 14_000).unwrap(),
            Before::Refuse { .. }
        ));
        // Ten seconds on, one request probes again; the rest keep being refused.
        assert_eq!(before(&local, 15_000).unwrap(), Before::Go { probe: true });
        assert!(matches!(
            before(&local, 18_500).unwrap(),
            Before::Refuse { .. }
        ));
        // The store answers: everyone goes on.
        answered(&local, 19_000).unwrap();
        assert_eq!(before(&local, 19_100).unwrap(), Before::Go { probe: false });
    }
}
