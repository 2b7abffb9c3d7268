//! `GET /v1/models` and `GET /v1/models/{id}` in OpenAI's list format, from the config.

use serde_json::{json, Value};

use crate::config::Config;
use crate::error::{ApiError, ErrorType};

/// Fixed `created` timestamp: the config has no creation time, and clients only display it.
const CREATED: u64 = 1_700_000_000;

fn model_object(config: &Config, name: &str) -> Value {
    let owner = config
        .deployments_for(name)
        .first()
        .map(|d| d.provider.name())
        .unwrap_or("gateway");
    json!({ "id": name, "object": "model", "created": CREATED, "owned_by": owner })
}

/// The model list, limited to the names `visible` accepts (a caller key's allowed models).
pub fn list(config: &Config, visible: impl Fn(&str) -> bool) -> Value {
    let data: Vec<Value> = config
        .model_names()
        .into_iter()
        .filter(|n| visible(n))
        .map(|n| model_object(config, n))
        .collect();
    json!({ "object": "list", "data": data })
}

/// One model, or 404 `model_not_found`.
pub fn get(config: &Config, id: &str) -> Result<Value, ApiError> {
    if config.deployments_for(id).is_empty() {
        return Err(model_not_found(id));
    }
    Ok(model_object(config, id))
}

/// The 404 OpenAI answers for an unknown model.
pub fn model_not_found(model: &str) -> ApiError {
    ApiError::new(
        404,
        ErrorType::NotFound,
        format!("The model `{model}` does not exist or you do not have access to it."),
    )
    .with_param("model")
    .with_code("model_not_found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_distinct_names() {
        let c = Config::parse("model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n  - model_name: a\n    litellm_params: {model: gemini/y}\n  - model_name: b\n    litellm_params: {model: anthropic/z}\n").unwrap();
        let l = list(&c, |_| true);
        assert_eq!(l["object"], "list");
        assert_eq!(l["data"].as_array().unwrap().len(), 2);
        assert_eq!(list(&c, |n| n == "b")["data"].as_array().unwrap().len(), 1);
        assert_eq!(l["data"][1]["owned_by"], "anthropic");
        assert_eq!(get(&c, "b").unwrap()["id"], "b");
        assert_eq!(
            get(&c, "nope").unwrap_err().code.as_deref(),
            Some("model_not_found")
        );
    }
}
