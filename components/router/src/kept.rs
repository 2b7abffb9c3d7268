//! The request's messages and the answer as the caller got it, kept for the request-log row when
//! the config says `general_settings.store_prompts_in_spend_logs: true` (each cut at
//! [`KEPT_BYTES`]; a cut JSON text is then shown as text).

use gateway_core::sse::Translator;
use gateway_core::ApiError;
use serde_json::{Map, Value};

/// Most bytes of a request's messages, or of an answer, that a row keeps. Rows wait in the
/// replica's in-memory queue while the database is down (up to 10,000 of them), so this bounds
/// that memory too (LiteLLM clips each stored string at 2,048 characters by default).
pub const KEPT_BYTES: usize = 4 * 1024;

/// The request fields that carry what was asked, by route: chat and Messages (`system`,
/// `messages`), Responses (`instructions`, `input`), completions (`prompt`), embeddings (`input`).
const ASKED: [&str; 5] = ["system", "instructions", "messages", "input", "prompt"];

/// What a row keeps of one request.
#[derive(Default)]
pub struct Kept {
    messages: Option<String>,
    answer: Vec<u8>,
}

impl Kept {
    /// Keeps what `body` asked (its [`ASKED`] fields, as one JSON object).
    pub fn request(&mut self, body: &Map<String, Value>) {
        let asked: Map<String, Value> = ASKED
            .iter()
            .filter_map(|f| body.get(*f).map(|v| (f.to_string(), v.clone())))
            .collect();
        let mut text = Value::Object(asked).to_string();
        if text.len() > KEPT_BYTES {
            let mut end = KEPT_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        self.messages = Some(text);
    }

    /// Appends bytes sent to the caller, up to [`KEPT_BYTES`].
    pub fn answer(&mut self, bytes: &[u8]) {
        let room = KEPT_BYTES.saturating_sub(self.answer.len());
        self.answer
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The kept messages and answer, for the row.
    pub fn texts(&self) -> (Option<String>, Option<String>) {
        let answer =
            (!self.answer.is_empty()).then(|| String::from_utf8_lossy(&self.answer).into_owned());
        (self.messages.clone(), answer)
    }
}

/// A stream translator whose output is also kept (when `kept` is there).
pub struct Teed<'a> {
    /// The translator.
    pub inner: &'a mut dyn Translator,
    /// Where its output is kept.
    pub kept: Option<&'a mut Kept>,
}

impl Teed<'_> {
    fn keep(&mut self, bytes: Vec<u8>) -> Vec<u8> {
        if let Some(k) = self.kept.as_deref_mut() {
            k.answer(&bytes);
        }
        bytes
    }
}

impl Translator for Teed<'_> {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let out = self.inner.push(chunk);
        self.keep(out)
    }

    fn finish(&mut self) -> Vec<u8> {
        let out = self.inner.finish();
        self.keep(out)
    }

    fn early_error(&mut self) -> Option<ApiError> {
        self.inner.early_error()
    }

    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        let out = self.inner.fail(error);
        self.keep(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_what_was_asked_and_cuts_long_texts() {
        let mut k = Kept::default();
        let body = json!({"model": "m", "temperature": 1, "messages": [{"role": "user", "content": "é".repeat(KEPT_BYTES)}]});
        k.request(body.as_object().unwrap());
        k.answer(b"data: {}\n\n");
        k.answer(&vec![b'x'; KEPT_BYTES]);
        let (messages, answer) = k.texts();
        let messages = messages.unwrap();
        assert!(messages.starts_with(r#"{"messages":[{"#) && messages.len() <= KEPT_BYTES);
        assert!(!messages.contains("temperature"));
        let answer = answer.unwrap();
        assert!(answer.starts_with("data: {}") && answer.len() == KEPT_BYTES);
    }
}
