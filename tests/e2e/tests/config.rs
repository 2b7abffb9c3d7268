//! The config variable as operators write it: large YAML (parsed once per replica and kept) and
//! JSON (read by the JSON parser), answering exactly as the same config in small YAML does.

use std::collections::HashMap;

use e2e::*;

/// `n` OpenAI models named `m-0`..: well over the 2 KiB from which YAML is cached.
fn many_models(n: usize) -> String {
    let mut yaml = String::from("model_list:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - model_name: m-{i}\n    litellm_params:\n      model: openai/gpt-4o-mini\n      api_key: os.environ/OPENAI_API_KEY\n    model_info:\n      input_cost_per_token: 0.00000025\n"
        ));
    }
    yaml
}

async fn serves_every_model(g: &Gateway, n: usize) {
    for _ in 0..2 {
        let (status, _, list) = g.get("/v1/models").await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["data"].as_array().map(Vec::len), Some(n));
        let (status, _, answer) = g
            .post("/v1/chat/completions", &chat(&format!("m-{}", n - 1)))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
}

#[tokio::test]
async fn a_large_yaml_config_is_served_from_the_replica_cache() {
    let yaml = many_models(40);
    assert!(yaml.len() > 4096);
    let g = Gateway::start_with(|_| Some(yaml), HashMap::new()).await;
    serves_every_model(&g, 40).await;
}

#[tokio::test]
async fn a_json_config_reads_like_its_yaml() {
    let value: serde_json::Value = serde_yaml_ng::from_str(&many_models(3)).unwrap();
    let g = Gateway::start_with(|_| Some(value.to_string()), HashMap::new()).await;
    serves_every_model(&g, 3).await;
}

/// LiteLLM configs often spell out the provider's own endpoint: `openai/` with
/// `api_base: https://api.openai.com/v1` is OpenAI (its component, its key variable, its configured
/// origin: here the mock), not a self-hosted server, which could neither reach it nor hold the key.
#[tokio::test]
async fn a_public_endpoint_as_api_base_routes_to_that_provider() {
    let yaml = "model_list:
  - model_name: gpt-5.4-mini
    litellm_params:
      model: openai/gpt-5.4-mini-2026-03-17
      api_base: https://api.openai.com/v1
      api_key: os.environ/OPENAI_API_KEY
";
    let g = Gateway::start_with(|_| Some(yaml.to_string()), HashMap::new()).await;
    let (status, _, answer) = g.post("/v1/chat/completions", &chat("gpt-5.4-mini")).await;
    assert_eq!(status, 200, "{answer}");
    let sent = g.upstream("/chat/completions");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert!(sent[0].body.contains("gpt-5.4-mini-2026-03-17"));
}

/// The seed's ConfigMap (tests/fixtures/seed-configmap.yaml) loads as pasted, and each model goes
/// through the right provider component: the OpenAI entry (with OpenAI's own api_base) through
/// `provider-openai` with `openai_api_key`, Gemini through `provider-gemini`, and the KServe
/// entry through `provider-openai-compatible`, whose origin here is a wildcard over the cluster's
/// services (it cannot resolve outside a cluster: the 502 names the component's provider and
/// host, and nothing reaches the other providers' upstream).
#[tokio::test]
async fn the_seed_configmap_loads_and_routes_each_model_through_its_provider() {
    let configmap: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/seed-configmap.yaml")).unwrap(),
    )
    .unwrap();
    let config = configmap["data"]["config.yaml"]
        .as_str()
        .unwrap()
        .to_string();
    let vars = HashMap::from([(
        "openai_compatible_origin",
        "http://*.llm-models.svc.cluster.local".to_string(),
    )]);
    let g = Gateway::start_with(|_| Some(config), vars).await;

    let (status, headers, answer) = g.post("/v1/chat/completions", &chat("gpt-5.4-mini")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(headers["x-litellm-model-group"], "gpt-5.4-mini");
    let sent = g.upstream("/chat/completions");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert!(sent[0].body.contains("gpt-5.4-mini-2026-03-17"));

    let (status, _, answer) = g
        .post(
            "/v1/chat/completions",
            &chat("gemini-3.1-flash-lite-preview"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = g.upstream("gemini-3.1-flash-lite-preview:generateContent");
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "x-goog-api-key"), Some(GEMINI_KEY));

    g.mock.clear();
    let (status, _, answer) = g
        .post("/v1/chat/completions", &chat("llama-3.1-8b-instruct"))
        .await;
    assert_eq!(status, 502, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("openai-compatible:"), "{message}");
    assert!(
        message.contains("llama-3-1-8b-instruct-predictor.llm-models.svc.cluster.local"),
        "{message}"
    );
    assert!(
        g.mock.requests().is_empty(),
        "nothing went to another provider"
    );

    let (_, _, health) = g.get("/health").await;
    assert_eq!(health["config"]["deployments"], 3);
    assert_eq!(
        health["config"]["ignored_settings"],
        serde_json::json!(["litellm_settings.set_verbose"])
    );
}
