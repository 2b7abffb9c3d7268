//! Component dependencies composed with `wac-graph` the way Spin's composer does: each
//! dependency name is matched against the parent's imports (`pkg:name`, `pkg:name/iface`,
//! optional `@version`), its export of the same name (or `export`) must be a subtype of the
//! import, and the parent's exports are re-exported. Everything else the components import
//! stays an import of the composition, served by the host with the parent's configuration.

use std::collections::{BTreeMap, HashSet};

use anyhow::{bail, Context, Result};
use wac_graph::types::{Package, SubtypeChecker};
use wac_graph::{CompositionGraph, EncodeOptions};

/// A dependency with its component bytes.
pub(crate) struct DependencyWasm {
    /// The manifest key, e.g. `llm-gateway:auth@0.1.0`.
    pub name: String,
    /// The export satisfying the import, if not the import's own name.
    pub export: Option<String>,
    pub bytes: Vec<u8>,
}

/// A dependency or import name split into its parts.
#[derive(Debug, PartialEq, Eq)]
enum Name<'a> {
    Plain(&'a str),
    Package {
        package: &'a str,
        interface: Option<&'a str>,
        version: Option<&'a str>,
    },
}

fn parse_name(s: &str) -> Name<'_> {
    if !s.contains([':', '/']) {
        return Name::Plain(s);
    }
    let (name, version) = match s.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (s, None),
    };
    let (package, interface) = match name.split_once('/') {
        Some((p, i)) => (p, Some(i)),
        None => (name, None),
    };
    Name::Package {
        package,
        interface,
        version,
    }
}

/// Whether a dependency name selects an import (Spin's matching rules).
fn matches_import(dependency: &str, import: &str) -> bool {
    match (parse_name(dependency), parse_name(import)) {
        (Name::Plain(d), Name::Plain(i)) => d == i,
        (
            Name::Package {
                package: dp,
                interface: di,
                version: dv,
            },
            Name::Package {
                package: ip,
                interface: ii,
                version: iv,
            },
        ) => dp == ip && di.is_none_or(|d| Some(d) == ii) && dv.is_none_or(|d| Some(d) == iv),
        _ => false,
    }
}

/// The package name Spin registers a dependency under.
fn package_name(dependency: &str) -> &str {
    match parse_name(dependency) {
        Name::Plain(p) => p,
        Name::Package { package, .. } => package,
    }
}

/// Composes `parent` (component `id`) with its dependencies.
pub(crate) fn compose(id: &str, parent: Vec<u8>, deps: Vec<DependencyWasm>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let package = Package::from_bytes(id, None, parent, graph.types_mut())?;
    let world = package.ty();
    let parent_pkg = graph.register_package(package)?;
    let parent_node = graph.instantiate(parent_pkg);
    let imports: Vec<String> = graph.types()[world].imports.keys().cloned().collect();

    // import name -> (dependency name, export name, dependency world, dependency node)
    let mut mapping: BTreeMap<String, Vec<(String, String, _, _)>> = BTreeMap::new();
    for dep in deps {
        let matched: Vec<&String> = imports
            .iter()
            .filter(|i| matches_import(&dep.name, i))
            .collect();
        if matched.is_empty() {
            bail!(
                "dependency '{}' doesn't match any imports of component '{id}'",
                dep.name
            );
        }
        let name = package_name(&dep.name);
        let package =
            Package::from_bytes(name, None, dep.bytes, graph.types_mut()).with_context(|| {
                format!("an error occurred when preparing dependency '{}'", dep.name)
            })?;
        let dep_world = package.ty();
        let pkg = graph.register_package(package).with_context(|| {
            format!(
                "an error occurred when preparing dependency '{}' (Spin registers every dependency \
                 under its package name: one entry such as \"{name}@<version>\" = {{ component = \"...\" }} \
                 satisfies all of the package's interfaces)",
                dep.name
            )
        })?;
        let node = graph.instantiate(pkg);
        for import in matched {
            let export = dep.export.clone().unwrap_or_else(|| import.clone());
            mapping.entry(import.clone()).or_default().push((
                dep.name.clone(),
                export,
                dep_world,
                node,
            ));
        }
    }

    let mut cache = HashSet::new();
    for (import, mut candidates) in mapping {
        if candidates.len() > 1 {
            let names: Vec<String> = candidates.into_iter().map(|c| c.0).collect();
            bail!(
                "component '{id}' has dependency conflicts: import '{import}' satisfied by dependencies: '{}'",
                names.join(", ")
            );
        }
        let Some((dep_name, export, dep_world, node)) = candidates.pop() else {
            continue;
        };
        let Some(export_ty) = graph.types()[dep_world].exports.get(&export).copied() else {
            bail!("dependency '{dep_name}' doesn't export '{export}' to satisfy import '{import}'");
        };
        let Some(import_ty) = graph.types()[world].imports.get(&import).copied() else {
            continue;
        };
        SubtypeChecker::new(&mut cache)
            .is_subtype(export_ty, graph.types(), import_ty, graph.types())
            .with_context(|| {
                format!("dependency '{dep_name}' exports '{export}' which is not compatible with import '{import}'")
            })?;
        let alias = graph.alias_instance_export(node, &export)?;
        graph.set_instantiation_argument(parent_node, &import, alias)?;
    }

    let exports: Vec<String> = graph.types()[world].exports.keys().cloned().collect();
    for name in exports {
        let alias = graph.alias_instance_export(parent_node, &name)?;
        graph.export(alias, &name)?;
    }
    graph
        .encode(EncodeOptions::default())
        .context("failed to encode composition graph")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_names_match_imports_like_spin() {
        let yes = [
            ("foo:bar/baz@0.1.0", "foo:bar/baz@0.1.0"),
            ("foo:bar/baz", "foo:bar/baz@0.1.0"),
            ("foo:bar", "foo:bar/baz@0.1.0"),
            ("foo:bar@0.1.0", "foo:bar/baz@0.1.0"),
            ("foo-bar", "foo-bar"),
        ];
        for (d, i) in yes {
            assert!(matches_import(d, i), "{d} {i}");
        }
        let no = [
            ("foo:bar/baz@0.1.0", "foo:bar/baz"),
            ("foo:bar/baz", "foo:bar/bub@0.1.0"),
            ("foo:bar", "foo:bub/bib"),
            ("foo:bar@0.1.0", "foo:bar/baz"),
            ("foo:bar/baz", "foo-bar"),
        ];
        for (d, i) in no {
            assert!(!matches_import(d, i), "{d} {i}");
        }
        assert_eq!(
            package_name("llm-gateway:auth/admin@0.1.0"),
            "llm-gateway:auth"
        );
    }
}
