//! `allowed_outbound_hosts` with Spin's rules: `scheme://host[:port]` where each part may be
//! `*`, hosts may be `*.domain`, an IP, a CIDR block or `self`, ports may be ranges (`a..b`),
//! and a missing port means the scheme's well-known port (`https://api.openai.com` is 443).

use std::net::IpAddr;

use anyhow::{bail, ensure, Context, Result};

/// The domain of local service chaining.
pub(crate) const CHAINING_SUFFIX: &str = ".spin.internal";

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`, stored as `.example.com`.
    Subdomain(String),
    Domain(String),
    Ip(IpAddr),
    Cidr(IpAddr, u8),
    /// `self`: relative requests to the app itself.
    ToSelf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    /// Half-open range `start..end` (a single port is `p..p+1`).
    Range(u32, u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    /// `None` for `*://`.
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

/// One component's outbound allowlist.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedHosts(Vec<Allowed>);

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        _ => None,
    }
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn parse_host(host: &str) -> Result<HostPattern> {
    let host = host.trim().trim_end_matches('/');
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if host == "self" || host == "self.alt" {
        return Ok(HostPattern::ToSelf);
    }
    if let Some(ip) = parse_ip(host) {
        return Ok(HostPattern::Ip(ip));
    }
    if let Some((ip, bits)) = host.split_once('/') {
        let ip: IpAddr = ip
            .parse()
            .with_context(|| format!("invalid CIDR {host:?}"))?;
        let bits: u8 = bits
            .parse()
            .with_context(|| format!("invalid CIDR {host:?}"))?;
        ensure!(
            bits <= if ip.is_ipv4() { 32 } else { 128 },
            "invalid CIDR {host:?}"
        );
        return Ok(HostPattern::Cidr(ip, bits));
    }
    if let Some(domain) = host.strip_prefix("*.") {
        ensure!(
            !domain.contains('*'),
            "wildcards are allowed only as prefixes"
        );
        ensure!(!domain.is_empty(), "invalid wildcard host {host:?}");
        return Ok(HostPattern::Subdomain(format!(
            ".{}",
            domain.to_ascii_lowercase()
        )));
    }
    ensure!(
        !host.contains('*'),
        "wildcards are allowed only as subdomains"
    );
    ensure!(!host.is_empty(), "empty host");
    Ok(HostPattern::Domain(host.to_ascii_lowercase()))
}

fn parse_port(port: &str, scheme: &str) -> Result<PortPattern> {
    if port.is_empty() {
        let p = well_known_port(scheme).with_context(|| {
            format!("no port was provided and the scheme {scheme:?} does not have a known default port number")
        })?;
        return Ok(PortPattern::Range(p.into(), u32::from(p) + 1));
    }
    if port == "*" {
        return Ok(PortPattern::Any);
    }
    if let Some((a, b)) = port.split_once("..") {
        let a: u16 = a
            .parse()
            .with_context(|| format!("port range {port:?} contains non-number"))?;
        let b: u16 = b
            .parse()
            .with_context(|| format!("port range {port:?} contains non-number"))?;
        return Ok(PortPattern::Range(a.into(), b.into()));
    }
    let p: u16 = port
        .parse()
        .with_context(|| format!("port {port:?} is not a number"))?;
    Ok(PortPattern::Range(p.into(), u32::from(p) + 1))
}

fn parse_entry(entry: &str) -> Result<Allowed> {
    let url = entry.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!(
            "{url:?} is not an allowed outbound host: hosts must be <scheme>://<host>[:<port>] ('*://*:*' allows everything)"
        );
    };
    let (host, port) = match rest.rsplit_once(':') {
        None => (rest, ""),
        Some((h, "")) => (h, ""),
        Some(_) if rest.starts_with('[') && rest.ends_with(']') => (rest, ""),
        Some((h, tail)) => {
            let port = match tail.split_once('/') {
                Some((port, "")) => port,
                Some(_) => bail!("{url:?} has a path but is not allowed to"),
                None => tail,
            };
            (h, port)
        }
    };
    let port = parse_port(port, scheme).with_context(|| format!("invalid allowed host {url:?}"))?;
    let scheme = match scheme {
        "*" => None,
        s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => Some(s.to_string()),
        s => bail!("invalid allowed host scheme {s:?} in {url:?}"),
    };
    let host = parse_host(host).with_context(|| format!("invalid allowed host {url:?}"))?;
    Ok(Allowed { scheme, host, port })
}

impl AllowedHosts {
    /// Parses rendered entries. `(original, rendered)`: a templated entry that renders empty
    /// (or to a bare `http://`/`https://`) is skipped like Spin does; `*.spin.internal` expands to
    /// the app's component ids.
    pub fn parse(entries: &[(String, String)], component_ids: &[String]) -> Result<AllowedHosts> {
        ensure!(
            !(entries.len() == 1 && entries[0].1 == "insecure:allow-all"),
            "'insecure:allow-all' is not allowed - use '*://*:*' instead"
        );
        let mut out = Vec::new();
        for (original, rendered) in entries {
            let templated = original.contains("{{");
            if templated && matches!(rendered.as_str(), "" | "http://" | "https://") {
                continue;
            }
            let allowed = parse_entry(rendered)?;
            if allowed.host == HostPattern::Subdomain(CHAINING_SUFFIX.to_string()) {
                for id in component_ids {
                    out.push(Allowed {
                        host: HostPattern::Domain(format!("{id}{CHAINING_SUFFIX}")),
                        ..allowed.clone()
                    });
                }
            } else {
                out.push(allowed);
            }
        }
        Ok(AllowedHosts(out))
    }

    /// Whether a request to `scheme://host[:port]` is allowed.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let ip = parse_ip(host);
        let domain = host.to_ascii_lowercase();
        let port = port.or_else(|| well_known_port(scheme));
        self.0.iter().any(|a| {
            let scheme_ok = a.scheme.as_deref().is_none_or(|s| s == scheme);
            let host_ok = match (&a.host, ip) {
                (HostPattern::Any, _) => true,
                (HostPattern::Subdomain(suffix), None) => domain.ends_with(suffix.as_str()),
                (HostPattern::Domain(d), None) => *d == domain,
                (HostPattern::Ip(allowed), Some(ip)) => *allowed == ip,
                (HostPattern::Cidr(net, bits), Some(ip)) => in_cidr(*net, *bits, ip),
                _ => false,
            };
            let port_ok = match (&a.port, port) {
                (PortPattern::Any, _) => true,
                (PortPattern::Range(start, end), Some(p)) => (*start..*end).contains(&u32::from(p)),
                (PortPattern::Range(..), None) => false,
            };
            scheme_ok && host_ok && port_ok
        })
    }

    /// Whether relative ("self") requests are allowed.
    pub fn allows_relative(&self) -> bool {
        self.0.iter().any(|a| {
            let scheme_ok = a
                .scheme
                .as_deref()
                .is_none_or(|s| s == "http" || s == "https");
            scheme_ok && matches!(a.host, HostPattern::Any | HostPattern::ToSelf)
        })
    }
}

fn in_cidr(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let e: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.to_string(), e.to_string()))
            .collect();
        AllowedHosts::parse(&e, &["a".into(), "b".into()]).unwrap()
    }

    #[test]
    fn default_ports_follow_the_scheme() {
        let h = hosts(&["https://api.openai.com"]);
        assert!(h.allows("https", "api.openai.com", None));
        assert!(h.allows("https", "API.openai.com", Some(443)));
        assert!(!h.allows("https", "api.openai.com", Some(8443)));
        assert!(!h.allows("http", "api.openai.com", None));
        assert!(!h.allows("https", "evil.com", None));
    }

    #[test]
    fn explicit_ports_ips_and_wildcards() {
        let h = hosts(&[
            "http://127.0.0.1:18080",
            "https://*.example.com:*",
            "*://10.0.0.0/8:80..90",
        ]);
        assert!(h.allows("http", "127.0.0.1", Some(18080)));
        assert!(!h.allows("http", "127.0.0.1", None));
        assert!(h.allows("https", "x.example.com", Some(1)));
        assert!(!h.allows("https", "example.com", None));
        assert!(h.allows("http", "10.1.2.3", Some(85)));
        assert!(!h.allows("http", "10.1.2.3", Some(90)));
        assert!(!h.allows("http", "11.1.2.3", Some(85)));
        assert!(hosts(&["*://*:*"]).allows("ftp", "anything", None));
    }

    #[test]
    fn chaining_wildcard_expands_to_components() {
        let h = hosts(&["http://*.spin.internal"]);
        assert!(h.allows("http", "a.spin.internal", None));
        assert!(!h.allows("http", "zzz.spin.internal", None));
        assert!(!h.allows_relative());
        assert!(hosts(&["http://self"]).allows_relative());
    }

    #[test]
    fn empty_templated_entries_are_skipped_and_bad_ones_refused() {
        let e = vec![("{{ origin }}".to_string(), String::new())];
        assert!(AllowedHosts::parse(&e, &[]).unwrap().0.is_empty());
        for bad in ["api.openai.com", "http://a/b", "ftp://x", "http://a*b.com"] {
            let e = vec![(bad.to_string(), bad.to_string())];
            assert!(AllowedHosts::parse(&e, &[]).is_err(), "{bad}");
        }
    }
}
