//! The request log: one SQL row per finished request (never a prompt, an answer or a key), and
//! the spend queries over it. Rows arrive in batches from [`crate::log_queue`]. The schema is
//! created by the app itself, in versioned migrations of one statement each; the first write that
//! finds a table or column missing migrates and retries.

use serde_json::{json, Value};

use crate::check::UsageRecord;
use crate::sql::{Sql, SqlValue};

/// Migrations in order; each is one statement (Spin's SQLite runs one per `execute`).
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE IF NOT EXISTS request_log (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL,
            started_at_ms INTEGER NOT NULL,
            key_id TEXT NOT NULL,
            key_alias TEXT,
            team TEXT,
            model TEXT NOT NULL,
            provider TEXT NOT NULL,
            upstream_model TEXT NOT NULL,
            route TEXT NOT NULL,
            status INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL,
            latency_ms INTEGER NOT NULL,
            ttft_ms INTEGER,
            stream INTEGER NOT NULL
        )",
    ),
    (
        2,
        "CREATE INDEX IF NOT EXISTS request_log_time ON request_log (started_at_ms, id)",
    ),
    (
        3,
        "CREATE INDEX IF NOT EXISTS request_log_key ON request_log (key_id, started_at_ms)",
    ),
    (
        4,
        "CREATE UNIQUE INDEX IF NOT EXISTS request_log_call ON request_log (call_id)",
    ),
];

const INSERT: &str =
    "INSERT OR IGNORE INTO request_log (call_id, started_at_ms, key_id, key_alias, team, \
    model, provider, upstream_model, route, status, prompt_tokens, completion_tokens, \
    cached_tokens, cost_usd, latency_ms, ttft_ms, stream) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const COLUMNS: &str = "id, call_id, started_at_ms, key_id, key_alias, team, model, provider, \
    upstream_model, route, status, prompt_tokens, completion_tokens, cached_tokens, cost_usd, \
    latency_ms, ttft_ms, stream";

/// Sets this connection up for the log: a commit is not an fsync (WAL with `synchronous=NORMAL`:
/// durable at the next checkpoint, never corrupt). Spin opens a new connection per `open`, so
/// this runs once per connection.
pub fn prepare(db: &dyn Sql) -> Result<(), String> {
    db.execute("PRAGMA synchronous=NORMAL", &[]).map(drop)
}

/// Creates or upgrades the schema (idempotent; several replicas may run it at once).
pub fn migrate(db: &dyn Sql) -> Result<(), String> {
    db.execute("PRAGMA journal_mode=WAL", &[])?;
    db.execute(
        "CREATE TABLE IF NOT EXISTS gateway_schema (version INTEGER PRIMARY KEY)",
        &[],
    )?;
    let done = db
        .execute("SELECT COALESCE(MAX(version), 0) FROM gateway_schema", &[])?
        .first()
        .and_then(|r| r.first())
        .and_then(SqlValue::as_i64)
        .unwrap_or(0);
    for (version, statement) in MIGRATIONS.iter().filter(|(v, _)| *v > done) {
        db.execute(statement, &[])?;
        db.execute(
            "INSERT OR IGNORE INTO gateway_schema (version) VALUES (?)",
            &[SqlValue::Integer(*version)],
        )?;
    }
    Ok(())
}

fn params(call_id: &str, u: &UsageRecord) -> [SqlValue; 17] {
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
    ]
}

/// Appends finished requests in one transaction (rows whose call id is already there are
/// skipped); migrates first if the schema is missing or old.
pub fn insert_batch(db: &dyn Sql, rows: &[(&str, &UsageRecord)]) -> Result<(), String> {
    let write = || {
        db.execute("BEGIN IMMEDIATE", &[])?;
        for (id, u) in rows {
            if let Err(e) = db.execute(INSERT, &params(id, u)) {
                let _ = db.execute("ROLLBACK", &[]);
                return Err(e);
            }
        }
        db.execute("COMMIT", &[]).map(drop)
    };
    if write().is_ok() {
        return Ok(());
    }
    migrate(db)?;
    write()
}

/// Rows of a query; none before the first write has created the schema.
fn read(db: &dyn Sql, statement: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, String> {
    match db.execute(statement, params) {
        Err(e) if e.contains("no such table") => Ok(Vec::new()),
        result => result,
    }
}

/// What `/spend/logs` may filter on.
#[derive(Debug, Default)]
pub struct LogQuery<'a> {
    /// Only this key id.
    pub key_id: Option<&'a str>,
    /// Only this call id.
    pub call_id: Option<&'a str>,
    /// Only rows strictly before this `(started_at_ms, id)` cursor (keyset paging, newest first).
    pub before: Option<(u64, i64)>,
    /// At most this many rows.
    pub limit: u32,
}

/// Rows matching `q`, newest first; each carries a `cursor` for the next page.
pub fn query(db: &dyn Sql, q: &LogQuery) -> Result<Vec<Value>, String> {
    let mut sql = format!("SELECT {COLUMNS} FROM request_log WHERE 1=1");
    let mut params = Vec::new();
    if let Some(k) = q.key_id {
        sql.push_str(" AND key_id = ?");
        params.push(SqlValue::from(k));
    }
    if let Some(c) = q.call_id {
        sql.push_str(" AND call_id = ?");
        params.push(SqlValue::from(c));
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
        "key_id": text(3),
        "key_alias": text(4),
        "team_id": text(5),
        "model": text(6),
        "provider": text(7),
        "upstream_model": text(8),
        "route": text(9),
        "status": int(10),
        "prompt_tokens": int(11),
        "completion_tokens": int(12),
        "total_tokens": int(11).unwrap_or(0).saturating_add(int(12).unwrap_or(0)),
        "cached_tokens": int(13),
        "spend": r.get(14).and_then(SqlValue::as_f64),
        "latency_ms": int(15),
        "ttft_ms": int(16),
        "stream": int(17) == Some(1),
    })
}

/// Parses a `cursor` from [`query`] (`<started_at_ms>-<id>`).
pub fn parse_cursor(cursor: &str) -> Option<(u64, i64)> {
    let (ms, id) = cursor.split_once('-')?;
    Some((ms.parse().ok()?, id.parse().ok()?))
}

/// A key's total spend in USD and its last use (Unix ms), from the log.
pub fn key_totals(db: &dyn Sql, key_id: &str) -> Result<(f64, Option<u64>), String> {
    let rows = read(
        db,
        "SELECT COALESCE(SUM(cost_usd), 0), MAX(started_at_ms) FROM request_log WHERE key_id = ?",
        &[SqlValue::from(key_id)],
    )?;
    let row = rows.first();
    let spend = row
        .and_then(|r| r.first())
        .and_then(SqlValue::as_f64)
        .unwrap_or(0.0);
    let last = row
        .and_then(|r| r.get(1))
        .and_then(SqlValue::as_i64)
        .and_then(|v| u64::try_from(v).ok());
    Ok((spend, last))
}

/// Requests, tokens and spend per day, key and model (`/global/spend/report`).
pub fn spend_report(db: &dyn Sql) -> Result<Vec<Value>, String> {
    let rows = read(
        db,
        "SELECT started_at_ms / 86400000 AS day, key_id, model, COUNT(*), \
         SUM(prompt_tokens + completion_tokens), SUM(cost_usd) FROM request_log \
         GROUP BY day, key_id, model ORDER BY day, key_id, model",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let int = |i: usize| r.get(i).and_then(SqlValue::as_i64).unwrap_or(0);
            json!({
                "day_unix": int(0).saturating_mul(86_400),
                "key_id": r.get(1).and_then(SqlValue::as_str),
                "model": r.get(2).and_then(SqlValue::as_str),
                "requests": int(3),
                "total_tokens": int(4),
                "spend": r.get(5).and_then(SqlValue::as_f64).unwrap_or(0.0),
            })
        })
        .collect())
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
        let db = TestDb::new();
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
        let report = spend_report(&db).unwrap();
        assert_eq!(report.len(), 2);
        assert_eq!(report[0]["requests"], 2);
    }

    #[test]
    fn keyset_paging_walks_every_row_once() {
        let db = TestDb::new();
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
    fn migration_is_idempotent_and_versioned() {
        let db = TestDb::new();
        prepare(&db).unwrap();
        migrate(&db).unwrap();
        migrate(&db).unwrap();
        let v = db
            .execute("SELECT MAX(version) FROM gateway_schema", &[])
            .unwrap();
        assert_eq!(v[0][0], SqlValue::Integer(MIGRATIONS.len() as i64));
        assert_eq!(parse_cursor("12-3"), Some((12, 3)));
        assert_eq!(parse_cursor("x"), None);
    }
}
