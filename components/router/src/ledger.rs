//! Timing and identity of one request, recorded as usage when it ends.

use std::time::Instant;

use gateway_core::config::Deployment;
use gateway_core::pricing;
use gateway_core::usage::{cost_usd, Usage};
use translate::openai::Tokens;

use crate::gate::{self, Grant};

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
    }
}

impl Ledger {
    /// Starts timing a request that `grant` was allowed to make.
    pub fn new(
        grant: Grant,
        model: &str,
        route: &'static str,
        stream: bool,
        started: Instant,
    ) -> Ledger {
        Ledger {
            grant,
            model: model.to_string(),
            route,
            stream,
            started,
            started_at_ms: now_ms(),
            ttft_ms: None,
        }
    }

    /// Notes the first byte sent to the client.
    pub fn mark_first_byte(&mut self) {
        if self.ttft_ms.is_none() {
            self.ttft_ms = Some(self.started.elapsed().as_millis() as u64);
        }
    }

    /// Records the finished request.
    pub fn record(&self, d: Option<&Deployment>, usage: Option<Usage>, status: u16) {
        let usage = usage.unwrap_or_default();
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
            cost_usd: d
                .map(|d| cost_usd(&usage, &pricing::effective(&d.prices, &d.upstream_model)))
                .unwrap_or(0.0),
            latency_ms: self.started.elapsed().as_millis() as u64,
            ttft_ms: self.ttft_ms,
            status,
            stream: self.stream,
            started_at_ms: self.started_at_ms,
        });
    }

    /// Success headers: content type and the caller's rate-limit state.
    pub fn headers(&self, content_type: &str) -> Vec<(String, String)> {
        let mut headers = vec![("content-type".to_string(), content_type.to_string())];
        headers.extend(gate::limit_headers(&self.grant.limits));
        headers
    }
}
