//! SQLite databases as Spin 3.6.3 serves them in process (`spin:sqlite/sqlite@3.0.0`): rusqlite
//! with SQLite compiled in, a new connection for every `open`, opened lazily on first use (a file
//! database's directory is created then), one statement prepared per `execute` (anything after the
//! first statement is ignored, as rusqlite's `prepare` leaves it), parameters bound positionally,
//! every SQLite error reported as `io(<rusqlite's message>)`, and results capped at Spin's 128 MiB.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::spin_bindings::spin::sqlite::sqlite::{Error, QueryResult, RowResult, Value};

/// Spin's cap on a host-buffered query result (`MAX_HOST_BUFFERED_BYTES`).
pub const MAX_RESULT_BYTES: usize = 128 << 20;

/// Where a database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file (created with its directory on first use).
    File(PathBuf),
    /// In memory: a new, empty database for every connection, as in Spin.
    InMemory,
}

/// One connection of one `open`.
pub struct Connection {
    location: Location,
    db: OnceLock<Arc<Mutex<rusqlite::Connection>>>,
    /// Spin panics on a text value that is not UTF-8 while it holds the connection's lock: that
    /// query fails with `io("internal runtime error")`, and the connection is poisoned (later
    /// queries fail the same way; `changes` and `last-insert-rowid` trap the instance).
    poisoned: AtomicBool,
}

/// What Spin reports when its blocking query task panicked.
const PANICKED: &str = "internal runtime error";

fn io(e: impl std::fmt::Display) -> Error {
    Error::Io(e.to_string())
}

impl Connection {
    /// A connection to `location`, not yet opened.
    pub fn new(location: Location) -> Connection {
        Connection {
            location,
            db: OnceLock::new(),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Whether a query panicked in Spin on this connection (see [`Connection`]).
    pub fn poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    fn db(&self) -> Result<Arc<Mutex<rusqlite::Connection>>, Error> {
        if let Some(db) = self.db.get() {
            return Ok(db.clone());
        }
        let opened = match &self.location {
            Location::InMemory => rusqlite::Connection::open_in_memory().map_err(io)?,
            Location::File(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        io(format!(
                            "failed to create sqlite database directory '{}': {e}",
                            dir.display()
                        ))
                    })?;
                }
                rusqlite::Connection::open(path).map_err(io)?
            }
        };
        Ok(self.db.get_or_init(|| Arc::new(Mutex::new(opened))).clone())
    }

    /// Runs the first statement of `sql` and returns its rows. Blocks: call it off the async
    /// executor (Spin runs it on a blocking thread too).
    pub fn query(
        &self,
        sql: &str,
        parameters: Vec<Value>,
        max_bytes: usize,
    ) -> Result<QueryResult, Error> {
        if self.poisoned() {
            return Err(io(PANICKED));
        }
        let db = self.db()?;
        let db = db.lock().unwrap_or_else(|e| e.into_inner());
        let mut statement = db.prepare_cached(sql).map_err(io)?;
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        let params = parameters.into_iter().map(|v| match v {
            Value::Integer(i) => rusqlite::types::Value::Integer(i),
            Value::Real(r) => rusqlite::types::Value::Real(r),
            Value::Text(t) => rusqlite::types::Value::Text(t),
            Value::Blob(b) => rusqlite::types::Value::Blob(b),
            Value::Null => rusqlite::types::Value::Null,
        });
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(io)?;
        let mut size = std::mem::size_of::<QueryResult>();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(io)? {
            let mut values = Vec::new();
            // Spin reads columns until the row has no more (not `columns.len()`).
            for i in 0.. {
                let value = match row.get_ref(i) {
                    Err(rusqlite::Error::InvalidColumnIndex(_)) => break,
                    Err(e) => return Err(io(e)),
                    Ok(rusqlite::types::ValueRef::Null) => Value::Null,
                    Ok(rusqlite::types::ValueRef::Integer(i)) => Value::Integer(i),
                    Ok(rusqlite::types::ValueRef::Real(r)) => Value::Real(r),
                    Ok(rusqlite::types::ValueRef::Text(t)) => match String::from_utf8(t.to_vec()) {
                        Ok(t) => Value::Text(t),
                        Err(_) => {
                            self.poisoned.store(true, Ordering::Relaxed);
                            return Err(io(PANICKED));
                        }
                    },
                    Ok(rusqlite::types::ValueRef::Blob(b)) => Value::Blob(b.to_vec()),
                };
                size += value_size(&value);
                values.push(value);
            }
            if size > max_bytes {
                return Err(io(format!(
                    "query result exceeds limit of {max_bytes} bytes"
                )));
            }
            out.push(RowResult { values });
        }
        Ok(QueryResult { columns, rows: out })
    }

    /// Rows changed by the connection's last INSERT, UPDATE or DELETE.
    pub fn changes(&self) -> Result<u64, Error> {
        let db = self.db()?;
        let db = db.lock().unwrap_or_else(|e| e.into_inner());
        Ok(db.changes())
    }

    /// Rowid of the connection's last INSERT (0 before any).
    pub fn last_insert_rowid(&self) -> Result<i64, Error> {
        let db = self.db()?;
        let db = db.lock().unwrap_or_else(|e| e.into_inner());
        Ok(db.last_insert_rowid())
    }
}

/// Spin's accounting of a value's size toward the result cap.
fn value_size(v: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match v {
            Value::Text(t) => t.len(),
            Value::Blob(b) => b.len(),
            Value::Null | Value::Integer(_) | Value::Real(_) => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(c: &Connection, sql: &str, params: Vec<Value>) -> Result<QueryResult, Error> {
        c.query(sql, params, MAX_RESULT_BYTES)
    }

    fn text(e: Error) -> String {
        match e {
            Error::Io(s) => s,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn values_round_trip_and_columns_are_named() {
        let c = Connection::new(Location::InMemory);
        q(
            &c,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)",
            vec![],
        )
        .unwrap();
        let inserted = q(
            &c,
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            vec![
                Value::Integer(-7),
                Value::Real(1.5),
                Value::Text("héllo".into()),
                Value::Blob(vec![0, 255]),
                Value::Null,
            ],
        )
        .unwrap();
        // A statement without rows answers no columns and no rows.
        assert!(inserted.columns.is_empty() && inserted.rows.is_empty());
        assert_eq!(c.changes().unwrap(), 1);
        assert_eq!(c.last_insert_rowid().unwrap(), 1);
        let r = q(&c, "SELECT i, r, s AS label, b, n FROM t", vec![]).unwrap();
        assert_eq!(r.columns, ["i", "r", "label", "b", "n"]);
        assert_eq!(r.rows.len(), 1);
        let v = &r.rows[0].values;
        assert!(matches!(v[0], Value::Integer(-7)));
        assert!(matches!(v[1], Value::Real(x) if x == 1.5));
        assert!(matches!(&v[2], Value::Text(s) if s == "héllo"));
        assert!(matches!(&v[3], Value::Blob(b) if b == &[0, 255]));
        assert!(matches!(v[4], Value::Null));
        // Named parameters bind by position, as rusqlite's params_from_iter does.
        let r = q(
            &c,
            "SELECT :a + :b AS sum",
            vec![Value::Integer(2), Value::Integer(3)],
        )
        .unwrap();
        assert!(matches!(r.rows[0].values[0], Value::Integer(5)));
        // A PRAGMA that answers a row (as the app's journal_mode one does).
        let r = q(&c, "PRAGMA journal_mode=WAL", vec![]).unwrap();
        assert_eq!(r.columns, ["journal_mode"]);
        assert!(matches!(&r.rows[0].values[0], Value::Text(m) if m == "memory"));
    }

    #[test]
    fn only_the_first_statement_runs() {
        let c = Connection::new(Location::InMemory);
        let r = q(
            &c,
            "CREATE TABLE a (x); CREATE TABLE b (x); INSERT INTO a VALUES (1)",
            vec![],
        )
        .unwrap();
        assert!(r.rows.is_empty());
        let tables = q(&c, "SELECT name FROM sqlite_master ORDER BY name", vec![]).unwrap();
        assert_eq!(tables.rows.len(), 1, "only `a` exists");
        assert!(matches!(&tables.rows[0].values[0], Value::Text(n) if n == "a"));
        assert_eq!(
            q(&c, "SELECT count(*) FROM a", vec![]).unwrap().rows[0]
                .values
                .len(),
            1
        );
        // Text that is not UTF-8 poisons the connection, as Spin's panic does.
        let bad = Connection::new(Location::InMemory);
        assert_eq!(
            text(q(&bad, "SELECT CAST(x'ff' AS TEXT)", vec![]).unwrap_err()),
            "internal runtime error"
        );
        assert!(bad.poisoned());
        assert_eq!(
            text(q(&bad, "SELECT 1", vec![]).unwrap_err()),
            "internal runtime error"
        );
        // An empty statement (or only a comment) prepares to nothing, which rusqlite then steps:
        // SQLite's misuse error, as Spin answers it.
        for empty in ["", " ;", "-- nothing"] {
            assert_eq!(
                text(q(&c, empty, vec![]).unwrap_err()),
                "bad parameter or other API misuse"
            );
        }
    }

    #[test]
    fn errors_are_io_with_sqlites_message() {
        let c = Connection::new(Location::InMemory);
        assert_eq!(
            text(q(&c, "SELECT * FROM missing", vec![]).unwrap_err()),
            "no such table: missing"
        );
        assert!(text(q(&c, "SELEKT 1", vec![]).unwrap_err()).contains("syntax error"));
        assert_eq!(
            text(q(&c, "SELECT ?", vec![]).unwrap_err()),
            "Wrong number of parameters passed to query. Got 0, needed 1"
        );
        q(&c, "CREATE TABLE u (k TEXT PRIMARY KEY)", vec![]).unwrap();
        q(&c, "INSERT INTO u VALUES ('a')", vec![]).unwrap();
        assert!(
            text(q(&c, "INSERT INTO u VALUES ('a')", vec![]).unwrap_err())
                .contains("UNIQUE constraint failed: u.k")
        );
        let big = q(
            &c,
            "SELECT zeroblob(1000) UNION ALL SELECT zeroblob(1000)",
            vec![],
        );
        assert!(big.is_ok());
        assert_eq!(
            text(
                c.query(
                    "SELECT zeroblob(1000) UNION ALL SELECT zeroblob(1000)",
                    vec![],
                    1500
                )
                .unwrap_err()
            ),
            "query result exceeds limit of 1500 bytes"
        );
    }

    #[test]
    fn memory_databases_are_per_connection_files_are_shared() {
        let a = Connection::new(Location::InMemory);
        q(&a, "CREATE TABLE t (x)", vec![]).unwrap();
        let b = Connection::new(Location::InMemory);
        assert!(q(&b, "SELECT * FROM t", vec![]).is_err());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/db.sqlite");
        let a = Connection::new(Location::File(path.clone()));
        assert!(!path.exists(), "opened lazily");
        q(&a, "PRAGMA journal_mode=WAL", vec![]).unwrap();
        q(&a, "PRAGMA synchronous=NORMAL", vec![]).unwrap();
        q(&a, "CREATE TABLE t (x)", vec![]).unwrap();
        q(&a, "INSERT INTO t VALUES (42)", vec![]).unwrap();
        let b = Connection::new(Location::File(path.clone()));
        let r = q(&b, "SELECT x FROM t", vec![]).unwrap();
        assert!(matches!(r.rows[0].values[0], Value::Integer(42)));
        assert_eq!(b.changes().unwrap(), 0, "changes are per connection");
        assert!(path.exists());
    }
}
