//! The request log's write path. A finished request appends its row to the replica's in-memory
//! queue (the `local` key-value store: two cheap in-memory operations, no file, no fsync), and
//! one request in [`BATCH`] (drawn at random, so no shared counter is needed), or the first one
//! after a quiet second, moves the queue into SQL in one transaction. Opening a SQLite connection, committing and closing it costs far more than a
//! row (Spin opens a new connection per request, and the last connection to close checkpoints the
//! WAL with an fsync), so it is paid once per batch instead of once per request.
//!
//! Budget spend travels with the rows: a request adds its cost at once to the counter's pending
//! part in the `limits` store (in memory on one replica, Redis for several), and a flush moves
//! each batch's cost from there to the durable counter in the shared store, one pair of
//! increments per counter and batch instead of a durable write per request. Checks add both parts,
//! so budgets see spend immediately on every replica, even one whose queue waits for traffic.
//!
//! Rows carry a unique call id and are inserted with `INSERT OR IGNORE`, so two flushes racing
//! over the same rows cannot duplicate them. A flush takes a lock whose key changes every ten
//! seconds, so a flush lost to a trapped instance blocks the others for ten seconds at most. The
//! queue is bounded: when SQL keeps failing, the oldest rows beyond [`MAX_QUEUED`] are dropped
//! (and the loss logged) rather than letting memory grow.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::check::{pending_spend_key, UsageRecord, MICRO};
use crate::sql::Sql;
use crate::store::{decode_counter, Kv};
use crate::{request_log, retention};

/// Rows per flush under steady traffic, on average.
pub const BATCH: u64 = 64;
/// A flush is also due when the last one is older than this.
pub const MAX_AGE_MS: u64 = 1_000;
/// Most rows one flush moves (bounds the work after one answer).
pub const MAX_FLUSH: usize = 512;
/// Most rows kept queued while SQL is failing.
pub const MAX_QUEUED: usize = 10_000;

const FLUSHED_AT: &str = "logq/flushed_at";
const ROW_PREFIX: &str = "logq/row/";
const LOCK_PERIOD_MS: u64 = 10_000;

/// A queued row: the call id, what is logged, and the budget counter its cost goes to.
#[derive(Serialize, Deserialize)]
struct Queued {
    call_id: String,
    usage: UsageRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spend_counter: Option<String>,
    /// Whether the row goes to the request log (else it carries only budget spend).
    #[serde(default = "yes")]
    log: bool,
}

fn yes() -> bool {
    true
}

/// The stores a request's record goes to: the SQL log, the shared durable store (keys, budget
/// totals) and the `limits` store (RPM/TPM windows, budgets' pending parts).
pub struct Sinks<'a> {
    /// Opens the SQL log (only when a flush is due).
    pub open_log: &'a dyn Fn() -> Result<Box<dyn Sql>, String>,
    /// The shared durable store.
    pub shared: &'a dyn Kv,
    /// The `limits` store.
    pub limits: &'a dyn Kv,
    /// How long rows are kept (`maximum_spend_logs_retention_period`), `None`: for ever.
    pub retention_ms: Option<u64>,
    /// Whether appended rows go to the request log and its rollups (`disable_spend_logs` turns
    /// it off: a row is then queued only for its budget spend).
    pub log_rows: bool,
}

fn lock_key(now_ms: u64) -> String {
    format!("logq/lock/{}", now_ms / LOCK_PERIOD_MS)
}

/// Queues a finished request's row (and the budget counter its cost goes to) under a key that
/// sorts by time; flushes the queue when due. `random` is 64 random bits (it names the row and
/// draws the flush). Returns the number of rows flushed.
pub fn append(
    local: &dyn Kv,
    sinks: &Sinks,
    call_id: &str,
    usage: &UsageRecord,
    spend_counter: Option<&str>,
    now_ms: u64,
    random: u64,
) -> Result<usize, String> {
    let row = serde_json::to_vec(&Queued {
        call_id: call_id.to_string(),
        usage: usage.clone(),
        spend_counter: spend_counter.map(str::to_string),
        log: sinks.log_rows,
    })
    .map_err(|e| e.to_string())?;
    local.set(&format!("{ROW_PREFIX}{now_ms:015}-{random:016x}"), &row)?;
    if !random.is_multiple_of(BATCH) && now_ms.saturating_sub(flushed_at(local)?) < MAX_AGE_MS {
        return Ok(0);
    }
    flush_locked(local, sinks, now_ms)
}

fn flushed_at(local: &dyn Kv) -> Result<u64, String> {
    Ok(local
        .get(FLUSHED_AT)?
        .and_then(|b| decode_counter(&b))
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0))
}

/// Flushes unless another flush holds the lock.
fn flush_locked(local: &dyn Kv, sinks: &Sinks, now_ms: u64) -> Result<usize, String> {
    let lock = lock_key(now_ms);
    if local.increment(&lock, 1)? != 1 {
        local.increment(&lock, -1)?;
        return Ok(0);
    }
    let result = flush(local, sinks, now_ms);
    local.increment(&lock, -1)?;
    if let Some(stale) = (now_ms / LOCK_PERIOD_MS).checked_sub(2) {
        local.delete(&format!("logq/lock/{stale}"))?;
    }
    result
}

/// Moves up to [`MAX_FLUSH`] queued rows, oldest first, into SQL in one transaction, then adds
/// their cost to the budget counters.
pub fn flush(local: &dyn Kv, sinks: &Sinks, now_ms: u64) -> Result<usize, String> {
    let mut keys = local.keys(ROW_PREFIX)?;
    if keys.is_empty() {
        local.set(FLUSHED_AT, now_ms.to_string().as_bytes())?;
        return Ok(0);
    }
    keys.sort();
    if keys.len() > MAX_QUEUED {
        let dropped = keys.len() - MAX_QUEUED;
        for k in keys.drain(..dropped) {
            local.delete(&k)?;
        }
        eprintln!("request log: {dropped} queued rows dropped: the SQL log kept failing");
    }
    keys.truncate(MAX_FLUSH);
    let mut rows = Vec::with_capacity(keys.len());
    for k in &keys {
        if let Some(Ok(q)) = local.get(k)?.map(|b| serde_json::from_slice::<Queued>(&b)) {
            rows.push(q);
        }
    }
    let batch: Vec<(&str, &UsageRecord)> = rows
        .iter()
        .filter(|q| q.log)
        .map(|q| (q.call_id.as_str(), &q.usage))
        .collect();
    let db = if batch.is_empty() {
        None
    } else {
        let db = (sinks.open_log)()?;
        request_log::insert_batch(db.as_ref(), &batch)?;
        Some(db)
    };
    for k in &keys {
        local.delete(k)?;
    }
    if let (Some(keep), Some(db)) = (sinks.retention_ms, &db) {
        if let Err(e) = retention::run(sinks.limits, db.as_ref(), keep, now_ms) {
            eprintln!("request log retention: {e}");
        }
    }
    local.set(FLUSHED_AT, now_ms.to_string().as_bytes())?;
    let mut spend: BTreeMap<&str, i64> = BTreeMap::new();
    for q in &rows {
        if let Some(counter) = &q.spend_counter {
            let micro = (q.usage.cost_usd * MICRO).round() as i64;
            let total = spend.entry(counter).or_default();
            *total = total.saturating_add(micro);
        }
    }
    for (counter, micro) in spend.into_iter().filter(|(_, m)| *m != 0) {
        // Pending first, then total; checks read the other way round (see [`crate::check`]), so
        // a check racing this misses the batch for an instant, never counts it twice.
        sinks
            .limits
            .increment(&pending_spend_key(counter), -micro)?;
        sinks.shared.increment(counter, micro)?;
    }
    Ok(rows.len())
}

/// Flushes everything queued (before an admin query, so it sees every finished request).
pub fn flush_all(local: &dyn Kv, sinks: &Sinks, now_ms: u64) -> Result<(), String> {
    while flush(local, sinks, now_ms)? == MAX_FLUSH {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request_log::{query, LogQuery};
    use crate::sql::sqlite::TestDb;
    use crate::store::memory::MemoryKv;
    use std::rc::Rc;

    /// A shared test database that `open` hands out.
    struct Shared(Rc<TestDb>);
    impl Sql for Shared {
        fn execute(
            &self,
            statement: &str,
            params: &[crate::SqlValue],
        ) -> Result<Vec<Vec<crate::SqlValue>>, String> {
            self.0.execute(statement, params)
        }
    }

    fn usage(i: u64) -> UsageRecord {
        UsageRecord {
            key_id: "k".into(),
            cost_usd: 0.25,
            model: "m".into(),
            started_at_ms: 1_000 + i,
            ..Default::default()
        }
    }

    fn rows(db: &TestDb) -> usize {
        query(
            db,
            &LogQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .unwrap()
        .len()
    }

    #[test]
    fn batches_under_traffic_and_flushes_when_quiet() {
        let db = Rc::new(TestDb::new());
        let opens = std::cell::Cell::new(0);
        let open = || -> Result<Box<dyn Sql>, String> {
            opens.set(opens.get() + 1);
            Ok(Box::new(Shared(db.clone())))
        };
        let local = MemoryKv::default();
        let shared = MemoryKv::default();
        let pending = MemoryKv::default();
        let sinks = Sinks {
            open_log: &open,
            shared: &shared,
            limits: &pending,
            retention_ms: None,
            log_rows: true,
        };
        let t = 10_000_000;
        // The first request finds no recent flush and flushes itself.
        append(&local, &sinks, "c0", &usage(0), None, t, 1).unwrap();
        assert_eq!((rows(&db), opens.get()), (1, 1));
        // Steady traffic: one SQL connection per BATCH requests (here the draw hits every 64th).
        for i in 1..=(2 * BATCH) {
            append(&local, &sinks, &format!("c{i}"), &usage(i), None, t + i, i).unwrap();
        }
        assert_eq!(opens.get(), 3);
        assert_eq!(rows(&db) as u64, 2 * BATCH + 1);
        // A quiet second later the next request flushes what is queued.
        append(&local, &sinks, "late", &usage(999), None, t + 5_000, 1).unwrap();
        assert_eq!(rows(&db) as u64, 2 * BATCH + 2);
        assert!(local.keys(ROW_PREFIX).unwrap().is_empty());
    }

    #[test]
    fn a_failing_log_keeps_rows_queued_then_delivers_them_once() {
        let db = Rc::new(TestDb::new());
        let failing = || -> Result<Box<dyn Sql>, String> { Err("disk gone".into()) };
        let working = || -> Result<Box<dyn Sql>, String> { Ok(Box::new(Shared(db.clone()))) };
        let local = MemoryKv::default();
        let shared = MemoryKv::default();
        let pending = MemoryKv::default();
        pending.increment("pending/spend/k", 10 * 250_000).unwrap();
        let failing = Sinks {
            open_log: &failing,
            shared: &shared,
            limits: &pending,
            retention_ms: None,
            log_rows: true,
        };
        let working = Sinks {
            open_log: &working,
            shared: &shared,
            limits: &pending,
            retention_ms: None,
            log_rows: true,
        };
        for i in 0..10 {
            let r = append(
                &local,
                &failing,
                &format!("c{i}"),
                &usage(i),
                Some("spend/k"),
                5_000 + i,
                i + 1,
            );
            assert!(r.is_err());
        }
        assert_eq!(local.keys(ROW_PREFIX).unwrap().len(), 10);
        flush_all(&local, &working, 9_000).unwrap();
        flush_all(&local, &working, 9_001).unwrap();
        assert_eq!(rows(&db), 10);
        assert_eq!(
            shared.increment("spend/k", 0).unwrap(),
            10 * 250_000,
            "each cost once"
        );
        assert_eq!(
            pending.increment("pending/spend/k", 0).unwrap(),
            0,
            "moved, not copied"
        );
    }

    #[test]
    fn a_held_lock_skips_the_flush() {
        let db = Rc::new(TestDb::new());
        let open = || -> Result<Box<dyn Sql>, String> { Ok(Box::new(Shared(db.clone()))) };
        let local = MemoryKv::default();
        let shared = MemoryKv::default();
        let pending = MemoryKv::default();
        let sinks = Sinks {
            open_log: &open,
            shared: &shared,
            limits: &pending,
            retention_ms: None,
            log_rows: true,
        };
        local.increment(&lock_key(50_000), 1).unwrap();
        append(&local, &sinks, "c", &usage(0), None, 50_000, 1).unwrap();
        assert_eq!(rows(&db), 0, "another flush holds the lock");
        // Ten seconds on, the lock key has changed: a lost lock does not block for ever.
        append(&local, &sinks, "d", &usage(1), None, 60_000, 2).unwrap();
        assert_eq!(rows(&db), 2);
    }

    #[test]
    fn rows_without_logging_carry_only_their_spend() {
        let failing = || -> Result<Box<dyn Sql>, String> { Err("never opened".into()) };
        let local = MemoryKv::default();
        let shared = MemoryKv::default();
        let pending = MemoryKv::default();
        pending.increment("pending/spend/k", 2 * 250_000).unwrap();
        let sinks = Sinks {
            open_log: &failing,
            shared: &shared,
            limits: &pending,
            retention_ms: Some(1),
            log_rows: false,
        };
        for i in 0..2 {
            append(
                &local,
                &sinks,
                &format!("c{i}"),
                &usage(i),
                Some("spend/k"),
                5_000 + i,
                BATCH * (i + 1),
            )
            .unwrap();
        }
        assert!(
            local.keys(ROW_PREFIX).unwrap().is_empty(),
            "flushed without SQL"
        );
        assert_eq!(shared.increment("spend/k", 0).unwrap(), 2 * 250_000);
    }
}
