//! Seeds a SQLite request log with N rows (default 1,000,000) through the app's own batch insert
//! (rows and rollups, 512 rows a transaction, as flushes write them), then times every usage query
//! on it.
//!
//!   cargo run --release -p auth-core --example seed_log -- target/seed-log.db 1000000
//!
//! The rows: 30 days, 50 keys in 5 teams, 6 models on 2 providers, 1 request in 20 failing,
//! latencies 50-3,000 ms; 200 keys in the key table.

use std::time::Instant;

use auth_core::check::UsageRecord;
use auth_core::keys::KeyRecord;
use auth_core::sql::{Sql, SqlValue};
use auth_core::{key_table, metrics, request_log, usage_api};
use rusqlite::types::{Value, ValueRef};

struct Db(rusqlite::Connection);

/// A timed query: the size of its answer.
type Query<'a> = Box<dyn Fn() -> Result<usize, String> + 'a>;

impl Sql for Db {
    fn execute(&self, statement: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, String> {
        let mut stmt = self
            .0
            .prepare_cached(statement)
            .map_err(|e| e.to_string())?;
        let values: Vec<Value> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => Value::Null,
                SqlValue::Integer(i) => Value::Integer(*i),
                SqlValue::Real(r) => Value::Real(*r),
                SqlValue::Text(t) => Value::Text(t.clone()),
            })
            .collect();
        let n = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values))
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            out.push(
                (0..n)
                    .map(|i| match row.get_ref(i) {
                        Ok(ValueRef::Integer(v)) => SqlValue::Integer(v),
                        Ok(ValueRef::Real(v)) => SqlValue::Real(v),
                        Ok(ValueRef::Text(t)) => SqlValue::Text(String::from_utf8_lossy(t).into()),
                        _ => SqlValue::Null,
                    })
                    .collect(),
            );
        }
        Ok(out)
    }
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "target/seed-log.db".into());
    let n: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let _ = std::fs::remove_file(&path);
    let db = Db(rusqlite::Connection::open(&path).map_err(|e| e.to_string())?);
    request_log::prepare(&db)?;
    let now_ms: u64 = 1_780_000_000_000;
    let span_ms: u64 = 30 * 86_400_000;
    let models = [
        "gpt-4o",
        "gpt-4o-mini",
        "o3",
        "claude-sonnet",
        "claude-haiku",
        "gemini",
    ];
    let t = Instant::now();
    let mut batch = Vec::with_capacity(512);
    for i in 0..n {
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
        x ^= x >> 29;
        let m = (x % 6) as usize;
        let key = (x / 7) % 50;
        let status = if x % 20 == 0 { 502 } else { 200 };
        batch.push((
            format!("req_{i:08}"),
            UsageRecord {
                key_id: format!("key_{key:04}"),
                key_alias: Some(format!("alias-{key}")),
                team: Some(format!("team-{}", key % 5)),
                model: models[m].into(),
                model_group: models[m].into(),
                deployment_id: format!("dep-{m}"),
                provider: if m < 3 { "openai" } else { "anthropic" }.into(),
                upstream_model: models[m].into(),
                route: "/v1/chat/completions".into(),
                prompt_tokens: 100 + x % 900,
                completion_tokens: 10 + x % 300,
                cost_usd: 0.0001 * (x % 50) as f64,
                latency_ms: 50 + x % 2_950,
                ttft_ms: Some(20 + x % 500),
                status,
                stream: x % 2 == 0,
                attempts: 1,
                started_at_ms: now_ms - span_ms + i * span_ms / n,
                ..Default::default()
            },
        ));
        if batch.len() == 512 || i + 1 == n {
            let rows: Vec<(&str, &UsageRecord)> =
                batch.iter().map(|(c, u)| (c.as_str(), u)).collect();
            request_log::insert_batch(&db, &rows)?;
            batch.clear();
        }
    }
    println!("seeded {n} rows in {:.1} s", t.elapsed().as_secs_f64());
    for k in 0..200u64 {
        key_table::put(
            &db,
            &KeyRecord {
                id: format!("key_{k:04}"),
                prefix: "sk-abcd".into(),
                key_alias: Some(format!("alias-{k}")),
                team_id: Some(format!("team-{}", k % 5)),
                created_at_ms: now_ms - k * 1000,
                ..Default::default()
            },
        )?;
    }
    let day = |d: u64| (now_ms - d * 86_400_000) / 1000;
    let queries: Vec<(&str, Query)> = vec![
        (
            "/spend/logs (newest 100)",
            Box::new(|| logs(&db, "", now_ms)),
        ),
        (
            "/spend/logs?key_id=key_0007",
            Box::new(|| logs(&db, "key_id=key_0007", now_ms)),
        ),
        (
            "/spend/logs?model=o3&status=failure",
            Box::new(|| logs(&db, "model=o3&status=failure", now_ms)),
        ),
        (
            "/spend/logs?status=502 (7 days)",
            Box::new(|| logs(&db, "status=502", now_ms)),
        ),
        (
            "/spend/logs 30 days, page 2 via cursor",
            Box::new(|| {
                let q = format!("start_date={}&end_date={}&limit=1000", day(30), day(0));
                let first =
                    usage_api::spend_logs(&db, &q, now_ms, &|_| Ok(None)).map_err(|e| e.message)?;
                let cursor = first
                    .as_array()
                    .and_then(|a| a.last())
                    .map(|r| r["cursor"].as_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                logs(&db, &format!("{q}&cursor={cursor}"), now_ms)
            }),
        ),
        (
            "/global/spend/report (30 days, key and model)",
            Box::new(|| {
                len(usage_api::spend_report(
                    &db,
                    &format!("start_date={}", day(30)),
                    now_ms,
                ))
            }),
        ),
        (
            "/global/spend/report?group_by=team",
            Box::new(|| {
                len(usage_api::spend_report(
                    &db,
                    &format!("start_date={}&group_by=team", day(30)),
                    now_ms,
                ))
            }),
        ),
        (
            "/global/activity (30 days)",
            Box::new(|| {
                len(usage_api::activity(
                    &db,
                    &format!("start_date={}", day(30)),
                    now_ms,
                ))
            }),
        ),
        (
            "/global/activity/model (30 days)",
            Box::new(|| {
                len(usage_api::activity_by_model(
                    &db,
                    &format!("start_date={}", day(30)),
                    now_ms,
                ))
            }),
        ),
        (
            "/usage/series?bucket=hour (30 days, by model)",
            Box::new(|| {
                len(usage_api::series(
                    &db,
                    &format!("start_date={}&bucket=hour", day(30)),
                    now_ms,
                ))
            }),
        ),
        (
            "/usage/series?bucket=minute (1 day, by model)",
            Box::new(|| {
                len(usage_api::series(
                    &db,
                    &format!("start_date={}&bucket=minute", day(1)),
                    now_ms,
                ))
            }),
        ),
        (
            "/key/list?page=5&size=20",
            Box::new(|| {
                key_table::list(&db, &Default::default(), 5, 20)
                    .map(|v| v["keys"].as_array().map_or(0, Vec::len))
            }),
        ),
        (
            "/key/info spend (totals of key_0007)",
            Box::new(|| request_log::key_totals(&db, "key_0007").map(|_| 1)),
        ),
        (
            "/metrics",
            Box::new(|| metrics::render(&db).map(|t| t.lines().count())),
        ),
    ];
    println!("| query | result size | first run | best of 5 |\n|---|---:|---:|---:|");
    for (name, run) in queries {
        let t = Instant::now();
        let size = run()?;
        let first = t.elapsed();
        let mut best = first;
        for _ in 0..5 {
            let t = Instant::now();
            run()?;
            best = best.min(t.elapsed());
        }
        println!(
            "| `{name}` | {size} | {:.1} ms | {:.1} ms |",
            first.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

fn logs(db: &Db, q: &str, now_ms: u64) -> Result<usize, String> {
    len(usage_api::spend_logs(db, q, now_ms, &|_| Ok(None)))
}

fn len(v: Result<serde_json::Value, gateway_core::ApiError>) -> Result<usize, String> {
    let v = v.map_err(|e| e.message)?;
    Ok(v.as_array().map_or_else(
        || {
            v["series"]
                .as_array()
                .map_or(v["daily_data"].as_array().map_or(1, Vec::len), Vec::len)
        },
        Vec::len,
    ))
}
