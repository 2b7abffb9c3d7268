//! Application variables: `SPIN_VARIABLE_<NAME>` from the host's environment map, then
//! defaults; each component sees only the variables it maps, rendered from templates.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};

use crate::manifest::VariableDecl;
use crate::template::{validate_name, Template};

/// Resolved application variables.
#[derive(Debug, Clone, Default)]
pub(crate) struct AppVariables(HashMap<String, String>);

impl AppVariables {
    /// Resolves every declared variable; a required one without a value stops the host like
    /// `spin up` (naming the variables, never their values).
    pub fn resolve(
        decls: &BTreeMap<String, VariableDecl>,
        env: &HashMap<String, String>,
    ) -> Result<AppVariables> {
        let mut values = HashMap::new();
        let mut missing = Vec::new();
        for (name, decl) in decls {
            let env_key = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
            match env.get(&env_key).or(decl.default.as_ref()) {
                Some(v) => {
                    values.insert(name.clone(), v.clone());
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            bail!("no provider resolved required variable(s): {missing:?}");
        }
        Ok(AppVariables(values))
    }

    /// Renders a template against the application variables.
    pub fn render(&self, text: &str) -> Result<String> {
        Template::parse(text)?.render(|v| self.0.get(v).cloned())
    }
}

/// Why `fermyon:spin/variables.get` failed, as Spin reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupError {
    /// The name breaks Spin's naming rules.
    InvalidName(String),
    /// The component does not map this variable.
    Undefined(String),
}

/// The variables one component may read.
#[derive(Debug, Clone, Default)]
pub(crate) struct ComponentVariables {
    component: String,
    values: HashMap<String, String>,
}

impl ComponentVariables {
    /// Renders a component's `[component.x.variables]` table.
    pub fn new(
        component: &str,
        templates: &BTreeMap<String, String>,
        app: &AppVariables,
    ) -> Result<ComponentVariables> {
        let mut values = HashMap::new();
        for (key, template) in templates {
            values.insert(key.clone(), app.render(template)?);
        }
        Ok(ComponentVariables {
            component: component.to_string(),
            values,
        })
    }

    /// Looks a variable up with Spin's checks and error texts.
    pub fn get(&self, key: &str) -> Result<String, LookupError> {
        validate_name(key).map_err(LookupError::InvalidName)?;
        self.values.get(key).cloned().ok_or_else(|| {
            LookupError::Undefined(format!("no variable for {:?}.{key:?}", self.component))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> BTreeMap<String, VariableDecl> {
        let mut d = BTreeMap::new();
        d.insert(
            "greeting".into(),
            VariableDecl {
                default: Some("hello".into()),
                required: false,
            },
        );
        d.insert(
            "secret_key".into(),
            VariableDecl {
                default: None,
                required: true,
            },
        );
        d
    }

    #[test]
    fn env_overrides_defaults_and_required_must_be_set() {
        let err = AppVariables::resolve(&decls(), &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("secret_key"));
        let env = HashMap::from([
            ("SPIN_VARIABLE_SECRET_KEY".to_string(), "s".to_string()),
            ("SPIN_VARIABLE_GREETING".to_string(), "bonjour".to_string()),
        ]);
        let app = AppVariables::resolve(&decls(), &env).unwrap();
        assert_eq!(app.render("{{ greeting }}!").unwrap(), "bonjour!");
    }

    #[test]
    fn components_see_only_their_mapped_variables() {
        let env = HashMap::from([("SPIN_VARIABLE_SECRET_KEY".to_string(), "s".to_string())]);
        let app = AppVariables::resolve(&decls(), &env).unwrap();
        let map = BTreeMap::from([("msg".to_string(), "inner says {{ greeting }}".to_string())]);
        let vars = ComponentVariables::new("c", &map, &app).unwrap();
        assert_eq!(vars.get("msg").unwrap(), "inner says hello");
        assert_eq!(
            vars.get("secret_key"),
            Err(LookupError::Undefined(
                "no variable for \"c\".\"secret_key\"".into()
            ))
        );
        assert!(matches!(vars.get("Bad"), Err(LookupError::InvalidName(_))));
    }
}
