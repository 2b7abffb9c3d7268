//! Isolation: private provider routes, per-provider outbound allowlists, keys kept apart.

use e2e::*;

#[tokio::test]
async fn provider_routes_are_private() {
    let g = Gateway::start().await;
    // Spin removes a service-chaining Host and, left without an authority, drops the connection
    // without an answer: an outside request reaches no component at all.
    let health = g
        .client
        .get(format!("{}/health", g.url))
        .header("host", "provider-openai.spin.internal")
        .send()
        .await;
    assert!(health.is_err(), "answered: {health:?}");
    let chat = g
        .client
        .post(format!("{}/chat/completions", g.url))
        .bearer_auth(CALLER_KEY)
        .header("host", "provider-openai.spin.internal")
        .header("x-gateway-key-variable", "openai_api_key")
        .json(&serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await;
    assert!(chat.is_err(), "answered: {chat:?}");
    assert!(g.mock.requests().is_empty());
}

#[tokio::test]
async fn provider_cannot_reach_a_host_outside_its_allowlist() {
    let g = Gateway::start().await;
    let (status, _, err) = g
        .post("/v1/chat/completions", &chat("outside-allowlist"))
        .await;
    assert_eq!(status, 502, "{err}");
    let e = assert_openai_error(&err);
    assert_eq!(e["code"], "upstream_host_not_allowed");
    assert!(e["message"].as_str().unwrap().contains("127.0.0.1:9"));
    assert!(
        g.logs().contains("127.0.0.1:9"),
        "the host logs the denied host like Spin does"
    );
}

#[tokio::test]
async fn a_provider_cannot_read_another_providers_key() {
    // A config that tells the OpenAI adapter to use the Anthropic key variable must fail: the
    // variable is not mapped into provider-openai.
    let g = Gateway::start_with(
        |_| Some("model_list:\n  - model_name: steal\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: os.environ/ANTHROPIC_API_KEY\n".into()),
        Default::default(),
    )
    .await;
    let (status, _, err) = g.post("/v1/chat/completions", &chat("steal")).await;
    assert_eq!(status, 500, "{err}");
    let text = err.to_string();
    assert!(text.contains("anthropic_api_key") && !text.contains(ANTHROPIC_KEY));
    assert!(g.mock.requests().is_empty());
}

#[tokio::test]
async fn secrets_never_appear_in_logs_or_answers() {
    let g = Gateway::start().await;
    let mut answers = String::new();
    for model in [
        "gpt-test",
        "llama-test",
        "err-401",
        "outside-allowlist",
        "nope",
    ] {
        let (_, _, body) = g.post("/v1/chat/completions", &chat(model)).await;
        answers.push_str(&body.to_string());
    }
    let logs = g.logs();
    for secret in [OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, CALLER_KEY] {
        assert!(!answers.contains(secret), "answer leaks a secret");
        assert!(!logs.contains(secret), "log leaks a secret");
    }
    for r in g.mock.requests() {
        assert!(
            !format!("{r:?}").contains(CALLER_KEY),
            "caller key reached an upstream"
        );
    }
}
