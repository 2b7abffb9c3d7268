//! `POST /` with `{"db": "default", "v2": false, "reopen": false, "ops": [{"sql", "params"}]}`:
//! opens the database (again per op with `reopen`), runs each op and answers
//! `{"open": ..., "results": [...]}` exactly as the host returned them.

use serde_json::{json, Value as Json};
use spin_sdk::http::{ErrorCode, Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;
use spin_sdk::{sqlite as v2, sqlite3 as v3};

fn from_json(v: &Json) -> v3::Value {
    match v {
        Json::Null => v3::Value::Null,
        Json::Number(n) if n.is_i64() => v3::Value::Integer(n.as_i64().unwrap_or_default()),
        Json::Number(n) => v3::Value::Real(n.as_f64().unwrap_or_default()),
        Json::String(s) => v3::Value::Text(s.clone()),
        Json::Object(o) if o.contains_key("blob") => v3::Value::Blob(
            o["blob"]
                .as_array()
                .map(|a| a.iter().map(|b| b.as_u64().unwrap_or(0) as u8).collect())
                .unwrap_or_default(),
        ),
        other => v3::Value::Text(other.to_string()),
    }
}

fn to_json(v: &v3::Value) -> Json {
    match v {
        v3::Value::Integer(i) => json!({ "integer": i }),
        v3::Value::Real(r) => json!({ "real": r }),
        v3::Value::Text(t) => json!({ "text": t }),
        v3::Value::Blob(b) => json!({ "blob": b }),
        v3::Value::Null => json!("null"),
    }
}

fn v2_to_v3(v: &v2::Value) -> v3::Value {
    match v {
        v2::Value::Integer(i) => v3::Value::Integer(*i),
        v2::Value::Real(r) => v3::Value::Real(*r),
        v2::Value::Text(t) => v3::Value::Text(t.clone()),
        v2::Value::Blob(b) => v3::Value::Blob(b.clone()),
        v2::Value::Null => v3::Value::Null,
    }
}

fn v3_to_v2(v: v3::Value) -> v2::Value {
    match v {
        v3::Value::Integer(i) => v2::Value::Integer(i),
        v3::Value::Real(r) => v2::Value::Real(r),
        v3::Value::Text(t) => v2::Value::Text(t),
        v3::Value::Blob(b) => v2::Value::Blob(b),
        v3::Value::Null => v2::Value::Null,
    }
}

fn result(columns: &[String], rows: Vec<Vec<Json>>) -> Json {
    json!({ "columns": columns, "rows": rows })
}

fn run(req: &Json) -> Json {
    let db = req["db"].as_str().unwrap_or("default");
    let ops = req["ops"].as_array().cloned().unwrap_or_default();
    let reopen = req["reopen"].as_bool().unwrap_or(false);
    let mut results = Vec::new();
    if req["v2"].as_bool().unwrap_or(false) {
        let mut conn = match v2::Connection::open(db) {
            Ok(c) => c,
            Err(e) => return json!({ "open": format!("{e:?}") }),
        };
        for op in &ops {
            if reopen {
                conn = v2::Connection::open(db).expect("reopen");
            }
            let params: Vec<v2::Value> = op["params"]
                .as_array()
                .map(|a| a.iter().map(|p| v3_to_v2(from_json(p))).collect())
                .unwrap_or_default();
            results.push(
                match conn.execute(op["sql"].as_str().unwrap_or(""), &params) {
                    Ok(r) => result(
                        &r.columns,
                        r.rows
                            .iter()
                            .map(|row| row.values.iter().map(|v| to_json(&v2_to_v3(v))).collect())
                            .collect(),
                    ),
                    Err(e) => json!({ "error": format!("{e:?}") }),
                },
            );
        }
        return json!({ "open": "ok", "results": results });
    }
    let mut conn = match v3::Connection::open(db) {
        Ok(c) => c,
        Err(e) => return json!({ "open": format!("{e:?}") }),
    };
    for op in &ops {
        if reopen {
            conn = v3::Connection::open(db).expect("reopen");
        }
        let params: Vec<v3::Value> = op["params"]
            .as_array()
            .map(|a| a.iter().map(from_json).collect())
            .unwrap_or_default();
        let mut answer = match conn.execute(op["sql"].as_str().unwrap_or(""), &params) {
            Ok(r) => result(
                &r.columns,
                r.rows
                    .iter()
                    .map(|row| row.values.iter().map(to_json).collect())
                    .collect(),
            ),
            Err(e) => json!({ "error": format!("{e:?}") }),
        };
        answer["changes"] = json!(conn.changes());
        answer["last_insert_rowid"] = json!(conn.last_insert_rowid());
        results.push(answer);
    }
    json!({ "open": "ok", "results": results })
}

#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let path = req.path_with_query().unwrap_or_default();
    let body = req.into_body().await.unwrap_or_default();
    match path.as_str() {
        // How the host answers a guest that fails before answering, and one that answers with an
        // error code instead of a response.
        "/trap" => panic!("the probe traps on purpose"),
        "/error-code" => spin_sdk::wit::wasi::http0_2_0::types::ResponseOutparam::set(
            out.into_inner(),
            Err(ErrorCode::HttpRequestDenied),
        ),
        _ => {
            let request = serde_json::from_slice(&body).unwrap_or(Json::Null);
            let headers =
                Fields::from_list(&[("content-type".to_string(), b"application/json".to_vec())])
                    .expect("headers");
            let response = OutgoingResponse::new(headers);
            let _ = out
                .set_with_body(response, run(&request).to_string().into_bytes())
                .await;
        }
    }
}
