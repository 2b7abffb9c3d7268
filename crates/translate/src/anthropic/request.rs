//! OpenAI chat request → Anthropic Messages request.

use gateway_core::ApiError;
use serde_json::{json, Map, Value};

use super::{DEFAULT_MAX_TOKENS, JSON_TOOL, PROVIDER};
use crate::chat::{Chat, Media, Merged, Part, ToolChoice, Turn};
use crate::params::{self, Effort, ResponseFormat};

/// A translated request and what the answer's translation needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The Anthropic request body.
    pub body: Value,
    /// `response_format` is emulated with a forced [`JSON_TOOL`] call.
    pub json_tool: bool,
    /// Streamed.
    pub stream: bool,
    /// The client asked for the usage chunk.
    pub include_usage: bool,
}

/// Translates a request. `default_max_tokens` comes from the deployment's `model_info.max_tokens`.
pub fn translate(
    body: &Map<String, Value>,
    default_max_tokens: Option<u64>,
) -> Result<Prepared, ApiError> {
    params::reject(body, PROVIDER)?;
    let chat = Chat::parse(body)?;
    if chat.n > 1 {
        return Err(ApiError::bad_request(
            "`n` greater than 1 is not supported by anthropic models",
        )
        .with_param("n")
        .with_code("unsupported_parameter"));
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(chat.model));
    out.insert("messages".into(), Value::Array(messages(&chat)?));
    if !chat.system.is_empty() {
        out.insert(
            "system".into(),
            Value::Array(chat.system.iter().filter_map(block).collect()),
        );
    }
    let (max_tokens, thinking) = budget(&chat, default_max_tokens)?;
    out.insert("max_tokens".into(), json!(max_tokens));
    if let Some(t) = thinking {
        out.insert("thinking".into(), t);
    }
    if let Some(t) = chat.temperature {
        out.insert("temperature".into(), json!(t));
    }
    if let Some(p) = chat.top_p {
        out.insert("top_p".into(), json!(p));
    }
    if let Some(k) = chat.top_k {
        out.insert("top_k".into(), json!(k));
    }
    if !chat.stop.is_empty() {
        out.insert("stop_sequences".into(), json!(chat.stop));
    }
    if let Some(user) = &chat.user {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    if chat.stream {
        out.insert("stream".into(), json!(true));
    }
    let mut tools: Vec<Value> = chat
        .tools
        .iter()
        .map(|t| {
            let mut tool = json!({
                "name": t.name,
                "input_schema": t.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            });
            if let Some(d) = &t.description {
                tool["description"] = json!(d);
            }
            tool
        })
        .collect();
    let mut choice = chat.tool_choice.as_ref().map(|c| match c {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::Function(name) => json!({"type": "tool", "name": name}),
    });
    let json_tool = chat.response_format.is_some();
    if let Some(format) = &chat.response_format {
        if out.contains_key("thinking") {
            return Err(ApiError::bad_request(
                "anthropic: `response_format` cannot be combined with `reasoning_effort` (Anthropic does not allow a forced tool call while thinking)",
            )
            .with_param("response_format")
            .with_code("unsupported_parameter"));
        }
        let schema = match format {
            ResponseFormat::JsonObject => json!({"type": "object", "additionalProperties": true}),
            ResponseFormat::JsonSchema { schema, .. } => schema.clone(),
        };
        tools.push(json!({
            "name": JSON_TOOL,
            "description": "Respond with a JSON object as this tool's input.",
            "input_schema": schema,
        }));
        choice = Some(json!({"type": "tool", "name": JSON_TOOL}));
    }
    if chat.parallel_tool_calls == Some(false) && !tools.is_empty() {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if c["type"] != "none" {
            c["disable_parallel_tool_use"] = json!(true);
        }
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(c) = choice {
        out.insert("tool_choice".into(), c);
    }
    Ok(Prepared {
        body: Value::Object(out),
        json_tool,
        stream: chat.stream,
        include_usage: chat.include_usage,
    })
}

/// `max_tokens` and `thinking`: Anthropic requires `max_tokens`, and a thinking budget of at
/// least 1024 tokens below it.
fn budget(chat: &Chat, default_max_tokens: Option<u64>) -> Result<(u64, Option<Value>), ApiError> {
    let base = default_max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let Some(effort) = chat.effort.filter(|e| *e != Effort::None) else {
        return Ok((chat.max_tokens.unwrap_or(base), None));
    };
    let mut budget = effort.budget();
    let max_tokens = match chat.max_tokens {
        Some(m) if m <= 1024 => {
            return Err(ApiError::bad_request(
                "anthropic: with `reasoning_effort`, `max_completion_tokens` must be above 1024 (Anthropic's minimum thinking budget)",
            )
            .with_param("max_completion_tokens"))
        }
        Some(m) => {
            budget = budget.min(m - 1);
            m
        }
        None => base.saturating_add(budget),
    };
    Ok((
        max_tokens,
        Some(json!({"type": "enabled", "budget_tokens": budget})),
    ))
}

/// A content part as an Anthropic block (empty text is dropped: Anthropic rejects it).
fn block(part: &Part) -> Option<Value> {
    let mut b = match part {
        Part::Text { text, .. } if text.is_empty() => return None,
        Part::Text { text, .. } => json!({"type": "text", "text": text}),
        Part::Image(m) => json!({"type": "image", "source": source(m)}),
        Part::File(m) => json!({"type": "document", "source": source(m)}),
    };
    if let Part::Text {
        cache_control: Some(c),
        ..
    } = part
    {
        b["cache_control"] = c.clone();
    }
    Some(b)
}

fn source(m: &Media) -> Value {
    match m {
        Media::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
        Media::Url(url) => json!({"type": "url", "url": url}),
    }
}

/// Turns as alternating user/assistant messages: consecutive same-role turns are merged, tool
/// results become `tool_result` blocks at the start of a user message.
fn messages(chat: &Chat) -> Result<Vec<Value>, ApiError> {
    let mut out = Merged::default();
    for (i, turn) in chat.turns.iter().enumerate() {
        let (role, blocks) = match turn {
            Turn::User(parts) => ("user", parts.iter().filter_map(block).collect::<Vec<_>>()),
            Turn::Assistant {
                parts,
                tool_calls,
                thinking_blocks,
            } => {
                let mut blocks = thinking_blocks.clone();
                blocks.extend(parts.iter().filter_map(block));
                blocks.extend(tool_calls.iter().map(|c| {
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
                }));
                ("assistant", blocks)
            }
            Turn::Tool { call_id, text } => (
                "user",
                vec![json!({"type": "tool_result", "tool_use_id": call_id, "content": text})],
            ),
        };
        out.push(i, role, blocks)?;
    }
    Ok(out
        .into_turns()
        .into_iter()
        .map(|(role, mut blocks)| {
            // Anthropic wants tool results before any other content of a user message.
            blocks.sort_by_key(|b| b["type"] != "tool_result");
            json!({"role": role, "content": blocks})
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: Value) -> Result<Prepared, ApiError> {
        translate(v.as_object().unwrap(), None)
    }

    #[test]
    fn merges_turns_and_orders_tool_results_first() {
        let p = run(json!({"model": "claude", "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "a"}, {"role": "user", "content": "b"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "t2", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "r1"},
            {"role": "tool", "tool_call_id": "t2", "content": "r2"},
            {"role": "user", "content": "thanks"}
        ]}))
        .unwrap();
        let m = &p.body["messages"];
        assert_eq!(m.as_array().unwrap().len(), 3);
        assert_eq!(m[0]["content"].as_array().unwrap().len(), 2);
        assert_eq!(m[1]["content"][1]["input"], json!({"x": 1}));
        assert_eq!(m[2]["content"][0]["type"], "tool_result");
        assert_eq!(m[2]["content"][1]["tool_use_id"], "t2");
        assert_eq!(m[2]["content"][2]["text"], "thanks");
        assert_eq!(p.body["system"][0]["text"], "sys");
        assert_eq!(p.body["max_tokens"], DEFAULT_MAX_TOKENS);
    }

    #[test]
    fn maps_parameters() {
        let p = run(json!({"model": "c", "messages": [{"role": "user", "content": "x"}],
            "max_completion_tokens": 3000, "reasoning_effort": "high", "stop": "END", "user": "u1",
            "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required",
            "parallel_tool_calls": false, "stream": true, "stream_options": {"include_usage": true}}))
        .unwrap();
        let b = &p.body;
        assert_eq!(b["max_tokens"], 3000);
        assert_eq!(
            b["thinking"],
            json!({"type": "enabled", "budget_tokens": 2999})
        );
        assert_eq!(b["stop_sequences"], json!(["END"]));
        assert_eq!(b["metadata"]["user_id"], "u1");
        assert_eq!(
            b["tool_choice"],
            json!({"type": "any", "disable_parallel_tool_use": true})
        );
        assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
        assert!(p.stream && p.include_usage && b["stream"] == true);
        let p = run(json!({"model": "c", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "low"})).unwrap();
        assert_eq!(p.body["max_tokens"], DEFAULT_MAX_TOKENS + 1024);
    }

    #[test]
    fn response_format_becomes_a_forced_tool() {
        let p = run(json!({"model": "c", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}}))
        .unwrap();
        assert!(p.json_tool);
        assert_eq!(
            p.body["tool_choice"],
            json!({"type": "tool", "name": JSON_TOOL})
        );
        assert_eq!(
            p.body["tools"][0]["input_schema"]["properties"]["a"]["type"],
            "string"
        );
    }

    #[test]
    fn rejects_what_anthropic_cannot_do() {
        let base = |extra: Value| {
            let mut v = json!({"model": "c", "messages": [{"role": "user", "content": "x"}]});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            run(v).unwrap_err()
        };
        assert_eq!(base(json!({"n": 2})).param.as_deref(), Some("n"));
        assert_eq!(
            base(json!({"logprobs": true})).param.as_deref(),
            Some("logprobs")
        );
        assert_eq!(
            base(json!({"reasoning_effort": "low", "max_tokens": 500})).status,
            400
        );
        assert_eq!(
            base(json!({"reasoning_effort": "low", "response_format": {"type": "json_object"}}))
                .param
                .as_deref(),
            Some("response_format")
        );
        assert_eq!(
            run(json!({"model": "c", "messages": [{"role": "user", "content": ""}]}))
                .unwrap_err()
                .status,
            400
        );
    }
}
