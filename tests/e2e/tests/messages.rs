//! The Anthropic Messages front door, `POST /v1/messages`: native passthrough to Anthropic models,
//! translation to and from OpenAI chat for the others, Anthropic-shaped errors.

use e2e::*;
use serde_json::{json, Value};

fn request(model: &str) -> Value {
    json!({"model": model, "max_tokens": 256, "system": "Be terse.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}]})
}

fn assert_anthropic_error(status: u16, text: &str, expected: u16, kind: &str) -> Value {
    assert_eq!(status, expected, "{text}");
    let v: Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    v
}

/// A request with no key, or a wrong one, is Anthropic's 401.
async fn assert_refused_key(g: &Gateway, path: &str, body: &Value, key: Option<&str>) {
    let mut request = g.client.post(format!("{}{path}", g.url)).json(body);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_anthropic_error(status, &text, 401, "authentication_error");
}

#[tokio::test]
async fn anthropic_models_pass_through_natively() {
    let g = Gateway::start().await;
    let mut req = request("claude-test");
    req["top_k"] = json!(5);
    req["metadata"] = json!({"user_id": "u-9"});
    req["system"] =
        json!([{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}]);
    let (status, text) = g.post_messages(&req).await;
    assert_eq!(status, 200, "{text}");
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["type"], "message");
    assert_eq!(m["content"][0]["text"], "Hello from mock anthropic");
    let sent = g.upstream("/v1/messages");
    let r = &sent[0];
    assert_eq!(
        header(r, "x-api-key"),
        Some(ANTHROPIC_KEY),
        "the provider's key, never the caller's"
    );
    let mut body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    body["model"] = req["model"].clone();
    assert_eq!(body, req, "every Anthropic field preserved");

    req["stream"] = json!(true);
    let (status, text) = g.post_messages(&req).await;
    assert_eq!(status, 200, "{text}");
    let names: Vec<String> = sse_events(&text).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert!(names.contains(&"ping".to_string()));

    let (status, _, logs) = g.get("/spend/logs").await;
    assert_eq!(status, 200);
    let routes: Vec<&Value> = logs
        .as_array()
        .map(|l| l.iter().map(|e| &e["route"]).collect())
        .unwrap_or_default();
    assert!(routes.iter().any(|r| *r == "/v1/messages"), "{logs}");
}

#[tokio::test]
async fn other_models_are_translated_to_anthropic_format() {
    let g = Gateway::start().await;
    for model in ["gpt-test", "gemini-test"] {
        let (status, text) = g.post_messages(&request(model)).await;
        assert_eq!(status, 200, "{model}: {text}");
        let m: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(m["type"], "message");
        assert_eq!(m["role"], "assistant");
        assert!(m["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(m["content"][0]["type"], "text");
        assert!(m["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Hello from mock"));
        assert_eq!(m["stop_reason"], "end_turn");
        assert_eq!(m["usage"]["input_tokens"], 19);
        assert_eq!(m["usage"]["output_tokens"], 10);
    }
    let sent: Value = serde_json::from_str(&g.upstream("/chat/completions")[0].body).unwrap();
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be terse."})
    );
    assert_eq!(sent["max_completion_tokens"], 256);

    // Streamed tool use from an OpenAI model arrives as Anthropic events.
    let mut req = request("gpt-test");
    req["stream"] = json!(true);
    req["messages"] = json!([{"role": "user", "content": "What's the weather in Paris?"}]);
    req["tools"] = json!([{"name": "get_weather", "description": "weather", "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]);
    let (status, text) = g.post_messages(&req).await;
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..2], ["message_start", "ping"]);
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    let start = events
        .iter()
        .find(|(n, _)| n == "content_block_start")
        .unwrap();
    assert_eq!(start.1["content_block"]["type"], "tool_use");
    assert_eq!(start.1["content_block"]["name"], "get_weather");
    let json: String = events
        .iter()
        .filter_map(|(_, v)| v.pointer("/delta/partial_json").and_then(Value::as_str))
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        json!({"location": "Paris"})
    );
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 10);
    for (name, v) in &events {
        assert_eq!(v["type"], name.as_str(), "event name matches its type");
    }
}

#[tokio::test]
async fn errors_come_back_in_anthropic_shape() {
    let g = Gateway::start().await;
    let mut req = request("claude-test");
    req.as_object_mut().unwrap().remove("max_tokens");
    let (status, text) = g.post_messages(&req).await;
    assert_anthropic_error(status, &text, 400, "invalid_request_error");
    let (status, text) = g.post_messages(&request("no-such-model")).await;
    assert_anthropic_error(status, &text, 404, "not_found_error");
    assert_refused_key(&g, "/v1/messages", &request("claude-test"), None).await;
    let (status, text) = g.post_messages(&request("err-429")).await;
    assert_anthropic_error(status, &text, 429, "rate_limit_error");
    let mut req = request("gpt-test");
    req["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    let (status, text) = g.post_messages(&req).await;
    assert_anthropic_error(status, &text, 400, "invalid_request_error");

    let mut req = request("midstream");
    req["stream"] = json!(true);
    let (status, text) = g.post_messages(&req).await;
    assert_eq!(status, 200);
    let (name, last) = sse_events(&text).pop().unwrap();
    assert_eq!(name, "error", "{text}");
    assert_eq!(last["type"], "error");
}

/// A `count_tokens` body as Claude Code sends it: no `max_tokens`, system, tools, a tool turn.
fn count_request(model: &str) -> Value {
    json!({"model": model, "system": "Be terse.",
    "tools": [{"name": "get_weather", "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C, clear"}]}
    ]})
}

#[tokio::test]
async fn count_tokens_natively_or_estimated() {
    let g = Gateway::start().await;

    // Anthropic: passed through to /v1/messages/count_tokens with the provider's key.
    let (status, headers, v) = g
        .post("/v1/messages/count_tokens", &count_request("claude-test"))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"input_tokens": 10 * 3 + 5 + 20}),
        "the mock's count"
    );
    assert!(headers.get("x-gateway-token-count").is_none());
    let sent = g.upstream("/v1/messages/count_tokens");
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "x-api-key"), Some(ANTHROPIC_KEY));
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert!(body.get("max_tokens").is_none());

    // Gemini: translated and counted with :countTokens (3 contents, system, tools).
    let (status, _, v) = g
        .post("/v1/messages/count_tokens", &count_request("gemini-test"))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"input_tokens": 3 * 3 + 2 + 10}));
    let sent = g.upstream(":countTokens");
    assert_eq!(sent.len(), 1);
    assert!(sent[0]
        .path
        .ends_with("/v1beta/models/gemini-2.5-flash:countTokens"));
    assert_eq!(header(&sent[0], "x-goog-api-key"), Some(GEMINI_KEY));

    // OpenAI-format providers have no counting API: an estimate, said so, with no upstream call.
    let before = g.upstream("/chat/completions").len();
    let (status, headers, v) = g
        .post("/v1/messages/count_tokens", &count_request("gpt-test"))
        .await;
    assert_eq!(status, 200, "{v}");
    let n = v["input_tokens"].as_u64().unwrap_or(0);
    assert!((40..200).contains(&n), "a plausible estimate: {v}");
    assert_eq!(
        headers
            .get("x-gateway-token-count")
            .and_then(|h| h.to_str().ok()),
        Some("estimate")
    );
    assert_eq!(g.upstream("/chat/completions").len(), before);

    // Nothing was generated, so nothing is spend.
    let (_, _, logs) = g.get("/spend/logs").await;
    assert!(!logs.to_string().contains("count_tokens"), "{logs}");
}

#[tokio::test]
async fn count_tokens_bad_input_gets_anthropic_errors() {
    let g = Gateway::start().await;
    let post = |body: Value| {
        let g = &g;
        async move {
            let (status, _, v) = g.post("/v1/messages/count_tokens", &body).await;
            (status, v.to_string())
        }
    };
    let (s, t) = post(json!({"model": "claude-test"})).await;
    assert_anthropic_error(s, &t, 400, "invalid_request_error");
    let (s, t) = post(json!({"messages": [{"role": "user", "content": "x"}]})).await;
    assert_anthropic_error(s, &t, 400, "invalid_request_error");
    let (s, t) =
        post(json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_anthropic_error(s, &t, 404, "not_found_error");
    let (s, t) =
        post(json!({"model": "claude-test", "messages": [{"role": "system", "content": "x"}]}))
            .await;
    assert_anthropic_error(s, &t, 400, "invalid_request_error");

    assert_refused_key(
        &g,
        "/v1/messages/count_tokens",
        &count_request("claude-test"),
        Some("sk-wrong"),
    )
    .await;
    assert!(
        g.upstream("/count_tokens").is_empty(),
        "no upstream call for refused input"
    );
}
