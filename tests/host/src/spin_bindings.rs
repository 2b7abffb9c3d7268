//! Host bindings of the Spin interfaces the app imports.

wasmtime::component::bindgen!({
    path: "wit/spin",
    world: "host",
});
