//! `/metrics`: Prometheus text exposition (format 0.0.4) with LiteLLM's metric names, rendered at
//! scrape time from the day rollups (the sums of the minute rollups each request updates; a day
//! row stands for up to 1,440 minute rows), so nothing is counted per request besides the row.
//! Labels are bounded: model group, deployment id, provider, status code and key alias, never a
//! key or its hash. Counters are totals since the log began (the rollups outlive row retention).

use std::fmt::Write;

use crate::histogram::{BOUNDS_MS, BUCKETS};
use crate::rollup::{self, Sums};
use crate::sql::{Sql, SqlValue};

/// The content type of the answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const FAILED: &str = "litellm_proxy_failed_requests_metric_total";

const LABELS: [(&str, &str); 5] = [
    ("model", "requested_model"),
    ("deployment_id", "model_id"),
    ("provider", "api_provider"),
    ("status", "status_code"),
    ("key_alias", "api_key_alias"),
];

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(values: &[SqlValue], extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = LABELS
        .iter()
        .zip(values)
        .map(|((_, name), v)| {
            let text = match v {
                SqlValue::Text(t) => escape(t),
                SqlValue::Integer(i) => i.to_string(),
                _ => String::new(),
            };
            format!("{name}=\"{text}\"")
        })
        .collect();
    if let Some((name, value)) = extra {
        parts.push(format!("{name}=\"{value}\""));
    }
    format!("{{{}}}", parts.join(","))
}

fn counter(
    out: &mut String,
    name: &str,
    help: &str,
    groups: &[(Vec<SqlValue>, Sums)],
    value: impl Fn(&Sums) -> f64,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (g, s) in groups {
        // Failures are counted only where the status is one (a success label set would say 0).
        if s.errors == 0 && name == FAILED {
            continue;
        }
        let _ = writeln!(out, "{name}{} {}", labels(g, None), value(s));
    }
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    groups: &[(Vec<SqlValue>, Sums)],
    pick: impl Fn(&Sums) -> (&[i64; BUCKETS], i64, i64),
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (g, s) in groups {
        let (counts, count, sum_ms) = pick(s);
        if count == 0 {
            continue;
        }
        let mut cumulative = 0;
        for (i, c) in counts.iter().enumerate() {
            cumulative += c;
            let le = BOUNDS_MS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| format!("{}", b / 1000.0));
            let _ = writeln!(
                out,
                "{name}_bucket{} {cumulative}",
                labels(g, Some(("le", le)))
            );
        }
        let _ = writeln!(out, "{name}_count{} {count}", labels(g, None));
        let _ = writeln!(
            out,
            "{name}_sum{} {}",
            labels(g, None),
            sum_ms as f64 / 1000.0
        );
    }
}

/// Renders every metric from the rollups.
pub fn render(db: &dyn Sql) -> Result<String, String> {
    let cols: Vec<&str> = LABELS.iter().map(|(c, _)| *c).collect();
    let groups = rollup::grouped(db, rollup::Scope::Keys, 86_400, None, &cols, true)?;
    let mut out = String::new();
    counter(
        &mut out,
        "litellm_proxy_total_requests_metric_total",
        "Total requests to the gateway, per status.",
        &groups,
        |s| s.requests as f64,
    );
    counter(
        &mut out,
        FAILED,
        "Requests answered with a status of 400 or more.",
        &groups,
        |s| s.errors as f64,
    );
    counter(
        &mut out,
        "litellm_input_tokens_metric_total",
        "Prompt tokens.",
        &groups,
        |s| s.prompt_tokens as f64,
    );
    counter(
        &mut out,
        "litellm_output_tokens_metric_total",
        "Completion tokens.",
        &groups,
        |s| s.completion_tokens as f64,
    );
    counter(
        &mut out,
        "litellm_total_tokens_metric_total",
        "Prompt and completion tokens.",
        &groups,
        |s| (s.prompt_tokens + s.completion_tokens) as f64,
    );
    counter(
        &mut out,
        "litellm_spend_metric_total",
        "Spend in USD.",
        &groups,
        |s| s.spend,
    );
    histogram(
        &mut out,
        "litellm_request_total_latency_metric",
        "Total latency of a request through the gateway, in seconds.",
        &groups,
        |s| (&s.lat, s.requests, s.latency_sum_ms),
    );
    histogram(
        &mut out,
        "litellm_llm_api_time_to_first_token_metric",
        "Time to the first byte of the answer, in seconds.",
        &groups,
        |s| (&s.ttft, s.ttft_count, s.ttft_sum_ms),
    );
    Ok(out)
}

/// One deployment's routing state, as the router sees it in its stores.
pub struct DeploymentState<'a> {
    /// The model group (`model_name`).
    pub model: &'a str,
    /// The deployment id.
    pub id: &'a str,
    /// Provider name.
    pub provider: &'a str,
    /// Whether it is cooling down now.
    pub cooling: bool,
    /// How many times it has been cooled down.
    pub cooled: u64,
}

/// `litellm_deployment_state` (LiteLLM's values: 0 healthy, 2 complete outage, which a cooling
/// deployment is) and `litellm_deployment_cooled_down_total`, appended to [`render`]'s text.
pub fn render_deployments(states: &[DeploymentState]) -> String {
    let mut out = String::new();
    let label = |d: &DeploymentState| {
        format!(
            "litellm_model_name=\"{}\",model_id=\"{}\",api_provider=\"{}\"",
            escape(d.model),
            escape(d.id),
            escape(d.provider)
        )
    };
    out.push_str("# HELP litellm_deployment_state Deployment state: 0 healthy, 2 cooling down (complete outage).\n# TYPE litellm_deployment_state gauge\n");
    for d in states {
        let _ = writeln!(
            out,
            "litellm_deployment_state{{{}}} {}",
            label(d),
            if d.cooling { 2 } else { 0 }
        );
    }
    out.push_str("# HELP litellm_deployment_cooled_down_total Times a deployment was cooled down.\n# TYPE litellm_deployment_cooled_down_total counter\n");
    for d in states {
        let _ = writeln!(
            out,
            "litellm_deployment_cooled_down_total{{{}}} {}",
            label(d),
            d.cooled
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::UsageRecord;
    use crate::request_log::insert_batch;

    #[test]
    fn renders_counters_and_histograms_from_rollups() {
        for db in crate::sql::test_backends("metrics") {
            renders_counters_and_histograms_from_rollups_on(db.as_ref());
        }
    }

    fn renders_counters_and_histograms_from_rollups_on(db: &dyn Sql) {
        let ok = UsageRecord {
            key_id: "k".into(),
            key_alias: Some("a\"b".into()),
            model: "m".into(),
            provider: "openai".into(),
            deployment_id: "d1".into(),
            status: 200,
            prompt_tokens: 3,
            completion_tokens: 4,
            cost_usd: 0.5,
            latency_ms: 70,
            ttft_ms: Some(20),
            started_at_ms: 1_000,
            ..Default::default()
        };
        let failed = UsageRecord {
            status: 502,
            ttft_ms: None,
            ..ok.clone()
        };
        insert_batch(&db, &[("a", &ok), ("b", &ok), ("c", &failed)]).unwrap();
        let text = render(&db).unwrap();
        let l = "requested_model=\"m\",model_id=\"d1\",api_provider=\"openai\"";
        assert!(
            text.contains(&format!(
                "litellm_proxy_total_requests_metric_total{{{l},status_code=\"200\",api_key_alias=\"a\\\"b\"}} 2"
            )),
            "{text}"
        );
        assert!(text.contains("litellm_proxy_failed_requests_metric_total{requested_model=\"m\",model_id=\"d1\",api_provider=\"openai\",status_code=\"502\""));
        assert!(!text.contains("litellm_proxy_failed_requests_metric_total{requested_model=\"m\",model_id=\"d1\",api_provider=\"openai\",status_code=\"200\""));
        assert!(text.contains("le=\"0.1\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("litellm_llm_api_time_to_first_token_metric_count"));
        assert!(text.contains("litellm_spend_metric_total"));
    }

    #[test]
    fn deployment_state_gauges_and_cooldown_counters() {
        let text = render_deployments(&[
            DeploymentState {
                model: "m\"x",
                id: "d1",
                provider: "openai",
                cooling: true,
                cooled: 3,
            },
            DeploymentState {
                model: "m",
                id: "d2",
                provider: "gemini",
                cooling: false,
                cooled: 0,
            },
        ]);
        assert!(text.contains("litellm_deployment_state{litellm_model_name=\"m\\\"x\",model_id=\"d1\",api_provider=\"openai\"} 2"), "{text}");
        assert!(text.contains("litellm_deployment_state{litellm_model_name=\"m\",model_id=\"d2\",api_provider=\"gemini\"} 0"));
        assert!(text.contains("litellm_deployment_cooled_down_total{litellm_model_name=\"m\\\"x\",model_id=\"d1\",api_provider=\"openai\"} 3"));
        assert_eq!(text.matches("# TYPE").count(), 2);
    }
}
