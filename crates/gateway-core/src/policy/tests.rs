//! The attempt loop against scripted failures, with a simulated clock and an in-memory stand-in
//! for the shared routing state.

use std::collections::{HashMap, VecDeque};

use super::*;
use crate::config::{Config, Deployment};
use crate::error::{ApiError, ErrorType};

/// Shared state and a clock, as the router keeps them in the key-value stores.
#[derive(Default)]
struct World {
    now: u64,
    cooling: HashMap<String, u64>,
    fails: HashMap<String, u64>,
    requests: HashMap<String, u64>,
    slept: Vec<u64>,
    shared_reads: u32,
}

impl Effects for World {
    fn now_ms(&mut self) -> u64 {
        self.now
    }
    fn loads(&mut self, deployments: &[&Deployment], shared: bool) -> Vec<Load> {
        if shared {
            self.shared_reads += 1;
        }
        deployments
            .iter()
            .map(|d| Load {
                cooling_until_ms: if shared {
                    self.cooling.get(&d.id).copied()
                } else {
                    None
                },
                ..Load::default()
            })
            .collect()
    }
    fn started(&mut self, d: &Deployment) -> bool {
        let n = self.requests.entry(d.id.clone()).or_default();
        *n += 1;
        d.policy.rpm.is_none_or(|rpm| *n <= rpm)
    }
    fn failed(&mut self, d: &Deployment) -> (u64, u64) {
        let f = self.fails.entry(d.id.clone()).or_default();
        *f += 1;
        (*f, self.requests[&d.id])
    }
    fn cool(&mut self, d: &Deployment, until_ms: u64, _: ErrorClass, _: u16) {
        self.cooling.insert(d.id.clone(), until_ms);
    }
    fn sleep(&mut self, ms: u64) {
        self.slept.push(ms);
        self.now += ms;
    }
}

/// Scripted outcomes per deployment id: each call pops the next status (200 = answer); an empty
/// script answers.
struct Script(HashMap<String, VecDeque<u16>>);

impl Script {
    fn new(pairs: &[(&str, &[u16])]) -> Script {
        Script(
            pairs
                .iter()
                .map(|(id, s)| (id.to_string(), s.iter().copied().collect()))
                .collect(),
        )
    }
}

fn error(status: u16) -> ApiError {
    match status {
        4000 => ApiError::new(400, ErrorType::InvalidRequest, "prompt is too long")
            .with_code("context_length_exceeded"),
        4290 => {
            ApiError::new(429, ErrorType::RateLimit, "slow down").with_header("retry-after", "3")
        }
        s => ApiError::new(s, ErrorType::Upstream, format!("mock {s}")),
    }
}

const CONFIG: &str = r#"
model_list:
  - {model_name: g, litellm_params: {model: openai/a}, model_info: {id: a}}
  - {model_name: g, litellm_params: {model: openai/b}, model_info: {id: b}}
  - {model_name: solo, litellm_params: {model: openai/s}, model_info: {id: s}}
  - {model_name: fb, litellm_params: {model: anthropic/f}, model_info: {id: f}}
  - {model_name: long, litellm_params: {model: gemini/l}, model_info: {id: l}}
  - {model_name: ordered, litellm_params: {model: openai/o1, order: 1}, model_info: {id: o1}}
  - {model_name: ordered, litellm_params: {model: openai/o2, order: 2}, model_info: {id: o2}}
router_settings:
  fallbacks: [{g: [fb]}, {ordered: [fb]}]
  context_window_fallbacks: [{solo: [long]}]
"#;

struct Run {
    calls: Vec<String>,
    answered_by: Option<String>,
    error: Option<ApiError>,
    trail: Trail,
}

fn run_with(
    config: &Config,
    world: &mut World,
    model: &str,
    request: RequestPolicy,
    script: &mut Script,
    seed: u64,
) -> Run {
    let mut calls = Vec::new();
    let accept = |_: &Deployment| true;
    let job = Job {
        model,
        stream: false,
        request: &request,
        accept: &accept,
        seed,
    };
    let routed = route(config, &job, world, |d, _| {
        calls.push(d.id.clone());
        match script.0.get_mut(&d.id).and_then(VecDeque::pop_front) {
            None | Some(200) => Ok(()),
            Some(status) => Err(error(status)),
        }
    });
    let (answered_by, error) = match routed.result {
        Ok(((), d)) => (Some(d.id.clone()), None),
        Err(e) => (None, Some(e)),
    };
    Run {
        calls,
        answered_by,
        error,
        trail: routed.trail,
    }
}

fn run(model: &str, request: RequestPolicy, script: &[(&str, &[u16])]) -> (Run, World) {
    let config = Config::parse(CONFIG).unwrap();
    let mut world = World {
        now: 1_000_000,
        ..World::default()
    };
    let r = run_with(
        &config,
        &mut world,
        model,
        request,
        &mut Script::new(script),
        1,
    );
    (r, world)
}

/// (model, script, calls made, answered by, final status)
type Case<'a> = (
    &'a str,
    Statuses<'a>,
    &'a [&'a str],
    Option<&'a str>,
    Option<u16>,
);
/// Scripted statuses per deployment id.
type Statuses<'a> = &'a [(&'a str, &'a [u16])];

#[test]
fn attempt_sequences() {
    // (model, script, calls made, answered by, final status)
    let table: &[Case] = &[
        // A retryable failure moves to the other deployment at once.
        ("solo", &[("s", &[503])], &["s", "s"], Some("s"), None),
        // Never retried: the caller's mistakes.
        ("solo", &[("s", &[400])], &["s"], None, Some(400)),
        ("solo", &[("s", &[401])], &["s"], None, Some(401)),
        ("solo", &[("s", &[404])], &["s"], None, Some(404)),
        ("solo", &[("s", &[413])], &["s"], None, Some(413)),
        ("solo", &[("s", &[422])], &["s"], None, Some(422)),
        // num_retries 2: three calls, then the error.
        (
            "solo",
            &[("s", &[500, 500, 500, 500])],
            &["s", "s", "s"],
            None,
            Some(500),
        ),
        // Context window: the typed fallback.
        ("solo", &[("s", &[4000])], &["s", "l"], Some("l"), None),
        // 408 / 409 are retried.
        (
            "solo",
            &[("s", &[408, 409])],
            &["s", "s", "s"],
            Some("s"),
            None,
        ),
        // The group's retries spent, the fallback group answers.
        (
            "g",
            &[("a", &[500, 500]), ("b", &[500, 500])],
            &["b", "a", "b", "f"],
            Some("f"),
            None,
        ),
        // A 400 in a group with fallbacks is still final.
        (
            "g",
            &[("a", &[400]), ("b", &[400])],
            &["b"],
            None,
            Some(400),
        ),
        // `order`: o1 always first.
        ("ordered", &[], &["o1"], Some("o1"), None),
        (
            "ordered",
            &[("o1", &[503])],
            &["o1", "o2"],
            Some("o2"),
            None,
        ),
    ];
    for (model, script, calls, by, status) in table {
        let (r, _) = run(model, RequestPolicy::default(), script);
        assert_eq!(r.calls, *calls, "{model} {script:?}");
        assert_eq!(r.answered_by.as_deref(), *by, "{model} {script:?}");
        assert_eq!(r.error.map(|e| e.status), *status, "{model} {script:?}");
    }
}

#[test]
fn backoff_only_when_nothing_else_is_healthy_and_honours_retry_after() {
    let (r, w) = run("solo", RequestPolicy::default(), &[("s", &[500, 4290])]);
    assert_eq!(r.answered_by.as_deref(), Some("s"));
    assert_eq!(w.slept, vec![500, 3_000]);
    let (_, w) = run(
        "g",
        RequestPolicy::default(),
        &[("a", &[500]), ("b", &[500])],
    );
    // The second deployment at once; then, both failed, the second retry waits 1 s.
    assert_eq!(w.slept, vec![1_000]);
}

#[test]
fn request_options() {
    let none = RequestPolicy {
        num_retries: Some(0),
        ..RequestPolicy::default()
    };
    let (r, _) = run("solo", none, &[("s", &[500])]);
    assert_eq!((r.calls.len(), r.error.map(|e| e.status)), (1, Some(500)));
    let off = RequestPolicy {
        disable_fallbacks: true,
        ..RequestPolicy::default()
    };
    let (r, _) = run("g", off, &[("a", &[500; 3]), ("b", &[500; 3])]);
    assert!(!r.calls.contains(&"f".to_string()));
    let mine = RequestPolicy {
        fallbacks: Some(vec!["solo".into()]),
        num_retries: Some(0),
        ..RequestPolicy::default()
    };
    let (r, _) = run("g", mine, &[("a", &[503]), ("b", &[503])]);
    assert_eq!(r.answered_by.as_deref(), Some("s"));
    assert_eq!((r.trail.retries, r.trail.fallbacks), (0, 1));
}

#[test]
fn final_error_is_the_most_telling_with_every_attempt_summarised() {
    let (r, _) = run(
        "g",
        RequestPolicy::default(),
        &[
            ("a", &[429, 429]),
            ("b", &[500, 500]),
            ("f", &[503, 503, 503]),
        ],
    );
    let e = r.error.unwrap();
    assert_eq!(e.status, 503, "{e:?}");
    assert!(e.message.contains("6 attempts"), "{}", e.message);
    for part in ["g/a: 429 rate_limit", "g/b: 500 server", "fb/f: 503 server"] {
        assert!(e.message.contains(part), "{}", e.message);
    }
}

#[test]
fn cooldowns_are_shared_and_all_cooling_is_a_429_with_retry_after() {
    let config = Config::parse(CONFIG).unwrap();
    let mut world = World {
        now: 1_000_000,
        ..World::default()
    };
    // A 429 in a group of two cools that deployment at once (retry-after 3 s here).
    let r = run_with(
        &config,
        &mut world,
        "g",
        RequestPolicy::default(),
        &mut Script::new(&[("a", &[4290]), ("b", &[4290])]),
        1,
    );
    assert_eq!(r.answered_by.as_deref(), Some("f"));
    assert_eq!(world.cooling.len(), 2);
    // Next request: both cooling, fallbacks disabled → 429 with the shortest remaining time.
    world.now += 1_000;
    let off = RequestPolicy {
        disable_fallbacks: true,
        ..RequestPolicy::default()
    };
    let r = run_with(&config, &mut world, "g", off, &mut Script::new(&[]), 2);
    assert!(r.calls.is_empty());
    let e = r.error.unwrap();
    assert_eq!(
        (e.status, e.code.as_deref()),
        (429, Some("deployments_cooling_down"))
    );
    assert_eq!(
        e.headers,
        vec![("retry-after".to_string(), "2".to_string())]
    );
    // After the cooldown, back in rotation.
    world.now += 2_000;
    let r = run_with(
        &config,
        &mut world,
        "g",
        RequestPolicy::default(),
        &mut Script::new(&[]),
        3,
    );
    assert_eq!(r.calls.len(), 1);
}

#[test]
fn a_lone_deployment_without_fallbacks_is_never_cooled_nor_reads_shared_state() {
    let (_, w) = run("long", RequestPolicy::default(), &[("l", &[429, 429, 429])]);
    assert!(w.cooling.is_empty());
    assert_eq!(w.shared_reads, 0);
}

#[test]
fn allowed_fails_then_cooldown() {
    let config = Config::parse(CONFIG).unwrap();
    let mut world = World {
        now: 0,
        ..World::default()
    };
    for i in 0..4 {
        run_with(
            &config,
            &mut world,
            "g",
            RequestPolicy {
                num_retries: Some(0),
                disable_fallbacks: true,
                ..RequestPolicy::default()
            },
            &mut Script::new(&[("a", &[500]), ("b", &[200])]),
            i,
        );
    }
    // a failed whenever picked first; cooled only once its failures passed allowed_fails (3)
    // or its error rate (over half of 5+ requests).
    let fails = world.fails.get("a").copied().unwrap_or(0);
    assert_eq!(world.cooling.contains_key("a"), fails > 3, "{fails}");
}

#[test]
fn deadline_stops_retrying() {
    let mut config = Config::parse(CONFIG).unwrap();
    config.router.total_timeout_ms = 1_000;
    let mut world = World {
        now: 0,
        ..World::default()
    };
    let r = run_with(
        &config,
        &mut world,
        "solo",
        RequestPolicy::default(),
        &mut Script::new(&[("s", &[4290, 4290])]),
        1,
    );
    let e = r.error.unwrap();
    assert_eq!(
        (e.status, e.code.as_deref()),
        (504, Some("deadline_exceeded"))
    );
    assert_eq!(r.calls, vec!["s"], "a 3 s retry-after does not fit in 1 s");
}

#[test]
fn attempt_limits_follow_request_deployment_router() {
    let config = Config::parse(
        "model_list:\n  - {model_name: m, litellm_params: {model: openai/x, timeout: 20, stream_timeout: 2}}\nrouter_settings: {stream_timeout: 5, total_timeout: 30}\n",
    )
    .unwrap();
    let mut world = World::default();
    let mut seen = Vec::new();
    for request in [
        RequestPolicy::default(),
        RequestPolicy {
            stream_timeout_ms: Some(1_000),
            timeout_ms: Some(9_000),
            ..RequestPolicy::default()
        },
    ] {
        let accept = |_: &Deployment| true;
        let job = Job {
            model: "m",
            stream: true,
            request: &request,
            accept: &accept,
            seed: 0,
        };
        let _ = route(&config, &job, &mut world, |_, l| {
            seen.push(*l);
            Ok::<(), ApiError>(())
        });
    }
    assert_eq!(
        seen,
        vec![
            AttemptLimits {
                timeout_ms: 20_000,
                first_byte_ms: 2_000
            },
            AttemptLimits {
                timeout_ms: 9_000,
                first_byte_ms: 1_000
            },
        ]
    );
}

#[test]
fn unknown_model_is_a_404_without_calls() {
    let (r, _) = run("nope", RequestPolicy::default(), &[]);
    assert_eq!(r.error.unwrap().status, 404);
    assert!(r.calls.is_empty());
}

#[test]
fn a_deployment_over_its_own_rpm_is_skipped_without_a_call() {
    let config = Config::parse(
        "model_list:\n  - {model_name: m, litellm_params: {model: openai/x, rpm: 1}, model_info: {id: x}}\n  - {model_name: m, litellm_params: {model: openai/y}, model_info: {id: y}}\n",
    )
    .unwrap();
    let mut world = World::default();
    // x's RPM is spent by an earlier request that the selection did not see.
    world.requests.insert("x".into(), 1);
    for seed in 0..10 {
        let r = run_with(
            &config,
            &mut world,
            "m",
            RequestPolicy::default(),
            &mut Script::new(&[]),
            seed,
        );
        assert_eq!(r.calls, vec!["y"]);
    }
}
