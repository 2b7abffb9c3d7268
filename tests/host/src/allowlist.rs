//! `allowed_outbound_hosts` as Spin interprets it: `scheme://host[:port]` entries, `*` wildcards
//! for scheme, host (also as `*.suffix`) and port, default ports per scheme.

use anyhow::{bail, Result};

/// One allowed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    scheme: String,
    host: String,
    port: Option<u16>,
    any_port: bool,
}

/// A component's allowlist.
#[derive(Debug, Clone, Default)]
pub struct Allowlist(Vec<Entry>);

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl Allowlist {
    /// Parses rendered entries.
    pub fn parse(entries: &[String]) -> Result<Allowlist> {
        let mut out = Vec::new();
        for e in entries {
            let Some((scheme, rest)) = e.split_once("://") else {
                bail!("allowed_outbound_hosts entry {e:?} must be scheme://host[:port]");
            };
            let rest = rest.trim_end_matches('/');
            if rest.contains('/') {
                bail!("allowed_outbound_hosts entry {e:?} must not have a path");
            }
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, "*")) => (h, None),
                Some((h, p)) => match p.parse::<u16>() {
                    Ok(p) => (h, Some(p)),
                    Err(_) => bail!("allowed_outbound_hosts entry {e:?} has an invalid port"),
                },
                None => (rest, default_port(scheme)),
            };
            let any_port = rest.ends_with(":*") || (port.is_none() && scheme == "*");
            out.push(Entry {
                scheme: scheme.to_string(),
                host: host.to_ascii_lowercase(),
                port,
                any_port,
            });
        }
        Ok(Allowlist(out))
    }

    /// Whether a request to `scheme://host:port` is allowed.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let host = host.to_ascii_lowercase();
        let port = port.or_else(|| default_port(scheme));
        self.0.iter().any(|e| {
            (e.scheme == "*" || e.scheme == scheme)
                && (e.host == "*"
                    || e.host == host
                    || e.host
                        .strip_prefix("*.")
                        .is_some_and(|suffix| host.ends_with(&format!(".{suffix}"))))
                && (e.any_port || e.port == port || (e.scheme == "*" && e.port.is_none()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(e: &[&str]) -> Allowlist {
        Allowlist::parse(&e.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn matches_like_spin() {
        let l = list(&[
            "https://api.openai.com",
            "http://127.0.0.1:18080",
            "http://*.spin.internal",
        ]);
        assert!(l.allows("https", "api.openai.com", None));
        assert!(l.allows("https", "api.openai.com", Some(443)));
        assert!(!l.allows("https", "api.openai.com", Some(8443)));
        assert!(!l.allows("http", "api.openai.com", None));
        assert!(l.allows("http", "127.0.0.1", Some(18080)));
        assert!(!l.allows("http", "127.0.0.1", Some(9)));
        assert!(l.allows("http", "provider-openai.spin.internal", None));
        assert!(list(&["*://*:*"]).allows("http", "x", Some(1)));
        assert!(Allowlist::parse(&["api.openai.com".into()]).is_err());
    }
}
