//! The SQL the request log needs: one statement per call with positional `?` parameters, as Spin's
//! SQLite runs them (only one statement per `execute`). The same statements run on PostgreSQL,
//! whose backends number the parameters ([`numbered`]); where the two differ (the schema's types,
//! the connection's set-up), the code asks the connection's [`Dialect`].

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

/// The SQL dialect of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (Spin's `sqlite_databases`).
    Sqlite,
    /// PostgreSQL (Spin's outbound Postgres).
    Postgres,
}

/// A SQL database connection.
pub trait Sql {
    /// Runs one statement with positional parameters and returns its rows.
    fn execute(&self, statement: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, String>;

    /// The connection's dialect.
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

/// A statement with `?` parameters rewritten as PostgreSQL's `$1, $2, ...` (the gateway's
/// statements have no `?` inside string literals).
pub fn numbered(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len() + 16);
    let mut n = 0;
    for c in statement.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
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

#[cfg(test)]
pub mod pg {
    //! [`Sql`] on a real PostgreSQL server (the `postgres` client), each test in a schema of its
    //! own. The server comes from `PG_TEST_URL` (scripts/test starts one); without it the
    //! PostgreSQL half of a test is skipped with a message.
    use super::{numbered, Dialect, Sql, SqlValue};
    use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
    use std::cell::RefCell;

    /// A connection whose `search_path` is a fresh schema.
    pub struct PgTestDb(RefCell<postgres::Client>);

    #[derive(Debug)]
    struct Null;

    impl ToSql for Null {
        fn to_sql(
            &self,
            _: &Type,
            _: &mut postgres::types::private::BytesMut,
        ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
            Ok(IsNull::Yes)
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    impl PgTestDb {
        /// Connects to `PG_TEST_URL` in a new schema named after `test`, or `None` without it.
        pub fn connect(test: &str) -> Option<PgTestDb> {
            let Ok(url) = std::env::var("PG_TEST_URL") else {
                eprintln!("PG_TEST_URL is not set: the PostgreSQL half of {test} is skipped");
                return None;
            };
            let mut client = postgres::Client::connect(&url, postgres::NoTls)
                .unwrap_or_else(|e| panic!("PG_TEST_URL {url}: {e}"));
            let schema = format!("t_{test}");
            client
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}"
                ))
                .expect("a schema of its own");
            Some(PgTestDb(RefCell::new(client)))
        }
    }

    impl Sql for PgTestDb {
        fn execute(
            &self,
            statement: &str,
            params: &[SqlValue],
        ) -> Result<Vec<Vec<SqlValue>>, String> {
            let owned: Vec<Box<dyn ToSql + Sync>> = params
                .iter()
                .map(|p| -> Box<dyn ToSql + Sync> {
                    match p {
                        SqlValue::Null => Box::new(Null),
                        SqlValue::Integer(i) => Box::new(*i),
                        SqlValue::Real(r) => Box::new(*r),
                        SqlValue::Text(t) => Box::new(t.clone()),
                    }
                })
                .collect();
            let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
            let rows = self
                .0
                .borrow_mut()
                .query(numbered(statement).as_str(), &refs)
                .map_err(|e| e.to_string())?;
            rows.iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| {
                            let t = row.columns()[i].type_().clone();
                            let v = match t {
                                Type::INT2 => {
                                    row.try_get::<_, Option<i16>>(i).map(|v| v.map(i64::from))
                                }
                                Type::INT4 => {
                                    row.try_get::<_, Option<i32>>(i).map(|v| v.map(i64::from))
                                }
                                Type::INT8 => row.try_get::<_, Option<i64>>(i),
                                Type::FLOAT8 => {
                                    return row
                                        .try_get::<_, Option<f64>>(i)
                                        .map(|v| v.map_or(SqlValue::Null, SqlValue::Real))
                                        .map_err(|e| e.to_string())
                                }
                                Type::TEXT | Type::VARCHAR => {
                                    return row
                                        .try_get::<_, Option<String>>(i)
                                        .map(|v| v.map_or(SqlValue::Null, SqlValue::Text))
                                        .map_err(|e| e.to_string())
                                }
                                other => return Err(format!("column type {other} not read")),
                            };
                            v.map(|v| v.map_or(SqlValue::Null, SqlValue::Integer))
                                .map_err(|e| e.to_string())
                        })
                        .collect()
                })
                .collect()
        }

        fn dialect(&self) -> Dialect {
            Dialect::Postgres
        }
    }
}

/// Every backend a trait test runs on: SQLite, and PostgreSQL when `PG_TEST_URL` names one.
#[cfg(test)]
pub fn test_backends(test: &str) -> Vec<Box<dyn Sql>> {
    let mut dbs: Vec<Box<dyn Sql>> = vec![Box::new(sqlite::TestDb::new())];
    if let Some(pg) = pg::PgTestDb::connect(test) {
        dbs.push(Box::new(pg));
    }
    dbs
}

/// Lets tests pass `&db` whether `db` is a database or a reference to one.
#[cfg(test)]
impl<T: Sql + ?Sized> Sql for &T {
    fn execute(&self, statement: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, String> {
        (**self).execute(statement, params)
    }

    fn dialect(&self) -> Dialect {
        (**self).dialect()
    }
}
