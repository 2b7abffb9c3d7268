//! `/v1/embeddings`, `/v1/completions` and `/v1/responses` through every provider component,
//! against the mocks' wire formats.

use std::collections::HashMap;

use e2e::*;
use serde_json::{json, Value};

/// The default config plus embedding-mode and Gemini embedding models.
async fn start() -> Gateway {
    Gateway::start_with(
        |base| {
            let mut c = default_config(base);
            c.push_str(
                "  - model_name: gemini-embed\n    litellm_params:\n      model: gemini/text-embedding-004\n    model_info:\n      mode: embedding\n",
            );
            c.push_str(
                "  - model_name: openai-embed\n    litellm_params:\n      model: openai/text-embedding-3-small\n    model_info:\n      mode: embedding\n",
            );
            Some(c)
        },
        HashMap::new(),
    )
    .await
}

fn b64decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= u32::from(val(*c)) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[tokio::test]
async fn embeddings_pass_through_to_openai_and_compatible_servers() {
    let g = start().await;
    for (model, upstream) in [
        ("openai-embed", "text-embedding-3-small"),
        ("llama-test", "meta-llama/Llama-3.1-8B-Instruct"),
    ] {
        g.mock.clear();
        let body = json!({"model": model, "input": ["a", "b"], "dimensions": 4, "user": "u1"});
        let (status, headers, v) = g.post("/v1/embeddings", &body).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["object"], "list");
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 4);
        assert!(headers.get("x-litellm-response-cost").is_some());
        let seen = g.upstream("/v1/embeddings");
        assert_eq!(seen.len(), 1);
        let sent: Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!(sent["model"], upstream, "only the model is rewritten");
        assert_eq!(
            (
                sent["input"].clone(),
                sent["dimensions"].clone(),
                sent["user"].clone()
            ),
            (body["input"].clone(), json!(4), json!("u1"))
        );
        assert!(!format!("{:?}", seen[0].headers).contains(CALLER_KEY));
    }
}

#[tokio::test]
async fn embeddings_base64_is_little_endian_float32_for_every_provider() {
    let g = start().await;
    for model in ["openai-embed", "gemini-embed", "llama-test"] {
        let (_, _, floats) = g
            .post(
                "/v1/embeddings",
                &json!({"model": model, "input": "hello 2", "encoding_format": "float"}),
            )
            .await;
        let (status, _, encoded) = g
            .post(
                "/v1/embeddings",
                &json!({"model": model, "input": "hello 2", "encoding_format": "base64"}),
            )
            .await;
        assert_eq!(status, 200, "{encoded}");
        let bytes = b64decode(
            encoded["data"][0]["embedding"]
                .as_str()
                .expect("base64 text"),
        );
        let expected: Vec<u8> = floats["data"][0]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|f| (f.as_f64().unwrap() as f32).to_le_bytes())
            .collect();
        assert_eq!(bytes, expected, "{model}");
    }
}

#[tokio::test]
async fn gemini_embeddings_are_batched_by_a_hundred_and_merged_in_order() {
    let g = start().await;
    let input: Vec<String> = (0..250).map(|i| format!("text {i}")).collect();
    let (status, headers, v) = g
        .post(
            "/v1/embeddings",
            &json!({"model": "gemini-embed", "input": input, "dimensions": 3}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let calls = g.upstream(":batchEmbedContents");
    assert_eq!(calls.len(), 3);
    let first: Value = serde_json::from_str(&calls[1].body).unwrap();
    assert_eq!(
        first["requests"][0]["content"]["parts"][0]["text"],
        "text 100"
    );
    assert_eq!(first["requests"][0]["outputDimensionality"], 3);
    assert_eq!(first["requests"][0]["model"], "models/text-embedding-004");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 250);
    // The mock's vector for "text n" starts with (n + 1) / 16.
    for i in [0usize, 99, 100, 249] {
        assert_eq!(data[i]["index"], i);
        assert_eq!(
            data[i]["embedding"][0].as_f64().unwrap(),
            (i + 1) as f64 / 16.0
        );
    }
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(headers.get("x-gateway-usage").unwrap(), "estimated");
    assert_eq!(header(&calls[0], "x-goog-api-key"), Some(GEMINI_KEY));
}

#[tokio::test]
async fn anthropic_and_chat_mode_models_have_no_embeddings() {
    let g = start().await;
    let (status, _, v) = g
        .post(
            "/v1/embeddings",
            &json!({"model": "claude-test", "input": "x"}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let e = assert_openai_error(&v);
    assert_eq!(e["param"], "model");
    assert!(e["message"].as_str().unwrap().contains("claude-test"));
    assert!(e["message"].as_str().unwrap().contains("anthropic"));
    let (status, _, v) = g
        .post(
            "/v1/completions",
            &json!({"model": "gemini-embed", "prompt": "x"}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(g.mock.requests().is_empty(), "no upstream call");
}

#[tokio::test]
async fn completions_pass_through_whole_and_streamed() {
    let g = start().await;
    let body =
        json!({"model": "gpt-test", "prompt": "Say", "max_tokens": 5, "echo": true, "logprobs": 1});
    let (status, _, v) = g.post("/v1/completions", &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["object"], "text_completion");
    let sent: Value = serde_json::from_str(&g.upstream("/v1/completions")[0].body).unwrap();
    assert_eq!(
        (sent["model"].clone(), sent["echo"].clone()),
        (json!("gpt-4o-mini"), json!(true))
    );
    let (status, text) = g
        .post_stream(
            "/v1/completions",
            &json!({"model": "llama-test", "prompt": "Say", "stream": true}),
        )
        .await;
    assert_eq!(status, 200);
    let chunks = sse_payloads(&text);
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    assert!(
        !text.contains("\"usage\""),
        "usage chunk stripped when not asked: {text}"
    );
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn completions_through_chat_for_anthropic_and_gemini() {
    let g = start().await;
    for model in ["claude-test", "gemini-test"] {
        g.mock.clear();
        let (status, _, v) = g
            .post(
                "/v1/completions",
                &json!({"model": model, "prompt": ["one", "two"], "max_tokens": 20}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["object"], "text_completion");
        let choices = v["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 2);
        assert_eq!(
            (choices[0]["index"].clone(), choices[1]["index"].clone()),
            (json!(0), json!(1))
        );
        assert!(choices[1]["text"].as_str().unwrap().len() > 1);
        assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0);
        assert_eq!(g.mock.requests().len(), 2, "one chat call per prompt");

        let (status, text) = g
            .post_stream(
                "/v1/completions",
                &json!({"model": model, "prompt": "one", "stream": true,
                "stream_options": {"include_usage": true}}),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let chunks = sse_payloads(&text);
        assert!(
            chunks.iter().all(|c| c["object"] == "text_completion"),
            "{text}"
        );
        assert!(chunks.iter().any(|c| c["choices"][0]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty())));
        assert!(
            chunks.last().unwrap()["usage"]["total_tokens"]
                .as_u64()
                .unwrap()
                > 0
        );
    }
}

#[tokio::test]
async fn completions_refuse_unbridgeable_parameters_unless_dropped() {
    let g = start().await;
    for (k, v) in [
        ("echo", json!(true)),
        ("logprobs", json!(2)),
        ("suffix", json!("x")),
        ("best_of", json!(2)),
    ] {
        let (status, _, err) = g
            .post(
                "/v1/completions",
                &json!({"model": "claude-test", "prompt": "x", k: v}),
            )
            .await;
        assert_eq!(status, 400, "{err}");
        let e = assert_openai_error(&err);
        assert_eq!(
            (e["param"].as_str(), e["code"].as_str()),
            (Some(k), Some("unsupported_parameter"))
        );
    }
    assert!(g.mock.requests().is_empty());
    let (status, _, v) = g
        .post(
            "/v1/completions",
            &json!({"model": "claude-test", "prompt": "x", "echo": true, "drop_params": true}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn responses_pass_through_to_openai() {
    let g = start().await;
    let body = json!({"model": "gpt-test", "input": "Hi", "tools": [{"type": "web_search"}], "store": false});
    let (status, _, v) = g.post("/v1/responses", &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["id"], "resp_mock1");
    let sent: Value = serde_json::from_str(&g.upstream("/v1/responses")[0].body).unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(
        sent["tools"], body["tools"],
        "built-in tools go to OpenAI as they are"
    );
    let (status, text) = g
        .post_stream(
            "/v1/responses",
            &json!({"model": "gpt-test", "input": "Hi", "stream": true}),
        )
        .await;
    assert_eq!(status, 200);
    let events = sse_events(&text);
    assert_eq!(events.first().unwrap().0, "response.created");
    assert_eq!(events.last().unwrap().0, "response.completed");
}

#[tokio::test]
async fn responses_bridged_whole_with_tools_and_usage() {
    let g = start().await;
    let tools = json!([{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]);
    for model in ["claude-test", "gemini-test"] {
        let (status, _, v) = g
            .post("/v1/responses", &json!({"model": model, "input": "What is the weather in Paris?",
                "instructions": "Be brief.", "tools": tools, "max_output_tokens": 100, "metadata": {"k": "v"}}))
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["metadata"]["k"], "v");
        let call = v["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["type"] == "function_call")
            .expect("a function call");
        assert_eq!(call["name"], "get_weather");
        assert!(call["call_id"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);
        assert_eq!(
            v["usage"]["total_tokens"].as_u64().unwrap(),
            v["usage"]["input_tokens"].as_u64().unwrap()
                + v["usage"]["output_tokens"].as_u64().unwrap()
        );
    }
}

#[tokio::test]
async fn responses_bridged_stream_has_the_full_event_sequence() {
    let g = start().await;
    let (status, text) = g
        .post_stream(
            "/v1/responses",
            &json!({"model": "claude-test", "input": "Hello", "stream": true}),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for (i, (_, e)) in events.iter().enumerate() {
        assert_eq!(e["sequence_number"], i as u64);
    }
    let done = &events.last().unwrap().1["response"];
    assert!(done["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn previous_response_id_continues_on_any_provider_and_is_per_key() {
    let g = start().await;
    let (status, _, first) = g
        .post(
            "/v1/responses",
            &json!({"model": "claude-test", "input": "My name is Ada."}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    g.mock.clear();
    let (status, _, second) = g
        .post("/v1/responses", &json!({"model": "gemini-test", "input": "What is my name?", "previous_response_id": id}))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["previous_response_id"], json!(id));
    let sent = &g.mock.requests()[0].body;
    assert!(
        sent.contains("My name is Ada.") && sent.contains("What is my name?"),
        "{sent}"
    );

    let (status, _, got) = g.get(&format!("/v1/responses/{id}")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], json!(id));

    // Another key sees nothing.
    let (_, _, key) = g
        .post("/key/generate", &json!({"key_alias": "other"}))
        .await;
    let other = key["key"].as_str().unwrap();
    let response = g
        .client
        .get(format!("{}/v1/responses/{id}", g.url))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let response = g
        .client
        .post(format!("{}/v1/responses", g.url))
        .bearer_auth(other)
        .json(&json!({"model": "claude-test", "input": "x", "previous_response_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    let response = g
        .client
        .delete(format!("{}/v1/responses/{id}", g.url))
        .bearer_auth(CALLER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, _, _) = g.get(&format!("/v1/responses/{id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn responses_refuse_built_in_tools_on_bridged_providers_and_unknown_ids() {
    let g = start().await;
    let (status, _, v) = g
        .post(
            "/v1/responses",
            &json!({"model": "claude-test", "input": "x", "tools": [{"type": "file_search"}]}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    let e = assert_openai_error(&v);
    assert!(e["message"].as_str().unwrap().contains("file_search"));
    assert_eq!(e["param"], "tools[0].type");
    let (status, _, v) = g
        .post(
            "/v1/responses",
            &json!({"model": "gpt-test", "input": "x", "previous_response_id": "resp_nope"}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(assert_openai_error(&v)["param"], "previous_response_id");
    assert!(g.mock.requests().is_empty(), "no upstream call");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_upstream_call() {
    let g = start().await;
    let many: Vec<Value> = (0..3000).map(|_| json!("x")).collect();
    let cases = [
        ("/v1/embeddings", json!({"model": "openai-embed"}), "input"),
        (
            "/v1/embeddings",
            json!({"model": "openai-embed", "input": ""}),
            "input",
        ),
        (
            "/v1/embeddings",
            json!({"model": "openai-embed", "input": 5}),
            "input",
        ),
        (
            "/v1/embeddings",
            json!({"model": "openai-embed", "input": [[1, "a"]]}),
            "input[0][1]",
        ),
        (
            "/v1/embeddings",
            json!({"model": "openai-embed", "input": "x", "dimensions": 0}),
            "dimensions",
        ),
        (
            "/v1/embeddings",
            json!({"model": "openai-embed", "input": many}),
            "input",
        ),
        ("/v1/completions", json!({"model": "gpt-test"}), "prompt"),
        (
            "/v1/completions",
            json!({"model": "gpt-test", "prompt": []}),
            "prompt",
        ),
        (
            "/v1/completions",
            json!({"model": "gpt-test", "prompt": [1.5]}),
            "prompt[0]",
        ),
        ("/v1/responses", json!({"model": "gpt-test"}), "input"),
        (
            "/v1/responses",
            json!({"model": "gpt-test", "input": [{"type": "bogus"}]}),
            "input[0].type",
        ),
        ("/v1/responses", json!({"input": "x"}), "model"),
    ];
    for (path, body, param) in cases {
        let (status, _, v) = g.post(path, &body).await;
        assert_eq!(status, 400, "{path} {body}: {v}");
        assert_eq!(assert_openai_error(&v)["param"], param, "{path} {body}");
    }
    assert!(g.mock.requests().is_empty());
}

/// Randomly broken bodies on the three endpoints: every answer is a success or OpenAI's error
/// JSON with a 4xx/5xx status the gateway chose, never a trap (an empty 500) or a hang.
#[tokio::test]
async fn randomized_bad_bodies_never_crash_the_gateway() {
    let g = start().await;
    let bases = [
        (
            "/v1/embeddings",
            json!({"model": "gemini-embed", "input": ["a", "b"], "dimensions": 4, "encoding_format": "base64"}),
        ),
        (
            "/v1/completions",
            json!({"model": "claude-test", "prompt": ["a", "b"], "max_tokens": 5, "stream": false}),
        ),
        (
            "/v1/responses",
            json!({"model": "gemini-test", "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}, {"type": "function_call_output", "call_id": "c", "output": "x"}],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "max_output_tokens": 20}),
        ),
    ];
    let odd = [
        json!(null),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(""),
        json!("x"),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!(true),
        json!([[]]),
        json!(u64::MAX),
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for (path, base) in bases {
        for _ in 0..40 {
            let mut body = base.clone();
            let keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
            let key = &keys[next(keys.len())];
            match next(3) {
                0 => {
                    body.as_object_mut().unwrap().remove(key);
                }
                1 => body[key] = odd[next(odd.len())].clone(),
                _ => {
                    if let Some(items) = body[key].as_array_mut().filter(|a| !a.is_empty()) {
                        let i = next(items.len());
                        items[i] = odd[next(odd.len())].clone();
                    } else {
                        body[key] = odd[next(odd.len())].clone();
                    }
                }
            }
            let (status, _, v) = g.post(path, &body).await;
            assert!(
                status == 200 || v.get("error").is_some(),
                "{path} {body}: {status} {v}"
            );
            assert!(
                status != 500 || v["error"]["code"] != json!(null),
                "{path} {body}: {v}"
            );
        }
    }
}

#[tokio::test]
async fn a_native_response_continues_natively_on_its_deployment_and_through_chat_elsewhere() {
    let g = start().await;
    let (status, _, first) = g
        .post(
            "/v1/responses",
            &json!({"model": "gpt-test", "input": "My name is Ada."}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["id"], "resp_mock1");
    g.mock.clear();
    let (status, _, v) = g
        .post(
            "/v1/responses",
            &json!({"model": "gpt-test", "input": "Name?", "previous_response_id": "resp_mock1"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let sent: Value = serde_json::from_str(&g.upstream("/v1/responses")[0].body).unwrap();
    assert_eq!(
        sent["previous_response_id"], "resp_mock1",
        "OpenAI keeps its own conversation"
    );
    g.mock.clear();
    let (status, _, v) = g
        .post("/v1/responses", &json!({"model": "claude-test", "input": "Name?", "previous_response_id": "resp_mock1"}))
        .await;
    assert_eq!(status, 200, "{v}");
    let sent = &g.upstream("/v1/messages")[0].body;
    assert!(
        sent.contains("My name is Ada.") && sent.contains("Hello from mock responses"),
        "{sent}"
    );
}
