//! A Responses API request: validation, and its translation to a chat request.

use gateway_core::{ApiError, ErrorType};
use serde_json::{json, Map, Value};

use crate::request::{bad, model_of, stream_flag};

use super::BUILT_IN_TOOLS;

/// Most input items in one request.
pub const MAX_ITEMS: usize = 10_000;

/// A validated Responses request.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesRequest {
    /// The request object as sent.
    pub body: Map<String, Value>,
    /// The logical model name.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// Whether the gateway keeps the conversation (`store` is not false).
    pub store: bool,
    /// `previous_response_id`, when set.
    pub previous_response_id: Option<String>,
}

fn check_type(
    body: &Map<String, Value>,
    key: &str,
    ok: fn(&Value) -> bool,
    what: &str,
) -> Result<(), ApiError> {
    match body.get(key) {
        Some(v) if !v.is_null() && !ok(v) => Err(bad(format!("`{key}` must be {what}"), key)),
        _ => Ok(()),
    }
}

/// The content parts of an input message, as chat parts (or a plain string).
fn content(content: &Value, param: &str) -> Result<Value, ApiError> {
    let parts = match content {
        Value::String(_) => return Ok(content.clone()),
        Value::Array(parts) => parts,
        _ => {
            return Err(bad(
                format!("`{param}` must be a string or a list of parts"),
                param,
            ))
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let p = format!("{param}[{i}]");
        let text = |key: &str| {
            part.get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    bad(
                        format!("`{p}.{key}` must be a string"),
                        &format!("{p}.{key}"),
                    )
                })
        };
        let converted = match part.get("type").and_then(Value::as_str) {
            Some("input_text" | "output_text") => json!({"type": "text", "text": text("text")?}),
            Some("refusal") => json!({"type": "text", "text": text("refusal")?}),
            Some("input_image") => {
                let url = part
                    .get("image_url")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ApiError::new(
                            400,
                            ErrorType::InvalidRequest,
                            format!("`{p}`: only images given by `image_url` can be sent to this provider"),
                        )
                        .with_param(format!("{p}.image_url"))
                    })?;
                let mut image = json!({"url": url});
                if let Some(d) = part.get("detail").filter(|d| d.is_string()) {
                    image["detail"] = d.clone();
                }
                json!({"type": "image_url", "image_url": image})
            }
            Some("input_file") => {
                let mut file = Map::new();
                for key in ["file_data", "file_id", "filename"] {
                    if let Some(v) = part.get(key).filter(|v| v.is_string()) {
                        file.insert(key.into(), v.clone());
                    }
                }
                if file.is_empty() {
                    return Err(bad(format!("`{p}` needs `file_data` or `file_id`"), &p));
                }
                json!({"type": "file", "file": file})
            }
            _ => {
                return Err(bad(
                    format!(
                        "`{p}.type` must be input_text, input_image, input_file or output_text"
                    ),
                    &format!("{p}.type"),
                ))
            }
        };
        out.push(converted);
    }
    Ok(Value::Array(out))
}

/// Input items → chat messages (consecutive `function_call` items become one assistant message
/// with several tool calls; `reasoning` items are not sent).
pub fn items_to_messages(items: &[Value], param: &str) -> Result<Vec<Value>, ApiError> {
    let mut messages: Vec<Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{param}[{i}]");
        if !item.is_object() {
            return Err(bad(format!("`{p}` must be an object"), &p));
        }
        let kind = item.get("type").and_then(Value::as_str);
        let kind = kind.unwrap_or(if item.get("role").is_some() {
            "message"
        } else {
            ""
        });
        match kind {
            "message" => {
                let role = match item.get("role").and_then(Value::as_str) {
                    Some(r @ ("user" | "system" | "developer" | "assistant")) => r,
                    _ => {
                        return Err(bad(
                            format!("`{p}.role` must be user, system, developer or assistant"),
                            &format!("{p}.role"),
                        ))
                    }
                };
                let c = item
                    .get("content")
                    .ok_or_else(|| bad(format!("`{p}.content` is required"), &format!("{p}.content")))?;
                let mut c = content(c, &format!("{p}.content"))?;
                if role == "assistant" {
                    // Chat assistant content is text only.
                    if let Value::Array(parts) = &c {
                        c = json!(parts
                            .iter()
                            .filter_map(|part| part.get("text").and_then(Value::as_str))
                            .collect::<String>());
                    }
                }
                messages.push(json!({"role": role, "content": c}));
            }
            "function_call" => {
                let field = |key: &str| {
                    item.get(key)
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(format!("`{p}.{key}` must be a string"), &format!("{p}.{key}")))
                };
                let call = json!({"id": field("call_id")?, "type": "function",
                    "function": {"name": field("name")?, "arguments": field("arguments")?}});
                let extend = messages.last_mut().filter(|m| {
                    m["role"] == "assistant" && m.get("tool_calls").is_some()
                });
                match extend {
                    Some(m) => {
                        if let Some(calls) = m["tool_calls"].as_array_mut() {
                            calls.push(call);
                        }
                    }
                    None => messages.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
                }
            }
            "function_call_output" => {
                let call_id = item
                    .get("call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("`{p}.call_id` must be a string"), &format!("{p}.call_id")))?;
                let output = match item.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(_)) => {
                        let c = content(&item["output"], &format!("{p}.output"))?;
                        c.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|part| part.get("text").and_then(Value::as_str))
                            .collect()
                    }
                    _ => return Err(bad(format!("`{p}.output` must be a string"), &format!("{p}.output"))),
                };
                messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
            }
            "reasoning" => {}
            "item_reference" => {
                return Err(bad(
                    format!("`{p}`: item references are not supported; send the item or use previous_response_id"),
                    &format!("{p}.type"),
                ))
            }
            _ => {
                return Err(bad(
                    format!("`{p}.type` must be message, function_call, function_call_output or reasoning"),
                    &format!("{p}.type"),
                ))
            }
        }
    }
    Ok(messages)
}

impl ResponsesRequest {
    /// Parses and validates the raw body.
    pub fn parse(raw: &[u8]) -> Result<ResponsesRequest, ApiError> {
        let (body, model) = model_of(raw)?;
        match body.get("input") {
            None | Some(Value::Null) => {
                return Err(bad("Missing required parameter: 'input'", "input"))
            }
            Some(Value::String(s)) if s.is_empty() => {
                return Err(bad("`input` must not be an empty string", "input"))
            }
            Some(Value::Array(a)) if a.is_empty() => {
                return Err(bad("`input` must not be an empty list", "input"))
            }
            Some(Value::Array(a)) if a.len() > MAX_ITEMS => {
                return Err(bad(
                    format!("`input` has {} items; at most {MAX_ITEMS}", a.len()),
                    "input",
                ))
            }
            Some(Value::Array(a)) => {
                items_to_messages(a, "input")?;
            }
            Some(Value::String(_)) => {}
            Some(_) => return Err(bad("`input` must be a string or a list of items", "input")),
        }
        let stream = stream_flag(&body)?;
        check_type(&body, "instructions", Value::is_string, "a string")?;
        check_type(&body, "store", Value::is_boolean, "a boolean")?;
        check_type(&body, "parallel_tool_calls", Value::is_boolean, "a boolean")?;
        check_type(&body, "temperature", Value::is_number, "a number")?;
        check_type(&body, "top_p", Value::is_number, "a number")?;
        check_type(&body, "user", Value::is_string, "a string")?;
        check_type(&body, "metadata", Value::is_object, "an object")?;
        check_type(&body, "reasoning", Value::is_object, "an object")?;
        check_type(&body, "text", Value::is_object, "an object")?;
        check_type(&body, "tools", Value::is_array, "a list")?;
        check_type(
            &body,
            "max_output_tokens",
            |v| v.as_u64().is_some_and(|n| n > 0),
            "a positive integer",
        )?;
        if let Some(t) = body.get("text").and_then(|t| t.pointer("/format/type")) {
            if !matches!(t.as_str(), Some("text" | "json_schema" | "json_object")) {
                return Err(bad(
                    "`text.format.type` must be text, json_schema or json_object",
                    "text.format.type",
                ));
            }
        }
        for (i, tool) in body
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match tool.get("type").and_then(Value::as_str) {
                Some("function") => {
                    if !tool.get("name").is_some_and(Value::is_string) {
                        return Err(bad(
                            format!("`tools[{i}].name` must be a string"),
                            &format!("tools[{i}].name"),
                        ));
                    }
                }
                Some(_) => {}
                None => {
                    return Err(bad(
                        format!("`tools[{i}].type` is required"),
                        &format!("tools[{i}].type"),
                    ))
                }
            }
        }
        let previous_response_id = match body.get("previous_response_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                return Err(bad(
                    "`previous_response_id` must be a non-empty string",
                    "previous_response_id",
                ))
            }
        };
        let store = body.get("store").and_then(Value::as_bool).unwrap_or(true);
        Ok(ResponsesRequest {
            body,
            model,
            stream,
            store,
            previous_response_id,
        })
    }

    /// The body for an upstream that implements the Responses API: as sent, `model` rewritten.
    pub fn upstream_body(&self, upstream_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("model".into(), json!(upstream_model));
        Value::Object(body).to_string().into_bytes()
    }

    /// A built-in tool, which only OpenAI runs: 400 naming it, for a bridged provider.
    pub fn refuse_built_in_tools(&self, provider: &str) -> Result<(), ApiError> {
        for (i, tool) in self
            .body
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
            if kind != "function" {
                let known = BUILT_IN_TOOLS.iter().any(|b| kind.starts_with(b));
                return Err(ApiError::new(
                    400,
                    ErrorType::InvalidRequest,
                    format!(
                        "the {} tool `{kind}` is not available for {provider} models through the gateway; only function tools are",
                        if known { "built-in" } else { "unknown" }
                    ),
                )
                .with_param(format!("tools[{i}].type"))
                .with_code("unsupported_tool"));
            }
        }
        Ok(())
    }

    /// This turn's input as chat messages (without `instructions`).
    pub fn input_messages(&self) -> Result<Vec<Value>, ApiError> {
        match self.body.get("input") {
            Some(Value::String(s)) => Ok(vec![json!({"role": "user", "content": s})]),
            Some(Value::Array(items)) => items_to_messages(items, "input"),
            _ => Err(bad("Missing required parameter: 'input'", "input")),
        }
    }

    /// The chat request: `instructions` as the system message, then `history` (the stored
    /// conversation) and this turn's input; options mapped to chat's names.
    pub fn chat_body(&self, history: &[Value], upstream_model: &str) -> Result<Value, ApiError> {
        let mut messages = Vec::new();
        if let Some(i) = self.body.get("instructions").and_then(Value::as_str) {
            messages.push(json!({"role": "system", "content": i}));
        }
        messages.extend_from_slice(history);
        messages.extend(self.input_messages()?);
        let mut chat = Map::new();
        chat.insert("model".into(), json!(upstream_model));
        chat.insert("messages".into(), Value::Array(messages));
        let b = &self.body;
        for key in ["temperature", "top_p", "user", "parallel_tool_calls"] {
            if let Some(v) = b.get(key).filter(|v| !v.is_null()) {
                chat.insert(key.into(), v.clone());
            }
        }
        if let Some(n) = b.get("max_output_tokens").filter(|v| !v.is_null()) {
            chat.insert("max_completion_tokens".into(), n.clone());
        }
        if let Some(e) = b
            .get("reasoning")
            .and_then(|r| r.get("effort"))
            .filter(|v| v.is_string())
        {
            chat.insert("reasoning_effort".into(), e.clone());
        }
        let tools: Vec<Value> = b
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|t| t["type"] == "function")
            .map(|t| {
                let mut f = Map::new();
                for key in ["name", "description", "parameters", "strict"] {
                    if let Some(v) = t.get(key).filter(|v| !v.is_null()) {
                        f.insert(key.into(), v.clone());
                    }
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        if !tools.is_empty() {
            chat.insert("tools".into(), Value::Array(tools));
        }
        match b.get("tool_choice") {
            Some(Value::String(s)) => {
                chat.insert("tool_choice".into(), json!(s));
            }
            Some(c) if c["type"] == "function" => {
                chat.insert(
                    "tool_choice".into(),
                    json!({"type": "function", "function": {"name": c["name"]}}),
                );
            }
            _ => {}
        }
        match b.get("text").and_then(|t| t.get("format")) {
            Some(f) if f["type"] == "json_schema" => {
                let mut schema = Map::new();
                for key in ["name", "schema", "strict", "description"] {
                    if let Some(v) = f.get(key).filter(|v| !v.is_null()) {
                        schema.insert(key.into(), v.clone());
                    }
                }
                chat.insert(
                    "response_format".into(),
                    json!({"type": "json_schema", "json_schema": schema}),
                );
            }
            Some(f) if f["type"] == "json_object" => {
                chat.insert("response_format".into(), json!({"type": "json_object"}));
            }
            _ => {}
        }
        if self.stream {
            chat.insert("stream".into(), json!(true));
            chat.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Ok(Value::Object(chat))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<ResponsesRequest, ApiError> {
        ResponsesRequest::parse(v.to_string().as_bytes())
    }

    #[test]
    fn items_become_chat_messages() {
        let r = parse(json!({"model": "m", "instructions": "Be brief.", "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather?"},
                {"type": "input_image", "image_url": "https://x/i.png", "detail": "low"}]},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
        ], "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
           "tool_choice": {"type": "function", "name": "get_weather"}, "max_output_tokens": 50,
           "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}},
           "reasoning": {"effort": "low"}, "stream": true})).unwrap();
        let chat = r
            .chat_body(&[json!({"role": "user", "content": "earlier"})], "up")
            .unwrap();
        let m = chat["messages"].as_array().unwrap();
        assert_eq!(m[0], json!({"role": "system", "content": "Be brief."}));
        assert_eq!(m[1]["content"], "earlier");
        assert_eq!(
            m[2]["content"][1],
            json!({"type": "image_url", "image_url": {"url": "https://x/i.png", "detail": "low"}})
        );
        assert_eq!(m[3]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(
            m[4],
            json!({"role": "tool", "tool_call_id": "c1", "content": "sunny"})
        );
        assert_eq!(m[5], json!({"role": "assistant", "content": "ok"}));
        assert_eq!(chat["tools"][0]["function"]["name"], "get_weather");
        assert_eq!(chat["tool_choice"]["function"]["name"], "get_weather");
        assert_eq!(chat["max_completion_tokens"], 50);
        assert_eq!(chat["reasoning_effort"], "low");
        assert_eq!(chat["response_format"]["json_schema"]["name"], "w");
        assert_eq!(chat["stream_options"]["include_usage"], true);
    }

    #[test]
    fn bad_input_names_the_param() {
        let cases = [
            (json!({"input": "x"}), "model"),
            (json!({"model": "m"}), "input"),
            (json!({"model": "m", "input": ""}), "input"),
            (json!({"model": "m", "input": []}), "input"),
            (json!({"model": "m", "input": 3}), "input"),
            (json!({"model": "m", "input": [3]}), "input[0]"),
            (
                json!({"model": "m", "input": [{"type": "nope"}]}),
                "input[0].type",
            ),
            (
                json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}),
                "input[0].role",
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "x"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}),
                "input[0].call_id",
            ),
            (
                json!({"model": "m", "input": "x", "max_output_tokens": 0}),
                "max_output_tokens",
            ),
            (
                json!({"model": "m", "input": "x", "previous_response_id": ""}),
                "previous_response_id",
            ),
            (json!({"model": "m", "input": "x", "store": "yes"}), "store"),
            (
                json!({"model": "m", "input": "x", "tools": [{"name": "f"}]}),
                "tools[0].type",
            ),
            (
                json!({"model": "m", "input": "x", "text": {"format": {"type": "xml"}}}),
                "text.format.type",
            ),
        ];
        for (body, param) in cases {
            let e = parse(body.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
        }
    }

    #[test]
    fn built_in_tools_are_named() {
        let r = parse(json!({"model": "m", "input": "x", "tools": [
            {"type": "function", "name": "f"}, {"type": "web_search"}]}))
        .unwrap();
        let e = r.refuse_built_in_tools("anthropic").unwrap_err();
        assert!(e.message.contains("web_search"), "{}", e.message);
        assert_eq!(e.param.as_deref(), Some("tools[1].type"));
        assert!(parse(json!({"model": "m", "input": "x", "store": false}))
            .map(|r| !r.store)
            .unwrap());
    }
}
