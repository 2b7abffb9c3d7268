//! Spin's runtime configuration (`spin up --runtime-config-file`) and state directory, as far as
//! the app uses them: key-value store labels and SQLite databases.
//!
//! What Spin 3.6.3 does, and this host with it:
//! - The state directory is `--state-dir` when given (empty: none), else the file's `state_dir`
//!   (empty: none), else `.spin` beside the manifest. This host's library default is a fresh
//!   temporary directory per host instead, so parallel tests never share a database.
//! - `[key_value_store.<label>] type = "spin"` defines a store; `default` always exists. A component
//!   that lists a label defined nowhere stops the app from starting. (This host keeps every store
//!   in memory, whatever its `path`; Spin keeps it in that SQLite file, or in memory without one.)
//! - `[sqlite_database.<label>] type = "spin", path = ...` defines a database in that file (a
//!   relative path is resolved against the working directory, as Spin does), or in memory without
//!   a path (with a temporary state directory: resolved inside it, so tests never share a file);
//!   `default` always exists, in `<state dir>/sqlite_db.db`, or in memory without a state
//!   directory. An in-memory database is new and empty for every connection, as in Spin.
//! - Any other top-level key, or a store type other than `spin`, is refused (Spin refuses unknown
//!   keys; the other store types are Spin's but not this host's).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use toml::Value;

use crate::sqlite::Location;

/// The label Spin always defines, for key-value stores and SQLite databases alike.
pub const DEFAULT_LABEL: &str = "default";

/// Spin's file name of the default database in the state directory.
const DEFAULT_SQLITE_FILE: &str = "sqlite_db.db";

/// Where the state directory comes from (Spin's `--state-dir`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateDir {
    /// Not given: the runtime config's `state_dir`, else `.spin` beside the manifest (Spin's rule).
    #[default]
    SpinDefault,
    /// A fresh temporary directory for this host, removed when it stops.
    Temporary,
    /// This directory.
    Path(PathBuf),
    /// None (`--state-dir ""`): the default database lives in memory.
    Unset,
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    /// Defined key-value store labels (always `default`).
    pub key_value_stores: BTreeSet<String>,
    /// Defined SQLite databases by label (always `default`).
    pub sqlite_databases: BTreeMap<String, Location>,
    /// The state directory, if any.
    pub state_dir: Option<PathBuf>,
}

/// Top-level keys Spin 3.6.3 knows in a runtime config file.
const SPIN_KEYS: &[&str] = &[
    "key_value_store",
    "sqlite_database",
    "state_dir",
    "log_dir",
    "max_instance_memory",
    "variables_provider",
    "config_provider",
    "llm_compute",
    "client_tls",
    "outbound_networking",
    "otel",
];

/// Top-level keys this host implements (the others are Spin's but not the app's).
const HOST_KEYS: &[&str] = &["key_value_store", "sqlite_database", "state_dir", "log_dir"];

fn table<'a>(root: &'a toml::Table, key: &str) -> Result<Option<&'a toml::Table>> {
    match root.get(key) {
        None => Ok(None),
        Some(Value::Table(t)) => Ok(Some(t)),
        Some(_) => bail!("`{key}` must be a table of labels"),
    }
}

/// The store type of `[<kind>.<label>]` and its other fields.
fn typed<'a>(kind: &str, label: &str, entry: &'a Value) -> Result<(&'a str, toml::Table)> {
    let Value::Table(t) = entry else {
        bail!("[{kind}.{label}] must be a table");
    };
    let type_ = t
        .get("type")
        .and_then(Value::as_str)
        .with_context(|| format!("[{kind}.{label}]: missing field `type`"))?;
    let mut rest = t.clone();
    rest.remove("type");
    Ok((type_, rest))
}

fn only_path(kind: &str, label: &str, rest: &toml::Table) -> Result<Option<PathBuf>> {
    for key in rest.keys() {
        if key != "path" {
            bail!("[{kind}.{label}]: unknown field `{key}`, expected `path`");
        }
    }
    match rest.get("path") {
        None => Ok(None),
        Some(Value::String(p)) => Ok(Some(PathBuf::from(p))),
        Some(_) => bail!("[{kind}.{label}]: `path` must be a string"),
    }
}

impl RuntimeConfig {
    /// Reads a runtime config file (or none) and resolves the state directory; `app_dir` is the
    /// manifest's directory and `temporary` the directory to use for [`StateDir::Temporary`].
    pub fn load(
        file: Option<&Path>,
        state_dir: &StateDir,
        app_dir: &Path,
        temporary: Option<&Path>,
    ) -> Result<RuntimeConfig> {
        let root: toml::Table = match file {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("failed to read runtime config file '{}'", path.display())
                })?;
                toml::from_str(&text).with_context(|| {
                    format!(
                        "failed to parse runtime config file '{}' as toml",
                        path.display()
                    )
                })?
            }
        };
        Self::from_table(&root, state_dir, app_dir, temporary)
    }

    /// Resolves a parsed runtime config (see [`RuntimeConfig::load`]).
    pub fn from_table(
        root: &toml::Table,
        state_dir: &StateDir,
        app_dir: &Path,
        temporary: Option<&Path>,
    ) -> Result<RuntimeConfig> {
        for key in root.keys() {
            if !SPIN_KEYS.contains(&key.as_str()) {
                bail!("unused runtime config key(s): {key}");
            }
            if !HOST_KEYS.contains(&key.as_str()) {
                bail!("runtime config `{key}` is Spin's but not implemented by the test host");
            }
        }
        let absolute = |p: &Path| -> Result<PathBuf> {
            std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
        };
        let state_dir_option = state_dir;
        let state_dir = match state_dir {
            StateDir::Path(p) => Some(absolute(p)?),
            StateDir::Unset => None,
            StateDir::Temporary => Some(
                temporary
                    .context("no temporary state directory was made")?
                    .to_path_buf(),
            ),
            StateDir::SpinDefault => match root.get("state_dir") {
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(absolute(Path::new(s))?),
                Some(_) => bail!("`state_dir` must be a string"),
                None => Some(app_dir.join(".spin")),
            },
        };

        let mut key_value_stores = BTreeSet::from([DEFAULT_LABEL.to_string()]);
        if let Some(stores) = table(root, "key_value_store")? {
            for (label, entry) in stores {
                let (type_, rest) = typed("key_value_store", label, entry)?;
                match type_ {
                    "spin" => {
                        only_path("key_value_store", label, &rest)?;
                    }
                    "redis" | "azure_cosmos" | "aws_dynamo" => bail!(
                        "[key_value_store.{label}]: type {type_:?} is Spin's but not the test host's (it has in-memory \"spin\" stores only)"
                    ),
                    other => bail!("unknown key value store runtime config type {other:?}"),
                }
                key_value_stores.insert(label.clone());
            }
        }

        let mut sqlite_databases = BTreeMap::new();
        if let Some(databases) = table(root, "sqlite_database")? {
            // Spin resolves relative paths against the working directory; a test host with a
            // temporary state directory resolves them there, so tests never share a file.
            let base = match (state_dir_option, temporary) {
                (StateDir::Temporary, Some(t)) => t.to_path_buf(),
                _ => std::env::current_dir().context("failed to get current working directory")?,
            };
            for (label, entry) in databases {
                let (type_, rest) = typed("sqlite_database", label, entry)?;
                let location = match type_ {
                    "spin" => match only_path("sqlite_database", label, &rest)? {
                        Some(p) if p.is_absolute() => Location::File(p),
                        Some(p) => Location::File(base.join(p)),
                        None => Location::InMemory,
                    },
                    "libsql" => bail!(
                        "[sqlite_database.{label}]: type \"libsql\" is Spin's but not the test host's"
                    ),
                    other => bail!("Unknown database kind: {other}"),
                };
                sqlite_databases.insert(label.clone(), location);
            }
        }
        sqlite_databases
            .entry(DEFAULT_LABEL.to_string())
            .or_insert_with(|| match &state_dir {
                Some(dir) => Location::File(dir.join(DEFAULT_SQLITE_FILE)),
                None => Location::InMemory,
            });
        Ok(RuntimeConfig {
            key_value_stores,
            sqlite_databases,
            state_dir,
        })
    }

    /// Spin's start-up check: every label a component lists must be defined.
    pub fn check_component(
        &self,
        id: &str,
        key_value_stores: &[String],
        sqlite_databases: &[String],
    ) -> Result<()> {
        for label in key_value_stores {
            if !self.key_value_stores.contains(label) {
                bail!("unknown key_value_stores label {label:?} for component {id:?}");
            }
        }
        let missing: Vec<String> = sqlite_databases
            .iter()
            .filter(|l| !self.sqlite_databases.contains_key(*l))
            .map(|l| format!("- Component {id} uses database '{l}'"))
            .collect();
        if !missing.is_empty() {
            bail!(
                "One or more components use SQLite databases which are not defined.\nCheck the spelling, or pass a runtime configuration file that defines these stores.\nDetails:\n{}",
                missing.join("\n")
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(toml: &str, state_dir: &StateDir) -> Result<RuntimeConfig> {
        RuntimeConfig::from_table(
            &toml::from_str(toml).unwrap(),
            state_dir,
            Path::new("/app"),
            Some(Path::new("/tmp/host-state")),
        )
    }

    #[test]
    fn default_labels_and_state_dir_like_spin() {
        let c = resolve("", &StateDir::SpinDefault).unwrap();
        assert_eq!(c.state_dir, Some(PathBuf::from("/app/.spin")));
        assert_eq!(
            c.sqlite_databases[DEFAULT_LABEL],
            Location::File(PathBuf::from("/app/.spin/sqlite_db.db"))
        );
        assert_eq!(
            c.key_value_stores,
            BTreeSet::from([DEFAULT_LABEL.to_string()])
        );
        // `--state-dir ""` and `state_dir = ""`: no state directory, the default db in memory.
        for c in [
            resolve("", &StateDir::Unset).unwrap(),
            resolve("state_dir = \"\"", &StateDir::SpinDefault).unwrap(),
        ] {
            assert_eq!(c.state_dir, None);
            assert_eq!(c.sqlite_databases[DEFAULT_LABEL], Location::InMemory);
        }
        let c = resolve("state_dir = \"/s\"", &StateDir::SpinDefault).unwrap();
        assert_eq!(
            c.sqlite_databases[DEFAULT_LABEL],
            Location::File(PathBuf::from("/s/sqlite_db.db"))
        );
        // The flag wins over the file.
        let c = resolve("state_dir = \"/s\"", &StateDir::Path("/flag".into())).unwrap();
        assert_eq!(c.state_dir, Some(PathBuf::from("/flag")));
        let c = resolve(
            "[sqlite_database.logs]\ntype = \"spin\"\npath = \".spin/logs.db\"",
            &StateDir::Temporary,
        )
        .unwrap();
        assert_eq!(
            c.sqlite_databases[DEFAULT_LABEL],
            Location::File(PathBuf::from("/tmp/host-state/sqlite_db.db"))
        );
        assert_eq!(
            c.sqlite_databases["logs"],
            Location::File(PathBuf::from("/tmp/host-state/.spin/logs.db"))
        );
    }

    #[test]
    fn labels_from_the_file() {
        let c = resolve(
            "[key_value_store.local]\ntype = \"spin\"\n[key_value_store.default]\ntype = \"spin\"\npath = \".spin/kv.db\"\n[sqlite_database.default]\ntype = \"spin\"\npath = \"/data/log.db\"\n[sqlite_database.scratch]\ntype = \"spin\"\n",
            &StateDir::SpinDefault,
        )
        .unwrap();
        assert!(c.key_value_stores.contains("local"));
        assert_eq!(
            c.sqlite_databases[DEFAULT_LABEL],
            Location::File(PathBuf::from("/data/log.db"))
        );
        assert_eq!(c.sqlite_databases["scratch"], Location::InMemory);
        let c2 = resolve(
            "[sqlite_database.rel]\ntype = \"spin\"\npath = \"x/y.db\"\n",
            &StateDir::SpinDefault,
        )
        .unwrap();
        assert_eq!(
            c2.sqlite_databases["rel"],
            Location::File(std::env::current_dir().unwrap().join("x/y.db"))
        );

        // Labels defined nowhere stop the app, like Spin.
        assert!(c
            .check_component(
                "router",
                &["default".into(), "local".into()],
                &["default".into()]
            )
            .is_ok());
        let e = c
            .check_component("router", &["cache".into()], &[])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown key_value_stores label \"cache\" for component \"router\""
        );
        let e = c
            .check_component("router", &[], &["logs".into()])
            .unwrap_err();
        assert!(e
            .to_string()
            .contains("- Component router uses database 'logs'"));
        let bare = resolve("", &StateDir::SpinDefault).unwrap();
        assert!(bare
            .check_component("router", &["local".into()], &[])
            .is_err());
    }

    #[test]
    fn refuses_what_spin_refuses_or_the_host_lacks() {
        for bad in [
            "nonsense = 1",
            "[key_value_store.x]\npath = \"a\"",
            "[key_value_store.x]\ntype = \"mystery\"",
            "[key_value_store.x]\ntype = \"spin\"\nurl = \"a\"",
            "[key_value_store.x]\ntype = \"redis\"\nurl = \"redis://x\"",
            "[sqlite_database.x]\ntype = \"mystery\"",
            "[sqlite_database.x]\ntype = \"spin\"\npath = 3",
        ] {
            assert!(
                resolve(bad, &StateDir::SpinDefault).is_err(),
                "accepted: {bad}"
            );
        }
    }
}
