//! Routing under provider trouble, end to end on the test host against the mocks' scripted
//! failures: retries, no retry of the caller's mistakes, fallbacks to another group and another
//! provider, typed (context-window) fallbacks, shared cooldowns, all cooling → 429, `order`,
//! weights, `stream_timeout`, the overall deadline, and the `x-litellm-*` headers.

use std::collections::HashMap;

use e2e::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

fn config(base: &str) -> String {
    let _ = base;
    r#"model_list:
  - {model_name: gpt-test, litellm_params: {model: openai/gpt-4o-mini}}
  - {model_name: claude-test, litellm_params: {model: anthropic/claude-sonnet-4-5}}
  - {model_name: gemini-long, litellm_params: {model: gemini/gemini-2.5-flash}}
  - {model_name: flaky, litellm_params: {model: openai/mock-fail-1-503-flaky}, model_info: {id: flaky-1}}
  - {model_name: limited, litellm_params: {model: openai/mock-fail-1-429-limited}}
  - {model_name: e400, litellm_params: {model: openai/mock-fail-9-400-e400}}
  - {model_name: e401, litellm_params: {model: openai/mock-fail-9-401-e401}}
  - {model_name: e404, litellm_params: {model: openai/mock-fail-9-404-e404}}
  - {model_name: down, litellm_params: {model: openai/mock-error-503}, model_info: {id: down-1}}
  - {model_name: ctx, litellm_params: {model: openai/mock-context-window}}
  - {model_name: pair, litellm_params: {model: openai/mock-retry-after-30-pair}, model_info: {id: pair-bad}}
  - {model_name: pair, litellm_params: {model: openai/gpt-4o-mini}, model_info: {id: pair-good}}
  - {model_name: cooling, litellm_params: {model: openai/mock-retry-after-30-c1}, model_info: {id: c1}}
  - {model_name: cooling, litellm_params: {model: openai/mock-retry-after-45-c2}, model_info: {id: c2}}
  - {model_name: ordered, litellm_params: {model: openai/gpt-4o-mini, order: 2}, model_info: {id: second}}
  - {model_name: ordered, litellm_params: {model: openai/gpt-4o-mini, order: 1}, model_info: {id: first}}
  - {model_name: weighted, litellm_params: {model: openai/gpt-4o-mini, weight: 3}, model_info: {id: heavy}}
  - {model_name: weighted, litellm_params: {model: openai/gpt-4o-mini, weight: 1}, model_info: {id: light}}
  - {model_name: slow-start, litellm_params: {model: openai/mock-first-event-after-3000, stream_timeout: 0.3}}
  - {model_name: stubborn, litellm_params: {model: openai/mock-fail-99-503-stubborn, num_retries: 9}}
  - {model_name: rpm-two, litellm_params: {model: openai/gpt-4o-mini, rpm: 2}, model_info: {id: rpm-two}}
  - {model_name: claude-dropping, litellm_params: {model: anthropic/claude-sonnet-4-5, drop_params: true}}
  - {model_name: gpt-dropping, litellm_params: {model: openai/gpt-4o-mini, additional_drop_params: [user]}}
router_settings:
  total_timeout: 2
  fallbacks: [{down: [claude-test]}, {slow-start: [gpt-test]}]
  context_window_fallbacks: [{ctx: [gemini-long]}]
litellm_settings:
  set_verbose: true
"#
    .to_string()
}

async fn gateway() -> Gateway {
    Gateway::start_with(|base| Some(config(base)), HashMap::new()).await
}

fn h<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("header {name} missing: {headers:?}"))
}

fn calls(g: &Gateway, model_part: &str) -> usize {
    g.mock
        .requests()
        .iter()
        .filter(|r| r.body.contains(model_part))
        .count()
}

#[tokio::test]
async fn retries_then_answers_and_says_so_in_the_headers() {
    let g = gateway().await;
    let (status, headers, body) = g.post("/v1/chat/completions", &chat("flaky")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(calls(&g, "mock-fail-1-503-flaky"), 2);
    assert_eq!(h(&headers, "x-litellm-model-id"), "flaky-1");
    assert_eq!(h(&headers, "x-litellm-model-group"), "flaky");
    assert_eq!(h(&headers, "x-litellm-attempted-retries"), "1");
    assert_eq!(h(&headers, "x-litellm-max-retries"), "2");
    assert_eq!(h(&headers, "x-litellm-attempted-fallbacks"), "0");
    assert!(h(&headers, "x-litellm-model-api-base").starts_with("http://127.0.0.1"));
    assert_eq!(h(&headers, "x-litellm-call-id").len(), 36);
    assert!(h(&headers, "x-litellm-response-cost")
        .parse::<f64>()
        .is_ok());
    let total: f64 = h(&headers, "x-litellm-response-duration-ms")
        .parse()
        .unwrap();
    let overhead: f64 = h(&headers, "x-litellm-overhead-duration-ms")
        .parse()
        .unwrap();
    assert!(overhead <= total, "{overhead} > {total}");
    let (_, headers, _) = g.post("/v1/chat/completions", &chat("gpt-test")).await;
    let cost: f64 = h(&headers, "x-litellm-response-cost").parse().unwrap();
    assert!(cost > 0.0, "gpt-4o-mini has a price");
    // A 429 with `retry-after: 0` is retried as well.
    let (status, _, _) = g.post("/v1/chat/completions", &chat("limited")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_callers_mistakes_are_never_retried() {
    let g = gateway().await;
    for (model, status) in [("e400", 400), ("e401", 401), ("e404", 404)] {
        let (got, headers, body) = g.post("/v1/chat/completions", &chat(model)).await;
        assert_eq!(got, status, "{body}");
        assert_openai_error(&body);
        assert_eq!(
            calls(&g, &format!("mock-fail-9-{status}-{model}")),
            1,
            "{model}"
        );
        assert_eq!(h(&headers, "x-litellm-attempted-retries"), "0");
    }
}

#[tokio::test]
async fn falls_back_to_another_provider_invisibly_but_in_the_headers() {
    let g = gateway().await;
    let (status, headers, body) = g.post("/v1/chat/completions", &chat("down")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        calls(&g, "mock-error-503"),
        3,
        "the group's two retries first"
    );
    assert_eq!(g.upstream("/v1/messages").len(), 1, "then Anthropic");
    assert_eq!(h(&headers, "x-litellm-model-group"), "claude-test");
    assert_eq!(h(&headers, "x-litellm-attempted-fallbacks"), "1");
    assert_eq!(h(&headers, "x-litellm-attempted-retries"), "2");
    // Per request: no fallbacks.
    let mut req = chat("down");
    req["disable_fallbacks"] = json!(true);
    req["num_retries"] = json!(0);
    let (status, headers, body) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(h(&headers, "x-litellm-max-retries"), "0");
    // The routing keys never reach a provider.
    assert!(g
        .mock
        .requests()
        .iter()
        .all(|r| !r.body.contains("disable_fallbacks")));
    // Per request: fallbacks of the caller's choosing, even to Gemini.
    let mut req = chat("down");
    req["fallbacks"] = json!(["gemini-long"]);
    let (status, headers, _) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 200);
    assert_eq!(h(&headers, "x-litellm-model-group"), "gemini-long");
}

#[tokio::test]
async fn a_context_window_error_takes_the_typed_fallback() {
    let g = gateway().await;
    let (status, headers, body) = g.post("/v1/chat/completions", &chat("ctx")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(calls(&g, "mock-context-window"), 1, "a 400 is not retried");
    assert_eq!(h(&headers, "x-litellm-model-group"), "gemini-long");
}

#[tokio::test]
async fn a_429_cools_the_deployment_for_every_later_request() {
    let g = gateway().await;
    // Until the random order has picked the failing deployment once.
    for _ in 0..40 {
        let (status, headers, _) = g.post("/v1/chat/completions", &chat("pair")).await;
        assert_eq!(status, 200);
        assert_eq!(h(&headers, "x-litellm-model-id"), "pair-good");
        if calls(&g, "mock-retry-after-30-pair") > 0 {
            break;
        }
    }
    assert_eq!(calls(&g, "mock-retry-after-30-pair"), 1);
    // Later requests (other instances) never try the cooling deployment.
    for _ in 0..10 {
        let (status, headers, _) = g.post("/v1/chat/completions", &chat("pair")).await;
        assert_eq!(status, 200);
        assert_eq!(h(&headers, "x-litellm-model-id"), "pair-good");
    }
    assert_eq!(calls(&g, "mock-retry-after-30-pair"), 1);
    let (_, _, health) = g.get("/health").await;
    let deployments = health["deployments"].as_array().unwrap();
    let find = |id: &str| deployments.iter().find(|d| d["id"] == id).unwrap().clone();
    let bad = find("pair-bad");
    assert_eq!(bad["state"], "cooling", "{bad}");
    assert_eq!(bad["cooling_because"]["error"], "rate_limit");
    assert_eq!(bad["last_failure"]["status"], 429);
    assert_eq!(find("pair-good")["state"], "healthy");
    assert_eq!(
        health["config"]["ignored_settings"],
        json!(["litellm_settings.set_verbose"])
    );
}

#[tokio::test]
async fn all_cooling_is_a_429_with_the_shortest_retry_after() {
    let g = gateway().await;
    let (status, headers, body) = g.post("/v1/chat/completions", &chat("cooling")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        calls(&g, "mock-retry-after-"),
        2,
        "each deployment once, then both cool"
    );
    assert!(h(&headers, "retry-after").parse::<u64>().is_ok());
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("cooling/c1: 429 rate_limit"), "{message}");
    assert!(message.contains("cooling/c2: 429 rate_limit"), "{message}");
    // The next request is answered by the gateway at once, without a call.
    let (status, headers, body) = g.post("/v1/chat/completions", &chat("cooling")).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "deployments_cooling_down");
    let wait: u64 = h(&headers, "retry-after").parse().unwrap();
    assert!((25..=30).contains(&wait), "{wait}");
    assert_eq!(calls(&g, "mock-retry-after-"), 2);
}

#[tokio::test]
async fn order_is_always_honoured_and_weights_shape_the_traffic() {
    let g = gateway().await;
    for _ in 0..20 {
        let (_, headers, _) = g.post("/v1/chat/completions", &chat("ordered")).await;
        assert_eq!(h(&headers, "x-litellm-model-id"), "first");
    }
    let mut heavy = 0;
    for _ in 0..300 {
        let (_, headers, _) = g.post("/v1/chat/completions", &chat("weighted")).await;
        if h(&headers, "x-litellm-model-id") == "heavy" {
            heavy += 1;
        }
    }
    // weight 3 : 1 → 75 %; random, so a wide band (p < 1e-6 outside it).
    assert!((180..=270).contains(&heavy), "{heavy} of 300");
}

#[tokio::test]
async fn a_slow_first_chunk_falls_back_before_anything_is_sent() {
    let g = gateway().await;
    let mut req = chat("slow-start");
    req["stream"] = json!(true);
    let started = std::time::Instant::now();
    let (status, text) = g.post_stream("/v1/chat/completions", &req).await;
    assert_eq!(status, 200);
    assert!(started.elapsed().as_millis() < 2_500);
    let chunks = sse_payloads(&text);
    assert_eq!(
        joined(&chunks, "content"),
        "Hello from mock openai",
        "{text}"
    );
    assert!(!text.contains("\"error\""), "{text}");
}

#[tokio::test]
async fn one_deadline_covers_every_retry() {
    let g = gateway().await;
    let started = std::time::Instant::now();
    let (status, _, body) = g.post("/v1/chat/completions", &chat("stubborn")).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "deadline_exceeded");
    assert!(started.elapsed().as_millis() < 4_000);
    // 0.5 s + 1 s backoffs fit in 2 s; the next (2 s) does not.
    assert_eq!(calls(&g, "mock-fail-99-503-stubborn"), 3);
}

#[tokio::test]
async fn bad_routing_options_are_400s_naming_the_param() {
    let g = gateway().await;
    let mut req = chat("gpt-test");
    req["num_retries"] = json!("many");
    let (status, _, body) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 400);
    assert_eq!(assert_openai_error(&body)["param"], "num_retries");
    let value: Value = g.mock.requests().len().into();
    assert_eq!(value, 0);
}

#[tokio::test]
async fn a_deployments_own_rpm_is_enforced_exactly() {
    let g = gateway().await;
    for _ in 0..2 {
        let (status, _, body) = g.post("/v1/chat/completions", &chat("rpm-two")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, headers, body) = g.post("/v1/chat/completions", &chat("rpm-two")).await;
    // (A minute boundary between the calls would reset the window: then this one passes.)
    if status != 200 {
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["error"]["code"], "deployments_cooling_down");
        let wait: u64 = h(&headers, "retry-after").parse().unwrap();
        assert!((1..=60).contains(&wait));
        assert_eq!(calls(&g, "gpt-4o-mini"), 2);
    }
}

#[tokio::test]
async fn drop_params_drops_what_a_provider_cannot_honour_instead_of_a_400() {
    let g = gateway().await;
    let mut req = chat("claude-test");
    req["logprobs"] = json!(true);
    let (status, _, body) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 400, "the default stays a 400: {body}");
    assert_eq!(body["error"]["code"], "unsupported_parameter");
    req["drop_params"] = json!(true);
    let (status, _, body) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 200, "{body}");
    // A deployment's own drop_params.
    let mut req = chat("claude-dropping");
    req["logprobs"] = json!(true);
    let (status, _, body) = g.post("/v1/chat/completions", &req).await;
    assert_eq!(status, 200, "{body}");
    // additional_drop_params: removed for that deployment only.
    for (model, kept) in [("gpt-test", true), ("gpt-dropping", false)] {
        let mut req = chat(model);
        req["user"] = json!("user-123");
        g.mock.clear();
        let (status, _, body) = g.post("/v1/chat/completions", &req).await;
        assert_eq!(status, 200, "{body}");
        let sent = g.upstream("/chat/completions");
        assert_eq!(sent[0].body.contains("user-123"), kept, "{model}");
    }
}
