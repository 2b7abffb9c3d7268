//! Outgoing HTTP from guests: `allowed_outbound_hosts` enforcement (a denied request fails in
//! the guest with `HttpRequestDenied` and the host logs Spin's warning naming the destination),
//! local service chaining to `http://<component>.spin.internal`, self requests, and
//! wasmtime-wasi-http's default sender for everything else.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::header::HOST;
use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::allowed_hosts::CHAINING_SUFFIX;
use crate::app::{App, ComponentRuntime};
use crate::routes::RouteMatch;
use crate::server;

/// A future completing when the connection of an outgoing request is done.
type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
/// The result of sending one outgoing request.
type SendResult = Result<(http::Response<WasiBody>, IoFuture), Error>;

/// The outbound HTTP policy of one instance.
pub(crate) struct Outbound {
    app: Arc<App>,
    component: Arc<ComponentRuntime>,
}

impl Outbound {
    pub fn new(app: Arc<App>, component: Arc<ComponentRuntime>) -> Outbound {
        Outbound { app, component }
    }
}

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _guest_io: IoFuture,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let app = self.app.clone();
        let component = self.component.clone();
        Box::new(send(app, component, request, options))
    }
}

/// The component a `*.spin.internal` host names, if any.
fn chaining_target(host: &str) -> Option<&str> {
    let (first, rest) = host.split_once('.')?;
    (format!(".{rest}") == CHAINING_SUFFIX).then_some(first)
}

/// Logs Spin's warning about a disallowed destination.
fn report_denied(app: &App, component: &str, scheme: &str, authority: &str) {
    let pattern = format!("{scheme}://{authority}");
    if authority == "self" {
        app.logs.line(
            component,
            "Warning: A component tried to make an HTTP request to its own app but it does not have permission.",
        );
    } else {
        app.logs.line(
            component,
            &format!("Warning: A component tried to make an outbound network connection to disallowed destination '{pattern}'."),
        );
    }
    app.logs.line(
        component,
        &format!("To allow this request, add 'allowed_outbound_hosts = [\"{pattern}\"]' to the manifest component section."),
    );
}

async fn send(
    app: Arc<App>,
    component: Arc<ComponentRuntime>,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    let uri = request.uri().clone();
    let host = uri.host().unwrap_or_default().to_string();
    let scheme = uri.scheme_str().unwrap_or("https").to_string();

    if host.is_empty() || host == "self.alt" {
        // A relative URL ("self request"): served by this app's own listener.
        if !component.allowed.allows_relative() {
            report_denied(&app, &component.id, &scheme, "self");
            return Err(Error::HttpRequestDenied);
        }
        let addr = app.listen_addr().ok_or(Error::HttpRequestUriInvalid)?;
        let authority: Authority = addr
            .to_string()
            .parse()
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let pq = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *request.uri_mut() = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        let value = http::HeaderValue::from_str(authority.as_str())
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        request.headers_mut().insert(HOST, value);
        return default_send(request, options).await;
    }

    if !component.allowed.allows(&scheme, &host, uri.port_u16()) {
        let authority = match uri.port_u16() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        report_denied(&app, &component.id, &scheme, &authority);
        return Err(Error::HttpRequestDenied);
    }
    if let Some(target) = chaining_target(&host) {
        request.headers_mut().remove(HOST);
        let Some(target) = app.http_component(target) else {
            return Err(Error::InternalError(Some(format!(
                "unknown routing destination '{target}'"
            ))));
        };
        let route = RouteMatch::synthetic(&target.id, uri.path());
        let response = server::respond(&app, &target, route, request, server::CHAINED_CLIENT).await;
        return Ok((response, Box::new(async { Ok(()) })));
    }

    default_send(request, options).await
}

/// wasmtime-wasi-http's sender (honours the request's connect / first-byte / between-bytes
/// timeouts).
async fn default_send(
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
    let io: Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> = Box::pin(io);
    Ok((response.map(BodyExt::boxed_unsync), Box::new(io)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaining_targets() {
        assert_eq!(
            chaining_target("provider-openai.spin.internal"),
            Some("provider-openai")
        );
        assert_eq!(chaining_target("a.b.spin.internal"), None);
        assert_eq!(chaining_target("spin.internal"), None);
        assert_eq!(chaining_target("api.openai.com"), None);
    }
}
