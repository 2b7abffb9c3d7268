//! The SQL table of virtual keys that `/key/list` pages through and alias look-ups use, so no
//! admin path lists the key-value store. `/key/generate`, `/key/update` and `/key/delete` write
//! it next to the key-value record, which stays what checks read.

use serde_json::{json, Value};

use crate::keys::KeyRecord;
use crate::request_log::read;
use crate::sql::{Sql, SqlValue};

/// Writes (or rewrites) a key's row.
pub fn put(db: &dyn Sql, r: &KeyRecord) -> Result<(), String> {
    read(
        db,
        "INSERT INTO gateway_keys (key_id, key_name, key_alias, team_id, user_id, models, \
         created_at_ms, blocked) VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (key_id) DO UPDATE \
         SET key_name = excluded.key_name, key_alias = excluded.key_alias, \
         team_id = excluded.team_id, user_id = excluded.user_id, models = excluded.models",
        &[
            SqlValue::from(r.id.as_str()),
            SqlValue::Text(format!("{}...", r.prefix)),
            SqlValue::from(r.key_alias.as_deref()),
            SqlValue::from(r.team_id.as_deref()),
            SqlValue::from(r.user_id.as_deref()),
            SqlValue::Text(serde_json::to_string(&r.models).unwrap_or_default()),
            SqlValue::from(r.created_at_ms),
        ],
    )
    .map(drop)
}

/// Removes a key's row.
pub fn remove(db: &dyn Sql, key_id: &str) -> Result<(), String> {
    read(
        db,
        "DELETE FROM gateway_keys WHERE key_id = ?",
        &[SqlValue::from(key_id)],
    )
    .map(drop)
}

/// The id of the newest key with this alias.
pub fn id_by_alias(db: &dyn Sql, alias: &str) -> Result<Option<String>, String> {
    Ok(read(
        db,
        "SELECT key_id FROM gateway_keys WHERE key_alias = ? ORDER BY created_at_ms DESC LIMIT 1",
        &[SqlValue::from(alias)],
    )?
    .first()
    .and_then(|r| r.first())
    .and_then(SqlValue::as_str)
    .map(str::to_string))
}

/// Filters of `/key/list`.
#[derive(Debug, Default)]
pub struct KeyFilter<'a> {
    /// Only this alias.
    pub key_alias: Option<&'a str>,
    /// Only this team.
    pub team_id: Option<&'a str>,
}

/// One page of keys, newest first, and the number of keys matching (LiteLLM's shape).
pub fn list(db: &dyn Sql, f: &KeyFilter, page: u64, size: u64) -> Result<Value, String> {
    let mut filter = String::new();
    let mut params = Vec::new();
    if let Some(a) = f.key_alias {
        filter.push_str(" AND key_alias = ?");
        params.push(SqlValue::from(a));
    }
    if let Some(t) = f.team_id {
        filter.push_str(" AND team_id = ?");
        params.push(SqlValue::from(t));
    }
    let total = read(
        db,
        &format!("SELECT COUNT(*) FROM gateway_keys WHERE 1=1{filter}"),
        &params,
    )?
    .first()
    .and_then(|r| r.first())
    .and_then(SqlValue::as_i64)
    .unwrap_or(0);
    params.push(SqlValue::from(size));
    params.push(SqlValue::from(page.saturating_sub(1).saturating_mul(size)));
    let rows = read(
        db,
        &format!(
            "SELECT key_id, key_name, key_alias, team_id, user_id, models, created_at_ms, blocked \
             FROM gateway_keys WHERE 1=1{filter} ORDER BY created_at_ms DESC, key_id DESC \
             LIMIT ? OFFSET ?"
        ),
        &params,
    )?;
    let keys: Vec<Value> = rows
        .iter()
        .map(|r| {
            let text = |i: usize| r.get(i).and_then(SqlValue::as_str);
            let models: Value = text(5)
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or_else(|| json!([]));
            json!({
                "key_id": text(0), "token": text(0), "key_name": text(1), "key_alias": text(2),
                "team_id": text(3), "user_id": text(4), "models": models,
                "created_at": r.get(6).and_then(SqlValue::as_i64),
                "blocked": r.get(7).and_then(SqlValue::as_i64) == Some(1),
            })
        })
        .collect();
    let total = u64::try_from(total).unwrap_or(0);
    Ok(json!({
        "keys": keys,
        "total_count": total,
        "current_page": page,
        "total_pages": total.div_ceil(size),
    }))
}
