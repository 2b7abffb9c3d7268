//! Virtual key records, hashing and model access.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

/// A virtual key as stored (the key itself never is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KeyRecord {
    /// Random, non-secret identifier.
    pub id: String,
    /// First characters of the key, for display (`sk-ab12…`).
    pub prefix: String,
    /// `key_alias`.
    pub key_alias: Option<String>,
    /// `team_id`.
    pub team_id: Option<String>,
    /// `user_id`.
    pub user_id: Option<String>,
    /// Allowed model names; `*` wildcards; empty allows all.
    pub models: Vec<String>,
    /// Requests per minute.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    pub tpm_limit: Option<u64>,
    /// Max spend in USD per budget period (or ever).
    pub max_budget: Option<f64>,
    /// Budget period in seconds (`budget_duration`).
    pub budget_period_s: Option<u64>,
    /// Expiry, Unix ms.
    pub expires_at_ms: Option<u64>,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
    /// Creation time, Unix ms.
    pub created_at_ms: u64,
}

/// HMAC-SHA256 of a key under the pepper, hex-encoded.
pub fn hash_key(pepper: &str, key: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(pepper.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(key.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether a model name matches an allowed pattern (`*` matches any run of characters).
pub fn model_matches(pattern: &str, model: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == model;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !model.starts_with(first) || !model[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &model[first.len()..model.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl KeyRecord {
    /// Whether the key may use a model (an empty model name is always allowed).
    pub fn allows_model(&self, model: &str) -> bool {
        model.is_empty()
            || self.models.is_empty()
            || self.models.iter().any(|p| model_matches(p, model))
    }
}

/// Parses LiteLLM durations: `30s`, `15m`, `1h`, `1d`, `30d` (also `1mo` = 30 days).
pub fn parse_duration_s(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "mo" => 30 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_is_keyed_and_stable() {
        let a = hash_key("pepper", "sk-1");
        assert_eq!(a.len(), 64);
        assert_eq!(a, hash_key("pepper", "sk-1"));
        assert_ne!(a, hash_key("other", "sk-1"));
        assert!(
            constant_time_eq("abc", "abc")
                && !constant_time_eq("abc", "abd")
                && !constant_time_eq("a", "ab")
        );
    }

    #[test]
    fn wildcards() {
        assert!(model_matches("gpt-*", "gpt-4o"));
        assert!(model_matches("*", "x"));
        assert!(model_matches("openai/*-mini", "openai/gpt-4o-mini"));
        assert!(!model_matches("gpt-*", "claude"));
        assert!(!model_matches("gpt-4o", "gpt-4o-mini"));
        let k = KeyRecord {
            models: vec!["gpt-*".into()],
            ..Default::default()
        };
        assert!(k.allows_model("gpt-x") && !k.allows_model("claude") && k.allows_model(""));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_s("30s"), Some(30));
        assert_eq!(parse_duration_s("1h"), Some(3600));
        assert_eq!(parse_duration_s("30d"), Some(2_592_000));
        assert_eq!(parse_duration_s("1mo"), Some(2_592_000));
        assert_eq!(parse_duration_s("x"), None);
        assert_eq!(parse_duration_s("5y"), None);
    }
}
