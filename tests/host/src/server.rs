//! The public HTTP listener: Spin's route matching (private routes never match), Spin's request
//! headers, Spin's answers when nothing matches (404, empty) or a guest fails (500, empty), Spin's
//! well-known paths (`/.well-known/spin/health` and `/info`, before any route), and Spin's
//! handling of a request without an authority: a `Host` naming a service-chaining host
//! (`x.spin.internal`) is removed first, and a request left without `Host` (nor an absolute URI),
//! or whose `Host` disagrees with its URI, fails its connection with no response at all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::manifest::RouteSpec;
use crate::runtime::{log, App};

/// A public route: pattern and component.
#[derive(Debug, Clone)]
pub struct Route {
    /// As written in the manifest.
    pub pattern: String,
    /// Component id.
    pub component: String,
}

impl Route {
    /// The matched prefix length if the path matches (longer is more specific), else `None`.
    fn matches(&self, path: &str) -> Option<(usize, bool)> {
        match self.pattern.strip_suffix("/...") {
            Some(prefix) => {
                (path == prefix || prefix.is_empty() || path.starts_with(&format!("{prefix}/")))
                    .then_some((prefix.len(), false))
            }
            None => (path == self.pattern).then_some((self.pattern.len(), true)),
        }
    }
}

/// Public routes from the manifest triggers.
pub fn public_routes(triggers: &[(RouteSpec, String)]) -> Vec<Route> {
    triggers
        .iter()
        .filter_map(|(r, c)| match r {
            RouteSpec::Path(p) => Some(Route {
                pattern: p.clone(),
                component: c.clone(),
            }),
            RouteSpec::Private => None,
        })
        .collect()
}

/// Spin's well-known paths, answered before routing.
const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

/// Whether `host` (`[name].spin.internal[:port]`) is a service-chaining host, as Spin parses it.
pub fn is_service_chaining_host(host: &str) -> bool {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host.split_once('.')
        .is_some_and(|(_, rest)| rest == "spin.internal")
}

/// The request's authority as Spin determines it: from `Host` or the URI, which must agree.
fn authority(parts: &http::request::Parts) -> Result<http::uri::Authority, anyhow::Error> {
    let header = parts
        .headers
        .get(http::header::HOST)
        .map(|h| {
            h.to_str()
                .map_err(|_| anyhow::anyhow!("'Host' header is not valid UTF-8"))?
                .parse::<http::uri::Authority>()
                .map_err(|_| anyhow::anyhow!("'Host' header contains an invalid authority"))
        })
        .transpose()?;
    match (header, parts.uri.authority().cloned()) {
        (None, None) => Err(anyhow::anyhow!("no 'Host' header present in request")),
        (Some(a), None) | (None, Some(a)) => Ok(a),
        (Some(a), Some(b)) if a == b => Ok(a),
        _ => Err(anyhow::anyhow!(
            "authority in 'Host' header does not match authority in URI"
        )),
    }
}

fn text(status: u16, body: String) -> http::Response<HyperOutgoingBody> {
    let mut r = http::Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

async fn handle(
    app: Arc<App>,
    routes: Arc<Vec<Route>>,
    info: Arc<String>,
    client: SocketAddr,
    mut req: http::Request<Incoming>,
) -> Result<http::Response<HyperOutgoingBody>, anyhow::Error> {
    if req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(is_service_chaining_host)
    {
        req.headers_mut().remove(http::header::HOST);
    }
    let path = req.uri().path().to_string();
    if let Some(well_known) = path.strip_prefix(WELL_KNOWN_PREFIX) {
        return Ok(match well_known {
            "health" => text(200, "OK".into()),
            "info" => {
                let mut r = text(200, info.to_string());
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                r
            }
            _ => text(404, String::new()),
        });
    }
    let best = routes
        .iter()
        .filter_map(|r| r.matches(&path).map(|m| (m, r)))
        .max_by_key(|((len, exact), _)| (*exact, *len));
    let Some((_, route)) = best else {
        return Ok(text(404, String::new()));
    };
    let Some(component) = app.components.get(&route.component).cloned() else {
        return Ok(text(404, String::new()));
    };
    let (mut parts, body) = req.into_parts();
    let host = authority(&parts)?.to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/".into());
    let full = format!("http://{host}{path_and_query}");
    if let Ok(uri) = full.parse() {
        parts.uri = uri;
    }
    let raw = route.pattern.clone();
    let base = raw.strip_suffix("/...").unwrap_or(&raw).to_string();
    let info = path.strip_prefix(&base).unwrap_or("").to_string();
    for (k, v) in [
        ("spin-full-url", full.clone()),
        ("spin-path-info", info),
        ("spin-matched-route", raw.clone()),
        ("spin-raw-component-route", raw.clone()),
        ("spin-component-route", base),
        ("spin-base-path", "/".to_string()),
        ("spin-client-addr", client.to_string()),
    ] {
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            parts.headers.insert(k, v);
        }
    }
    let request = http::Request::from_parts(parts, body);
    Ok(match app.serve(component, request).await {
        Ok(response) => response,
        Err(e) => {
            // Spin 3.6 and 4.0 answer a guest that traps or answers with an error code with an
            // empty 500, and log the error.
            log(
                &app.logs,
                format!(
                    "[{}] ERROR Error processing request: {e:#}",
                    route.component
                ),
            );
            text(500, String::new())
        }
    })
}

/// Accepts connections until the task is aborted.
/// `info` is the JSON body of `/.well-known/spin/info`.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    routes: Vec<Route>,
    tcp_nodelay: bool,
    info: String,
) {
    let routes = Arc::new(routes);
    let info = Arc::new(info);
    while let Ok((stream, client)) = listener.accept().await {
        if tcp_nodelay {
            let _ = stream.set_nodelay(true);
        }
        let app = app.clone();
        let routes = routes.clone();
        let info = info.clone();
        tokio::spawn(async move {
            let logs = app.logs.clone();
            let service = hyper::service::service_fn(move |req| {
                handle(app.clone(), routes.clone(), info.clone(), client, req)
            });
            // A handler error fails the connection without a response, as in Spin.
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                log(&logs, format!("WARN Error serving HTTP connection: {e:?}"));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_chaining_hosts_as_spin_parses_them() {
        assert!(is_service_chaining_host("provider-openai.spin.internal"));
        assert!(is_service_chaining_host("x.spin.internal:80"));
        assert!(!is_service_chaining_host("a.b.spin.internal"));
        assert!(!is_service_chaining_host("spin.internal"));
        assert!(!is_service_chaining_host("x.SPIN.internal"));
        assert!(!is_service_chaining_host("127.0.0.1:3000"));
    }

    #[test]
    fn authority_from_host_or_uri_which_must_agree() {
        let parts = |uri: &str, host: Option<&str>| {
            let mut b = http::Request::builder().uri(uri);
            if let Some(h) = host {
                b = b.header("host", h);
            }
            b.body(()).unwrap().into_parts().0
        };
        assert_eq!(
            authority(&parts("/x", Some("a:1"))).unwrap().as_str(),
            "a:1"
        );
        assert_eq!(
            authority(&parts("http://b:2/x", None)).unwrap().as_str(),
            "b:2"
        );
        assert!(authority(&parts("/x", None))
            .unwrap_err()
            .to_string()
            .contains("no 'Host' header"));
        assert!(authority(&parts("http://b:2/x", Some("a:1"))).is_err());
        assert!(authority(&parts("/x", Some("bad host"))).is_err());
    }
}
