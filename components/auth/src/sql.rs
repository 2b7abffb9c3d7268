//! [`auth_core::Sql`] on the log store the variable `log_store` names: Spin's SQLite database
//! `default` (`sqlite`, the default) or PostgreSQL at `postgres_url` through Spin's outbound
//! Postgres (`postgres`, `spin:postgres/postgres@4.0.0`).

use auth_core::sql::{pg_rows, pg_statement, Dialect, PgStatement};
use auth_core::SqlValue;
use spin_sdk::pg4;
use spin_sdk::sqlite3::{Connection, Value};

/// A connection to the request log database, set up for cheap commits.
pub enum Log {
    /// Spin's SQLite database `default`.
    Sqlite(Connection),
    /// PostgreSQL.
    Postgres(pg4::Connection),
}

impl Log {
    /// Opens the configured store (Spin opens a new connection each time).
    pub fn open() -> Result<Log, String> {
        let store = spin_sdk::variables::get("log_store").unwrap_or_default();
        let log = match store.as_str() {
            "" | "sqlite" => Connection::open_default()
                .map(Log::Sqlite)
                .map_err(|e| format!("request log: {e:?}"))?,
            "postgres" => {
                let url = spin_sdk::variables::get("postgres_url").unwrap_or_default();
                // The error may quote the address, which holds the password: say only its kind.
                pg4::Connection::open(&url)
                    .map(Log::Postgres)
                    .map_err(|e| {
                        format!("request log: cannot connect to PostgreSQL ({})", kind(&e))
                    })?
            }
            other => {
                return Err(format!(
                    "request log: log_store `{other}` is neither `sqlite` nor `postgres`"
                ))
            }
        };
        auth_core::request_log::prepare(&log)?;
        Ok(log)
    }

    /// [`Log::open`] as the request-log queue wants it.
    pub fn open_boxed() -> Result<Box<dyn auth_core::Sql>, String> {
        Ok(Box::new(Log::open()?))
    }
}

/// A Postgres error without the parts that may quote the connection string.
fn kind(e: &pg4::PgError) -> String {
    match e {
        pg4::PgError::ConnectionFailed(_) => "connection failed".into(),
        pg4::PgError::BadParameter(m) => format!("bad parameter: {m}"),
        pg4::PgError::QueryFailed(pg4::QueryError::DbError(d)) => {
            format!("{}: {}", d.code, d.message)
        }
        pg4::PgError::QueryFailed(pg4::QueryError::Text(t)) => t.clone(),
        pg4::PgError::ValueConversionFailed(m) => format!("value conversion: {m}"),
        pg4::PgError::Other(m) => m.clone(),
    }
}

fn pg_value(v: pg4::DbValue) -> SqlValue {
    use pg4::DbValue as D;
    match v {
        D::Boolean(b) => SqlValue::Integer(b.into()),
        D::Int8(i) => SqlValue::Integer(i.into()),
        D::Int16(i) => SqlValue::Integer(i.into()),
        D::Int32(i) => SqlValue::Integer(i.into()),
        D::Int64(i) => SqlValue::Integer(i),
        D::Floating32(f) => SqlValue::Real(f.into()),
        D::Floating64(f) => SqlValue::Real(f),
        D::Str(s) => SqlValue::Text(s),
        D::Decimal(d) => d
            .parse::<i64>()
            .map(SqlValue::Integer)
            .or_else(|_| d.parse::<f64>().map(SqlValue::Real))
            .unwrap_or(SqlValue::Null),
        _ => SqlValue::Null,
    }
}

impl auth_core::Sql for Log {
    fn execute(&self, statement: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, String> {
        match self {
            Log::Sqlite(c) => {
                let params: Vec<Value> = params
                    .iter()
                    .map(|p| match p {
                        SqlValue::Null => Value::Null,
                        SqlValue::Integer(i) => Value::Integer(*i),
                        SqlValue::Real(r) => Value::Real(*r),
                        SqlValue::Text(t) => Value::Text(t.clone()),
                    })
                    .collect();
                let result = c
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
            Log::Postgres(c) => {
                let params: Vec<pg4::ParameterValue> = params
                    .iter()
                    .map(|p| match p {
                        SqlValue::Null => pg4::ParameterValue::DbNull,
                        SqlValue::Integer(i) => pg4::ParameterValue::Int64(*i),
                        SqlValue::Real(r) => pg4::ParameterValue::Floating64(*r),
                        SqlValue::Text(t) => pg4::ParameterValue::Str(t.clone()),
                    })
                    .collect();
                let rows = match pg_statement(statement) {
                    PgStatement::Execute(text) => c.execute(&text, &params).map(|_| Vec::new()),
                    PgStatement::Query(text) => c.query(&text, &params).map(|r| r.rows),
                }
                .map_err(|e| format!("request log: {}", kind(&e)))?;
                Ok(pg_rows(
                    rows.into_iter()
                        .map(|r| r.into_iter().map(pg_value).collect())
                        .collect(),
                ))
            }
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            Log::Sqlite(_) => Dialect::Sqlite,
            Log::Postgres(_) => Dialect::Postgres,
        }
    }
}
