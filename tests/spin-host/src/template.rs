//! Spin expression templates (`"text {{ name }} more"`) and variable-name rules.

use anyhow::{bail, Result};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var(String),
}

/// A parsed template: literal text mixed with `{{ variable }}` expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parses a template the way Spin does (`{{` opens an expression up to the next `}}`).
    pub fn parse(text: &str) -> Result<Template> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(expr_rest) = rest.strip_prefix("{{") {
                let Some((expr, after)) = expr_rest.split_once("}}") else {
                    bail!("invalid variable template {text:?}: unmatched '{{{{' in template");
                };
                parts.push(Part::Var(expr.trim().to_string()));
                rest = after;
            } else {
                let end = rest.find("{{").unwrap_or(rest.len());
                parts.push(Part::Lit(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        Ok(Template(parts))
    }

    /// Names of the variables the template refers to.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Lit(_) => None,
        })
    }

    /// Renders the template; `lookup` gives each variable's value.
    pub fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Lit(l) => out.push_str(l),
                Part::Var(v) => match lookup(v) {
                    Some(value) => out.push_str(&value),
                    None => bail!("invalid variable template: unknown variable {v:?}"),
                },
            }
        }
        Ok(out)
    }
}

/// Checks a variable name against Spin's rules; the error text is Spin's reason.
pub fn validate_name(key: &str) -> std::result::Result<(), String> {
    let reason = if key.is_empty() {
        "must not be empty".to_string()
    } else if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        format!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        )
    } else if !key.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lowercase ASCII letter".to_string()
    } else if !key.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        "must end with a lowercase ASCII letter or digit".to_string()
    } else if key.contains("__") {
        "must not contain multiple consecutive underscores".to_string()
    } else {
        return Ok(());
    };
    Err(format!("{key:?}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mixed_templates() {
        let t = Template::parse("inner says {{ greeting }}!{{x}}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["greeting", "x"]);
        let out = t.render(|v| Some(v.to_uppercase())).unwrap();
        assert_eq!(out, "inner says GREETING!X");
        assert!(Template::parse("{{ open").is_err());
        assert_eq!(Template::parse("").unwrap().variables().count(), 0);
    }

    #[test]
    fn validates_names_like_spin() {
        assert!(validate_name("openai_api_key").is_ok());
        assert!(validate_name("a1").is_ok());
        for bad in ["", "Upper", "1abc", "a__b", "ends_", "has-dash"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
