//! `spin:postgres/postgres@4.0.0` on a real PostgreSQL server through `tokio-postgres`, the client
//! Spin's outbound Postgres uses: `open` parses the connection string (key-value or URL form),
//! refuses a host the component's `allowed_outbound_hosts` does not list as `postgres://host:port`,
//! and connects without TLS; each connection is one server session, so a transaction spans the
//! statements run on it. Values convert as Spin's table says for the types the app uses (booleans,
//! integers, floats, text, NULL); other column types answer `unsupported`.

// Spin's pg4 error is large (it carries the server's error fields); spin-sdk allows the same.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use wasmtime::component::Resource;

use crate::runtime::State;
use crate::spin_bindings::spin::postgres::postgres as pg;

type Wt<T> = wasmtime::Result<T>;

/// An open connection.
pub struct PgConnection(Arc<tokio_postgres::Client>);

/// A NULL parameter of whatever type the statement wants (as Spin binds `db-null`).
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn param(v: pg::ParameterValue) -> Result<Box<dyn ToSql + Send + Sync>, pg::Error> {
    use pg::ParameterValue as P;
    Ok(match v {
        P::Boolean(b) => Box::new(b),
        P::Int8(i) => Box::new(i),
        P::Int16(i) => Box::new(i),
        P::Int32(i) => Box::new(i),
        P::Int64(i) => Box::new(i),
        P::Floating32(f) => Box::new(f),
        P::Floating64(f) => Box::new(f),
        P::Str(s) => Box::new(s),
        P::Binary(b) => Box::new(b),
        P::DbNull => Box::new(Null),
        _ => {
            return Err(pg::Error::BadParameter(
                "this parameter type is not supported by the test host".into(),
            ))
        }
    })
}

fn data_type(t: &Type) -> pg::DbDataType {
    use pg::DbDataType as D;
    match *t {
        Type::BOOL => D::Boolean,
        Type::INT2 => D::Int16,
        Type::INT4 => D::Int32,
        Type::INT8 => D::Int64,
        Type::FLOAT4 => D::Floating32,
        Type::FLOAT8 => D::Floating64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => D::Str,
        Type::BYTEA => D::Binary,
        _ => D::Other(t.name().to_string()),
    }
}

fn value(row: &tokio_postgres::Row, i: usize) -> Result<pg::DbValue, tokio_postgres::Error> {
    use pg::DbValue as V;
    fn or_null<T>(v: Option<T>, f: impl FnOnce(T) -> pg::DbValue) -> pg::DbValue {
        v.map_or(pg::DbValue::DbNull, f)
    }
    Ok(match *row.columns()[i].type_() {
        Type::BOOL => or_null(row.try_get(i)?, V::Boolean),
        Type::INT2 => or_null(row.try_get(i)?, V::Int16),
        Type::INT4 => or_null(row.try_get(i)?, V::Int32),
        Type::INT8 => or_null(row.try_get(i)?, V::Int64),
        Type::FLOAT4 => or_null(row.try_get(i)?, V::Floating32),
        Type::FLOAT8 => or_null(row.try_get(i)?, V::Floating64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => or_null(row.try_get(i)?, V::Str),
        Type::BYTEA => or_null(row.try_get(i)?, V::Binary),
        _ => V::Unsupported(Vec::new()),
    })
}

fn query_error(e: tokio_postgres::Error) -> pg::Error {
    match e.as_db_error() {
        Some(db) => pg::Error::QueryFailed(pg::QueryError::DbError(pg::DbError {
            as_text: e.to_string(),
            severity: db.severity().to_string(),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            extras: Vec::new(),
        })),
        None => pg::Error::QueryFailed(pg::QueryError::Text(e.to_string())),
    }
}

impl State {
    /// The parsed connection string, if this component may reach every host it names.
    fn pg_config(&self, address: &str) -> Result<tokio_postgres::Config, pg::Error> {
        let config: tokio_postgres::Config = address
            .parse()
            .map_err(|e: tokio_postgres::Error| pg::Error::ConnectionFailed(e.to_string()))?;
        let port = config.get_ports().first().copied().unwrap_or(5432);
        for host in config.get_hosts() {
            let name = match host {
                tokio_postgres::config::Host::Tcp(h) => h.clone(),
                #[allow(unreachable_patterns)]
                _ => {
                    return Err(pg::Error::ConnectionFailed(
                        "only TCP hosts are supported".into(),
                    ))
                }
            };
            if !self.outbound_allowed("postgres", &name, Some(port)) {
                return Err(pg::Error::ConnectionFailed(format!(
                    "address postgres://{name}:{port} is not permitted"
                )));
            }
        }
        Ok(config)
    }
}

async fn connect(config: tokio_postgres::Config) -> Result<tokio_postgres::Client, pg::Error> {
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| pg::Error::ConnectionFailed(e.to_string()))?;
    tokio::spawn(connection);
    Ok(client)
}

fn params(values: Vec<pg::ParameterValue>) -> Result<Vec<Box<dyn ToSql + Send + Sync>>, pg::Error> {
    values.into_iter().map(param).collect()
}

impl pg::Host for State {}

impl pg::HostConnection for State {
    async fn open(&mut self, address: String) -> Wt<Result<Resource<PgConnection>, pg::Error>> {
        let config = match self.pg_config(&address) {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        Ok(match connect(config).await {
            Ok(client) => Ok(self.table_mut().push(PgConnection(Arc::new(client)))?),
            Err(e) => Err(e),
        })
    }

    async fn query(
        &mut self,
        h: Resource<PgConnection>,
        statement: String,
        values: Vec<pg::ParameterValue>,
    ) -> Wt<Result<pg::RowSet, pg::Error>> {
        let client = self.table_ref().get(&h)?.0.clone();
        let owned = match params(values) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let refs: Vec<&(dyn ToSql + Sync)> = owned
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let stmt = match client.prepare(&statement).await {
            Ok(s) => s,
            Err(e) => return Ok(Err(query_error(e))),
        };
        let rows = match client.query(&stmt, &refs).await {
            Ok(r) => r,
            Err(e) => return Ok(Err(query_error(e))),
        };
        let columns = stmt
            .columns()
            .iter()
            .map(|c| pg::Column {
                name: c.name().to_string(),
                data_type: data_type(c.type_()),
            })
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                match value(row, i) {
                    Ok(v) => values.push(v),
                    Err(e) => return Ok(Err(pg::Error::ValueConversionFailed(e.to_string()))),
                }
            }
            out.push(values);
        }
        Ok(Ok(pg::RowSet { columns, rows: out }))
    }

    async fn execute(
        &mut self,
        h: Resource<PgConnection>,
        statement: String,
        values: Vec<pg::ParameterValue>,
    ) -> Wt<Result<u64, pg::Error>> {
        let client = self.table_ref().get(&h)?.0.clone();
        let owned = match params(values) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let refs: Vec<&(dyn ToSql + Sync)> = owned
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect();
        Ok(client.execute(&statement, &refs).await.map_err(query_error))
    }

    async fn drop(&mut self, h: Resource<PgConnection>) -> Wt<()> {
        self.table_mut().delete(h)?;
        Ok(())
    }
}
