//! The request log and the usage API end to end: one row per request (whole, streamed, failed
//! upstream, refused by auth) with its fields, paging and filters, rollups equal to the rows,
//! `/key/list` off the SQL key table, `/metrics`, and bad input.

use std::collections::HashMap;

use e2e::*;
use serde_json::{json, Value};

async fn rows(g: &Gateway, query: &str) -> Vec<Value> {
    let (status, _, v) = g.get(&format!("/spend/logs?limit=1000&{query}")).await;
    assert_eq!(status, 200, "{v}");
    v.as_array().unwrap().clone()
}

fn call_id(headers: &reqwest::header::HeaderMap) -> String {
    headers["x-litellm-call-id"].to_str().unwrap().to_string()
}

/// The status of a chat request to `model` made with `key`.
async fn status_with_key(g: &Gateway, key: &str, model: &str) -> u16 {
    g.client
        .post(format!("{}/v1/chat/completions", g.url))
        .bearer_auth(key)
        .json(&chat(model))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A streamed chat request to `gpt-test`: its call id and the events received.
async fn stream_chat(g: &Gateway, content: &str) -> (String, String) {
    let response = g
        .client
        .post(format!("{}/v1/chat/completions", g.url))
        .bearer_auth(CALLER_KEY)
        .json(&json!({"model": "gpt-test", "stream": true, "messages": [{"role": "user", "content": content}]}))
        .send()
        .await
        .unwrap();
    let id = call_id(response.headers());
    (id, response.text().await.unwrap())
}

#[tokio::test]
async fn each_request_is_one_row_with_its_fields() {
    let g = Gateway::start().await;
    let (status, headers, _) = g.post("/v1/chat/completions", &chat("gpt-test")).await;
    assert_eq!(status, 200);
    let whole = call_id(&headers);
    let (streamed, events) = stream_chat(&g, "hi").await;
    assert!(events.contains("[DONE]"));
    let (status, headers, _) = g.post("/v1/chat/completions", &chat("err-500")).await;
    assert!(status >= 500);
    let failed = call_id(&headers);
    assert_eq!(status_with_key(&g, "sk-not-a-key", "gpt-test").await, 401);

    let all = rows(&g, "").await;
    assert_eq!(all.len(), 4, "one row per request: {all:#?}");
    let by_id = |id: &str| -> Value {
        let found: Vec<&Value> = all.iter().filter(|r| r["request_id"] == id).collect();
        assert_eq!(found.len(), 1, "{id} once: {all:#?}");
        found[0].clone()
    };
    let w = by_id(&whole);
    assert_eq!(
        (w["status"].as_i64(), w["stream"].as_bool()),
        (Some(200), Some(false))
    );
    assert_eq!(w["model"], "gpt-test");
    assert_eq!(w["model_group"], "gpt-test");
    assert_eq!(w["provider"], "openai");
    assert_eq!(w["upstream_model"], "gpt-4o-mini");
    assert_eq!(w["key_id"], "master");
    assert_eq!(w["attempts"], 1);
    assert!(w["error_class"].is_null());
    assert!(
        w["messages"].is_null() && w["response"].is_null(),
        "no prompt or answer by default"
    );
    assert!(w["deployment_id"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        (w["prompt_tokens"].as_i64(), w["completion_tokens"].as_i64()),
        (Some(19), Some(10))
    );
    assert!(w["ttft_ms"].is_i64() && w["latency_ms"].is_i64());
    let s = by_id(&streamed);
    assert_eq!(
        (s["status"].as_i64(), s["stream"].as_bool()),
        (Some(200), Some(true))
    );
    assert_eq!(s["total_tokens"], 29);
    let f = by_id(&failed);
    assert_eq!(f["status"].as_i64(), Some(status as i64));
    assert_eq!(f["error_class"], "server");
    assert!(f["attempts"].as_i64().unwrap() >= 1);
    assert!(
        f["deployment_id"].as_str().is_some_and(|d| !d.is_empty()),
        "{f}"
    );
    let refused = rows(&g, "status=401").await;
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert_eq!(refused[0]["error_class"], "invalid_api_key");
    assert_eq!(
        (
            refused[0]["key_id"].as_str(),
            refused[0]["attempts"].as_i64()
        ),
        (Some(""), Some(0))
    );
    assert!(!all.iter().any(|r| r.to_string().contains("sk-not-a-key")));

    // Filters.
    assert_eq!(rows(&g, "status=failure").await.len(), 2);
    assert_eq!(rows(&g, "status=success").await.len(), 2);
    assert_eq!(rows(&g, "model=err-500").await.len(), 1);
    assert_eq!(rows(&g, "key_id=master").await.len(), 3);
    assert_eq!(rows(&g, &format!("request_id={whole}")).await.len(), 1);
    assert_eq!(
        rows(&g, "start_date=2001-01-01&end_date=2001-01-02")
            .await
            .len(),
        0
    );

    // The rollups are the rows' sums.
    let (status, _, report) = g.get("/global/spend/report?group_by=model").await;
    assert_eq!(status, 200, "{report}");
    let total = |v: &Value, f: &str| -> i64 {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r[f].as_i64().unwrap_or(0))
            .sum()
    };
    assert_eq!(total(&report, "requests"), 4);
    assert_eq!(total(&report, "errors"), 2);
    assert_eq!(total(&report, "total_tokens"), 58);
    let (status, _, activity) = g.get("/global/activity").await;
    assert_eq!(status, 200);
    assert_eq!(activity["sum_api_requests"], 4);
    assert_eq!(activity["sum_total_tokens"], 58);
    let (_, _, by_model) = g.get("/global/activity/model").await;
    assert_eq!(by_model[0]["model"], "gpt-test");
    assert_eq!(by_model[0]["sum_api_requests"], 3);
    let (status, _, series) = g.get("/usage/series?bucket=minute&group_by=none").await;
    assert_eq!(status, 200, "{series}");
    let points = series["series"][0]["points"].as_array().unwrap();
    let requests: i64 = points.iter().map(|p| p["requests"].as_i64().unwrap()).sum();
    assert_eq!(requests, 4);
    assert!(points[0]["latency_p50_ms"].is_number());
}

#[tokio::test]
async fn paging_walks_every_row_once() {
    let g = Gateway::start().await;
    for _ in 0..7 {
        assert_eq!(
            g.post("/v1/chat/completions", &chat("gpt-test")).await.0,
            200
        );
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, _, page) = g.get(&format!("/spend/logs?limit=3{cursor}")).await;
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        cursor = format!("&cursor={}", last["cursor"].as_str().unwrap());
        seen.extend(
            page.iter()
                .map(|r| r["request_id"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(seen.len(), 7);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 7);
}

#[tokio::test]
async fn key_list_pages_the_key_table() {
    let g = Gateway::start().await;
    for i in 0..5 {
        let (status, _, v) = g
            .post(
                "/key/generate",
                &json!({"key_alias": format!("k{i}"), "team_id": if i < 2 { "a" } else { "b" }}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }
    let (status, _, page) = g.get("/key/list?page=2&size=2").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["total_count"].as_i64(), page["total_pages"].as_i64()),
        (Some(5), Some(3))
    );
    assert_eq!(page["current_page"], 2);
    assert_eq!(page["keys"].as_array().unwrap().len(), 2);
    assert_eq!(page["keys"][0]["key_alias"], "k2", "newest first");
    let (_, _, team) = g.get("/key/list?team_id=a").await;
    assert_eq!(team["total_count"], 2);
    let (_, _, d) = g.post("/key/delete", &json!({"key_aliases": ["k0"]})).await;
    assert_eq!(d["deleted_keys"].as_array().unwrap().len(), 1);
    let (_, _, all) = g.get("/key/list").await;
    assert_eq!(all["total_count"], 4);
}

#[tokio::test]
async fn metrics_need_the_master_key_or_the_metrics_token() {
    let g = Gateway::start_with(
        |_| None,
        HashMap::from([("metrics_token", "scrape-token-1".to_string())]),
    )
    .await;
    assert_eq!(
        g.post("/v1/chat/completions", &chat("gpt-test")).await.0,
        200
    );
    assert!(g.post("/v1/chat/completions", &chat("err-500")).await.0 >= 500);
    let scrape = |token: Option<&'static str>| {
        let g = &g;
        async move {
            let mut r = g.client.get(format!("{}/metrics", g.url));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            let r = r.send().await.unwrap();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), ct, r.text().await.unwrap())
        }
    };
    let (status, _, body) = scrape(None).await;
    assert_eq!(status, 401, "{body}");
    assert_openai_error(&serde_json::from_str(&body).unwrap());
    assert_eq!(scrape(Some("wrong")).await.0, 401);
    for token in [CALLER_KEY, "scrape-token-1"] {
        let (status, ct, text) = scrape(Some(token)).await;
        assert_eq!(status, 200, "{text}");
        assert!(ct.unwrap().starts_with("text/plain"));
        let requests: f64 = text
            .lines()
            .filter(|l| l.starts_with("litellm_proxy_total_requests_metric_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(requests, 2.0, "{text}");
        assert!(
            text.contains("litellm_proxy_failed_requests_metric_total{requested_model=\"err-500\"")
        );
        assert!(text.contains("litellm_request_total_latency_metric_bucket{"));
        assert!(!text.contains(CALLER_KEY));
    }
}

#[tokio::test]
async fn bad_usage_queries_are_400_naming_the_parameter() {
    let g = Gateway::start().await;
    for (path, param) in [
        ("/spend/logs?start_date=yesterday", "start_date"),
        ("/spend/logs?limit=-1", "limit"),
        ("/spend/logs?limit=100000", "limit"),
        ("/spend/logs?colour=red", "colour"),
        ("/spend/logs?status=teapot", "status"),
        ("/spend/logs?cursor=x", "cursor"),
        (
            "/spend/logs?start_date=2025-02-01&end_date=2025-01-01",
            "end_date",
        ),
        ("/global/spend/report?group_by=colour", "group_by"),
        ("/global/activity?start_date=2025-13-01", "start_date"),
        (
            "/usage/series?bucket=minute&start_date=2025-01-01&end_date=2025-01-05",
            "start_date",
        ),
        ("/usage/series?bucket=week", "bucket"),
        ("/key/list?size=1000", "size"),
        ("/key/list?page=0", "page"),
    ] {
        let (status, _, body) = g.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(assert_openai_error(&body)["param"], param, "{path}");
    }
}

/// `general_settings.disable_spend_logs: true`: answers, limits and budgets as before, but no row,
/// no rollup and no metric count, for answered and refused requests alike.
#[tokio::test]
async fn disabled_spend_logs_write_no_row_but_budgets_still_count() {
    let g = Gateway::start_with(
        |base| {
            Some(format!(
                "{}  - model_name: priced\n    litellm_params:\n      model: openai/gpt-4o-mini\n    model_info:\n      input_cost_per_token: 0.000002\n      output_cost_per_token: 0.000008\ngeneral_settings:\n  disable_spend_logs: true\n",
                default_config(base)
            ))
        },
        HashMap::new(),
    )
    .await;
    let (status, _, v) = g
        .post("/key/generate", &json!({"max_budget": 0.0001}))
        .await;
    assert_eq!(status, 200, "{v}");
    let key = v["key"].as_str().unwrap().to_string();
    assert_eq!(status_with_key(&g, &key, "priced").await, 200);
    assert_eq!(
        status_with_key(&g, &key, "priced").await,
        429,
        "the budget still counts"
    );
    assert_eq!(status_with_key(&g, "sk-not-a-key", "gpt-test").await, 401);
    assert_eq!(
        g.post("/v1/chat/completions", &chat("gpt-test")).await.0,
        200
    );
    assert!(rows(&g, "").await.is_empty());
    let (status, _, report) = g.get("/global/spend/report").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!([]), "no rollup");
}

/// `general_settings.store_prompts_in_spend_logs: true`: each row keeps what was asked and the
/// answer as the caller got it (JSON, or a stream's events), up to 4 KiB each, on both front doors.
#[tokio::test]
async fn stored_prompts_keep_the_question_and_the_answer() {
    let g = Gateway::start_with(
        |base| {
            Some(format!(
                "{}general_settings:\n  store_prompts_in_spend_logs: true\n",
                default_config(base)
            ))
        },
        HashMap::new(),
    )
    .await;
    let (status, headers, answer) = g.post("/v1/chat/completions", &chat("gpt-test")).await;
    assert_eq!(status, 200);
    let whole = call_id(&headers);
    let (streamed, events) = stream_chat(&g, "stream please").await;
    let (status, text) = g
        .post_messages(
            &json!({"model": "gpt-test", "max_tokens": 50, "system": "be brief", "stream": true,
            "messages": [{"role": "user", "content": "hello claude door"}]}),
        )
        .await;
    assert_eq!(status, 200, "{text}");

    let all = rows(&g, "").await;
    let row = |id: &str| all.iter().find(|r| r["request_id"] == id).unwrap().clone();
    let w = row(&whole);
    assert_eq!(
        w["messages"],
        json!({"messages": [{"role": "user", "content": "Say hello"}]})
    );
    assert_eq!(w["response"], answer, "the answer as sent");
    let s = row(&streamed);
    assert_eq!(s["messages"]["messages"][0]["content"], "stream please");
    let kept = s["response"].as_str().unwrap();
    assert!(
        !kept.is_empty() && kept.len() <= 4096 && events.starts_with(kept),
        "a stream's events as text, up to 4 KiB: {kept}"
    );
    let m = all.iter().find(|r| r["route"] == "/v1/messages").unwrap();
    assert_eq!(m["messages"]["system"], "be brief");
    let kept = m["response"].as_str().unwrap();
    assert!(kept.contains("message_start") && text.starts_with(kept));
    assert!(text.contains("message_stop"));
}
