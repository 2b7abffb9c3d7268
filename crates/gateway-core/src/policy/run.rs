//! The attempt loop: which deployment to try next, how long to wait, when to give up on a model
//! group and fall back to the next, and what to answer when everything failed. Side effects
//! (time, shared routing state, sleeping, the call itself) come from the caller, so every rule is
//! tested here with a simulated clock and scripted failures.

use std::collections::VecDeque;

use super::classify::ErrorClass;
use super::cooldown::{self, Failure};
use super::request::RequestPolicy;
use super::select::{self, Load, Random};
use crate::config::{Config, Deployment};
use crate::error::{ApiError, ErrorType};
use crate::models;

/// Longest backoff between two attempts on the same deployment when the provider gave no
/// `retry-after`.
const MAX_BACKOFF_MS: u64 = 8_000;
/// First backoff step.
const BACKOFF_MS: u64 = 500;

/// What the loop needs from the outside world.
pub trait Effects {
    /// Unix time in ms.
    fn now_ms(&mut self) -> u64;
    /// The load of each deployment; `shared` says whether cooldowns (and other state shared
    /// between replicas) matter for this group and must be read.
    fn loads(&mut self, deployments: &[&Deployment], shared: bool) -> Vec<Load>;
    /// An attempt on `d` is about to start; false if that took `d` over its own RPM (counted
    /// atomically, so the limit holds exactly under concurrency): `d` is then skipped.
    fn started(&mut self, d: &Deployment) -> bool;
    /// Counts a failure of `d`; returns its failures this minute (all replicas, this one
    /// included) and its requests this minute (this replica).
    fn failed(&mut self, d: &Deployment) -> (u64, u64);
    /// Takes `d` out of rotation until `until_ms`.
    fn cool(&mut self, d: &Deployment, until_ms: u64, class: ErrorClass, status: u16);
    /// Waits.
    fn sleep(&mut self, ms: u64);
}

/// Time limits of one attempt, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// The whole answer.
    pub timeout_ms: u64,
    /// The first byte of the answer (a stream's first chunk).
    pub first_byte_ms: u64,
}

/// One failed attempt (or a group skipped because all of it was cooling).
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The deployment id (empty when a whole group was skipped).
    pub deployment_id: String,
    /// The model group.
    pub group: String,
    /// The status it failed with.
    pub status: u16,
    /// Its class.
    pub class: ErrorClass,
}

/// What routing did, for headers and the request log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trail {
    /// Every failed attempt, in order.
    pub failures: Vec<Attempt>,
    /// Attempts after the first within a group, over all groups.
    pub retries: u32,
    /// Fallback groups tried.
    pub fallbacks: u32,
    /// The retry budget of the requested group (`x-litellm-max-retries`).
    pub max_retries: u32,
    /// The model group that answered.
    pub group: Option<String>,
}

impl Trail {
    /// Calls made (failed ones and the answer, if any).
    pub fn attempts(&self, answered: bool) -> u32 {
        let calls = self
            .failures
            .iter()
            .filter(|a| a.class != ErrorClass::Cooling)
            .count() as u32;
        calls + u32::from(answered)
    }
}

/// A routing run: the answer from the deployment that gave it, or the final error; and the trail.
pub struct Routed<'c, T> {
    /// The answer and who gave it, or the error to send.
    pub result: Result<(T, &'c Deployment), ApiError>,
    /// What happened on the way.
    pub trail: Trail,
}

/// One request's routing inputs.
pub struct Job<'a> {
    /// The requested model group.
    pub model: &'a str,
    /// Whether the answer is streamed (`stream_timeout` applies).
    pub stream: bool,
    /// The caller's own routing options.
    pub request: &'a RequestPolicy,
    /// Only deployments this accepts are used (e.g. native Anthropic for token counting).
    pub accept: &'a dyn Fn(&Deployment) -> bool,
    /// Random seed for the selection.
    pub seed: u64,
}

fn retry_after_ms(e: &ApiError) -> Option<u64> {
    let value = e
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))?
        .1
        .trim()
        .to_string();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0 && s.is_finite())
        .map(|s| (s * 1000.0) as u64)
}

/// Runs `send` on the deployments of `job.model` (and its fallbacks) by the gateway's policy.
pub fn route<'c, T>(
    config: &'c Config,
    job: &Job,
    fx: &mut dyn Effects,
    mut send: impl FnMut(&Deployment, &AttemptLimits) -> Result<T, ApiError>,
) -> Routed<'c, T> {
    let s = &config.router;
    let started = fx.now_ms();
    let deadline = started.saturating_add(s.total_timeout_ms);
    let mut random = Random::new(job.seed);
    let mut trail = Trail {
        max_retries: job.request.num_retries.unwrap_or(s.num_retries),
        ..Trail::default()
    };
    let mut errors: Vec<ApiError> = Vec::new();
    let fallbacks_allowed = !job.request.disable_fallbacks;
    // Typed (context-window, content-policy) fallbacks are no alternative for a failing
    // deployment: only the generic ones are.
    let requested_has_fallbacks = fallbacks_allowed
        && match &job.request.fallbacks {
            Some(list) => !list.is_empty(),
            None => !s.fallbacks_for(job.model, ErrorClass::Server).is_empty(),
        };
    let mut queue: Option<VecDeque<String>> = None;
    let mut group = job.model.to_string();
    let mut out_of_time = false;
    loop {
        let deployments: Vec<&Deployment> = config
            .deployments_for(&group)
            .into_iter()
            .filter(|d| (job.accept)(d))
            .collect();
        if deployments.is_empty() && group == job.model {
            return Routed {
                result: Err(models::model_not_found(job.model)),
                trail,
            };
        }
        let has_alternative = deployments.len() > 1 || requested_has_fallbacks;
        let shared = has_alternative && !s.disable_cooldowns
            || deployments
                .iter()
                .any(|d| d.policy.rpm.is_some() || d.policy.tpm.is_some());
        let mut tried: Vec<usize> = Vec::new();
        let mut skipped: Vec<usize> = Vec::new();
        let mut retries_used = 0u32;
        let mut last: Option<(ErrorClass, Option<u64>)> = None;
        let exhausted_with = loop {
            let now = fx.now_ms();
            if now >= deadline {
                return finish_deadline(trail, errors, job.model, s.total_timeout_ms);
            }
            if deployments.is_empty() {
                break ErrorClass::NotFound;
            }
            let loads = fx.loads(&deployments, shared);
            let mut order = select::order(&deployments, &loads, s.strategy, now, &mut random);
            order.retain(|i| !skipped.contains(i));
            let fresh = order.iter().copied().find(|i| !tried.contains(i));
            let Some(i) = fresh.or(order.first().copied()) else {
                if tried.is_empty() {
                    let until = loads
                        .iter()
                        .filter_map(|l| l.cooling_until_ms)
                        .min()
                        .unwrap_or(now + 60_000 - now % 60_000);
                    errors.push(all_cooling(&group, until.saturating_sub(now)));
                    trail.failures.push(Attempt {
                        deployment_id: String::new(),
                        group: group.clone(),
                        status: 429,
                        class: ErrorClass::Cooling,
                    });
                    break ErrorClass::Cooling;
                }
                break last.map(|l| l.0).unwrap_or(ErrorClass::Cooling);
            };
            let d = deployments[i];
            if let Some((_, retry_after)) = last {
                let wait = if fresh.is_some() {
                    0
                } else {
                    retry_after
                        .map(|ms| ms.min(s.max_retry_after_ms))
                        .unwrap_or_else(|| backoff(retries_used))
                };
                if now.saturating_add(wait) >= deadline {
                    // No time for another try here: a fallback may still answer in time.
                    out_of_time = true;
                    break last.map_or(ErrorClass::Timeout, |l| l.0);
                }
                if wait > 0 {
                    fx.sleep(wait);
                }
            }
            let now = fx.now_ms();
            let remaining = deadline.saturating_sub(now).max(1);
            let timeout = job.request.timeout_ms.unwrap_or(d.timeout_ms);
            let first_byte = if job.stream {
                job.request
                    .stream_timeout_ms
                    .or(d.policy.stream_timeout_ms)
                    .or(s.stream_timeout_ms)
                    .unwrap_or(timeout)
            } else {
                timeout
            };
            let limits = AttemptLimits {
                timeout_ms: timeout.min(remaining),
                first_byte_ms: first_byte.min(timeout).min(remaining),
            };
            if !fx.started(d) {
                skipped.push(i);
                continue;
            }
            match send(d, &limits) {
                Ok(answer) => {
                    trail.group = Some(group);
                    return Routed {
                        result: Ok((answer, d)),
                        trail,
                    };
                }
                Err(e) => {
                    let class = ErrorClass::of(&e);
                    let retry_after = retry_after_ms(&e);
                    if cooldown::counts(class) {
                        let (fails, requests) = fx.failed(d);
                        let failure = Failure {
                            class,
                            has_alternative,
                            fails_this_minute: fails,
                            requests_this_minute: requests,
                            retry_after_ms: retry_after,
                        };
                        if let Some(ms) = cooldown::cooldown_ms(s, &d.policy, &failure) {
                            let now = fx.now_ms();
                            fx.cool(d, now.saturating_add(ms), class, e.status);
                        }
                    }
                    trail.failures.push(Attempt {
                        deployment_id: d.id.clone(),
                        group: group.clone(),
                        status: e.status,
                        class,
                    });
                    errors.push(e);
                    tried.push(i);
                    last = Some((class, retry_after));
                    if !class.retryable() {
                        break class;
                    }
                    let allowed = job
                        .request
                        .num_retries
                        .or(s.retry_policy.get(&class).copied())
                        .or(d.policy.num_retries)
                        .unwrap_or(s.num_retries);
                    if retries_used >= allowed {
                        break class;
                    }
                    retries_used += 1;
                    trail.retries += 1;
                }
            }
        };
        // The group is done with: fall back, or give up.
        let typed = matches!(
            exhausted_with,
            ErrorClass::ContextWindow | ErrorClass::ContentPolicy
        );
        if !fallbacks_allowed || !(exhausted_with.retryable() || typed || deployments.is_empty()) {
            if out_of_time {
                return finish_deadline(trail, errors, job.model, s.total_timeout_ms);
            }
            return finish(trail, errors, job.model);
        }
        let next = queue.get_or_insert_with(|| {
            let list = match (&job.request.fallbacks, typed) {
                (Some(list), false) => list.clone(),
                _ => s.fallbacks_for(job.model, exhausted_with),
            };
            list.into_iter()
                .filter(|g| g != job.model)
                .take(s.max_fallbacks as usize)
                .collect()
        });
        match next.pop_front() {
            Some(g) => {
                trail.fallbacks += 1;
                group = g;
            }
            None if out_of_time => {
                return finish_deadline(trail, errors, job.model, s.total_timeout_ms)
            }
            None => return finish(trail, errors, job.model),
        }
    }
}

/// Exponential backoff before the `retry`-th retry (from 1) of the same deployment: 0.5 s, 1 s,
/// 2 s ... 8 s.
fn backoff(retry: u32) -> u64 {
    BACKOFF_MS
        .saturating_mul(1u64 << retry.saturating_sub(1).min(10))
        .min(MAX_BACKOFF_MS)
}

fn all_cooling(group: &str, remaining_ms: u64) -> ApiError {
    let seconds = remaining_ms.div_ceil(1000).max(1);
    ApiError::new(
        429,
        ErrorType::RateLimit,
        format!("every deployment of model `{group}` is cooling down after failures or at its rate limit; retry after {seconds} s"),
    )
    .with_code("deployments_cooling_down")
    .with_header("retry-after", seconds.to_string())
}

/// The final error: the most telling attempt's, with every attempt summarised when there were
/// several.
fn finish<'c, T>(trail: Trail, errors: Vec<ApiError>, model: &str) -> Routed<'c, T> {
    let best = errors
        .iter()
        .zip(&trail.failures)
        .enumerate()
        .max_by_key(|(i, (_, a))| (a.class.weight(), *i))
        .map(|(i, _)| i);
    let mut error = match best {
        Some(i) => errors[i].clone(),
        None => models::model_not_found(model),
    };
    if trail.failures.len() > 1 {
        let summary: Vec<String> = trail
            .failures
            .iter()
            .map(|a| {
                let who = if a.deployment_id.is_empty() {
                    format!("{} (all cooling)", a.group)
                } else {
                    format!("{}/{}", a.group, a.deployment_id)
                };
                format!("{who}: {} {}", a.status, a.class.name())
            })
            .collect();
        error.message = format!(
            "{} [{} attempts: {}]",
            error.message,
            trail.failures.len(),
            summary.join("; ")
        );
    }
    Routed {
        result: Err(error),
        trail,
    }
}

fn finish_deadline<'c, T>(
    trail: Trail,
    mut errors: Vec<ApiError>,
    model: &str,
    total_ms: u64,
) -> Routed<'c, T> {
    let mut trail = trail;
    errors.push(
        ApiError::new(
            504,
            ErrorType::Upstream,
            format!("no answer for model `{model}` within the request deadline of {} s (router_settings.total_timeout)", total_ms as f64 / 1000.0),
        )
        .with_code("deadline_exceeded"),
    );
    trail.failures.push(Attempt {
        deployment_id: String::new(),
        group: model.to_string(),
        status: 504,
        class: ErrorClass::Timeout,
    });
    // The deadline is the answer, whatever the attempts before it said.
    let error = errors.pop().map(|mut e| {
        if trail.failures.len() > 1 {
            e.message = format!("{} after {} attempts", e.message, trail.failures.len() - 1);
        }
        e
    });
    Routed {
        result: Err(error.unwrap_or_else(|| models::model_not_found(model))),
        trail,
    }
}
