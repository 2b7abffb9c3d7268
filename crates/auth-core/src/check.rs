//! Checking a caller before any upstream call, and recording usage after.
//!
//! Limits use fixed 60-second windows keyed by the minute. RPM counts with an atomic increment at
//! check time, so concurrent requests can never overshoot the limit; TPM is checked against the
//! tokens already recorded in the window (a request is admitted while the window is under the
//! limit, so the last admitted request may end above it by its own size).

use serde::{Deserialize, Serialize};

use crate::keys::{constant_time_eq, hash_key, KeyRecord};
use crate::store::{counter, get_json, set_json, Kv};

/// Limit state after counting a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LimitState {
    /// RPM limit.
    pub rpm_limit: Option<u64>,
    /// Requests left in the window.
    pub rpm_remaining: Option<u64>,
    /// TPM limit.
    pub tpm_limit: Option<u64>,
    /// Tokens left in the window.
    pub tpm_remaining: Option<u64>,
    /// Seconds until the window resets.
    pub reset_seconds: u32,
}

/// An admitted caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// Non-secret key id (`master` for the master key).
    pub key_id: String,
    /// Alias.
    pub key_alias: Option<String>,
    /// Team.
    pub team: Option<String>,
    /// Master key.
    pub is_master: bool,
    /// Allowed model patterns; empty allows all.
    pub models: Vec<String>,
    /// Limits after this request.
    pub limits: LimitState,
}

/// Why a caller was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Denial {
    /// No master key configured.
    NoMasterKey,
    /// No key sent.
    MissingKey,
    /// Unknown or revoked.
    InvalidKey,
    /// Expired.
    ExpiredKey,
    /// Model not in the key's list.
    ModelNotAllowed(String),
    /// RPM/TPM limit.
    RateLimited(LimitState),
    /// Budget spent.
    BudgetExceeded(String),
    /// Store failure.
    StoreError(String),
}

impl From<String> for Denial {
    fn from(e: String) -> Self {
        Denial::StoreError(e)
    }
}

/// One finished request, as recorded (never the key or its hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UsageRecord {
    /// Key id.
    pub key_id: String,
    /// Model name asked for.
    pub model: String,
    /// Upstream model called.
    pub upstream_model: String,
    /// Provider.
    pub provider: String,
    /// Route.
    pub route: String,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Latency in ms.
    pub latency_ms: u64,
    /// Time to first byte in ms.
    pub ttft_ms: Option<u64>,
    /// HTTP status.
    pub status: u16,
    /// Streamed.
    pub stream: bool,
    /// Start time, Unix ms.
    pub started_at_ms: u64,
}

/// Secrets the checks need.
pub struct Secrets<'a> {
    /// The master key (empty: not configured).
    pub master_key: &'a str,
    /// The pepper keys are hashed with (empty: the master key is used).
    pub pepper: &'a str,
}

impl Secrets<'_> {
    /// The effective pepper.
    pub fn pepper(&self) -> &str {
        if self.pepper.is_empty() {
            self.master_key
        } else {
            self.pepper
        }
    }
}

/// Micro-USD per USD.
pub const MICRO: f64 = 1_000_000.0;

/// The budget counter of a key at a time.
pub fn spend_key(record: &KeyRecord, now_ms: u64) -> String {
    match record.budget_period_s {
        Some(p) if p > 0 => format!("spend/{}/{}", record.id, now_ms / 1000 / p),
        _ => format!("spend/{}", record.id),
    }
}

/// Checks a caller's key for a model, counting the request against its RPM.
pub fn check(
    kv: &dyn Kv,
    secrets: &Secrets,
    key: Option<&str>,
    model: &str,
    now_ms: u64,
) -> Result<Grant, Denial> {
    if secrets.master_key.is_empty() {
        return Err(Denial::NoMasterKey);
    }
    let key = key.filter(|k| !k.is_empty()).ok_or(Denial::MissingKey)?;
    if constant_time_eq(key, secrets.master_key) {
        return Ok(Grant {
            key_id: "master".into(),
            key_alias: Some("master".into()),
            team: None,
            is_master: true,
            models: Vec::new(),
            limits: LimitState::default(),
        });
    }
    let hash = hash_key(secrets.pepper(), key);
    let record: KeyRecord = get_json(kv, &format!("key/{hash}"))?.ok_or(Denial::InvalidKey)?;
    if record.expires_at_ms.is_some_and(|e| now_ms >= e) {
        return Err(Denial::ExpiredKey);
    }
    if !record.allows_model(model) {
        return Err(Denial::ModelNotAllowed(model.to_string()));
    }
    if let Some(budget) = record.max_budget {
        let spent = counter(kv, &spend_key(&record, now_ms))? as f64 / MICRO;
        if spent >= budget {
            return Err(Denial::BudgetExceeded(format!(
                "spent ${spent:.6} of a ${budget:.6} budget"
            )));
        }
    }
    let minute = now_ms / 60_000;
    let reset_seconds = (60 - (now_ms / 1000) % 60) as u32;
    let mut limits = LimitState {
        rpm_limit: record.rpm_limit,
        tpm_limit: record.tpm_limit,
        reset_seconds,
        ..Default::default()
    };
    if let Some(tpm) = record.tpm_limit {
        let used = counter(kv, &format!("tpm/{}/{minute}", record.id))?.max(0) as u64;
        limits.tpm_remaining = Some(tpm.saturating_sub(used));
        if used >= tpm {
            limits.rpm_remaining = record.rpm_limit.map(|_| 0);
            return Err(Denial::RateLimited(limits));
        }
    }
    if let Some(rpm) = record.rpm_limit {
        let n = kv
            .increment(&format!("rpm/{}/{minute}", record.id), 1)?
            .max(0) as u64;
        limits.rpm_remaining = Some(rpm.saturating_sub(n));
        if n > rpm {
            return Err(Denial::RateLimited(limits));
        }
    }
    Ok(Grant {
        key_id: record.id.clone(),
        key_alias: record.key_alias.clone(),
        team: record.team_id.clone(),
        is_master: false,
        models: record.models.clone(),
        limits,
    })
}

/// When a key was last used (the start of its latest recorded request, Unix ms).
pub(crate) fn last_used(kv: &dyn Kv, key_id: &str) -> Result<Option<u64>, String> {
    Ok(kv
        .get(&format!("used/{key_id}"))?
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.parse().ok()))
}

/// Records usage: a spend log entry, tokens into the TPM window (unless that minute is already
/// over for the key), cost into the key's spend; drops the key's previous-minute RPM/TPM counters.
pub fn record_usage(
    kv: &dyn Kv,
    secrets: &Secrets,
    usage: &UsageRecord,
    seq: u64,
) -> Result<(), String> {
    let _ = secrets;
    let at = usage.started_at_ms;
    set_json(kv, &format!("log/{at:013}/{}/{seq}", usage.key_id), usage)?;
    if usage.key_id == "master" {
        return Ok(());
    }
    let minute = at / 60_000;
    let previous = last_used(kv, &usage.key_id)?;
    // Last use never goes back (answers finish out of order). In its own key, so it never races
    // with admin updates of the record.
    if previous.is_none_or(|p| at >= p) {
        kv.set(&format!("used/{}", usage.key_id), at.to_string().as_bytes())?;
    }
    let previous_minute = previous.map(|p| p / 60_000);
    if let Some(p) = previous_minute.filter(|&p| p < minute) {
        // A new minute has started for this key: the previous minute's RPM and TPM windows are
        // never read again, so they go instead of piling up one pair per key per minute.
        kv.delete(&format!("rpm/{}/{p}", usage.key_id))?;
        kv.delete(&format!("tpm/{}/{p}", usage.key_id))?;
    }
    if previous_minute.is_none_or(|p| p <= minute) {
        let tokens = i64::try_from(usage.prompt_tokens.saturating_add(usage.completion_tokens))
            .unwrap_or(i64::MAX);
        kv.increment(&format!("tpm/{}/{minute}", usage.key_id), tokens)?;
    }
    let micro = (usage.cost_usd * MICRO).round() as i64;
    kv.increment(&format!("spend/{}", usage.key_id), micro)?;
    if let Some(hash) = kv.get(&format!("keyid/{}", usage.key_id))? {
        let hash = String::from_utf8_lossy(&hash).into_owned();
        if let Some(record) = get_json::<KeyRecord>(kv, &format!("key/{hash}"))? {
            if record.budget_period_s.is_some() {
                kv.increment(&spend_key(&record, at), micro)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryKv;

    const NOW: u64 = 1_800_000_000_000;

    fn setup(record: KeyRecord) -> (MemoryKv, Secrets<'static>) {
        let kv = MemoryKv::default();
        let secrets = Secrets {
            master_key: "sk-master",
            pepper: "pep",
        };
        let hash = hash_key("pep", "sk-user");
        set_json(&kv, &format!("key/{hash}"), &record).unwrap();
        kv.set(&format!("keyid/{}", record.id), hash.as_bytes())
            .unwrap();
        (kv, secrets)
    }

    fn rec() -> KeyRecord {
        KeyRecord {
            id: "k1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn master_and_denials() {
        let (kv, s) = setup(rec());
        let none = Secrets {
            master_key: "",
            pepper: "",
        };
        assert_eq!(
            check(&kv, &none, Some("x"), "m", NOW),
            Err(Denial::NoMasterKey)
        );
        assert_eq!(check(&kv, &s, None, "m", NOW), Err(Denial::MissingKey));
        assert!(
            check(&kv, &s, Some("sk-master"), "m", NOW)
                .unwrap()
                .is_master
        );
        assert_eq!(
            check(&kv, &s, Some("sk-wrong"), "m", NOW),
            Err(Denial::InvalidKey)
        );
        assert_eq!(
            check(&kv, &s, Some("sk-user"), "m", NOW).unwrap().key_id,
            "k1"
        );
    }

    #[test]
    fn expiry_models_budget() {
        let (kv, s) = setup(KeyRecord {
            expires_at_ms: Some(NOW),
            ..rec()
        });
        assert_eq!(
            check(&kv, &s, Some("sk-user"), "m", NOW),
            Err(Denial::ExpiredKey)
        );
        let (kv, s) = setup(KeyRecord {
            models: vec!["gpt-*".into()],
            ..rec()
        });
        assert_eq!(
            check(&kv, &s, Some("sk-user"), "claude", NOW),
            Err(Denial::ModelNotAllowed("claude".into()))
        );
        let (kv, s) = setup(KeyRecord {
            max_budget: Some(0.001),
            ..rec()
        });
        assert!(check(&kv, &s, Some("sk-user"), "m", NOW).is_ok());
        let usage = UsageRecord {
            key_id: "k1".into(),
            cost_usd: 0.001,
            started_at_ms: NOW,
            ..Default::default()
        };
        record_usage(&kv, &s, &usage, 0).unwrap();
        assert!(matches!(
            check(&kv, &s, Some("sk-user"), "m", NOW),
            Err(Denial::BudgetExceeded(_))
        ));
    }

    #[test]
    fn budget_resets_with_its_period() {
        let (kv, s) = setup(KeyRecord {
            max_budget: Some(0.001),
            budget_period_s: Some(60),
            ..rec()
        });
        let usage = UsageRecord {
            key_id: "k1".into(),
            cost_usd: 0.002,
            started_at_ms: NOW,
            ..Default::default()
        };
        record_usage(&kv, &s, &usage, 0).unwrap();
        assert!(matches!(
            check(&kv, &s, Some("sk-user"), "m", NOW),
            Err(Denial::BudgetExceeded(_))
        ));
        assert!(check(&kv, &s, Some("sk-user"), "m", NOW + 60_000).is_ok());
    }

    #[test]
    fn rpm_is_exact_under_concurrency() {
        let (kv, s) = setup(KeyRecord {
            rpm_limit: Some(20),
            ..rec()
        });
        let results: Vec<bool> = std::thread::scope(|scope| {
            let hs: Vec<_> = (0..50)
                .map(|_| scope.spawn(|| check(&kv, &s, Some("sk-user"), "m", NOW).is_ok()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|ok| **ok).count(), 20);
    }

    #[test]
    fn finished_minutes_leave_no_counters() {
        let (kv, s) = setup(KeyRecord {
            tpm_limit: Some(1_000),
            rpm_limit: Some(1_000),
            ..rec()
        });
        let usage = |at: u64| UsageRecord {
            key_id: "k1".into(),
            prompt_tokens: 10,
            completion_tokens: 5,
            started_at_ms: at,
            ..Default::default()
        };
        let counters = |kv: &MemoryKv| {
            let mut k = kv.keys("rpm/").unwrap();
            k.extend(kv.keys("tpm/").unwrap());
            k.sort();
            k
        };
        let m0 = NOW / 60_000;
        assert!(check(&kv, &s, Some("sk-user"), "m", NOW).is_ok());
        record_usage(&kv, &s, &usage(NOW), 0).unwrap();
        assert_eq!(
            counters(&kv),
            [format!("rpm/k1/{m0}"), format!("tpm/k1/{m0}")]
        );

        // Next minute: the first recorded request drops minute 0's counters.
        let later = NOW + 61_000;
        assert!(check(&kv, &s, Some("sk-user"), "m", later).is_ok());
        record_usage(&kv, &s, &usage(later), 1).unwrap();
        let m1 = m0 + 1;
        assert_eq!(
            counters(&kv),
            [format!("rpm/k1/{m1}"), format!("tpm/k1/{m1}")]
        );

        // A slow answer from minute 0 finishing now: its window is over, nothing is recreated,
        // and the last use stays at the later request.
        record_usage(&kv, &s, &usage(NOW + 5), 2).unwrap();
        assert_eq!(
            counters(&kv),
            [format!("rpm/k1/{m1}"), format!("tpm/k1/{m1}")]
        );
        assert_eq!(last_used(&kv, "k1").unwrap(), Some(later));
        assert_eq!(
            kv.keys("log/").unwrap().len(),
            3,
            "every request is still logged"
        );
    }

    #[test]
    fn tpm_blocks_once_the_window_is_used() {
        let (kv, s) = setup(KeyRecord {
            tpm_limit: Some(100),
            ..rec()
        });
        assert!(check(&kv, &s, Some("sk-user"), "m", NOW).is_ok());
        let usage = UsageRecord {
            key_id: "k1".into(),
            prompt_tokens: 60,
            completion_tokens: 40,
            started_at_ms: NOW,
            ..Default::default()
        };
        record_usage(&kv, &s, &usage, 0).unwrap();
        match check(&kv, &s, Some("sk-user"), "m", NOW) {
            Err(Denial::RateLimited(l)) => assert_eq!(l.tpm_remaining, Some(0)),
            other => panic!("{other:?}"),
        }
        assert!(check(&kv, &s, Some("sk-user"), "m", NOW + 60_000).is_ok());
    }
}
