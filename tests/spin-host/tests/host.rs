//! Integration tests: the fixture component (`tests/fixture`, built here with cargo for
//! wasm32-wasip2) on the host, against a small upstream server.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use spin_host::{start, HostConfig, RunningHost};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use wasmtime_wasi_http::io::TokioIo;

/// Builds the fixture three ways (once per test process) and returns its `spin.toml`.
fn fixture() -> &'static Path {
    static MANIFEST: OnceLock<PathBuf> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture");
        let target_root = std::env::current_exe()
            .ok()
            .and_then(|exe| {
                exe.ancestors()
                    .find(|d| d.join("CACHEDIR.TAG").exists())
                    .map(Path::to_path_buf)
            })
            .unwrap_or_else(std::env::temp_dir);
        let out = target_root.join("spin-host-fixture");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let builds = [
            (None, "app.wasm"),
            (Some("parent"), "parent.wasm"),
            (Some("dep"), "dep.wasm"),
        ];
        for (feature, name) in builds {
            let mut cmd = Command::new(&cargo);
            cmd.args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(src.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", out.join("target"));
            for var in [
                "CARGO_BUILD_TARGET",
                "RUSTFLAGS",
                "CARGO_ENCODED_RUSTFLAGS",
                "CARGO_MAKEFLAGS",
            ] {
                cmd.env_remove(var);
            }
            if let Some(f) = feature {
                cmd.args(["--features", f]);
            }
            let status = cmd.status().expect("cargo runs");
            assert!(status.success(), "building the fixture ({name}) failed");
            std::fs::copy(
                out.join("target/wasm32-wasip2/release/spin_host_fixture.wasm"),
                out.join(name),
            )
            .expect("copy wasm");
        }
        std::fs::copy(src.join("spin.toml"), out.join("spin.toml")).expect("copy manifest");
        out.join("spin.toml")
    })
}

/// An upstream on loopback: `/gate` waits for [`Upstream::release`], anything else answers.
struct Upstream {
    addr: SocketAddr,
    gate: Arc<Semaphore>,
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let gate = Arc::new(Semaphore::new(0));
        let g = gate.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let g = g.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let g = g.clone();
                        async move {
                            let body = match req.uri().path() {
                                "/gate" => {
                                    g.acquire().await.unwrap().forget();
                                    "go"
                                }
                                _ => "upstream says hi",
                            };
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream { addr, gate }
    }

    fn release(&self) {
        self.gate.add_permits(1);
    }
}

/// The environment for the fixture app; `vars` are `(name, value)` Spin variables.
fn env(upstream: &Upstream, vars: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = HashMap::from([
        (
            "SPIN_VARIABLE_API_KEY".to_string(),
            "sk-fixture".to_string(),
        ),
        (
            "SPIN_VARIABLE_UPSTREAM".to_string(),
            upstream.addr.to_string(),
        ),
    ]);
    for (k, v) in vars {
        env.insert(format!("SPIN_VARIABLE_{}", k.to_uppercase()), v.to_string());
    }
    env
}

/// Starts the fixture app.
async fn host(upstream: &Upstream, vars: &[(&str, &str)]) -> RunningHost {
    start(HostConfig {
        manifest: fixture().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        env: env(upstream, vars),
    })
    .await
    .expect("host starts")
}

/// Sends a GET with optional extra headers and returns the response (body not yet read).
async fn send(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::get(path).header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    sender
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap()
}

async fn get(addr: SocketAddr, path: &str) -> (StatusCode, String) {
    get_with(addr, path, &[]).await
}

async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let response = send(addr, path, headers).await;
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn routes_set_spin_headers_and_unmatched_paths_get_an_empty_404() {
    let up = Upstream::start().await;
    let h = host(&up, &[]).await;
    let (status, body) = get(h.addr(), "/front/headers/x?q=1").await;
    assert_eq!(status, 200);
    let port = h.addr().port();
    for line in [
        format!("spin-full-url: http://127.0.0.1:{port}/front/headers/x?q=1"),
        "spin-path-info: /headers/x".into(),
        "spin-matched-route: /front/...".into(),
        "spin-raw-component-route: /front/...".into(),
        "spin-component-route: /front".into(),
        "spin-base-path: /".into(),
        "spin-client-addr: 127.0.0.1:".into(),
    ] {
        assert!(body.contains(&line), "missing {line:?} in\n{body}");
    }
    assert_eq!(
        get(h.addr(), "/").await,
        (StatusCode::NOT_FOUND, String::new())
    );
    assert_eq!(get(h.addr(), "/frontx").await.0, StatusCode::NOT_FOUND);
    // The exact route beats the wildcard: served by `exact` (empty path info).
    assert_eq!(
        get(h.addr(), "/front/exact").await,
        (StatusCode::NOT_FOUND, "fixture: no endpoint ".into())
    );
}

#[tokio::test]
async fn private_routes_are_reachable_only_by_service_chaining() {
    let up = Upstream::start().await;
    let h = host(&up, &[]).await;
    assert_eq!(
        get(h.addr(), "/headers").await,
        (StatusCode::NOT_FOUND, String::new())
    );
    let spoofed = get_with(h.addr(), "/headers", &[("host", "back.spin.internal")]).await;
    assert_eq!(spoofed, (StatusCode::NOT_FOUND, String::new()));

    let (status, body) = get(h.addr(), "/front/chain?path=/headers").await;
    assert_eq!(status, 200);
    for line in [
        "spin-client-addr: 0.0.0.0:0",
        "spin-full-url: http://localhost/headers",
        "spin-path-info: /headers",
        "spin-matched-route: /...",
        "spin-component-route: \n",
    ] {
        assert!(body.contains(line), "missing {line:?} in\n{body}");
    }
    // `front` may not chain to `composed`.
    let (_, body) = get(
        h.addr(),
        "/front/fetch?url=http://composed.spin.internal/dep",
    )
    .await;
    assert!(body.contains("HttpRequestDenied"), "{body}");
}

#[tokio::test]
async fn variables_come_from_env_then_defaults_and_components_see_only_their_own() {
    let up = Upstream::start().await;
    let h = host(&up, &[("greeting", "bonjour")]).await;
    assert_eq!(
        get(h.addr(), "/front/var?name=msg").await.1,
        "ok:inner says bonjour"
    );
    assert_eq!(
        get(h.addr(), "/front/var?name=key").await.1,
        "ok:sk-fixture"
    );
    let (_, unmapped) = get(h.addr(), "/front/var?name=greeting").await;
    assert!(unmapped.starts_with("err:Error::Undefined("), "{unmapped}");
    let (_, invalid) = get(h.addr(), "/front/var?name=Bad").await;
    assert!(invalid.starts_with("err:Error::InvalidName("), "{invalid}");

    let h = host(&up, &[]).await;
    assert_eq!(
        get(h.addr(), "/front/var?name=msg").await.1,
        "ok:inner says hello"
    );

    let missing = start(HostConfig {
        manifest: fixture().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        env: HashMap::new(),
    })
    .await;
    let err = format!(
        "{:#}",
        missing.err().expect("a required variable is missing")
    );
    assert!(err.contains("api_key"), "{err}");
}

#[tokio::test]
async fn key_value_increment_is_atomic_and_stores_are_access_checked() {
    let up = Upstream::start().await;
    let h = host(&up, &[]).await;
    let addr = h.addr();
    let tasks: Vec<_> = (0..50)
        .map(|_| tokio::spawn(async move { get(addr, "/front/incr?key=n").await.1 }))
        .collect();
    let mut values = Vec::new();
    for t in tasks {
        values.push(t.await.unwrap().parse::<i64>().expect("a counter value"));
    }
    values.sort();
    assert_eq!(values, (1..=50).collect::<Vec<_>>());

    assert_eq!(
        get(addr, "/front/kv?label=default").await.1,
        "spin=Ok(true) wasi=Ok(Some(1))"
    );
    assert_eq!(
        get(addr, "/front/kv?label=other").await.1,
        "spin=err:Error::AccessDenied wasi=err:Error::AccessDenied"
    );
    assert_eq!(get(addr, "/front/cas?key=c").await.1, "seen=None swapped");
    assert_eq!(
        get(addr, "/front/cas?key=c").await.1,
        "seen=Some(4) failed (now Some(22)), retry ok=true"
    );
    // Another host starts with empty stores.
    let other = host(&up, &[]).await;
    assert_eq!(get(other.addr(), "/front/incr?key=n").await.1, "1");
}

#[tokio::test]
async fn outbound_requests_follow_allowed_outbound_hosts() {
    let up = Upstream::start().await;
    let h = host(&up, &[]).await;
    let url = format!("/front/fetch?url=http://{}/hello", up.addr);
    assert_eq!(get(h.addr(), &url).await.1, "200 upstream says hi");

    let (_, denied) = get(h.addr(), "/front/fetch?url=http://127.0.0.1:9/").await;
    assert!(denied.contains("HttpRequestDenied"), "{denied}");
    let logs = h.logs().join("\n");
    assert!(
        logs.contains("[front] Warning: A component tried to make an outbound network connection to disallowed destination 'http://127.0.0.1:9'."),
        "{logs}"
    );
}

/// Reads the next body frame's data within a deadline.
async fn next_chunk(body: &mut Incoming) -> String {
    let frame = tokio::time::timeout(Duration::from_secs(20), body.frame())
        .await
        .expect("a chunk arrives before the gate opens")
        .expect("a frame")
        .expect("no body error");
    String::from_utf8_lossy(&frame.into_data().unwrap_or_default()).into_owned()
}

#[tokio::test]
async fn responses_stream_directly_and_through_service_chaining() {
    let up = Upstream::start().await;
    let h = host(&up, &[]).await;
    for path in ["/front/stream", "/front/chain-stream"] {
        let response = send(h.addr(), &format!("{path}?upstream={}", up.addr), &[]).await;
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        assert_eq!(next_chunk(&mut body).await, "data: first\n\n", "{path}");
        up.release();
        let rest = body.collect().await.unwrap().to_bytes();
        assert_eq!(String::from_utf8_lossy(&rest), "data: 200 go\n\n", "{path}");
    }
}

#[tokio::test]
async fn failing_guests_get_spins_500_and_output_is_logged() {
    let up = Upstream::start().await;
    let h = host(&up, &[]).await;
    let server_error = (StatusCode::INTERNAL_SERVER_ERROR, String::new());
    assert_eq!(get(h.addr(), "/front/trap").await, server_error);
    assert_eq!(get(h.addr(), "/front/errcode").await, server_error);
    assert_eq!(get(h.addr(), "/front/print").await.1, "printed");
    let logs = h.logs();
    for line in ["[front] hello from /front", "[front] partial line"] {
        assert!(
            logs.iter().any(|l| l == line),
            "missing {line:?} in {logs:#?}"
        );
    }
    assert!(
        logs.iter()
            .any(|l| l.starts_with("[front] Error processing request")),
        "{logs:#?}"
    );
}

#[tokio::test]
async fn dependencies_are_composed_and_inherit_the_parents_configuration() {
    let up = Upstream::start().await;
    let h = host(&up, &[("greeting", "bonjour")]).await;
    assert_eq!(
        get(h.addr(), "/composed/dep?name=x").await.1,
        "bonjour, x #1"
    );
    assert_eq!(
        get(h.addr(), "/composed/dep?name=y").await.1,
        "bonjour, y #2"
    );
}

#[tokio::test]
async fn two_dependencies_from_one_package_are_refused_like_spin() {
    let up = Upstream::start().await;
    let manifest = fixture().with_file_name("two-deps.toml");
    let text = std::fs::read_to_string(fixture()).unwrap().replace(
        "\"fixture:dep@0.1.0\" = { component = \"greeter\" }",
        "\"fixture:dep/greet@0.1.0\" = { component = \"greeter\" }\n\"fixture:dep@0.1.0\" = { component = \"greeter\" }",
    );
    std::fs::write(&manifest, text).unwrap();
    let result = start(HostConfig {
        manifest,
        listen: "127.0.0.1:0".parse().unwrap(),
        env: env(&up, &[]),
    })
    .await;
    let err = format!("{:#}", result.err().expect("Spin's composer refuses this"));
    assert!(
        err.contains("package `fixture:dep` has already been registered"),
        "{err}"
    );
}

#[tokio::test]
async fn a_new_host_starts_quickly_once_components_are_compiled() {
    let up = Upstream::start().await;
    fixture();
    let first = Instant::now();
    drop(host(&up, &[]).await);
    let first = first.elapsed();
    let second = Instant::now();
    let h = host(&up, &[]).await;
    let second = second.elapsed();
    eprintln!("host start: first {first:?}, then {second:?}");
    assert!(
        second < Duration::from_secs(1),
        "second start took {second:?}"
    );
    assert_eq!(
        get(h.addr(), "/front/var?name=msg").await.1,
        "ok:inner says hello"
    );
    assert!(
        h.routes().iter().any(|r| r.ends_with("/front (wildcard)")),
        "{:?}",
        h.routes()
    );
}
