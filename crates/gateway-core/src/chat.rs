//! OpenAI chat-completion requests: validation of what the gateway relies on, and the body sent
//! to a provider adapter. Every field the gateway does not need stays exactly as the client sent it.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// A validated chat-completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The request object as sent.
    pub body: Map<String, Value>,
    /// The logical model name.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true`: the client wants the usage chunk.
    pub client_wants_usage: bool,
}

impl ChatRequest {
    /// Parses and validates the raw body.
    pub fn parse(raw: &[u8]) -> Result<ChatRequest, ApiError> {
        let value: Value = serde_json::from_slice(raw).map_err(|e| {
            ApiError::bad_request(format!(
                "We could not parse the JSON body of your request: {e}"
            ))
            .with_code("invalid_json")
        })?;
        let Value::Object(body) = value else {
            return Err(
                ApiError::bad_request("The request body must be a JSON object")
                    .with_code("invalid_json"),
            );
        };
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
            Some(Value::String(_)) => {
                return Err(ApiError::bad_request("`model` must not be empty").with_param("model"))
            }
            None | Some(Value::Null) => {
                return Err(
                    ApiError::bad_request("you must provide a model parameter").with_param("model")
                )
            }
            Some(_) => {
                return Err(ApiError::bad_request("`model` must be a string").with_param("model"))
            }
        };
        match body.get("messages") {
            Some(Value::Array(m)) if !m.is_empty() => {
                if let Some(i) = m
                    .iter()
                    .position(|msg| !msg.get("role").is_some_and(Value::is_string))
                {
                    return Err(ApiError::bad_request(format!(
                        "messages[{i}] must be an object with a string `role`"
                    ))
                    .with_param(format!("messages[{i}].role")));
                }
            }
            Some(Value::Array(_)) => {
                return Err(
                    ApiError::bad_request("`messages` must not be empty").with_param("messages")
                )
            }
            None | Some(Value::Null) => {
                return Err(
                    ApiError::bad_request("Missing required parameter: 'messages'")
                        .with_param("messages"),
                )
            }
            Some(_) => {
                return Err(
                    ApiError::bad_request("`messages` must be a list of messages")
                        .with_param("messages"),
                )
            }
        }
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ApiError::bad_request("`stream` must be a boolean").with_param("stream"))
            }
        };
        let client_wants_usage = match body.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => o
                .get("include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            Some(_) => {
                return Err(ApiError::bad_request("`stream_options` must be an object")
                    .with_param("stream_options"))
            }
        };
        Ok(ChatRequest {
            body,
            model,
            stream,
            client_wants_usage,
        })
    }

    /// The body for a provider adapter: `model` rewritten to the upstream model and, for streams,
    /// `stream_options.include_usage` forced on so usage can be accounted (the router strips the
    /// usage chunk again when the client did not ask for it).
    pub fn upstream_body(&self, upstream_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("model".into(), Value::String(upstream_model.into()));
        if self.stream {
            let options = body
                .entry("stream_options")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(o) = options {
                o.insert("include_usage".into(), Value::Bool(true));
            }
        }
        Value::Object(body).to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<ChatRequest, ApiError> {
        ChatRequest::parse(v.to_string().as_bytes())
    }

    #[test]
    fn keeps_unknown_fields_and_rewrites_model() {
        let req = parse(json!({
            "model": "gpt", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "seed": 7, "n": 2, "logprobs": true, "user": "u1",
            "response_format": {"type": "json_object"}
        }))
        .unwrap();
        let out: Value = serde_json::from_slice(&req.upstream_body("gpt-4o")).unwrap();
        assert_eq!(out["model"], "gpt-4o");
        for k in [
            "tools",
            "seed",
            "n",
            "logprobs",
            "user",
            "response_format",
            "messages",
        ] {
            assert_eq!(out[k], req.body[k], "{k}");
        }
        assert!(out.get("stream_options").is_none());
    }

    #[test]
    fn streams_always_ask_for_usage() {
        let req = parse(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true}),
        )
        .unwrap();
        assert!(req.stream && !req.client_wants_usage);
        let out: Value = serde_json::from_slice(&req.upstream_body("u")).unwrap();
        assert_eq!(out["stream_options"]["include_usage"], true);
        let req = parse(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": true, "stream_options": {"include_usage": true}})).unwrap();
        assert!(req.client_wants_usage);
    }

    #[test]
    fn rejects_bad_input_with_param() {
        let cases = [
            (json!([1]), None),
            (json!({"messages": []}), Some("model")),
            (json!({"model": "", "messages": []}), Some("model")),
            (json!({"model": 3, "messages": []}), Some("model")),
            (json!({"model": "m"}), Some("messages")),
            (json!({"model": "m", "messages": "hi"}), Some("messages")),
            (json!({"model": "m", "messages": []}), Some("messages")),
            (
                json!({"model": "m", "messages": [3]}),
                Some("messages[0].role"),
            ),
            (
                json!({"model": "m", "messages": [{"role": "user"}], "stream": "yes"}),
                Some("stream"),
            ),
            (
                json!({"model": "m", "messages": [{"role": "user"}], "stream_options": 1}),
                Some("stream_options"),
            ),
        ];
        for (body, param) in cases {
            let e = parse(body.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param.as_deref(), param, "{body}");
        }
        let e = ChatRequest::parse(b"{not json").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("invalid_json"));
    }
}
