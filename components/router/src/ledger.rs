//! Timing and identity of one request, recorded as usage when it ends.

use std::time::{Duration, Instant};

use gateway_core::config::{Config, Deployment, Provider};
use gateway_core::policy::{AttemptLimits, ErrorClass, RequestPolicy};
use gateway_core::pricing;
use gateway_core::usage::{cost_usd, Usage};
use gateway_core::{ApiError, ErrorType};
use translate::openai::Tokens;

use crate::gate::{self, Grant};
use crate::kept::{Kept, Teed};
use crate::route::{self, Trail};

/// The api_base a deployment's provider component calls (`x-litellm-model-api-base`): the
/// configured `api_base`, else the provider's origin variable as the router sees it.
fn api_base(d: &Deployment) -> String {
    d.api_base.clone().unwrap_or_else(|| {
        let (var, suffix) = match d.provider {
            Provider::OpenAi => ("openai_origin", "/v1"),
            Provider::Anthropic => ("anthropic_origin", ""),
            Provider::Gemini => ("gemini_origin", "/v1beta"),
            Provider::OpenAiCompatible => ("openai_compatible_origin", ""),
        };
        spin_sdk::variables::get(var)
            .map(|o| format!("{o}{suffix}"))
            .unwrap_or_default()
    })
}

/// A random call id (UUID v4 text), also the `x-litellm-call-id` header.
fn call_id() -> String {
    let mut bytes = wasi::random::random::get_random_bytes(16);
    bytes.resize(16, 0);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One request's ledger entry in the making.
pub struct Ledger {
    /// The caller's grant.
    pub grant: Grant,
    model: String,
    route: &'static str,
    stream: bool,
    started: Instant,
    started_at_ms: u64,
    ttft_ms: Option<u64>,
    call_id: String,
    routing: Option<RouteInfo>,
    upstream: Duration,
    log_retention_s: Option<u64>,
    spend_logs: bool,
    kept: Option<Kept>,
}

/// Who answered and how routing got there, for the `x-litellm-*` headers.
struct RouteInfo {
    deployment_id: String,
    group: String,
    api_base: String,
    retries: u32,
    fallbacks: u32,
    max_retries: u32,
    attempts: u32,
    /// The last deployment that failed, if any.
    last_failed: Option<String>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Usage in the gateway's accounting terms.
pub fn usage_of(t: Tokens) -> Usage {
    Usage {
        prompt_tokens: t.prompt,
        completion_tokens: t.completion,
        cached_tokens: t.cached,
        reasoning_tokens: t.reasoning,
    }
}

impl Ledger {
    /// Starts timing a request that `grant` was allowed to make; its row is logged and kept as
    /// the config says (`disable_spend_logs`, `maximum_spend_logs_retention_period`).
    pub fn new(
        grant: Grant,
        model: &str,
        route: &'static str,
        stream: bool,
        started: Instant,
        config: &Config,
    ) -> Ledger {
        Ledger {
            grant,
            model: model.to_string(),
            route,
            stream,
            started,
            started_at_ms: now_ms(),
            ttft_ms: None,
            call_id: call_id(),
            routing: None,
            upstream: Duration::ZERO,
            log_retention_s: config.log_retention_s,
            spend_logs: config.spend_logs,
            kept: config.store_prompts.then(Kept::default),
        }
    }

    /// Routes the request by policy ([`route::run`]) over the deployments `accept` allows, timing
    /// each attempt's wait for its provider and noting where the request went.
    pub fn route<'c, T>(
        &mut self,
        config: &'c Config,
        stream: bool,
        policy: &RequestPolicy,
        accept: &dyn Fn(&Deployment) -> bool,
        mut send: impl FnMut(&Deployment, &AttemptLimits) -> Result<T, ApiError>,
    ) -> Result<(T, &'c Deployment), ApiError> {
        let model = self.model.clone();
        let routed = route::run(config, &model, stream, policy, accept, |d, limits| {
            let sent = Instant::now();
            let result = send(d, limits);
            self.waited(sent);
            result
        });
        self.routed(routed.result.as_ref().ok().map(|(_, d)| *d), &routed.trail);
        routed.result
    }

    /// Notes who answered (`d`, or nobody) and how routing got there.
    fn routed(&mut self, d: Option<&Deployment>, trail: &Trail) {
        self.routing = Some(RouteInfo {
            deployment_id: d.map(|d| d.id.clone()).unwrap_or_default(),
            group: trail.group.clone().unwrap_or_else(|| self.model.clone()),
            api_base: d.map(api_base).unwrap_or_default(),
            retries: trail.retries,
            fallbacks: trail.fallbacks,
            max_retries: trail.max_retries,
            attempts: trail.attempts(d.is_some()),
            last_failed: trail
                .failures
                .iter()
                .rev()
                .map(|a| a.deployment_id.clone())
                .find(|id| !id.is_empty()),
        });
    }

    /// Adds time spent waiting for providers (excluded from the overhead header).
    pub fn waited(&mut self, since: Instant) {
        self.upstream += since.elapsed();
    }

    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Notes the first byte sent to the client.
    pub fn mark_first_byte(&mut self) {
        if self.ttft_ms.is_none() {
            self.ttft_ms = Some(self.started.elapsed().as_millis() as u64);
        }
    }

    /// Records the finished request (a status of 400 or more is classed by its status).
    pub fn record(&self, d: Option<&Deployment>, usage: Option<Usage>, status: u16) {
        let class = (status >= 400)
            .then(|| ErrorClass::of(&ApiError::new(status, ErrorType::Server, "")).name());
        self.write(d, usage, status, class);
    }

    /// Records a request that ended with `e`.
    pub fn record_error(&self, d: Option<&Deployment>, e: &ApiError) {
        self.write(d, None, e.status, Some(ErrorClass::of(e).name()));
    }

    fn write(
        &self,
        d: Option<&Deployment>,
        usage: Option<Usage>,
        status: u16,
        class: Option<&str>,
    ) {
        let usage = usage.unwrap_or_default();
        let routing = self.routing.as_ref();
        let (messages, response) = self.kept.as_ref().map(Kept::texts).unwrap_or_default();
        gate::record(&gate::Usage {
            key_id: self.grant.key_id.clone(),
            key_alias: self.grant.key_alias.clone(),
            team: self.grant.team.clone(),
            meters: self.grant.meters.clone(),
            model: self.model.clone(),
            upstream_model: d.map(|d| d.upstream_model.clone()).unwrap_or_default(),
            provider: d.map(|d| d.provider.name().to_string()).unwrap_or_default(),
            route: self.route.to_string(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cached_tokens: usage.cached_tokens,
            cost_usd: d.map(|d| Ledger::cost(d, &usage)).unwrap_or(0.0),
            latency_ms: self.started.elapsed().as_millis() as u64,
            ttft_ms: self.ttft_ms,
            status,
            stream: self.stream,
            started_at_ms: self.started_at_ms,
            call_id: self.call_id.clone(),
            deployment_id: d
                .map(|d| d.id.clone())
                .or_else(|| routing.and_then(|r| r.last_failed.clone()))
                .unwrap_or_default(),
            model_group: d.and(routing).map(|r| r.group.clone()).unwrap_or_default(),
            error_class: class.map(str::to_string),
            attempts: routing.map_or(0, |r| r.attempts),
            reasoning_tokens: usage.reasoning_tokens,
            log_retention_s: self.log_retention_s,
            spend_logs: self.spend_logs,
            messages,
            response,
        });
    }

    /// Keeps what `body` asked for the row (only with `store_prompts_in_spend_logs`).
    pub fn keep_request(&mut self, body: &serde_json::Map<String, serde_json::Value>) {
        if let Some(k) = &mut self.kept {
            k.request(body);
        }
    }

    /// Keeps bytes sent to the caller for the row (only with `store_prompts_in_spend_logs`).
    pub fn keep_answer(&mut self, bytes: &[u8]) {
        if let Some(k) = &mut self.kept {
            k.answer(bytes);
        }
    }

    /// [`Ledger::keep_answer`] for a JSON answer (serialized only when kept).
    pub fn keep_json(&mut self, answer: &serde_json::Value) {
        if let Some(k) = &mut self.kept {
            k.answer(answer.to_string().as_bytes());
        }
    }

    /// `translator`, its output also kept for the row.
    pub fn tee<'a>(
        &'a mut self,
        translator: &'a mut dyn gateway_core::sse::Translator,
    ) -> Teed<'a> {
        Teed {
            inner: translator,
            kept: self.kept.as_mut(),
        }
    }

    /// Success headers: content type, the caller's rate-limit state and LiteLLM's `x-litellm-*`
    /// routing headers; `cost` when it is known before the answer is sent (not for streams).
    pub fn headers(&self, content_type: &str, cost: Option<f64>) -> Vec<(String, String)> {
        let mut headers = vec![("content-type".to_string(), content_type.to_string())];
        headers.extend(gate::limit_headers(&self.grant.limits));
        headers.extend(self.routing_headers(cost));
        headers
    }

    /// LiteLLM's `x-litellm-*` headers (also sent with errors).
    pub fn routing_headers(&self, cost: Option<f64>) -> Vec<(String, String)> {
        let elapsed = self.started.elapsed();
        let overhead = elapsed.saturating_sub(self.upstream);
        let mut h = vec![
            ("x-litellm-call-id".to_string(), self.call_id.clone()),
            (
                "x-litellm-response-duration-ms".to_string(),
                format!("{:.3}", elapsed.as_secs_f64() * 1000.0),
            ),
            (
                "x-litellm-overhead-duration-ms".to_string(),
                format!("{:.3}", overhead.as_secs_f64() * 1000.0),
            ),
        ];
        if let Some(r) = &self.routing {
            h.push(("x-litellm-model-group".into(), r.group.clone()));
            if !r.deployment_id.is_empty() {
                h.push(("x-litellm-model-id".into(), r.deployment_id.clone()));
                h.push(("x-litellm-model-api-base".into(), r.api_base.clone()));
            }
            h.push(("x-litellm-attempted-retries".into(), r.retries.to_string()));
            h.push(("x-litellm-max-retries".into(), r.max_retries.to_string()));
            h.push((
                "x-litellm-attempted-fallbacks".into(),
                r.fallbacks.to_string(),
            ));
        }
        if let Some(cost) = cost {
            h.push(("x-litellm-response-cost".into(), format!("{cost}")));
        }
        h
    }

    /// The cost of `usage` on `d`, in USD.
    pub fn cost(d: &Deployment, usage: &Usage) -> f64 {
        cost_usd(usage, &pricing::effective(&d.prices, &d.upstream_model))
    }
}
