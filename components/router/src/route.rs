//! Routing one request by the gateway's policy ([`gateway_core::policy`]), with the routing state
//! every instance and replica shares kept in the key-value stores:
//!
//! - `limits` (shared through Redis in a cluster): `route/cool/<id>` a deployment's cooldown
//!   (JSON `{"until_ms","status","error","at_ms"}`), `route/fails/<id>/<minute>` its failures,
//!   `route/rpm|tpm/<id>/<minute>` its own RPM/TPM use (only for deployments with those limits),
//!   `route/cooled/<id>` how many times it was cooled, `route/last/<id>` its last failure.
//! - `local` (this replica, in memory): `route/reqs/<id>/<minute>` requests (the error rate's
//!   denominator), `route/busy/<id>` requests in flight (least-busy), `route/lat/<id>` recent
//!   latency (latency-based routing).
//!
//! The healthy path reads no shared state: a group's cooldowns are read from the shared store
//! (a plain `get` per deployment) at most once a second per replica and kept in `local`
//! (`route/view/<group>`); a lone deployment without fallbacks reads nothing. Failures write.

use std::time::Duration;

use gateway_core::config::{Config, Deployment};
use gateway_core::policy::{
    self, AttemptLimits, Effects, ErrorClass, Job, Load, RequestPolicy, Strategy,
};
use gateway_core::ApiError;
use serde_json::{json, Value};
use spin_sdk::wit::wasi::keyvalue::{atomics, store};

pub use gateway_core::policy::{Routed, Trail};

/// A cooldown as stored.
pub struct Cooldown {
    /// Until when (Unix ms).
    pub until_ms: u64,
    /// The failure that caused it.
    pub error: String,
    /// Its status.
    pub status: u16,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn minute(now_ms: u64) -> u64 {
    now_ms / 60_000
}

/// A counter in `bucket` (0 when absent or unreadable).
pub fn counter(bucket: &store::Bucket, key: &str) -> u64 {
    bucket
        .get(key)
        .ok()
        .flatten()
        .and_then(|b| auth_core::store::decode_counter(&b))
        .map_or(0, |n| n.max(0) as u64)
}

/// Adds `n` to this minute's counter `<prefix>/<id>/<minute>`; the first add of a minute drops
/// the counter of the deployment's previous active minute (remembered in `<prefix>/<id>/at`), so
/// each deployment keeps at most two per prefix.
fn add_this_minute(bucket: &store::Bucket, prefix: &str, id: &str, now: u64, n: i64) -> u64 {
    let m = minute(now);
    let key = format!("{prefix}/{id}/{m}");
    let total = atomics::increment(bucket, &key, n).unwrap_or(0);
    if total == n {
        let at = format!("{prefix}/{id}/at");
        let previous = bucket
            .get(&at)
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<u64>().ok());
        if let Some(p) = previous.filter(|p| *p != m) {
            let _ = bucket.delete(&format!("{prefix}/{id}/{p}"));
        }
        let _ = bucket.set(&at, m.to_string().as_bytes());
    }
    total.max(0) as u64
}

/// The routing state of the stores, opened when first needed.
struct State<'c> {
    config: &'c Config,
    limits: Option<Option<store::Bucket>>,
    local: Option<Option<store::Bucket>>,
    /// Whether the current group's failures and requests are tracked (it has an alternative).
    tracking: bool,
}

fn open<'s>(slot: &'s mut Option<Option<store::Bucket>>, label: &str) -> Option<&'s store::Bucket> {
    slot.get_or_insert_with(|| match store::open(label) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!(
                "routing state: key-value store `{label}` unavailable ({e:?}); routing without it"
            );
            None
        }
    })
    .as_ref()
}

/// Reads a deployment's cooldown, if it has one now or had one.
pub fn cooldown(bucket: &store::Bucket, id: &str) -> Option<Cooldown> {
    let raw = bucket.get(&format!("route/cool/{id}")).ok().flatten()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    Some(Cooldown {
        until_ms: v.get("until_ms")?.as_u64()?,
        error: v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        status: v.get("status").and_then(Value::as_u64).unwrap_or(0) as u16,
    })
}

/// How long this replica trusts its copy of a group's cooldowns before reading the shared store
/// again: a cooldown set by another replica is seen within this time; one set here at once.
const VIEW_MS: u64 = 1_000;

fn view_key(group: &str) -> String {
    format!("route/view/{group}")
}

impl State<'_> {
    /// The cooldown until-times of a group's deployments: this replica's copy in `local` (one
    /// in-memory read) while it is under [`VIEW_MS`] old, else read from the shared store (one
    /// `get` per deployment) and kept.
    fn cooldowns(&mut self, deployments: &[&Deployment], now: u64) -> Vec<Option<u64>> {
        let Some(group) = deployments.first().map(|d| d.model_name.clone()) else {
            return Vec::new();
        };
        let cached = open(&mut self.local, "local")
            .and_then(|local| local.get(&view_key(&group)).ok().flatten())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(|v| {
                v.get("at_ms")
                    .and_then(Value::as_u64)
                    .is_some_and(|at| at <= now && now - at < VIEW_MS)
            });
        if let Some(view) = cached {
            let cool = view.get("cool");
            return deployments
                .iter()
                .map(|d| cool.and_then(|c| c.get(&d.id)).and_then(Value::as_u64))
                .collect();
        }
        let Some(limits) = open(&mut self.limits, "limits") else {
            return vec![None; deployments.len()];
        };
        let untils: Vec<Option<u64>> = deployments
            .iter()
            .map(|d| {
                cooldown(limits, &d.id)
                    .map(|c| c.until_ms)
                    .filter(|u| *u > now)
            })
            .collect();
        let cool: serde_json::Map<String, Value> = deployments
            .iter()
            .zip(&untils)
            .filter_map(|(d, u)| u.map(|u| (d.id.clone(), json!(u))))
            .collect();
        if let Some(local) = open(&mut self.local, "local") {
            let view = json!({"at_ms": now, "cool": cool});
            let _ = local.set(&view_key(&group), view.to_string().as_bytes());
        }
        untils
    }
}

impl Effects for State<'_> {
    fn now_ms(&mut self) -> u64 {
        now_ms()
    }

    fn loads(&mut self, deployments: &[&Deployment], shared: bool) -> Vec<Load> {
        self.tracking = shared;
        let strategy = self.config.router.strategy;
        let cooldowns = shared && !self.config.router.disable_cooldowns;
        let now = now_ms();
        let m = minute(now);
        let mut loads = vec![Load::default(); deployments.len()];
        if cooldowns {
            for (load, until) in loads.iter_mut().zip(self.cooldowns(deployments, now)) {
                load.cooling_until_ms = until.filter(|until| *until > now);
            }
        }
        let needs_counters = deployments
            .iter()
            .any(|d| d.policy.rpm.is_some() || d.policy.tpm.is_some())
            || strategy == Strategy::UsageBased;
        if needs_counters {
            if let Some(limits) = open(&mut self.limits, "limits") {
                for (load, d) in loads.iter_mut().zip(deployments) {
                    if d.policy.rpm.is_some() || strategy == Strategy::UsageBased {
                        load.rpm_used = counter(limits, &format!("route/rpm/{}/{m}", d.id));
                    }
                    if d.policy.tpm.is_some() || strategy == Strategy::UsageBased {
                        load.tpm_used = counter(limits, &format!("route/tpm/{}/{m}", d.id));
                    }
                }
            }
        }
        if matches!(strategy, Strategy::LeastBusy | Strategy::LatencyBased) {
            if let Some(local) = open(&mut self.local, "local") {
                for (load, d) in loads.iter_mut().zip(deployments) {
                    load.in_flight = counter(local, &format!("route/busy/{}", d.id));
                    load.latency_ms = local
                        .get(&format!("route/lat/{}", d.id))
                        .ok()
                        .flatten()
                        .and_then(|b| String::from_utf8(b).ok())
                        .and_then(|s| s.parse().ok());
                }
            }
        }
        loads
    }

    fn started(&mut self, d: &Deployment) -> bool {
        let now = now_ms();
        if d.policy.rpm.is_some() || self.config.router.strategy == Strategy::UsageBased {
            if let Some(limits) = open(&mut self.limits, "limits") {
                let n = add_this_minute(limits, "route/rpm", &d.id, now, 1);
                if d.policy.rpm.is_some_and(|rpm| n > rpm) {
                    return false;
                }
            }
        }
        let busy = self.config.router.strategy == Strategy::LeastBusy;
        if self.tracking || busy {
            if let Some(local) = open(&mut self.local, "local") {
                if self.tracking {
                    add_this_minute(local, "route/reqs", &d.id, now, 1);
                }
                if busy {
                    let _ = atomics::increment(local, &format!("route/busy/{}", d.id), 1);
                }
            }
        }
        true
    }

    fn failed(&mut self, d: &Deployment) -> (u64, u64) {
        let now = now_ms();
        let requests = match (self.tracking, open(&mut self.local, "local")) {
            (true, Some(local)) => counter(local, &format!("route/reqs/{}/{}", d.id, minute(now))),
            _ => 1,
        };
        if self.config.router.strategy == Strategy::LeastBusy {
            if let Some(local) = open(&mut self.local, "local") {
                let _ = atomics::increment(local, &format!("route/busy/{}", d.id), -1);
            }
        }
        let fails = match open(&mut self.limits, "limits") {
            Some(limits) => add_this_minute(limits, "route/fails", &d.id, now, 1),
            None => 1,
        };
        (fails, requests.max(1))
    }

    fn cool(&mut self, d: &Deployment, until_ms: u64, class: ErrorClass, status: u16) {
        if let Some(limits) = open(&mut self.limits, "limits") {
            let record = json!({"until_ms": until_ms, "status": status, "error": class.name(), "at_ms": now_ms()});
            let _ = limits.set(
                &format!("route/cool/{}", d.id),
                record.to_string().as_bytes(),
            );
            let _ = atomics::increment(limits, &format!("route/cooled/{}", d.id), 1);
        }
        // This replica sees its own cooldown at once.
        if let Some(local) = open(&mut self.local, "local") {
            let _ = local.delete(&view_key(&d.model_name));
        }
    }

    fn sleep(&mut self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Routes one request: tries `model`'s deployments (those `accept` takes) and its fallbacks by
/// the configured policy, calling `send` for each attempt.
pub fn run<'c, T>(
    config: &'c Config,
    model: &str,
    stream: bool,
    request: &RequestPolicy,
    accept: &dyn Fn(&Deployment) -> bool,
    send: impl FnMut(&Deployment, &AttemptLimits) -> Result<T, ApiError>,
) -> Routed<'c, T> {
    let mut state = State {
        config,
        limits: None,
        local: None,
        tracking: false,
    };
    let job = Job {
        model,
        stream,
        request,
        accept,
        seed: seed(),
    };
    let routed = policy::route(config, &job, &mut state, send);
    if !routed.trail.failures.is_empty() {
        note_failures(&mut state, &routed.trail);
    }
    routed
}

/// Remembers the last failure of the deployments that failed, for `/health`.
fn note_failures(state: &mut State, trail: &Trail) {
    let Some(limits) = open(&mut state.limits, "limits") else {
        return;
    };
    for a in trail
        .failures
        .iter()
        .filter(|a| !a.deployment_id.is_empty())
    {
        let record = json!({"status": a.status, "error": a.class.name(), "at_ms": now_ms()});
        let _ = limits.set(
            &format!("route/last/{}", a.deployment_id),
            record.to_string().as_bytes(),
        );
    }
}

/// After an answer from `d`: its tokens into its TPM window, its latency and in-flight count for
/// the strategies that use them.
pub fn finished(config: &Config, d: &Deployment, tokens: u64, latency_ms: u64) {
    let strategy = config.router.strategy;
    if tokens > 0 && (d.policy.tpm.is_some() || strategy == Strategy::UsageBased) {
        if let Ok(limits) = store::open("limits") {
            add_this_minute(&limits, "route/tpm", &d.id, now_ms(), tokens as i64);
        }
    }
    if matches!(strategy, Strategy::LeastBusy | Strategy::LatencyBased) {
        if let Ok(local) = store::open("local") {
            if strategy == Strategy::LeastBusy {
                let _ = atomics::increment(&local, &format!("route/busy/{}", d.id), -1);
            } else {
                let key = format!("route/lat/{}", d.id);
                let old: Option<f64> = local
                    .get(&key)
                    .ok()
                    .flatten()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| s.parse().ok());
                let ewma = old.map_or(latency_ms as f64, |o| 0.8 * o + 0.2 * latency_ms as f64);
                let _ = local.set(&key, format!("{ewma:.1}").as_bytes());
            }
        }
    }
}

fn seed() -> u64 {
    wasi::random::random::get_random_u64()
}
