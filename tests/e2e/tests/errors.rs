//! Every client and upstream error the gateway handles, as OpenAI error JSON with the right status.

use std::collections::HashMap;

use e2e::*;
use serde_json::json;

async fn raw_post(
    g: &Gateway,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut req = g
        .client
        .post(format!("{}{path}", g.url))
        .bearer_auth(CALLER_KEY)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}")),
    )
}

#[tokio::test]
async fn client_errors() {
    let g = Gateway::start().await;
    let json_ct = Some("application/json");
    type Case = (
        &'static str,
        Vec<u8>,
        Option<&'static str>,
        u16,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        ("invalid JSON", b"{not json".to_vec(), json_ct, 400, None),
        ("body not an object", b"[1,2]".to_vec(), json_ct, 400, None),
        (
            "missing model",
            br#"{"messages":[{"role":"user","content":"x"}]}"#.to_vec(),
            json_ct,
            400,
            Some("model"),
        ),
        (
            "empty model",
            br#"{"model":"","messages":[{"role":"user","content":"x"}]}"#.to_vec(),
            json_ct,
            400,
            Some("model"),
        ),
        (
            "missing messages",
            br#"{"model":"gpt-test"}"#.to_vec(),
            json_ct,
            400,
            Some("messages"),
        ),
        (
            "messages not a list",
            br#"{"model":"gpt-test","messages":"hi"}"#.to_vec(),
            json_ct,
            400,
            Some("messages"),
        ),
        (
            "stream not a bool",
            br#"{"model":"gpt-test","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#
                .to_vec(),
            json_ct,
            400,
            Some("stream"),
        ),
        (
            "unknown model",
            br#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#.to_vec(),
            json_ct,
            404,
            Some("model"),
        ),
        (
            "wrong content type",
            br#"{"model":"gpt-test","messages":[]}"#.to_vec(),
            Some("text/plain"),
            415,
            None,
        ),
        (
            "form content type",
            b"model=gpt-test".to_vec(),
            Some("application/x-www-form-urlencoded"),
            415,
            None,
        ),
    ];
    for (what, body, ct, status, param) in cases {
        let (got, err) = raw_post(&g, "/v1/chat/completions", ct, body).await;
        assert_eq!(got, status, "{what}: {err}");
        let e = assert_openai_error(&err);
        assert_eq!(e["param"].as_str(), param, "{what}: {err}");
        if status == 404 {
            assert_eq!(e["code"], "model_not_found");
        }
    }
    assert!(
        g.mock.requests().is_empty(),
        "no bad request reached an upstream"
    );
}

#[tokio::test]
async fn unknown_path_and_wrong_method() {
    let g = Gateway::start().await;
    let (status, _, err) = g.get("/v1/nope").await;
    assert_eq!(status, 404);
    assert_eq!(assert_openai_error(&err)["code"], "unknown_url");
    let (status, headers, err) = g.get("/v1/chat/completions").await;
    assert_eq!(status, 405);
    assert_openai_error(&err);
    assert_eq!(headers["allow"], "POST");
    let (status, _, err) = g.post("/v1/models", &json!({})).await;
    assert_eq!(status, 405);
    assert_openai_error(&err);
}

#[tokio::test]
async fn body_over_the_configured_limit_is_413() {
    let g = Gateway::start_with(
        |base| {
            Some(format!(
                "{}general_settings:\n  max_request_size_mb: 0.001\n",
                default_config(base)
            ))
        },
        HashMap::new(),
    )
    .await;
    let mut body = chat("gpt-test");
    body["messages"][0]["content"] = json!("x".repeat(4096));
    let (status, _, err) = g.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 413, "{err}");
    assert_openai_error(&err);
    // Chunked upload without content-length is cut off too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 1024])).collect();
    let response = g
        .client
        .post(format!("{}/v1/chat/completions", g.url))
        .bearer_auth(CALLER_KEY)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn upstream_errors_name_the_provider() {
    let g = Gateway::start().await;
    for (model, expect) in [
        ("err-400", 400),
        ("err-401", 401),
        ("err-429", 429),
        ("err-500", 502),
        ("err-503", 503),
    ] {
        let (status, _, err) = g.post("/v1/chat/completions", &chat(model)).await;
        assert_eq!(status, expect, "{model}: {err}");
        let e = assert_openai_error(&err);
        assert!(
            e["message"].as_str().unwrap().starts_with("openai: "),
            "{model}: {err}"
        );
    }
}

#[tokio::test]
async fn upstream_timeout_is_504() {
    let g = Gateway::start().await;
    let started = std::time::Instant::now();
    let (status, _, err) = g.post("/v1/chat/completions", &chat("hang")).await;
    assert_eq!(status, 504, "{err}");
    assert!(assert_openai_error(&err)["message"]
        .as_str()
        .unwrap()
        .contains("openai"));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn refused_connection_is_502() {
    let g = Gateway::start_with(
        |_| Some("model_list:\n  - model_name: down\n    litellm_params:\n      model: hosted_vllm/x\n      api_base: http://127.0.0.1:1/v1\n".into()),
        HashMap::from([("openai_compatible_origin", "http://127.0.0.1:1".to_string())]),
    )
    .await;
    let (status, _, err) = g.post("/v1/chat/completions", &chat("down")).await;
    assert_eq!(status, 502, "{err}");
    let e = assert_openai_error(&err);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("openai-compatible: "),
        "{err}"
    );
}

#[tokio::test]
async fn mid_stream_upstream_error_ends_the_stream_cleanly() {
    let g = Gateway::start().await;
    let mut body = chat("midstream");
    body["stream"] = json!(true);
    let (status, text) = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        g.post_stream("/v1/chat/completions", &body),
    )
    .await
    .expect("no hang");
    assert_eq!(status, 200);
    assert!(
        sse_payloads(&text).iter().any(|p| p.get("error").is_some()),
        "{text}"
    );
    assert!(text.trim_end().ends_with("data: [DONE]"));
}

#[tokio::test]
async fn missing_provider_key_is_500_naming_the_variable() {
    let g = Gateway::start_with(|_| None, HashMap::from([("openai_api_key", String::new())])).await;
    let (status, _, err) = g.post("/v1/chat/completions", &chat("gpt-test")).await;
    assert_eq!(status, 500, "{err}");
    let e = assert_openai_error(&err);
    assert_eq!(e["code"], "provider_key_missing");
    assert!(e["message"].as_str().unwrap().contains("openai_api_key"));
    assert!(g.mock.requests().is_empty());
    let health: serde_json::Value = g
        .client
        .get(format!("{}/health", g.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health["providers"]["openai"]["keys"]["openai_api_key"],
        false
    );
}

#[tokio::test]
async fn broken_config_is_500_config_error_saying_where() {
    let g = Gateway::start_with(
        |_| {
            Some(
                "model_list:\n  - model_name: x\n    litellm_params:\n      model: azure/x\n"
                    .into(),
            )
        },
        HashMap::new(),
    )
    .await;
    let (status, _, err) = g.post("/v1/chat/completions", &chat("x")).await;
    assert_eq!(status, 500);
    let e = assert_openai_error(&err);
    assert_eq!(e["code"], "config_error");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("model_list[0].litellm_params.model"));
    let (status, _, err) = g.get("/v1/models").await;
    assert_eq!(status, 500);
    assert_eq!(assert_openai_error(&err)["code"], "config_error");
    let response = g
        .client
        .get(format!("{}/health", g.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
}

/// A tool whose parameter schema nests `depth` objects (two JSON levels each).
fn nested_tool(depth: usize) -> serde_json::Value {
    let mut schema = json!({"type": "string"});
    for _ in 0..depth {
        schema = json!({"type": "object", "properties": {"a": schema}});
    }
    json!({"type": "function", "function": {"name": "deep", "parameters": schema}})
}

/// Input nested as deeply as the JSON parser accepts goes through every translator without
/// exhausting the components' 256 KiB wasm stack (.cargo/config.toml): answered, never a trap.
#[tokio::test]
async fn deeply_nested_input_is_answered() {
    let g = Gateway::start().await;
    for model in ["gpt-test", "claude-test", "gemini-test"] {
        let mut body = chat(model);
        body["tools"] = json!([nested_tool(60)]);
        let (status, _, answer) = g.post("/v1/chat/completions", &body).await;
        assert!(status == 200 || status == 400, "{model}: {status} {answer}");
        let (status, text) = g
            .post_messages(&json!({
                "model": model, "max_tokens": 16,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "deep", "input_schema": nested_tool(60)["function"]["parameters"]}],
            }))
            .await;
        assert!(
            status == 200 || status == 400,
            "{model} messages: {status} {text}"
        );
    }
    // Deeper than the parser's limit is a client error, not a crash.
    let mut body = chat("gpt-test");
    body["tools"] = json!([nested_tool(200)]);
    let (status, _, answer) = g.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 400, "{answer}");
}
