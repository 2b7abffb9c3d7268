//! The SQL schema of the request log, its rollups and the key table, created and upgraded by the
//! app itself: versioned migrations of one statement each (Spin's SQLite runs one statement per
//! `execute`), valid on SQLite and PostgreSQL (types are written as tokens the dialect fills in).

use crate::histogram::{BOUNDS_MS, BUCKETS};
use crate::sql::{Dialect, Sql, SqlValue};

/// Rollup grains in seconds: minute, hour and day buckets.
pub const GRAINS: [u64; 3] = [60, 3_600, 86_400];

/// The rollup tables: `usage_rollup` per key (and team) as well, `model_rollup` without the key
/// dimensions (`key_id`, `key_alias`, `team` are empty there), so answers that do not group by key
/// read a table as small as the models, deployments and statuses make it.
pub const ROLLUP_TABLES: [&str; 2] = ["usage_rollup", "model_rollup"];

/// The rollup dimensions after `grain` and `bucket_start` (its unique key), in order.
pub const DIMS: [&str; 7] = [
    "key_id",
    "key_alias",
    "team",
    "model",
    "deployment_id",
    "provider",
    "status",
];

/// The rollup's summed measures (histogram columns follow: [`lat_col`], [`ttft_col`]).
pub const MEASURES: [&str; 10] = [
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "spend",
    "latency_sum_ms",
    "ttft_count",
    "ttft_sum_ms",
];

/// The latency histogram column of bucket `i`.
pub fn lat_col(i: usize) -> String {
    format!("lat_{i}")
}

/// The time-to-first-byte histogram column of bucket `i`.
pub fn ttft_col(i: usize) -> String {
    format!("ttft_{i}")
}

/// Fills in a statement's type tokens for a dialect: `{pk}` an auto-numbered 64-bit primary key,
/// `{int}` a 64-bit integer, `{real}` a double.
fn typed(statement: &str, d: Dialect) -> String {
    let (pk, int, real) = match d {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY", "INTEGER", "REAL"),
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "BIGINT", "DOUBLE PRECISION"),
    };
    statement
        .replace("{pk}", pk)
        .replace("{int}", int)
        .replace("{real}", real)
}

fn rollup_table(table: &str) -> String {
    let mut cols = vec![
        "grain {int} NOT NULL".to_string(),
        "bucket_start {int} NOT NULL".to_string(),
    ];
    cols.extend(
        DIMS.iter()
            .filter(|d| **d != "status")
            .map(|d| format!("{d} TEXT NOT NULL DEFAULT ''")),
    );
    cols.push("status {int} NOT NULL".into());
    cols.extend(MEASURES.iter().map(|m| {
        if *m == "spend" {
            format!("{m} {{real}} NOT NULL DEFAULT 0")
        } else {
            format!("{m} {{int}} NOT NULL DEFAULT 0")
        }
    }));
    cols.extend((0..BUCKETS).map(|i| format!("{} {{int}} NOT NULL DEFAULT 0", lat_col(i))));
    cols.extend((0..BUCKETS).map(|i| format!("{} {{int}} NOT NULL DEFAULT 0", ttft_col(i))));
    format!("CREATE TABLE IF NOT EXISTS {table} ({})", cols.join(", "))
}

/// `CASE` counting a column's values in histogram bucket `i` (for the backfill).
fn in_bucket(col: &str, i: usize) -> String {
    let lo = if i == 0 {
        String::new()
    } else {
        format!("{col} > {} AND ", BOUNDS_MS[i - 1])
    };
    let hi = BOUNDS_MS
        .get(i)
        .map_or_else(|| format!("{col} IS NOT NULL"), |b| format!("{col} <= {b}"));
    format!("SUM(CASE WHEN {lo}{hi} THEN 1 ELSE 0 END)")
}

/// Rolls up the rows logged before the rollups existed, at one grain, into `table` (the model
/// rollup without the key dimensions).
fn backfill(table: &str, grain: u64) -> String {
    let keyed = table == ROLLUP_TABLES[0];
    let ms = grain * 1000;
    let mut cols = vec!["grain", "bucket_start"];
    cols.extend(DIMS);
    cols.extend(MEASURES);
    let hist: Vec<String> = (0..BUCKETS)
        .map(lat_col)
        .chain((0..BUCKETS).map(ttft_col))
        .collect();
    let mut values = vec![
        format!("{grain}"),
        format!("(started_at_ms / {ms}) * {grain}"),
        if keyed { "key_id" } else { "''" }.into(),
        if keyed {
            "COALESCE(key_alias, '')"
        } else {
            "''"
        }
        .into(),
        if keyed { "COALESCE(team, '')" } else { "''" }.into(),
        "model".into(),
        "deployment_id".into(),
        "provider".into(),
        "status".into(),
        "COUNT(*)".into(),
        "SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END)".into(),
        "SUM(prompt_tokens)".into(),
        "SUM(completion_tokens)".into(),
        "SUM(cached_tokens)".into(),
        "SUM(reasoning_tokens)".into(),
        "SUM(cost_usd)".into(),
        "SUM(latency_ms)".into(),
        "COUNT(ttft_ms)".into(),
        "COALESCE(SUM(ttft_ms), 0)".into(),
    ];
    values.extend((0..BUCKETS).map(|i| in_bucket("latency_ms", i)));
    values.extend((0..BUCKETS).map(|i| in_bucket("ttft_ms", i)));
    format!(
        "INSERT INTO {table} ({}, {}) SELECT {} FROM request_log GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
        cols.join(", "),
        hist.join(", "),
        values.join(", ")
    )
}

/// Migrations in order, for a dialect; each is one statement.
pub fn migrations(d: Dialect) -> Vec<(i64, String)> {
    let fixed: [(i64, &str); 14] = [
        (
            1,
            "CREATE TABLE IF NOT EXISTS request_log (id {pk}, call_id TEXT NOT NULL, \
             started_at_ms {int} NOT NULL, key_id TEXT NOT NULL, key_alias TEXT, team TEXT, \
             model TEXT NOT NULL, provider TEXT NOT NULL, upstream_model TEXT NOT NULL, \
             route TEXT NOT NULL, status {int} NOT NULL, prompt_tokens {int} NOT NULL, \
             completion_tokens {int} NOT NULL, cached_tokens {int} NOT NULL, \
             cost_usd {real} NOT NULL, latency_ms {int} NOT NULL, ttft_ms {int}, \
             stream {int} NOT NULL)",
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
        (
            5,
            "ALTER TABLE request_log ADD COLUMN deployment_id TEXT NOT NULL DEFAULT ''",
        ),
        (
            6,
            "ALTER TABLE request_log ADD COLUMN model_group TEXT NOT NULL DEFAULT ''",
        ),
        (7, "ALTER TABLE request_log ADD COLUMN error_class TEXT"),
        (
            8,
            "ALTER TABLE request_log ADD COLUMN attempts {int} NOT NULL DEFAULT 0",
        ),
        (
            9,
            "ALTER TABLE request_log ADD COLUMN reasoning_tokens {int} NOT NULL DEFAULT 0",
        ),
        (
            10,
            "CREATE INDEX IF NOT EXISTS request_log_model ON request_log (model, started_at_ms)",
        ),
        (11, ""), // the rollup table, below
        (
            12,
            "CREATE UNIQUE INDEX IF NOT EXISTS usage_rollup_key ON usage_rollup \
             (grain, bucket_start, key_id, key_alias, team, model, deployment_id, provider, status)",
        ),
        (
            13,
            "CREATE TABLE IF NOT EXISTS gateway_keys (key_id TEXT PRIMARY KEY, \
             key_name TEXT NOT NULL, key_alias TEXT, team_id TEXT, user_id TEXT, \
             models TEXT NOT NULL, created_at_ms {int} NOT NULL, blocked {int} NOT NULL DEFAULT 0)",
        ),
        (
            14,
            "CREATE INDEX IF NOT EXISTS gateway_keys_created ON gateway_keys (created_at_ms, key_id)",
        ),
    ];
    let mut out: Vec<(i64, String)> = fixed
        .iter()
        .map(|(v, s)| {
            let s = if *v == 11 {
                rollup_table(ROLLUP_TABLES[0])
            } else {
                s.to_string()
            };
            (*v, typed(&s, d))
        })
        .collect();
    out.extend(
        GRAINS
            .iter()
            .zip(15..)
            .map(|(g, v)| (v, backfill(ROLLUP_TABLES[0], *g))),
    );
    out.push((18, typed(&rollup_table(ROLLUP_TABLES[1]), d)));
    out.push((
        19,
        "CREATE UNIQUE INDEX IF NOT EXISTS model_rollup_key ON model_rollup \
         (grain, bucket_start, key_id, key_alias, team, model, deployment_id, provider, status)"
            .into(),
    ));
    out.extend(
        GRAINS
            .iter()
            .zip(20..)
            .map(|(g, v)| (v, backfill(ROLLUP_TABLES[1], *g))),
    );
    out.push((
        23,
        "ALTER TABLE request_log ADD COLUMN messages TEXT".into(),
    ));
    out.push((
        24,
        "ALTER TABLE request_log ADD COLUMN response TEXT".into(),
    ));
    out
}

/// Creates or upgrades the schema (idempotent; several replicas may run it at once: a
/// migration another replica just applied fails here and is skipped on the next run).
pub fn migrate(db: &dyn Sql) -> Result<(), String> {
    let d = db.dialect();
    if d == Dialect::Sqlite {
        db.execute("PRAGMA journal_mode=WAL", &[])?;
    }
    db.execute(
        "CREATE TABLE IF NOT EXISTS gateway_schema (version BIGINT PRIMARY KEY)",
        &[],
    )?;
    let done = db
        .execute("SELECT COALESCE(MAX(version), 0) FROM gateway_schema", &[])?
        .first()
        .and_then(|r| r.first())
        .and_then(SqlValue::as_i64)
        .unwrap_or(0);
    // Each migration runs in a transaction that first takes the schema's write lock and checks
    // the version again: a replica (or a concurrent flush) that got there first wins, once.
    let (begin, lock) = match d {
        Dialect::Sqlite => ("BEGIN IMMEDIATE", None),
        Dialect::Postgres => (
            "BEGIN",
            Some("LOCK TABLE gateway_schema IN SHARE ROW EXCLUSIVE MODE"),
        ),
    };
    for (version, statement) in migrations(d).into_iter().filter(|(v, _)| *v > done) {
        db.execute(begin, &[])?;
        let applied = (|| {
            if let Some(lock) = lock {
                db.execute(lock, &[])?;
            }
            let version = SqlValue::Integer(version);
            let present = db.execute(
                "SELECT version FROM gateway_schema WHERE version = ?",
                std::slice::from_ref(&version),
            )?;
            if present.is_empty() {
                db.execute(&statement, &[])?;
                db.execute(
                    "INSERT INTO gateway_schema (version) VALUES (?)",
                    &[version],
                )?;
            }
            Ok::<(), String>(())
        })();
        match applied {
            Ok(()) => db.execute("COMMIT", &[])?,
            Err(e) => {
                let _ = db.execute("ROLLBACK", &[]);
                return Err(format!("migration {version}: {e}"));
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_is_idempotent_and_versioned() {
        for db in crate::sql::test_backends("migration") {
            migration_is_idempotent_and_versioned_on(db.as_ref());
        }
    }

    fn migration_is_idempotent_and_versioned_on(db: &dyn Sql) {
        migrate(&db).unwrap();
        migrate(&db).unwrap();
        let v = db
            .execute("SELECT MAX(version) FROM gateway_schema", &[])
            .unwrap();
        assert_eq!(
            v[0][0],
            SqlValue::Integer(migrations(Dialect::Sqlite).len() as i64)
        );
        for (_, s) in migrations(Dialect::Postgres) {
            assert!(!s.contains('{') && !s.contains(';'), "{s}");
        }
    }
}
