//! An OpenAI chat-completion request read into provider-neutral parts: system text, turns with
//! typed content, tools and sampling parameters. Each provider's request builder starts here.

use gateway_core::ApiError;
use serde_json::{Map, Value};

use crate::params::{self, Effort, ResponseFormat};

/// Where media comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    /// A `data:<type>;base64,<data>` URL.
    Base64 {
        /// MIME type.
        media_type: String,
        /// Base64 data.
        data: String,
    },
    /// An `http(s)://` URL.
    Url(String),
}

impl Media {
    /// The MIME type: declared for data URLs, guessed from the extension for URLs.
    pub fn media_type(&self) -> String {
        match self {
            Media::Base64 { media_type, .. } => media_type.clone(),
            Media::Url(url) => {
                let path = url
                    .split(['?', '#'])
                    .next()
                    .unwrap_or(url)
                    .to_ascii_lowercase();
                let ext = path.rsplit('.').next().unwrap_or("");
                match ext {
                    "png" => "image/png",
                    "gif" => "image/gif",
                    "webp" => "image/webp",
                    "pdf" => "application/pdf",
                    _ => "image/jpeg",
                }
                .to_string()
            }
        }
    }
}

/// One content part.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text, with Anthropic's `cache_control` if the client set one.
    Text {
        /// The text.
        text: String,
        /// `cache_control`, passed to Anthropic.
        cache_control: Option<Value>,
    },
    /// An image (`image_url`).
    Image(Media),
    /// A file (`file` with `file_data`), e.g. a PDF.
    File(Media),
}

/// A tool call made by the assistant.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The call id.
    pub id: String,
    /// Function name.
    pub name: String,
    /// Parsed arguments.
    pub arguments: Value,
}

/// One conversation turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// A user message.
    User(Vec<Part>),
    /// An assistant message.
    Assistant {
        /// Text parts.
        parts: Vec<Part>,
        /// Tool calls.
        tool_calls: Vec<ToolCall>,
        /// Anthropic thinking blocks returned earlier (`thinking_blocks`, LiteLLM's field).
        thinking_blocks: Vec<Value>,
    },
    /// A tool result.
    Tool {
        /// The call it answers.
        call_id: String,
        /// Result text.
        text: String,
    },
}

/// A function tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Option<Value>,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// `auto`.
    Auto,
    /// `none`.
    None,
    /// `required`.
    Required,
    /// A named function.
    Function(String),
}

/// A chat request in provider-neutral parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    /// Upstream model name.
    pub model: String,
    /// System and developer messages, in order.
    pub system: Vec<Part>,
    /// The other messages.
    pub turns: Vec<Turn>,
    /// Function tools.
    pub tools: Vec<Tool>,
    /// `tool_choice`.
    pub tool_choice: Option<ToolChoice>,
    /// `parallel_tool_calls`.
    pub parallel_tool_calls: Option<bool>,
    /// `max_completion_tokens` or `max_tokens`.
    pub max_tokens: Option<u64>,
    /// `temperature`.
    pub temperature: Option<f64>,
    /// `top_p`.
    pub top_p: Option<f64>,
    /// `top_k` (not OpenAI, but common through gateways).
    pub top_k: Option<u64>,
    /// `stop`.
    pub stop: Vec<String>,
    /// `n` (1 when absent).
    pub n: u64,
    /// `presence_penalty`.
    pub presence_penalty: Option<f64>,
    /// `frequency_penalty`.
    pub frequency_penalty: Option<f64>,
    /// `seed`.
    pub seed: Option<u64>,
    /// `response_format`.
    pub response_format: Option<ResponseFormat>,
    /// `reasoning_effort`.
    pub effort: Option<Effort>,
    /// `stream`.
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
    /// `user`.
    pub user: Option<String>,
}

/// Provider turns built from [`Turn`]s: consecutive turns of one role merged into one (both
/// Anthropic and Gemini want roles to alternate), an empty user turn refused.
#[derive(Default)]
pub struct Merged(Vec<(&'static str, Vec<Value>)>);

impl Merged {
    /// Adds turn `i` with its provider role and content blocks; an assistant turn left with no
    /// content is dropped.
    pub fn push(
        &mut self,
        i: usize,
        role: &'static str,
        blocks: Vec<Value>,
    ) -> Result<(), ApiError> {
        if blocks.is_empty() {
            if role == "user" {
                return Err(ApiError::bad_request(format!(
                    "messages: the user message at turn {i} has no content"
                ))
                .with_param("messages"));
            }
            return Ok(());
        }
        match self.0.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => self.0.push((role, blocks)),
        }
        Ok(())
    }

    /// The merged turns as (role, blocks).
    pub fn into_turns(self) -> Vec<(&'static str, Vec<Value>)> {
        self.0
    }
}

fn bad(param: String, message: String) -> ApiError {
    ApiError::bad_request(message).with_param(param)
}

impl Chat {
    /// Reads a request the router already validated (model, messages, roles, stream).
    pub fn parse(body: &Map<String, Value>) -> Result<Chat, ApiError> {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("messages".into(), "`messages` must be a list".into()))?;
        let mut system = Vec::new();
        let mut turns = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
            let at = |field: &str| format!("messages[{i}].{field}");
            match role {
                "system" | "developer" => system.extend(text_parts(m.get("content"), &at("content"))?),
                "user" => turns.push(Turn::User(parts(m.get("content"), &at("content"))?)),
                "assistant" => turns.push(Turn::Assistant {
                    parts: text_parts(m.get("content"), &at("content"))?,
                    tool_calls: tool_calls(m.get("tool_calls"), &at("tool_calls"))?,
                    thinking_blocks: m
                        .get("thinking_blocks")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                }),
                "tool" => {
                    let call_id = m
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            bad(at("tool_call_id"), format!("messages[{i}]: a tool message needs a `tool_call_id`"))
                        })?
                        .to_string();
                    let text = text_parts(m.get("content"), &at("content"))?
                        .into_iter()
                        .filter_map(|p| match p {
                            Part::Text { text, .. } => Some(text),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join("");
                    turns.push(Turn::Tool { call_id, text });
                }
                other => {
                    return Err(bad(
                        at("role"),
                        format!("messages[{i}].role `{other}` is not supported (use system, developer, user, assistant or tool)"),
                    ))
                }
            }
        }
        if turns.is_empty() {
            return Err(bad(
                "messages".into(),
                "`messages` needs at least one user message".into(),
            ));
        }
        let n = params::integer(body, "n")?.unwrap_or(1);
        if n == 0 {
            return Err(bad("n".into(), "`n` must be at least 1".into()));
        }
        Ok(Chat {
            model,
            system,
            turns,
            tools: tools(body.get("tools"))?,
            tool_choice: tool_choice(body.get("tool_choice"))?,
            parallel_tool_calls: params::boolean(body, "parallel_tool_calls")?,
            max_tokens: params::max_tokens(body)?,
            temperature: params::number(body, "temperature")?,
            top_p: params::number(body, "top_p")?,
            top_k: params::integer(body, "top_k")?,
            stop: params::stop(body)?,
            n,
            presence_penalty: params::number(body, "presence_penalty")?,
            frequency_penalty: params::number(body, "frequency_penalty")?,
            seed: params::integer(body, "seed")?,
            response_format: params::response_format(body)?,
            effort: params::effort(body)?,
            stream: params::boolean(body, "stream")?.unwrap_or(false),
            include_usage: body
                .get("stream_options")
                .and_then(|o| o.get("include_usage"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            user: body.get("user").and_then(Value::as_str).map(str::to_string),
        })
    }

    /// The function name of the earlier assistant tool call with this id.
    pub fn tool_name(&self, call_id: &str) -> Option<&str> {
        self.turns.iter().find_map(|t| match t {
            Turn::Assistant { tool_calls, .. } => tool_calls
                .iter()
                .find(|c| c.id == call_id)
                .map(|c| c.name.as_str()),
            _ => None,
        })
    }
}

/// Content that may only hold text (system, assistant, tool).
fn text_parts(content: Option<&Value>, at: &str) -> Result<Vec<Part>, ApiError> {
    let parts = parts(content, at)?;
    if let Some(i) = parts.iter().position(|p| !matches!(p, Part::Text { .. })) {
        return Err(bad(
            format!("{at}[{i}]"),
            format!("{at}[{i}]: only text parts are allowed in this message"),
        ));
    }
    Ok(parts)
}

/// Message content: a string, null, or a list of parts.
fn parts(content: Option<&Value>, at: &str) -> Result<Vec<Part>, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![Part::Text {
            text: s.clone(),
            cache_control: None,
        }]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(j, p)| part(p, &format!("{at}[{j}]")))
            .collect(),
        Some(_) => Err(bad(
            at.to_string(),
            format!("{at} must be a string or a list of content parts"),
        )),
    }
}

fn part(p: &Value, at: &str) -> Result<Part, ApiError> {
    let cache_control = p.get("cache_control").cloned();
    match p.get("type").and_then(Value::as_str) {
        Some("text") => Ok(Part::Text {
            text: p
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("{at}.text"), format!("{at}.text must be a string")))?
                .to_string(),
            cache_control,
        }),
        Some("image_url") => {
            let url = p
                .get("image_url")
                .and_then(|u| u.get("url").or(Some(u)))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad(
                        format!("{at}.image_url"),
                        format!("{at}.image_url.url must be a string"),
                    )
                })?;
            Ok(Part::Image(media(url, &format!("{at}.image_url.url"))?))
        }
        Some("file") => {
            let file = p.get("file");
            let data = file
                .and_then(|f| f.get("file_data"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad(
                        format!("{at}.file.file_data"),
                        format!("{at}.file needs `file_data` (a data URL); uploaded file ids are not supported"),
                    )
                })?;
            Ok(Part::File(media(data, &format!("{at}.file.file_data"))?))
        }
        other => Err(bad(
            format!("{at}.type"),
            format!(
                "{at}: content part type `{}` is not supported (use text, image_url or file)",
                other.unwrap_or("?")
            ),
        )),
    }
}

/// A data URL or an http(s) URL.
fn media(url: &str, at: &str) -> Result<Media, ApiError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| bad(at.to_string(), format!("{at}: malformed data URL")))?;
        let media_type = meta.strip_suffix(";base64").ok_or_else(|| {
            bad(
                at.to_string(),
                format!("{at}: only base64 data URLs are supported"),
            )
        })?;
        return Ok(Media::Base64 {
            media_type: media_type.to_string(),
            data: data.to_string(),
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Media::Url(url.to_string()));
    }
    Err(bad(
        at.to_string(),
        format!("{at} must be an http(s) URL or a base64 data URL"),
    ))
}

fn tool_calls(v: Option<&Value>, at: &str) -> Result<Vec<ToolCall>, ApiError> {
    let Some(items) = v.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let at = format!("{at}[{j}]");
            let id = c.get("id").and_then(Value::as_str).unwrap_or_default();
            let f = c.get("function");
            let name = f
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    bad(
                        format!("{at}.function.name"),
                        format!("{at}.function.name must be a string"),
                    )
                })?;
            let raw = f
                .and_then(|f| f.get("arguments"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let arguments = if raw.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                serde_json::from_str(raw).map_err(|_| {
                    bad(
                        format!("{at}.function.arguments"),
                        format!(
                            "{at}.function.arguments must be a JSON object encoded as a string"
                        ),
                    )
                })?
            };
            Ok(ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments,
            })
        })
        .collect()
}

fn tools(v: Option<&Value>) -> Result<Vec<Tool>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| bad("tools".into(), "`tools` must be a list".into()))?;
    items
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if t.get("type").and_then(Value::as_str) != Some("function") {
                return Err(bad(
                    format!("tools[{i}].type"),
                    format!("tools[{i}]: only tools of type `function` are supported"),
                ));
            }
            let f = t.get("function");
            let name = f
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    bad(
                        format!("tools[{i}].function.name"),
                        format!("tools[{i}].function.name must be a non-empty string"),
                    )
                })?;
            Ok(Tool {
                name: name.to_string(),
                description: f
                    .and_then(|f| f.get("description"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                parameters: f
                    .and_then(|f| f.get("parameters"))
                    .filter(|p| p.is_object())
                    .cloned(),
            })
        })
        .collect()
}

fn tool_choice(v: Option<&Value>) -> Result<Option<ToolChoice>, ApiError> {
    let invalid = || {
        bad(
            "tool_choice".into(),
            "`tool_choice` must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\":...}}".into(),
        )
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "none" => Ok(Some(ToolChoice::None)),
            "required" => Ok(Some(ToolChoice::Required)),
            _ => Err(invalid()),
        },
        Some(obj) => obj
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|n| Some(ToolChoice::Function(n.to_string())))
            .ok_or_else(invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Chat, ApiError> {
        Chat::parse(v.as_object().unwrap())
    }

    #[test]
    fn reads_all_message_kinds() {
        let chat = parse(json!({"model": "m", "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.webp?s=1"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "42"}]}
        ], "tool_choice": {"type": "function", "function": {"name": "f"}}, "n": 2}))
        .unwrap();
        assert_eq!(chat.system.len(), 1);
        assert_eq!(chat.turns.len(), 3);
        assert_eq!(chat.tool_name("c1"), Some("f"));
        assert_eq!(chat.tool_choice, Some(ToolChoice::Function("f".into())));
        assert_eq!(chat.n, 2);
        let Turn::User(p) = &chat.turns[0] else {
            panic!()
        };
        assert_eq!(
            p[1],
            Part::Image(Media::Base64 {
                media_type: "image/png".into(),
                data: "AAAA".into()
            })
        );
        let Part::Image(m) = &p[2] else { panic!() };
        assert_eq!(m.media_type(), "image/webp");
    }

    #[test]
    fn bad_input_names_the_param() {
        let cases = [
            (
                json!([{"role": "user", "content": 5}]),
                "messages[0].content",
            ),
            (
                json!([{"role": "user", "content": [{"type": "input_audio"}]}]),
                "messages[0].content[0].type",
            ),
            (
                json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]),
                "messages[0].content[0].image_url.url",
            ),
            (
                json!([{"role": "user", "content": "x"}, {"role": "tool", "content": "x"}]),
                "messages[1].tool_call_id",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}]),
                "messages[0].tool_calls[0].function.arguments",
            ),
            (
                json!([{"role": "function", "content": "x"}]),
                "messages[0].role",
            ),
            (json!([{"role": "system", "content": "x"}]), "messages"),
            (
                json!([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}, {"role": "user", "content": "x"}]),
                "messages[0].content[0]",
            ),
        ];
        for (messages, param) in cases {
            let e = parse(json!({"model": "m", "messages": messages})).unwrap_err();
            assert_eq!(
                (e.status, e.param.as_deref()),
                (400, Some(param)),
                "{messages}"
            );
        }
        let e = parse(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search"}]})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].type"));
        let e = parse(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
    }
}
