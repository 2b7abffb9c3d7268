//! The HTTP server: records requests and dispatches them to the provider formats.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

/// Response body type of the mock.
pub type Body = BoxBody<Bytes, Infallible>;

/// What the mock accepts.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    /// Bearer keys accepted on OpenAI-format paths; empty accepts any (or none).
    pub openai_keys: Vec<String>,
    /// `x-api-key` values accepted by the Anthropic mock; empty accepts any.
    pub anthropic_keys: Vec<String>,
    /// `x-goog-api-key` values accepted by the Gemini mock; empty accepts any.
    pub gemini_keys: Vec<String>,
    /// Pause between streamed events.
    pub chunk_delay: Duration,
}

impl MockConfig {
    /// Waits `chunk_delay` between streamed events; with no delay it only yields (tokio's timer
    /// would round even a zero sleep up to its next 1 ms tick).
    pub async fn pace(&self) {
        if self.chunk_delay.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(self.chunk_delay).await;
        }
    }
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

/// Shared state of a running mock.
pub(crate) struct State {
    pub config: MockConfig,
    pub requests: Mutex<Vec<Recorded>>,
    pub gate: Notify,
    /// Calls per requested model name (for `mock-fail-<n>-...`).
    pub calls: Mutex<std::collections::HashMap<String, u32>>,
}

impl State {
    /// Counts a call for `model`; returns how many there were before this one.
    pub fn count_call(&self, model: &str) -> u32 {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let n = calls.entry(model.to_string()).or_default();
        *n += 1;
        *n - 1
    }
}

/// A running mock; stops when dropped.
pub struct Mock {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Mock {
    /// Listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Forgets recorded requests.
    pub fn clear(&self) {
        if let Ok(mut r) = self.state.requests.lock() {
            r.clear();
        }
    }

    /// Lets held `mock-stream-gate` streams finish.
    pub fn release_gate(&self) {
        self.state.gate.notify_waiters();
        self.state.gate.notify_one();
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a mock on `127.0.0.1` with an ephemeral port.
pub async fn start(config: MockConfig) -> anyhow::Result<Mock> {
    start_on("127.0.0.1:0".parse()?, config).await
}

/// Starts a mock on a given address.
pub async fn start_on(addr: SocketAddr, config: MockConfig) -> anyhow::Result<Mock> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(State {
        config,
        requests: Mutex::new(Vec::new()),
        gate: Notify::new(),
        calls: Mutex::new(std::collections::HashMap::new()),
    });
    let shared = state.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // As the providers' own front ends do: without it a streamed answer's first event
            // waits (Nagle) for the gateway's delayed ACK of the response head.
            let _ = stream.set_nodelay(true);
            let state = shared.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(state, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Mock { addr, state, task })
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/".into());
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let recorded = Recorded {
        method,
        path,
        headers,
        body,
    };
    if let Ok(mut r) = state.requests.lock() {
        r.push(recorded.clone());
    }
    let json: Value = serde_json::from_str(&recorded.body).unwrap_or(Value::Null);
    let path = recorded.path.split('?').next().unwrap_or("");
    if path.ends_with("/chat/completions") {
        crate::openai::chat(&state, &recorded, &json).await
    } else if let Some(refused) = (path.ends_with("/v1/completions")
        || path.ends_with("/v1/embeddings")
        || path.ends_with("/v1/responses"))
    .then(|| crate::legacy_and_responses::refuse_key(&state, &recorded))
    .flatten()
    {
        refused
    } else if path.ends_with("/v1/completions") {
        crate::legacy_and_responses::completions(&state, &json).await
    } else if path.ends_with("/v1/embeddings") {
        crate::embed::openai(&json)
    } else if path.ends_with("/v1/responses") {
        crate::legacy_and_responses::responses(&state, &json).await
    } else if path.ends_with("/v1/messages/count_tokens") {
        crate::anthropic::count_tokens(&state, &recorded, &json)
    } else if path.ends_with("/v1/messages") {
        crate::anthropic::messages(&state, &recorded, &json).await
    } else if path.contains("/v1beta/models/") && path.contains(':') {
        crate::gemini::generate(&state, &recorded, &json).await
    } else {
        json_response(
            404,
            &serde_json::json!({"error": {"message": format!("Invalid URL ({} {})", recorded.method, recorded.path), "type": "invalid_request_error", "param": null, "code": null}}),
        )
    }
}

/// A whole JSON answer.
pub(crate) fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap_or_default()
}

/// A streamed answer fed through the returned sender.
pub(crate) fn sse_response() -> (mpsc::Sender<Bytes>, Response<Body>) {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let response = Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap_or_default();
    (tx, response)
}

/// The header value for a name, if present.
pub(crate) fn header<'a>(r: &'a Recorded, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
