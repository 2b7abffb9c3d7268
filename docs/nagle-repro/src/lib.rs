//! Shows two stalls of Spin's HTTP connections, which have no `TCP_NODELAY`:
//!
//! * `/inbound/split`: the response head is handed to Spin, then (1 ms later) the first body
//!   chunk. The chunk waits (Nagle) until the client ACKs the head, which a client with nothing
//!   to send delays by up to 40 ms. `/inbound/together` writes and finishes the body first.
//! * `/inbound/stream`: head and first event together, then nine more events 2 ms apart: after
//!   the first segment every small write waits for the client's ACK.
//! * `/outbound/late`: an outgoing POST is handed to Spin (`handle`) before its body is written
//!   (1 ms later, chunked): the head leaves alone and the body waits until the upstream ACKs it.
//!   `/outbound/early` sets `content-length` and writes and finishes the body before `handle`.

use spin_sdk::http::{
    Fields, IncomingRequest, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    OutgoingResponse, ResponseOutparam, Scheme,
};
use spin_sdk::http_component;
use spin_sdk::wit::wasi::http0_2_0::outgoing_handler;
use wasi::clocks::monotonic_clock;
use wasi::io::streams::{OutputStream, StreamError};

const EVENT: &[u8] = b"data: {\"choices\":[{\"delta\":{\"content\":\"token\"}}]}\n\n";

#[http_component]
fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let path = request.path_with_query().unwrap_or_default();
    match path.as_str() {
        "/inbound/split" => inbound(out, true),
        "/inbound/together" => inbound(out, false),
        "/inbound/stream" => stream(out),
        "/outbound/late" => outbound(out, true),
        "/outbound/early" => outbound(out, false),
        _ => respond(out, 404, b"try /inbound/split, /inbound/together, /inbound/stream, /outbound/late or /outbound/early\n"),
    }
}

fn pause_ms(ms: u64) {
    monotonic_clock::subscribe_duration(ms * 1_000_000).block();
}

fn response(status: u16, content_type: &str) -> (OutgoingResponse, OutgoingBody, OutputStream) {
    let headers =
        Fields::from_list(&[("content-type".to_string(), content_type.as_bytes().to_vec())])
            .expect("valid header");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("valid status");
    let body = response.body().expect("body");
    let stream = body.write().expect("body stream");
    (response, body, stream)
}

/// Body written and finished before the head is handed over.
fn respond(out: ResponseOutparam, status: u16, data: &[u8]) {
    let (response, body, stream) = response(status, "text/plain");
    stream.blocking_write_and_flush(data).expect("write");
    drop(stream);
    OutgoingBody::finish(body, None).expect("finish");
    out.set(response);
}

fn inbound(out: ResponseOutparam, split: bool) {
    if !split {
        return respond(out, 200, b"hello\n");
    }
    let (response, body, stream) = response(200, "text/plain");
    out.set(response);
    pause_ms(1);
    stream.blocking_write_and_flush(b"hello\n").expect("write");
    drop(stream);
    OutgoingBody::finish(body, None).expect("finish");
}

fn stream(out: ResponseOutparam) {
    let (response, body, stream) = response(200, "text/event-stream");
    stream.blocking_write_and_flush(EVENT).expect("write");
    out.set(response);
    for _ in 0..9 {
        pause_ms(2);
        if stream.blocking_write_and_flush(EVENT).is_err() {
            return;
        }
    }
    drop(stream);
    OutgoingBody::finish(body, None).expect("finish");
}

fn outbound(out: ResponseOutparam, late: bool) {
    let upstream = spin_sdk::variables::get("upstream").expect("variable upstream");
    let payload = br#"{"model":"m","messages":[{"role":"user","content":"Say hello"}]}"#;
    let mut headers = vec![("content-type".to_string(), b"application/json".to_vec())];
    if !late {
        headers.push((
            "content-length".to_string(),
            payload.len().to_string().into_bytes(),
        ));
    }
    let request = OutgoingRequest::new(Fields::from_list(&headers).expect("valid header"));
    request.set_method(&Method::Post).expect("method");
    request.set_scheme(Some(&Scheme::Http)).expect("scheme");
    request.set_authority(Some(&upstream)).expect("authority");
    request.set_path_with_query(Some("/echo")).expect("path");
    let body = request.body().expect("body");
    let stream = body.write().expect("body stream");
    let future = if late {
        let future = outgoing_handler::handle(request, None).expect("handle");
        pause_ms(1);
        stream.blocking_write_and_flush(payload).expect("write");
        drop(stream);
        OutgoingBody::finish(body, None).expect("finish");
        future
    } else {
        stream.write(payload).expect("write"); // fits the host's write budget (check-write)
        drop(stream);
        OutgoingBody::finish(body, None).expect("finish");
        outgoing_handler::handle(request, None).expect("handle")
    };
    let response: IncomingResponse = loop {
        match future.get() {
            Some(Ok(Ok(r))) => break r,
            Some(Ok(Err(e))) => return respond(out, 502, format!("{e:?}\n").as_bytes()),
            Some(Err(())) => return respond(out, 502, b"response taken\n"),
            None => future.subscribe().block(),
        }
    };
    let body = response.consume().expect("body");
    let stream = body.stream().expect("stream");
    let mut data = Vec::new();
    loop {
        match stream.blocking_read(65536) {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return respond(out, 502, format!("{e:?}").as_bytes()),
        }
    }
    respond(out, response.status(), &data);
}
