//! `POST /v1/embeddings`: validation of the OpenAI request, Gemini `batchEmbedContents` both
//! ways (chunks of [`GEMINI_BATCH`] inputs, merged in order), and `encoding_format: base64`
//! (little-endian float32, standard base64) for answers that came back as floats.

use gateway_core::{ApiError, ErrorType};
use serde_json::{json, Map, Value};

use crate::request::{bad, model_of, stream_flag, token_ids as tokens};

/// Most inputs in one OpenAI embeddings request.
pub const MAX_INPUTS: usize = 2048;
/// Most requests in one Gemini `batchEmbedContents` call.
pub const GEMINI_BATCH: usize = 100;

/// One input of an embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A text.
    Text(String),
    /// Token ids.
    Tokens(Vec<i64>),
}

/// A validated embeddings request.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    /// The request object as sent.
    pub body: Map<String, Value>,
    /// The logical model name.
    pub model: String,
    /// The inputs, in order.
    pub inputs: Vec<Input>,
    /// `encoding_format: "base64"`.
    pub base64: bool,
    /// `dimensions`, when set.
    pub dimensions: Option<u64>,
}

/// The inputs of `input`: a string, a list of strings, a token array or a list of token arrays.
fn inputs(input: Option<&Value>) -> Result<Vec<Input>, ApiError> {
    let list = match input {
        None | Some(Value::Null) => {
            return Err(bad("Missing required parameter: 'input'", "input"))
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(bad("`input` must not be an empty string", "input"))
        }
        Some(Value::String(s)) => return Ok(vec![Input::Text(s.clone())]),
        Some(Value::Array(list)) if list.is_empty() => {
            return Err(bad("`input` must not be an empty list", "input"))
        }
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad(
            "`input` must be a string, a list of strings, a token array or a list of token arrays",
            "input",
        )),
    };
    if list.len() > MAX_INPUTS {
        return Err(bad(
            format!(
                "`input` has {} items; at most {MAX_INPUTS} are allowed",
                list.len()
            ),
            "input",
        ));
    }
    if list.iter().all(Value::is_number) {
        return Ok(vec![Input::Tokens(tokens(list, "input")?)]);
    }
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let param = format!("input[{i}]");
            match item {
                Value::String(s) if s.is_empty() => {
                    Err(bad(format!("`{param}` must not be empty"), &param))
                }
                Value::String(s) => Ok(Input::Text(s.clone())),
                Value::Array(t) => Ok(Input::Tokens(tokens(t, &param)?)),
                _ => Err(bad(
                    format!("`{param}` must be a string or a token array"),
                    &param,
                )),
            }
        })
        .collect()
}

impl EmbeddingsRequest {
    /// Parses and validates the raw body.
    pub fn parse(raw: &[u8]) -> Result<EmbeddingsRequest, ApiError> {
        let (body, model) = model_of(raw)?;
        let inputs = inputs(body.get("input"))?;
        let base64 = match body.get("encoding_format") {
            None | Some(Value::Null) => false,
            Some(Value::String(f)) if f == "float" => false,
            Some(Value::String(f)) if f == "base64" => true,
            Some(_) => {
                return Err(bad(
                    "`encoding_format` must be \"float\" or \"base64\"",
                    "encoding_format",
                ))
            }
        };
        let dimensions = match body.get("dimensions") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|d| *d > 0)
                    .ok_or_else(|| bad("`dimensions` must be a positive integer", "dimensions"))?,
            ),
        };
        if stream_flag(&body)? {
            return Err(bad("embeddings cannot be streamed", "stream"));
        }
        if let Some(u) = body.get("user").filter(|u| !u.is_null() && !u.is_string()) {
            return Err(bad(format!("`user` must be a string, not {u}"), "user"));
        }
        Ok(EmbeddingsRequest {
            body,
            model,
            inputs,
            base64,
            dimensions,
        })
    }

    /// The body for an OpenAI-format upstream: as sent, `model` rewritten.
    pub fn upstream_body(&self, upstream_model: &str) -> Vec<u8> {
        let mut body = self.body.clone();
        body.insert("model".into(), json!(upstream_model));
        Value::Object(body).to_string().into_bytes()
    }
}

/// The Gemini `batchEmbedContents` bodies for an (OpenAI-shaped) embeddings request sent to the
/// Gemini adapter: one per [`GEMINI_BATCH`] inputs, in order. Token arrays cannot be sent.
pub fn gemini_batches(body: &Map<String, Value>, model: &str) -> Result<Vec<Value>, ApiError> {
    let raw = Value::Object(body.clone()).to_string();
    let request = EmbeddingsRequest::parse(raw.as_bytes())?;
    let mut requests = Vec::with_capacity(request.inputs.len());
    for (i, input) in request.inputs.iter().enumerate() {
        let Input::Text(text) = input else {
            return Err(ApiError::new(
                400,
                ErrorType::InvalidRequest,
                "gemini: token arrays cannot be embedded by Gemini; send the text",
            )
            .with_param(format!("input[{i}]"))
            .with_code("unsupported_parameter"));
        };
        let mut r =
            json!({"model": format!("models/{model}"), "content": {"parts": [{"text": text}]}});
        if let Some(d) = request.dimensions {
            r["outputDimensionality"] = json!(d);
        }
        requests.push(r);
    }
    Ok(requests
        .chunks(GEMINI_BATCH)
        .map(|c| json!({"requests": c}))
        .collect())
}

/// A rough token count of a text (about four characters a token), for providers that report
/// no usage.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

/// Gemini `batchEmbedContents` answers (in call order) → OpenAI's embeddings list with usage
/// estimated from the inputs (Gemini reports none).
pub fn from_gemini(
    answers: &[Value],
    body: &Map<String, Value>,
    model: &str,
) -> Result<Value, ApiError> {
    let mut data = Vec::new();
    for answer in answers {
        let list = answer
            .get("embeddings")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ApiError::new(
                    502,
                    ErrorType::Upstream,
                    "gemini: batchEmbedContents answered without `embeddings`",
                )
                .with_code("upstream_error")
            })?;
        for e in list {
            let values = e.get("values").cloned().unwrap_or_else(|| json!([]));
            data.push(json!({"object": "embedding", "index": data.len(), "embedding": values}));
        }
    }
    let raw = Value::Object(body.clone()).to_string();
    let request = EmbeddingsRequest::parse(raw.as_bytes())?;
    if data.len() != request.inputs.len() {
        return Err(ApiError::new(
            502,
            ErrorType::Upstream,
            format!(
                "gemini: {} embeddings for {} inputs",
                data.len(),
                request.inputs.len()
            ),
        )
        .with_code("upstream_error"));
    }
    let tokens: u64 = request
        .inputs
        .iter()
        .map(|i| match i {
            Input::Text(t) => estimate_tokens(t),
            Input::Tokens(t) => t.len() as u64,
        })
        .fold(0u64, u64::saturating_add);
    Ok(json!({
        "object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    }))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Floats as base64 of their little-endian float32 bytes (what OpenAI sends for `base64`).
pub fn encode_floats(values: &[Value]) -> Option<String> {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&(v.as_f64()? as f32).to_le_bytes());
    }
    Some(base64(&bytes))
}

/// Turns every float-array `embedding` of an answer into base64 (for `encoding_format: base64`
/// when the upstream answered with floats); already-encoded ones stay.
pub fn to_base64(answer: &mut Value) {
    for item in answer
        .get_mut("data")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let encoded = item
            .get("embedding")
            .and_then(Value::as_array)
            .and_then(|v| encode_floats(v));
        if let Some(e) = encoded {
            item["embedding"] = json!(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn parse(v: Value) -> Result<EmbeddingsRequest, ApiError> {
        EmbeddingsRequest::parse(v.to_string().as_bytes())
    }

    #[test]
    fn input_forms() {
        let r = parse(json!({"model": "m", "input": "hi"})).unwrap();
        assert_eq!(r.inputs, vec![Input::Text("hi".into())]);
        let r = parse(json!({"model": "m", "input": ["a", "b"]})).unwrap();
        assert_eq!(r.inputs.len(), 2);
        let r = parse(json!({"model": "m", "input": [1, 2, 3]})).unwrap();
        assert_eq!(r.inputs, vec![Input::Tokens(vec![1, 2, 3])]);
        let r = parse(json!({"model": "m", "input": [[1], [2, 3]], "encoding_format": "base64", "dimensions": 8})).unwrap();
        assert_eq!(r.inputs.len(), 2);
        assert!(r.base64);
        assert_eq!(r.dimensions, Some(8));
    }

    #[test]
    fn bad_input_names_the_param() {
        let many: Vec<Value> = (0..=MAX_INPUTS).map(|_| json!("x")).collect();
        let cases = [
            (json!({"input": "x"}), "model"),
            (json!({"model": "m"}), "input"),
            (json!({"model": "m", "input": ""}), "input"),
            (json!({"model": "m", "input": []}), "input"),
            (json!({"model": "m", "input": 3}), "input"),
            (json!({"model": "m", "input": {"a": 1}}), "input"),
            (json!({"model": "m", "input": ["a", 3]}), "input[1]"),
            (json!({"model": "m", "input": ["a", ""]}), "input[1]"),
            (json!({"model": "m", "input": [[1, 2.5]]}), "input[0][1]"),
            (json!({"model": "m", "input": [[1, "a"]]}), "input[0][1]"),
            (json!({"model": "m", "input": [[]]}), "input[0]"),
            (json!({"model": "m", "input": [1, -2]}), "input[1]"),
            (json!({"model": "m", "input": many}), "input"),
            (
                json!({"model": "m", "input": "x", "dimensions": 0}),
                "dimensions",
            ),
            (
                json!({"model": "m", "input": "x", "dimensions": -3}),
                "dimensions",
            ),
            (
                json!({"model": "m", "input": "x", "dimensions": "8"}),
                "dimensions",
            ),
            (
                json!({"model": "m", "input": "x", "encoding_format": "hex"}),
                "encoding_format",
            ),
            (json!({"model": "m", "input": "x", "user": 3}), "user"),
        ];
        for (body, param) in cases {
            let e = parse(body.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param.as_deref(), Some(param), "{body}");
        }
    }

    #[test]
    fn base64_is_little_endian_float32() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // 1.0f32 = 00 00 80 3f, -2.0f32 = 00 00 00 c0
        assert_eq!(
            encode_floats(&[json!(1.0), json!(-2.0)]).unwrap(),
            "AACAPwAAAMA="
        );
        let mut answer = json!({"data": [{"embedding": [0.5]}, {"embedding": "kept"}]});
        to_base64(&mut answer);
        assert_eq!(answer["data"][0]["embedding"], "AAAAPw==");
        assert_eq!(answer["data"][1]["embedding"], "kept");
    }

    #[test]
    fn gemini_batches_of_a_hundred_merge_in_order() {
        let input: Vec<Value> = (0..250).map(|i| json!(format!("text {i}"))).collect();
        let body = obj(json!({"model": "text-embedding-004", "input": input, "dimensions": 3}));
        let batches = gemini_batches(&body, "text-embedding-004").unwrap();
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[0]["requests"].as_array().unwrap().len(), 100);
        assert_eq!(batches[2]["requests"].as_array().unwrap().len(), 50);
        assert_eq!(
            batches[1]["requests"][0],
            json!({"model": "models/text-embedding-004", "content": {"parts": [{"text": "text 100"}]}, "outputDimensionality": 3})
        );
        let answers: Vec<Value> = batches
            .iter()
            .map(|b| {
                let n = b["requests"].as_array().unwrap().len();
                json!({"embeddings": (0..n).map(|i| json!({"values": [i as f64]})).collect::<Vec<_>>()})
            })
            .collect();
        let out = from_gemini(&answers, &body, "text-embedding-004").unwrap();
        assert_eq!(out["data"].as_array().unwrap().len(), 250);
        assert_eq!(out["data"][100]["index"], 100);
        assert_eq!(out["data"][100]["embedding"], json!([0.0]));
        assert!(out["usage"]["prompt_tokens"].as_u64().unwrap() >= 250);
        let short = from_gemini(&answers[..1], &body, "m").unwrap_err();
        assert_eq!(short.status, 502);
        let tokens = gemini_batches(&obj(json!({"model": "m", "input": [1, 2]})), "m").unwrap_err();
        assert_eq!(tokens.param.as_deref(), Some("input[0]"));
    }
}
