//! Host bindings of the Spin interfaces the app imports.

wasmtime::component::bindgen!({
    path: "wit/spin",
    world: "host",
    imports: {
        // Spin runs SQLite work on a blocking thread; these are async so this host can too.
        "spin:sqlite/sqlite": async | trappable,
        "fermyon:spin/sqlite": async | trappable,
        "spin:postgres/postgres": async | trappable,
    },
    with: {
        "fermyon:spin/key-value.store": crate::kv::Handle,
        "wasi:keyvalue/store.bucket": crate::kv::Bucket,
        "wasi:keyvalue/atomics.cas": crate::kv::CasHandle,
        "spin:sqlite/sqlite.connection": crate::sqlite_host::SqliteConnection,
        "fermyon:spin/sqlite.connection": crate::sqlite_host::LegacySqliteConnection,
        "spin:postgres/postgres.connection": crate::pg_host::PgConnection,
    },
});
