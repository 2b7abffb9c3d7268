//! JSON Schema (as OpenAI tools and `json_schema` formats use it) → the OpenAPI 3.0 subset Gemini
//! accepts in `parameters` and `responseSchema`: `$ref`s inlined from `$defs`/`definitions`,
//! `["T","null"]` types and `anyOf` with `null` turned into `nullable`, `oneOf` → `anyOf`,
//! `const` → `enum`, enums kept only on strings, formats kept only where Gemini knows them, and
//! keywords Gemini rejects (`additionalProperties`, `$schema`, `exclusiveMinimum`, ...) dropped.

use gateway_core::ApiError;
use serde_json::{json, Map, Value};

/// Keywords copied as they are.
const KEPT: &[&str] = &[
    "title",
    "description",
    "nullable",
    "maxItems",
    "minItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "minimum",
    "maximum",
    "default",
    "propertyOrdering",
];

/// How deep `$ref`s are followed before a recursive schema is cut to a plain object.
const MAX_DEPTH: usize = 12;
/// Most schema nodes one conversion may produce: `$ref`s to definitions that refer to themselves
/// several times would otherwise expand exponentially.
const MAX_NODES: usize = 20_000;

/// Converts a JSON Schema; `at` names it in the 400 answered when its `$ref`s expand past
/// [`MAX_NODES`].
pub fn convert(schema: &Value, at: &str) -> Result<Value, ApiError> {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut left = MAX_NODES;
    let converted = node(schema, &defs, 0, &mut left);
    if left == 0 {
        return Err(ApiError::bad_request(format!(
            "{at}: the schema expands to more than {MAX_NODES} nodes once its $refs are inlined, as Gemini needs"
        ))
        .with_param(at));
    }
    Ok(converted)
}

fn node(schema: &Value, defs: &Value, depth: usize, left: &mut usize) -> Value {
    let Some(obj) = schema.as_object() else {
        return json!({});
    };
    if *left == 0 {
        return json!({});
    }
    *left -= 1;
    if depth > MAX_DEPTH {
        return json!({"type": "object"});
    }
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or("");
        let mut target = node(defs.get(name).unwrap_or(&json!({})), defs, depth + 1, left);
        if let (Some(d), Some(t)) = (obj.get("description"), target.as_object_mut()) {
            t.insert("description".into(), d.clone());
        }
        return target;
    }
    if let Some(Value::Array(all)) = obj.get("allOf") {
        let mut merged = obj.clone();
        merged.remove("allOf");
        for part in all {
            if let Some(p) = part.as_object() {
                for (k, v) in p {
                    merged.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        return node(&Value::Object(merged), defs, depth + 1, left);
    }
    let mut out = Map::new();
    for key in KEPT {
        if let Some(v) = obj.get(*key) {
            out.insert((*key).into(), v.clone());
        }
    }
    let mut types: Vec<String> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if types.iter().any(|t| t == "null") {
        out.insert("nullable".into(), json!(true));
        types.retain(|t| t != "null");
    }
    let any = obj
        .get("anyOf")
        .or_else(|| obj.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(variants) = any {
        let (nulls, rest): (Vec<&Value>, Vec<&Value>) = variants
            .iter()
            .partition(|v| v.get("type").and_then(Value::as_str) == Some("null"));
        if !nulls.is_empty() {
            out.insert("nullable".into(), json!(true));
        }
        if let [only] = rest.as_slice() {
            let inner = node(only, defs, depth + 1, left);
            if let Some(inner) = inner.as_object() {
                for (k, v) in inner {
                    out.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            return Value::Object(out);
        }
        out.insert(
            "anyOf".into(),
            Value::Array(
                rest.iter()
                    .map(|v| node(v, defs, depth + 1, left))
                    .collect(),
            ),
        );
        return Value::Object(out);
    }
    match types.as_slice() {
        [] => {}
        [one] => {
            out.insert("type".into(), json!(one));
        }
        many => {
            out.insert(
                "anyOf".into(),
                Value::Array(many.iter().map(|t| json!({"type": t})).collect()),
            );
        }
    }
    let ty = out
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let enumeration = obj
        .get("enum")
        .cloned()
        .or_else(|| obj.get("const").map(|c| json!([c])));
    if let Some(Value::Array(values)) = enumeration {
        if values.iter().all(Value::is_string) && (ty.is_empty() || ty == "string") {
            out.insert("type".into(), json!("string"));
            out.insert("format".into(), json!("enum"));
            out.insert("enum".into(), Value::Array(values));
        }
    }
    if let Some(f) = obj.get("format").and_then(Value::as_str) {
        let known = match ty.as_str() {
            "string" => f == "date-time",
            "number" => f == "float" || f == "double",
            "integer" => f == "int32" || f == "int64",
            _ => false,
        };
        if known && !out.contains_key("format") {
            out.insert("format".into(), json!(f));
        }
    }
    if let Some(items) = obj.get("items") {
        out.insert("items".into(), node(items, defs, depth + 1, left));
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        if !props.is_empty() {
            let converted: Map<String, Value> = props
                .iter()
                .map(|(k, v)| (k.clone(), node(v, defs, depth + 1, left)))
                .collect();
            if let Some(Value::Array(req)) = obj.get("required") {
                let req: Vec<Value> = req
                    .iter()
                    .filter(|r| r.as_str().is_some_and(|r| converted.contains_key(r)))
                    .cloned()
                    .collect();
                if !req.is_empty() {
                    out.insert("required".into(), Value::Array(req));
                }
            }
            out.insert("properties".into(), Value::Object(converted));
        }
    }
    Value::Object(out)
}

/// True when a converted object schema declares no properties (Gemini rejects `parameters` of
/// type object with an empty `properties`; such a function is declared without parameters).
pub fn is_empty_object(schema: &Value) -> bool {
    schema.get("properties").is_none() && schema.get("anyOf").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapts_pydantic_style_schema() {
        let s = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object", "additionalProperties": false, "title": "Args",
            "$defs": {"Unit": {"type": "string", "enum": ["c", "f"], "description": "unit"}},
            "properties": {
                "city": {"type": "string", "format": "hostname", "minLength": 1},
                "unit": {"$ref": "#/$defs/Unit"},
                "days": {"anyOf": [{"type": "integer", "format": "int32"}, {"type": "null"}], "default": null},
                "tags": {"type": ["array", "null"], "items": {"const": "x"}},
                "level": {"type": "integer", "enum": [1, 2], "exclusiveMinimum": 0},
                "any": {"type": "object", "properties": {}, "additionalProperties": true}
            },
            "required": ["city", "ghost"]
        });
        let g = convert(&s, "schema").unwrap();
        assert!(g.get("additionalProperties").is_none() && g.get("$schema").is_none());
        assert_eq!(g["required"], json!(["city"]));
        let p = &g["properties"];
        assert_eq!(p["city"], json!({"type": "string", "minLength": 1}));
        assert_eq!(
            p["unit"],
            json!({"type": "string", "format": "enum", "enum": ["c", "f"], "description": "unit"})
        );
        assert_eq!(
            p["days"],
            json!({"type": "integer", "format": "int32", "nullable": true, "default": null})
        );
        assert_eq!(p["tags"]["nullable"], true);
        assert_eq!(p["tags"]["items"]["enum"], json!(["x"]));
        assert_eq!(p["level"], json!({"type": "integer"}));
        assert_eq!(p["any"], json!({"type": "object"}));
        assert!(is_empty_object(&p["any"]));
    }

    #[test]
    fn recursive_refs_terminate() {
        let s = json!({"$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
            "$ref": "#/$defs/Node"});
        let g = convert(&s, "schema").unwrap();
        assert_eq!(g["type"], "object");
        assert!(g.to_string().len() < 10_000);
    }

    #[test]
    fn exponential_refs_are_refused() {
        // Ten properties that each refer back to the definition: 10^6 nodes at depth 12.
        let props: Map<String, Value> = (0..10)
            .map(|i| (format!("p{i}"), json!({"$ref": "#/$defs/T"})))
            .collect();
        let s =
            json!({"$defs": {"T": {"type": "object", "properties": props}}, "$ref": "#/$defs/T"});
        let e = convert(&s, "tools[0].function.parameters").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.param.as_deref(), Some("tools[0].function.parameters"));
    }
}
