//! Chat completions through the Anthropic and Gemini provider components, against mock upstreams
//! speaking the providers' wire formats.

use std::collections::HashMap;

use e2e::*;
use serde_json::{json, Value};

fn weather_request(model: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What's the weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"], "additionalProperties": false}}}]})
}

/// Streams a request and returns the chunks, checking the OpenAI stream invariants.
async fn stream_chunks(g: &Gateway, body: &Value) -> Vec<Value> {
    let (status, text) = g.post_stream("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let chunks = sse_payloads(&text);
    assert_eq!(
        chunks[0]["choices"][0]["delta"]["role"], "assistant",
        "{text}"
    );
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
    }
    chunks
}

fn finish_of(chunks: &[Value]) -> Vec<&str> {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
        })
        .collect()
}

#[tokio::test]
async fn anthropic_chat_translates_both_ways() {
    let g = Gateway::start().await;
    let (status, _, answer) = g.post("/v1/chat/completions", &chat("claude-test")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from mock anthropic"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["usage"]["prompt_tokens"], 19);
    assert_eq!(answer["usage"]["completion_tokens"], 10);
    assert_eq!(answer["usage"]["total_tokens"], 29);

    let sent = g.upstream("/v1/messages");
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(header(r, "x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(header(r, "anthropic-version"), Some("2023-06-01"));
    assert!(header(r, "authorization").is_none());
    assert!(!format!("{:?}{}", r.headers, r.body).contains(CALLER_KEY));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(
        body["max_tokens"], 4096,
        "documented default when the request sets none"
    );

    // model_info.max_tokens is the default; tools, system, thinking.
    g.mock.clear();
    let mut req = weather_request("claude-small");
    req["reasoning_effort"] = json!("low");
    req["max_completion_tokens"] = json!(2000);
    let (status, _, answer) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 200, "{answer}");
    let m = &answer["choices"][0]["message"];
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(m["tool_calls"][0]["id"], "toolu_mock_1");
    assert_eq!(m["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        "{\"location\":\"Paris\"}"
    );
    assert_eq!(m["reasoning_content"], "Let me think.");
    assert_eq!(m["thinking_blocks"][0]["signature"], "sig_mock");
    let body: Value = serde_json::from_str(&g.upstream("/v1/messages")[0].body).unwrap();
    assert_eq!(body["system"][0]["text"], "You are terse.");
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(body["max_tokens"], 2000);
    assert_eq!(
        body["tools"][0]["input_schema"]["required"],
        json!(["location"])
    );

    // The tool result goes back as a tool_result block with the same id.
    g.mock.clear();
    let mut follow = weather_request("claude-small");
    let msgs = follow["messages"].as_array_mut().unwrap();
    msgs.push(m.clone());
    msgs.push(json!({"role": "tool", "tool_call_id": "toolu_mock_1", "content": "21C and sunny"}));
    let (status, _, answer) = g.post("/v1/chat/completions", &follow).await;
    assert_eq!(status, 200, "{answer}");
    let body: Value = serde_json::from_str(&g.upstream("/v1/messages")[0].body).unwrap();
    assert_eq!(body["max_tokens"], 777);
    assert_eq!(body["messages"][1]["content"][0]["type"], "thinking");
    assert_eq!(
        body["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_mock_1", "content": "21C and sunny"})
    );

    // JSON mode through a forced tool.
    let mut req = chat("claude-test");
    req["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object", "properties": {"answer": {"type": "string"}}}}});
    let (status, _, answer) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "{\"answer\":\"Paris\"}"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(answer["choices"][0]["message"].get("tool_calls").is_none());
}

#[tokio::test]
async fn anthropic_streams_text_tools_and_usage() {
    let g = Gateway::start().await;
    let mut req = chat("claude-test");
    req["stream"] = json!(true);
    let chunks = stream_chunks(&g, &req).await;
    assert_eq!(joined(&chunks, "content"), "Hello from mock anthropic");
    assert_eq!(finish_of(&chunks), vec!["stop"]);
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"].as_array().is_some_and(|a| !a.is_empty())),
        "no usage chunk unless asked"
    );

    req["stream_options"] = json!({"include_usage": true});
    let chunks = stream_chunks(&g, &req).await;
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 19);
    assert_eq!(usage["usage"]["completion_tokens"], 10);

    let mut req = weather_request("claude-test");
    req["stream"] = json!(true);
    req["reasoning_effort"] = json!("medium");
    let chunks = stream_chunks(&g, &req).await;
    assert_eq!(joined(&chunks, "reasoning_content"), "Let me think.");
    assert_eq!(joined(&chunks, "content"), "Let me check.");
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .collect();
    assert_eq!(calls[0]["id"], "toolu_mock_1");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls.iter().all(|c| c["index"] == 0));
    let args: String = calls
        .iter()
        .filter_map(|c| c.pointer("/function/arguments").and_then(Value::as_str))
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"location": "Paris"})
    );
    assert_eq!(finish_of(&chunks), vec!["tool_calls"]);
}

#[tokio::test]
async fn anthropic_errors_name_the_provider() {
    let g = Gateway::start_with(
        |_| None,
        HashMap::from([("anthropic_api_key", "sk-ant-wrong".to_string())]),
    )
    .await;
    let (status, _, body) = g.post("/v1/chat/completions", &chat("claude-test")).await;
    assert_eq!(status, 401, "{body}");
    let e = assert_openai_error(&body);
    assert_eq!(e["message"], "anthropic: invalid x-api-key");
    assert_eq!(e["type"], "authentication_error");
    assert!(!body.to_string().contains("sk-ant-wrong"));

    let g = Gateway::start().await;
    let (status, _, body) = g
        .post("/v1/chat/completions", &chat("claude-err-529"))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(assert_openai_error(&body)["message"]
        .as_str()
        .unwrap()
        .starts_with("anthropic:"));

    g.mock.clear();
    let mut req = chat("claude-test");
    req["n"] = json!(3);
    let (status, _, body) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(assert_openai_error(&body)["param"], "n");
    assert!(
        g.upstream("/v1/messages").is_empty(),
        "rejected before any upstream call"
    );

    let mut req = chat("claude-midstream");
    req["stream"] = json!(true);
    let (status, text) = g.post_stream("/v1/chat/completions", &req).await;
    assert_eq!(status, 200);
    let last = sse_payloads(&text).pop().unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("anthropic: Overloaded"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("data: [DONE]"));
}

#[tokio::test]
async fn gemini_chat_translates_both_ways() {
    let g = Gateway::start().await;
    let (status, _, answer) = g.post("/v1/chat/completions", &chat("gemini-test")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from mock gemini"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["usage"]["total_tokens"], 29);
    let r = &g.upstream(":generateContent")[0];
    assert_eq!(r.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(header(r, "x-goog-api-key"), Some(GEMINI_KEY));
    assert!(!r.path.contains("key="));
    assert!(!format!("{:?}{}", r.headers, r.body).contains(CALLER_KEY));

    // Tool call, then the result round trip: the id made for the call maps back to its name.
    let (status, _, answer) = g
        .post("/v1/chat/completions", &weather_request("gemini-3-test"))
        .await;
    assert_eq!(status, 200, "{answer}");
    let m = answer["choices"][0]["message"].clone();
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let id = m["tool_calls"][0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("call_"));
    assert_eq!(
        m["tool_calls"][0]["function"]["arguments"],
        "{\"location\":\"Paris\"}"
    );
    g.mock.clear();
    let mut follow = weather_request("gemini-3-test");
    let msgs = follow["messages"].as_array_mut().unwrap();
    msgs.push(m);
    msgs.push(json!({"role": "tool", "tool_call_id": id, "content": "{\"temp\":21}"}));
    let (status, _, answer) = g.post("/v1/chat/completions", &follow).await;
    assert_eq!(status, 200, "{answer}");
    let body: Value = serde_json::from_str(&g.upstream(":generateContent")[0].body).unwrap();
    assert_eq!(
        body["systemInstruction"]["parts"][0]["text"],
        "You are terse."
    );
    assert!(body["tools"][0]["functionDeclarations"][0]["parameters"]
        .get("additionalProperties")
        .is_none());
    assert_eq!(
        body["contents"][1]["parts"][0]["thoughtSignature"], "c2lnX21vY2s=",
        "signature returned with the call"
    );
    assert_eq!(
        body["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": "get_weather", "response": {"temp": 21}})
    );

    // JSON mode and thinking.
    let mut req = chat("gemini-test");
    req["response_format"] = json!({"type": "json_object"});
    req["reasoning_effort"] = json!("high");
    let (status, _, answer) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "{\"answer\":\"Paris\"}"
    );
    assert_eq!(
        answer["choices"][0]["message"]["reasoning_content"],
        "Let me think."
    );
    assert_eq!(
        answer["usage"]["completion_tokens_details"]["reasoning_tokens"],
        5
    );
    assert_eq!(answer["usage"]["completion_tokens"], 15);
}

#[tokio::test]
async fn gemini_streams_text_and_tools() {
    let g = Gateway::start().await;
    let mut req = chat("gemini-test");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let chunks = stream_chunks(&g, &req).await;
    assert_eq!(joined(&chunks, "content"), "Hello from mock gemini");
    assert_eq!(finish_of(&chunks), vec!["stop"]);
    assert_eq!(chunks.last().unwrap()["usage"]["prompt_tokens"], 19);
    let r = &g.upstream(":streamGenerateContent")[0];
    assert_eq!(
        r.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );

    let mut req = weather_request("gemini-test");
    req["stream"] = json!(true);
    let chunks = stream_chunks(&g, &req).await;
    let call = chunks
        .iter()
        .find_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .unwrap();
    assert_eq!(call["index"], 0);
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{\"location\":\"Paris\"}");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(finish_of(&chunks), vec!["tool_calls"]);
}

#[tokio::test]
async fn gemini_errors_blocks_and_safety_stops() {
    let g = Gateway::start_with(
        |_| None,
        HashMap::from([("gemini_api_key", "AIza-wrong".to_string())]),
    )
    .await;
    let (status, _, body) = g.post("/v1/chat/completions", &chat("gemini-test")).await;
    assert_eq!(status, 401, "{body}");
    let e = assert_openai_error(&body);
    assert_eq!(
        e["message"],
        "gemini: API key not valid. Please pass a valid API key."
    );
    assert_eq!(e["code"], "API_KEY_INVALID");

    let g = Gateway::start().await;
    for (model, status, code) in [
        ("gemini-blocked", 400, "content_policy_violation"),
        ("gemini-safety", 400, "content_policy_violation"),
        ("gemini-err-429", 429, "RESOURCE_EXHAUSTED"),
    ] {
        let (s, _, body) = g.post("/v1/chat/completions", &chat(model)).await;
        assert_eq!(s, status, "{model}: {body}");
        let e = assert_openai_error(&body);
        assert_eq!(e["code"], code, "{model}");
        assert!(e["message"].as_str().unwrap().starts_with("gemini:"));
        // Streams of a blocked prompt fail before any output: a plain HTTP error too.
        let mut req = chat(model);
        req["stream"] = json!(true);
        let (s, text) = g.post_stream("/v1/chat/completions", &req).await;
        assert_eq!(s, status, "{model} stream: {text}");
    }
    // A tool schema whose $refs would expand exponentially once inlined (as Gemini needs): a
    // 400 naming the tool, before any upstream call.
    let props: serde_json::Map<String, Value> = (0..10)
        .map(|i| (format!("p{i}"), json!({"$ref": "#/$defs/T"})))
        .collect();
    let mut req = chat("gemini-test");
    req["tools"] = json!([{"type": "function", "function": {"name": "f",
        "parameters": {"$defs": {"T": {"type": "object", "properties": props}}, "$ref": "#/$defs/T"}}}]);
    let before = g.upstream(":generateContent").len();
    let (s, _, body) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(
        assert_openai_error(&body)["param"],
        "tools[0].function.parameters"
    );
    assert_eq!(g.upstream(":generateContent").len(), before);

    let mut req = chat("gemini-midstream");
    req["stream"] = json!(true);
    let (status, text) = g.post_stream("/v1/chat/completions", &req).await;
    assert_eq!(status, 200);
    assert!(text.contains("Hello"), "{text}");
    let last = sse_payloads(&text).pop().unwrap();
    assert_eq!(last["error"]["code"], "UNAVAILABLE", "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"));
}

#[tokio::test]
async fn adapters_cannot_reach_other_hosts_or_read_other_keys() {
    let g = Gateway::start_with(
        |mock| {
            let entry = |name: &str, model: &str, extra: &str| {
                format!("  - model_name: {name}\n    litellm_params:\n      model: {model}\n      {extra}\n")
            };
            Some(
                [
                    "model_list:\n".to_string(),
                    entry("claude-other-key", "anthropic/claude-x", "api_key: os.environ/OPENAI_API_KEY"),
                    entry("gemini-other-key", "gemini/gemini-x", "api_key: os.environ/ANTHROPIC_API_KEY"),
                    entry("claude-other-host", "anthropic/claude-x", "api_base: http://127.0.0.1:9"),
                    entry(
                        "gemini-other-host",
                        "gemini/gemini-x",
                        &format!("api_base: {}/v1beta", mock.replace("127.0.0.1", "localhost")),
                    ),
                ]
                .concat(),
            )
        },
        HashMap::new(),
    )
    .await;
    for (model, status, code) in [
        ("claude-other-key", 500, "provider_key_missing"),
        ("gemini-other-key", 500, "provider_key_missing"),
        ("claude-other-host", 502, "upstream_host_not_allowed"),
        ("gemini-other-host", 502, "upstream_host_not_allowed"),
    ] {
        let (s, _, body) = g.post("/v1/chat/completions", &chat(model)).await;
        assert_eq!(s, status, "{model}: {body}");
        assert_eq!(assert_openai_error(&body)["code"], code, "{model}: {body}");
        for secret in [OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY] {
            assert!(!body.to_string().contains(secret), "{model} leaks a key");
        }
    }
    assert!(g.mock.requests().is_empty(), "nothing reached any upstream");
}
