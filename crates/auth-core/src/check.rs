//! Checking a caller before any upstream call.
//!
//! Limits use fixed 60-second windows keyed by the minute. RPM counts with an atomic increment at
//! check time, so concurrent requests can never overshoot the limit; TPM is checked against the
//! tokens already recorded in the window (a request is admitted while the window is under the
//! limit, so the last admitted request may end above it by its own size).
//!
//! Store operations per check (the storage budget, see README): none for the master key; one read
//! of the key record for a virtual key and one more for a budget, in the shared durable store;
//! in the `limits` store one read for a budget (its pending spend), one read for a TPM limit and
//! one atomic increment for an RPM limit (plus,
//! once per key and minute, the window roll-over in [`crate::windows`]). RPM/TPM windows live a
//! minute, so `limits` need not be durable: in memory on one replica, Redis for several. Counters
//! are read with a plain `get`, never `increment(key, 0)`, which is a write on Spin's SQLite store.

use serde::{Deserialize, Serialize};

use crate::keys::{constant_time_eq, hash_key, KeyRecord};
use crate::store::{get_json, read_counter, Kv};
use crate::windows;

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
    /// What recording this request must count.
    pub meters: Meters,
}

/// What recording a request must count for its key, decided at check time so that recording
/// reads nothing from the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meters {
    /// Count the request's tokens into the key's TPM window (keys with a TPM limit).
    pub tpm: bool,
    /// The spend counter the key's budget is checked against (keys with a budget).
    pub spend_counter: Option<String>,
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

impl Denial {
    /// The HTTP status and error code the caller gets (as the router maps them), for the request
    /// log's row of a refused request.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            Denial::NoMasterKey => (401, "no_master_key"),
            Denial::MissingKey => (401, "missing_api_key"),
            Denial::InvalidKey => (401, "invalid_api_key"),
            Denial::ExpiredKey => (401, "expired_api_key"),
            Denial::ModelNotAllowed(_) => (403, "model_not_allowed"),
            Denial::RateLimited(_) => (429, "rate_limit_exceeded"),
            Denial::BudgetExceeded(_) => (429, "budget_exceeded"),
            Denial::StoreError(_) => (503, "auth_store_error"),
        }
    }
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
    /// Key alias.
    pub key_alias: Option<String>,
    /// Team of the key.
    pub team: Option<String>,
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
    /// The deployment that answered (its `model_info.id`), empty when none did.
    #[serde(default)]
    pub deployment_id: String,
    /// The model group that answered (another than `model` after a fallback), empty when none did.
    #[serde(default)]
    pub model_group: String,
    /// Why the request failed (`rate_limit`, `server`, `invalid_api_key`, ...), `None` on success.
    #[serde(default)]
    pub error_class: Option<String>,
    /// Upstream calls made (0 when refused before any).
    #[serde(default)]
    pub attempts: u32,
    /// Reasoning tokens among the completion tokens.
    #[serde(default)]
    pub reasoning_tokens: u64,
    /// The request's messages (or input, or prompt) as JSON, only with
    /// `store_prompts_in_spend_logs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<String>,
    /// The answer as sent to the caller (JSON, or a stream's events), only with
    /// `store_prompts_in_spend_logs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
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

/// The pending part of a budget counter, in the `limits` store. Named apart from the total:
/// Spin's Redis store does not prefix keys with the store's label, so two stores on one Redis
/// share their keys.
pub fn pending_spend_key(counter: &str) -> String {
    format!("pending/{counter}")
}

/// What a budget counter holds, in USD: the durable total in `kv`, plus spend recorded but not
/// moved there yet, in `limits_kv` (see [`crate::record`]). Total first, then pending: a flush
/// moves spend the other way round (pending, then total), so a read racing it can miss a batch for
/// an instant but never count it twice.
pub fn budget_spent(kv: &dyn Kv, limits_kv: &dyn Kv, counter: &str) -> Result<f64, String> {
    let total = read_counter(kv, counter)?;
    let micro = total.saturating_add(read_counter(limits_kv, &pending_spend_key(counter))?);
    Ok(micro as f64 / MICRO)
}

/// Checks a caller's key for a model, counting the request against its RPM.
pub fn check(
    kv: &dyn Kv,
    limits_kv: &dyn Kv,
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
            meters: Meters::default(),
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
    let spend_counter = record.max_budget.map(|_| spend_key(&record, now_ms));
    if let (Some(budget), Some(counter)) = (record.max_budget, &spend_counter) {
        let spent = budget_spent(kv, limits_kv, counter)?;
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
        let used = read_counter(limits_kv, &windows::tpm_key(&record.id, minute))?.max(0) as u64;
        limits.tpm_remaining = Some(tpm.saturating_sub(used));
        if used >= tpm {
            limits.rpm_remaining = record.rpm_limit.map(|_| 0);
            return Err(Denial::RateLimited(limits));
        }
    }
    if let Some(rpm) = record.rpm_limit {
        let n = limits_kv
            .increment(&windows::rpm_key(&record.id, minute), 1)?
            .max(0) as u64;
        if n == 1 {
            windows::roll(limits_kv, &record.id, minute)?;
        }
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
        meters: Meters {
            tpm: record.tpm_limit.is_some(),
            spend_counter,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_queue::Sinks;
    use crate::record::record_usage;
    use crate::sql::sqlite::TestDb;
    use crate::store::memory::{CountingKv, MemoryKv};
    use crate::store::set_json;

    const NOW: u64 = 1_800_000_000_000;

    /// The shared store with the key, the `limits` store, and the secrets.
    fn setup(record: KeyRecord) -> (MemoryKv, MemoryKv, Secrets<'static>) {
        let kv = MemoryKv::default();
        let secrets = Secrets {
            master_key: "sk-master",
            pepper: "pep",
        };
        let hash = hash_key("pep", "sk-user");
        set_json(&kv, &format!("key/{hash}"), &record).unwrap();
        kv.set(&format!("keyid/{}", record.id), hash.as_bytes())
            .unwrap();
        (kv, MemoryKv::default(), secrets)
    }

    fn rec() -> KeyRecord {
        KeyRecord {
            id: "k1".into(),
            ..Default::default()
        }
    }

    fn new_log() -> Result<Box<dyn crate::Sql>, String> {
        Ok(Box::new(TestDb::new()))
    }

    /// Checks, then records a request that used `tokens` and cost `cost` at `at`.
    fn spend(
        kv: &dyn Kv,
        lim: &dyn Kv,
        s: &Secrets,
        at: u64,
        tokens: u64,
        cost: f64,
    ) -> Result<(), Denial> {
        let grant = check(kv, lim, s, Some("sk-user"), "m", at)?;
        let usage = UsageRecord {
            key_id: grant.key_id.clone(),
            prompt_tokens: tokens,
            cost_usd: cost,
            started_at_ms: at,
            ..Default::default()
        };
        let stores = Sinks {
            open_log: &new_log,
            shared: kv,
            limits: lim,
            retention_ms: None,
            log_rows: true,
        };
        record_usage(
            &stores,
            &MemoryKv::default(),
            &usage,
            &grant.meters,
            at,
            1,
            None,
        )?;
        Ok(())
    }

    #[test]
    fn master_and_denials() {
        let (kv, lim, s) = setup(rec());
        let none = Secrets {
            master_key: "",
            pepper: "",
        };
        assert_eq!(
            check(&kv, &lim, &none, Some("x"), "m", NOW),
            Err(Denial::NoMasterKey)
        );
        assert_eq!(
            check(&kv, &lim, &s, None, "m", NOW),
            Err(Denial::MissingKey)
        );
        assert!(
            check(&kv, &lim, &s, Some("sk-master"), "m", NOW)
                .unwrap()
                .is_master
        );
        assert_eq!(
            check(&kv, &lim, &s, Some("sk-wrong"), "m", NOW),
            Err(Denial::InvalidKey)
        );
        assert_eq!(
            check(&kv, &lim, &s, Some("sk-user"), "m", NOW)
                .unwrap()
                .key_id,
            "k1"
        );
    }

    #[test]
    fn expiry_models_budget() {
        let (kv, lim, s) = setup(KeyRecord {
            expires_at_ms: Some(NOW),
            ..rec()
        });
        assert_eq!(
            check(&kv, &lim, &s, Some("sk-user"), "m", NOW),
            Err(Denial::ExpiredKey)
        );
        let (kv, lim, s) = setup(KeyRecord {
            models: vec!["gpt-*".into()],
            ..rec()
        });
        assert_eq!(
            check(&kv, &lim, &s, Some("sk-user"), "claude", NOW),
            Err(Denial::ModelNotAllowed("claude".into()))
        );
        let (kv, lim, s) = setup(KeyRecord {
            max_budget: Some(0.001),
            ..rec()
        });
        spend(&kv, &lim, &s, NOW, 0, 0.001).unwrap();
        assert!(matches!(
            check(&kv, &lim, &s, Some("sk-user"), "m", NOW),
            Err(Denial::BudgetExceeded(_))
        ));
    }

    /// Two stores on one Redis share their keys: the pending and durable parts of a budget must
    /// not be the same key, or spend would count twice.
    #[test]
    fn one_keyspace_for_both_stores_counts_spend_once() {
        let (kv, _, s) = setup(KeyRecord {
            max_budget: Some(0.003),
            ..rec()
        });
        spend(&kv, &kv, &s, NOW, 0, 0.002).unwrap();
        assert!(
            check(&kv, &kv, &s, Some("sk-user"), "m", NOW).is_ok(),
            "0.002 of 0.003"
        );
        spend(&kv, &kv, &s, NOW, 0, 0.002).unwrap();
        assert!(matches!(
            check(&kv, &kv, &s, Some("sk-user"), "m", NOW),
            Err(Denial::BudgetExceeded(_))
        ));
    }

    #[test]
    fn budget_resets_with_its_period() {
        let (kv, lim, s) = setup(KeyRecord {
            max_budget: Some(0.001),
            budget_period_s: Some(60),
            ..rec()
        });
        spend(&kv, &lim, &s, NOW, 0, 0.002).unwrap();
        assert!(matches!(
            check(&kv, &lim, &s, Some("sk-user"), "m", NOW),
            Err(Denial::BudgetExceeded(_))
        ));
        assert!(check(&kv, &lim, &s, Some("sk-user"), "m", NOW + 60_000).is_ok());
    }

    #[test]
    fn rpm_is_exact_under_concurrency() {
        let (kv, lim, s) = setup(KeyRecord {
            rpm_limit: Some(20),
            ..rec()
        });
        let results: Vec<bool> = std::thread::scope(|scope| {
            let hs: Vec<_> = (0..50)
                .map(|_| scope.spawn(|| check(&kv, &lim, &s, Some("sk-user"), "m", NOW).is_ok()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|ok| **ok).count(), 20);
    }

    #[test]
    fn tpm_blocks_once_the_window_is_used() {
        let (kv, lim, s) = setup(KeyRecord {
            tpm_limit: Some(100),
            ..rec()
        });
        spend(&kv, &lim, &s, NOW, 100, 0.0).unwrap();
        match check(&kv, &lim, &s, Some("sk-user"), "m", NOW) {
            Err(Denial::RateLimited(l)) => assert_eq!(l.tpm_remaining, Some(0)),
            other => panic!("{other:?}"),
        }
        assert!(check(&kv, &lim, &s, Some("sk-user"), "m", NOW + 60_000).is_ok());
    }

    #[test]
    fn counters_of_old_minutes_are_dropped() {
        let (kv, lim, s) = setup(KeyRecord {
            tpm_limit: Some(1_000),
            rpm_limit: Some(1_000),
            ..rec()
        });
        for minute in 0..5 {
            spend(&kv, &lim, &s, NOW + minute * 60_000, 10, 0.0).unwrap();
        }
        let m = NOW / 60_000;
        let mut left = lim.keys("rpm/").unwrap();
        left.extend(lim.keys("tpm/").unwrap());
        left.sort();
        assert_eq!(
            left,
            [
                format!("rpm/k1/{}", m + 3),
                format!("rpm/k1/{}", m + 4),
                format!("tpm/k1/{}", m + 3),
                format!("tpm/k1/{}", m + 4)
            ]
        );
    }

    /// The storage budget of the README, per kind of caller: (reads, writes) in the shared durable
    /// store, then in the `limits` store, for a check and a record in the same minute as an
    /// earlier request of the key.
    #[test]
    fn storage_budget_per_request() {
        let full = KeyRecord {
            rpm_limit: Some(1_000),
            tpm_limit: Some(1_000_000),
            max_budget: Some(1_000.0),
            ..rec()
        };
        for (name, record, key, shared, limits) in [
            ("master", rec(), "sk-master", (0, 0), (0, 0)),
            ("virtual, no limits", rec(), "sk-user", (1, 0), (0, 0)),
            ("virtual, RPM+TPM+budget", full, "sk-user", (2, 0), (2, 3)),
        ] {
            let (kv, limits_kv, s) = setup(record);
            let counting = CountingKv::new(&kv);
            let counting_limits = CountingKv::new(&limits_kv);
            let local = MemoryKv::default();
            for i in 0..2 {
                counting.reset();
                counting_limits.reset();
                let grant =
                    check(&counting, &counting_limits, &s, Some(key), "m", NOW + i).unwrap();
                let usage = UsageRecord {
                    key_id: grant.key_id.clone(),
                    prompt_tokens: 5,
                    cost_usd: 0.01,
                    started_at_ms: NOW + i,
                    ..Default::default()
                };
                let stores = Sinks {
                    open_log: &new_log,
                    shared: &counting,
                    limits: &counting_limits,
                    retention_ms: None,
                    log_rows: true,
                };
                record_usage(&stores, &local, &usage, &grant.meters, NOW + i, 3, None).unwrap();
            }
            assert_eq!(
                (counting.counts(), counting_limits.counts()),
                (shared, limits),
                "{name}"
            );
        }
    }
}
