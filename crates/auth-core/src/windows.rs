//! Per-minute RPM and TPM counters of a key, and their clean-up.
//!
//! A key's counters are named by the minute. `win/<id>` remembers the key's last two active
//! minutes (`"<older>,<newer>"`); the first request of a key in a new minute (the RPM increment
//! that returns 1, or for keys with only a TPM limit the first TPM increment) rolls it: the older
//! minute's counters are deleted and the new minute is remembered. So each key keeps at most
//! three minutes of counters, the minute before the current one is never deleted under a request
//! still finishing in it, and the clean-up costs one read, one write and two deletes per key and
//! active minute, never a key listing.

use crate::store::Kv;

/// The RPM counter of a key in a minute.
pub fn rpm_key(key_id: &str, minute: u64) -> String {
    format!("rpm/{key_id}/{minute}")
}

/// The TPM counter of a key in a minute.
pub fn tpm_key(key_id: &str, minute: u64) -> String {
    format!("tpm/{key_id}/{minute}")
}

fn pointer(key_id: &str) -> String {
    format!("win/{key_id}")
}

/// Records that `minute` is active for the key, deleting the counters of the minute before its
/// previous active one. Idempotent within a minute.
pub fn roll(kv: &dyn Kv, key_id: &str, minute: u64) -> Result<(), String> {
    let seen = kv
        .get(&pointer(key_id))?
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let mut parts = seen.split(',').map(|p| p.parse::<u64>().ok());
    let (older, newer) = (parts.next().flatten(), parts.next().flatten());
    if newer.is_some_and(|n| n >= minute) {
        return Ok(());
    }
    if let Some(old) = older {
        kv.delete(&rpm_key(key_id, old))?;
        kv.delete(&tpm_key(key_id, old))?;
    }
    let keep = newer.map(|n| n.to_string()).unwrap_or_default();
    kv.set(&pointer(key_id), format!("{keep},{minute}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryKv;

    fn counters(kv: &MemoryKv) -> Vec<String> {
        let mut k = kv.keys("rpm/").unwrap();
        k.extend(kv.keys("tpm/").unwrap());
        k.sort();
        k
    }

    #[test]
    fn keeps_at_most_the_last_two_active_minutes() {
        let kv = MemoryKv::default();
        for minute in [10, 11, 15, 40] {
            kv.increment(&rpm_key("k", minute), 1).unwrap();
            kv.increment(&tpm_key("k", minute), 5).unwrap();
            roll(&kv, "k", minute).unwrap();
            roll(&kv, "k", minute).unwrap();
        }
        assert_eq!(
            counters(&kv),
            ["rpm/k/15", "rpm/k/40", "tpm/k/15", "tpm/k/40"]
        );
        assert_eq!(kv.get("win/k").unwrap().unwrap(), b"15,40");
    }

    #[test]
    fn an_unreadable_pointer_starts_over() {
        let kv = MemoryKv::default();
        kv.set("win/k", b"garbage").unwrap();
        roll(&kv, "k", 7).unwrap();
        assert_eq!(kv.get("win/k").unwrap().unwrap(), b",7");
    }
}
