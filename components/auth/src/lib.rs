//! The auth component. It is not an HTTP component: the router imports its WIT interfaces and
//! Spin composes the two (`[component.router.dependencies]`), so it runs with the router's
//! configuration: the key-value stores `default` (keys, budgets), `limits` (RPM/TPM windows) and
//! `local` (the request-log queue), the `default` SQLite database (the request log) and the
//! variables `master_key` and `key_pepper`.

mod kv;
mod sql;

use auth_core::admin::{self, Context, Request};
use auth_core::check::{self, Secrets};
use auth_core::{Meters, UsageRecord};
use spin_sdk::variables;

mod bindings {
    wit_bindgen::generate!({ world: "auth-provider", path: "../../wit" });
}

use bindings::exports::llm_gateway::auth::admin as wit_admin;
use bindings::exports::llm_gateway::auth::auth as wit_auth;

struct Auth;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn secret(name: &str) -> String {
    variables::get(name).unwrap_or_default()
}

fn limits(l: check::LimitState) -> wit_auth::LimitState {
    wit_auth::LimitState {
        rpm_limit: l.rpm_limit,
        rpm_remaining: l.rpm_remaining,
        tpm_limit: l.tpm_limit,
        tpm_remaining: l.tpm_remaining,
        reset_seconds: l.reset_seconds,
    }
}

impl wit_auth::Guest for Auth {
    fn check(
        key: Option<String>,
        model: String,
        route: String,
        spend_logs: bool,
    ) -> Result<wit_auth::Grant, wit_auth::Denial> {
        use wit_auth::Denial as D;
        let (master_key, pepper) = (secret("master_key"), secret("key_pepper"));
        let secrets = Secrets {
            master_key: &master_key,
            pepper: &pepper,
        };
        let guard = kv::Guard::default();
        match check::check(
            &kv::Store::shared("default", &guard),
            &kv::Store::shared("limits", &guard),
            &secrets,
            key.as_deref(),
            &model,
            now_ms(),
        ) {
            Ok(g) => Ok(wit_auth::Grant {
                key_id: g.key_id,
                key_alias: g.key_alias,
                team: g.team,
                is_master: g.is_master,
                models: g.models,
                limits: limits(g.limits),
                meters: wit_auth::Meters {
                    tpm: g.meters.tpm,
                    spend_counter: g.meters.spend_counter,
                },
            }),
            Err(denial) => Err({
                if spend_logs && !model.is_empty() {
                    record_refusal(&guard, &denial, &model, &route);
                }
                match denial {
                    check::Denial::NoMasterKey => D::NoMasterKey,
                    check::Denial::MissingKey => D::MissingKey,
                    check::Denial::InvalidKey => D::InvalidKey,
                    check::Denial::ExpiredKey => D::ExpiredKey,
                    check::Denial::ModelNotAllowed(m) => D::ModelNotAllowed(m),
                    check::Denial::RateLimited(l) => D::RateLimited(limits(l)),
                    check::Denial::BudgetExceeded(s) => D::BudgetExceeded(s),
                    check::Denial::StoreError(s) => D::StoreError(s),
                }
            }),
        }
    }

    fn record_usage(u: wit_auth::Usage) -> Result<(), String> {
        let meters = Meters {
            tpm: u.meters.tpm,
            spend_counter: u.meters.spend_counter,
        };
        let record = UsageRecord {
            key_id: u.key_id,
            key_alias: u.key_alias,
            team: u.team,
            model: u.model,
            upstream_model: u.upstream_model,
            provider: u.provider,
            route: u.route,
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cached_tokens: u.cached_tokens,
            cost_usd: u.cost_usd,
            latency_ms: u.latency_ms,
            ttft_ms: u.ttft_ms,
            status: u.status,
            stream: u.stream,
            started_at_ms: u.started_at_ms,
            deployment_id: u.deployment_id,
            model_group: u.model_group,
            error_class: u.error_class,
            attempts: u.attempts,
            reasoning_tokens: u.reasoning_tokens,
            messages: u.messages,
            response: u.response,
        };
        let guard = kv::Guard::default();
        let (shared, limits) = (
            kv::Store::shared("default", &guard),
            kv::Store::shared("limits", &guard),
        );
        let stores = auth_core::log_queue::Sinks {
            open_log: &sql::Log::open_boxed,
            shared: &shared,
            limits: &limits,
            retention_ms: u.log_retention_s.map(|s| s.saturating_mul(1000)),
            log_rows: u.spend_logs,
        };
        auth_core::record_usage(
            &stores,
            guard.local(),
            &record,
            &meters,
            now_ms(),
            wasi::random::random::get_random_u64(),
            Some(u.call_id.as_str()).filter(|c| !c.is_empty()),
        )
    }
}

impl wit_admin::Guest for Auth {
    fn handle(req: wit_admin::AdminRequest) -> wit_admin::AdminResponse {
        let (master_key, pepper) = (secret("master_key"), secret("key_pepper"));
        let answer = |status: u16, body: String| wit_admin::AdminResponse {
            status,
            body,
            headers: Vec::new(),
        };
        let guard = kv::Guard::default();
        let store = kv::Store::shared("default", &guard);
        let log = match sql::Log::open() {
            Ok(l) => l,
            Err(e) => return answer(500, serde_error(&e)),
        };
        // Queries see every request this replica has finished.
        let now = now_ms();
        let limits = kv::Store::shared("limits", &guard);
        let sinks = auth_core::log_queue::Sinks {
            open_log: &sql::Log::open_boxed,
            shared: &store,
            limits: &limits,
            retention_ms: None,
            log_rows: true,
        };
        if let Err(e) = auth_core::log_queue::flush_all(guard.local(), &sinks, now) {
            eprintln!("{e}");
        }
        let mut random = wasi::random::random::get_random_u64;
        let metrics_token = secret("metrics_token");
        let mut ctx = Context {
            kv: &store,
            limits: &limits,
            log: &log,
            secrets: Secrets {
                master_key: &master_key,
                pepper: &pepper,
            },
            metrics_token: &metrics_token,
            now_ms: now,
            random: &mut random,
        };
        if req.path == "/metrics" {
            let (status, body) = admin::metrics(&ctx, req.key.as_deref());
            let content_type = if status == 200 {
                auth_core::metrics::CONTENT_TYPE
            } else {
                "application/json"
            };
            return wit_admin::AdminResponse {
                status,
                body,
                headers: vec![("content-type".into(), content_type.into())],
            };
        }
        let (status, body) = admin::handle(
            &mut ctx,
            &Request {
                method: &req.method,
                path: &req.path,
                query: &req.query,
                key: req.key.as_deref(),
                body: &req.body,
            },
        );
        answer(status, body.to_string())
    }
}

/// Queues the row of a request refused before any upstream call (the key is not known to the
/// log: its id is empty). Nothing here may change the answer, so a failure is only logged.
fn record_refusal(guard: &kv::Guard, denial: &check::Denial, model: &str, route: &str) {
    let (status, code) = denial.status_and_code();
    let record = UsageRecord {
        key_id: String::new(),
        model: model.to_string(),
        route: route.to_string(),
        status,
        error_class: Some(code.to_string()),
        started_at_ms: now_ms(),
        ..Default::default()
    };
    let (shared, limits) = (
        kv::Store::shared("default", guard),
        kv::Store::shared("limits", guard),
    );
    let sinks = auth_core::log_queue::Sinks {
        open_log: &sql::Log::open_boxed,
        shared: &shared,
        limits: &limits,
        retention_ms: None,
        log_rows: true,
    };
    let random = wasi::random::random::get_random_u64();
    let call_id = format!("req_{random:016x}");
    if let Err(e) = auth_core::log_queue::append(
        guard.local(),
        &sinks,
        &call_id,
        &record,
        None,
        now_ms(),
        random,
    ) {
        eprintln!("refusal not recorded: {e}");
    }
}

/// A store failure as OpenAI error JSON text.
fn serde_error(message: &str) -> String {
    let escaped = message.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"{{"error":{{"message":"auth store error: {escaped}","type":"server_error","param":null,"code":"auth_store_error"}}}}"#
    )
}

bindings::export!(Auth with_types_in bindings);
