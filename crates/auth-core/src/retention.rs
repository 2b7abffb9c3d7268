//! Retention of the request log (`general_settings.maximum_spend_logs_retention_period`): rows
//! older than the period are deleted in bounded steps after a flush, by one replica at a time.
//! A lock in the `limits` store (shared by replicas on Redis) names each [`PERIOD_MS`]; the first
//! flush of a period to take it deletes up to [`MAX_DELETE`] rows, oldest first. Rollups stay, so
//! totals, the usage answers older than the period, and `/metrics` keep counting the deleted rows
//! (minute rollups older than a day before the cutoff go too).

use crate::request_log;
use crate::sql::Sql;
use crate::store::Kv;

/// How often retention runs (at most once per period over all replicas sharing `limits`).
pub const PERIOD_MS: u64 = 60_000;
/// Most rows one run deletes.
pub const MAX_DELETE: u32 = 5_000;

fn lock_key(period: u64) -> String {
    format!("retention/{period}")
}

/// Deletes rows older than `retention_ms` if this call is the first of its period to get there.
/// Returns the rows deleted (0 when another replica has the period).
pub fn run(limits: &dyn Kv, db: &dyn Sql, retention_ms: u64, now_ms: u64) -> Result<usize, String> {
    let period = now_ms / PERIOD_MS;
    if limits.increment(&lock_key(period), 1)? != 1 {
        return Ok(0);
    }
    if let Some(stale) = period.checked_sub(2) {
        limits.delete(&lock_key(stale))?;
    }
    request_log::delete_before(db, now_ms.saturating_sub(retention_ms), MAX_DELETE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::UsageRecord;
    use crate::request_log::{insert_batch, query, LogQuery};
    use crate::rollup::grouped;
    use crate::store::memory::MemoryKv;

    #[test]
    fn deletes_only_old_rows_once_per_period_and_keeps_rollups() {
        for db in crate::sql::test_backends("retention") {
            deletes_only_old_rows_once_per_period_and_keeps_rollups_on(db.as_ref());
        }
    }

    fn deletes_only_old_rows_once_per_period_and_keeps_rollups_on(db: &dyn Sql) {
        let day = 86_400_000;
        let now = 100 * day;
        let rows: Vec<(String, UsageRecord)> = (0..10u64)
            .map(|i| {
                (
                    format!("r{i}"),
                    UsageRecord {
                        key_id: "k".into(),
                        model: "m".into(),
                        cost_usd: 1.0,
                        started_at_ms: now - (i * 10 + 1) * day, // 1, 11, 21, ... 91 days old
                        ..Default::default()
                    },
                )
            })
            .collect();
        let batch: Vec<(&str, &UsageRecord)> = rows.iter().map(|(c, u)| (c.as_str(), u)).collect();
        insert_batch(&db, &batch).unwrap();
        let limits = MemoryKv::default();
        let kept = |db: &dyn Sql| {
            query(
                db,
                &LogQuery {
                    limit: 100,
                    ..Default::default()
                },
            )
            .unwrap()
            .len()
        };
        assert_eq!(run(&limits, &db, 30 * day, now).unwrap(), 7);
        assert_eq!(kept(&db), 3, "1, 11 and 21 days old stay");
        // Another replica in the same period does nothing; the next period finds nothing old.
        assert_eq!(run(&limits, &db, 1, now + 1).unwrap(), 0);
        assert_eq!(run(&limits, &db, 30 * day, now + PERIOD_MS).unwrap(), 0);
        let total: f64 = grouped(&db, crate::rollup::Scope::Models, 86_400, None, &[], false)
            .unwrap()
            .iter()
            .map(|(_, s)| s.spend)
            .sum();
        assert_eq!(total, 10.0, "rollups keep every row's spend");
    }
}
