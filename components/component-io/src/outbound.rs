//! Outbound HTTP with timeouts, mapped to [`Transport`] failures.

use gateway_core::upstream::Transport;
use spin_sdk::http::{Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme};
use spin_sdk::wit::wasi::http0_2_0::outgoing_handler;
use spin_sdk::wit::wasi::http0_2_0::types::{ErrorCode, RequestOptions};
use wasi::io::streams::{OutputStream, StreamError};

use crate::inbound::READ_CHUNK;

/// An outbound request.
pub struct UpstreamRequest<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// Absolute `http(s)://host[:port]/path?query` URL.
    pub url: &'a str,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body (empty for none).
    pub body: &'a [u8],
    /// Connect and first-byte timeout, and the longest pause between body chunks, in ms.
    pub timeout_ms: u64,
}

/// The host part of a URL, for messages.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// Sends a request and waits for the response head.
pub fn send(req: &UpstreamRequest) -> Result<IncomingResponse, Transport> {
    let (scheme, rest) = req
        .url
        .split_once("://")
        .ok_or_else(|| Transport::Other(format!("invalid URL {}", req.url)))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(Transport::Other(format!("unsupported scheme {other}"))),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let mut list: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    // A known length lets the host send the body without chunked framing, so head and body can
    // leave in one write (see below).
    if !req.body.is_empty()
        && !req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        list.push((
            "content-length".to_string(),
            req.body.len().to_string().into_bytes(),
        ));
    }
    let fields =
        Fields::from_list(&list).map_err(|_| Transport::Other("invalid request header".into()))?;
    let outgoing = OutgoingRequest::new(fields);
    let method = match req.method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        other => Method::Other(other.to_string()),
    };
    let invalid = |what: &str| Transport::Other(format!("invalid {what}"));
    outgoing
        .set_method(&method)
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| invalid("host"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("path"))?;
    let body = outgoing.body().map_err(|()| invalid("body"))?;
    let options = RequestOptions::new();
    let nanos = req.timeout_ms.saturating_mul(1_000_000);
    // A host that does not support a timeout kind refuses it; the others still apply.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));

    // The body is written and finished before the request is handed to the host whenever the
    // host can take it in one non-blocking write: the host then has head and body at once and
    // sends them in one TCP segment. Spin's outbound connections have no TCP_NODELAY, so a body
    // sent after the head waits (Nagle) for the server to ACK the head, and a server that
    // delays that ACK stalls the request by up to 40 ms; a server that answers before reading
    // the body (nginx `return`) leaves the late body unacknowledged and stalls the next request
    // on the pooled connection instead. Larger bodies are streamed after `handle`, as the host
    // only drains the body once it sends the request.
    let mut rest = req.body;
    let stream = if rest.is_empty() {
        None
    } else {
        let stream = body.write().map_err(|()| invalid("body"))?;
        if write_at_once(&stream, rest) {
            rest = &[];
        }
        Some(stream)
    };
    let future = if rest.is_empty() {
        drop(stream);
        OutgoingBody::finish(body, None).map_err(classify)?;
        outgoing_handler::handle(outgoing, Some(options)).map_err(classify)?
    } else {
        let future = outgoing_handler::handle(outgoing, Some(options)).map_err(classify)?;
        if let Some(stream) = stream {
            for chunk in rest.chunks(4096) {
                if stream.blocking_write_and_flush(chunk).is_err() {
                    break; // the response below carries the reason
                }
            }
        }
        OutgoingBody::finish(body, None).map_err(classify)?;
        future
    };
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(classify(code)),
            Some(Err(())) => return Err(Transport::Other("response already taken".into())),
            None => future.subscribe().block(),
        }
    }
}

/// Writes all of `data` in one non-blocking write if the stream can take that much now; false
/// (nothing written) otherwise.
pub(crate) fn write_at_once(stream: &OutputStream, data: &[u8]) -> bool {
    let room = stream.check_write().unwrap_or(0);
    if room < data.len() as u64 || stream.write(data).is_err() {
        return false;
    }
    // Starts the flush; nothing waits on it (the body is finished right after).
    let _ = stream.flush();
    true
}

/// Reads a whole response body (error bodies, non-streamed answers), up to `limit` bytes.
pub fn read_all(response: &IncomingResponse, limit: usize) -> Result<Vec<u8>, Transport> {
    let mut out = Vec::new();
    for_each_chunk(response, |chunk| {
        out.extend_from_slice(chunk);
        out.len() <= limit
    })?;
    if out.len() > limit {
        return Err(Transport::Other(format!(
            "response larger than {limit} bytes"
        )));
    }
    Ok(out)
}

/// Copies a response body chunk by chunk as it arrives, calling `each` on every chunk read.
/// Returns `Err` if the upstream failed mid-body; `each` returning false stops early.
pub fn for_each_chunk(
    response: &IncomingResponse,
    each: impl FnMut(&[u8]) -> bool,
) -> Result<(), Transport> {
    for_each_chunk_within(response, None, each)
}

/// [`for_each_chunk`], failing with [`Transport::Timeout`] when no body byte arrives within
/// `first_chunk_ms` (a stream's `stream_timeout`: a response head can come long before the first
/// event, and the host's first-byte timeout only covers the head).
pub fn for_each_chunk_within(
    response: &IncomingResponse,
    first_chunk_ms: Option<u64>,
    mut each: impl FnMut(&[u8]) -> bool,
) -> Result<(), Transport> {
    let body = response
        .consume()
        .map_err(|()| Transport::Other("response body already taken".into()))?;
    let stream = body
        .stream()
        .map_err(|()| Transport::Other("response body unreadable".into()))?;
    if let Some(ms) = first_chunk_ms {
        let readable = stream.subscribe();
        let timer = wasi::clocks::monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000));
        if !wasi::io::poll::poll(&[&readable, &timer]).contains(&0) {
            return Err(Transport::Timeout);
        }
    }
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => {
                if !chunk.is_empty() && !each(&chunk) {
                    return Ok(());
                }
            }
            Err(StreamError::Closed) => return Ok(()),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(
                    match spin_sdk::wit::wasi::http0_2_0::types::http_error_code(&e) {
                        Some(code) => classify(code),
                        None => Transport::Other(e.to_debug_string()),
                    },
                )
            }
        }
    }
}

/// A response header's first value.
pub fn response_header(response: &IncomingResponse, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .into_iter()
        .next()
        .and_then(|v| String::from_utf8(v).ok())
}

fn classify(code: ErrorCode) -> Transport {
    match code {
        ErrorCode::HttpRequestDenied => Transport::Denied,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => Transport::Timeout,
        ErrorCode::DnsTimeout => Transport::Timeout,
        ErrorCode::ConnectionRefused => Transport::Unreachable("connection refused".into()),
        ErrorCode::ConnectionTerminated => Transport::Unreachable("connection closed".into()),
        ErrorCode::DnsError(_) => Transport::Unreachable("DNS lookup failed".into()),
        ErrorCode::DestinationNotFound => Transport::Unreachable("destination not found".into()),
        ErrorCode::DestinationUnavailable => {
            Transport::Unreachable("destination unavailable".into())
        }
        ErrorCode::DestinationIpUnroutable | ErrorCode::DestinationIpProhibited => {
            Transport::Unreachable("destination IP unroutable".into())
        }
        ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => Transport::Unreachable("TLS failure".into()),
        other => Transport::Other(format!("{other:?}")),
    }
}
