//! The SQL the request log needs: one statement per call with positional `?` parameters, as Spin's
//! SQLite runs them (only one statement per `execute`). The same statements run on PostgreSQL,
//! whose backends number the parameters ([`pg_statement`]); where the two differ (the schema's types,
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

/// A statement as it is sent to PostgreSQL through Spin's outbound Postgres.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgStatement {
    /// A statement without rows (`BEGIN`, DDL, `UPDATE`...): run with `execute`.
    Execute(String),
    /// A statement with rows, wrapped so that it always yields at least one row: run with
    /// `query` and read back through [`pg_rows`].
    Query(String),
}

/// The form in which `statement` (one statement, `?` parameters) runs on PostgreSQL: parameters
/// numbered `$1, $2, ...` (the gateway's statements have no `?` inside string literals), and a
/// statement with rows (`SELECT`, `WITH`, `... RETURNING`) wrapped so that it yields one row more
/// than it has, numbered, or one filler row when it has none. Spin 4.0's synchronous `query`
/// never returns when a statement yields no row (spinframework/spin#3671, fixed after 4.0.2); a
/// statement without rows goes through `execute`, which is not affected.
pub fn pg_statement(statement: &str) -> PgStatement {
    let mut text = String::with_capacity(statement.len() + 16);
    let mut n = 0;
    for c in statement.chars() {
        if c == '?' {
            n += 1;
            text.push('$');
            text.push_str(&n.to_string());
        } else {
            text.push(c);
        }
    }
    let upper = statement.trim_start().to_ascii_uppercase();
    let returning = upper
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|word| word == "RETURNING");
    if upper.starts_with("SELECT") || upper.starts_with("WITH") || returning {
        PgStatement::Query(format!(
            "WITH q_ AS ({text}), n_ AS (SELECT row_number() OVER () AS row_, q_.* FROM q_) \
             SELECT n_.* FROM (SELECT 1) AS one_ LEFT JOIN n_ ON true ORDER BY n_.row_"
        ))
    } else {
        PgStatement::Execute(text)
    }
}

/// The rows of a [`PgStatement::Query`]: its row numbers taken off and the filler row dropped.
pub fn pg_rows(rows: Vec<Vec<SqlValue>>) -> Vec<Vec<SqlValue>> {
    rows.into_iter()
        .filter_map(|mut row| {
            if row.is_empty() || row[0] == SqlValue::Null {
                return None;
            }
            row.remove(0);
            Some(row)
        })
        .collect()
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
    use super::{pg_rows, pg_statement, Dialect, PgStatement, Sql, SqlValue};
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
            let statement = match pg_statement(statement) {
                PgStatement::Execute(text) => {
                    return self
                        .0
                        .borrow_mut()
                        .execute(text.as_str(), &refs)
                        .map(|_| Vec::new())
                        .map_err(|e| e.to_string())
                }
                PgStatement::Query(text) => text,
            };
            let rows = self
                .0
                .borrow_mut()
                .query(statement.as_str(), &refs)
                .map_err(|e| e.to_string())?;
            let rows: Result<Vec<Vec<SqlValue>>, String> = rows
                .iter()
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
                .collect();
            rows.map(pg_rows)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_with_rows_are_wrapped_and_others_executed() {
        assert_eq!(
            pg_statement("UPDATE t SET a = ? WHERE b = ?"),
            PgStatement::Execute("UPDATE t SET a = $1 WHERE b = $2".into())
        );
        assert_eq!(pg_statement("BEGIN"), PgStatement::Execute("BEGIN".into()));
        for rows in [
            "SELECT a FROM t WHERE b = ?",
            "  with x AS (SELECT 1) SELECT * FROM x",
            "INSERT INTO t (a) VALUES (?)\nRETURNING id",
        ] {
            let PgStatement::Query(text) = pg_statement(rows) else {
                panic!("{rows} has rows");
            };
            assert!(
                text.starts_with("WITH q_ AS (") && !text.contains('?'),
                "{text}"
            );
        }
    }

    #[test]
    fn the_filler_row_and_row_numbers_are_taken_off() {
        assert_eq!(
            pg_rows(vec![vec![SqlValue::Null, SqlValue::Null]]),
            Vec::<Vec<SqlValue>>::new()
        );
        assert_eq!(
            pg_rows(vec![
                vec![SqlValue::Integer(1), SqlValue::Text("a".into())],
                vec![SqlValue::Integer(2), SqlValue::Null],
            ]),
            vec![vec![SqlValue::Text("a".into())], vec![SqlValue::Null]]
        );
    }

    /// On a real server: no row, rows in the statement's order, `RETURNING` with and without a row.
    #[test]
    fn wrapped_statements_keep_their_rows_on_postgres() {
        let Some(db) = pg::PgTestDb::connect("wrapped_statements") else {
            return;
        };
        db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)", &[])
            .unwrap();
        assert!(db
            .execute("SELECT id FROM t WHERE id = ?", &[SqlValue::Integer(1)])
            .unwrap()
            .is_empty());
        for id in [3, 1, 2] {
            let inserted = db
                .execute(
                    "INSERT INTO t (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
                    &[SqlValue::Integer(id), SqlValue::Null],
                )
                .unwrap();
            assert_eq!(inserted, vec![vec![SqlValue::Integer(id)]]);
        }
        let again = db
            .execute(
                "INSERT INTO t (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING RETURNING id",
                &[SqlValue::Integer(1), SqlValue::Null],
            )
            .unwrap();
        assert!(again.is_empty());
        let ordered = db
            .execute("SELECT id, name FROM t ORDER BY id DESC", &[])
            .unwrap();
        assert_eq!(
            ordered,
            [3, 2, 1]
                .map(|i| vec![SqlValue::Integer(i), SqlValue::Null])
                .to_vec()
        );
    }
}
