//! Answers: whole JSON bodies, OpenAI/Anthropic error JSON, and streamed bodies.

use gateway_core::ApiError;
use serde_json::Value;
use spin_sdk::http::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasi::io::streams::OutputStream;

use crate::outbound::write_at_once;

/// Largest write WASI allows in one `blocking-write-and-flush`.
const MAX_WRITE: usize = 4096;

/// A response body being written; finishing (or dropping) it ends the response.
///
/// The status and headers are handed to the host only together with the first chunk of the body
/// (or with its end, if nothing is written): Spin does not set `TCP_NODELAY` on the connections it
/// accepts, so a response head sent on its own makes the first chunk wait (Nagle) for the
/// client's delayed ACK of the head, up to 40 ms added to the time to first token.
pub struct BodyWriter {
    /// The response not handed over yet, with where it goes.
    pending: Option<(ResponseOutparam, OutgoingResponse)>,
    stream: Option<OutputStream>,
    body: Option<OutgoingBody>,
}

/// A response with its status and headers, and its body with the body's stream.
fn response(
    status: u16,
    headers: &[(String, String)],
) -> (OutgoingResponse, Option<OutgoingBody>, Option<OutputStream>) {
    let list: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    let fields = Fields::from_list(&list).unwrap_or_else(|_| Fields::new());
    let response = OutgoingResponse::new(fields);
    // Only statuses outside 100..=999 are refused, and callers never produce one.
    let _ = response.set_status_code(status);
    let body = response.body().ok();
    let stream = body.as_ref().and_then(|b| b.write().ok());
    (response, body, stream)
}

impl BodyWriter {
    /// Prepares the status and headers and returns a writer for the body. They are sent with
    /// the first non-empty chunk written, or when the body ends.
    pub fn start(out: ResponseOutparam, status: u16, headers: &[(String, String)]) -> BodyWriter {
        let (response, body, stream) = response(status, headers);
        BodyWriter {
            pending: Some((out, response)),
            stream,
            body,
        }
    }

    /// Hands the response over to the host, if not done yet.
    fn hand_over(&mut self) {
        if let Some((out, response)) = self.pending.take() {
            out.set(response);
        }
    }

    /// Writes and flushes a chunk. Returns false once the client has gone away.
    pub fn write(&mut self, mut data: &[u8]) -> bool {
        if data.is_empty() {
            return self.stream.is_some();
        }
        if self.pending.is_some() {
            // The first chunk goes into the body before the head is handed over, so the host
            // sends both in one write.
            let at_once = self.write_at_once(data);
            self.hand_over();
            if at_once {
                return true;
            }
        }
        let Some(stream) = &self.stream else {
            return false;
        };
        while !data.is_empty() {
            let n = data.len().min(MAX_WRITE);
            if stream.blocking_write_and_flush(&data[..n]).is_err() {
                self.stream = None;
                return false;
            }
            data = &data[n..];
        }
        true
    }

    /// Writes all of `data` in one non-blocking write if the stream can take that much now;
    /// false (nothing written) otherwise.
    fn write_at_once(&mut self, data: &[u8]) -> bool {
        self.stream
            .as_ref()
            .is_some_and(|stream| write_at_once(stream, data))
    }

    /// The response, when nothing has been handed over yet, to answer with something else (an
    /// error) instead; the prepared head and body are dropped.
    pub fn take_unsent(&mut self) -> Option<ResponseOutparam> {
        let (out, response) = self.pending.take()?;
        drop(self.stream.take());
        drop(self.body.take());
        drop(response);
        Some(out)
    }

    /// Ends the body (and sends the response head with it if no chunk was written).
    pub fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        drop(self.stream.take());
        if let Some(body) = self.body.take() {
            let _ = OutgoingBody::finish(body, None);
        }
        self.hand_over();
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// Sends a whole answer. When the host can take the body in one write without blocking, the
/// body is written and finished before the response is handed over, so the server can send
/// headers and body together: Spin does not set `TCP_NODELAY` on its connections, and a second
/// small write would wait for the client's delayed ACK (up to 40 ms).
pub fn respond_whole(
    out: ResponseOutparam,
    status: u16,
    headers: &[(String, String)],
    data: &[u8],
) {
    let mut w = BodyWriter::start(out, status, headers);
    if w.write_at_once(data) {
        // Body and end go with the head.
        w.finish();
        return;
    }
    w.write(data);
    w.finish();
}

/// Sends a whole JSON answer.
pub fn respond_json(out: ResponseOutparam, status: u16, body: &Value, extra: &[(String, String)]) {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend_from_slice(extra);
    respond_whole(out, status, &headers, body.to_string().as_bytes());
}

/// Sends an error as OpenAI error JSON, or Anthropic's when `anthropic` is set.
pub fn respond_error(out: ResponseOutparam, error: &ApiError, anthropic: bool) {
    let body = if anthropic {
        error.to_anthropic_json()
    } else {
        error.to_openai_json()
    };
    respond_json(out, error.status, &body, &error.headers);
}
