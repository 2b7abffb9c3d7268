//! LiteLLM's model API end to end: runtime models stored in the key-value store and served
//! from the next request; the YAML's models read-only; provider keys only named.

use e2e::*;
use serde_json::{json, Value};

async fn patch(g: &Gateway, path: &str, body: &Value) -> (u16, Value) {
    let r = g
        .client
        .patch(format!("{}{path}", g.url))
        .bearer_auth(CALLER_KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_runtime_model_is_added_called_edited_and_deleted() {
    let g = Gateway::start().await;
    let (status, _, _) = g.post("/v1/chat/completions", &chat("rt-model")).await;
    assert_eq!(status, 404);

    let (status, _, created) = g
        .post(
            "/model/new",
            &json!({"model_name": "rt-model", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY"}, "model_info": {"input_cost_per_token": 0.000001}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["model_id"].as_str().unwrap().to_string();
    assert_eq!(created["model_info"]["db_model"], true);

    // Served from the next request, through the provider with its own key.
    let (status, headers, answer) = g.post("/v1/chat/completions", &chat("rt-model")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(headers["x-litellm-model-id"], id.as_str());
    let (_, _, models) = g.get("/v1/models").await;
    assert!(models.to_string().contains("rt-model"));

    let (status, _, info) = g.get("/model/info").await;
    assert_eq!(status, 200);
    let data = info["data"].as_array().unwrap();
    let yaml = data.iter().find(|m| m["model_name"] == "gpt-test").unwrap();
    assert_eq!(yaml["model_info"]["read_only"], true);
    let runtime = data
        .iter()
        .find(|m| m["model_info"]["id"] == id.as_str())
        .unwrap();
    assert_eq!(
        runtime["litellm_params"]["api_key"],
        "os.environ/OPENAI_API_KEY"
    );
    assert!(!info.to_string().contains(OPENAI_KEY));
    assert!(
        !info.to_string().contains(VLLM_KEY),
        "literal keys are hidden"
    );

    let (status, updated) = patch(
        &g,
        &format!("/model/{id}/update"),
        &json!({"model_name": "rt-renamed"}),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    let (status, _, _) = g.post("/v1/chat/completions", &chat("rt-renamed")).await;
    assert_eq!(status, 200);
    let (status, _, _) = g.post("/v1/chat/completions", &chat("rt-model")).await;
    assert_eq!(status, 404);
    let (status, _, v) = g
        .post(
            "/model/update",
            &json!({"model_info": {"id": id}, "litellm_params": {"model": "azure/x"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(assert_openai_error(&v)["param"], "litellm_params.model");

    let (status, _, _) = g.post("/model/delete", &json!({"id": id})).await;
    assert_eq!(status, 200);
    let (status, _, _) = g.post("/v1/chat/completions", &chat("rt-renamed")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn yaml_models_are_read_only_and_keys_are_never_entered() {
    let g = Gateway::start().await;
    let (_, _, info) = g.get("/model/info").await;
    let yaml_id = info["data"][0]["model_info"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, v) = patch(
        &g,
        &format!("/model/{yaml_id}/update"),
        &json!({"litellm_params": {"rpm": 1}}),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(assert_openai_error(&v)["code"], "model_read_only");
    let (status, _, v) = g.post("/model/delete", &json!({"id": yaml_id})).await;
    assert_eq!(status, 403, "{v}");

    let (status, _, v) = g
        .post("/model/new", &json!({"model_name": "x", "litellm_params": {"model": "openai/x", "api_key": "sk-pasted-secret"}}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(assert_openai_error(&v)["param"], "litellm_params.api_key");
    assert!(!v.to_string().contains("sk-pasted-secret"));
    // A variable the provider component does not have.
    let (status, _, v) = g
        .post("/model/new", &json!({"model_name": "x", "litellm_params": {"model": "openai/x", "api_key": "os.environ/NOT_A_KEY"}}))
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not_a_key"));
    // Same loader errors as the YAML.
    let (status, _, v) = g
        .post(
            "/model/new",
            &json!({"model_name": "x", "litellm_params": {"model": "gpt-4o"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no provider prefix"));
    let (status, _, _) = g.post("/model/new", &json!("text")).await;
    assert_eq!(status, 400);

    // Only the master key manages models.
    let (_, _, key) = g.post("/key/generate", &json!({})).await;
    let r = g
        .client
        .get(format!("{}/model/info", g.url))
        .bearer_auth(key["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
