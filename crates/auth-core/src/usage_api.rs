//! The usage API (README, "Usage API and metrics"): `/spend/logs` over the request log's rows
//! (keyset paging), and `/global/spend/report`, `/global/activity`, `/global/activity/model` and
//! `/usage/series` over the rollups only. Bad input is a 400 naming the parameter.

use std::collections::BTreeMap;

use gateway_core::ApiError;
use serde_json::{json, Map, Value};

use crate::histogram;
use crate::query_params::{format_day, Params};
use crate::request_log::{self, LogQuery, StatusFilter};
use crate::rollup::{self, Scope, Sums};
use crate::sql::{Sql, SqlValue};

/// Longest range of the day-bucket answers.
const MAX_DAYS: u64 = 400;

fn store_err(e: String) -> ApiError {
    ApiError::internal(format!("request log error: {e}")).with_code("auth_store_error")
}

fn text(v: &SqlValue) -> Value {
    match v {
        SqlValue::Text(t) => Value::String(t.clone()),
        SqlValue::Integer(i) => json!(i),
        SqlValue::Real(r) => json!(r),
        SqlValue::Null => Value::Null,
    }
}

fn totals(s: &Sums) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("requests".into(), json!(s.requests));
    m.insert("errors".into(), json!(s.errors));
    m.insert("prompt_tokens".into(), json!(s.prompt_tokens));
    m.insert("completion_tokens".into(), json!(s.completion_tokens));
    m.insert(
        "total_tokens".into(),
        json!(s.prompt_tokens + s.completion_tokens),
    );
    m.insert("spend".into(), json!(s.spend));
    m
}

/// `GET /spend/logs`. `resolve` turns an `api_key` (a key, key id or alias) into a key id.
pub fn spend_logs(
    db: &dyn Sql,
    query: &str,
    now_ms: u64,
    resolve: &dyn Fn(&str) -> Result<Option<String>, ApiError>,
) -> Result<Value, ApiError> {
    let p = Params::parse(
        query,
        &[
            "start_date",
            "end_date",
            "key_id",
            "api_key",
            "model",
            "status",
            "request_id",
            "limit",
            "cursor",
        ],
    )?;
    let limit = p.int_in("limit", 1..=1000, 100)? as u32;
    let before = match p.get("cursor") {
        None => None,
        Some(c) => Some(request_log::parse_cursor(c).ok_or_else(|| {
            ApiError::bad_request("`cursor` must be the `cursor` of a row of /spend/logs")
                .with_param("cursor")
        })?),
    };
    let status = match p.get("status") {
        None => None,
        Some("success") => Some(StatusFilter::Success),
        Some("failure") => Some(StatusFilter::Failure),
        Some(s) => Some(StatusFilter::Is(
            s.parse::<u16>()
                .ok()
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| {
                    ApiError::bad_request("`status` must be an HTTP status, `success` or `failure`")
                        .with_param("status")
                })?,
        )),
    };
    // A request id finds its row whenever it was made; otherwise the range defaults to 7 days.
    let range = match (p.get("request_id"), p.get("start_date"), p.get("end_date")) {
        (Some(_), None, None) => None,
        _ => Some(p.range(now_ms / 1000 + 1, u64::MAX / 86_400_000)?),
    };
    let key_id = match (p.get("key_id"), p.get("api_key")) {
        (Some(k), _) => Some(k.to_string()),
        (None, Some(k)) => match resolve(k)? {
            Some(id) => Some(id),
            None => return Ok(Value::Array(Vec::new())),
        },
        (None, None) => None,
    };
    let rows = request_log::query(
        db,
        &LogQuery {
            key_id: key_id.as_deref(),
            call_id: p.get("request_id"),
            model: p.get("model"),
            status,
            from_ms: range.map(|(s, _)| s.saturating_mul(1000)),
            to_ms: range.map(|(_, e)| e.saturating_mul(1000)),
            before,
            limit,
        },
    )
    .map_err(store_err)?;
    Ok(Value::Array(rows))
}

/// `group_by` of `/global/spend/report`: the rollup columns and the names they answer as.
fn report_groups(
    group_by: Option<&str>,
) -> Result<&'static [(&'static str, &'static str)], ApiError> {
    Ok(match group_by {
        None => &[
            ("key_id", "key_id"),
            ("key_alias", "key_alias"),
            ("model", "model"),
        ],
        Some("api_key") => &[("key_id", "key_id"), ("key_alias", "key_alias")],
        Some("model") => &[("model", "model")],
        Some("team") => &[("team", "team_id")],
        Some("provider") => &[("provider", "provider")],
        Some("deployment") => &[("deployment_id", "deployment_id")],
        Some(_) => {
            return Err(ApiError::bad_request(
                "`group_by` must be one of api_key, model, team, provider, deployment",
            )
            .with_param("group_by"))
        }
    })
}

/// `GET /global/spend/report`: per day and group, from the day rollups.
pub fn spend_report(db: &dyn Sql, query: &str, now_ms: u64) -> Result<Value, ApiError> {
    let p = Params::parse(query, &["start_date", "end_date", "group_by"])?;
    let range = p.range(now_ms / 1000 + 1, MAX_DAYS)?;
    let groups = report_groups(p.get("group_by"))?;
    let mut cols = vec!["bucket_start"];
    cols.extend(groups.iter().map(|(c, _)| *c));
    let scope = if cols.iter().any(|c| ["key_id", "team"].contains(c)) {
        Scope::Keys
    } else {
        Scope::Models
    };
    let rows = rollup::grouped(db, scope, 86_400, Some(day_range(range)), &cols, false)
        .map_err(store_err)?;
    Ok(Value::Array(
        rows.iter()
            .map(|(g, s)| {
                let mut m = Map::new();
                m.insert(
                    "group_by_day".into(),
                    json!(format_day(g[0].as_i64().unwrap_or(0) as u64)),
                );
                for ((_, name), v) in groups.iter().zip(&g[1..]) {
                    m.insert((*name).into(), text(v));
                }
                m.extend(totals(s));
                Value::Object(m)
            })
            .collect(),
    ))
}

/// A range widened to whole days (day buckets start at midnight UTC).
fn day_range((start, end): (u64, u64)) -> (u64, u64) {
    (start - start % 86_400, end.div_ceil(86_400) * 86_400)
}

fn daily(rows: &[(u64, Sums)]) -> Value {
    let data: Vec<Value> = rows
        .iter()
        .map(|(day, s)| {
            json!({
                "date": format_day(*day),
                "api_requests": s.requests,
                "total_tokens": s.prompt_tokens + s.completion_tokens,
            })
        })
        .collect();
    json!({
        "daily_data": data,
        "sum_api_requests": rows.iter().map(|(_, s)| s.requests).sum::<i64>(),
        "sum_total_tokens": rows.iter().map(|(_, s)| s.prompt_tokens + s.completion_tokens).sum::<i64>(),
    })
}

/// The day rollups of the models table in `start_date`..`end_date`, grouped by `columns`.
fn daily_rollups(
    db: &dyn Sql,
    query: &str,
    now_ms: u64,
    columns: &[&str],
) -> Result<Vec<(Vec<SqlValue>, Sums)>, ApiError> {
    let p = Params::parse(query, &["start_date", "end_date"])?;
    let range = day_range(p.range(now_ms / 1000 + 1, MAX_DAYS)?);
    rollup::grouped(db, Scope::Models, 86_400, Some(range), columns, false).map_err(store_err)
}

/// `GET /global/activity`: requests and tokens per day.
pub fn activity(db: &dyn Sql, query: &str, now_ms: u64) -> Result<Value, ApiError> {
    let rows = daily_rollups(db, query, now_ms, &["bucket_start"])?;
    let days: Vec<(u64, Sums)> = rows
        .into_iter()
        .map(|(g, s)| (g[0].as_i64().unwrap_or(0) as u64, s))
        .collect();
    Ok(daily(&days))
}

/// `GET /global/activity/model`: [`activity`] per model, most requests first.
pub fn activity_by_model(db: &dyn Sql, query: &str, now_ms: u64) -> Result<Value, ApiError> {
    let rows = daily_rollups(db, query, now_ms, &["model", "bucket_start"])?;
    let mut by_model: BTreeMap<String, Vec<(u64, Sums)>> = BTreeMap::new();
    for (g, s) in rows {
        let model = g[0].as_str().unwrap_or_default().to_string();
        by_model
            .entry(model)
            .or_default()
            .push((g[1].as_i64().unwrap_or(0) as u64, s));
    }
    let mut models: Vec<Value> = by_model
        .into_iter()
        .map(|(model, days)| {
            let mut v = daily(&days);
            v["model"] = json!(model);
            v
        })
        .collect();
    models.sort_by_key(|m| std::cmp::Reverse(m["sum_api_requests"].as_i64().unwrap_or(0)));
    Ok(Value::Array(models))
}

/// `GET /usage/series`: per bucket and group, with latency percentiles from the histograms.
pub fn series(db: &dyn Sql, query: &str, now_ms: u64) -> Result<Value, ApiError> {
    let p = Params::parse(query, &["start_date", "end_date", "bucket", "group_by"])?;
    let (bucket, grain, max_days) = match p.get("bucket") {
        Some("minute") => ("minute", 60, 1),
        None | Some("hour") => ("hour", 3_600, 31),
        Some("day") => ("day", 86_400, MAX_DAYS),
        Some(_) => {
            return Err(
                ApiError::bad_request("`bucket` must be minute, hour or day").with_param("bucket"),
            )
        }
    };
    let (group_name, group_col) = match p.get("group_by") {
        None | Some("model") => ("model", Some("model")),
        Some("provider") => ("provider", Some("provider")),
        Some("deployment") => ("deployment", Some("deployment_id")),
        Some("api_key") => ("api_key", Some("key_id")),
        Some("none") => ("none", None),
        Some(_) => {
            return Err(ApiError::bad_request(
                "`group_by` must be one of model, provider, deployment, api_key, none",
            )
            .with_param("group_by"))
        }
    };
    let (start, end) = p.range(now_ms / 1000 + 1, max_days)?;
    let range = (start - start % grain, end.div_ceil(grain) * grain);
    let mut cols: Vec<&str> = group_col.into_iter().collect();
    cols.push("bucket_start");
    let scope = if group_col == Some("key_id") {
        Scope::Keys
    } else {
        Scope::Models
    };
    let rows = rollup::grouped(db, scope, grain, Some(range), &cols, true).map_err(store_err)?;
    let mut series: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (g, s) in rows {
        let (name, t) = match group_col {
            Some(_) => (g[0].as_str().unwrap_or_default().to_string(), &g[1]),
            None => ("all".to_string(), &g[0]),
        };
        let mut point = totals(&s);
        point.insert("t".into(), text(t));
        for (key, hist, q) in [
            ("latency_p50_ms", &s.lat, 0.5),
            ("latency_p95_ms", &s.lat, 0.95),
            ("ttft_p50_ms", &s.ttft, 0.5),
            ("ttft_p95_ms", &s.ttft, 0.95),
        ] {
            point.insert(key.into(), json!(histogram::quantile(hist, q)));
        }
        series.entry(name).or_default().push(Value::Object(point));
    }
    Ok(json!({
        "bucket": bucket,
        "start": range.0,
        "end": range.1,
        "group_by": group_name,
        "series": series.into_iter().map(|(group, points)| json!({"group": group, "points": points})).collect::<Vec<_>>(),
    }))
}
