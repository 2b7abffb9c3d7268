//! Token counting with Gemini's `models/{model}:countTokens`: the translated request is sent
//! whole as a `generateContentRequest`, so system instruction and tools are counted too.

use gateway_core::upstream::by_status;
use gateway_core::ApiError;
use serde_json::{json, Value};

use super::request::Prepared;
use super::PROVIDER;

/// The `countTokens` body for a translated chat request.
pub fn request(prepared: &Prepared) -> Value {
    let mut inner = prepared.body.clone();
    inner["model"] = json!(format!("models/{}", prepared.model));
    json!({ "generateContentRequest": inner })
}

/// `{"totalTokens": n, ...}` → `{"object": "response.input_tokens", "input_tokens": n}` (the
/// shape of OpenAI's own input-token count).
pub fn response(v: &Value) -> Result<Value, ApiError> {
    v.get("totalTokens")
        .and_then(Value::as_u64)
        .map(|n| json!({"object": "response.input_tokens", "input_tokens": n}))
        .ok_or_else(|| by_status(PROVIDER, 502, "countTokens answer without totalTokens"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::request::translate;

    #[test]
    fn wraps_the_whole_request() {
        let body = json!({"model": "gemini-2.5-flash", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "The quick brown fox jumps over the lazy dog."}
        ]});
        let prepared = translate(body.as_object().unwrap()).unwrap();
        let v = request(&prepared);
        let inner = &v["generateContentRequest"];
        assert_eq!(inner["model"], "models/gemini-2.5-flash");
        assert_eq!(inner["systemInstruction"]["parts"][0]["text"], "Be brief.");
        assert_eq!(inner["contents"][0]["role"], "user");
    }

    #[test]
    fn answer() {
        // The API reference's example answer.
        let v = json!({"totalTokens": 10, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]});
        assert_eq!(
            response(&v).unwrap(),
            json!({"object": "response.input_tokens", "input_tokens": 10})
        );
        assert_eq!(response(&json!({})).unwrap_err().status, 502);
    }
}
