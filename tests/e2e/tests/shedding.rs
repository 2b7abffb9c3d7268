//! Load shedding: over `general_settings.global_max_parallel_requests` the gateway answers at once
//! with its own 503 and `retry-after` (OpenAI's error shape, Anthropic's on /v1/messages), and a
//! finished request gives its slot back.

use std::collections::HashMap;

use e2e::*;
use serde_json::{json, Value};

#[tokio::test]
async fn over_the_limit_is_a_503_with_retry_after_and_slots_come_back() {
    let g = Gateway::start_with(
        |base| {
            Some(format!(
                "{}general_settings:\n  global_max_parallel_requests: 1\n",
                default_config(base)
            ))
        },
        HashMap::new(),
    )
    .await;
    // One stream held open by the mock fills the only slot.
    let mut body = chat("gate");
    body["stream"] = json!(true);
    let (status, mut stream) = g.open_stream("/v1/chat/completions", &body).await;
    assert_eq!(status, 200);
    let first = futures::StreamExt::next(&mut stream)
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("data: "));

    let (status, headers, err) = g.post("/v1/chat/completions", &chat("gpt-test")).await;
    assert_eq!(status, 503, "{err}");
    assert_eq!(assert_openai_error(&err)["code"], "gateway_overloaded");
    assert_eq!(headers["retry-after"], "1");
    let (status, text) = g
        .post_messages(&json!({"model": "claude-test", "max_tokens": 8,
            "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(status, 503);
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["type"], "error", "Anthropic's shape: {err}");
    // Routes that call no provider are not counted.
    assert_eq!(g.get("/v1/models").await.0, 200);

    g.mock.release_gate();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        chunk.unwrap();
    }
    // The stream's slot is free again (given back after its usage was recorded).
    let mut status = 0;
    for _ in 0..50 {
        status = g.post("/v1/chat/completions", &chat("gpt-test")).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200);
}
