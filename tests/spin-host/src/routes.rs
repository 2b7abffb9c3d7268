//! HTTP routing like Spin's router: exact routes and trailing `/...` wildcards; an exact match
//! beats a wildcard, and the wildcard with the longest prefix wins. Private routes are never
//! routable from outside.

use std::net::SocketAddr;

use anyhow::{bail, Result};
use http::{HeaderName, HeaderValue};

use crate::manifest::{HttpTrigger, Route};

#[derive(Debug, Clone)]
enum Pattern {
    /// Path without leading/trailing slashes.
    Exact(String),
    /// Prefix without leading/trailing slashes (empty for `/...`).
    Wildcard(String),
}

#[derive(Debug, Clone)]
struct Entry {
    raw: String,
    component: String,
    pattern: Pattern,
}

/// The public routes of an app.
#[derive(Debug, Clone, Default)]
pub(crate) struct Router(Vec<Entry>);

/// The result of routing a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteMatch {
    /// The component serving the request.
    pub component: String,
    /// The route as written in the manifest.
    raw_route: String,
    /// The path part matched by the trailing wildcard, with Spin's slash rules.
    path_info: String,
}

impl Router {
    /// Builds the router from the manifest's HTTP triggers (a repeated route: the last wins).
    pub fn new(triggers: &[HttpTrigger]) -> Result<Router> {
        let mut entries: Vec<Entry> = Vec::new();
        for t in triggers {
            let Route::Path(raw) = &t.route else { continue };
            let absolute = if raw.starts_with('/') {
                raw.clone()
            } else {
                format!("/{raw}")
            };
            let pattern = match absolute.strip_suffix("/...") {
                Some(prefix) => Pattern::Wildcard(trim(prefix).to_string()),
                None => Pattern::Exact(trim(&absolute).to_string()),
            };
            let literal = match &pattern {
                Pattern::Exact(p) | Pattern::Wildcard(p) => p,
            };
            if literal.contains([':', '*']) || literal.contains("...") {
                bail!(
                    "route {raw:?}: only exact routes and trailing `/...` wildcards are supported"
                );
            }
            entries.retain(|e| e.raw != *raw);
            entries.push(Entry {
                raw: raw.clone(),
                component: t.component.clone(),
                pattern,
            });
        }
        Ok(Router(entries))
    }

    /// Finds the component for a request path.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let p = trim(path);
        let exact = self
            .0
            .iter()
            .find(|e| matches!(&e.pattern, Pattern::Exact(x) if x == p));
        if let Some(e) = exact {
            return Some(RouteMatch {
                component: e.component.clone(),
                raw_route: e.raw.clone(),
                path_info: String::new(),
            });
        }
        let mut best: Option<(&Entry, &str, usize)> = None;
        for e in &self.0 {
            let Pattern::Wildcard(prefix) = &e.pattern else {
                continue;
            };
            let rest = if prefix.is_empty() {
                Some(p)
            } else if p == prefix {
                Some("")
            } else {
                p.strip_prefix(prefix.as_str())
                    .and_then(|r| r.strip_prefix('/'))
            };
            let Some(rest) = rest else { continue };
            let depth = if prefix.is_empty() {
                0
            } else {
                prefix.split('/').count()
            };
            if best.is_none_or(|(_, _, d)| depth > d) {
                best = Some((e, rest, depth));
            }
        }
        best.map(|(e, rest, _)| RouteMatch {
            component: e.component.clone(),
            raw_route: e.raw.clone(),
            path_info: path_info(rest, path.ends_with('/')),
        })
    }

    /// Lines like `spin up` prints: `  router: http://127.0.0.1:3000/v1 (wildcard)`.
    pub fn describe(&self, base_url: &str) -> Vec<String> {
        self.0
            .iter()
            .map(|e| match &e.pattern {
                Pattern::Exact(p) if p.is_empty() => format!("  {}: {base_url}", e.component),
                Pattern::Exact(p) => format!("  {}: {base_url}/{p}", e.component),
                Pattern::Wildcard(p) if p.is_empty() => {
                    format!("  {}: {base_url} (wildcard)", e.component)
                }
                Pattern::Wildcard(p) => format!("  {}: {base_url}/{p} (wildcard)", e.component),
            })
            .collect()
    }
}

impl RouteMatch {
    /// The match Spin synthesizes for a service-chaining request (as if routed by `/...`).
    pub fn synthetic(component: &str, path: &str) -> RouteMatch {
        RouteMatch {
            component: component.to_string(),
            raw_route: "/...".to_string(),
            path_info: path.to_string(),
        }
    }

    /// The `spin-*` headers Spin adds to a routed request.
    pub fn spin_headers(
        &self,
        full_url: &str,
        client: SocketAddr,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let based = based_route(&self.raw_route);
        let component_route = self
            .raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route);
        [
            ("spin-path-info", self.path_info.as_str()),
            ("spin-full-url", full_url),
            ("spin-matched-route", based.as_str()),
            ("spin-base-path", "/"),
            ("spin-raw-component-route", self.raw_route.as_str()),
            ("spin-component-route", component_route),
            ("spin-client-addr", client.to_string().as_str()),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            Some((
                HeaderName::from_static(name),
                HeaderValue::from_str(value).ok()?,
            ))
        })
        .collect()
    }
}

/// Strips leading and trailing slashes (Spin's router ignores them).
fn trim(path: &str) -> &str {
    path.trim_start_matches('/').trim_end_matches('/')
}

/// Spin's trailing-wildcard value: `/rest`, keeping a trailing slash of the request path.
fn path_info(rest: &str, trailing_slash: bool) -> String {
    match (rest.is_empty(), trailing_slash) {
        (true, false) => String::new(),
        (true, true) => "/".to_string(),
        (false, false) => format!("/{rest}"),
        (false, true) => format!("/{rest}/"),
    }
}

/// The route combined with the base `/` as Spin reports it (one trailing slash removed).
fn based_route(raw: &str) -> String {
    let absolute = if raw.starts_with('/') {
        raw.to_string()
    } else {
        format!("/{raw}")
    };
    absolute
        .strip_suffix('/')
        .map(str::to_string)
        .unwrap_or(absolute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let triggers: Vec<HttpTrigger> = routes
            .iter()
            .map(|(c, r)| HttpTrigger {
                route: Route::Path(r.to_string()),
                component: c.to_string(),
            })
            .collect();
        Router::new(&triggers).unwrap()
    }

    fn comp(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn exact_beats_wildcard_and_longest_prefix_wins() {
        let r = router(&[
            ("all", "/..."),
            ("one", "/one/..."),
            ("onetwo", "/one/two/..."),
            ("exact", "/one/two"),
        ]);
        assert_eq!(comp(&r, "/one/two/three").as_deref(), Some("onetwo"));
        assert_eq!(comp(&r, "/one/two").as_deref(), Some("exact"));
        assert_eq!(comp(&r, "/one/two/").as_deref(), Some("exact"));
        assert_eq!(comp(&r, "/one").as_deref(), Some("one"));
        assert_eq!(comp(&r, "/onex").as_deref(), Some("all"));
        assert_eq!(comp(&r, "/").as_deref(), Some("all"));
    }

    #[test]
    fn unmatched_and_private_routes_are_absent() {
        let mut triggers = vec![HttpTrigger {
            route: Route::Path("/api/...".into()),
            component: "api".into(),
        }];
        triggers.push(HttpTrigger {
            route: Route::Private,
            component: "secret".into(),
        });
        let r = Router::new(&triggers).unwrap();
        assert_eq!(comp(&r, "/other"), None);
        assert_eq!(comp(&r, "/apix"), None);
        assert_eq!(r.describe("http://h").len(), 1);
    }

    #[test]
    fn spin_headers_match_spin() {
        let r = router(&[("foo", "/foo/...")]);
        let m = r.route("/foo/bar").unwrap();
        let client: SocketAddr = "127.0.0.1:8777".parse().unwrap();
        let h = m.spin_headers("https://fermyon.dev/foo/bar?k=v", client);
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_string())
                .unwrap()
        };
        assert_eq!(get("spin-path-info"), "/bar");
        assert_eq!(get("spin-matched-route"), "/foo/...");
        assert_eq!(get("spin-raw-component-route"), "/foo/...");
        assert_eq!(get("spin-component-route"), "/foo");
        assert_eq!(get("spin-base-path"), "/");
        assert_eq!(get("spin-client-addr"), "127.0.0.1:8777");
        assert_eq!(get("spin-full-url"), "https://fermyon.dev/foo/bar?k=v");
        assert_eq!(r.route("/foo/bar/").unwrap().path_info, "/bar/");
        assert_eq!(r.route("/foo").unwrap().path_info, "");
        assert_eq!(r.route("/foo/").unwrap().path_info, "/");
    }
}
