//! Runtime models: deployments added through LiteLLM's model API (`POST /model/new`,
//! `POST /model/update`, `PATCH /model/{id}/update`, `POST /model/delete`, `GET /model/info`),
//! kept in the shared key-value store and appended to the config's `model_list`.
//!
//! A runtime model goes through the same loader as the YAML ([`Config::from_value`], same
//! errors, its path made relative to the entry), plus one rule of its own: a provider key is
//! never entered, only named (`os.environ/NAME`). Models of the YAML config are read-only here.

use serde_json::{json, Map, Value};

use crate::config::{Config, ConfigError, Deployment, KeySource, Provider};
use crate::error::{ApiError, ErrorType};

/// Key of the stored runtime models (`{"version", "models"}`) in the shared `default` store.
pub const MODELS_KEY: &str = "models/runtime";
/// Key of the stored version alone (a short read, compared by every replica).
pub const VERSION_KEY: &str = "models/version";
/// How often a replica asks the shared store whether the runtime models changed.
pub const REFRESH_MS: u64 = 1_000;

/// A model API path (without `/v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelPath {
    /// `POST /model/new`.
    New,
    /// `POST /model/update` (the id in `model_info.id`).
    Update,
    /// `PATCH /model/{id}/update`.
    UpdateById(String),
    /// `POST /model/delete`.
    Delete,
    /// `GET /model/info`.
    Info,
}

impl ModelPath {
    /// The model API path and its method, if `path` is one.
    pub fn resolve(path: &str) -> Option<(ModelPath, &'static str)> {
        match path {
            "/model/new" => Some((ModelPath::New, "POST")),
            "/model/update" => Some((ModelPath::Update, "POST")),
            "/model/delete" => Some((ModelPath::Delete, "POST")),
            "/model/info" => Some((ModelPath::Info, "GET")),
            other => other
                .strip_prefix("/model/")
                .and_then(|rest| rest.strip_suffix("/update"))
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .map(|id| (ModelPath::UpdateById(id.to_string()), "PATCH")),
        }
    }
}

/// The runtime models as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeModels {
    /// Changes with every write; empty before the first.
    pub version: String,
    /// `model_list` entries, each with its `model_info.id`.
    pub models: Vec<Value>,
}

impl RuntimeModels {
    /// Reads the stored JSON; anything unreadable counts as no runtime models.
    pub fn from_json(bytes: &[u8]) -> RuntimeModels {
        let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(bytes) else {
            return RuntimeModels::default();
        };
        RuntimeModels {
            version: doc
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            models: doc
                .get("models")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The JSON to store.
    pub fn to_json(&self) -> Vec<u8> {
        json!({ "version": self.version, "models": self.models })
            .to_string()
            .into_bytes()
    }

    /// Appends the runtime entries to a config document's `model_list`.
    pub fn merge_into(&self, doc: &mut Value) {
        if let Some(list) = doc.get_mut("model_list").and_then(Value::as_array_mut) {
            list.extend(self.models.iter().cloned());
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.models.iter().position(|m| entry_id(m) == Some(id))
    }
}

/// A validated change: the runtime models to store, the answer, and the key variable the
/// provider component must confirm it has (`(provider, variable)`), if one is named.
#[derive(Debug)]
pub struct Change {
    /// The new stored list (its version still to be set by the caller).
    pub models: Vec<Value>,
    /// The JSON answer.
    pub answer: Value,
    /// A key variable named by the entry, to be confirmed as set before storing.
    pub key_variable: Option<(Provider, String)>,
}

fn entry_id(entry: &Value) -> Option<&str> {
    entry.get("model_info")?.get("id")?.as_str()
}

fn body_object<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ApiError> {
    body.as_object().ok_or_else(|| {
        ApiError::bad_request(format!("The request body must be a JSON object ({what})"))
            .with_code("invalid_json")
    })
}

/// `POST /model/new`: a new runtime deployment with id `new_id` (unless `model_info.id` names
/// an unused one).
pub fn create(
    base: &Value,
    stored: &RuntimeModels,
    body: &Value,
    new_id: &str,
) -> Result<Change, ApiError> {
    let body = body_object(body, "a model_list entry")?;
    let mut entry = entry_fields(body)?;
    let info = entry
        .get_mut("model_info")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ApiError::internal("model_info missing after normalising"))?;
    let id = match info
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(id) => id.to_string(),
        None => new_id.to_string(),
    };
    info.insert("id".into(), Value::String(id.clone()));
    let base_config = base_config(base, stored)?;
    if base_config.deployments.iter().any(|d| d.id == id) {
        return Err(ApiError::bad_request(format!(
            "A deployment with id `{id}` already exists; choose another `model_info.id` or leave it out"
        ))
        .with_param("model_info.id")
        .with_code("model_id_exists"));
    }
    let mut models = stored.models.clone();
    models.push(entry.clone());
    let deployment = validate(base, &models, models.len() - 1)?;
    Ok(Change {
        key_variable: named_variable(&entry, &deployment),
        answer: answer_entry(&entry, &deployment, true),
        models,
    })
}

/// `POST /model/update` (`id` from `model_info.id`) and `PATCH /model/{id}/update`: merges the
/// given fields into a runtime deployment (`litellm_params` and `model_info` key by key; a null
/// removes a key).
pub fn update(
    base: &Value,
    stored: &RuntimeModels,
    id: Option<&str>,
    body: &Value,
) -> Result<Change, ApiError> {
    let body = body_object(body, "the fields to change")?;
    let id = match id {
        Some(id) => id.to_string(),
        None => body
            .get("model_info")
            .and_then(|i| i.get("id"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::bad_request("Name the deployment to update in `model_info.id`")
                    .with_param("model_info.id")
            })?,
    };
    let index = runtime_index(base, stored, &id, "updated")?;
    let mut entry = stored.models[index].clone();
    let changes = entry_fields_partial(body)?;
    for (field, value) in changes {
        match (field.as_str(), value) {
            ("model_name", v) => {
                entry["model_name"] = v;
            }
            (section, Value::Object(fields)) => {
                let target = entry
                    .as_object_mut()
                    .map(|e| e.entry(section).or_insert_with(|| json!({})));
                if let Some(Value::Object(target)) = target {
                    for (k, v) in fields {
                        if section == "model_info" && k == "id" {
                            continue;
                        }
                        if v.is_null() {
                            target.remove(&k);
                        } else {
                            target.insert(k, v);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut models = stored.models.clone();
    models[index] = entry.clone();
    let deployment = validate(base, &models, index)?;
    Ok(Change {
        key_variable: named_variable(&entry, &deployment),
        answer: answer_entry(&entry, &deployment, true),
        models,
    })
}

/// `POST /model/delete` (`{"id": ...}`).
pub fn delete(base: &Value, stored: &RuntimeModels, body: &Value) -> Result<Change, ApiError> {
    let body = body_object(body, "`{\"id\": ...}`")?;
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("Name the deployment to delete: `{\"id\": \"...\"}`")
                .with_param("id")
        })?;
    let index = runtime_index(base, stored, id, "deleted")?;
    let mut models = stored.models.clone();
    models.remove(index);
    Ok(Change {
        models,
        answer: json!({ "message": format!("Model {id} deleted"), "id": id }),
        key_variable: None,
    })
}

/// `GET /model/info`: every deployment, YAML ones marked read-only, in LiteLLM's shape
/// (`{"data": [{"model_name", "litellm_params", "model_info"}]}`), optionally only the one
/// with `litellm_model_id`. Provider keys never appear: only `os.environ/NAME` references.
pub fn info(config: &Config, merged: &Value, id: Option<&str>) -> Value {
    let entries = merged
        .get("model_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let runtime_from = entries.len().saturating_sub(runtime_count(merged));
    let data: Vec<Value> = config
        .deployments
        .iter()
        .zip(entries.iter())
        .enumerate()
        .filter(|(_, (d, _))| id.is_none_or(|id| d.id == id))
        .map(|(i, (d, entry))| answer_entry(entry, d, i >= runtime_from))
        .collect();
    json!({ "data": data })
}

/// How many entries at the end of a merged document are runtime models (recorded by
/// [`merged_document`]).
fn runtime_count(merged: &Value) -> usize {
    merged
        .get(RUNTIME_COUNT)
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize
}

/// Document key recording how many runtime entries were appended (ignored by the loader).
const RUNTIME_COUNT: &str = "x-runtime-models";

/// The config document with the runtime models appended (and counted for [`info`]).
pub fn merged_document(base: &Value, stored: &RuntimeModels) -> Value {
    let mut doc = base.clone();
    stored.merge_into(&mut doc);
    if let Some(root) = doc.as_object_mut() {
        root.insert(RUNTIME_COUNT.into(), json!(stored.models.len()));
    }
    doc
}

/// The config of the base document with the stored runtime models (for id checks).
fn base_config(base: &Value, stored: &RuntimeModels) -> Result<Config, ApiError> {
    Config::from_value(&merged_document(base, stored)).map_err(ApiError::from)
}

/// The index of runtime deployment `id`, or why it cannot be `verb`.
fn runtime_index(
    base: &Value,
    stored: &RuntimeModels,
    id: &str,
    verb: &str,
) -> Result<usize, ApiError> {
    if let Some(i) = stored.position(id) {
        return Ok(i);
    }
    let yaml = Config::from_value(base)
        .ok()
        .and_then(|c| c.deployments.into_iter().find(|d| d.id == id));
    match yaml {
        Some(d) => Err(ApiError::new(
            403,
            ErrorType::Permission,
            format!(
                "Deployment `{id}` of model `{}` comes from the YAML config and is read-only: it cannot be {verb} through the API. Change the config (the `gateway_config` variable or gateway.yaml) instead.",
                d.model_name
            ),
        )
        .with_code("model_read_only")),
        None => Err(ApiError::new(
            404,
            ErrorType::NotFound,
            format!("No deployment has the id `{id}`"),
        )
        .with_code("model_not_found")),
    }
}

/// Checks the whole config with `models` appended and returns the deployment at `index` of
/// them; a loader error about that entry becomes a 400 naming the field.
fn validate(base: &Value, models: &[Value], index: usize) -> Result<Deployment, ApiError> {
    let stored = RuntimeModels {
        version: String::new(),
        models: models.to_vec(),
    };
    let base_len = base
        .get("model_list")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    match Config::from_value(&merged_document(base, &stored)) {
        Ok(mut config) => {
            if config.deployments.len() <= base_len + index {
                return Err(ApiError::internal("the runtime model was not loaded"));
            }
            Ok(config.deployments.swap_remove(base_len + index))
        }
        Err(e) => Err(entry_error(e, &format!("model_list[{}]", base_len + index))),
    }
}

/// A loader error about the entry at `prefix` as a 400 naming its field; others as they are.
fn entry_error(e: ConfigError, prefix: &str) -> ApiError {
    match e.path.strip_prefix(prefix) {
        Some(rest) => {
            let param = rest.trim_start_matches('.');
            let param = if param.is_empty() { "(entry)" } else { param };
            ApiError::bad_request(format!("{param}: {}", e.message))
                .with_param(param)
                .with_code("invalid_model")
        }
        None => ApiError::from(e),
    }
}

/// The three fields of a `model_list` entry from a request body, refusing other fields and
/// literal keys; `model_info` always present.
fn entry_fields(body: &Map<String, Value>) -> Result<Value, ApiError> {
    let mut entry = entry_fields_partial(body)?;
    for required in ["model_name", "litellm_params"] {
        if !entry.contains_key(required) {
            return Err(ApiError::bad_request(format!("{required}: missing")).with_param(required));
        }
    }
    entry
        .entry("model_info")
        .or_insert_with(|| Value::Object(Map::new()));
    Ok(Value::Object(entry))
}

fn entry_fields_partial(body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut entry = Map::new();
    for (k, v) in body {
        match k.as_str() {
            "model_name" => {}
            "litellm_params" | "model_info" if v.is_object() || v.is_null() => {}
            "litellm_params" | "model_info" => {
                return Err(
                    ApiError::bad_request(format!("{k}: expected a mapping")).with_param(k)
                )
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unknown field `{other}`; a model has `model_name`, `litellm_params` and `model_info`"
                ))
                .with_param(other))
            }
        }
        if !v.is_null() {
            entry.insert(k.clone(), v.clone());
        }
    }
    if let Some(key) = entry
        .get("litellm_params")
        .and_then(|p| p.get("api_key"))
        .filter(|k| !k.is_null())
    {
        let named = key
            .as_str()
            .is_some_and(|k| k.trim().starts_with("os.environ/"));
        if !named {
            // Never echo the value: it may be a real key.
            return Err(ApiError::bad_request(
                "litellm_params.api_key: provider keys are never entered here; name the Spin variable that holds the key, `os.environ/NAME` (e.g. os.environ/OPENAI_API_KEY)",
            )
            .with_param("litellm_params.api_key")
            .with_code("invalid_model"));
        }
    }
    Ok(entry)
}

/// The key variable an entry names explicitly (the default variable needs no confirmation).
fn named_variable(entry: &Value, d: &Deployment) -> Option<(Provider, String)> {
    entry.get("litellm_params")?.get("api_key")?;
    match &d.key {
        Some(KeySource::Variable(v)) => Some((d.provider, v.clone())),
        _ => None,
    }
}

/// `litellm_params` keys shown by `/model/info`: the routing keys and where the model is, never
/// a key (only `os.environ/NAME` references) nor unknown settings that might hold secrets.
const SHOWN_PARAMS: &[&str] = &[
    "model",
    "api_base",
    "timeout",
    "stream_timeout",
    "rpm",
    "tpm",
    "order",
    "weight",
    "num_retries",
    "max_retries",
    "cooldown_time",
    "drop_params",
    "additional_drop_params",
];

/// One deployment as `/model/info` and the write paths answer it.
fn answer_entry(entry: &Value, d: &Deployment, runtime: bool) -> Value {
    let mut params = Map::new();
    if let Some(given) = entry.get("litellm_params").and_then(Value::as_object) {
        for k in SHOWN_PARAMS {
            if let Some(v) = given.get(*k) {
                params.insert((*k).to_string(), v.clone());
            }
        }
        if let Some(Value::String(k)) = given.get("api_key") {
            let shown = if k.trim().starts_with("os.environ/") {
                k.trim().to_string()
            } else {
                "(literal, hidden)".to_string()
            };
            params.insert("api_key".into(), Value::String(shown));
        }
    }
    let mut info = d.model_info.clone();
    info.insert("id".into(), Value::String(d.id.clone()));
    info.insert("db_model".into(), Value::Bool(runtime));
    info.insert("read_only".into(), Value::Bool(!runtime));
    info.insert(
        "source".into(),
        Value::String(if runtime { "runtime" } else { "yaml" }.into()),
    );
    json!({
        "model_id": d.id,
        "model_name": d.model_name,
        "litellm_params": params,
        "model_info": info,
        "provider": d.provider.name(),
        "upstream_model": d.upstream_model,
    })
}

/// What a replica remembers in its in-memory store about the shared version: when it last
/// asked (Unix ms) and the answer (empty: no runtime models).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// When the shared store was last asked.
    pub checked_ms: u64,
    /// The version it answered.
    pub version: String,
}

impl Seen {
    /// Reads `"<checked_ms>,<version>"`; anything else counts as never asked.
    pub fn parse(bytes: &[u8]) -> Seen {
        let text = String::from_utf8_lossy(bytes);
        let (ms, version) = text.split_once(',').unwrap_or(("0", ""));
        Seen {
            checked_ms: ms.parse().unwrap_or(0),
            version: version.to_string(),
        }
    }

    /// The stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        format!("{},{}", self.checked_ms, self.version).into_bytes()
    }

    /// Whether the shared store should be asked again at `now_ms`.
    pub fn stale(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.checked_ms) >= REFRESH_MS || now_ms < self.checked_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        Config::document(
            "model_list:\n  - model_name: gpt-yaml\n    litellm_params: {model: openai/gpt-4o-mini}\n    model_info: {id: yaml-1}\n",
        )
        .unwrap()
    }

    fn new_entry(json_text: &str) -> Value {
        serde_json::from_str(json_text).unwrap()
    }

    fn stored_after(change: Change) -> RuntimeModels {
        RuntimeModels {
            version: "v".into(),
            models: change.models,
        }
    }

    #[test]
    fn paths_and_methods() {
        assert_eq!(
            ModelPath::resolve("/model/new"),
            Some((ModelPath::New, "POST"))
        );
        assert_eq!(
            ModelPath::resolve("/model/abc/update"),
            Some((ModelPath::UpdateById("abc".into()), "PATCH"))
        );
        assert_eq!(
            ModelPath::resolve("/model/info"),
            Some((ModelPath::Info, "GET"))
        );
        assert_eq!(ModelPath::resolve("/model//update"), None);
        assert_eq!(ModelPath::resolve("/model/a/b/update"), None);
        assert_eq!(ModelPath::resolve("/models"), None);
    }

    #[test]
    fn create_validates_like_the_yaml_loader_and_assigns_an_id() {
        let stored = RuntimeModels::default();
        let c = create(
            &base(),
            &stored,
            &new_entry(r#"{"model_name":"rt","litellm_params":{"model":"openai/gpt-4o","api_key":"os.environ/OPENAI_API_KEY","rpm":5},"model_info":{"input_cost_per_token":0.000001}}"#),
            "rt-1",
        )
        .unwrap();
        assert_eq!(c.answer["model_id"], "rt-1");
        assert_eq!(c.answer["model_info"]["db_model"], true);
        assert_eq!(c.answer["provider"], "openai");
        assert_eq!(
            c.key_variable,
            Some((Provider::OpenAi, "openai_api_key".into()))
        );
        let stored = stored_after(c);
        let merged = merged_document(&base(), &stored);
        let config = Config::from_value(&merged).unwrap();
        assert_eq!(config.deployments.len(), 2);
        assert_eq!(config.deployments[1].id, "rt-1");
        assert_eq!(config.deployments[1].prices.input, Some(0.000001));
        let listed = info(&config, &merged, None);
        let data = listed["data"].as_array().unwrap();
        assert_eq!(data[0]["model_info"]["read_only"], true);
        assert_eq!(data[0]["model_info"]["source"], "yaml");
        assert_eq!(data[1]["model_info"]["read_only"], false);
        assert_eq!(
            info(&config, &merged, Some("rt-1"))["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        // The loader's own errors, made relative to the entry.
        let e = create(
            &base(),
            &stored,
            &new_entry(r#"{"model_name":"x","litellm_params":{"model":"azure/gpt"}}"#),
            "rt-2",
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some("litellm_params.model"));
        assert!(
            e.message.contains("unsupported provider `azure/`"),
            "{}",
            e.message
        );
        let e = create(
            &base(),
            &stored,
            &new_entry(r#"{"model_name":"x","litellm_params":{"model":"hosted_vllm/llama"}}"#),
            "rt-2",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("litellm_params.api_base"));
        let e = create(
            &base(),
            &stored,
            &new_entry(r#"{"model_name":"x"}"#),
            "rt-2",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("litellm_params"));
        let e = create(
            &base(),
            &stored,
            &new_entry(r#"{"model_name":"x","litellm_params":{"model":"openai/x"},"model_info":{"id":"yaml-1"}}"#),
            "rt-2",
        )
        .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("model_id_exists"));
        let e = create(&base(), &stored, &json!([1]), "rt-2").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("invalid_json"));
        let e = create(
            &base(),
            &stored,
            &new_entry(r#"{"model_name":"x","litellm_params":{"model":"openai/x"},"extra":1}"#),
            "rt-2",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("extra"));
    }

    #[test]
    fn provider_keys_are_never_entered_nor_echoed() {
        for key in [
            r#""sk-live-secret-123""#,
            r#""dummy-key""#,
            "42",
            r#"{"k":"sk-live-secret-123"}"#,
        ] {
            let body = new_entry(&format!(
                r#"{{"model_name":"x","litellm_params":{{"model":"hosted_vllm/m","api_base":"http://vllm:8000/v1","api_key":{key}}}}}"#
            ));
            let e = create(&base(), &RuntimeModels::default(), &body, "rt").unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.param.as_deref(), Some("litellm_params.api_key"));
            assert!(!e.message.contains("secret-123"));
        }
        let e = create(
            &base(),
            &RuntimeModels::default(),
            &new_entry(r#"{"model_name":"x","litellm_params":{"model":"openai/x","api_key":"os.environ/BAD-NAME"}}"#),
            "rt",
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("litellm_params.api_key"));
        // Without a named key the provider's default variable is used, unconfirmed like the YAML.
        let c = create(
            &base(),
            &RuntimeModels::default(),
            &new_entry(r#"{"model_name":"x","litellm_params":{"model":"anthropic/claude"}}"#),
            "rt",
        )
        .unwrap();
        assert_eq!(c.key_variable, None);
    }

    #[test]
    fn update_merges_and_revalidates_and_yaml_is_read_only() {
        let c = create(
            &base(),
            &RuntimeModels::default(),
            &new_entry(r#"{"model_name":"rt","litellm_params":{"model":"openai/gpt-4o","rpm":5}}"#),
            "rt-1",
        )
        .unwrap();
        let stored = stored_after(c);
        let c = update(
            &base(),
            &stored,
            Some("rt-1"),
            &new_entry(r#"{"litellm_params":{"rpm":null,"tpm":1000},"model_info":{"id":"other","output_cost_per_token":0.00001}}"#),
        )
        .unwrap();
        let params = &c.models[0]["litellm_params"];
        assert_eq!(params["model"], "openai/gpt-4o");
        assert!(params.get("rpm").is_none());
        assert_eq!(params["tpm"], 1000);
        assert_eq!(
            c.models[0]["model_info"]["id"], "rt-1",
            "the id never changes"
        );
        let by_body = update(
            &base(),
            &stored,
            None,
            &new_entry(r#"{"model_name":"renamed","model_info":{"id":"rt-1"}}"#),
        )
        .unwrap();
        assert_eq!(by_body.models[0]["model_name"], "renamed");
        let e = update(
            &base(),
            &stored,
            Some("rt-1"),
            &new_entry(r#"{"litellm_params":{"timeout":-1}}"#),
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("litellm_params.timeout"));
        let e = update(&base(), &stored, Some("yaml-1"), &json!({})).unwrap_err();
        assert_eq!(e.status, 403);
        assert_eq!(e.code.as_deref(), Some("model_read_only"));
        assert!(e.message.contains("gpt-yaml"));
        let e = delete(&base(), &stored, &json!({"id": "yaml-1"})).unwrap_err();
        assert_eq!(e.status, 403);
        let e = update(&base(), &stored, Some("nope"), &json!({})).unwrap_err();
        assert_eq!(e.status, 404);
        let e = update(&base(), &stored, None, &json!({})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model_info.id"));
        let d = delete(&base(), &stored, &json!({"id": "rt-1"})).unwrap();
        assert!(d.models.is_empty());
        assert_eq!(
            delete(&base(), &stored, &json!({}))
                .unwrap_err()
                .param
                .as_deref(),
            Some("id")
        );
    }

    #[test]
    fn stored_form_round_trips_and_tolerates_garbage() {
        let s = RuntimeModels {
            version: "7".into(),
            models: vec![json!({"model_name": "a"})],
        };
        assert_eq!(RuntimeModels::from_json(&s.to_json()), s);
        assert_eq!(
            RuntimeModels::from_json(b"not json"),
            RuntimeModels::default()
        );
        let seen = Seen {
            checked_ms: 5_000,
            version: "v,1".into(),
        };
        assert_eq!(Seen::parse(&seen.to_bytes()), seen);
        assert!(!seen.stale(5_999));
        assert!(seen.stale(6_000));
        assert!(seen.stale(4_000), "a clock step back asks again");
        assert_eq!(Seen::parse(b"garbage"), Seen::default());
    }

    #[test]
    fn info_hides_literal_keys_and_unknown_params() {
        let base = Config::document(
            "model_list:\n  - model_name: llama\n    litellm_params: {model: hosted_vllm/m, api_base: 'http://vllm:8000/v1', api_key: dummy-secret, vertex_credentials: secret-json}\n",
        )
        .unwrap();
        let merged = merged_document(&base, &RuntimeModels::default());
        let config = Config::from_value(&merged).unwrap();
        let text = info(&config, &merged, None).to_string();
        assert!(!text.contains("dummy-secret") && !text.contains("secret-json"));
        assert!(text.contains("(literal, hidden)"));
    }
}
