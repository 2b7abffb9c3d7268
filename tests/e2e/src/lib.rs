//! Harness for end-to-end tests: a mock upstream on loopback and the gateway's real wasm
//! components on the Spin-compatible test host, wired together through Spin variables.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use mock_providers::{Mock, MockConfig};
use serde_json::Value;
use test_host::{HostConfig, RunningHost};

/// A response body read chunk by chunk as it arrives.
pub type BodyStream = futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>;

/// The provider key the tests configure for OpenAI.
pub const OPENAI_KEY: &str = "sk-test-openai-provider-key-0001";
/// The provider key the tests configure for Anthropic.
pub const ANTHROPIC_KEY: &str = "sk-ant-test-provider-key-0002";
/// The provider key the tests configure for Gemini.
pub const GEMINI_KEY: &str = "AIza-test-gemini-provider-key-0003";
/// The self-hosted server's literal key from the config.
pub const VLLM_KEY: &str = "dummy-key";
/// The gateway's master key, which the tests call with: must never reach an upstream.
pub const CALLER_KEY: &str = "sk-caller-secret-must-not-leak-9999";

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running gateway with its mock upstream.
pub struct Gateway {
    /// The mock upstream all providers point at.
    pub mock: Mock,
    /// The test host running the app.
    pub host: RunningHost,
    /// `http://127.0.0.1:PORT` of the gateway.
    pub url: String,
    /// HTTP client.
    pub client: reqwest::Client,
}

/// The default test config: one logical model per provider and per mock control.
pub fn default_config(mock_base: &str) -> String {
    let mut yaml = String::from("model_list:\n");
    let mut add = |name: &str, model: &str, extra: &str| {
        yaml.push_str(&format!(
            "  - model_name: {name}\n    litellm_params:\n      model: {model}\n{extra}"
        ));
    };
    add("gpt-test", "openai/gpt-4o-mini", "");
    add(
        "llama-test",
        "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct",
        &format!("      api_base: {mock_base}/v1\n      api_key: {VLLM_KEY}\n"),
    );
    add("claude-test", "anthropic/claude-sonnet-4-5", "");
    add("gemini-test", "gemini/gemini-2.5-flash", "");
    for status in [400, 401, 429, 500, 503] {
        add(
            &format!("err-{status}"),
            &format!("openai/mock-error-{status}"),
            "",
        );
    }
    add("gate", "openai/mock-stream-gate", "");
    add(
        "gate-vllm",
        "hosted_vllm/mock-stream-gate",
        &format!("      api_base: {mock_base}/v1\n      api_key: {VLLM_KEY}\n"),
    );
    add("claude-midstream", "anthropic/mock-midstream-error", "");
    add("claude-err-529", "anthropic/mock-error-529", "");
    add(
        "claude-small",
        "anthropic/claude-haiku-4-5",
        "    model_info:\n      max_tokens: 777\n",
    );
    add("gemini-3-test", "gemini/gemini-3-flash-preview", "");
    add("gemini-blocked", "gemini/mock-prompt-blocked", "");
    add("gemini-safety", "gemini/mock-safety-stop", "");
    add("gemini-midstream", "gemini/mock-midstream-error", "");
    add("gemini-err-429", "gemini/mock-error-429", "");
    add("hang", "openai/mock-hang", "      timeout: 1\n");
    add("midstream", "openai/mock-midstream-error", "");
    add(
        "outside-allowlist",
        "hosted_vllm/x",
        "      api_base: http://127.0.0.1:9/v1\n",
    );
    yaml
}

impl Gateway {
    /// Starts a mock and a gateway using [`default_config`].
    pub async fn start() -> Gateway {
        Self::start_with(|_| None, HashMap::new()).await
    }

    /// Starts a mock and a gateway; `config` may replace the default config (given the mock's base
    /// URL), and `vars` adds or overrides Spin variables (lower-case names, without prefix).
    pub async fn start_with(
        config: impl FnOnce(&str) -> Option<String>,
        vars: HashMap<&str, String>,
    ) -> Gateway {
        let mock = mock_providers::start(MockConfig {
            openai_keys: vec![OPENAI_KEY.into(), VLLM_KEY.into()],
            anthropic_keys: vec![ANTHROPIC_KEY.into()],
            gemini_keys: vec![GEMINI_KEY.into()],
            chunk_delay: Duration::from_millis(2),
        })
        .await
        .expect("mock upstream starts");
        let base = mock.base_url();
        let config = config(&base).unwrap_or_else(|| default_config(&base));
        let mut env: HashMap<String, String> = HashMap::new();
        let mut set = |k: &str, v: String| {
            env.insert(format!("SPIN_VARIABLE_{}", k.to_ascii_uppercase()), v);
        };
        set("gateway_config", config);
        set("openai_api_key", OPENAI_KEY.into());
        set("anthropic_api_key", ANTHROPIC_KEY.into());
        set("gemini_api_key", GEMINI_KEY.into());
        set("master_key", CALLER_KEY.into());
        set("openai_origin", base.clone());
        set("anthropic_origin", base.clone());
        set("gemini_origin", base.clone());
        set("openai_compatible_origin", base.clone());
        for (k, v) in vars {
            set(k, v);
        }
        let host = test_host::start(HostConfig {
            manifest: repo_root().join("spin.toml"),
            listen: "127.0.0.1:0".parse().expect("address"),
            env,
            tcp_nodelay: false,
        })
        .await
        .expect("the test host starts the app (did ./scripts/test build the wasm components?)");
        let url = format!("http://{}", host.addr());
        Gateway {
            mock,
            host,
            url,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs JSON to a gateway path with the caller key; returns status, headers and parsed body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(CALLER_KEY)
            .json(body)
            .send()
            .await
            .expect("request");
        read_json(response).await
    }

    /// GETs a gateway path with the caller key.
    pub async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(CALLER_KEY)
            .send()
            .await
            .expect("request");
        read_json(response).await
    }

    /// POSTs a request with the caller key; returns the status and the body as it arrives.
    pub async fn open_stream(&self, path: &str, body: &Value) -> (u16, BodyStream) {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(CALLER_KEY)
            .json(body)
            .send()
            .await
            .expect("request");
        (response.status().as_u16(), response.bytes_stream().boxed())
    }

    /// POSTs a streaming request; returns the status and the raw SSE text.
    pub async fn post_stream(&self, path: &str, body: &Value) -> (u16, String) {
        let (status, mut stream) = self.open_stream(path, body).await;
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.expect("stream chunk")));
        }
        (status, text)
    }

    /// POSTs to `/v1/messages` the way the Anthropic SDK does (`x-api-key`, `anthropic-version`);
    /// returns the status and the raw body text.
    pub async fn post_messages(&self, body: &Value) -> (u16, String) {
        let response = self
            .client
            .post(format!("{}/v1/messages", self.url))
            .header("x-api-key", CALLER_KEY)
            .header("anthropic-version", "2023-06-01")
            .json(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Requests the mock received whose path contains `part`.
    pub fn upstream(&self, part: &str) -> Vec<mock_providers::Recorded> {
        self.mock
            .requests()
            .into_iter()
            .filter(|r| r.path.contains(part))
            .collect()
    }

    /// Everything the test host logged so far, one line each.
    pub fn logs(&self) -> String {
        self.host.logs().join("\n")
    }
}

async fn read_json(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, value)
}

/// A recorded request's header.
pub fn header<'a>(r: &'a mock_providers::Recorded, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The `(event, data)` pairs of an Anthropic-style SSE text.
pub fn sse_events(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut name = String::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            out.push((
                std::mem::take(&mut name),
                serde_json::from_str(d).expect("SSE data is JSON"),
            ));
        }
    }
    out
}

/// Concatenated `delta.content` (or another delta field) of OpenAI chunks.
pub fn joined(chunks: &[Value], field: &str) -> String {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer(&format!("/choices/0/delta/{field}"))
                .and_then(Value::as_str)
        })
        .collect()
}

/// The JSON payloads of an SSE text's `data:` lines (without `[DONE]`).
pub fn sse_payloads(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("SSE data is JSON"))
        .collect()
}

/// Asserts the OpenAI error shape and returns the error object.
pub fn assert_openai_error(body: &Value) -> &Value {
    let e = body
        .get("error")
        .unwrap_or_else(|| panic!("no error object in {body}"));
    for k in ["message", "type", "param", "code"] {
        assert!(e.get(k).is_some(), "error lacks `{k}`: {body}");
    }
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    e
}

/// A minimal chat request body.
pub fn chat(model: &str) -> Value {
    serde_json::json!({ "model": model, "messages": [{ "role": "user", "content": "Say hello" }] })
}
