//! Golden tests: the providers' documented examples (tests/golden/SOURCES.md) translated, compared
//! with reviewed expected output. `UPDATE_GOLDEN=1` rewrites the expected files.

use std::path::PathBuf;

use gateway_core::sse::{Parser, Translator};
use serde_json::{json, Value};
use translate::messages::request::MessagesRequest;
use translate::{anthropic, gemini, messages};

const CREATED: u64 = 1_750_000_000;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn input(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json_input(name: &str) -> Value {
    serde_json::from_str(&input(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compares with `<name>.expected.json`, or writes it under `UPDATE_GOLDEN=1`.
fn check(name: &str, actual: Value) {
    let path = dir().join(format!("{name}.expected.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&actual).unwrap_or_default() + "\n";
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        return;
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        actual, expected,
        "{name}: translation differs from the golden file"
    );
}

/// Runs a stream translator over the input fed in `step`-byte pieces; returns the SSE events it
/// wrote as `{"event", "data"}` (data parsed as JSON where it is JSON).
fn run(t: &mut dyn Translator, bytes: &[u8], step: usize) -> Value {
    let mut out = Vec::new();
    for piece in bytes.chunks(step) {
        out.extend(t.push(piece));
    }
    out.extend(t.finish());
    let mut p = Parser::new();
    let mut events = p.push(&out);
    events.extend(p.finish());
    Value::Array(
        events
            .into_iter()
            .map(|e| {
                let data = serde_json::from_str(&e.data).unwrap_or(Value::String(e.data));
                match e.event {
                    Some(name) => json!({"event": name, "data": data}),
                    None => data,
                }
            })
            .collect(),
    )
}

/// Same output whole and split into small pieces (events split anywhere).
fn stream(name: &str, make: impl Fn() -> Box<dyn Translator>) {
    let bytes = input(name);
    let whole = run(make().as_mut(), bytes.as_bytes(), bytes.len());
    for step in [1, 7, 64] {
        assert_eq!(
            run(make().as_mut(), bytes.as_bytes(), step),
            whole,
            "{name} split every {step} bytes"
        );
    }
    check(name, whole);
}

#[test]
fn anthropic_streams_to_openai_chunks() {
    stream("anthropic/stream_text.sse", || {
        Box::new(anthropic::stream::Stream::new(false, true, CREATED))
    });
    stream("anthropic/stream_tool_use.sse", || {
        Box::new(anthropic::stream::Stream::new(false, true, CREATED))
    });
    stream("anthropic/stream_thinking.sse", || {
        Box::new(anthropic::stream::Stream::new(false, false, CREATED))
    });
}

#[test]
fn anthropic_response_to_openai_completion() {
    let name = "anthropic/response_tool_use.json";
    check(
        name,
        anthropic::response::translate(&json_input(name), false, CREATED).unwrap(),
    );
}

#[test]
fn openai_request_to_anthropic() {
    let name = "anthropic/request_tools.openai.json";
    let req = json_input(name);
    let prepared = anthropic::request::translate(req.as_object().unwrap(), Some(2048)).unwrap();
    check(name, prepared.body);
}

#[test]
fn gemini_to_openai() {
    let name = "gemini/response_function_call.json";
    check(
        name,
        gemini::response::translate(&json_input(name), "gemini-3-flash-preview", CREATED).unwrap(),
    );
    stream("gemini/stream_text.sse", || {
        Box::new(gemini::stream::Stream::new(
            "gemini-2.5-flash",
            true,
            CREATED,
        ))
    });
    stream("gemini/stream_thinking_function_calls.sse", || {
        Box::new(gemini::stream::Stream::new(
            "gemini-3-flash-preview",
            true,
            CREATED,
        ))
    });
}

#[test]
fn openai_request_to_gemini() {
    let name = "gemini/request_tools.openai.json";
    let req = json_input(name);
    let prepared = gemini::request::translate(req.as_object().unwrap()).unwrap();
    assert_eq!(prepared.model, "gemini-3-flash-preview");
    check(name, prepared.body);
}

#[test]
fn messages_front_door() {
    let name = "messages/request_tools.anthropic.json";
    let req = MessagesRequest::parse(input(name).as_bytes()).unwrap();
    check(name, Value::Object(req.to_openai().unwrap()));
    let name = "messages/response_tool_calls.openai.json";
    check(name, messages::response::translate(&json_input(name)));
    stream("messages/stream_tool_call.openai.sse", || {
        Box::new(messages::stream::Stream::new())
    });
}

#[test]
fn embeddings_to_and_from_gemini() {
    let name = "embeddings/request.openai.json";
    let req = json_input(name);
    let body = req.as_object().unwrap();
    check(
        name,
        json!(translate::embeddings::gemini_batches(body, "gemini-embedding-001").unwrap()),
    );
    let name = "embeddings/response.gemini.json";
    let mut answer =
        translate::embeddings::from_gemini(&[json_input(name)], body, "gemini-embedding-001")
            .unwrap();
    let floats = answer.clone();
    translate::embeddings::to_base64(&mut answer);
    check(name, json!({"float": floats, "base64": answer}));
}

#[test]
fn completions_through_chat() {
    use translate::completions::{self, CompletionRequest};
    let name = "completions/request.openai.json";
    let req = CompletionRequest::parse(input(name).as_bytes()).unwrap();
    let chats: Vec<Value> = (0..2)
        .map(|i| req.chat_body(i, "claude-haiku-4-5").unwrap())
        .collect();
    check(name, json!(chats));
    let answer = json_input("messages/response_tool_calls.openai.json");
    let _ = completions::from_chat(&[answer], "m", "cmpl-1", CREATED);
    stream("completions/stream_text.openai.sse", || {
        Box::new(completions::Stream::new(true))
    });
}

#[test]
fn responses_through_chat() {
    use translate::responses::response::{self, Echo};
    use translate::responses::{stream::Stream, ResponsesRequest};
    let name = "responses/request_tools.openai.json";
    let req = ResponsesRequest::parse(input(name).as_bytes()).unwrap();
    check(name, req.chat_body(&[], "claude-sonnet-4-5").unwrap());
    let echo = Echo {
        id: "resp_67ccd2bed1ec8190".into(),
        created_at: CREATED,
        model: "claude-sonnet".into(),
        request: req.body.clone(),
        store: true,
    };
    let name = "messages/response_tool_calls.openai.json";
    let answer = response::from_chat(&json_input(name), &echo);
    check("responses/response_tool_calls", answer);
    let e = echo.clone();
    stream_as(
        "messages/stream_tool_call.openai.sse",
        "responses/stream_tool_call",
        move || Box::new(Stream::new(e.clone())),
    );
    stream_as(
        "completions/stream_text.openai.sse",
        "responses/stream_text",
        move || Box::new(Stream::new(echo.clone())),
    );
}

/// [`stream`] with the expected output under another name.
fn stream_as(name: &str, expected: &str, make: impl Fn() -> Box<dyn Translator>) {
    let bytes = input(name);
    let whole = run(make().as_mut(), bytes.as_bytes(), bytes.len());
    for step in [1, 7, 64] {
        assert_eq!(
            run(make().as_mut(), bytes.as_bytes(), step),
            whole,
            "{name} every {step}"
        );
    }
    check(expected, whole);
}
