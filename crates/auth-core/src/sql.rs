//! The SQL the request log needs: one statement per call with positional `?` parameters, as Spin's
//! SQLite runs them (only one statement per `execute`).

/// A value passed to or read from SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT.
    Text(String),
}

impl SqlValue {
    /// The value as an integer (REAL truncated; NULL and TEXT are `None`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(i) => Some(*i),
            SqlValue::Real(r) => Some(*r as i64),
            _ => None,
        }
    }

    /// The value as a float (NULL and TEXT are `None`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SqlValue::Integer(i) => Some(*i as f64),
            SqlValue::Real(r) => Some(*r),
            _ => None,
        }
    }

    /// The value as text (`None` unless TEXT).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_string())
    }
}

impl From<Option<&str>> for SqlValue {
    fn from(s: Option<&str>) -> Self {
        s.map_or(SqlValue::Null, SqlValue::from)
    }
}

impl From<u64> for SqlValue {
    fn from(n: u64) -> Self {
        SqlValue::Integer(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// A SQL database connection.
pub trait Sql {
    /// Runs one statement with positional parameters and returns its rows.
    fn execute(&self, statement: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, String>;
}

#[cfg(test)]
pub mod sqlite {
    //! [`Sql`] on an in-memory SQLite database (rusqlite, the library Spin's SQLite runs on).
    use super::{Sql, SqlValue};
    use rusqlite::types::{Value, ValueRef};

    /// A test database.
    pub struct TestDb(pub rusqlite::Connection);

    impl TestDb {
        /// A new empty in-memory database.
        pub fn new() -> TestDb {
            TestDb(rusqlite::Connection::open_in_memory().expect("in-memory sqlite"))
        }
    }

    impl Default for TestDb {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Sql for TestDb {
        fn execute(
            &self,
            statement: &str,
            params: &[SqlValue],
        ) -> Result<Vec<Vec<SqlValue>>, String> {
            let mut stmt = self.0.prepare(statement).map_err(|e| e.to_string())?;
            let values: Vec<Value> = params
                .iter()
                .map(|p| match p {
                    SqlValue::Null => Value::Null,
                    SqlValue::Integer(i) => Value::Integer(*i),
                    SqlValue::Real(r) => Value::Real(*r),
                    SqlValue::Text(t) => Value::Text(t.clone()),
                })
                .collect();
            let columns = stmt.column_count();
            let mut rows = stmt
                .query(rusqlite::params_from_iter(values))
                .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(|e| e.to_string())? {
                let mut cells = Vec::with_capacity(columns);
                for i in 0..columns {
                    cells.push(match row.get_ref(i).map_err(|e| e.to_string())? {
                        ValueRef::Null | ValueRef::Blob(_) => SqlValue::Null,
                        ValueRef::Integer(i) => SqlValue::Integer(i),
                        ValueRef::Real(r) => SqlValue::Real(r),
                        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into()),
                    });
                }
                out.push(cells);
            }
            Ok(out)
        }
    }
}
