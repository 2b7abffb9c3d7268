//! Embeddings: OpenAI `POST /v1/embeddings` (the `list` of `embedding` objects, floats or
//! `encoding_format: base64` little-endian float32, `usage` with `prompt_tokens`) and Gemini
//! `models/{model}:batchEmbedContents` (`{"embeddings": [{"values": [...]}]}`, at most 100
//! requests, no usage), per both API references. Vectors are deterministic: value `j` of input
//! `i` is `(i + 1) * (j + 1) / 16`, `dimensions` / `outputDimensionality` long (default 8).

use hyper::Response;
use serde_json::{json, Value};

use crate::server::{json_response, Body};

fn vector(i: usize, dims: usize) -> Vec<f32> {
    (0..dims)
        .map(|j| ((i + 1) * (j + 1)) as f32 / 16.0)
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn openai_error(status: u16, message: &str, param: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}}),
    )
}

/// Serves OpenAI's `POST /v1/embeddings`.
pub fn openai(req: &Value) -> Response<Body> {
    let model = req["model"].as_str().unwrap_or("").to_string();
    let inputs: Vec<u64> = match &req["input"] {
        Value::String(s) => vec![s.len() as u64],
        Value::Array(a) if a.iter().all(Value::is_number) && !a.is_empty() => vec![a.len() as u64],
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map_or_else(|| x.as_array().map_or(0, Vec::len), str::len)
                    as u64
            })
            .collect(),
        _ => return openai_error(400, "'input' is a required property", "input"),
    };
    let dims = req["dimensions"].as_u64().unwrap_or(8) as usize;
    let base64_wanted = req["encoding_format"] == "base64";
    let data: Vec<Value> = (0..inputs.len())
        .map(|i| {
            let v = vector(i, dims);
            let embedding = if base64_wanted {
                json!(base64(
                    &v.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<u8>>()
                ))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|n| n.div_ceil(4).max(1)).sum();
    json_response(
        200,
        &json!({"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
    )
}

/// Serves Gemini's `models/{model}:batchEmbedContents`.
pub fn gemini(model: &str, req: &Value) -> Response<Body> {
    let err = |m: &str| {
        json_response(
            400,
            &json!({"error": {"code": 400, "message": m, "status": "INVALID_ARGUMENT"}}),
        )
    };
    let Some(requests) = req["requests"].as_array().filter(|r| !r.is_empty()) else {
        return err("* BatchEmbedContentsRequest.requests: requests is not specified");
    };
    if requests.len() > 100 {
        return err(
            "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch",
        );
    }
    let mut out = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if r["model"].as_str() != Some(&format!("models/{model}")) {
            return err(&format!(
                "* BatchEmbedContentsRequest.requests[{i}].model: the model must match the URL's"
            ));
        }
        let Some(text) = r.pointer("/content/parts/0/text").and_then(Value::as_str) else {
            return err(&format!(
                "* BatchEmbedContentsRequest.requests[{i}].content: content is not specified"
            ));
        };
        // The mock encodes the input's position in its text ("... <n>") when there is one, so
        // tests can check that batches are merged in order.
        let n = text
            .rsplit(' ')
            .next()
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(i);
        let dims = r["outputDimensionality"].as_u64().unwrap_or(8) as usize;
        out.push(json!({"values": vector(n, dims)}));
    }
    json_response(200, &json!({"embeddings": out}))
}
