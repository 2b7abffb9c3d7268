//! The public HTTP listener: Spin's route matching (private routes never match), Spin's request
//! headers, and Spin's answers when nothing matches (404, empty) or a guest fails (500, text).

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
    listen: SocketAddr,
    client: SocketAddr,
    req: http::Request<Incoming>,
) -> http::Response<HyperOutgoingBody> {
    let path = req.uri().path().to_string();
    let best = routes
        .iter()
        .filter_map(|r| r.matches(&path).map(|m| (m, r)))
        .max_by_key(|((len, exact), _)| (*exact, *len));
    let Some((_, route)) = best else {
        return text(404, String::new());
    };
    let Some(component) = app.components.get(&route.component).cloned() else {
        return text(404, String::new());
    };
    let (mut parts, body) = req.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/".into());
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| listen.to_string());
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
    match app.serve(component, request).await {
        Ok(response) => response,
        Err(e) => {
            log(&app.logs, format!("[{}] ERROR {e:#}", route.component));
            text(500, format!("{e:#}"))
        }
    }
}

/// Accepts connections until the task is aborted.
pub async fn run(listener: TcpListener, app: Arc<App>, routes: Vec<Route>, tcp_nodelay: bool) {
    let listen = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let routes = Arc::new(routes);
    while let Ok((stream, client)) = listener.accept().await {
        if tcp_nodelay {
            let _ = stream.set_nodelay(true);
        }
        let app = app.clone();
        let routes = routes.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                let routes = routes.clone();
                async move { Ok::<_, Infallible>(handle(app, routes, listen, client, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
