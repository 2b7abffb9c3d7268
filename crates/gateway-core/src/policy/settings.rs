//! LiteLLM's routing keys: `router_settings` and `litellm_settings` for the whole gateway, and the
//! per-deployment keys of `litellm_params`. Unknown keys are accepted (LiteLLM configs carry many)
//! and listed, so `/health` can say which settings have no effect here.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::classify::ErrorClass;
use crate::config::ConfigError;

/// LiteLLM's default `num_retries`.
pub const DEFAULT_NUM_RETRIES: u32 = 2;
/// LiteLLM's default `cooldown_time` (5 s).
pub const DEFAULT_COOLDOWN_MS: u64 = 5_000;
/// LiteLLM's default `allowed_fails` (failures in a minute before a deployment cools).
pub const DEFAULT_ALLOWED_FAILS: u32 = 3;
/// LiteLLM's default `max_fallbacks`.
pub const DEFAULT_MAX_FALLBACKS: u32 = 5;
/// Longest wait honoured from a provider's `retry-after` before trying again (our default for
/// `router_settings.max_retry_after`).
pub const DEFAULT_MAX_RETRY_AFTER_MS: u64 = 10_000;
/// Default overall deadline for one request across every retry and fallback
/// (`router_settings.total_timeout`; LiteLLM has none).
pub const DEFAULT_TOTAL_TIMEOUT_MS: u64 = 600_000;

/// How the deployments of one model group are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Weighted random: `weight`, else `rpm`, else `tpm`, else uniform.
    #[default]
    SimpleShuffle,
    /// Fewest requests in flight on this replica first.
    LeastBusy,
    /// Lowest recent latency first.
    LatencyBased,
    /// Lowest share of its TPM used this minute first.
    UsageBased,
    /// Cheapest per token first.
    CostBased,
}

impl Strategy {
    fn parse(s: &str) -> Option<Strategy> {
        Some(match s {
            "simple-shuffle" => Strategy::SimpleShuffle,
            "least-busy" => Strategy::LeastBusy,
            "latency-based-routing" => Strategy::LatencyBased,
            "usage-based-routing" | "usage-based-routing-v2" => Strategy::UsageBased,
            "cost-based-routing" => Strategy::CostBased,
            _ => return None,
        })
    }

    /// LiteLLM's name.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::SimpleShuffle => "simple-shuffle",
            Strategy::LeastBusy => "least-busy",
            Strategy::LatencyBased => "latency-based-routing",
            Strategy::UsageBased => "usage-based-routing-v2",
            Strategy::CostBased => "cost-based-routing",
        }
    }
}

/// Model group → the groups to fall back to, in order.
pub type Fallbacks = BTreeMap<String, Vec<String>>;

/// The gateway-wide routing policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    /// `routing_strategy`.
    pub strategy: Strategy,
    /// `num_retries`: attempts after the first within a model group.
    pub num_retries: u32,
    /// `retry_policy`: retries per error class, overriding `num_retries` for that class.
    pub retry_policy: BTreeMap<ErrorClass, u32>,
    /// `allowed_fails`: failures of a deployment in a minute before it cools.
    pub allowed_fails: u32,
    /// `cooldown_time` in ms.
    pub cooldown_ms: u64,
    /// `disable_cooldowns`.
    pub disable_cooldowns: bool,
    /// `fallbacks` (a `"*"` entry also serves as default).
    pub fallbacks: Fallbacks,
    /// `context_window_fallbacks`.
    pub context_window_fallbacks: Fallbacks,
    /// `content_policy_fallbacks`.
    pub content_policy_fallbacks: Fallbacks,
    /// `default_fallbacks`: for a model group with no entry in `fallbacks`.
    pub default_fallbacks: Vec<String>,
    /// `max_fallbacks`.
    pub max_fallbacks: u32,
    /// `timeout`: per attempt, whole answer (ms), unless a deployment sets its own.
    pub timeout_ms: Option<u64>,
    /// `stream_timeout`: per attempt, time to the first chunk of a stream (ms).
    pub stream_timeout_ms: Option<u64>,
    /// `total_timeout`: one deadline across all attempts (ms).
    pub total_timeout_ms: u64,
    /// `max_retry_after`: cap on a provider's `retry-after` honoured between attempts (ms).
    pub max_retry_after_ms: u64,
    /// `litellm_settings.drop_params`.
    pub drop_params: bool,
    /// Keys accepted but without effect here, as `section.key`.
    pub ignored: Vec<String>,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            strategy: Strategy::SimpleShuffle,
            num_retries: DEFAULT_NUM_RETRIES,
            retry_policy: BTreeMap::new(),
            allowed_fails: DEFAULT_ALLOWED_FAILS,
            cooldown_ms: DEFAULT_COOLDOWN_MS,
            disable_cooldowns: false,
            fallbacks: Fallbacks::new(),
            context_window_fallbacks: Fallbacks::new(),
            content_policy_fallbacks: Fallbacks::new(),
            default_fallbacks: Vec::new(),
            max_fallbacks: DEFAULT_MAX_FALLBACKS,
            timeout_ms: None,
            stream_timeout_ms: None,
            total_timeout_ms: DEFAULT_TOTAL_TIMEOUT_MS,
            max_retry_after_ms: DEFAULT_MAX_RETRY_AFTER_MS,
            drop_params: false,
            ignored: Vec::new(),
        }
    }
}

/// The routing keys of one deployment (`litellm_params`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeploymentPolicy {
    /// `order`: lower is tried first; deployments without one come after all that have one.
    pub order: Option<u32>,
    /// `weight` for simple-shuffle.
    pub weight: Option<f64>,
    /// `rpm`: requests per minute this deployment may take (enforced).
    pub rpm: Option<u64>,
    /// `tpm`: tokens per minute this deployment may take (enforced).
    pub tpm: Option<u64>,
    /// `num_retries` / `max_retries`: retries after a failure of this deployment.
    pub num_retries: Option<u32>,
    /// `stream_timeout` in ms.
    pub stream_timeout_ms: Option<u64>,
    /// `cooldown_time` in ms.
    pub cooldown_ms: Option<u64>,
    /// `drop_params`.
    pub drop_params: Option<bool>,
    /// `additional_drop_params`: body keys always removed for this deployment.
    pub additional_drop_params: Vec<String>,
}

/// Keys of `router_settings` / `litellm_settings` applied here (any other is listed as ignored).
const APPLIED: &[&str] = &[
    "routing_strategy",
    "num_retries",
    "retry_policy",
    "allowed_fails",
    "cooldown_time",
    "disable_cooldowns",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "default_fallbacks",
    "max_fallbacks",
    "timeout",
    "request_timeout",
    "stream_timeout",
    "total_timeout",
    "max_retry_after",
    "drop_params",
];

fn err(path: String, message: &str) -> ConfigError {
    ConfigError {
        path,
        message: message.to_string(),
    }
}

fn seconds_ms(v: &Value, path: String) -> Result<u64, ConfigError> {
    v.as_f64()
        .filter(|s| *s > 0.0 && s.is_finite())
        .map(|s| (s * 1000.0) as u64)
        .ok_or_else(|| err(path, "expected a positive number of seconds"))
}

fn count(v: &Value, path: String) -> Result<u32, ConfigError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| err(path, "expected a non-negative integer"))
}

fn boolean(v: &Value, path: String) -> Result<bool, ConfigError> {
    v.as_bool()
        .ok_or_else(|| err(path, "expected true or false"))
}

fn names(v: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
    let list = v
        .as_array()
        .ok_or_else(|| err(path.to_string(), "expected a list of model names"))?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            m.as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| err(format!("{path}[{i}]"), "expected a model name"))
        })
        .collect()
}

/// LiteLLM's `[{"group": ["fallback", ...]}, ...]` (a single mapping is accepted too).
fn fallbacks(v: &Value, path: &str) -> Result<Fallbacks, ConfigError> {
    let entries: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![v],
        _ => {
            return Err(err(
                path.to_string(),
                "expected a list of {model: [fallbacks]}",
            ))
        }
    };
    let mut out = Fallbacks::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let map = entry
            .as_object()
            .ok_or_else(|| err(format!("{path}[{i}]"), "expected {model: [fallbacks]}"))?;
        for (group, list) in map {
            out.insert(group.clone(), names(list, &format!("{path}[{i}].{group}"))?);
        }
    }
    Ok(out)
}

impl RouterSettings {
    /// Reads `litellm_settings` then `router_settings` (which wins where both set a key).
    pub fn parse(root: &Map<String, Value>) -> Result<RouterSettings, ConfigError> {
        let mut s = RouterSettings::default();
        for section in ["litellm_settings", "router_settings"] {
            match root.get(section) {
                None | Some(Value::Null) => {}
                Some(Value::Object(map)) => s.apply(section, map)?,
                Some(_) => return Err(err(section.to_string(), "expected a mapping")),
            }
        }
        Ok(s)
    }

    fn apply(&mut self, section: &str, map: &Map<String, Value>) -> Result<(), ConfigError> {
        for (key, v) in map {
            let path = format!("{section}.{key}");
            if v.is_null() {
                continue;
            }
            if !APPLIED.contains(&key.as_str()) {
                self.ignored.push(path);
                continue;
            }
            match key.as_str() {
                "routing_strategy" => {
                    self.strategy = v.as_str().and_then(Strategy::parse).ok_or_else(|| {
                        err(path, "expected simple-shuffle, least-busy, latency-based-routing, usage-based-routing-v2 or cost-based-routing")
                    })?
                }
                "num_retries" => self.num_retries = count(v, path)?,
                "retry_policy" => {
                    let map = v.as_object().ok_or_else(|| err(path.clone(), "expected a mapping"))?;
                    for (name, n) in map {
                        let class = ErrorClass::ALL
                            .into_iter()
                            .find(|c| c.policy_key() == name)
                            .ok_or_else(|| err(format!("{path}.{name}"), "unknown retry policy key"))?;
                        self.retry_policy.insert(class, count(n, format!("{path}.{name}"))?);
                    }
                }
                "allowed_fails" => self.allowed_fails = count(v, path)?,
                "cooldown_time" => {
                    self.cooldown_ms = v
                        .as_f64()
                        .filter(|s| *s >= 0.0 && s.is_finite())
                        .map(|s| (s * 1000.0) as u64)
                        .ok_or_else(|| err(path, "expected a number of seconds"))?
                }
                "disable_cooldowns" => self.disable_cooldowns = boolean(v, path)?,
                "fallbacks" => self.fallbacks.extend(fallbacks(v, &path)?),
                "context_window_fallbacks" => {
                    self.context_window_fallbacks.extend(fallbacks(v, &path)?)
                }
                "content_policy_fallbacks" => {
                    self.content_policy_fallbacks.extend(fallbacks(v, &path)?)
                }
                "default_fallbacks" => self.default_fallbacks = names(v, &path)?,
                "max_fallbacks" => self.max_fallbacks = count(v, path)?,
                "timeout" | "request_timeout" => self.timeout_ms = Some(seconds_ms(v, path)?),
                "stream_timeout" => self.stream_timeout_ms = Some(seconds_ms(v, path)?),
                "total_timeout" => self.total_timeout_ms = seconds_ms(v, path)?,
                "max_retry_after" => self.max_retry_after_ms = seconds_ms(v, path)?,
                _ => self.drop_params = boolean(v, path)?,
            }
        }
        Ok(())
    }

    /// Fallback groups for `group` after a failure of `class`: the typed list for context-window
    /// and content-policy errors, else `fallbacks[group]`, else `fallbacks["*"]`, else
    /// `default_fallbacks`.
    pub fn fallbacks_for(&self, group: &str, class: ErrorClass) -> Vec<String> {
        let typed = match class {
            ErrorClass::ContextWindow => Some(&self.context_window_fallbacks),
            ErrorClass::ContentPolicy => Some(&self.content_policy_fallbacks),
            _ => None,
        };
        if let Some(map) = typed {
            return map.get(group).cloned().unwrap_or_default();
        }
        self.fallbacks
            .get(group)
            .or_else(|| self.fallbacks.get("*"))
            .cloned()
            .unwrap_or_else(|| self.default_fallbacks.clone())
    }
}

impl DeploymentPolicy {
    /// Reads the routing keys of one entry's `litellm_params` (`path` names it in errors).
    pub fn parse(params: &Map<String, Value>, path: &str) -> Result<DeploymentPolicy, ConfigError> {
        let get = |k: &str| params.get(k).filter(|v| !v.is_null());
        let at = |k: &str| format!("{path}.{k}");
        let positive = |k: &str| -> Result<Option<u64>, ConfigError> {
            get(k)
                .map(|v| {
                    v.as_u64()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| err(at(k), "expected a positive integer"))
                })
                .transpose()
        };
        let weight = get("weight")
            .map(|v| {
                v.as_f64()
                    .filter(|w| *w >= 0.0 && w.is_finite())
                    .ok_or_else(|| err(at("weight"), "expected a non-negative number"))
            })
            .transpose()?;
        let retries = match get("num_retries") {
            Some(v) => Some(count(v, at("num_retries"))?),
            None => get("max_retries")
                .map(|v| count(v, at("max_retries")))
                .transpose()?,
        };
        let additional_drop_params = match get("additional_drop_params") {
            None => Vec::new(),
            Some(v) => names(v, &at("additional_drop_params"))?,
        };
        Ok(DeploymentPolicy {
            order: get("order").map(|v| count(v, at("order"))).transpose()?,
            weight,
            rpm: positive("rpm")?,
            tpm: positive("tpm")?,
            num_retries: retries,
            stream_timeout_ms: get("stream_timeout")
                .map(|v| seconds_ms(v, at("stream_timeout")))
                .transpose()?,
            cooldown_ms: get("cooldown_time")
                .map(|v| seconds_ms(v, at("cooldown_time")))
                .transpose()?,
            drop_params: get("drop_params")
                .map(|v| boolean(v, at("drop_params")))
                .transpose()?,
            additional_drop_params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<RouterSettings, ConfigError> {
        RouterSettings::parse(v.as_object().unwrap())
    }

    #[test]
    fn defaults_are_litellms() {
        let s = parse(json!({})).unwrap();
        assert_eq!(s.num_retries, 2);
        assert_eq!(s.cooldown_ms, 5_000);
        assert_eq!(s.allowed_fails, 3);
        assert_eq!(s.max_fallbacks, 5);
        assert_eq!(s.strategy, Strategy::SimpleShuffle);
        assert!(!s.drop_params);
    }

    #[test]
    fn reads_both_sections_router_settings_winning_and_lists_unknown_keys() {
        let s = parse(json!({
            "litellm_settings": {"num_retries": 5, "drop_params": true, "set_verbose": true,
                "fallbacks": [{"a": ["b"]}], "request_timeout": 30},
            "router_settings": {"num_retries": 1, "routing_strategy": "least-busy",
                "retry_policy": {"RateLimitErrorRetries": 4, "TimeoutErrorRetries": 0},
                "context_window_fallbacks": [{"a": ["a-long"]}], "default_fallbacks": ["z"],
                "redis_host": "r", "cooldown_time": 0.5, "stream_timeout": 2}
        }))
        .unwrap();
        assert_eq!(s.num_retries, 1);
        assert!(s.drop_params);
        assert_eq!(s.strategy, Strategy::LeastBusy);
        assert_eq!(s.retry_policy[&ErrorClass::RateLimit], 4);
        assert_eq!(s.retry_policy[&ErrorClass::Timeout], 0);
        assert_eq!(s.cooldown_ms, 500);
        assert_eq!(s.timeout_ms, Some(30_000));
        assert_eq!(s.stream_timeout_ms, Some(2_000));
        assert_eq!(
            s.ignored,
            vec!["litellm_settings.set_verbose", "router_settings.redis_host"]
        );
        assert_eq!(s.fallbacks_for("a", ErrorClass::Server), vec!["b"]);
        assert_eq!(
            s.fallbacks_for("a", ErrorClass::ContextWindow),
            vec!["a-long"]
        );
        assert!(s.fallbacks_for("a", ErrorClass::ContentPolicy).is_empty());
        assert_eq!(s.fallbacks_for("other", ErrorClass::RateLimit), vec!["z"]);
    }

    #[test]
    fn star_fallbacks_serve_every_group() {
        let s = parse(json!({"router_settings": {"fallbacks": [{"*": ["safe"]}, {"a": ["b"]}]}}))
            .unwrap();
        assert_eq!(s.fallbacks_for("a", ErrorClass::Server), vec!["b"]);
        assert_eq!(s.fallbacks_for("c", ErrorClass::Server), vec!["safe"]);
    }

    #[test]
    fn bad_values_name_their_path() {
        for (v, path) in [
            (
                json!({"router_settings": {"routing_strategy": "fastest"}}),
                "router_settings.routing_strategy",
            ),
            (
                json!({"router_settings": {"num_retries": -1}}),
                "router_settings.num_retries",
            ),
            (
                json!({"router_settings": {"retry_policy": {"Nope": 1}}}),
                "router_settings.retry_policy.Nope",
            ),
            (
                json!({"router_settings": {"fallbacks": [{"a": "b"}]}}),
                "router_settings.fallbacks[0].a",
            ),
            (
                json!({"litellm_settings": {"drop_params": "yes"}}),
                "litellm_settings.drop_params",
            ),
            (json!({"router_settings": "x"}), "router_settings"),
        ] {
            assert_eq!(parse(v).unwrap_err().path, path);
        }
    }

    #[test]
    fn deployment_keys() {
        let p = json!({"order": 1, "weight": 2.5, "rpm": 10, "tpm": 1000, "max_retries": 0,
            "stream_timeout": 1.5, "cooldown_time": 30, "additional_drop_params": ["user"]});
        let d = DeploymentPolicy::parse(p.as_object().unwrap(), "m").unwrap();
        assert_eq!(d.order, Some(1));
        assert_eq!(d.weight, Some(2.5));
        assert_eq!(d.rpm, Some(10));
        assert_eq!(d.num_retries, Some(0));
        assert_eq!(d.stream_timeout_ms, Some(1500));
        assert_eq!(d.cooldown_ms, Some(30_000));
        assert_eq!(d.additional_drop_params, vec!["user"]);
        let bad = json!({"rpm": 0});
        assert_eq!(
            DeploymentPolicy::parse(bad.as_object().unwrap(), "m")
                .unwrap_err()
                .path,
            "m.rpm"
        );
    }
}
