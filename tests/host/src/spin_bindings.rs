//! Host bindings of the Spin interfaces the app imports.

wasmtime::component::bindgen!({
    path: "wit/spin",
    world: "host",
    with: {
        "fermyon:spin/key-value.store": crate::kv::Handle,
        "wasi:keyvalue/store.bucket": crate::kv::Bucket,
        "wasi:keyvalue/atomics.cas": crate::kv::CasHandle,
    },
});
