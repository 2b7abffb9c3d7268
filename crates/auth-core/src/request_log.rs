//! The request log: one SQL row per finished request (never a prompt, an answer or a key), and
//! the spend queries over it. Rows arrive in batches from [`crate::log_queue`]. The schema is
//! created by the app itself, in versioned migrations of one statement each; the first write that
//! finds a table or column missing migrates and retries.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::check::UsageRecord;
use crate::rollup;
use crate::sql::{Dialect, Sql, SqlValue};

const INSERT: &str = "INSERT INTO request_log (call_id, started_at_ms, key_id, key_alias, team, \
    model, provider, upstream_model, route, status, prompt_tokens, completion_tokens, \
    cached_tokens, cost_usd, latency_ms, ttft_ms, stream, deployment_id, model_group, \
    error_class, attempts, reasoning_tokens, messages, response) VALUES ";
const ROW_MARKS: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const INSERT_END: &str = " ON CONFLICT (call_id) DO NOTHING RETURNING call_id";
/// Rows one INSERT statement carries (24 parameters each).
const ROWS_PER_INSERT: usize = 128;

/// The INSERT of `n` rows, one statement (one round trip), returning the call ids it added.
fn insert_statement(n: usize) -> String {
    format!("{INSERT}{}{INSERT_END}", vec![ROW_MARKS; n].join(", "))
}

const COLUMNS: &str = "id, call_id, started_at_ms, key_id, key_alias, team, model, provider, \
    upstream_model, route, status, prompt_tokens, completion_tokens, cached_tokens, cost_usd, \
    latency_ms, ttft_ms, stream, deployment_id, model_group, error_class, attempts, \
    reasoning_tokens, messages, response";

/// Sets this connection up for the log. On SQLite a commit is then not an fsync (WAL with
/// `synchronous=NORMAL`: durable at the next checkpoint, never corrupt); Spin opens a new
/// connection per `open`, so this runs once per connection.
pub fn prepare(db: &dyn Sql) -> Result<(), String> {
    match db.dialect() {
        Dialect::Sqlite => db.execute("PRAGMA synchronous=NORMAL", &[]).map(drop),
        Dialect::Postgres => Ok(()),
    }
}

pub use crate::schema::migrate;

fn params(call_id: &str, u: &UsageRecord) -> [SqlValue; 24] {
    [
        SqlValue::from(call_id),
        SqlValue::from(u.started_at_ms),
        SqlValue::from(u.key_id.as_str()),
        SqlValue::from(u.key_alias.as_deref()),
        SqlValue::from(u.team.as_deref()),
        SqlValue::from(u.model.as_str()),
        SqlValue::from(u.provider.as_str()),
        SqlValue::from(u.upstream_model.as_str()),
        SqlValue::from(u.route.as_str()),
        SqlValue::Integer(u.status.into()),
        SqlValue::from(u.prompt_tokens),
        SqlValue::from(u.completion_tokens),
        SqlValue::from(u.cached_tokens),
        SqlValue::Real(u.cost_usd),
        SqlValue::from(u.latency_ms),
        u.ttft_ms.map_or(SqlValue::Null, SqlValue::from),
        SqlValue::Integer(u.stream.into()),
        SqlValue::from(u.deployment_id.as_str()),
        SqlValue::from(u.model_group.as_str()),
        SqlValue::from(u.error_class.as_deref()),
        SqlValue::Integer(u.attempts.into()),
        SqlValue::from(u.reasoning_tokens),
        SqlValue::from(u.messages.as_deref()),
        SqlValue::from(u.response.as_deref()),
    ]
}

/// Appends finished requests and adds them to the rollups, in one transaction (rows whose call id
/// is already there are skipped, and not counted again); migrates first if the schema is missing
/// or old.
pub fn insert_batch(db: &dyn Sql, rows: &[(&str, &UsageRecord)]) -> Result<(), String> {
    let begin = match db.dialect() {
        Dialect::Sqlite => "BEGIN IMMEDIATE",
        Dialect::Postgres => "BEGIN",
    };
    let write = || {
        db.execute(begin, &[])?;
        let written = (|| {
            let mut added = HashSet::new();
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let p: Vec<SqlValue> = chunk.iter().flat_map(|(id, u)| params(id, u)).collect();
                for row in db.execute(&insert_statement(chunk.len()), &p)? {
                    if let Some(id) = row.first().and_then(SqlValue::as_str) {
                        added.insert(id.to_string());
                    }
                }
            }
            // A call id twice in one batch was added once: count it once.
            let new = rows
                .iter()
                .filter(|(id, _)| added.remove(*id))
                .map(|(_, u)| *u);
            rollup::apply(db, &rollup::collect(new))
        })();
        match written {
            Ok(()) => db.execute("COMMIT", &[]).map(drop),
            Err(e) => {
                let _ = db.execute("ROLLBACK", &[]);
                Err(e)
            }
        }
    };
    if write().is_ok() {
        return Ok(());
    }
    migrate(db)?;
    write()
}

/// Rows of a query, migrating first when the schema is missing or old (a replica that has
/// written nothing yet, or the first query after an upgrade).
pub fn read(
    db: &dyn Sql,
    statement: &str,
    params: &[SqlValue],
) -> Result<Vec<Vec<SqlValue>>, String> {
    match db.execute(statement, params) {
        Ok(rows) => Ok(rows),
        Err(_) => {
            migrate(db)?;
            db.execute(statement, params)
        }
    }
}

/// Which statuses `/spend/logs` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly this HTTP status.
    Is(u16),
    /// Below 400.
    Success,
    /// 400 or more.
    Failure,
}

/// What `/spend/logs` may filter on.
#[derive(Debug, Default)]
pub struct LogQuery<'a> {
    /// Only this key id.
    pub key_id: Option<&'a str>,
    /// Only this call id.
    pub call_id: Option<&'a str>,
    /// Only this model (as asked for).
    pub model: Option<&'a str>,
    /// Only these statuses.
    pub status: Option<StatusFilter>,
    /// Only rows started at or after this Unix ms.
    pub from_ms: Option<u64>,
    /// Only rows started before this Unix ms.
    pub to_ms: Option<u64>,
    /// Only rows strictly before this `(started_at_ms, id)` cursor (keyset paging, newest first).
    pub before: Option<(u64, i64)>,
    /// At most this many rows.
    pub limit: u32,
}

/// Rows matching `q`, newest first; each carries a `cursor` for the next page.
pub fn query(db: &dyn Sql, q: &LogQuery) -> Result<Vec<Value>, String> {
    let mut sql = format!("SELECT {COLUMNS} FROM request_log WHERE 1=1");
    let mut params = Vec::new();
    let mut text = |sql: &mut String, clause: &str, v: Option<&str>| {
        if let Some(v) = v {
            sql.push_str(clause);
            params.push(SqlValue::from(v));
        }
    };
    text(&mut sql, " AND key_id = ?", q.key_id);
    text(&mut sql, " AND call_id = ?", q.call_id);
    text(&mut sql, " AND model = ?", q.model);
    match q.status {
        Some(StatusFilter::Is(s)) => {
            sql.push_str(" AND status = ?");
            params.push(SqlValue::Integer(s.into()));
        }
        Some(StatusFilter::Success) => sql.push_str(" AND status < 400"),
        Some(StatusFilter::Failure) => sql.push_str(" AND status >= 400"),
        None => {}
    }
    if let Some(ms) = q.from_ms {
        sql.push_str(" AND started_at_ms >= ?");
        params.push(SqlValue::from(ms));
    }
    if let Some(ms) = q.to_ms {
        sql.push_str(" AND started_at_ms < ?");
        params.push(SqlValue::from(ms));
    }
    if let Some((ms, id)) = q.before {
        sql.push_str(" AND (started_at_ms < ? OR (started_at_ms = ? AND id < ?))");
        params.extend([
            SqlValue::from(ms),
            SqlValue::from(ms),
            SqlValue::Integer(id),
        ]);
    }
    sql.push_str(" ORDER BY started_at_ms DESC, id DESC LIMIT ?");
    params.push(SqlValue::Integer(q.limit.into()));
    Ok(read(db, &sql, &params)?
        .iter()
        .map(|r| row_json(r))
        .collect())
}

fn row_json(r: &[SqlValue]) -> Value {
    let int = |i: usize| r.get(i).and_then(SqlValue::as_i64);
    let text = |i: usize| r.get(i).and_then(SqlValue::as_str);
    json!({
        "request_id": text(1),
        "cursor": format!("{}-{}", int(2).unwrap_or(0), int(0).unwrap_or(0)),
        "started_at_ms": int(2),
        "startTime": int(2).map(|ms| ms / 1000),
        "key_id": text(3),
        "key_alias": text(4),
        "team_id": text(5),
        "model": text(6),
        "model_group": text(19),
        "deployment_id": text(18),
        "provider": text(7),
        "upstream_model": text(8),
        "route": text(9),
        "status": int(10),
        "error_class": text(20),
        "attempts": int(21),
        "prompt_tokens": int(11),
        "completion_tokens": int(12),
        "total_tokens": int(11).unwrap_or(0).saturating_add(int(12).unwrap_or(0)),
        "cached_tokens": int(13),
        "reasoning_tokens": int(22),
        "spend": r.get(14).and_then(SqlValue::as_f64),
        "latency_ms": int(15),
        "ttft_ms": int(16),
        "stream": int(17) == Some(1),
        "messages": stored(text(23)),
        "response": stored(text(24)),
    })
}

/// A stored request or answer: its JSON when it is JSON (a stream's events are not), else text.
fn stored(text: Option<&str>) -> Value {
    text.map_or(Value::Null, |t| {
        serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string()))
    })
}

/// Parses a `cursor` from [`query`] (`<started_at_ms>-<id>`).
pub fn parse_cursor(cursor: &str) -> Option<(u64, i64)> {
    let (ms, id) = cursor.split_once('-')?;
    Some((ms.parse().ok()?, id.parse().ok()?))
}

/// A key's total spend in USD (from the day rollups) and its last use (Unix ms, from the rows'
/// index on key and time).
pub fn key_totals(db: &dyn Sql, key_id: &str) -> Result<(f64, Option<u64>), String> {
    let spend = read(
        db,
        "SELECT SUM(spend) FROM usage_rollup WHERE grain = 86400 AND key_id = ?",
        &[SqlValue::from(key_id)],
    )?
    .first()
    .and_then(|r| r.first())
    .and_then(SqlValue::as_f64)
    .unwrap_or(0.0);
    let last = read(
        db,
        "SELECT MAX(started_at_ms) FROM request_log WHERE key_id = ?",
        &[SqlValue::from(key_id)],
    )?
    .first()
    .and_then(|r| r.first())
    .and_then(SqlValue::as_i64)
    .and_then(|v| u64::try_from(v).ok());
    Ok((spend, last))
}

/// Deletes up to `limit` rows started before `cutoff_ms`, oldest first (rollups stay: totals and
/// metrics keep counting them), and minute rollups older than a day before the cutoff. Returns the
/// rows deleted.
pub fn delete_before(db: &dyn Sql, cutoff_ms: u64, limit: u32) -> Result<usize, String> {
    let deleted = read(
        db,
        "DELETE FROM request_log WHERE id IN (SELECT id FROM request_log \
         WHERE started_at_ms < ? ORDER BY started_at_ms, id LIMIT ?) RETURNING id",
        &[SqlValue::from(cutoff_ms), SqlValue::Integer(limit.into())],
    )?
    .len();
    for table in crate::schema::ROLLUP_TABLES {
        read(
            db,
            &format!("DELETE FROM {table} WHERE grain = 60 AND bucket_start < ?"),
            &[SqlValue::from((cutoff_ms / 1000).saturating_sub(86_400))],
        )?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::sqlite::TestDb;

    fn usage(key: &str, at: u64, cost: f64) -> UsageRecord {
        UsageRecord {
            key_id: key.into(),
            key_alias: Some("alias".into()),
            model: "m".into(),
            provider: "openai".into(),
            upstream_model: "gpt-4o-mini".into(),
            route: "/v1/chat/completions".into(),
            prompt_tokens: 3,
            completion_tokens: 4,
            cost_usd: cost,
            status: 200,
            started_at_ms: at,
            ..Default::default()
        }
    }

    fn insert(db: &dyn Sql, call_id: &str, u: &UsageRecord) -> Result<(), String> {
        insert_batch(db, &[(call_id, u)])
    }

    #[test]
    fn first_insert_creates_the_schema_and_reads_back() {
        for db in crate::sql::test_backends("first_insert") {
            first_insert_on(db.as_ref());
        }
    }

    fn first_insert_on(db: &dyn Sql) {
        assert!(query(
            &db,
            &LogQuery {
                limit: 10,
                ..Default::default()
            }
        )
        .unwrap()
        .is_empty());
        assert_eq!(key_totals(&db, "k").unwrap(), (0.0, None));
        insert(&db, "req_1", &usage("k", 1_000, 0.5)).unwrap();
        insert(&db, "req_2", &usage("k", 2_000, 0.25)).unwrap();
        insert(&db, "req_3", &usage("other", 3_000, 1.0)).unwrap();
        insert(&db, "req_3", &usage("other", 3_000, 1.0)).unwrap(); // delivered twice, kept once
        assert_eq!(key_totals(&db, "k").unwrap(), (0.75, Some(2_000)));
        let rows = query(
            &db,
            &LogQuery {
                key_id: Some("k"),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["request_id"], "req_2", "newest first");
        assert_eq!(rows[0]["total_tokens"], 7);
        assert_eq!(rows[0]["key_alias"], "alias");
    }

    #[test]
    fn keyset_paging_walks_every_row_once() {
        for db in crate::sql::test_backends("keyset_paging") {
            paging_on(db.as_ref());
        }
    }

    fn paging_on(db: &dyn Sql) {
        for i in 0..25u64 {
            // Several rows share a millisecond: the id breaks ties.
            insert(&db, &format!("req_{i}"), &usage("k", 1_000 + i / 3, 0.0)).unwrap();
        }
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = query(
                &db,
                &LogQuery {
                    before,
                    limit: 4,
                    ..Default::default()
                },
            )
            .unwrap();
            let Some(last) = page.last() else { break };
            before = parse_cursor(last["cursor"].as_str().unwrap());
            seen.extend(
                page.iter()
                    .map(|r| r["request_id"].as_str().unwrap().to_string()),
            );
        }
        assert_eq!(seen.len(), 25);
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 25);
    }

    #[test]
    fn filters_and_rollups_equal_the_sum_of_rows() {
        for db in crate::sql::test_backends("filters_rollups") {
            filters_and_rollups_on(db.as_ref());
        }
    }

    fn filters_and_rollups_on(db: &dyn Sql) {
        let mut rows = Vec::new();
        for i in 0..300u64 {
            let mut u = usage(
                if i % 3 == 0 { "a" } else { "b" },
                i * 7_000,
                0.01 * i as f64,
            );
            u.model = ["m1", "m2"][(i % 2) as usize].into();
            u.status = if i % 5 == 0 { 502 } else { 200 };
            u.latency_ms = i;
            u.ttft_ms = (i % 4 != 0).then_some(i / 2);
            u.reasoning_tokens = 1;
            rows.push((format!("r{i}"), u));
        }
        let batch: Vec<(&str, &UsageRecord)> = rows.iter().map(|(c, u)| (c.as_str(), u)).collect();
        insert_batch(&db, &batch[..150]).unwrap();
        let mut again = batch[100..].to_vec();
        again.push(batch[299]); // 50 delivered twice, and one twice in a batch: counted once
        insert_batch(&db, &again).unwrap();
        let all = |q: LogQuery| query(&db, &LogQuery { limit: 1000, ..q }).unwrap();
        assert_eq!(all(LogQuery::default()).len(), 300);
        assert_eq!(
            all(LogQuery {
                key_id: Some("a"),
                ..Default::default()
            })
            .len(),
            100
        );
        assert_eq!(
            all(LogQuery {
                model: Some("m2"),
                ..Default::default()
            })
            .len(),
            150
        );
        assert_eq!(
            all(LogQuery {
                status: Some(StatusFilter::Failure),
                ..Default::default()
            })
            .len(),
            60
        );
        assert_eq!(
            all(LogQuery {
                status: Some(StatusFilter::Is(200)),
                ..Default::default()
            })
            .len(),
            240
        );
        let window = all(LogQuery {
            from_ms: Some(70_000),
            to_ms: Some(140_000),
            ..Default::default()
        });
        assert_eq!(window.len(), 10);
        assert_eq!(window[0]["started_at_ms"], 133_000);
        for grain in crate::schema::GRAINS {
            let groups = crate::rollup::grouped(
                &db,
                crate::rollup::Scope::Keys,
                grain,
                None,
                &["key_id"],
                true,
            )
            .unwrap();
            let sum = |f: &dyn Fn(&crate::rollup::Sums) -> i64| {
                groups.iter().map(|(_, s)| f(s)).sum::<i64>()
            };
            assert_eq!(sum(&|s| s.requests), 300, "grain {grain}");
            assert_eq!(sum(&|s| s.errors), 60);
            assert_eq!(sum(&|s| s.prompt_tokens), 900);
            assert_eq!(sum(&|s| s.reasoning_tokens), 300);
            assert_eq!(sum(&|s| s.latency_sum_ms), (0..300).sum::<i64>());
            assert_eq!(sum(&|s| s.ttft_count), 225);
            assert_eq!(sum(&|s| s.lat.iter().sum()), 300);
            assert_eq!(sum(&|s| s.ttft.iter().sum()), 225);
            let spend: f64 = groups.iter().map(|(_, s)| s.spend).sum();
            assert!((spend - (0..300).map(|i| 0.01 * i as f64).sum::<f64>()).abs() < 1e-9);
        }
        assert!(
            (key_totals(&db, "a").unwrap().0
                - (0..300).step_by(3).map(|i| 0.01 * i as f64).sum::<f64>())
            .abs()
                < 1e-9
        );
    }

    #[test]
    fn an_old_schema_is_migrated_and_backfilled() {
        let db = TestDb::new();
        // The schema of the first release: request_log and its indexes, versions 1-4.
        db.execute(
            "CREATE TABLE gateway_schema (version INTEGER PRIMARY KEY)",
            &[],
        )
        .unwrap();
        for (v, s) in crate::schema::migrations(crate::sql::Dialect::Sqlite)
            .into_iter()
            .take(4)
        {
            db.execute(&s, &[]).unwrap();
            db.execute(
                "INSERT INTO gateway_schema (version) VALUES (?)",
                &[SqlValue::Integer(v)],
            )
            .unwrap();
        }
        db.execute(
            "INSERT INTO request_log (call_id, started_at_ms, key_id, model, provider, upstream_model, route, status, prompt_tokens, completion_tokens, cached_tokens, cost_usd, latency_ms, stream) VALUES ('old', 5000, 'k', 'm', 'p', 'u', '/r', 200, 1, 2, 0, 0.5, 30, 0)",
            &[],
        )
        .unwrap();
        insert(&db, "new", &usage("k", 6_000, 0.25)).unwrap();
        assert_eq!(key_totals(&db, "k").unwrap(), (0.75, Some(6_000)));
        let day =
            crate::rollup::grouped(&db, crate::rollup::Scope::Models, 86_400, None, &[], true)
                .unwrap();
        assert_eq!((day[0].1.requests, day[0].1.lat[4]), (2, 1));
    }
}
