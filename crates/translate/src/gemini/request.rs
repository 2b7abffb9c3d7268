//! OpenAI chat request → Gemini `generateContent` request (camelCase proto JSON).

use gateway_core::ApiError;
use serde_json::{json, Map, Value};

use super::{ids, schema, PROVIDER};
use crate::chat::{Chat, Media, Merged, Part, ToolChoice, Turn};
use crate::params::{self, Effort, ResponseFormat};

/// The signature Gemini 3 accepts on a function call it did not produce (e.g. history from another
/// model), per Google's thought-signature guide.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// A translated request.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The Gemini request body.
    pub body: Value,
    /// The model for the URL path (`models/{model}:generateContent`).
    pub model: String,
    /// Streamed (`:streamGenerateContent?alt=sse`).
    pub stream: bool,
    /// The client asked for the usage chunk.
    pub include_usage: bool,
}

/// Translates a request.
pub fn translate(body: &Map<String, Value>) -> Result<Prepared, ApiError> {
    params::reject(body, PROVIDER)?;
    let chat = Chat::parse(body)?;
    let model = chat.model.trim_start_matches("models/").to_string();
    if model.is_empty()
        || !model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return Err(
            ApiError::bad_request(format!("{PROVIDER}: invalid model name `{model}`"))
                .with_param("model"),
        );
    }
    let gemini3 = model.starts_with("gemini-3");
    let mut out = Map::new();
    out.insert("contents".into(), Value::Array(contents(&chat, gemini3)?));
    let system: Vec<Value> = chat
        .system
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } if !text.is_empty() => Some(json!({"text": text})),
            _ => None,
        })
        .collect();
    if !system.is_empty() {
        out.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if !chat.tools.is_empty() {
        let declarations = chat
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut d = json!({"name": t.name});
                if let Some(desc) = &t.description {
                    d["description"] = json!(desc);
                }
                if let Some(p) = &t.parameters {
                    let converted = schema::convert(p, &format!("tools[{i}].function.parameters"))?;
                    if !schema::is_empty_object(&converted) {
                        d["parameters"] = converted;
                    }
                }
                Ok(d)
            })
            .collect::<Result<Vec<Value>, ApiError>>()?;
        out.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    if let Some(choice) = &chat.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Function(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        out.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }
    out.insert(
        "generationConfig".into(),
        Value::Object(generation(&chat, gemini3)?),
    );
    Ok(Prepared {
        body: Value::Object(out),
        model,
        stream: chat.stream,
        include_usage: chat.include_usage,
    })
}

fn generation(chat: &Chat, gemini3: bool) -> Result<Map<String, Value>, ApiError> {
    let mut g = Map::new();
    let mut put = |k: &str, v: Value| {
        g.insert(k.into(), v);
    };
    if let Some(t) = chat.temperature {
        put("temperature", json!(t));
    }
    if let Some(p) = chat.top_p {
        put("topP", json!(p));
    }
    if let Some(k) = chat.top_k {
        put("topK", json!(k));
    }
    if let Some(m) = chat.max_tokens {
        put("maxOutputTokens", json!(m));
    }
    if !chat.stop.is_empty() {
        put("stopSequences", json!(chat.stop));
    }
    if chat.n > 1 {
        put("candidateCount", json!(chat.n));
    }
    if let Some(p) = chat.presence_penalty {
        put("presencePenalty", json!(p));
    }
    if let Some(p) = chat.frequency_penalty {
        put("frequencyPenalty", json!(p));
    }
    if let Some(s) = chat.seed {
        put("seed", json!(s));
    }
    match &chat.response_format {
        Some(ResponseFormat::JsonObject) => put("responseMimeType", json!("application/json")),
        Some(ResponseFormat::JsonSchema { schema: s, .. }) => {
            put("responseMimeType", json!("application/json"));
            put(
                "responseSchema",
                schema::convert(s, "response_format.json_schema.schema")?,
            );
        }
        None => {}
    }
    if let Some(effort) = chat.effort {
        put("thinkingConfig", thinking(effort, gemini3));
    }
    Ok(g)
}

/// `reasoning_effort` → `thinkingConfig`: Gemini 3 takes a `thinkingLevel` (low/high), Gemini 2.5
/// a `thinkingBudget` (0 turns thinking off). Thought summaries are requested whenever thinking is
/// on, and come back as `reasoning_content`.
fn thinking(effort: Effort, gemini3: bool) -> Value {
    match (effort, gemini3) {
        (Effort::None, false) => json!({"thinkingBudget": 0}),
        (Effort::None | Effort::Minimal | Effort::Low, true) => {
            json!({"thinkingLevel": "low", "includeThoughts": effort != Effort::None})
        }
        (_, true) => json!({"thinkingLevel": "high", "includeThoughts": true}),
        (e, false) => json!({"thinkingBudget": e.budget(), "includeThoughts": true}),
    }
}

fn part(p: &Part) -> Option<Value> {
    match p {
        Part::Text { text, .. } if text.is_empty() => None,
        Part::Text { text, .. } => Some(json!({"text": text})),
        Part::Image(m) | Part::File(m) => Some(match m {
            Media::Base64 { media_type, data } => {
                json!({"inlineData": {"mimeType": media_type, "data": data}})
            }
            Media::Url(url) => json!({"fileData": {"mimeType": m.media_type(), "fileUri": url}}),
        }),
    }
}

/// Turns as Gemini contents (`user` / `model`), consecutive same-role turns merged.
fn contents(chat: &Chat, gemini3: bool) -> Result<Vec<Value>, ApiError> {
    let mut out = Merged::default();
    for (i, turn) in chat.turns.iter().enumerate() {
        let (role, parts): (&str, Vec<Value>) = match turn {
            Turn::User(parts) => ("user", parts.iter().filter_map(part).collect()),
            Turn::Assistant {
                parts, tool_calls, ..
            } => {
                let mut out: Vec<Value> = parts.iter().filter_map(part).collect();
                for (j, c) in tool_calls.iter().enumerate() {
                    let mut p = json!({"functionCall": {"name": c.name, "args": c.arguments}});
                    match ids::signature(&c.id) {
                        Some(sig) => p["thoughtSignature"] = json!(sig),
                        None if gemini3 && j == 0 => p["thoughtSignature"] = json!(SKIP_SIGNATURE),
                        None => {}
                    }
                    out.push(p);
                }
                ("model", out)
            }
            Turn::Tool { call_id, text } => {
                let name = chat.tool_name(call_id).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "messages: tool result `{call_id}` does not answer any earlier assistant tool call"
                    ))
                    .with_param("messages")
                })?;
                let response = match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(o)) => Value::Object(o),
                    _ => json!({"result": text}),
                };
                (
                    "user",
                    vec![json!({"functionResponse": {"name": name, "response": response}})],
                )
            }
        };
        out.push(i, role, parts)?;
    }
    Ok(out
        .into_turns()
        .into_iter()
        .map(|(role, parts)| json!({"role": role, "parts": parts}))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: Value) -> Result<Prepared, ApiError> {
        translate(v.as_object().unwrap())
    }

    #[test]
    fn tool_round_trip_keeps_names_and_signatures() {
        let id = ids::make("resp", 0, 0, Some("c2ln"));
        let p = run(json!({"model": "gemini-3.1-flash-lite-preview", "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": id, "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_other", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": id, "content": "{\"temp\":21}"},
            {"role": "tool", "tool_call_id": "call_other", "content": "noon"}
        ]}))
        .unwrap();
        let c = &p.body["contents"];
        assert_eq!(c.as_array().unwrap().len(), 3);
        assert_eq!(c[0]["parts"][1]["inlineData"]["mimeType"], "image/png");
        assert_eq!(c[1]["role"], "model");
        assert_eq!(c[1]["parts"][0]["thoughtSignature"], "c2ln");
        assert!(c[1]["parts"][1].get("thoughtSignature").is_none());
        assert_eq!(
            c[2]["parts"][0]["functionResponse"],
            json!({"name": "get_weather", "response": {"temp": 21}})
        );
        assert_eq!(
            c[2]["parts"][1]["functionResponse"]["response"],
            json!({"result": "noon"})
        );
        assert_eq!(p.body["systemInstruction"]["parts"][0]["text"], "sys");
    }

    #[test]
    fn maps_generation_config_and_tools() {
        let p = run(json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 100, "temperature": 0.2, "top_p": 0.9, "stop": ["a", "b"], "n": 2, "seed": 3,
            "reasoning_effort": "medium", "response_format": {"type": "json_object"},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}},
                      {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}}}],
            "tool_choice": {"type": "function", "function": {"name": "g"}}}))
        .unwrap();
        let g = &p.body["generationConfig"];
        assert_eq!(g["maxOutputTokens"], 100);
        assert_eq!(g["stopSequences"], json!(["a", "b"]));
        assert_eq!(g["candidateCount"], 2);
        assert_eq!(g["responseMimeType"], "application/json");
        assert_eq!(
            g["thinkingConfig"],
            json!({"thinkingBudget": 2048, "includeThoughts": true})
        );
        let decl = &p.body["tools"][0]["functionDeclarations"];
        assert!(decl[0].get("parameters").is_none());
        assert!(decl[1]["parameters"].get("additionalProperties").is_none());
        assert_eq!(
            p.body["toolConfig"]["functionCallingConfig"],
            json!({"mode": "ANY", "allowedFunctionNames": ["g"]})
        );
        let p = run(json!({"model": "gemini-3-pro-preview", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high"})).unwrap();
        assert_eq!(
            p.body["generationConfig"]["thinkingConfig"],
            json!({"thinkingLevel": "high", "includeThoughts": true})
        );
    }

    #[test]
    fn rejects_bad_input() {
        let e = run(json!({"model": "gemini-x", "messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "r"}]})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages"));
        let e = run(json!({"model": "../../x", "messages": [{"role": "user", "content": "x"}]}))
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = run(json!({"model": "gemini-x", "messages": [{"role": "user", "content": "x"}], "logprobs": true})).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("unsupported_parameter"));
    }
}
