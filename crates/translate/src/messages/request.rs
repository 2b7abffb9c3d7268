//! Anthropic Messages request: validation, and translation to an OpenAI chat request.

use gateway_core::ApiError;
use serde_json::{json, Map, Value};

use crate::params::Effort;

/// A validated Messages request.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagesRequest {
    /// The request object as sent.
    pub body: Map<String, Value>,
    /// The logical model name.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

impl MessagesRequest {
    /// Parses and validates a raw body the way Anthropic does (messages, roles, `max_tokens`).
    pub fn parse(raw: &[u8]) -> Result<MessagesRequest, ApiError> {
        let mut request = Self::parse_count(raw)?;
        match request.body.get("max_tokens") {
            Some(v) if v.as_u64().is_some_and(|n| n >= 1) => {}
            None | Some(Value::Null) => {
                return Err(bad("max_tokens: Field required").with_param("max_tokens"))
            }
            Some(_) => {
                return Err(
                    bad("max_tokens: must be an integer of at least 1").with_param("max_tokens")
                )
            }
        }
        request.stream = match request.body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("stream: must be a boolean").with_param("stream")),
        };
        Ok(request)
    }

    /// Parses and validates a `count_tokens` body: a Messages request without `max_tokens`
    /// (and never streamed).
    pub fn parse_count(raw: &[u8]) -> Result<MessagesRequest, ApiError> {
        let value: Value = serde_json::from_slice(raw).map_err(|e| {
            bad(format!("The request body is not valid JSON: {e}")).with_code("invalid_json")
        })?;
        let Value::Object(body) = value else {
            return Err(bad("The request body must be a JSON object").with_code("invalid_json"));
        };
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
            _ => return Err(bad("model: Field required (a non-empty string)").with_param("model")),
        };
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                bad("messages: Field required (a non-empty list)").with_param("messages")
            })?;
        for (i, m) in messages.iter().enumerate() {
            match m.get("role").and_then(Value::as_str) {
                Some("user" | "assistant") => {}
                _ => {
                    return Err(bad(format!(
                        "messages.{i}.role: Input should be 'user' or 'assistant' (system text goes in the top-level `system`)"
                    ))
                    .with_param(format!("messages.{i}.role")))
                }
            }
            match m.get("content") {
                Some(Value::String(_) | Value::Array(_)) => {}
                _ => {
                    return Err(bad(format!(
                        "messages.{i}.content: must be a string or a list of content blocks"
                    ))
                    .with_param(format!("messages.{i}.content")))
                }
            }
        }
        Ok(MessagesRequest {
            body,
            model,
            stream: false,
        })
    }

    /// The same request with `model` rewritten, for Anthropic itself (every other field as sent).
    pub fn native_body(&self, upstream_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("model".into(), json!(upstream_model));
        Value::Object(body).to_string().into_bytes()
    }

    /// Translates to an OpenAI chat request for a non-Anthropic model. Anthropic-only features
    /// with no OpenAI equivalent (server tools, MCP servers, containers) are a 400.
    pub fn to_openai(&self) -> Result<Map<String, Value>, ApiError> {
        for key in ["mcp_servers", "container"] {
            if self.body.get(key).is_some_and(|v| !v.is_null()) {
                return Err(
                    bad(format!("{key}: only supported on Anthropic models")).with_param(key)
                );
            }
        }
        let b = &self.body;
        let mut out = Map::new();
        out.insert("model".into(), json!(self.model));
        let mut messages = Vec::new();
        if let Some(system) = b.get("system").filter(|s| !s.is_null()) {
            let text = text_of(system, "system")?;
            if !text.is_empty() {
                messages.push(json!({"role": "system", "content": text}));
            }
        }
        for (i, m) in b
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
            convert_message(
                role,
                m.get("content").unwrap_or(&Value::Null),
                i,
                &mut messages,
            )?;
        }
        out.insert("messages".into(), Value::Array(messages));
        if let Some(n) = b.get("max_tokens") {
            out.insert("max_completion_tokens".into(), n.clone());
        }
        for (from, to) in [
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            ("stop_sequences", "stop"),
        ] {
            if let Some(v) = b.get(from).filter(|v| !v.is_null()) {
                out.insert(to.into(), v.clone());
            }
        }
        if self.stream {
            out.insert("stream".into(), json!(true));
        }
        if let Some(user) = b
            .get("metadata")
            .and_then(|m| m.get("user_id"))
            .and_then(Value::as_str)
        {
            out.insert("user".into(), json!(user));
        }
        if let Some(budget) = b
            .get("thinking")
            .filter(|t| t.get("type").and_then(Value::as_str) == Some("enabled"))
            .and_then(|t| t.get("budget_tokens"))
            .and_then(Value::as_u64)
        {
            out.insert(
                "reasoning_effort".into(),
                json!(Effort::from_budget(budget).as_str()),
            );
        }
        if let Some(tools) = b.get("tools").and_then(Value::as_array) {
            let converted = tools
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let custom = t.get("type").is_none_or(|ty| ty == "custom");
                    let name = t.get("name").and_then(Value::as_str).filter(|_| custom).ok_or_else(|| {
                        bad(format!("tools.{i}: only custom tools (name, input_schema) are supported on non-Anthropic models"))
                            .with_param(format!("tools.{i}"))
                    })?;
                    let mut f = json!({"name": name, "parameters": t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"}))});
                    if let Some(d) = t.get("description") {
                        f["description"] = d.clone();
                    }
                    Ok(json!({"type": "function", "function": f}))
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            if !converted.is_empty() {
                out.insert("tools".into(), Value::Array(converted));
            }
        }
        if let Some(choice) = b.get("tool_choice").filter(|c| !c.is_null()) {
            let mapped = match choice.get("type").and_then(Value::as_str) {
                Some("auto") => json!("auto"),
                Some("any") => json!("required"),
                Some("none") => json!("none"),
                Some("tool") => {
                    let name = choice
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    json!({"type": "function", "function": {"name": name}})
                }
                _ => {
                    return Err(bad("tool_choice.type: must be auto, any, tool or none")
                        .with_param("tool_choice"))
                }
            };
            out.insert("tool_choice".into(), mapped);
            if choice
                .get("disable_parallel_tool_use")
                .and_then(Value::as_bool)
                == Some(true)
            {
                out.insert("parallel_tool_calls".into(), json!(false));
            }
        }
        Ok(out)
    }
}

/// System or tool-result content: a string or text blocks, joined.
fn text_of(v: &Value, at: &str) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b.get("type").and_then(Value::as_str) {
                Some("text") => Ok(b
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()),
                _ => Err(bad(format!(
                    "{at}: only text blocks are supported here on non-Anthropic models"
                ))
                .with_param(at)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|t| t.join("\n")),
        _ => Err(bad(format!("{at}: must be a string or a list of text blocks")).with_param(at)),
    }
}

fn source_url(source: &Value, at: &str) -> Result<String, ApiError> {
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(format!(
            "data:{};base64,{}",
            source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream"),
            source.get("data").and_then(Value::as_str).unwrap_or("")
        )),
        Some("url") => Ok(source
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()),
        _ => Err(bad(format!(
            "{at}.source: only base64 and url sources are supported on non-Anthropic models"
        ))
        .with_param(at)),
    }
}

/// One Anthropic message as OpenAI messages (tool results become `tool` messages).
fn convert_message(
    role: &str,
    content: &Value,
    i: usize,
    out: &mut Vec<Value>,
) -> Result<(), ApiError> {
    let blocks = match content {
        Value::String(s) => {
            out.push(json!({"role": role, "content": s}));
            return Ok(());
        }
        Value::Array(b) => b,
        _ => return Ok(()),
    };
    let mut parts = Vec::new();
    let mut tool_calls = Vec::new();
    let mut reasoning = String::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("messages.{i}.content.{j}");
        match b.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(json!({"type": "text", "text": b.get("text").and_then(Value::as_str).unwrap_or("")})),
            Some("image") => {
                let url = source_url(b.get("source").unwrap_or(&Value::Null), &at)?;
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            Some("document") => {
                let url = source_url(b.get("source").unwrap_or(&Value::Null), &at)?;
                if !url.starts_with("data:") {
                    return Err(bad(format!("{at}: documents must be base64 on non-Anthropic models")).with_param(at));
                }
                parts.push(json!({"type": "file", "file": {"file_data": url, "filename": "document.pdf"}}));
            }
            Some("tool_use") => tool_calls.push(json!({
                "id": b.get("id").and_then(Value::as_str).unwrap_or(""),
                "type": "function",
                "function": {
                    "name": b.get("name").and_then(Value::as_str).unwrap_or(""),
                    "arguments": b.get("input").cloned().unwrap_or_else(|| json!({})).to_string(),
                }
            })),
            Some("tool_result") => {
                let text = match b.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(c) => text_of(c, &format!("{at}.content"))?,
                };
                let text = if b.get("is_error").and_then(Value::as_bool) == Some(true) {
                    format!("Error: {text}")
                } else {
                    text
                };
                out.push(json!({
                    "role": "tool",
                    "tool_call_id": b.get("tool_use_id").and_then(Value::as_str).unwrap_or(""),
                    "content": text,
                }));
            }
            Some("thinking") => reasoning.push_str(b.get("thinking").and_then(Value::as_str).unwrap_or("")),
            Some("redacted_thinking") => {}
            other => {
                return Err(bad(format!(
                    "{at}.type: `{}` blocks are only supported on Anthropic models",
                    other.unwrap_or("?")
                ))
                .with_param(format!("{at}.type")))
            }
        }
    }
    if parts.is_empty() && tool_calls.is_empty() {
        return Ok(());
    }
    let content = if role == "assistant" {
        let text: Vec<&str> = parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        if text.is_empty() {
            Value::Null
        } else {
            json!(text.join(""))
        }
    } else {
        Value::Array(parts)
    };
    let mut msg = json!({"role": role, "content": content});
    if !tool_calls.is_empty() {
        msg["tool_calls"] = Value::Array(tool_calls);
    }
    if !reasoning.is_empty() {
        msg["reasoning_content"] = json!(reasoning);
    }
    out.push(msg);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<MessagesRequest, ApiError> {
        MessagesRequest::parse(v.to_string().as_bytes())
    }

    #[test]
    fn validates_like_anthropic() {
        let ok =
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
        assert!(parse(ok).is_ok());
        let cases = [
            (
                json!({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
                "model",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
                "max_tokens",
            ),
            (
                json!({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}),
                "max_tokens",
            ),
            (
                json!({"model": "m", "max_tokens": 5, "messages": []}),
                "messages",
            ),
            (
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
                "messages.0.role",
            ),
            (
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user"}]}),
                "messages.0.content",
            ),
            (
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "stream": 1}),
                "stream",
            ),
        ];
        for (body, param) in cases {
            assert_eq!(
                parse(body.clone()).unwrap_err().param.as_deref(),
                Some(param),
                "{body}"
            );
        }
        assert_eq!(
            MessagesRequest::parse(b"{").unwrap_err().code.as_deref(),
            Some("invalid_json")
        );
    }

    #[test]
    fn translates_tool_conversation() {
        let r = parse(json!({"model": "gpt", "max_tokens": 100, "system": [{"type": "text", "text": "sys"}],
            "stop_sequences": ["X"], "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "weather?"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]},
                {"role": "assistant", "content": [{"type": "text", "text": "checking"}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "21C"}, {"type": "text", "text": "and?"}]}
            ]}))
        .unwrap();
        let o = Value::Object(r.to_openai().unwrap());
        assert_eq!(
            o["messages"][0],
            json!({"role": "system", "content": "sys"})
        );
        assert_eq!(
            o["messages"][1]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AA"
        );
        assert_eq!(
            o["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"location\":\"Paris\"}"
        );
        assert_eq!(
            o["messages"][3],
            json!({"role": "tool", "tool_call_id": "toolu_1", "content": "21C"})
        );
        assert_eq!(o["messages"][4]["content"][0]["text"], "and?");
        assert_eq!(o["max_completion_tokens"], 100);
        assert_eq!(o["stop"], json!(["X"]));
        assert_eq!(o["reasoning_effort"], "medium");
        assert_eq!(o["tool_choice"], "required");
        assert_eq!(o["parallel_tool_calls"], false);
        assert_eq!(
            o["tools"][0]["function"]["parameters"]["properties"]["location"]["type"],
            "string"
        );
    }

    #[test]
    fn rejects_anthropic_only_features_off_anthropic() {
        let r = parse(
            json!({"model": "gpt", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
        )
        .unwrap();
        assert_eq!(r.to_openai().unwrap_err().param.as_deref(), Some("tools.0"));
        let r = parse(json!({"model": "gpt", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "server_tool_use"}]}]})).unwrap();
        assert_eq!(r.to_openai().unwrap_err().status, 400);
    }
}
