//! Host bindings for the Spin interfaces beyond WASI (generated from `wit/`).

wasmtime::component::bindgen!({
    path: "wit",
    world: "spin-host:host/host",
    imports: { default: trappable },
    with: {
        "fermyon:spin/key-value.store": crate::kv::SpinStore,
        "wasi:keyvalue/store.bucket": crate::kv::Bucket,
        "wasi:keyvalue/atomics.cas": crate::kv::Cas,
    },
});
