//! `loadgen`: a small HTTP/1.1 load generator for `scripts/bench`.
//!
//! It keeps `-c` connections open (keep-alive, `TCP_NODELAY` like most HTTP clients); each sends
//! its next request as soon as the previous answer has been read to its last byte. It runs for
//! `-d` seconds after `-w` seconds of warm-up (answers started during warm-up are not counted),
//! or until `-n` requests have been sent, then prints one JSON object on stdout:
//!
//! - `rps`: 2xx answers per second (finished inside the measured window);
//! - `latency_ms` (request sent → last body byte) and `ttfb_ms` (request sent → first body byte;
//!   for `text/event-stream` answers the first `data:` event, i.e. time to first token), each
//!   `p50`/`p90`/`p99`/`max`/`mean`, over 2xx answers only;
//! - `status`: answers per HTTP status; `retry_after`: per status, how many carried `retry-after`;
//! - `refused`: 429/503 answers with `retry-after` (deliberate load shedding);
//! - `failed`: every other non-2xx answer, plus `socket_errors` (connect, reset, truncated body)
//!   and `timeouts` (`--timeout`, per request); a few `error_samples` and `bad_answer_samples`;
//! - `cpu_s`: the load generator's own CPU time (it runs on one thread).
//!
//! With `--hold`, each of the `-c` connections sends exactly one request and reads it to its end:
//! that holds `-c` slow streams open at once. `--ready-file` is created as soon as every stream
//! has its first event (or was refused, or failed), so a script can then sample the server's
//! memory; `streams_open` (2xx streams that got their first event) and `all_open_s` tell how many
//! got there and when.
//!
//! ```text
//! loadgen URL [-c CONNS] [-d SECS] [-w SECS] [-n REQUESTS] [-m METHOD] [-b BODY]
//!         [-H 'name: value']... [--timeout SECS] [--hold [--ready-file PATH]]
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

const USAGE: &str = "usage: loadgen URL [-c CONNS] [-d SECS] [-w WARMUP_SECS] [-n REQUESTS] \
[-m METHOD] [-b BODY] [-H 'name: value']... [--timeout SECS] [--hold [--ready-file PATH]]";

/// How many error messages and non-2xx bodies the report keeps as samples.
const SAMPLES: usize = 5;

struct Config {
    url: String,
    addr: String,
    host: HeaderValue,
    path: Uri,
    method: Method,
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
    conns: usize,
    duration: Duration,
    warmup: Duration,
    requests: Option<u64>,
    timeout: Duration,
    hold: bool,
    ready_file: Option<PathBuf>,
}

fn parse_args() -> Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut cfg = Config {
        url: String::new(),
        addr: String::new(),
        host: HeaderValue::from_static("localhost"),
        path: Uri::from_static("/"),
        method: Method::POST,
        body: Bytes::new(),
        headers: Vec::new(),
        conns: 1,
        duration: Duration::from_secs(10),
        warmup: Duration::ZERO,
        requests: None,
        timeout: Duration::from_secs(30),
        hold: false,
        ready_file: None,
    };
    let secs = |v: String| {
        v.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or(format!("not a number of seconds: {v}"))
    };
    while let Some(arg) = args.next() {
        if arg == "--hold" {
            cfg.hold = true;
            continue;
        }
        if !arg.starts_with('-') {
            url = Some(arg);
            continue;
        }
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "-c" | "--conns" => cfg.conns = value.parse().map_err(|_| "bad -c")?,
            "-d" | "--duration" => cfg.duration = secs(value)?,
            "-w" | "--warmup" => cfg.warmup = secs(value)?,
            "-n" | "--requests" => cfg.requests = Some(value.parse().map_err(|_| "bad -n")?),
            "-m" | "--method" => cfg.method = value.parse().map_err(|_| "bad -m")?,
            "-b" | "--body" => cfg.body = Bytes::from(value),
            "-H" | "--header" => {
                let (name, v) = value.split_once(':').ok_or("-H wants 'name: value'")?;
                let name = HeaderName::try_from(name.trim()).map_err(|e| e.to_string())?;
                let v = HeaderValue::try_from(v.trim()).map_err(|e| e.to_string())?;
                cfg.headers.push((name, v));
            }
            "--timeout" => cfg.timeout = secs(value)?,
            "--ready-file" => cfg.ready_file = Some(value.into()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let url = url.ok_or("no URL")?;
    let uri: Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs".into());
    }
    let authority = uri.authority().ok_or("URL without host")?;
    cfg.addr = format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(80)
    );
    cfg.host = HeaderValue::try_from(authority.as_str()).map_err(|e| e.to_string())?;
    cfg.path = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e| format!("{e}"))?;
    cfg.url = url;
    if cfg.conns == 0 {
        return Err("-c must be at least 1".into());
    }
    if cfg.hold {
        cfg.warmup = Duration::ZERO;
    }
    Ok(cfg)
}

/// What all connections share: the request budget (`-n`) and, with `--hold`, the streams that
/// have their first event (or failed).
struct Shared {
    tickets: AtomicU64,
    settled: AtomicUsize,
    all_settled_at: Mutex<Option<Instant>>,
}

impl Shared {
    fn take_ticket(&self) -> bool {
        self.tickets
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| t.checked_sub(1))
            .is_ok()
    }

    /// With `--hold`: one more stream has its first event or failed; the last one writes the
    /// ready file.
    fn settle(&self, cfg: &Config) {
        if self.settled.fetch_add(1, Ordering::AcqRel) + 1 == cfg.conns {
            *self.all_settled_at.lock().expect("lock") = Some(Instant::now());
            if let Some(path) = &cfg.ready_file {
                if let Err(e) = std::fs::write(path, b"ready\n") {
                    eprintln!("loadgen: cannot write {}: {e}", path.display());
                }
            }
        }
    }
}

#[derive(Default)]
struct Stats {
    latency_us: Vec<u64>,
    ttfb_us: Vec<u64>,
    status: BTreeMap<u16, u64>,
    retry_after: BTreeMap<u16, u64>,
    ok_in_window: u64,
    refused: u64,
    bad_status: u64,
    socket_errors: u64,
    timeouts: u64,
    streams_open: u64,
    error_samples: Vec<String>,
    bad_answer_samples: Vec<String>,
}

impl Stats {
    fn error(&mut self, what: String) {
        self.socket_errors += 1;
        if self.error_samples.len() < SAMPLES && !self.error_samples.contains(&what) {
            self.error_samples.push(what);
        }
    }

    fn bad_answer(&mut self, sample: String) {
        if self.bad_answer_samples.len() < SAMPLES && !self.bad_answer_samples.contains(&sample) {
            self.bad_answer_samples.push(sample);
        }
    }

    fn merge(&mut self, other: Stats) {
        self.latency_us.extend(other.latency_us);
        self.ttfb_us.extend(other.ttfb_us);
        for (k, v) in other.status {
            *self.status.entry(k).or_default() += v;
        }
        for (k, v) in other.retry_after {
            *self.retry_after.entry(k).or_default() += v;
        }
        self.ok_in_window += other.ok_in_window;
        self.refused += other.refused;
        self.bad_status += other.bad_status;
        self.socket_errors += other.socket_errors;
        self.timeouts += other.timeouts;
        self.streams_open += other.streams_open;
        for s in other.error_samples {
            if self.error_samples.len() < SAMPLES && !self.error_samples.contains(&s) {
                self.error_samples.push(s);
            }
        }
        for s in other.bad_answer_samples {
            self.bad_answer(s);
        }
    }
}

/// One answer read to its end.
struct Answer {
    status: u16,
    retry_after: bool,
    close: bool,
    ttfb: Option<Duration>,
    done: Instant,
    sample: Option<String>,
}

async fn connect(cfg: &Config) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(&cfg.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request and reads the answer to its end. `first_event` runs when the first body
/// byte (for event streams: the first `data:` event) of a 2xx answer arrives.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    cfg: &Config,
    start: Instant,
    mut first_event: impl FnMut(),
) -> Result<Answer, String> {
    let mut req = Request::builder()
        .method(cfg.method.clone())
        .uri(cfg.path.clone())
        .header(HOST, cfg.host.clone());
    for (name, value) in &cfg.headers {
        req = req.header(name, value);
    }
    let req = req
        .body(Full::new(cfg.body.clone()))
        .map_err(|e| e.to_string())?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = res.status().as_u16();
    let headers = res.headers();
    let retry_after = headers.contains_key(RETRY_AFTER);
    let close = headers
        .get(CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let sse = headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let mut body = res.into_body();
    let mut ttfb = None;
    let mut seen = Vec::new();
    let mut sample = (!(200..300).contains(&status)).then(Vec::new);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("body: {e}"))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        if ttfb.is_none() {
            let found = if sse {
                seen.extend_from_slice(data);
                let hit = seen.windows(5).any(|w| w == b"data:");
                if !hit && seen.len() > 4 {
                    seen.drain(..seen.len() - 4);
                }
                hit
            } else {
                true
            };
            if found {
                ttfb = Some(start.elapsed());
                if (200..300).contains(&status) {
                    first_event();
                }
            }
        }
        if let Some(s) = sample.as_mut().filter(|s| s.len() < 300) {
            s.extend_from_slice(&data[..data.len().min(300 - s.len())]);
        }
    }
    Ok(Answer {
        status,
        retry_after,
        close,
        ttfb,
        done: Instant::now(),
        sample: sample.map(|s| format!("{status}: {}", String::from_utf8_lossy(&s))),
    })
}

/// One connection's loop: requests one after the other until the deadline, the request budget,
/// or (with `--hold`) after its single request.
async fn worker(cfg: Arc<Config>, shared: Arc<Shared>, t0: Instant) -> Stats {
    let measure_from = t0 + cfg.warmup;
    let deadline = (cfg.requests.is_none() && !cfg.hold).then(|| measure_from + cfg.duration);
    let mut stats = Stats::default();
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) || (now >= measure_from && !shared.take_ticket()) {
            break;
        }
        let recording = now >= measure_from;
        let mut fresh = false;
        if conn.as_ref().is_none_or(|c| c.is_closed()) {
            match tokio::time::timeout(cfg.timeout, connect(&cfg)).await {
                Ok(Ok(c)) => {
                    conn = Some(c);
                    fresh = true;
                }
                Ok(Err(e)) if cfg.hold => {
                    stats.error(e);
                    shared.settle(&cfg);
                    break;
                }
                Err(_) if cfg.hold => {
                    stats.timeouts += 1;
                    shared.settle(&cfg);
                    break;
                }
                Ok(Err(e)) => {
                    if recording {
                        stats.error(e);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(_) => {
                    if recording {
                        stats.timeouts += 1;
                    }
                    continue;
                }
            }
        }
        let sender = conn.as_mut().expect("connected above");
        if sender.ready().await.is_err() {
            // Closed by the server while idle: reconnect. On a fresh connection it is an error.
            conn = None;
            if fresh || cfg.hold {
                if recording {
                    stats.error("connection closed before the request".into());
                }
                if cfg.hold {
                    shared.settle(&cfg);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            continue;
        }
        let start = Instant::now();
        let mut opened = false;
        let hold = cfg.hold;
        let result = tokio::time::timeout(
            cfg.timeout,
            exchange(sender, &cfg, start, || {
                if hold {
                    opened = true;
                    shared.settle(&cfg);
                }
            }),
        )
        .await;
        if hold && !opened {
            shared.settle(&cfg);
        }
        match result {
            Err(_) => {
                conn = None;
                if recording {
                    stats.timeouts += 1;
                }
            }
            Ok(Err(e)) => {
                conn = None;
                if recording {
                    stats.error(e);
                }
            }
            Ok(Ok(answer)) => {
                if answer.close {
                    conn = None;
                }
                if recording {
                    *stats.status.entry(answer.status).or_default() += 1;
                    if answer.retry_after {
                        *stats.retry_after.entry(answer.status).or_default() += 1;
                    }
                    if (200..300).contains(&answer.status) {
                        stats
                            .latency_us
                            .push((answer.done - start).as_micros() as u64);
                        if let Some(t) = answer.ttfb {
                            stats.ttfb_us.push(t.as_micros() as u64);
                        }
                        if deadline.is_none_or(|d| answer.done <= d) {
                            stats.ok_in_window += 1;
                        }
                    } else if matches!(answer.status, 429 | 503) && answer.retry_after {
                        stats.refused += 1;
                    } else {
                        stats.bad_status += 1;
                        if let Some(s) = answer.sample {
                            stats.bad_answer(s);
                        }
                    }
                }
            }
        }
        if opened {
            stats.streams_open += 1;
        }
        if cfg.hold {
            break;
        }
    }
    stats
}

/// The `p`th percentile of sorted microseconds, in milliseconds (nearest rank); null if empty.
fn percentile(sorted: &[u64], p: f64) -> Value {
    if sorted.is_empty() {
        return Value::Null;
    }
    let rank = ((p / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    ms(sorted[rank - 1])
}

fn ms(us: u64) -> Value {
    json!((us as f64 / 10.0).round() / 100.0)
}

fn distribution(mut us: Vec<u64>) -> Value {
    us.sort_unstable();
    let mean = (!us.is_empty()).then(|| us.iter().sum::<u64>() / us.len() as u64);
    json!({
        "p50": percentile(&us, 50.0),
        "p90": percentile(&us, 90.0),
        "p99": percentile(&us, 99.0),
        "max": us.last().map_or(Value::Null, |m| ms(*m)),
        "mean": mean.map_or(Value::Null, ms),
    })
}

async fn run(cfg: Config) -> Value {
    let cfg = Arc::new(cfg);
    let shared = Arc::new(Shared {
        tickets: AtomicU64::new(cfg.requests.unwrap_or(u64::MAX)),
        settled: AtomicUsize::new(0),
        all_settled_at: Mutex::new(None),
    });
    let t0 = Instant::now();
    let workers: Vec<_> = (0..cfg.conns)
        .map(|_| tokio::spawn(worker(cfg.clone(), shared.clone(), t0)))
        .collect();
    let mut stats = Stats::default();
    for w in workers {
        stats.merge(w.await.expect("worker panicked"));
    }
    let elapsed = t0.elapsed().saturating_sub(cfg.warmup);
    // Requests per second over the fixed window in duration mode; over the whole run otherwise.
    let window = if cfg.requests.is_none() && !cfg.hold {
        cfg.duration
    } else {
        elapsed
    };
    let ok = stats.latency_us.len() as u64;
    let responses: u64 = stats.status.values().sum();
    let all_open = *shared.all_settled_at.lock().expect("lock");
    let status: BTreeMap<String, u64> = stats
        .status
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let retry_after: BTreeMap<String, u64> = stats
        .retry_after
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let mut report = json!({
        "url": cfg.url,
        "conns": cfg.conns,
        "seconds": (elapsed.as_secs_f64() * 100.0).round() / 100.0,
        "requests": responses + stats.socket_errors + stats.timeouts,
        "ok": ok,
        "rps": ((stats.ok_in_window as f64 / window.as_secs_f64().max(1e-9)) * 10.0).round() / 10.0,
        "latency_ms": distribution(stats.latency_us),
        "ttfb_ms": distribution(stats.ttfb_us),
        "status": status,
        "retry_after": retry_after,
        "refused": stats.refused,
        "failed": stats.bad_status + stats.socket_errors + stats.timeouts,
        "bad_status": stats.bad_status,
        "socket_errors": stats.socket_errors,
        "timeouts": stats.timeouts,
        "error_samples": stats.error_samples,
        "bad_answer_samples": stats.bad_answer_samples,
    });
    if let Some(cpu) = own_cpu_seconds() {
        report["cpu_s"] = json!(cpu);
    }
    if cfg.hold {
        report["streams_open"] = json!(stats.streams_open);
        report["all_open_s"] = all_open.map_or(Value::Null, |t| {
            json!(((t - t0).as_secs_f64() * 100.0).round() / 100.0)
        });
    }
    report
}

/// This process's CPU time (user + system) from `/proc/self/stat`, assuming 100 ticks a second
/// (Linux's USER_HZ), so a script can tell the load generator's share of the machine.
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn main() {
    let cfg = match parse_args() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("loadgen: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report = runtime.block_on(run(cfg));
    println!("{report}");
}
