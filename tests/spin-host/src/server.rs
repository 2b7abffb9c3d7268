//! The HTTP side: hyper 1 serving public routes, one fresh instance per request, response
//! bodies streamed to the client as the guest writes them, and Spin's answers for unmatched
//! paths (404, empty body) and failing guests (500, empty body; the error goes to the log).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http::header::{CONNECTION, HOST};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use wasmtime::Store;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

use crate::app::{App, ComponentRuntime};
use crate::instance::InstanceState;
use crate::routes::RouteMatch;

/// The client address Spin reports for service-chaining requests.
pub(crate) const CHAINED_CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// Accepts connections until `shutdown` flips; dropping a connection task closes it.
pub(crate) async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, client)) = accepted else {
            continue;
        };
        let app = app.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(app, req, client).await) }
            });
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// The `Host` header, or `localhost` like Spin when there is none.
fn host_or_localhost(headers: &HeaderMap) -> String {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string()
}

fn empty(status: StatusCode) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync());
    *response.status_mut() = status;
    response
}

/// Routes one request from outside.
async fn handle(
    app: Arc<App>,
    mut req: Request<Incoming>,
    client: SocketAddr,
) -> Response<HyperOutgoingBody> {
    let spoofed_chaining = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| {
            let host = h.rsplit_once(':').map_or(h, |(host, _)| host);
            host.ends_with(crate::allowed_hosts::CHAINING_SUFFIX)
        });
    if spoofed_chaining {
        req.headers_mut().remove(HOST);
    }
    req.headers_mut().remove(CONNECTION);

    let Some(route) = app.router.route(req.uri().path()) else {
        return empty(StatusCode::NOT_FOUND);
    };
    let Some(component) = app.http_component(&route.component) else {
        return empty(StatusCode::NOT_FOUND);
    };
    let authority = host_or_localhost(req.headers());
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    match Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(pq)
        .build()
    {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return empty(StatusCode::BAD_REQUEST),
    }
    respond(&app, &component, route, req, client).await
}

/// Serves a routed request (from outside or chained) with a fresh instance of `component`;
/// failures become Spin's 500 with an empty body, and the reason is logged.
pub(crate) async fn respond<B>(
    app: &Arc<App>,
    component: &Arc<ComponentRuntime>,
    route: RouteMatch,
    mut req: Request<B>,
    client: SocketAddr,
) -> Response<HyperOutgoingBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let host = host_or_localhost(req.headers());
    let scheme = req.uri().scheme_str().unwrap_or("http").to_string();
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let full_url = format!("{scheme}://{host}{pq}");
    for (name, value) in route.spin_headers(&full_url, client) {
        req.headers_mut().append(name, value);
    }
    match execute(app, component, req).await {
        Ok(response) => response,
        Err(e) => {
            app.logs
                .line(&component.id, &format!("Error processing request: {e:?}"));
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Instantiates the component and runs `wasi:http/incoming-handler.handle`; returns as soon
/// as the guest sets the response, while the guest keeps streaming the body.
async fn execute<B>(
    app: &Arc<App>,
    component: &Arc<ComponentRuntime>,
    req: Request<B>,
) -> Result<Response<HyperOutgoingBody>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let mut store = Store::new(app.engine, InstanceState::new(app, component));
    let proxy = component.pre.instantiate_async(&mut store).await?;
    let (tx, rx) = oneshot::channel();
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let outparam = store.data_mut().http().new_response_outparam(tx)?;
    let task = tokio::spawn(async move {
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, outparam)
            .await
    });
    match rx.await {
        Ok(Ok(response)) => {
            let app = app.clone();
            let id = component.id.clone();
            tokio::spawn(async move {
                let failure = match task.await {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => format!("{e:?}"),
                    Err(e) => format!("{e:?}"),
                };
                app.logs.line(
                    &id,
                    &format!("Component error after response started: {failure}"),
                );
            });
            Ok(response)
        }
        Ok(Err(code)) => Err(anyhow!("guest failed to produce a response: {code:?}")),
        Err(_) => {
            task.await
                .context("guest invocation panicked")?
                .map_err(anyhow::Error::from)
                .context("guest invocation failed")?;
            Err(anyhow!(
                "guest failed to produce a response prior to returning"
            ))
        }
    }
}
