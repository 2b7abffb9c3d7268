//! A chat `chat.completion.chunk` stream → the Responses API event sequence: `response.created`,
//! `response.in_progress`, then per output item (reasoning summary, message text, each function
//! call) its `output_item.added`, part and delta events, their `.done` events and
//! `output_item.done`, then `response.completed` (or `response.incomplete`). Every event carries
//! `sequence_number`; output indexes are dense. An upstream error becomes `error` then
//! `response.failed`.

use gateway_core::sse::{self, Parser, Translator};
use gateway_core::{ApiError, ErrorType};
use serde_json::{json, Value};

use super::response::{
    function_call_item, message_item, reasoning_item, status, tokens, usage, Echo,
};
use crate::openai::Tokens;

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Reasoning,
    Text,
    Tool(u64),
}

#[derive(Debug)]
struct Open {
    kind: Kind,
    index: usize,
    id: String,
    text: String,
    call_id: String,
    name: String,
}

/// Stream state.
#[derive(Debug)]
pub struct Stream {
    echo: Echo,
    parser: Parser,
    seq: u64,
    started: bool,
    open: Option<Open>,
    output: Vec<Value>,
    finish: Option<String>,
    usage: Option<Value>,
    done: bool,
    early: Option<ApiError>,
    last: Option<Value>,
}

impl Stream {
    /// A translator for the response `echo` describes.
    pub fn new(echo: Echo) -> Stream {
        Stream {
            echo,
            parser: Parser::default(),
            seq: 0,
            started: false,
            open: None,
            output: Vec::new(),
            finish: None,
            usage: None,
            done: false,
            early: None,
            last: None,
        }
    }

    /// The final `response` object, once the stream completed.
    pub fn response(&self) -> Option<&Value> {
        self.last.as_ref()
    }

    /// The upstream's usage, in OpenAI terms.
    pub fn tokens(&self) -> Option<Tokens> {
        self.usage
            .as_ref()
            .and_then(|u| tokens(&json!({"usage": usage(Some(u))})))
    }

    fn event(&mut self, kind: &str, mut payload: Value) -> Vec<u8> {
        payload["type"] = json!(kind);
        payload["sequence_number"] = json!(self.seq);
        self.seq += 1;
        sse::named(Some(kind), &payload.to_string())
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.echo.response("in_progress", Vec::new(), Value::Null);
        out.extend(self.event("response.created", json!({"response": r})));
        out.extend(self.event("response.in_progress", json!({"response": r})));
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(o) = self.open.take() else {
            return;
        };
        let (index, id) = (o.index, o.id.clone());
        let item = match &o.kind {
            Kind::Reasoning => {
                let part = json!({"type": "summary_text", "text": o.text});
                out.extend(self.event(
                    "response.reasoning_summary_text.done",
                    json!({
                    "item_id": id, "output_index": index, "summary_index": 0, "text": o.text}),
                ));
                out.extend(self.event(
                    "response.reasoning_summary_part.done",
                    json!({
                    "item_id": id, "output_index": index, "summary_index": 0, "part": part}),
                ));
                reasoning_item(id, &o.text)
            }
            Kind::Text => {
                let part = json!({"type": "output_text", "text": o.text, "annotations": [], "logprobs": []});
                out.extend(self.event("response.output_text.done", json!({
                    "item_id": id, "output_index": index, "content_index": 0, "text": o.text, "logprobs": []})));
                out.extend(self.event(
                    "response.content_part.done",
                    json!({
                    "item_id": id, "output_index": index, "content_index": 0, "part": part}),
                ));
                message_item(id, &o.text)
            }
            Kind::Tool(_) => {
                out.extend(self.event(
                    "response.function_call_arguments.done",
                    json!({
                    "item_id": id, "output_index": index, "name": o.name, "arguments": o.text}),
                ));
                function_call_item(id, &o.call_id, &o.name, &o.text)
            }
        };
        out.extend(self.event(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        ));
        self.output.push(item);
    }

    /// Makes `kind` the open item, opening it (closing another) when needed.
    fn item(&mut self, kind: Kind, call: Option<&Value>, out: &mut Vec<u8>) {
        if self.open.as_ref().is_some_and(|o| o.kind == kind) {
            return;
        }
        self.close(out);
        let index = self.output.len();
        let s = |p: &str| {
            call.and_then(|c| c.pointer(p))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (prefix, call_id, name) = match kind {
            Kind::Reasoning => ("rs", String::new(), String::new()),
            Kind::Text => ("msg", String::new(), String::new()),
            Kind::Tool(_) => ("fc", s("/id"), s("/function/name")),
        };
        let id = self.echo.item_id(prefix, index);
        match kind {
            Kind::Reasoning => {
                out.extend(self.event(
                    "response.output_item.added",
                    json!({"output_index": index,
                    "item": {"type": "reasoning", "id": id, "summary": []}}),
                ));
                out.extend(self.event(
                    "response.reasoning_summary_part.added",
                    json!({
                    "item_id": id, "output_index": index, "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""}}),
                ));
            }
            Kind::Text => {
                out.extend(self.event("response.output_item.added", json!({"output_index": index,
                    "item": {"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []}})));
                out.extend(self.event("response.content_part.added", json!({
                    "item_id": id, "output_index": index, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}})));
            }
            Kind::Tool(_) => {
                out.extend(self.event(
                    "response.output_item.added",
                    json!({"output_index": index,
                    "item": {"type": "function_call", "id": id, "call_id": call_id, "name": name,
                        "arguments": "", "status": "in_progress"}}),
                ));
            }
        }
        self.open = Some(Open {
            kind,
            index,
            id,
            text: String::new(),
            call_id,
            name,
        });
    }

    fn delta(&mut self, kind: &str, text: &str, out: &mut Vec<u8>) {
        let Some(o) = self.open.as_mut() else {
            return;
        };
        o.text.push_str(text);
        let (id, index) = (o.id.clone(), o.index);
        let payload = match kind {
            "response.reasoning_summary_text.delta" => {
                json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": text})
            }
            "response.output_text.delta" => {
                json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text, "logprobs": []})
            }
            _ => json!({"item_id": id, "output_index": index, "delta": text}),
        };
        out.extend(self.event(kind, payload));
    }

    fn end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.start(&mut out);
        self.close(&mut out);
        self.done = true;
        let status = status(self.finish.as_deref());
        let r = self
            .echo
            .response(status, self.output.clone(), usage(self.usage.as_ref()));
        let kind = if status == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        out.extend(self.event(kind, json!({"response": r})));
        self.last = Some(r);
        out
    }

    fn chunk(&mut self, data: &str) -> Vec<u8> {
        if data.trim() == "[DONE]" {
            return self.end();
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        if v.get("error").is_some() {
            let e = ApiError::from_openai_json(502, data.as_bytes()).unwrap_or_else(|| {
                ApiError::new(502, ErrorType::Upstream, "the upstream stream failed")
            });
            return self.fail(&e);
        }
        let mut out = Vec::new();
        self.start(&mut out);
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = v.pointer("/choices/0") else {
            return out;
        };
        let d = &choice["delta"];
        if let Some(r) = d
            .get("reasoning_content")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            self.item(Kind::Reasoning, None, &mut out);
            self.delta("response.reasoning_summary_text.delta", r, &mut out);
        }
        if let Some(t) = d
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            self.item(Kind::Text, None, &mut out);
            self.delta("response.output_text.delta", t, &mut out);
        }
        for call in d
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let n = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            self.item(Kind::Tool(n), Some(call), &mut out);
            if let Some(a) = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                self.delta("response.function_call_arguments.delta", a, &mut out);
            }
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_string());
            self.close(&mut out);
        }
        out
    }
}

impl Translator for Stream {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in self.parser.push(chunk) {
            if self.done {
                break;
            }
            out.extend(self.chunk(&e.data));
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(e) = self.parser.finish() {
            if !self.done {
                out.extend(self.chunk(&e.data));
            }
        }
        if !self.done {
            if self.finish.is_some() {
                out.extend(self.end());
            } else {
                let e = ApiError::new(
                    502,
                    ErrorType::Upstream,
                    "the upstream stream ended before finishing",
                )
                .with_code("upstream_error");
                out.extend(self.fail(&e));
            }
        }
        out
    }

    fn early_error(&mut self) -> Option<ApiError> {
        self.early.take()
    }

    fn fail(&mut self, error: &ApiError) -> Vec<u8> {
        self.done = true;
        if !self.started {
            self.early = Some(error.clone());
            return Vec::new();
        }
        let body = error.to_openai_json();
        let e = &body["error"];
        let mut out = self.event(
            "error",
            json!({"code": e["code"], "message": e["message"], "param": e["param"]}),
        );
        let mut r = self
            .echo
            .response("failed", self.output.clone(), usage(self.usage.as_ref()));
        r["error"] =
            json!({"code": e["code"].as_str().unwrap_or("server_error"), "message": e["message"]});
        out.extend(self.event("response.failed", json!({"response": r})));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::sse::Parser;

    fn echo() -> Echo {
        Echo {
            id: "resp_1".into(),
            created_at: 1,
            model: "m".into(),
            request: Default::default(),
            store: true,
        }
    }

    fn events(bytes: &[u8]) -> Vec<Value> {
        let mut p = Parser::default();
        let mut all = p.push(bytes);
        all.extend(p.finish());
        all.iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    fn chunk(delta: Value, finish: Value) -> String {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    }

    #[test]
    fn tool_call_only_turn() {
        let mut s = Stream::new(echo());
        let mut out =
            s.push(chunk(json!({"role": "assistant", "content": ""}), Value::Null).as_bytes());
        out.extend(s.push(chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": ""}}]}), Value::Null).as_bytes()));
        out.extend(
            s.push(
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":"}}]}),
                    Value::Null,
                )
                .as_bytes(),
            ),
        );
        out.extend(
            s.push(
                chunk(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
                    Value::Null,
                )
                .as_bytes(),
            ),
        );
        out.extend(s.push(chunk(json!({}), json!("tool_calls")).as_bytes()));
        out.extend(s.push(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"));
        out.extend(s.finish());
        let ev = events(&out);
        let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        for (i, e) in ev.iter().enumerate() {
            assert_eq!(e["sequence_number"], i as u64);
        }
        assert_eq!(ev[5]["arguments"], "{\"a\":1}");
        assert_eq!(ev[5]["name"], "f");
        assert_eq!(ev[7]["response"]["output"][0]["call_id"], "call_1");
        assert_eq!(ev[7]["response"]["usage"]["total_tokens"], 5);
        assert_eq!(s.tokens().unwrap().prompt, 3);
    }

    #[test]
    fn reasoning_then_text_dense_indexes() {
        let mut s = Stream::new(echo());
        let mut out = s.push(chunk(json!({"reasoning_content": "hmm"}), Value::Null).as_bytes());
        out.extend(s.push(chunk(json!({"content": "Hi"}), Value::Null).as_bytes()));
        out.extend(s.push(chunk(json!({"content": "!"}), json!("length")).as_bytes()));
        out.extend(s.push(b"data: [DONE]\n\n"));
        let ev = events(&out);
        let last = ev.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["output"][1]["content"][0]["text"], "Hi!");
        let text_done = ev
            .iter()
            .find(|e| e["type"] == "response.output_text.done")
            .unwrap();
        assert_eq!(
            (
                text_done["output_index"].as_u64(),
                text_done["text"].as_str()
            ),
            (Some(1), Some("Hi!"))
        );
        assert!(ev
            .iter()
            .any(|e| e["type"] == "response.reasoning_summary_text.delta"));
    }

    #[test]
    fn errors_early_and_midway() {
        let mut s = Stream::new(echo());
        assert!(s
            .push(b"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n")
            .is_empty());
        assert!(s.early_error().is_some());
        let mut s = Stream::new(echo());
        let mut out = s.push(chunk(json!({"content": "Hi"}), Value::Null).as_bytes());
        out.extend(s.finish());
        let ev = events(&out);
        assert_eq!(ev[ev.len() - 2]["type"], "error");
        assert_eq!(ev.last().unwrap()["response"]["status"], "failed");
    }
}
