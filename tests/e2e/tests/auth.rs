//! Caller keys through the composed auth component: master key, virtual keys, model access,
//! limits under concurrency, budgets and spend.

use std::collections::HashMap;

use e2e::*;
use serde_json::{json, Value};

/// Per-token prices of the priced test model.
const IN: f64 = 0.000_01;
const OUT: f64 = 0.000_03;

fn priced_config(base: &str) -> Option<String> {
    Some(format!(
        "{}  - model_name: priced\n    litellm_params:\n      model: openai/gpt-4o-mini\n    model_info:\n      input_cost_per_token: {IN}\n      output_cost_per_token: {OUT}\n",
        default_config(base)
    ))
}

async fn call_with(
    g: &Gateway,
    key: &str,
    model: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = g
        .client
        .post(format!("{}/v1/chat/completions", g.url))
        .bearer_auth(key)
        .json(&chat(model))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn generate(g: &Gateway, body: Value) -> String {
    let (status, _, v) = g.post("/key/generate", &body).await;
    assert_eq!(status, 200, "{v}");
    v["key"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn without_a_master_key_everything_is_refused() {
    let g = Gateway::start_with(|_| None, HashMap::from([("master_key", String::new())])).await;
    let (status, _, err) = g.post("/v1/chat/completions", &chat("gpt-test")).await;
    assert_eq!(status, 401);
    let e = assert_openai_error(&err);
    assert_eq!(e["code"], "no_master_key");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("SPIN_VARIABLE_MASTER_KEY"));
    let (status, _, _) = g.get("/v1/models").await;
    assert_eq!(status, 401);
    assert!(g.mock.requests().is_empty());
}

#[tokio::test]
async fn missing_and_wrong_keys_are_401() {
    let g = Gateway::start().await;
    let response = g
        .client
        .post(format!("{}/v1/chat/completions", g.url))
        .json(&chat("gpt-test"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let err: Value = response.json().await.unwrap();
    assert_eq!(assert_openai_error(&err)["code"], "missing_api_key");
    let (status, _, err) = call_with(&g, "sk-wrong", "gpt-test").await;
    assert_eq!(status, 401);
    assert_eq!(assert_openai_error(&err)["code"], "invalid_api_key");
    // Anthropic and Gemini SDKs send the key in their own headers.
    for header in ["x-api-key", "x-goog-api-key"] {
        let response = g
            .client
            .post(format!("{}/v1/chat/completions", g.url))
            .header(header, CALLER_KEY)
            .json(&chat("gpt-test"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{header}");
    }
}

#[tokio::test]
async fn virtual_key_lifecycle() {
    let g = Gateway::start().await;
    let key = generate(&g, json!({"key_alias": "team-a", "models": ["gpt-*"]})).await;
    assert!(key.starts_with("sk-"));
    let (status, headers, answer) = call_with(&g, &key, "gpt-test").await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        headers.get("x-ratelimit-limit-requests").is_none(),
        "no limit, no header"
    );

    // A key reads its own info; the list shows prefixes and aliases only.
    let response = g
        .client
        .get(format!("{}/key/info", g.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["info"]["key_alias"], "team-a");
    let (_, _, list) = g.get("/key/list").await;
    assert_eq!(list["total_count"], 1);
    assert!(!list.to_string().contains(&key) && !info.to_string().contains(&key));
    let response = g
        .client
        .get(format!("{}/key/list", g.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "a virtual key is not an admin");

    // The key sees only its models.
    let response = g
        .client
        .get(format!("{}/v1/models", g.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let listed: Value = response.json().await.unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["gpt-test"]);
    let response = g
        .client
        .get(format!("{}/v1/models/llama-test", g.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // A model outside the key's list is refused before any upstream call.
    g.mock.clear();
    let (status, _, err) = call_with(&g, &key, "llama-test").await;
    assert_eq!(status, 403);
    assert_eq!(assert_openai_error(&err)["code"], "model_not_allowed");
    assert!(g.mock.requests().is_empty());

    // Revoked.
    let (status, _, _) = g
        .post("/key/delete", &json!({"key_aliases": ["team-a"]}))
        .await;
    assert_eq!(status, 200);
    let (status, _, err) = call_with(&g, &key, "gpt-test").await;
    assert_eq!(status, 401);
    assert_eq!(assert_openai_error(&err)["code"], "invalid_api_key");
}

#[tokio::test]
async fn expired_key_is_401() {
    let g = Gateway::start().await;
    let key = generate(&g, json!({"duration": "1s"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, err) = call_with(&g, &key, "gpt-test").await;
    assert_eq!(status, 401);
    assert_eq!(assert_openai_error(&err)["code"], "expired_api_key");
}

#[tokio::test]
async fn rpm_limit_holds_under_concurrency() {
    let g = Gateway::start().await;
    let key = generate(&g, json!({"rpm_limit": 20})).await;
    // Windows are fixed minutes: start well inside one so all 50 requests share it.
    let second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 60;
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second)).await;
    }
    let calls = (0..50).map(|_| call_with(&g, &key, "gpt-test"));
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _, _)| *s == 200).count();
    let limited: Vec<_> = results.iter().filter(|(s, _, _)| *s == 429).collect();
    assert_eq!(ok, 20);
    assert_eq!(limited.len(), 30);
    for (_, headers, err) in &limited {
        assert_eq!(assert_openai_error(err)["code"], "rate_limit_exceeded");
        assert!(headers.get("retry-after").is_some());
        assert_eq!(headers["x-ratelimit-limit-requests"], "20");
        assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    }
    let (_, headers, _) = &results.iter().find(|(s, _, _)| *s == 200).unwrap();
    assert_eq!(headers["x-ratelimit-limit-requests"], "20");
}

#[tokio::test]
async fn tpm_and_budget_exhaustion() {
    let g = Gateway::start_with(priced_config, HashMap::new()).await;
    let key = generate(&g, json!({"tpm_limit": 10})).await;
    assert_eq!(call_with(&g, &key, "gpt-test").await.0, 200);
    let (status, _, err) = call_with(&g, &key, "gpt-test").await;
    assert_eq!(status, 429, "29 tokens used of 10: {err}");
    assert_eq!(assert_openai_error(&err)["code"], "rate_limit_exceeded");

    let key = generate(&g, json!({"max_budget": 0.0001})).await;
    assert_eq!(call_with(&g, &key, "priced").await.0, 200);
    let (status, _, err) = call_with(&g, &key, "priced").await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(assert_openai_error(&err)["code"], "budget_exceeded");
}

#[tokio::test]
async fn spend_equals_tokens_times_price_streamed_or_not() {
    let g = Gateway::start_with(priced_config, HashMap::new()).await;
    let key = generate(&g, json!({"key_alias": "spender"})).await;
    assert_eq!(call_with(&g, &key, "priced").await.0, 200);
    let response = g
        .client
        .post(format!("{}/v1/chat/completions", g.url))
        .bearer_auth(&key)
        .json(&json!({"model": "priced", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("\"choices\":[]"),
        "usage chunk stripped for the client"
    );
    // The mock reports 19 prompt and 10 completion tokens per request.
    let expected = 2.0 * (19.0 * IN + 10.0 * OUT);
    let (_, _, info) = g.get("/key/info?key=spender").await;
    let spend = info["info"]["spend"].as_f64().unwrap();
    assert!(
        (spend - expected).abs() < 1e-6,
        "spend {spend} != {expected}"
    );
    let (status, _, logs) = g.get("/spend/logs").await;
    assert_eq!(status, 200);
    let mine: Vec<&Value> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["model"] == "priced")
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(
        mine.iter().any(|l| l["stream"] == true) && mine.iter().all(|l| l["prompt_tokens"] == 19)
    );
    let (status, _, report) = g.get("/global/spend/report").await;
    assert_eq!(status, 200);
    assert!(report
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["model"] == "priced" && r["requests"] == 2));
    // Neither the key nor anything derived from it is in records, answers or logs.
    for text in [
        logs.to_string(),
        report.to_string(),
        info.to_string(),
        g.logs(),
    ] {
        assert!(!text.contains(&key) && !text.contains(&key[3..]));
    }
}
