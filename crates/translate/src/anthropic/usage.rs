//! Anthropic usage (`input_tokens` excludes cached tokens) in OpenAI terms.

use serde_json::Value;

use crate::openai::Tokens;

/// Reads an Anthropic `usage` object; fields missing from it keep their value in `into`
/// (stream events report usage piecewise).
pub fn merge(usage: &Value, into: &mut Tokens) {
    let n = |k: &str| usage.get(k).and_then(Value::as_u64);
    let input = n("input_tokens");
    let read = n("cache_read_input_tokens");
    let write = n("cache_creation_input_tokens");
    if input.is_some() || read.is_some() || write.is_some() {
        let old_input = into
            .prompt
            .saturating_sub(into.cached.saturating_add(into.cache_write));
        into.cached = read.unwrap_or(into.cached);
        into.cache_write = write.unwrap_or(into.cache_write);
        into.prompt = input
            .unwrap_or(old_input)
            .saturating_add(into.cached)
            .saturating_add(into.cache_write);
    }
    if let Some(out) = n("output_tokens") {
        into.completion = out;
    }
}

/// Usage of a whole Anthropic message.
pub fn of_message(message: &Value) -> Tokens {
    let mut t = Tokens::default();
    if let Some(u) = message.get("usage") {
        merge(u, &mut t);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cached_tokens_count_in_the_prompt() {
        let t = of_message(
            &json!({"usage": {"input_tokens": 10, "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 5, "output_tokens": 7}}),
        );
        assert_eq!(
            (t.prompt, t.cached, t.cache_write, t.completion),
            (115, 100, 5, 7)
        );
        let mut t = of_message(&json!({"usage": {"input_tokens": 10, "output_tokens": 1}}));
        merge(&json!({"output_tokens": 12}), &mut t);
        assert_eq!((t.prompt, t.completion), (10, 12));
    }
}
