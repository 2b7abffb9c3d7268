//! Reading `spin.toml` (manifest version 2): the subset of Spin's schema this app uses.
//! Keys Spin knows but the host does not need (`build`, `files`, `description`, ...) are ignored;
//! features the host cannot honour are refused with an explicit error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

use crate::template::{validate_name, Template};

/// An application variable declaration (`[variables]`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct VariableDecl {
    /// `default = "..."`.
    pub default: Option<String>,
    /// `required = true`.
    #[serde(default)]
    pub required: bool,
}

/// Where an HTTP trigger is reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// A public route pattern such as `/v1/...`.
    Path(String),
    /// `{ private = true }`: reachable only through service chaining.
    Private,
}

/// One `[[trigger.http]]` entry.
#[derive(Debug, Clone)]
pub(crate) struct HttpTrigger {
    pub route: Route,
    pub component: String,
}

/// Where a dependency's component comes from.
#[derive(Debug, Clone)]
pub(crate) enum DependencySource {
    /// `{ component = "id" }`: another component of the app.
    Component(String),
    /// `{ path = "x.wasm" }`: a file relative to the manifest.
    Path(PathBuf),
}

/// One `[component.<id>.dependencies]` entry.
#[derive(Debug, Clone)]
pub(crate) struct Dependency {
    /// The manifest key, e.g. `llm-gateway:auth/auth@0.1.0`.
    pub name: String,
    pub source: DependencySource,
    /// `export = "..."`: the dependency's export satisfying the import (default: same name).
    pub export: Option<String>,
}

/// One `[component.<id>]` table.
#[derive(Debug, Clone)]
pub(crate) struct ComponentDecl {
    pub source: PathBuf,
    pub allowed_outbound_hosts: Vec<String>,
    pub key_value_stores: Vec<String>,
    pub variables: BTreeMap<String, String>,
    pub environment: BTreeMap<String, String>,
    pub dependencies: Vec<Dependency>,
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    pub name: String,
    pub variables: BTreeMap<String, VariableDecl>,
    pub triggers: Vec<HttpTrigger>,
    pub components: BTreeMap<String, ComponentDecl>,
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<RawTrigger>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
struct RawApplication {
    name: String,
}

#[derive(Deserialize)]
struct RawTrigger {
    route: Option<RawRoute>,
    component: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private { private: bool },
}

#[derive(Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    dependencies_inherit_configuration: bool,
}

impl Manifest {
    /// Reads and validates a manifest; relative paths are resolved against its directory.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir).with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses manifest text; `dir` is the manifest's directory.
    pub fn parse(text: &str, dir: &Path) -> Result<Manifest> {
        let raw: RawManifest = toml::from_str(text)?;
        let version_ok = match &raw.spin_manifest_version {
            toml::Value::Integer(2) => true,
            toml::Value::String(s) => s == "2",
            _ => false,
        };
        ensure!(version_ok, "only spin_manifest_version = 2 is supported");

        for (name, decl) in &raw.variables {
            validate_name(name).map_err(|e| anyhow::anyhow!("invalid variable name: {e}"))?;
            ensure!(
                !(decl.required && decl.default.is_some()),
                "variable {name:?} cannot be both required and have a default"
            );
            ensure!(
                decl.required || decl.default.is_some(),
                "variable {name:?} must either be required or have a default"
            );
        }

        let mut components = BTreeMap::new();
        for (id, c) in raw.component {
            let decl = component(&id, c, dir, &raw.variables)
                .with_context(|| format!("component {id:?}"))?;
            components.insert(id, decl);
        }

        let mut triggers = Vec::new();
        for (kind, entries) in raw.trigger {
            ensure!(
                kind == "http",
                "trigger type {kind:?} is not supported by the test host"
            );
            for t in entries {
                let component = match t.component {
                    Some(toml::Value::String(id)) => id,
                    Some(_) => {
                        bail!("inline trigger components are not supported by the test host")
                    }
                    None => bail!(
                        "an HTTP trigger needs a component (static responses are not supported)"
                    ),
                };
                ensure!(
                    components.contains_key(&component),
                    "trigger refers to unknown component {component:?}"
                );
                let route = match t.route {
                    Some(RawRoute::Path(p)) => Route::Path(p),
                    Some(RawRoute::Private { private: true }) => Route::Private,
                    Some(RawRoute::Private { private: false }) => bail!(
                        "route must be a string pattern or '{{ private = true }}': '{component}' has {{ private = false }}"
                    ),
                    None => bail!("HTTP trigger for {component:?} has no route"),
                };
                triggers.push(HttpTrigger { route, component });
            }
        }

        for (id, c) in &components {
            for dep in &c.dependencies {
                if let DependencySource::Component(target) = &dep.source {
                    ensure!(
                        components.contains_key(target),
                        "component {id:?}: dependency {:?} refers to unknown component {target:?}",
                        dep.name
                    );
                }
            }
        }

        Ok(Manifest {
            name: raw.application.name,
            variables: raw.variables,
            triggers,
            components,
        })
    }
}

/// Validates one component table.
fn component(
    id: &str,
    c: RawComponent,
    dir: &Path,
    variables: &BTreeMap<String, VariableDecl>,
) -> Result<ComponentDecl> {
    ensure!(
        !id.is_empty()
            && id.split('-').all(|w| !w.is_empty()
                && w.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())),
        "component id {id:?} must be kebab-case"
    );
    let source = match c.source {
        toml::Value::String(s) => dir.join(s),
        _ => bail!("only file `source` paths are supported by the test host"),
    };
    let check_template = |text: &str| -> Result<()> {
        let t = Template::parse(text)?;
        for v in t.variables() {
            ensure!(
                variables.contains_key(v),
                "invalid variable template {text:?}: unknown variable {v:?}"
            );
        }
        Ok(())
    };
    for (key, value) in &c.variables {
        validate_name(key).map_err(|e| anyhow::anyhow!("invalid variable name: {e}"))?;
        check_template(value)?;
    }
    for host in &c.allowed_outbound_hosts {
        check_template(host)?;
    }
    let mut dependencies = Vec::new();
    for (name, value) in c.dependencies {
        dependencies.push(dependency(&name, value, dir)?);
    }
    if !dependencies.is_empty() {
        ensure!(
            c.dependencies_inherit_configuration,
            "component dependencies need `dependencies_inherit_configuration = true` on the test host \
             (the only form Spin 3.6 supports besides deny-all)"
        );
    }
    Ok(ComponentDecl {
        source,
        allowed_outbound_hosts: c.allowed_outbound_hosts,
        key_value_stores: c.key_value_stores,
        variables: c.variables,
        environment: c.environment,
        dependencies,
    })
}

/// Validates one dependency entry.
fn dependency(name: &str, value: toml::Value, dir: &Path) -> Result<Dependency> {
    let toml::Value::Table(table) = value else {
        bail!("dependency {name:?}: registry dependencies are not supported by the test host");
    };
    let mut source = None;
    let mut export = None;
    for (key, value) in table {
        let text = match &value {
            toml::Value::String(s) => s.clone(),
            _ if key == "inherit_configuration" => bail!(
                "dependency {name:?}: per-dependency `inherit_configuration` is Spin 4 only; \
                 use `dependencies_inherit_configuration = true` on the component"
            ),
            _ => bail!("dependency {name:?}: `{key}` must be a string"),
        };
        match key.as_str() {
            "component" => source = Some(DependencySource::Component(text)),
            "path" => source = Some(DependencySource::Path(dir.join(text))),
            "export" => export = Some(text),
            other => bail!("dependency {name:?}: `{other}` is not supported by the test host"),
        }
    }
    let Some(source) = source else {
        bail!("dependency {name:?} needs `component = \"id\"` or `path = \"...\"`");
    };
    Ok(Dependency {
        name: name.to_string(),
        source,
        export,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
greeting = { default = "hi" }
key = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "a"
[[trigger.http]]
route = { private = true }
component = "b"
[component.a]
source = "a.wasm"
allowed_outbound_hosts = ["http://b.spin.internal", "http://{{ greeting }}:8080"]
key_value_stores = ["default"]
[component.a.variables]
msg = "say {{ greeting }}"
[component.a.build]
command = "ignored"
[component.b]
source = "b.wasm"
files = ["ignored"]
"#;

    #[test]
    fn parses_the_supported_subset() {
        let m = Manifest::parse(BASE, Path::new("/app")).unwrap();
        assert_eq!(m.name, "t");
        assert_eq!(m.triggers.len(), 2);
        assert_eq!(m.triggers[1].route, Route::Private);
        let a = &m.components["a"];
        assert_eq!(a.source, Path::new("/app/a.wasm"));
        assert_eq!(a.variables["msg"], "say {{ greeting }}");
        assert!(m.variables["key"].required);
    }

    #[test]
    fn rejects_unknown_template_variables() {
        let text = BASE.replace("say {{ greeting }}", "say {{ nope }}");
        let err = format!("{:#}", Manifest::parse(&text, Path::new("/")).unwrap_err());
        assert!(err.contains("unknown variable \"nope\""), "{err}");
    }

    #[test]
    fn dependencies_need_inherited_configuration() {
        let deps = "[component.a.dependencies]\n\"x:y/z@0.1.0\" = { component = \"b\" }\n";
        let text = format!("{BASE}{deps}");
        let err = format!("{:#}", Manifest::parse(&text, Path::new("/")).unwrap_err());
        assert!(err.contains("dependencies_inherit_configuration"), "{err}");
        let text = BASE.replace(
            "key_value_stores = [\"default\"]",
            "key_value_stores = [\"default\"]\ndependencies_inherit_configuration = true",
        );
        let m = Manifest::parse(&format!("{text}{deps}"), Path::new("/")).unwrap();
        assert_eq!(m.components["a"].dependencies[0].name, "x:y/z@0.1.0");
    }
}
