//! Streaming an upstream answer through a [`Translator`] to the client, chunk by chunk.

use gateway_core::sse::Translator;
use gateway_core::upstream::Transport;
use gateway_core::ApiError;
use spin_sdk::http::{IncomingResponse, ResponseOutparam};

use crate::outbound::for_each_chunk_within;
use crate::{respond_error, BodyWriter};

/// Writes the translated stream as it is produced. An upstream error that arrives before any
/// output becomes an HTTP error answer (Anthropic-shaped when `anthropic`); a transport failure
/// later ends the stream with the translator's error event. No first chunk within
/// `first_chunk_ms` is an HTTP error answer (504). Returns the status sent.
pub fn stream(
    response: &IncomingResponse,
    out: ResponseOutparam,
    translator: &mut dyn Translator,
    headers: &[(String, String)],
    anthropic: bool,
    first_chunk_ms: Option<u64>,
    on_transport: &dyn Fn(&Transport) -> ApiError,
) -> u16 {
    let mut out = Some(out);
    let mut writer: Option<BodyWriter> = None;
    let mut early: Option<ApiError> = None;
    let opened = std::cell::Cell::new(false);
    let mut emit = |bytes: Vec<u8>, early: &mut Option<ApiError>, t: &mut dyn Translator| {
        if writer.is_none() {
            if let Some(e) = t.early_error() {
                *early = Some(e);
                return false;
            }
            if bytes.is_empty() {
                return true;
            }
            match out.take() {
                Some(o) => {
                    writer = Some(BodyWriter::start(o, 200, headers));
                    opened.set(true);
                }
                None => return false,
            }
        }
        writer.as_mut().is_some_and(|w| w.write(&bytes))
    };
    let result = for_each_chunk_within(response, first_chunk_ms, |chunk| {
        let bytes = translator.push(chunk);
        emit(bytes, &mut early, translator)
    });
    if matches!(result, Err(Transport::Timeout)) && !opened.get() && early.is_none() {
        early = Some(on_transport(&Transport::Timeout));
    }
    if early.is_none() {
        let tail = match result {
            Err(t) => translator.fail(&on_transport(&t)),
            Ok(()) => translator.finish(),
        };
        emit(tail, &mut early, translator);
    }
    if let Some(w) = writer {
        w.finish();
        return 200;
    }
    let e = early.unwrap_or_else(|| {
        ApiError::new(
            502,
            gateway_core::ErrorType::Upstream,
            "the upstream stream was empty",
        )
        .with_code("upstream_error")
    });
    if let Some(o) = out {
        respond_error(o, &e, anthropic);
    }
    e.status
}
