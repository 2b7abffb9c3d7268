//! `spin:sqlite/sqlite@3.0.0` and `fermyon:spin/sqlite@2.0.0` on [`crate::sqlite`], as Spin 3.6.3's
//! SQLite factor serves them: a component may open only the databases its `sqlite_databases` lists
//! (else `access-denied`, checked before whether the database exists), a label without a database
//! is `no-such-database`, every `open` is a new connection, and one instance holds at most 256 of
//! them (then `io("too many connections opened")`). Queries run on a blocking thread.

use std::sync::Arc;

use wasmtime::component::Resource;

use crate::runtime::State;
use crate::spin_bindings::fermyon::spin::sqlite as v2;
use crate::spin_bindings::spin::sqlite::sqlite as v3;
use crate::sqlite::{Connection, Location, MAX_RESULT_BYTES};

type Wt<T> = wasmtime::Result<T>;

/// Spin's per-instance connection table size.
pub const MAX_CONNECTIONS: usize = 256;

/// An open `spin:sqlite` connection.
pub struct SqliteConnection(Arc<Connection>);

/// An open `fermyon:spin/sqlite` (v2) connection.
pub struct LegacySqliteConnection(Arc<Connection>);

impl State {
    /// Opens a new connection to `database` if this component may (Spin's `open`).
    fn sqlite_open(&mut self, database: &str) -> Result<Arc<Connection>, v3::Error> {
        let conn = open(
            self.sqlite_allowed(database),
            self.sqlite_location(database),
            self.sqlite_connections,
        )?;
        self.sqlite_connections += 1;
        Ok(Arc::new(conn))
    }

    fn sqlite_closed(&mut self) {
        self.sqlite_connections = self.sqlite_connections.saturating_sub(1);
    }
}

/// Spin's `open` decision: access first (whether or not the database exists), then existence,
/// then room in the instance's connection table.
fn open(
    allowed: bool,
    location: Option<Location>,
    open_now: usize,
) -> Result<Connection, v3::Error> {
    if !allowed {
        return Err(v3::Error::AccessDenied);
    }
    let location = location.ok_or(v3::Error::NoSuchDatabase)?;
    if open_now >= MAX_CONNECTIONS {
        return Err(v3::Error::Io("too many connections opened".into()));
    }
    Ok(Connection::new(location))
}

async fn query(
    conn: Arc<Connection>,
    sql: String,
    params: Vec<v3::Value>,
) -> Result<v3::QueryResult, v3::Error> {
    tokio::task::spawn_blocking(move || conn.query(&sql, params, MAX_RESULT_BYTES))
        .await
        .map_err(|e| v3::Error::Io(format!("internal runtime error: {e}")))?
}

impl v3::Host for State {}

/// A connection Spin would have poisoned traps the instance where Spin's host panics.
fn usable(conn: &Connection) -> Wt<&Connection> {
    if conn.poisoned() {
        wasmtime::bail!("host panicked: the connection's lock is poisoned (as in Spin)");
    }
    Ok(conn)
}

impl v3::HostConnection for State {
    async fn open(
        &mut self,
        database: String,
    ) -> Wt<Result<Resource<SqliteConnection>, v3::Error>> {
        Ok(match self.sqlite_open(&database) {
            Ok(conn) => Ok(self.table_mut().push(SqliteConnection(conn))?),
            Err(e) => Err(e),
        })
    }

    async fn execute(
        &mut self,
        h: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<v3::Value>,
    ) -> Wt<Result<v3::QueryResult, v3::Error>> {
        let conn = self.table_ref().get(&h)?.0.clone();
        Ok(query(conn, statement, parameters).await)
    }

    async fn last_insert_rowid(&mut self, h: Resource<SqliteConnection>) -> Wt<i64> {
        let conn = self.table_ref().get(&h)?.0.clone();
        Ok(usable(&conn)?.last_insert_rowid().unwrap_or(0))
    }

    async fn changes(&mut self, h: Resource<SqliteConnection>) -> Wt<u64> {
        let conn = self.table_ref().get(&h)?.0.clone();
        Ok(usable(&conn)?.changes().unwrap_or(0))
    }

    async fn drop(&mut self, h: Resource<SqliteConnection>) -> Wt<()> {
        self.table_mut().delete(h)?;
        self.sqlite_closed();
        Ok(())
    }
}

fn to_v2_error(e: v3::Error) -> v2::Error {
    match e {
        v3::Error::NoSuchDatabase => v2::Error::NoSuchDatabase,
        v3::Error::AccessDenied => v2::Error::AccessDenied,
        v3::Error::InvalidConnection => v2::Error::InvalidConnection,
        v3::Error::DatabaseFull => v2::Error::DatabaseFull,
        v3::Error::Io(s) => v2::Error::Io(s),
    }
}

fn to_v2_value(v: v3::Value) -> v2::Value {
    match v {
        v3::Value::Integer(i) => v2::Value::Integer(i),
        v3::Value::Real(r) => v2::Value::Real(r),
        v3::Value::Text(t) => v2::Value::Text(t),
        v3::Value::Blob(b) => v2::Value::Blob(b),
        v3::Value::Null => v2::Value::Null,
    }
}

fn from_v2_value(v: v2::Value) -> v3::Value {
    match v {
        v2::Value::Integer(i) => v3::Value::Integer(i),
        v2::Value::Real(r) => v3::Value::Real(r),
        v2::Value::Text(t) => v3::Value::Text(t),
        v2::Value::Blob(b) => v3::Value::Blob(b),
        v2::Value::Null => v3::Value::Null,
    }
}

impl v2::Host for State {}

impl v2::HostConnection for State {
    async fn open(
        &mut self,
        database: String,
    ) -> Wt<Result<Resource<LegacySqliteConnection>, v2::Error>> {
        Ok(match self.sqlite_open(&database) {
            Ok(conn) => Ok(self.table_mut().push(LegacySqliteConnection(conn))?),
            Err(e) => Err(to_v2_error(e)),
        })
    }

    async fn execute(
        &mut self,
        h: Resource<LegacySqliteConnection>,
        statement: String,
        parameters: Vec<v2::Value>,
    ) -> Wt<Result<v2::QueryResult, v2::Error>> {
        let conn = self.table_ref().get(&h)?.0.clone();
        let result = match query(
            conn,
            statement,
            parameters.into_iter().map(from_v2_value).collect(),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return Ok(Err(to_v2_error(e))),
        };
        Ok(Ok(v2::QueryResult {
            columns: result.columns,
            rows: result
                .rows
                .into_iter()
                .map(|r| v2::RowResult {
                    values: r.values.into_iter().map(to_v2_value).collect(),
                })
                .collect(),
        }))
    }

    async fn drop(&mut self, h: Resource<LegacySqliteConnection>) -> Wt<()> {
        self.table_mut().delete(h)?;
        self.sqlite_closed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_checks_access_then_existence_then_room() {
        let file = || Some(Location::InMemory);
        assert!(matches!(
            open(false, file(), 0),
            Err(v3::Error::AccessDenied)
        ));
        // Not listed and not defined: still access-denied, as in Spin.
        assert!(matches!(open(false, None, 0), Err(v3::Error::AccessDenied)));
        assert!(matches!(
            open(true, None, 0),
            Err(v3::Error::NoSuchDatabase)
        ));
        assert!(open(true, file(), MAX_CONNECTIONS - 1).is_ok());
        assert!(matches!(
            open(true, file(), MAX_CONNECTIONS),
            Err(v3::Error::Io(m)) if m == "too many connections opened"
        ));
    }

    #[tokio::test]
    async fn queries_run_off_the_executor_and_v2_maps_like_spin() {
        let conn = Arc::new(Connection::new(Location::InMemory));
        let r = query(conn.clone(), "SELECT 1 AS one, x'00' AS b".into(), vec![])
            .await
            .unwrap();
        assert_eq!(r.columns, ["one", "b"]);
        assert!(matches!(
            to_v2_error(v3::Error::Io("x".into())),
            v2::Error::Io(m) if m == "x"
        ));
        assert!(matches!(
            to_v2_value(from_v2_value(v2::Value::Real(2.5))),
            v2::Value::Real(x) if x == 2.5
        ));
    }
}
