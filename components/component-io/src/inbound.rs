//! The incoming request: method, path, headers and a size-bounded body.

use gateway_core::{ApiError, ErrorType};
use spin_sdk::http::{IncomingRequest, Method};
use wasi::io::streams::StreamError;

/// Read size for body streams.
pub const READ_CHUNK: u64 = 64 * 1024;

/// An incoming request with its head parsed.
pub struct Inbound {
    request: IncomingRequest,
    /// Upper-case method name.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string without `?` (may be empty).
    pub query: String,
}

impl Inbound {
    /// Parses the request head.
    pub fn new(request: IncomingRequest) -> Self {
        let method = match request.method() {
            Method::Get => "GET".to_string(),
            Method::Post => "POST".to_string(),
            Method::Put => "PUT".to_string(),
            Method::Delete => "DELETE".to_string(),
            Method::Patch => "PATCH".to_string(),
            Method::Head => "HEAD".to_string(),
            Method::Options => "OPTIONS".to_string(),
            Method::Connect => "CONNECT".to_string(),
            Method::Trace => "TRACE".to_string(),
            Method::Other(o) => o.to_ascii_uppercase(),
        };
        let full = request.path_with_query().unwrap_or_else(|| "/".into());
        let (path, query) = match full.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (full, String::new()),
        };
        Inbound {
            request,
            method,
            path,
            query,
        }
    }

    /// The first value of a header, if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<String> {
        self.request
            .headers()
            .get(name)
            .into_iter()
            .next()
            .and_then(|v| String::from_utf8(v).ok())
    }

    /// Reads the whole body, refusing more than `limit` bytes with 413.
    pub fn body(&self, limit: usize) -> Result<Vec<u8>, ApiError> {
        let too_large = || {
            ApiError::new(
                413,
                ErrorType::InvalidRequest,
                format!("Request body is larger than the gateway's limit of {limit} bytes"),
            )
            .with_code("request_too_large")
        };
        if let Some(len) = self
            .header("content-length")
            .and_then(|l| l.trim().parse::<u64>().ok())
        {
            if len > limit as u64 {
                return Err(too_large());
            }
        }
        let unreadable = || ApiError::bad_request("Could not read the request body");
        let body = self.request.consume().map_err(|()| unreadable())?;
        let stream = body.stream().map_err(|()| unreadable())?;
        let mut out = Vec::new();
        loop {
            match stream.blocking_read(READ_CHUNK) {
                Ok(chunk) => {
                    out.extend_from_slice(&chunk);
                    if out.len() > limit {
                        return Err(too_large());
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(_)) => return Err(unreadable()),
            }
        }
        Ok(out)
    }
}
