//! Chat completions through the OpenAI and OpenAI-compatible provider components.

use e2e::*;
use serde_json::{json, Value};

fn upstream_chats(g: &Gateway) -> Vec<mock_providers::Recorded> {
    g.mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .collect()
}

#[tokio::test]
async fn non_streamed_chat_reaches_openai_with_its_key_and_passes_fields_through() {
    let g = Gateway::start().await;
    let mut body = chat("gpt-test");
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]);
    body["seed"] = json!(42);
    body["user"] = json!("u-1");
    body["response_format"] = json!({"type": "text"});
    let (status, _, answer) = g.post("/v1/chat/completions", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["choices"][0]["message"]["content"].is_string());
    assert!(answer["usage"]["total_tokens"].as_u64().unwrap() > 0);

    let seen = upstream_chats(&g);
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        header(r, "authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let sent: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        sent["model"], "gpt-4o-mini",
        "model rewritten to the upstream model"
    );
    for k in ["tools", "seed", "user", "response_format", "messages"] {
        assert_eq!(sent[k], body[k], "{k} passes through unchanged");
    }
    assert!(
        !format!("{:?}", r.headers).contains(CALLER_KEY),
        "caller key never forwarded"
    );
}

#[tokio::test]
async fn same_paths_work_without_v1_prefix() {
    let g = Gateway::start().await;
    let (status, _, answer) = g.post("/chat/completions", &chat("gpt-test")).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _, list) = g.get("/models").await;
    assert_eq!(status, 200);
    assert_eq!(list["object"], "list");
}

#[tokio::test]
async fn streamed_chat_relays_chunks_and_strips_usage_unless_asked() {
    let g = Gateway::start().await;
    let mut body = chat("gpt-test");
    body["stream"] = json!(true);
    let (status, text) = g.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(status, 200);
    let chunks = sse_payloads(&text);
    assert!(chunks.len() >= 3, "{text}");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert!(
        chunks
            .iter()
            .all(|c| !c["choices"].as_array().unwrap().is_empty()),
        "usage chunk stripped: {text}"
    );
    assert!(text.trim_end().ends_with("data: [DONE]"));
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!content.is_empty());
    // The gateway asked the upstream for usage anyway, for accounting.
    let sent: Value = serde_json::from_str(&upstream_chats(&g)[0].body).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);

    body["stream_options"] = json!({"include_usage": true});
    let (_, text) = g.post_stream("/v1/chat/completions", &body).await;
    let chunks = sse_payloads(&text);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
}

async fn first_chunk_arrives_before_upstream_finishes(model: &str) {
    let g = Gateway::start().await;
    let mut body = chat(model);
    body["stream"] = json!(true);
    let (status, mut stream) = g.open_stream("/v1/chat/completions", &body).await;
    assert_eq!(status, 200);
    // The mock holds the rest of the stream until released: this chunk can only be here if the
    // gateway relayed it without waiting for the end.
    let first = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        futures::StreamExt::next(&mut stream),
    )
    .await
    .expect("first chunk arrives while the upstream is still streaming")
    .unwrap()
    .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("data: "));
    g.mock.release_gate();
    let mut rest = String::new();
    while let Some(c) = futures::StreamExt::next(&mut stream).await {
        rest.push_str(&String::from_utf8_lossy(&c.unwrap()));
    }
    assert!(rest.contains("[DONE]"));
}

#[tokio::test]
async fn openai_stream_is_not_buffered() {
    first_chunk_arrives_before_upstream_finishes("gate").await;
}

#[tokio::test]
async fn openai_compatible_stream_is_not_buffered() {
    first_chunk_arrives_before_upstream_finishes("gate-vllm").await;
}

#[tokio::test]
async fn openai_compatible_server_gets_literal_key_and_its_own_base() {
    let g = Gateway::start().await;
    let (status, _, answer) = g.post("/v1/chat/completions", &chat("llama-test")).await;
    assert_eq!(status, 200, "{answer}");
    let r = &upstream_chats(&g)[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        header(r, "authorization"),
        Some(format!("Bearer {VLLM_KEY}").as_str())
    );
    let sent: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(sent["model"], "meta-llama/Llama-3.1-8B-Instruct");

    let mut body = chat("llama-test");
    body["stream"] = json!(true);
    let (status, text) = g.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(status, 200);
    assert!(text.contains("[DONE]"));
}

#[tokio::test]
async fn models_are_listed_from_the_config() {
    let g = Gateway::start().await;
    let (status, _, list) = g.get("/v1/models").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"gpt-test") && ids.contains(&"llama-test"));
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["object"] == "model"));
    let (status, _, one) = g.get("/v1/models/llama-test").await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], "llama-test");
    assert_eq!(one["owned_by"], "openai-compatible");
    let (status, _, err) = g.get("/v1/models/nope").await;
    assert_eq!(status, 404);
    assert_eq!(assert_openai_error(&err)["code"], "model_not_found");
}

#[tokio::test]
async fn health_reports_config_and_keys_without_values() {
    let g = Gateway::start().await;
    let response = g
        .client
        .get(format!("{}/health", g.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let health: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(health["config"]["loaded"], true);
    assert_eq!(
        health["providers"]["openai"]["keys"]["openai_api_key"],
        true
    );
    assert!(!text.contains(OPENAI_KEY));
}
