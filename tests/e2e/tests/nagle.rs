//! Writes that Spin's connections (no `TCP_NODELAY`) would stall on: see docs/nagle.md.

use std::io::{Read, Write};
use std::net::TcpStream;

use e2e::*;
use serde_json::json;

#[tokio::test]
async fn upstream_requests_carry_a_content_length_not_chunked_framing() {
    // With a length and the body finished before the request is handed over, the host sends
    // head and body in one write; a chunked body sent after the head waits for the upstream's ACK.
    let g = Gateway::start().await;
    for model in ["gpt-test", "llama-test", "claude-test", "gemini-test"] {
        g.mock.clear();
        let (status, _, answer) = g.post("/v1/chat/completions", &chat(model)).await;
        assert_eq!(status, 200, "{model}: {answer}");
        let seen = g.mock.requests();
        let r = seen.last().expect("the upstream got the request");
        assert_eq!(
            header(r, "content-length"),
            Some(r.body.len().to_string().as_str()),
            "{model}"
        );
        assert_eq!(header(r, "transfer-encoding"), None, "{model}");
    }
}

/// Sends `request` on a fresh connection and returns what the first read that completes the
/// response head returned.
fn first_read_with_head(addr: std::net::SocketAddr, request: Vec<u8>) -> String {
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.write_all(&request).expect("send");
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = conn.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed before the response head");
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(4).any(|w| w == b"\r\n\r\n") {
            return String::from_utf8_lossy(&seen).into_owned();
        }
    }
}

#[tokio::test]
async fn a_streamed_answer_sends_its_head_with_the_first_event() {
    // The head is handed to the host only with the first event, so both leave in one segment:
    // a head sent alone would make the first event wait for the client's delayed ACK. The
    // upstream of `slow-first` sends its head 100 ms before its first event.
    let g = Gateway::start_with(
        |base| {
            Some(format!(
                "{}  - model_name: slow-first\n    litellm_params:\n      model: openai/mock-slow-first-event\n",
                default_config(base)
            ))
        },
        Default::default(),
    )
    .await;
    for model in ["slow-first", "gpt-test", "claude-test", "gemini-test"] {
        let body = json!({"model": model, "stream": true,
            "messages": [{"role": "user", "content": "Say hello"}]})
        .to_string();
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer {CALLER_KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let addr = g.host.addr();
        let first =
            tokio::task::spawn_blocking(move || first_read_with_head(addr, request.into_bytes()))
                .await
                .expect("client task");
        assert!(first.starts_with("HTTP/1.1 200"), "{model}: {first}");
        let (_, after_head) = first.split_once("\r\n\r\n").expect("head");
        assert!(
            after_head.contains("data:"),
            "{model}: the first event should come in the same segment as the head: {first:?}"
        );
    }
}
