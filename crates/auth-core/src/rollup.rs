//! Usage rollups: per minute, hour and day, per key, team, model group, deployment, provider and
//! status, the sums of the request log's rows (counts, tokens, spend, latency and time-to-first-
//! byte histograms with LiteLLM's buckets). Written in the transaction that inserts the rows, one
//! upsert per bucket and group a batch touches; every usage answer and `/metrics` reads them,
//! never the rows.

use std::collections::BTreeMap;

use crate::check::UsageRecord;
use crate::histogram::{bucket_of, BUCKETS};
use crate::request_log::read;
use crate::schema::{lat_col, ttft_col, DIMS, GRAINS, MEASURES, ROLLUP_TABLES};
use crate::sql::{Dialect, Sql, SqlValue};

/// One rollup row's group: its table (an index of [`ROLLUP_TABLES`]), grain, bucket start (Unix s)
/// and the dimensions of [`DIMS`].
type Group = (usize, u64, u64, [String; 6], u16);

/// Sums for one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Sums {
    /// Requests.
    pub requests: i64,
    /// Requests answered with a status of 400 or more.
    pub errors: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Cached prompt tokens.
    pub cached_tokens: i64,
    /// Reasoning tokens.
    pub reasoning_tokens: i64,
    /// USD.
    pub spend: f64,
    /// Sum of latencies, ms.
    pub latency_sum_ms: i64,
    /// Requests with a first byte.
    pub ttft_count: i64,
    /// Sum of times to first byte, ms.
    pub ttft_sum_ms: i64,
    /// Latency histogram.
    pub lat: [i64; BUCKETS],
    /// Time-to-first-byte histogram.
    pub ttft: [i64; BUCKETS],
}

impl Default for Sums {
    fn default() -> Self {
        Sums {
            requests: 0,
            errors: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            reasoning_tokens: 0,
            spend: 0.0,
            latency_sum_ms: 0,
            ttft_count: 0,
            ttft_sum_ms: 0,
            lat: [0; BUCKETS],
            ttft: [0; BUCKETS],
        }
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Sums {
    fn add(&mut self, u: &UsageRecord) {
        self.requests += 1;
        self.errors += i64::from(u.status >= 400);
        self.prompt_tokens += int(u.prompt_tokens);
        self.completion_tokens += int(u.completion_tokens);
        self.cached_tokens += int(u.cached_tokens);
        self.reasoning_tokens += int(u.reasoning_tokens);
        self.spend += u.cost_usd;
        self.latency_sum_ms += int(u.latency_ms);
        self.lat[bucket_of(u.latency_ms)] += 1;
        if let Some(t) = u.ttft_ms {
            self.ttft_count += 1;
            self.ttft_sum_ms += int(t);
            self.ttft[bucket_of(t)] += 1;
        }
    }

    /// Reads sums from `row` starting at column `at`: [`MEASURES`] then both histograms (as
    /// [`sum_columns`] selects them).
    pub fn from_row(row: &[SqlValue], at: usize) -> Sums {
        let i = |k: usize| row.get(at + k).and_then(SqlValue::as_i64).unwrap_or(0);
        let mut s = Sums {
            requests: i(0),
            errors: i(1),
            prompt_tokens: i(2),
            completion_tokens: i(3),
            cached_tokens: i(4),
            reasoning_tokens: i(5),
            spend: row.get(at + 6).and_then(SqlValue::as_f64).unwrap_or(0.0),
            latency_sum_ms: i(7),
            ttft_count: i(8),
            ttft_sum_ms: i(9),
            ..Default::default()
        };
        for b in 0..BUCKETS {
            s.lat[b] = i(MEASURES.len() + b);
            s.ttft[b] = i(MEASURES.len() + BUCKETS + b);
        }
        s
    }

    fn params(&self) -> Vec<SqlValue> {
        let mut p = vec![
            SqlValue::Integer(self.requests),
            SqlValue::Integer(self.errors),
            SqlValue::Integer(self.prompt_tokens),
            SqlValue::Integer(self.completion_tokens),
            SqlValue::Integer(self.cached_tokens),
            SqlValue::Integer(self.reasoning_tokens),
            SqlValue::Real(self.spend),
            SqlValue::Integer(self.latency_sum_ms),
            SqlValue::Integer(self.ttft_count),
            SqlValue::Integer(self.ttft_sum_ms),
        ];
        p.extend(self.lat.iter().map(|n| SqlValue::Integer(*n)));
        p.extend(self.ttft.iter().map(|n| SqlValue::Integer(*n)));
        p
    }
}

/// Every summed column: [`MEASURES`], then the latency and time-to-first-byte histograms.
fn measure_columns() -> Vec<String> {
    MEASURES
        .iter()
        .map(|m| m.to_string())
        .chain((0..BUCKETS).map(lat_col))
        .chain((0..BUCKETS).map(ttft_col))
        .collect()
}

/// `SUM(...)` of the summed columns, in [`Sums::from_row`]'s order: [`MEASURES`], and the
/// histograms when `histograms`. PostgreSQL's integer sums are cast back to integers (its `SUM` of
/// a `BIGINT` is `NUMERIC`); SQLite's already are.
pub fn sum_columns(d: Dialect, histograms: bool) -> String {
    measure_columns()
        .iter()
        .take(if histograms {
            usize::MAX
        } else {
            MEASURES.len()
        })
        .map(|c| match d {
            Dialect::Postgres if c != "spend" => format!("CAST(SUM({c}) AS BIGINT)"),
            _ => format!("SUM({c})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Groups one upsert statement adds (about 90 parameters each: well under SQLite's 32,766 and
/// PostgreSQL's 65,535).
const GROUPS_PER_UPSERT: usize = 64;

/// The upsert adding `n` groups' sums to their rows in `table`, in one statement.
fn upsert_statement(table: &str, n: usize) -> String {
    let measures = measure_columns();
    let mut cols = vec!["grain".to_string(), "bucket_start".to_string()];
    cols.extend(DIMS.iter().map(|d| d.to_string()));
    cols.extend(measures.iter().cloned());
    let marks = format!("({})", vec!["?"; cols.len()].join(", "));
    let key = ["grain", "bucket_start"]
        .iter()
        .chain(DIMS.iter())
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let set = measures
        .iter()
        .map(|m| format!("{m} = {table}.{m} + excluded.{m}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {table} ({}) VALUES {} ON CONFLICT ({key}) DO UPDATE SET {set}",
        cols.join(", "),
        vec![marks; n].join(", ")
    )
}

/// Sums newly logged rows into their groups at every grain, in both tables.
pub fn collect<'a>(rows: impl Iterator<Item = &'a UsageRecord>) -> BTreeMap<Group, Sums> {
    let mut groups: BTreeMap<Group, Sums> = BTreeMap::new();
    for u in rows {
        let at_s = u.started_at_ms / 1000;
        let keyed = [
            u.key_id.clone(),
            u.key_alias.clone().unwrap_or_default(),
            u.team.clone().unwrap_or_default(),
            u.model.clone(),
            u.deployment_id.clone(),
            u.provider.clone(),
        ];
        let mut by_model = keyed.clone();
        for d in &mut by_model[..3] {
            d.clear();
        }
        for grain in GRAINS {
            for (table, dims) in [(0, &keyed), (1, &by_model)] {
                groups
                    .entry((table, grain, at_s - at_s % grain, dims.clone(), u.status))
                    .or_default()
                    .add(u);
            }
        }
    }
    groups
}

/// Adds the groups' sums to the rollup tables (inside the caller's transaction).
pub fn apply(db: &dyn Sql, groups: &BTreeMap<Group, Sums>) -> Result<(), String> {
    for (index, table) in ROLLUP_TABLES.iter().enumerate() {
        let mine: Vec<_> = groups.iter().filter(|(g, _)| g.0 == index).collect();
        for chunk in mine.chunks(GROUPS_PER_UPSERT) {
            let mut p = Vec::new();
            for ((_, grain, start, dims, status), sums) in chunk {
                p.extend([SqlValue::from(*grain), SqlValue::from(*start)]);
                p.extend(dims.iter().map(|d| SqlValue::from(d.as_str())));
                p.push(SqlValue::Integer((*status).into()));
                p.extend(sums.params());
            }
            db.execute(&upsert_statement(table, chunk.len()), &p)?;
        }
    }
    Ok(())
}

/// Which rollup a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Per key and team too (`usage_rollup`).
    Keys,
    /// Per model, deployment, provider and status only (`model_rollup`).
    Models,
}

/// Rollup sums of `scope` at `grain` (seconds) over buckets starting in `range` (Unix s,
/// half-open; all when `None`), grouped by `cols` (rollup column names chosen by the caller,
/// never by input), ordered by them; the histograms only when `histograms`. Each item is the
/// group's values, in `cols` order, and its sums.
pub fn grouped(
    db: &dyn Sql,
    scope: Scope,
    grain: u64,
    range: Option<(u64, u64)>,
    cols: &[&str],
    histograms: bool,
) -> Result<Vec<(Vec<SqlValue>, Sums)>, String> {
    let table = match scope {
        Scope::Keys => ROLLUP_TABLES[0],
        Scope::Models => ROLLUP_TABLES[1],
    };
    let mut params = vec![SqlValue::from(grain)];
    let mut filter = String::new();
    if let Some((from, to)) = range {
        filter.push_str(" AND bucket_start >= ? AND bucket_start < ?");
        params.extend([SqlValue::from(from), SqlValue::from(to)]);
    }
    let select = if cols.is_empty() {
        String::new()
    } else {
        format!("{}, ", cols.join(", "))
    };
    let group = if cols.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {0} ORDER BY {0}", cols.join(", "))
    };
    let rows = read(
        db,
        &format!(
            "SELECT {select}{} FROM {table} WHERE grain = ?{filter}{group}",
            sum_columns(db.dialect(), histograms)
        ),
        &params,
    )?;
    Ok(rows
        .into_iter()
        .filter(|r| r.get(cols.len()).and_then(SqlValue::as_i64).is_some())
        .map(|r| {
            let sums = Sums::from_row(&r, cols.len());
            (r.into_iter().take(cols.len()).collect(), sums)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_lands_in_one_bucket_per_grain() {
        let u = UsageRecord {
            key_id: "k".into(),
            model: "m".into(),
            status: 500,
            latency_ms: 70,
            ttft_ms: Some(3),
            started_at_ms: 90_061_000, // 1 day, 1 hour, 1 minute, 1 s
            ..Default::default()
        };
        let groups = collect([&u, &u].into_iter());
        let starts: Vec<(usize, u64, u64)> =
            groups.keys().map(|(t, g, s, _, _)| (*t, *g, *s)).collect();
        assert_eq!(
            starts,
            vec![
                (0, 60, 90_060),
                (0, 3_600, 90_000),
                (0, 86_400, 86_400),
                (1, 60, 90_060),
                (1, 3_600, 90_000),
                (1, 86_400, 86_400)
            ]
        );
        let s = groups.values().next().unwrap();
        assert_eq!((s.requests, s.errors, s.ttft_count), (2, 2, 2));
        assert_eq!((s.lat[5], s.ttft[0]), (2, 2));
        assert!(!upsert_statement("model_rollup", 3).contains(';'));
    }
}
