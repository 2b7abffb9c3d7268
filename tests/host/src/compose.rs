//! Component dependencies, composed the way Spin does before instantiation: each dependency's
//! exports are plugged into the parent's matching imports (`wac-graph`), and the composed
//! component runs with the parent's configuration (`dependencies_inherit_configuration = true`).

use std::path::Path;

use anyhow::{Context, Result};
use wac_graph::types::Package;
use wac_graph::{plug, CompositionGraph, EncodeOptions};

/// Reads `parent` and plugs the `dependencies` (wasm files) into it; returns the composed bytes.
pub fn compose(parent: &Path, dependencies: &[&Path]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let read = |p: &Path| {
        std::fs::read(p)
            .with_context(|| format!("reading {} (run ./scripts/build-wasm)", p.display()))
    };
    let socket = Package::from_bytes("app:parent", None, read(parent)?, graph.types_mut())
        .with_context(|| format!("loading {}", parent.display()))?;
    let socket = graph.register_package(socket)?;
    let mut plugs = Vec::new();
    for (i, dep) in dependencies.iter().enumerate() {
        let package =
            Package::from_bytes(&format!("app:dep{i}"), None, read(dep)?, graph.types_mut())
                .with_context(|| format!("loading {}", dep.display()))?;
        plugs.push(graph.register_package(package)?);
    }
    plug(&mut graph, plugs, socket).context("plugging dependencies into their parent")?;
    graph
        .encode(EncodeOptions::default())
        .context("encoding the composed component")
}
