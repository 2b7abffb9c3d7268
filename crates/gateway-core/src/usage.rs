//! Token usage as OpenAI reports it, read from responses and stream chunks.

use serde_json::Value;

/// Token counts of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// `prompt_tokens`.
    pub prompt_tokens: u64,
    /// `completion_tokens`.
    pub completion_tokens: u64,
    /// `prompt_tokens_details.cached_tokens`.
    pub cached_tokens: u64,
    /// `completion_tokens_details.reasoning_tokens`.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// Reads the `usage` object of a `chat.completion` or a final `chat.completion.chunk`.
    pub fn from_response(value: &Value) -> Option<Usage> {
        let u = value.get("usage").filter(|u| u.is_object())?;
        let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        Some(Usage {
            prompt_tokens: n(u.get("prompt_tokens")),
            completion_tokens: n(u.get("completion_tokens")),
            cached_tokens: n(u.pointer("/prompt_tokens_details/cached_tokens")),
            reasoning_tokens: n(u.pointer("/completion_tokens_details/reasoning_tokens")),
        })
    }

    /// Total tokens.
    pub fn total(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// Cost in USD of a request's usage at per-token prices (missing prices count as zero; cached
/// prompt tokens use the cached price when set, else the input price).
pub fn cost_usd(usage: &Usage, prices: &crate::config::Prices) -> f64 {
    let input = prices.input.unwrap_or(0.0);
    let cached = prices.cached_input.unwrap_or(input);
    let uncached = usage.prompt_tokens.saturating_sub(usage.cached_tokens);
    uncached as f64 * input
        + usage.cached_tokens as f64 * cached
        + usage.completion_tokens as f64 * prices.output.unwrap_or(0.0)
}

/// True for the usage-only chunk a stream ends with when `include_usage` is set (empty `choices`).
pub fn is_usage_chunk(chunk: &Value) -> bool {
    chunk.get("usage").is_some_and(Value::is_object)
        && chunk
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_usage_with_cache_details() {
        let v = json!({"usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4}}});
        let u = Usage::from_response(&v).unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.completion_tokens,
                u.cached_tokens,
                u.total()
            ),
            (10, 5, 4, 15)
        );
        assert!(Usage::from_response(&json!({"usage": null})).is_none());
    }

    #[test]
    fn cost_uses_cached_price_for_cached_tokens() {
        let u = Usage {
            prompt_tokens: 100,
            completion_tokens: 10,
            cached_tokens: 40,
            reasoning_tokens: 0,
        };
        let p = crate::config::Prices {
            input: Some(0.01),
            output: Some(0.1),
            cached_input: Some(0.001),
        };
        assert!((cost_usd(&u, &p) - (60.0 * 0.01 + 40.0 * 0.001 + 10.0 * 0.1)).abs() < 1e-12);
        assert_eq!(cost_usd(&u, &Default::default()), 0.0);
    }

    #[test]
    fn recognises_the_usage_chunk() {
        assert!(is_usage_chunk(
            &json!({"choices": [], "usage": {"prompt_tokens": 1}})
        ));
        assert!(!is_usage_chunk(
            &json!({"choices": [{"delta": {}}], "usage": null})
        ));
        assert!(!is_usage_chunk(
            &json!({"choices": [{"delta": {}}], "usage": {"prompt_tokens": 1}})
        ));
    }
}
