//! `POST /v1/messages/count_tokens` answers. Anthropic and Gemini count natively; for providers
//! with no counting API (OpenAI-format servers) the gateway estimates.

use gateway_core::ApiError;
use serde_json::{json, Map, Value};

/// Characters per token assumed by [`estimate`] (the usual rule of thumb for English text).
const CHARS_PER_TOKEN: usize = 4;
/// Tokens added per message for role and boundary markers (as OpenAI's own counting guide does).
const PER_MESSAGE: u64 = 3;

/// An estimate of a Messages request's input tokens: the characters of every text, tool input,
/// tool result and tool definition (keys included) over [`CHARS_PER_TOKEN`], plus
/// [`PER_MESSAGE`] per message and once for the reply's priming. Media blocks count only their
/// non-data fields.
pub fn estimate(body: &Map<String, Value>) -> u64 {
    let mut chars = 0;
    for key in ["system", "messages", "tools"] {
        if let Some(v) = body.get(key) {
            chars += text_chars(v);
        }
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, Vec::len) as u64;
    chars.div_ceil(CHARS_PER_TOKEN) as u64 + PER_MESSAGE * (messages + 1)
}

/// Characters of the strings and keys in `v`, skipping base64 payloads.
fn text_chars(v: &Value) -> usize {
    match v {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.iter().map(text_chars).sum(),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "data" && k.as_str() != "signature")
            .map(|(k, v)| k.chars().count() + text_chars(v))
            .sum(),
        Value::Number(n) => n.to_string().len(),
        Value::Bool(_) | Value::Null => 0,
    }
}

/// Anthropic's answer shape, `{"input_tokens": n}`, from a provider adapter's
/// `{"object": "response.input_tokens", "input_tokens": n}`.
pub fn from_adapter(v: &Value, provider: &str) -> Result<Value, ApiError> {
    v.get("input_tokens")
        .and_then(Value::as_u64)
        .map(|n| json!({ "input_tokens": n }))
        .ok_or_else(|| {
            gateway_core::upstream::by_status(
                provider,
                502,
                "token count answer without input_tokens",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn estimates_text_tools_and_messages() {
        // 40 characters of text in one message: 10 tokens + 3 per message + 3 priming.
        let b = body(json!({"model": "m", "messages": [
            {"role": "user", "content": "a".repeat(40)}
        ]}));
        // keys "role" and "content" count too: (4 + 4 + 7 + 40) / 4 rounded up = 14.
        assert_eq!(estimate(&b), 14 + 6);
        let with_system = body(
            json!({"model": "m", "system": "b".repeat(400), "messages": [
                {"role": "user", "content": "a".repeat(40)}
            ]}),
        );
        assert_eq!(estimate(&with_system), estimate(&b) + 100);
    }

    #[test]
    fn skips_base64_data() {
        let image = |data: &str| {
            body(
                json!({"model": "m", "messages": [{"role": "user", "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
                ]}]}),
            )
        };
        assert_eq!(
            estimate(&image("AAAA")),
            estimate(&image(&"A".repeat(100_000)))
        );
    }

    #[test]
    fn adapter_answer() {
        let v = json!({"object": "response.input_tokens", "input_tokens": 42});
        assert_eq!(
            from_adapter(&v, "gemini").unwrap(),
            json!({"input_tokens": 42})
        );
        let e = from_adapter(&json!({}), "gemini").unwrap_err();
        assert_eq!(e.status, 502);
        assert!(e.message.starts_with("gemini: "));
    }
}
