//! [`auth_core::Sql`] on Spin's SQLite database `default` (`spin:sqlite/sqlite@3.0.0`).

use auth_core::SqlValue;
use spin_sdk::sqlite3::{Connection, Value};

/// A connection to the request log database, set up for cheap commits.
pub struct Log(Connection);

impl Log {
    /// Opens the `default` database (Spin opens a new connection each time).
    pub fn open() -> Result<Log, String> {
        let log = Connection::open_default()
            .map(Log)
            .map_err(|e| format!("request log: {e:?}"))?;
        auth_core::request_log::prepare(&log)?;
        Ok(log)
    }

    /// [`Log::open`] as the request-log queue wants it.
    pub fn open_boxed() -> Result<Box<dyn auth_core::Sql>, String> {
        Ok(Box::new(Log::open()?))
    }
}

impl auth_core::Sql for Log {
    fn execute(&self, statement: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, String> {
        let params: Vec<Value> = params
            .iter()
            .map(|p| match p {
                SqlValue::Null => Value::Null,
                SqlValue::Integer(i) => Value::Integer(*i),
                SqlValue::Real(r) => Value::Real(*r),
                SqlValue::Text(t) => Value::Text(t.clone()),
            })
            .collect();
        let result = self
            .0
            .execute(statement, &params)
            .map_err(|e| format!("request log: {e:?}"))?;
        Ok(result
            .rows
            .into_iter()
            .map(|row| {
                row.values
                    .into_iter()
                    .map(|v| match v {
                        Value::Integer(i) => SqlValue::Integer(i),
                        Value::Real(r) => SqlValue::Real(r),
                        Value::Text(t) => SqlValue::Text(t),
                        Value::Blob(_) | Value::Null => SqlValue::Null,
                    })
                    .collect()
            })
            .collect())
    }
}
