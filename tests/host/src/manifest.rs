//! Reading `spin.toml` (manifest version 2): variables, HTTP triggers and components.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use toml::Value;

/// An application variable declaration.
#[derive(Debug, Clone)]
pub struct VariableDecl {
    /// `default`, if any.
    pub default: Option<String>,
    /// `required = true`.
    pub required: bool,
}

/// Where an HTTP trigger routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSpec {
    /// `route = "/exact"` or `route = "/prefix/..."`.
    Path(String),
    /// `route = { private = true }`.
    Private,
}

/// A component of the app.
#[derive(Debug, Clone)]
pub struct ComponentDecl {
    /// Component id.
    pub id: String,
    /// Absolute path of the `.wasm`.
    pub source: PathBuf,
    /// `allowed_outbound_hosts` templates.
    pub allowed_outbound_hosts: Vec<String>,
    /// `key_value_stores` labels.
    pub key_value_stores: Vec<String>,
    /// `sqlite_databases` labels.
    pub sqlite_databases: Vec<String>,
    /// Component variables: name → template.
    pub variables: HashMap<String, String>,
    /// Dependencies: import name → dependency component id.
    pub dependencies: Vec<(String, String)>,
}

/// The parsed manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// `[application] name` and `version` (what Spin's `/.well-known/spin/info` shows).
    pub name: String,
    /// `[application] version`, if any.
    pub version: Option<String>,
    /// App variables.
    pub variables: HashMap<String, VariableDecl>,
    /// HTTP triggers: route and component id.
    pub triggers: Vec<(RouteSpec, String)>,
    /// Components by id.
    pub components: HashMap<String, ComponentDecl>,
}

fn strings(v: Option<&Value>, what: &str) -> Result<Vec<String>> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .with_context(|| format!("{what}: expected strings"))
            })
            .collect(),
        Some(_) => bail!("{what}: expected a list"),
    }
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let root: Value =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if root
            .get("spin_manifest_version")
            .and_then(Value::as_integer)
            != Some(2)
        {
            bail!("only spin_manifest_version = 2 is supported");
        }
        let mut variables = HashMap::new();
        if let Some(vars) = root.get("variables").and_then(Value::as_table) {
            for (name, decl) in vars {
                let default = decl
                    .get("default")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let required = decl
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if required && default.is_some() {
                    bail!("variable {name}: required variables cannot have a default");
                }
                variables.insert(name.clone(), VariableDecl { default, required });
            }
        }
        let mut triggers = Vec::new();
        for t in root
            .get("trigger")
            .and_then(|t| t.get("http"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let component = t
                .get("component")
                .and_then(Value::as_str)
                .context("trigger.http: component must be a component id")?
                .to_string();
            let route = match t.get("route") {
                Some(Value::String(r)) => RouteSpec::Path(r.clone()),
                Some(Value::Table(r))
                    if r.get("private").and_then(Value::as_bool) == Some(true) =>
                {
                    RouteSpec::Private
                }
                _ => bail!("trigger.http for {component}: unsupported route"),
            };
            triggers.push((route, component));
        }
        let mut components = HashMap::new();
        for (id, c) in root
            .get("component")
            .and_then(Value::as_table)
            .into_iter()
            .flatten()
        {
            let source = c
                .get("source")
                .and_then(Value::as_str)
                .with_context(|| format!("component {id}: source must be a file path"))?;
            let vars = c
                .get("variables")
                .and_then(Value::as_table)
                .map(|t| {
                    t.iter()
                        .map(|(k, v)| {
                            Ok((
                                k.clone(),
                                v.as_str()
                                    .with_context(|| {
                                        format!("component {id} variable {k}: expected a string")
                                    })?
                                    .to_string(),
                            ))
                        })
                        .collect::<Result<HashMap<_, _>>>()
                })
                .transpose()?
                .unwrap_or_default();
            let mut dependencies = Vec::new();
            if let Some(deps) = c.get("dependencies").and_then(Value::as_table) {
                if c.get("dependencies_inherit_configuration")
                    .and_then(Value::as_bool)
                    != Some(true)
                {
                    bail!("component {id}: this host (like Spin 3.6) supports dependencies only with dependencies_inherit_configuration = true");
                }
                for (import, dep) in deps {
                    let target = dep
                        .get("component")
                        .and_then(Value::as_str)
                        .with_context(|| format!("component {id} dependency {import}: only `component = \"id\"` is supported"))?;
                    if dep.get("inherit_configuration").is_some() {
                        bail!("component {id} dependency {import}: per-dependency inherit_configuration is Spin 4 only");
                    }
                    // Spin registers each dependency under its package name (`ns:pkg`): two
                    // entries of one package collide there, so they do here too.
                    let package = import.split(['/', '@']).next().unwrap_or(import);
                    if dependencies.iter().any(|(other, _): &(String, String)| {
                        other.split(['/', '@']).next() == Some(package)
                    }) {
                        bail!("component {id}: package `{package}` has already been registered (use one package-level dependency such as \"{package}@<version>\")");
                    }
                    dependencies.push((import.clone(), target.to_string()));
                }
            }
            components.insert(
                id.clone(),
                ComponentDecl {
                    id: id.clone(),
                    source: dir.join(source),
                    allowed_outbound_hosts: strings(
                        c.get("allowed_outbound_hosts"),
                        &format!("component {id}: allowed_outbound_hosts"),
                    )?,
                    key_value_stores: strings(
                        c.get("key_value_stores"),
                        &format!("component {id}: key_value_stores"),
                    )?,
                    sqlite_databases: strings(
                        c.get("sqlite_databases"),
                        &format!("component {id}: sqlite_databases"),
                    )?,
                    variables: vars,
                    dependencies,
                },
            );
        }
        for (_, c) in &triggers {
            if !components.contains_key(c) {
                bail!("trigger refers to unknown component {c}");
            }
        }
        let application = root.get("application");
        let name = application
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .context("[application] name is required")?
            .to_string();
        let version = application
            .and_then(|a| a.get("version"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Manifest {
            name,
            version,
            variables,
            triggers,
            components,
        })
    }
}

/// Renders a template such as `"http://{{ host }}"` with resolved app variables.
pub fn render(template: &str, vars: &HashMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("unterminated template in {template:?}"))?;
        let name = after[..end].trim();
        let value = vars
            .get(name)
            .with_context(|| format!("template {template:?} refers to unknown variable {name}"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves app variables: `SPIN_VARIABLE_<NAME>` from `env` first, then defaults.
pub fn resolve_variables(
    decls: &HashMap<String, VariableDecl>,
    env: &HashMap<String, String>,
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for (name, decl) in decls {
        let from_env = env
            .get(&format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()))
            .cloned();
        match from_env.or_else(|| decl.default.clone()) {
            Some(v) => {
                out.insert(name.clone(), v);
            }
            None if decl.required => bail!("Error: variable `{name}` is required but has no value"),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<Manifest> {
        let dir = std::env::temp_dir().join(format!("test-host-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("spin.toml");
        std::fs::write(&path, toml)?;
        Manifest::load(&path)
    }

    const BASE: &str = "spin_manifest_version = 2\n[application]\nname = \"x\"\n[component.auth]\nsource = \"a.wasm\"\n[component.router]\nsource = \"r.wasm\"\ndependencies_inherit_configuration = true\n[component.router.dependencies]\n";

    #[test]
    fn two_dependencies_of_one_package_collide_like_spin() {
        let one = format!("{BASE}\"llm-gateway:auth@0.1.0\" = {{ component = \"auth\" }}\n");
        assert_eq!(
            load(&one).unwrap().components["router"].dependencies.len(),
            1
        );
        let two = format!("{BASE}\"llm-gateway:auth/auth@0.1.0\" = {{ component = \"auth\" }}\n\"llm-gateway:auth/admin@0.1.0\" = {{ component = \"auth\" }}\n");
        assert!(load(&two)
            .unwrap_err()
            .to_string()
            .contains("already been registered"));
    }

    #[test]
    fn templates_and_variables() {
        let vars = HashMap::from([("host".to_string(), "127.0.0.1:8080".to_string())]);
        assert_eq!(
            render("http://{{ host }}", &vars).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(render("{{ nope }}", &vars).is_err());
        let decls = HashMap::from([
            (
                "a".to_string(),
                VariableDecl {
                    default: Some("d".into()),
                    required: false,
                },
            ),
            (
                "b".to_string(),
                VariableDecl {
                    default: None,
                    required: true,
                },
            ),
        ]);
        let env = HashMap::from([("SPIN_VARIABLE_B".to_string(), "set".to_string())]);
        let resolved = resolve_variables(&decls, &env).unwrap();
        assert_eq!(
            (resolved["a"].as_str(), resolved["b"].as_str()),
            ("d", "set")
        );
        assert!(resolve_variables(&decls, &HashMap::new()).is_err());
    }
}
