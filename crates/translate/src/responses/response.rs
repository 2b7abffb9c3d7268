//! A chat answer as a Responses API `response` object.

use serde_json::{json, Map, Value};

use crate::openai::Tokens;

/// What a `response` object repeats from its request, and its identity.
#[derive(Debug, Clone)]
pub struct Echo {
    /// `resp_...`.
    pub id: String,
    /// Unix seconds.
    pub created_at: u64,
    /// The model name the client asked for.
    pub model: String,
    /// The request object.
    pub request: Map<String, Value>,
    /// Whether it is stored.
    pub store: bool,
}

impl Echo {
    /// An item id for output `index` (`msg_`, `fc_`, `rs_` prefixes).
    pub fn item_id(&self, prefix: &str, index: usize) -> String {
        let tail = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}_{tail}_{index}")
    }

    fn get(&self, key: &str, default: Value) -> Value {
        self.request
            .get(key)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(default)
    }

    /// The `response` object with `status`, `output` and `usage`.
    pub fn response(&self, status: &str, output: Vec<Value>, usage: Value) -> Value {
        let incomplete = match status {
            "incomplete" => json!({"reason": "max_output_tokens"}),
            _ => Value::Null,
        };
        json!({
            "id": self.id, "object": "response", "created_at": self.created_at,
            "status": status, "background": false, "error": null,
            "incomplete_details": incomplete,
            "instructions": self.get("instructions", Value::Null),
            "max_output_tokens": self.get("max_output_tokens", Value::Null),
            "model": self.model, "output": output,
            "parallel_tool_calls": self.get("parallel_tool_calls", json!(true)),
            "previous_response_id": self.get("previous_response_id", Value::Null),
            "reasoning": {"effort": self.request.get("reasoning").and_then(|r| r.get("effort")).cloned().unwrap_or(Value::Null), "summary": null},
            "store": self.store,
            "temperature": self.get("temperature", json!(1.0)),
            "text": self.get("text", json!({"format": {"type": "text"}})),
            "tool_choice": self.get("tool_choice", json!("auto")),
            "tools": self.get("tools", json!([])),
            "top_p": self.get("top_p", json!(1.0)),
            "truncation": "disabled",
            "usage": usage,
            "user": self.get("user", Value::Null),
            "metadata": self.get("metadata", json!({})),
        })
    }
}

/// Chat usage → Responses usage.
pub fn usage(u: Option<&Value>) -> Value {
    let n = |p: &str| {
        u.and_then(|u| u.pointer(p))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let (input, output) = (n("/prompt_tokens"), n("/completion_tokens"));
    json!({"input_tokens": input,
        "input_tokens_details": {"cached_tokens": n("/prompt_tokens_details/cached_tokens")},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": n("/completion_tokens_details/reasoning_tokens")},
        "total_tokens": input.saturating_add(output)})
}

/// The tokens of a `response` object's `usage` (bridged or native).
pub fn tokens(response: &Value) -> Option<Tokens> {
    let u = response.get("usage").filter(|u| u.is_object())?;
    let n = |p: &str| u.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    Some(Tokens {
        prompt: n("/input_tokens"),
        completion: n("/output_tokens"),
        cached: n("/input_tokens_details/cached_tokens"),
        cache_write: 0,
        reasoning: n("/output_tokens_details/reasoning_tokens"),
    })
}

/// `status` for a chat finish reason.
pub fn status(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "incomplete",
        _ => "completed",
    }
}

/// A finished `message` output item.
pub fn message_item(id: String, text: &str) -> Value {
    json!({"type": "message", "id": id, "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
}

/// A finished `function_call` output item.
pub fn function_call_item(id: String, call_id: &str, name: &str, arguments: &str) -> Value {
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name,
        "arguments": arguments, "status": "completed"})
}

/// A finished `reasoning` output item.
pub fn reasoning_item(id: String, text: &str) -> Value {
    json!({"type": "reasoning", "id": id, "summary": [{"type": "summary_text", "text": text}]})
}

/// A `chat.completion` → the `response` object.
pub fn from_chat(answer: &Value, echo: &Echo) -> Value {
    let choice = answer.pointer("/choices/0").cloned().unwrap_or(Value::Null);
    let message = &choice["message"];
    let mut output = Vec::new();
    if let Some(r) = message
        .get("reasoning_content")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        output.push(reasoning_item(echo.item_id("rs", output.len()), r));
    }
    if let Some(t) = message
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        output.push(message_item(echo.item_id("msg", output.len()), t));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |p: &str| call.pointer(p).and_then(Value::as_str).unwrap_or("");
        output.push(function_call_item(
            echo.item_id("fc", output.len()),
            s("/id"),
            s("/function/name"),
            s("/function/arguments"),
        ));
    }
    let status = status(choice.get("finish_reason").and_then(Value::as_str));
    echo.response(status, output, usage(answer.get("usage")))
}

/// The assistant's side of a finished response as chat messages (for the stored conversation).
pub fn output_messages(response: &Value) -> Vec<Value> {
    let items: Vec<Value> = response
        .get("output")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    super::request::items_to_messages(&items, "output").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Echo {
        Echo {
            id: "resp_abc".into(),
            created_at: 5,
            model: "claude-test".into(),
            request: json!({"instructions": "x", "metadata": {"k": "v"}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            store: true,
        }
    }

    #[test]
    fn text_tool_calls_reasoning_and_usage() {
        let answer = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Let me check.", "reasoning_content": "think",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"c\":1}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 2},
                "completion_tokens_details": {"reasoning_tokens": 1}}});
        let r = from_chat(&answer, &echo());
        assert_eq!(r["status"], "completed");
        assert_eq!(r["output"][0]["type"], "reasoning");
        assert_eq!(r["output"][1]["content"][0]["text"], "Let me check.");
        assert_eq!(r["output"][2]["call_id"], "call_1");
        assert_eq!(r["output"][2]["id"], "fc_abc_2");
        assert_eq!(r["usage"]["total_tokens"], 14);
        assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 2);
        assert_eq!(r["metadata"]["k"], "v");
        let t = tokens(&r).unwrap();
        assert_eq!((t.prompt, t.completion, t.cached), (10, 4, 2));
        let m = output_messages(&r);
        assert_eq!(m.len(), 2);
        assert_eq!(m[1]["tool_calls"][0]["id"], "call_1");
    }

    #[test]
    fn length_is_incomplete() {
        let answer =
            json!({"choices": [{"finish_reason": "length", "message": {"content": "abc"}}]});
        let r = from_chat(&answer, &echo());
        assert_eq!(r["status"], "incomplete");
        assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
    }
}
