//! Bad input never panics: the golden inputs (real provider and client payloads) mutated at random
//! (values swapped for other types, keys dropped, strings and numbers at their edges, streams cut
//! and corrupted) and fed to every translator, and to the router's own request parser, stream
//! relay and upstream error mapping (`gateway-core`). A panic inside a wasm component is a trap and an
//! empty 500, so each translator must answer `Ok` or a client error, never panic.
//! Deterministic: a fixed seed, so a failure names an input that reproduces.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use gateway_core::chat::ChatRequest;
use gateway_core::relay::StreamRelay;
use gateway_core::sse::Translator;
use gateway_core::upstream::openai_error;
use gateway_core::ApiError;
use serde_json::{json, Map, Value};
use translate::messages::request::MessagesRequest;
use translate::{anthropic, gemini, messages};

/// Mutated variants tried per input.
const ROUNDS: usize = 400;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn golden(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Values at the edges of what a field may hold.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(0),
        4 => json!(u64::MAX),
        5 => json!(1e308),
        6 => json!(""),
        7 => json!("é😀\u{0}"),
        8 => json!("data:image/png;base64,"),
        9 => json!("data:;base64,@@@"),
        10 => json!([]),
        11 => json!({}),
        12 => json!([null, 1, "x"]),
        13 => json!({"type": "text"}),
        14 => json!("x".repeat(300)),
        _ => json!({"type": "tool_use", "id": 7, "input": "not an object"}),
    }
}

/// One random mutation somewhere in `v`.
fn mutate(v: &mut Value, rng: &mut Rng) {
    match v {
        Value::Object(map) if !map.is_empty() && rng.below(4) != 0 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.below(keys.len())];
            match rng.below(5) {
                0 => {
                    map.remove(key);
                }
                1 => {
                    map.insert(key.clone(), odd_value(rng));
                }
                _ => {
                    if let Some(child) = map.get_mut(key) {
                        mutate(child, rng);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() && rng.below(4) != 0 => match rng.below(5) {
            0 => {
                let i = rng.below(items.len());
                items.remove(i);
            }
            1 => {
                let i = rng.below(items.len());
                let copy = items[i].clone();
                items.push(copy);
            }
            _ => {
                let i = rng.below(items.len());
                mutate(&mut items[i], rng);
            }
        },
        other => *other = odd_value(rng),
    }
}

/// Runs `f` on `ROUNDS` mutations of `input` (1 to 3 mutations each); panics name the input.
fn each_variant(name: &str, input: &Value, seed: u64, f: impl Fn(&Value)) {
    let mut rng = Rng(seed);
    for round in 0..ROUNDS {
        let mut v = input.clone();
        for _ in 0..=rng.below(3) {
            mutate(&mut v, &mut rng);
        }
        if catch_unwind(AssertUnwindSafe(|| f(&v))).is_err() {
            panic!("{name}, round {round}: panicked on {v}");
        }
    }
}

fn object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A mutated copy of a stream: one in four `data:` payloads mutated, then the bytes cut short or
/// corrupted at a random point.
fn mutated_stream(text: &str, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in text.split_inclusive('\n') {
        match line.trim_end().strip_prefix("data: ") {
            Some(data) if rng.below(4) == 0 => match serde_json::from_str::<Value>(data) {
                Ok(mut v) => {
                    mutate(&mut v, rng);
                    bytes.extend_from_slice(format!("data: {v}\n").as_bytes());
                }
                Err(_) => bytes.extend_from_slice(line.as_bytes()),
            },
            _ => bytes.extend_from_slice(line.as_bytes()),
        }
    }
    match rng.below(4) {
        0 => bytes.truncate(rng.below(bytes.len())),
        1 => {
            let at = rng.below(bytes.len());
            bytes.insert(at, [0xff, b'\n', b':', b'{'][rng.below(4)]);
        }
        _ => {}
    }
    bytes
}

/// Feeds `ROUNDS` mutated copies of a golden stream, in random-sized pieces, to `feed`.
fn each_stream_variant(name: &str, seed: u64, feed: impl Fn(&[u8], usize)) {
    let text = golden(name);
    let mut rng = Rng(seed);
    for round in 0..ROUNDS {
        let bytes = mutated_stream(&text, &mut rng);
        let step = 1 + rng.below(64);
        if catch_unwind(AssertUnwindSafe(|| feed(&bytes, step))).is_err() {
            panic!(
                "{name}, round {round}: panicked on {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

/// Builds a fresh stream translator.
type MakeTranslator = fn() -> Box<dyn Translator>;

/// Runs a stream translator over `bytes` in `step`-byte pieces.
fn translate_stream(mut t: Box<dyn Translator>) -> impl FnMut(&[u8], usize) {
    move |bytes, step| {
        for piece in bytes.chunks(step) {
            t.push(piece);
        }
        t.finish();
        t.early_error();
    }
}

fn parsed(name: &str) -> Value {
    serde_json::from_str(&golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn openai_requests_to_providers() {
    for (i, name) in [
        "anthropic/request_tools.openai.json",
        "gemini/request_tools.openai.json",
    ]
    .into_iter()
    .enumerate()
    {
        each_variant(name, &parsed(name), 1 + i as u64, |v| {
            let body = object(v);
            let _ = anthropic::request::translate(&body, Some(1024));
            let _ = anthropic::request::translate(&body, None);
            if let Ok(p) = gemini::request::translate(&body) {
                let _ = gemini::count::request(&p);
            }
        });
    }
}

#[test]
fn provider_answers_to_openai() {
    let name = "anthropic/response_tool_use.json";
    each_variant(name, &parsed(name), 11, |v| {
        let _ = anthropic::response::translate(v, false, 0);
        let _ = anthropic::response::translate(v, true, 0);
        let _ = anthropic::usage::of_message(v);
        let _ = anthropic::error::from_event(v);
        let _ = anthropic::error::from_response(400, v.to_string().as_bytes());
    });
    let name = "gemini/response_function_call.json";
    each_variant(name, &parsed(name), 12, |v| {
        let _ = gemini::response::translate(v, "gemini-3-flash-preview", 0);
        let _ = gemini::count::response(v);
        let _ = gemini::error::from_response(400, v.to_string().as_bytes());
    });
    let name = "messages/response_tool_calls.openai.json";
    each_variant(name, &parsed(name), 13, |v| {
        let _ = messages::response::translate(v);
        let _ = messages::count::from_adapter(v, "openai");
    });
}

#[test]
fn messages_requests_to_openai() {
    let name = "messages/request_tools.anthropic.json";
    each_variant(name, &parsed(name), 21, |v| {
        let raw = v.to_string();
        for parsed in [
            MessagesRequest::parse(raw.as_bytes()),
            MessagesRequest::parse_count(raw.as_bytes()),
        ]
        .into_iter()
        .flatten()
        {
            let _ = parsed.to_openai();
            let _ = parsed.native_body("m");
            let _ = messages::count::estimate(&parsed.body);
        }
    });
}

#[test]
fn tool_schemas_to_gemini() {
    let schema = json!({"type": "object", "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}},
        "properties": {"city": {"type": ["string", "null"]}, "unit": {"$ref": "#/$defs/Unit"},
            "days": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"const": "x"}}, "all": {"allOf": [{"type": "object"}]}},
        "required": ["city"]});
    each_variant("schema", &schema, 31, |v| {
        let _ = gemini::schema::convert(v, "schema");
    });
}

#[test]
fn streams_to_openai_and_anthropic_events() {
    let cases: [(&str, MakeTranslator); 5] = [
        ("anthropic/stream_tool_use.sse", || {
            Box::new(anthropic::stream::Stream::new(false, true, 0))
        }),
        ("anthropic/stream_thinking.sse", || {
            Box::new(anthropic::stream::Stream::new(true, false, 0))
        }),
        ("gemini/stream_thinking_function_calls.sse", || {
            Box::new(gemini::stream::Stream::new(
                "gemini-3-flash-preview",
                true,
                0,
            ))
        }),
        ("gemini/stream_text.sse", || {
            Box::new(gemini::stream::Stream::new("gemini-2.5-flash", false, 0))
        }),
        ("messages/stream_tool_call.openai.sse", || {
            Box::new(messages::stream::Stream::new())
        }),
    ];
    for (i, (name, make)) in cases.into_iter().enumerate() {
        each_stream_variant(name, 41 + i as u64, |bytes, step| {
            translate_stream(make())(bytes, step)
        });
    }
}

#[test]
fn router_parses_relays_and_maps_errors() {
    let name = "anthropic/request_tools.openai.json";
    each_variant(name, &parsed(name), 61, |v| {
        if let Ok(r) = ChatRequest::parse(v.to_string().as_bytes()) {
            let _ = r.upstream_body("upstream-model");
        }
        let body = json!({"error": v}).to_string();
        let _ = openai_error("openai", 400, body.as_bytes());
        let _ = ApiError::from_openai_json(400, body.as_bytes());
    });
    each_stream_variant("messages/stream_tool_call.openai.sse", 62, |bytes, step| {
        for wants_usage in [false, true] {
            let mut relay = StreamRelay::new(wants_usage);
            for piece in bytes.chunks(step) {
                relay.push(piece);
            }
            relay.finish();
            let _ = relay.usage().map(|u| u.total());
        }
    });
}

#[test]
fn usage_tap_reads_any_bytes() {
    let text = golden("anthropic/stream_tool_use.sse");
    let mut rng = Rng(51);
    for _ in 0..ROUNDS {
        let mut bytes = text.clone().into_bytes();
        let at = rng.below(bytes.len());
        bytes.truncate(at);
        bytes.extend_from_slice(
            b"data: {\"usage\":{\"input_tokens\":-5,\"output_tokens\":1e400}}\n\n",
        );
        let mut tap = messages::usage_tap::UsageTap::new();
        for piece in bytes.chunks(1 + rng.below(32)) {
            tap.push(piece);
        }
        let _ = tap.tokens();
    }
}

/// Embeddings, completions and Responses requests: the parsers answer `Ok` or a 4xx naming a
/// parameter, and every bridge built from what they accept works on any chat answer or stream.
#[test]
fn openai_surface_requests_and_bridges() {
    use translate::completions::{self, CompletionRequest};
    use translate::embeddings::{self, EmbeddingsRequest};
    use translate::responses::response::{self, Echo};
    use translate::responses::{stream as rstream, ResponsesRequest};
    let refused = |e: &ApiError| {
        assert!(
            (400..500).contains(&e.status) && (e.param.is_some() || e.code.is_some()),
            "{e:?}"
        )
    };
    let name = "embeddings/request.openai.json";
    each_variant(name, &parsed(name), 71, |v| match EmbeddingsRequest::parse(
        v.to_string().as_bytes(),
    ) {
        Ok(r) => {
            let _ = r.upstream_body("m");
            let gemini = json_input_answer(v);
            if let Ok(b) = embeddings::gemini_batches(&object(v), "m") {
                let _ = embeddings::from_gemini(&[gemini], &object(v), "m");
                let _ = b.len();
            }
        }
        Err(e) => refused(&e),
    });
    let name = "embeddings/response.gemini.json";
    each_variant(name, &parsed(name), 72, |v| {
        let body = object(&json!({"model": "m", "input": ["a", "b"]}));
        if let Ok(mut answer) = embeddings::from_gemini(std::slice::from_ref(v), &body, "m") {
            embeddings::to_base64(&mut answer);
        }
        let mut any = json!({"data": [{"embedding": v}]});
        embeddings::to_base64(&mut any);
    });
    let name = "completions/request.openai.json";
    each_variant(name, &parsed(name), 73, |v| match CompletionRequest::parse(
        v.to_string().as_bytes(),
    ) {
        Ok(mut r) => {
            let _ = r.upstream_body("m");
            let _ = r.check_bridgeable("anthropic", false);
            let _ = r.check_bridgeable("anthropic", true);
            for i in 0..r.prompts.len() + 1 {
                let _ = r.chat_body(i, "m");
            }
            let c = completions::from_chat(std::slice::from_ref(v), "m", "id", 0);
            let _ = completions::as_stream(&c, true);
        }
        Err(e) => refused(&e),
    });
    let name = "responses/request_tools.openai.json";
    each_variant(name, &parsed(name), 74, |v| {
        match ResponsesRequest::parse(v.to_string().as_bytes()) {
            Ok(r) => {
                let _ = r.upstream_body("m");
                let _ = r.refuse_built_in_tools("anthropic");
                let _ = r.chat_body(std::slice::from_ref(v), "m");
                let echo = Echo {
                    id: "resp_x".into(),
                    created_at: 0,
                    model: "m".into(),
                    request: r.body.clone(),
                    store: r.store,
                };
                let out = response::from_chat(v, &echo);
                let _ = response::output_messages(&out);
                let _ = response::tokens(v);
            }
            Err(e) => refused(&e),
        }
    });
    let name = "messages/response_tool_calls.openai.json";
    each_variant(name, &parsed(name), 75, |v| {
        let echo = Echo {
            id: "resp_x".into(),
            created_at: 0,
            model: "m".into(),
            request: object(v),
            store: true,
        };
        let out = response::from_chat(v, &echo);
        let _ = response::output_messages(&out);
        let _ = completions::from_chat(std::slice::from_ref(v), "m", "id", 0);
    });
    let cases: [(&str, MakeTranslator); 4] = [
        ("completions/stream_text.openai.sse", || {
            Box::new(completions::Stream::new(true))
        }),
        ("messages/stream_tool_call.openai.sse", || {
            Box::new(completions::Stream::new(false))
        }),
        ("completions/stream_text.openai.sse", || {
            Box::new(rstream::Stream::new(echo()))
        }),
        ("messages/stream_tool_call.openai.sse", || {
            Box::new(rstream::Stream::new(echo()))
        }),
    ];
    for (i, (name, make)) in cases.into_iter().enumerate() {
        each_stream_variant(name, 81 + i as u64, |bytes, step| {
            translate_stream(make())(bytes, step)
        });
    }
}

fn echo() -> translate::responses::response::Echo {
    translate::responses::response::Echo {
        id: "resp_x".into(),
        created_at: 0,
        model: "m".into(),
        request: Map::new(),
        store: true,
    }
}

/// A Gemini embeddings answer shaped from whatever `v` is.
fn json_input_answer(v: &Value) -> Value {
    json!({"embeddings": [{"values": v.get("dimensions").cloned().unwrap_or(json!([0.5]))}]})
}
