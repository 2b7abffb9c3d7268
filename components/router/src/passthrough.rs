//! Relaying an OpenAI-format upstream's answer as it is (legacy completions, the Responses API),
//! reading its usage on the way.

use std::time::Instant;

use component_io::outbound::{for_each_chunk, read_all, response_header};
use component_io::{respond_error, respond_whole, BodyWriter};
use gateway_core::config::{Config, Deployment};
use gateway_core::relay::StreamRelay;
use gateway_core::upstream::transport_error;
use gateway_core::usage::Usage;
use gateway_core::{sse, ApiError};
use serde_json::{json, Value};
use spin_sdk::http::{IncomingResponse, ResponseOutparam};

use crate::ledger::Ledger;
use crate::route;

/// Largest non-streamed answer relayed.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// Reads a stream's usage while passing its bytes on.
pub trait Tap {
    /// Upstream bytes in; bytes for the client out.
    fn push(&mut self, chunk: &[u8]) -> Vec<u8>;
    /// The last bytes.
    fn finish(&mut self) -> Vec<u8>;
    /// Usage seen.
    fn usage(&self) -> Option<Usage>;
    /// An error event for a failure mid-stream.
    fn error_event(&self, e: &ApiError) -> Vec<u8>;
}

impl Tap for StreamRelay {
    fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        StreamRelay::push(self, chunk)
    }
    fn finish(&mut self) -> Vec<u8> {
        StreamRelay::finish(self)
    }
    fn usage(&self) -> Option<Usage> {
        StreamRelay::usage(self)
    }
    fn error_event(&self, e: &ApiError) -> Vec<u8> {
        sse::data(&json!({ "error": e.to_openai_json()["error"] }).to_string())
    }
}

/// Relays a non-streamed answer unchanged; `usage_of` reads its usage and `before` sees the
/// answer before the client does.
pub fn whole(
    response: IncomingResponse,
    d: &Deployment,
    ledger: &mut Ledger,
    config: &Config,
    out: ResponseOutparam,
    usage_of: fn(&Value) -> Option<Usage>,
    before: &mut dyn FnMut(&Value),
) {
    ledger.mark_first_byte();
    let reading = Instant::now();
    let body = read_all(&response, MAX_ANSWER);
    ledger.waited(reading);
    match body {
        Ok(body) => {
            let value = serde_json::from_slice::<Value>(&body).ok();
            let usage = value.as_ref().and_then(usage_of);
            if let Some(v) = &value {
                before(v);
            }
            let cost = usage.map(|u| Ledger::cost(d, &u)).unwrap_or(0.0);
            ledger.keep_answer(&body);
            respond_whole(
                out,
                200,
                &ledger.headers("application/json", Some(cost)),
                &body,
            );
            route::finished(
                config,
                d,
                usage.map_or(0, |u| u.total()),
                ledger.elapsed_ms(),
            );
            ledger.record(Some(d), usage, 200);
        }
        Err(t) => {
            let e = transport_error(d.provider.name(), d.provider.component(), &t);
            ledger.record(Some(d), None, e.status);
            respond_error(out, &e, false)
        }
    }
}

/// Relays a streamed answer chunk by chunk through `tap`.
pub fn stream(
    response: IncomingResponse,
    d: &Deployment,
    tap: &mut dyn Tap,
    ledger: &mut Ledger,
    config: &Config,
    out: ResponseOutparam,
) {
    let content_type = response_header(&response, "content-type")
        .unwrap_or_else(|| "text/event-stream".to_string());
    let mut headers = ledger.headers(&content_type, None);
    headers.push(("cache-control".to_string(), "no-cache".to_string()));
    let mut w = BodyWriter::start(out, 200, &headers);
    let result = for_each_chunk(&response, |chunk| {
        let bytes = tap.push(chunk);
        if bytes.is_empty() {
            return true;
        }
        ledger.mark_first_byte();
        ledger.keep_answer(&bytes);
        w.write(&bytes)
    });
    if let Err(t) = result {
        let e = transport_error(d.provider.name(), d.provider.component(), &t);
        let event = tap.error_event(&e);
        ledger.keep_answer(&event);
        w.write(&event);
    }
    let tail = tap.finish();
    ledger.keep_answer(&tail);
    w.write(&tail);
    w.finish();
    let usage = tap.usage();
    route::finished(
        config,
        d,
        usage.map_or(0, |u| u.total()),
        ledger.elapsed_ms(),
    );
    ledger.record(Some(d), usage, 200);
}
