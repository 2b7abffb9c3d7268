//! The gateway configuration: LiteLLM's `model_list` YAML shape, validated into deployments.
//!
//! ```yaml
//! model_list:
//!   - model_name: gpt-5.4-mini            # the name callers use
//!     litellm_params:
//!       model: openai/gpt-5.4-mini        # <provider>/<upstream model>
//!       api_key: os.environ/OPENAI_API_KEY
//!     model_info: { input_cost_per_token: 0.00000025 }
//! general_settings:
//!   max_request_size_mb: 10
//!   global_max_parallel_requests: 300   # per replica; over it, a 503 with retry-after
//! ```

use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorType};
use crate::policy::{DeploymentPolicy, RouterSettings};

/// Default request body limit (10 MiB), overridden by `general_settings.max_request_size_mb`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Default limit of model requests in flight per replica. Each one holds a router instance (with
/// its composed auth) and a provider instance: three of the 1,000 linear memories Spin's default
/// instance pool has (`SPIN_MAX_INSTANCE_COUNT`), so 300 leaves room for the refusals themselves.
pub const DEFAULT_MAX_PARALLEL_REQUESTS: u64 = 300;

/// Default upstream timeout in milliseconds when a deployment sets none (LiteLLM's default: 600 s).
pub const DEFAULT_TIMEOUT_MS: u64 = 600_000;

/// The provider adapter component that serves a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// api.openai.com (`openai/` without `api_base`).
    OpenAi,
    /// Any OpenAI-compatible server (`hosted_vllm/`, or `openai/` with `api_base`).
    OpenAiCompatible,
    /// api.anthropic.com (`anthropic/`).
    Anthropic,
    /// generativelanguage.googleapis.com (`gemini/`).
    Gemini,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 4] = [
        Provider::OpenAi,
        Provider::OpenAiCompatible,
        Provider::Anthropic,
        Provider::Gemini,
    ];

    /// Name used in messages, usage records and `owned_by`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::OpenAiCompatible => "openai-compatible",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
        }
    }

    /// Spin component id of the provider adapter.
    pub fn component(self) -> &'static str {
        match self {
            Provider::OpenAi => "provider-openai",
            Provider::OpenAiCompatible => "provider-openai-compatible",
            Provider::Anthropic => "provider-anthropic",
            Provider::Gemini => "provider-gemini",
        }
    }

    /// Base URL of the adapter through Spin's local service chaining.
    pub fn internal_url(self) -> String {
        format!("http://{}.spin.internal", self.component())
    }

    /// The Spin variable holding the key when the config names none.
    pub fn default_key_variable(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai_api_key",
            Provider::OpenAiCompatible => "hosted_vllm_api_key",
            Provider::Anthropic => "anthropic_api_key",
            Provider::Gemini => "gemini_api_key",
        }
    }
}

/// Where a provider adapter finds the upstream key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A Spin variable of the provider component (`os.environ/NAME` means variable `name`).
    Variable(String),
    /// A literal, non-secret placeholder such as `dummy-key` (self-hosted servers only).
    Literal(String),
}

/// Per-token prices from `model_info`, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prices {
    /// `model_info.input_cost_per_token`.
    pub input: Option<f64>,
    /// `model_info.output_cost_per_token`.
    pub output: Option<f64>,
    /// `model_info.cache_read_input_token_cost`.
    pub cached_input: Option<f64>,
}

/// One upstream deployment of a logical model.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Stable deployment id: `model_info.id`, else a hash of the entry (see [`deployment_id`]).
    pub id: String,
    /// The logical name callers use (`model_name`).
    pub model_name: String,
    /// Adapter that serves it.
    pub provider: Provider,
    /// Upstream model id (after the `<provider>/` prefix).
    pub upstream_model: String,
    /// `api_base`, if set.
    pub api_base: Option<String>,
    /// Where the key comes from, if any.
    pub key: Option<KeySource>,
    /// Upstream timeout in milliseconds.
    pub timeout_ms: u64,
    /// `model_info.max_tokens` / `max_output_tokens`, used where a provider requires a value.
    pub max_output_tokens: Option<u64>,
    /// Prices from `model_info`.
    pub prices: Prices,
    /// `model_info` as given, for `/v1/models/{id}`.
    pub model_info: Map<String, Value>,
    /// Routing keys of `litellm_params` (`order`, `weight`, `rpm`, `tpm`, ...).
    pub policy: DeploymentPolicy,
}

/// The validated gateway configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// All deployments in file order.
    pub deployments: Vec<Deployment>,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Model requests in flight per replica before new ones are refused with 503
    /// (`general_settings.global_max_parallel_requests`).
    pub max_parallel_requests: u64,
    /// `router_settings` / `litellm_settings`.
    pub router: RouterSettings,
    /// How long the request log keeps rows, in seconds
    /// (`general_settings.maximum_spend_logs_retention_period`); `None`: for ever.
    pub log_retention_s: Option<u64>,
    /// Whether finished requests are written to the request log and its rollups (`false` with
    /// `general_settings.disable_spend_logs: true`; usage, budgets and limits still count).
    pub spend_logs: bool,
    /// Whether rows keep the request's messages and the answer
    /// (`general_settings.store_prompts_in_spend_logs: true`).
    pub store_prompts: bool,
}

/// Keys of `general_settings` applied here; any other is listed as ignored (`database_url` among
/// them: the log's database is the `log_store` and `postgres_url` variables). `master_key` counts
/// as applied: the gateway's `master_key` variable holds it (the deploy fills both from one Secret).
const GENERAL_APPLIED: [&str; 6] = [
    "master_key",
    "max_request_size_mb",
    "global_max_parallel_requests",
    "maximum_spend_logs_retention_period",
    "disable_spend_logs",
    "store_prompts_in_spend_logs",
];

/// A positive period (`30d`, `12h`, `90m`, `3600s`, `2w`) in seconds.
fn retention_seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let unit_s = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    num.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)?
        .checked_mul(unit_s)
}

/// A broken configuration: what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where in the file, e.g. `model_list[2].litellm_params.model`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        ApiError::new(
            500,
            ErrorType::Server,
            format!("gateway config error at {}: {}", e.path, e.message),
        )
        .with_code("config_error")
    }
}

fn err(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        message: message.into(),
    }
}

impl Config {
    /// Parses and validates the config text: YAML, or JSON (which YAML contains), read with the
    /// much faster JSON parser when the text is a JSON object.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_value(&Config::document(text)?)
    }

    /// The config text as a JSON value, not validated yet (see [`Config::from_value`]).
    pub fn document(text: &str) -> Result<Value, ConfigError> {
        if text.trim_start().starts_with('{') {
            if let Ok(v) = serde_json::from_str(text) {
                return Ok(v);
            }
        }
        serde_yaml_ng::from_str(text).map_err(|e| err("(document)", e.to_string()))
    }

    /// Validates a config document.
    pub fn from_value(root: &Value) -> Result<Config, ConfigError> {
        let root = root
            .as_object()
            .ok_or_else(|| err("(document)", "expected a mapping with `model_list`"))?;
        let list = root
            .get("model_list")
            .ok_or_else(|| err("model_list", "missing"))?
            .as_array()
            .ok_or_else(|| err("model_list", "expected a list"))?;
        let mut router = RouterSettings::parse(root)?;
        if let Some(Value::Object(general)) = root.get("general_settings") {
            router.ignored.extend(
                general
                    .iter()
                    .filter(|(k, v)| !v.is_null() && !GENERAL_APPLIED.contains(&k.as_str()))
                    .map(|(k, _)| format!("general_settings.{k}")),
            );
        }
        let deployments = list
            .iter()
            .enumerate()
            .map(|(i, entry)| parse_deployment(&format!("model_list[{i}]"), entry, &router))
            .collect::<Result<Vec<_>, _>>()?;
        let max_body_bytes = match root
            .get("general_settings")
            .and_then(|g| g.get("max_request_size_mb"))
        {
            None | Some(Value::Null) => DEFAULT_MAX_BODY_BYTES,
            Some(v) => {
                let mb = v.as_f64().filter(|mb| *mb > 0.0).ok_or_else(|| {
                    err(
                        "general_settings.max_request_size_mb",
                        "expected a positive number",
                    )
                })?;
                (mb * 1024.0 * 1024.0) as usize
            }
        };
        let max_parallel_requests = match root
            .get("general_settings")
            .and_then(|g| g.get("global_max_parallel_requests"))
        {
            None | Some(Value::Null) => DEFAULT_MAX_PARALLEL_REQUESTS,
            Some(v) => v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                err(
                    "general_settings.global_max_parallel_requests",
                    "expected a positive integer",
                )
            })?,
        };
        let log_retention_s = match root
            .get("general_settings")
            .and_then(|g| g.get("maximum_spend_logs_retention_period"))
        {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_str().and_then(retention_seconds).ok_or_else(|| {
                err(
                    "general_settings.maximum_spend_logs_retention_period",
                    "expected a period such as 30d, 12h, 90m or 3600s",
                )
            })?),
        };
        let flag = |key: &str| -> Result<bool, ConfigError> {
            match root.get("general_settings").and_then(|g| g.get(key)) {
                None | Some(Value::Null) => Ok(false),
                Some(v) => v.as_bool().ok_or_else(|| {
                    err(format!("general_settings.{key}"), "expected true or false")
                }),
            }
        };
        let spend_logs = !flag("disable_spend_logs")?;
        let store_prompts = flag("store_prompts_in_spend_logs")?;
        Ok(Config {
            deployments,
            max_body_bytes,
            max_parallel_requests,
            router,
            log_retention_s,
            spend_logs,
            store_prompts,
        })
    }

    /// Deployments serving a logical model name (empty if unknown).
    pub fn deployments_for<'a>(&'a self, model: &str) -> Vec<&'a Deployment> {
        self.deployments
            .iter()
            .filter(|d| d.model_name == model)
            .collect()
    }

    /// Distinct logical model names, in file order.
    pub fn model_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for d in &self.deployments {
            if !names.contains(&d.model_name.as_str()) {
                names.push(&d.model_name);
            }
        }
        names
    }
}

fn parse_deployment(
    path: &str,
    entry: &Value,
    router: &RouterSettings,
) -> Result<Deployment, ConfigError> {
    let entry = entry
        .as_object()
        .ok_or_else(|| err(path, "expected a mapping"))?;
    let model_name = non_empty_str(entry.get("model_name"), &format!("{path}.model_name"))?;
    let params_path = format!("{path}.litellm_params");
    let params = entry
        .get("litellm_params")
        .ok_or_else(|| err(&params_path, "missing"))?
        .as_object()
        .ok_or_else(|| err(&params_path, "expected a mapping"))?;
    let model_path = format!("{params_path}.model");
    let model = non_empty_str(params.get("model"), &model_path)?;
    let api_base = optional_str(params.get("api_base"), &format!("{params_path}.api_base"))?;
    if let Some(base) = &api_base {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(err(
                format!("{params_path}.api_base"),
                "must start with http:// or https://",
            ));
        }
    }
    let (prefix, upstream_model) = model.split_once('/').ok_or_else(|| {
        err(
            &model_path,
            format!("`{model}` has no provider prefix; use openai/, hosted_vllm/, anthropic/ or gemini/"),
        )
    })?;
    if upstream_model.is_empty() {
        return Err(err(
            &model_path,
            "the upstream model after the prefix is empty",
        ));
    }
    let public = api_base.as_deref().and_then(public_endpoint);
    let provider = match (prefix, api_base.is_some()) {
        ("openai", true) if public == Some(Provider::OpenAi) => Provider::OpenAi,
        ("openai", false) => Provider::OpenAi,
        ("openai", true) | ("hosted_vllm", true) => Provider::OpenAiCompatible,
        ("hosted_vllm", false) => {
            return Err(err(
                format!("{params_path}.api_base"),
                "hosted_vllm/ models need the server's api_base",
            ))
        }
        ("anthropic", _) => Provider::Anthropic,
        ("gemini", _) => Provider::Gemini,
        (other, _) => {
            return Err(err(
                &model_path,
                format!(
                "unsupported provider `{other}/`; use openai/, hosted_vllm/, anthropic/ or gemini/"
            ),
            ))
        }
    };
    let key_path = format!("{params_path}.api_key");
    let key = match optional_str(params.get("api_key"), &key_path)? {
        None => Some(KeySource::Variable(provider.default_key_variable().into())),
        Some(raw) => Some(parse_key(&key_path, &raw, provider)?),
    };
    let timeout_ms = match params.get("timeout") {
        None | Some(Value::Null) => router.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        Some(v) => v
            .as_f64()
            .filter(|s| *s > 0.0)
            .map(|s| (s * 1000.0) as u64)
            .ok_or_else(|| {
                err(
                    format!("{params_path}.timeout"),
                    "expected a positive number of seconds",
                )
            })?,
    };
    let model_info = match entry.get("model_info") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(err(format!("{path}.model_info"), "expected a mapping")),
    };
    let number = |k: &str| -> Result<Option<f64>, ConfigError> {
        match model_info.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_f64().filter(|n| *n >= 0.0).map(Some).ok_or_else(|| {
                err(
                    format!("{path}.model_info.{k}"),
                    "expected a non-negative number",
                )
            }),
        }
    };
    let prices = Prices {
        input: number("input_cost_per_token")?,
        output: number("output_cost_per_token")?,
        cached_input: number("cache_read_input_token_cost")?,
    };
    let max_output_tokens = match number("max_output_tokens")? {
        Some(n) => Some(n as u64),
        None => number("max_tokens")?.map(|n| n as u64),
    };
    Ok(Deployment {
        id: deployment_id(&model_name, params, &model_info),
        model_name,
        provider,
        upstream_model: upstream_model.to_string(),
        // A provider's public endpoint means the provider as configured (its `*_origin`).
        api_base: api_base
            .filter(|_| public != Some(provider))
            .map(|b| b.trim_end_matches('/').to_string()),
        key,
        timeout_ms,
        max_output_tokens,
        prices,
        model_info,
        policy: DeploymentPolicy::parse(params, &params_path)?,
    })
}

/// A deployment's id: `model_info.id` when given, else the FNV-1a hash of `model_name` and
/// `litellm_params` (stable across replicas and restarts while the entry is unchanged).
fn deployment_id(
    model_name: &str,
    params: &Map<String, Value>,
    info: &Map<String, Value>,
) -> String {
    if let Some(id) = info
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        return id.to_string();
    }
    let text = format!("{model_name}\n{}", Value::Object(params.clone()));
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// `os.environ/NAME` → variable `name`; literals only for self-hosted servers.
fn parse_key(path: &str, raw: &str, provider: Provider) -> Result<KeySource, ConfigError> {
    if let Some(env) = raw.strip_prefix("os.environ/") {
        let name = env.to_ascii_lowercase();
        if !is_spin_variable_name(&name) {
            return Err(err(
                path,
                format!("`{env}` is not a valid Spin variable name (letters, digits and single underscores, starting with a letter)"),
            ));
        }
        return Ok(KeySource::Variable(name));
    }
    if provider == Provider::OpenAiCompatible {
        return Ok(KeySource::Literal(raw.to_string()));
    }
    // Never echo the literal: it may be a real key pasted into the config.
    Err(err(
        path,
        format!(
            "literal keys are only allowed for self-hosted servers; store the {} key in a Spin variable and write `os.environ/NAME`",
            provider.name()
        ),
    ))
}

/// The provider whose public endpoint an `api_base` names (`https://api.openai.com[/v1]`,
/// `https://api.anthropic.com`, `https://generativelanguage.googleapis.com[/v1beta]`): such an
/// `api_base` means that provider, with its component, key variable and configured origin, not a
/// self-hosted server (LiteLLM configs often spell the default out).
fn public_endpoint(api_base: &str) -> Option<Provider> {
    let rest = api_base.strip_prefix("https://")?;
    let host = rest.split(['/', '?']).next()?.to_ascii_lowercase();
    match host.strip_suffix(":443").unwrap_or(&host) {
        "api.openai.com" => Some(Provider::OpenAi),
        "api.anthropic.com" => Some(Provider::Anthropic),
        "generativelanguage.googleapis.com" => Some(Provider::Gemini),
        _ => None,
    }
}

/// Spin's variable name rule: lower-case ASCII letters, digits and underscores, starting with a
/// letter, no double or trailing underscore.
pub fn is_spin_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

fn non_empty_str(v: Option<&Value>, path: &str) -> Result<String, ConfigError> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) => Err(err(path, "must not be empty")),
        None | Some(Value::Null) => Err(err(path, "missing")),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(err(path, "expected a string")),
    }
}

fn optional_str(v: Option<&Value>, path: &str) -> Result<Option<String>, ConfigError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(err(path, "expected a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
model_list:
  - model_name: gpt-5.4-mini
    litellm_params:
      model: openai/gpt-5.4-mini
      api_key: os.environ/OPENAI_API_KEY
    model_info:
      input_cost_per_token: 0.00000025
      output_cost_per_token: 0.000002
  - model_name: llama-3.1-8b-instruct
    litellm_params:
      model: hosted_vllm/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://llama.ns.svc.cluster.local:8080/v1/
      api_key: dummy-key
      timeout: 2.5
  - model_name: llama-3.1-8b-instruct
    litellm_params:
      model: openai/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://other:8000/v1
  - model_name: claude-sonnet
    litellm_params:
      model: anthropic/claude-sonnet-4-5
    model_info:
      max_tokens: 8192
general_settings:
  max_request_size_mb: 1
  global_max_parallel_requests: 12
  maximum_spend_logs_retention_period: 30d
"#;

    #[test]
    fn parses_litellm_model_list() {
        let c = Config::parse(SAMPLE).unwrap();
        assert_eq!(c.deployments.len(), 4);
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert_eq!(c.max_parallel_requests, 12);
        assert_eq!(c.log_retention_s, Some(30 * 86_400));
        assert!(c.spend_logs);
        let general = Config::parse("model_list: []\ngeneral_settings:\n  master_key: sk-1\n  database_url: x\n  store_prompts_in_spend_logs: true\n  disable_spend_logs: false\n").unwrap();
        assert_eq!(general.router.ignored, ["general_settings.database_url"]);
        assert_eq!(retention_seconds("12h"), Some(43_200));
        assert_eq!(retention_seconds("0d"), None);
        assert_eq!(retention_seconds("30y"), None);
        let gpt = &c.deployments[0];
        assert_eq!(gpt.provider, Provider::OpenAi);
        assert_eq!(gpt.upstream_model, "gpt-5.4-mini");
        assert_eq!(gpt.key, Some(KeySource::Variable("openai_api_key".into())));
        assert_eq!(gpt.prices.input, Some(0.00000025));
        let llama = &c.deployments[1];
        assert_eq!(llama.provider, Provider::OpenAiCompatible);
        assert_eq!(llama.upstream_model, "meta-llama/Llama-3.1-8B-Instruct");
        assert_eq!(
            llama.api_base.as_deref(),
            Some("http://llama.ns.svc.cluster.local:8080/v1")
        );
        assert_eq!(llama.key, Some(KeySource::Literal("dummy-key".into())));
        assert_eq!(llama.timeout_ms, 2500);
        assert_eq!(c.deployments[2].provider, Provider::OpenAiCompatible);
        assert_eq!(c.deployments[3].provider, Provider::Anthropic);
        assert_eq!(c.deployments[3].max_output_tokens, Some(8192));
        assert_eq!(
            c.deployments[3].key,
            Some(KeySource::Variable("anthropic_api_key".into()))
        );
        assert_eq!(c.deployments_for("llama-3.1-8b-instruct").len(), 2);
        assert_eq!(
            c.model_names(),
            vec!["gpt-5.4-mini", "llama-3.1-8b-instruct", "claude-sonnet"]
        );
    }

    #[test]
    fn deployment_ids_are_model_info_id_or_a_stable_hash() {
        let a = Config::parse(SAMPLE).unwrap();
        let b = Config::parse(SAMPLE).unwrap();
        let ids: Vec<&str> = a.deployments.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            b.deployments
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>()
        );
        assert!(ids.iter().all(|id| id.len() == 16));
        let mut distinct = ids.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 4);
        let named = Config::parse(
            "model_list:\n  - model_name: m\n    litellm_params: {model: openai/x}\n    model_info: {id: my-id}\n",
        )
        .unwrap();
        assert_eq!(named.deployments[0].id, "my-id");
    }

    #[test]
    fn json_text_reads_like_its_yaml() {
        let yaml = "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/gpt-4o\ngeneral_settings:\n  global_max_parallel_requests: 7\n";
        let json = Config::document(yaml).unwrap().to_string();
        assert!(json.starts_with('{'));
        let (a, b) = (Config::parse(yaml).unwrap(), Config::parse(&json).unwrap());
        assert_eq!(
            format!("{:?}", a.deployments),
            format!("{:?}", b.deployments)
        );
        assert_eq!(b.max_parallel_requests, 7);
        // Flow-style YAML that is not JSON still reads as YAML.
        assert!(Config::parse("{model_list: []}").is_ok());
    }

    #[test]
    fn a_public_endpoint_as_api_base_means_that_provider() {
        let yaml = "model_list:
  - model_name: gpt-5.4-mini
    litellm_params:
      model: openai/gpt-5.4-mini-2026-03-17
      api_base: https://api.openai.com/v1
      api_key: os.environ/OPENAI_API_KEY
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: https://API.anthropic.com:443/
  - model_name: llama
    litellm_params:
      model: openai/llama-3.1-8b-instruct
      api_base: https://llama.example.com/v1
      api_key: dummy-key
";
        let c = Config::parse(yaml).unwrap();
        let gpt = &c.deployments[0];
        assert_eq!(gpt.provider, Provider::OpenAi);
        assert_eq!(gpt.api_base, None, "the provider's configured origin");
        assert_eq!(gpt.key, Some(KeySource::Variable("openai_api_key".into())));
        assert_eq!(gpt.upstream_model, "gpt-5.4-mini-2026-03-17");
        assert_eq!(c.deployments[1].api_base, None);
        assert_eq!(c.deployments[2].provider, Provider::OpenAiCompatible);
        // A literal key is still refused for a public provider, whatever api_base says.
        let e = error_of("model_list:\n  - model_name: x\n    litellm_params:\n      model: openai/x\n      api_base: https://api.openai.com/v1\n      api_key: sk-literal\n");
        assert!(e.message.contains("literal keys"));
        assert!(!e.message.contains("sk-literal"));
    }

    fn error_of(yaml: &str) -> ConfigError {
        Config::parse(yaml).unwrap_err()
    }

    #[test]
    fn reports_what_and_where() {
        assert_eq!(error_of("model_list: 3").path, "model_list");
        assert_eq!(error_of("{").path, "(document)");
        assert_eq!(error_of("foo: 1").path, "model_list");
        let e =
            error_of("model_list:\n  - model_name: x\n    litellm_params:\n      model: azure/x\n");
        assert_eq!(e.path, "model_list[0].litellm_params.model");
        assert!(e.message.contains("azure/"));
        let e =
            error_of("model_list:\n  - model_name: x\n    litellm_params:\n      model: gpt-4o\n");
        assert!(e.message.contains("no provider prefix"));
        let e = error_of(
            "model_list:\n  - model_name: x\n    litellm_params:\n      model: hosted_vllm/x\n",
        );
        assert_eq!(e.path, "model_list[0].litellm_params.api_base");
        let e = error_of("model_list:\n  - litellm_params:\n      model: openai/x\n");
        assert_eq!(e.path, "model_list[0].model_name");
        let e = error_of("model_list:\n  - model_name: x\n    litellm_params:\n      model: openai/x\n      timeout: -1\n");
        assert_eq!(e.path, "model_list[0].litellm_params.timeout");
        for bad in ["0", "-3", "many", "1.5"] {
            let e = error_of(&format!(
                "model_list: []\ngeneral_settings:\n  global_max_parallel_requests: {bad}\n"
            ));
            assert_eq!(e.path, "general_settings.global_max_parallel_requests");
        }
        let e = error_of("model_list: []\ngeneral_settings:\n  disable_spend_logs: sometimes\n");
        assert_eq!(e.path, "general_settings.disable_spend_logs");
        let off = Config::parse("model_list: []\ngeneral_settings:\n  disable_spend_logs: true\n");
        assert!(!off.unwrap().spend_logs);
    }

    #[test]
    fn literal_provider_keys_are_refused_without_echo() {
        let e = error_of("model_list:\n  - model_name: x\n    litellm_params:\n      model: openai/x\n      api_key: sk-secret123\n");
        assert_eq!(e.path, "model_list[0].litellm_params.api_key");
        assert!(!e.message.contains("sk-secret123"));
        let api: ApiError = e.into();
        assert_eq!(api.status, 500);
        assert_eq!(api.code.as_deref(), Some("config_error"));
    }

    #[test]
    fn variable_names_follow_spin_rules() {
        assert!(is_spin_variable_name("openai_api_key"));
        assert!(!is_spin_variable_name("1abc"));
        assert!(!is_spin_variable_name("a__b"));
        assert!(!is_spin_variable_name("a-b"));
        let e = error_of("model_list:\n  - model_name: x\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/MY-KEY\n");
        assert!(e.message.contains("MY-KEY"));
    }
}
