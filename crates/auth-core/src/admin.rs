//! LiteLLM-compatible key management (`/key/generate`, `/key/info`, `/key/update`,
//! `/key/delete`, `/key/list`), the usage API ([`crate::usage_api`]) and `/metrics`.
//! Everything needs the master key, except `GET /key/info` for the caller's own key and
//! `/metrics`, which also takes the `metrics_token`.

use gateway_core::{ApiError, ErrorType};
use serde_json::{json, Map, Value};

use crate::check::{budget_spent, spend_key, Secrets};
use crate::key_table::{self, KeyFilter};
use crate::keys::{constant_time_eq, hash_key, parse_duration_s, KeyRecord};
use crate::query_params::Params;
use crate::request_log;
use crate::sql::Sql;
use crate::store::{get_json, set_json, Kv};
use crate::{metrics, usage_api};

/// One admin request.
pub struct Request<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path without `/v1`.
    pub path: &'a str,
    /// Raw query string.
    pub query: &'a str,
    /// Caller's key.
    pub key: Option<&'a str>,
    /// JSON body text.
    pub body: &'a str,
}

/// What admin handlers get from their host.
pub struct Context<'a> {
    /// The store.
    pub kv: &'a dyn Kv,
    /// The `limits` store (budgets' pending spend).
    pub limits: &'a dyn Kv,
    /// The request log.
    pub log: &'a dyn Sql,
    /// Master key and pepper.
    pub secrets: Secrets<'a>,
    /// The token that may scrape `/metrics` besides the master key (empty: none).
    pub metrics_token: &'a str,
    /// Unix ms.
    pub now_ms: u64,
    /// 64 random bits per call.
    pub random: &'a mut dyn FnMut() -> u64,
}

/// Handles an admin request; returns status and JSON body.
pub fn handle(ctx: &mut Context, req: &Request) -> (u16, Value) {
    match route(ctx, req) {
        Ok(v) => (200, v),
        Err(e) => (e.status, e.to_openai_json()),
    }
}

fn unauthorized(msg: &str) -> ApiError {
    ApiError::new(401, ErrorType::Authentication, msg).with_code("invalid_api_key")
}

fn is_master(ctx: &Context, req: &Request) -> Result<bool, ApiError> {
    if ctx.secrets.master_key.is_empty() {
        return Err(ApiError::new(401, ErrorType::Authentication, "This gateway has no master key configured: set one with SPIN_VARIABLE_MASTER_KEY=sk-... (SpinApp variable master_key).").with_code("no_master_key"));
    }
    let key = req.key.ok_or_else(|| {
        unauthorized("Admin routes need the master key as `Authorization: Bearer <key>`.")
    })?;
    Ok(constant_time_eq(key, ctx.secrets.master_key))
}

fn store_err(e: String) -> ApiError {
    ApiError::internal(format!("auth store error: {e}")).with_code("auth_store_error")
}

fn route(ctx: &mut Context, req: &Request) -> Result<Value, ApiError> {
    let master = is_master(ctx, req)?;
    if req.path == "/key/info" {
        return key_info(ctx, req, master);
    }
    if !master {
        return Err(unauthorized(
            "Only the master key may use this admin route.",
        ));
    }
    let body: Map<String, Value> = if req.body.trim().is_empty() {
        Map::new()
    } else {
        match serde_json::from_str(req.body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(
                    ApiError::bad_request("The request body must be a JSON object")
                        .with_code("invalid_json"),
                )
            }
        }
    };
    match req.path {
        "/key/generate" => generate(ctx, &body),
        "/key/update" => update(ctx, &body),
        "/key/delete" => delete(ctx, &body),
        "/key/list" => list(ctx, req.query),
        "/spend/logs" => usage_api::spend_logs(ctx.log, req.query, ctx.now_ms, &|k| {
            Ok(find(ctx, k)?.map(|(_, r)| r.id))
        }),
        "/global/spend/report" => usage_api::spend_report(ctx.log, req.query, ctx.now_ms),
        "/global/activity" => usage_api::activity(ctx.log, req.query, ctx.now_ms),
        "/global/activity/model" => usage_api::activity_by_model(ctx.log, req.query, ctx.now_ms),
        "/usage/series" => usage_api::series(ctx.log, req.query, ctx.now_ms),
        other => Err(ApiError::new(
            404,
            ErrorType::NotFound,
            format!("Unknown admin path {other}"),
        )),
    }
}

fn opt_str(body: &Map<String, Value>, k: &str) -> Result<Option<String>, ApiError> {
    match body.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{k}` must be a string")).with_param(k)),
    }
}

fn opt_u64(body: &Map<String, Value>, k: &str) -> Result<Option<u64>, ApiError> {
    match body.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("`{k}` must be a non-negative integer")).with_param(k)
        }),
    }
}

/// A LiteLLM duration field (`30s`, `15m`, `1h`, `1d`, `30d`) in seconds.
fn opt_duration(body: &Map<String, Value>, k: &str) -> Result<Option<u64>, ApiError> {
    opt_str(body, k)?
        .map(|d| {
            parse_duration_s(&d).ok_or_else(|| {
                ApiError::bad_request(format!("`{k}` must look like 30s, 15m, 1h, 1d or 30d"))
                    .with_param(k)
            })
        })
        .transpose()
}

/// Applies the LiteLLM fields present in `body` to a record.
fn apply(ctx: &Context, record: &mut KeyRecord, body: &Map<String, Value>) -> Result<(), ApiError> {
    if body.contains_key("key_alias") {
        record.key_alias = opt_str(body, "key_alias")?;
    }
    if body.contains_key("team_id") {
        record.team_id = opt_str(body, "team_id")?;
    }
    if body.contains_key("user_id") {
        record.user_id = opt_str(body, "user_id")?;
    }
    if let Some(models) = body.get("models") {
        record.models = models
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|m| m.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                ApiError::bad_request("`models` must be a list of model names").with_param("models")
            })?;
    }
    if body.contains_key("rpm_limit") {
        record.rpm_limit = opt_u64(body, "rpm_limit")?;
    }
    if body.contains_key("tpm_limit") {
        record.tpm_limit = opt_u64(body, "tpm_limit")?;
    }
    if let Some(b) = body.get("max_budget") {
        record.max_budget = match b {
            Value::Null => None,
            v => Some(v.as_f64().filter(|f| *f >= 0.0).ok_or_else(|| {
                ApiError::bad_request("`max_budget` must be a non-negative number")
                    .with_param("max_budget")
            })?),
        };
    }
    if body.contains_key("budget_duration") {
        record.budget_period_s = opt_duration(body, "budget_duration")?;
    }
    if body.contains_key("duration") {
        record.expires_at_ms = opt_duration(body, "duration")?
            .map(|s| ctx.now_ms.saturating_add(s.saturating_mul(1000)));
    }
    if let Some(m) = body.get("metadata") {
        record.metadata = match m {
            Value::Null => Map::new(),
            Value::Object(o) => o.clone(),
            _ => {
                return Err(
                    ApiError::bad_request("`metadata` must be an object").with_param("metadata")
                )
            }
        };
    }
    Ok(())
}

/// A key as admin routes show it. `spend` is the key's total from the request log;
/// `budget_period_spend` is the counter its budget is checked against (keys with a budget).
fn view(ctx: &Context, r: &KeyRecord) -> Result<Value, ApiError> {
    let (spend, last_used) = request_log::key_totals(ctx.log, &r.id).map_err(store_err)?;
    let period_spend = match r.max_budget {
        Some(_) => {
            budget_spent(ctx.kv, ctx.limits, &spend_key(r, ctx.now_ms)).map_err(store_err)?
        }
        None => spend,
    };
    Ok(json!({
        "key_id": r.id, "key_name": format!("{}...", r.prefix), "key_alias": r.key_alias,
        "team_id": r.team_id, "user_id": r.user_id, "models": r.models,
        "rpm_limit": r.rpm_limit, "tpm_limit": r.tpm_limit, "max_budget": r.max_budget,
        "budget_duration": r.budget_period_s.map(|s| format!("{s}s")),
        "spend": spend, "budget_period_spend": period_spend,
        "expires": r.expires_at_ms, "metadata": r.metadata, "created_at": r.created_at_ms,
        "last_used_at": last_used,
    }))
}

fn generate(ctx: &mut Context, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let secret: String = (0..4).map(|_| format!("{:016x}", (ctx.random)())).collect();
    let key = format!("sk-{}", &secret[..48]);
    let id = format!("key_{:016x}", (ctx.random)());
    let mut record = KeyRecord {
        id: id.clone(),
        prefix: key[..7].to_string(),
        created_at_ms: ctx.now_ms,
        ..Default::default()
    };
    apply(ctx, &mut record, body)?;
    let hash = hash_key(ctx.secrets.pepper(), &key);
    // The listing first: a key the table cannot show is never handed out.
    key_table::put(ctx.log, &record).map_err(store_err)?;
    set_json(ctx.kv, &format!("key/{hash}"), &record).map_err(store_err)?;
    ctx.kv
        .set(&format!("keyid/{id}"), hash.as_bytes())
        .map_err(store_err)?;
    index_alias(ctx, None, &record)?;
    let mut out = view(ctx, &record)?;
    out["key"] = Value::String(key);
    Ok(out)
}

/// Points `keyalias/<alias>` at the key id in the shared store (every replica finds a key by its
/// alias, whatever its own request log holds), dropping the entry of an alias the key gave up.
fn index_alias(ctx: &Context, old: Option<&str>, record: &KeyRecord) -> Result<(), ApiError> {
    if let Some(old) = old.filter(|o| Some(*o) != record.key_alias.as_deref()) {
        ctx.kv
            .delete(&format!("keyalias/{old}"))
            .map_err(store_err)?;
    }
    if let Some(alias) = &record.key_alias {
        ctx.kv
            .set(&format!("keyalias/{alias}"), record.id.as_bytes())
            .map_err(store_err)?;
    }
    Ok(())
}

/// Finds a record by full key, key id or alias.
fn find(ctx: &Context, needle: &str) -> Result<Option<(String, KeyRecord)>, ApiError> {
    let hash = if needle.starts_with("sk-") {
        Some(hash_key(ctx.secrets.pepper(), needle))
    } else if let Some(h) = ctx.kv.get(&format!("keyid/{needle}")).map_err(store_err)? {
        Some(String::from_utf8_lossy(&h).into_owned())
    } else if let Some(id) = match ctx
        .kv
        .get(&format!("keyalias/{needle}"))
        .map_err(store_err)?
    {
        Some(id) => Some(String::from_utf8_lossy(&id).into_owned()),
        // Keys made before the alias index: the request log's key table.
        None => key_table::id_by_alias(ctx.log, needle).map_err(store_err)?,
    } {
        ctx.kv
            .get(&format!("keyid/{id}"))
            .map_err(store_err)?
            .map(|h| String::from_utf8_lossy(&h).into_owned())
    } else {
        None
    };
    let Some(hash) = hash else { return Ok(None) };
    Ok(get_json::<KeyRecord>(ctx.kv, &format!("key/{hash}"))
        .map_err(store_err)?
        .map(|r| (hash, r)))
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|p| {
        p.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

fn key_info(ctx: &Context, req: &Request, master: bool) -> Result<Value, ApiError> {
    let asked = query_param(req.query, "key").map(str::to_string);
    let target = match (&asked, master) {
        (Some(k), true) => k.clone(),
        (None, true) => {
            return Err(ApiError::bad_request("Pass ?key=<key, key id or alias>").with_param("key"))
        }
        (Some(k), false) if Some(k.as_str()) != req.key => {
            return Err(unauthorized("A key may only read its own info."))
        }
        _ => req.key.unwrap_or_default().to_string(),
    };
    let (_, record) = find(ctx, &target)?.ok_or_else(|| {
        if master {
            ApiError::new(404, ErrorType::NotFound, "No such key").with_code("key_not_found")
        } else {
            unauthorized("Invalid API key.")
        }
    })?;
    Ok(json!({ "key": record.id, "info": view(ctx, &record)? }))
}

fn update(ctx: &mut Context, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let needle = opt_str(body, "key")?
        .ok_or_else(|| ApiError::bad_request("`key` is required").with_param("key"))?;
    let (hash, mut record) = find(ctx, &needle)?.ok_or_else(|| {
        ApiError::new(404, ErrorType::NotFound, "No such key").with_code("key_not_found")
    })?;
    let old_alias = record.key_alias.clone();
    apply(ctx, &mut record, body)?;
    set_json(ctx.kv, &format!("key/{hash}"), &record).map_err(store_err)?;
    index_alias(ctx, old_alias.as_deref(), &record)?;
    key_table::put(ctx.log, &record).map_err(store_err)?;
    view(ctx, &record)
}

fn delete(ctx: &mut Context, body: &Map<String, Value>) -> Result<Value, ApiError> {
    let list = |k: &str| -> Vec<String> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let needles: Vec<String> = list("keys")
        .into_iter()
        .chain(list("key_aliases"))
        .collect();
    if needles.is_empty() {
        return Err(
            ApiError::bad_request("Pass `keys` or `key_aliases` as a list").with_param("keys"),
        );
    }
    let mut deleted = Vec::new();
    for n in needles {
        if let Some((hash, record)) = find(ctx, &n)? {
            ctx.kv.delete(&format!("key/{hash}")).map_err(store_err)?;
            ctx.kv
                .delete(&format!("keyid/{}", record.id))
                .map_err(store_err)?;
            if let Some(alias) = &record.key_alias {
                ctx.kv
                    .delete(&format!("keyalias/{alias}"))
                    .map_err(store_err)?;
            }
            key_table::remove(ctx.log, &record.id).map_err(store_err)?;
            deleted.push(record.id);
        }
    }
    Ok(json!({ "deleted_keys": deleted }))
}

/// `/key/list`: pages of the SQL key table, newest first (never a listing of the key-value store).
fn list(ctx: &Context, query: &str) -> Result<Value, ApiError> {
    let p = Params::parse(query, &["page", "size", "key_alias", "team_id"])?;
    let page = p.int_in("page", 1..=1_000_000, 1)?;
    let size = p.int_in("size", 1..=100, 10)?;
    key_table::list(
        ctx.log,
        &KeyFilter {
            key_alias: p.get("key_alias"),
            team_id: p.get("team_id"),
        },
        page,
        size,
    )
    .map_err(store_err)
}

/// `GET /metrics`: Prometheus text for the master key or the `metrics_token`; else the status and
/// an OpenAI error JSON text.
pub fn metrics(ctx: &Context, key: Option<&str>) -> (u16, String) {
    let allowed = key.is_some_and(|k| {
        (!ctx.secrets.master_key.is_empty() && constant_time_eq(k, ctx.secrets.master_key))
            || (!ctx.metrics_token.is_empty() && constant_time_eq(k, ctx.metrics_token))
    });
    let result = if allowed {
        metrics::render(ctx.log).map_err(store_err)
    } else {
        Err(unauthorized(
            "/metrics needs the master key or the `metrics_token` as `Authorization: Bearer <key>`.",
        ))
    };
    match result {
        Ok(text) => (200, text),
        Err(e) => (e.status, e.to_openai_json().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check;
    use crate::sql::sqlite::TestDb;
    use crate::store::memory::MemoryKv;

    fn call(
        kv: &MemoryKv,
        log: &TestDb,
        method: &str,
        path: &str,
        query: &str,
        key: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let mut n = 7u64;
        let mut random = move || {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            n
        };
        let mut ctx = Context {
            kv,
            limits: kv,
            log,
            secrets: Secrets {
                master_key: "sk-master",
                pepper: "",
            },
            metrics_token: "",
            now_ms: 1_800_000_000_000,
            random: &mut random,
        };
        handle(
            &mut ctx,
            &Request {
                method,
                path,
                query,
                key,
                body,
            },
        )
    }

    #[test]
    fn key_lifecycle() {
        let kv = MemoryKv::default();
        let log = TestDb::new();
        let (s, v) = call(
            &kv,
            &log,
            "POST",
            "/key/generate",
            "",
            Some("sk-master"),
            r#"{"key_alias":"team-a","models":["gpt-*"],"rpm_limit":5}"#,
        );
        assert_eq!(s, 200, "{v}");
        let key = v["key"].as_str().unwrap().to_string();
        assert!(key.starts_with("sk-") && key.len() == 51);
        let stored = format!("{:?}", kv.0.lock().unwrap());
        assert!(!stored.contains(&key[3..]), "the key is never stored");
        let secrets = Secrets {
            master_key: "sk-master",
            pepper: "",
        };
        assert!(check(&kv, &kv, &secrets, Some(&key), "gpt-4o", 1_800_000_000_000).is_ok());
        let (s, info) = call(&kv, &log, "GET", "/key/info", "", Some(&key), "");
        assert_eq!(s, 200);
        assert_eq!(info["info"]["key_alias"], "team-a");
        assert!(!info.to_string().contains(&key));
        let (s, _) = call(&kv, &log, "GET", "/key/list", "", Some(&key), "");
        assert_eq!(s, 401, "only the master key lists keys");
        let (s, l) = call(&kv, &log, "GET", "/key/list", "", Some("sk-master"), "");
        assert_eq!((s, l["total_count"].as_u64()), (200, Some(1)));
        let (s, u) = call(
            &kv,
            &log,
            "POST",
            "/key/update",
            "",
            Some("sk-master"),
            r#"{"key":"team-a","rpm_limit":9}"#,
        );
        assert_eq!((s, u["rpm_limit"].as_u64()), (200, Some(9)));
        let (s, d) = call(
            &kv,
            &log,
            "POST",
            "/key/delete",
            "",
            Some("sk-master"),
            &format!(r#"{{"keys":["{key}"]}}"#),
        );
        assert_eq!(s, 200);
        assert_eq!(d["deleted_keys"].as_array().unwrap().len(), 1);
        assert!(check(&kv, &kv, &secrets, Some(&key), "gpt-4o", 1_800_000_000_000).is_err());
    }

    /// `budget_period_spend` is what the budget is checked against: the durable total plus the
    /// spend still pending in `limits`.
    #[test]
    fn budget_spend_shown_is_the_spend_checked() {
        let kv = MemoryKv::default();
        let log = TestDb::new();
        let (_, v) = call(
            &kv,
            &log,
            "POST",
            "/key/generate",
            "",
            Some("sk-master"),
            r#"{"key_alias":"b","max_budget":1}"#,
        );
        let id = v["key_id"].as_str().unwrap().to_string();
        kv.increment(&format!("spend/{id}"), 250_000).unwrap();
        kv.increment(&format!("pending/spend/{id}"), 500_000)
            .unwrap();
        let (_, info) = call(
            &kv,
            &log,
            "GET",
            "/key/info",
            "key=b",
            Some("sk-master"),
            "",
        );
        assert_eq!(info["info"]["budget_period_spend"], 0.75, "{info}");
    }

    #[test]
    fn bad_admin_input() {
        let kv = MemoryKv::default();
        let log = TestDb::new();
        for (path, body, status) in [
            ("/key/generate", "not json", 400),
            ("/key/generate", r#"{"rpm_limit":-1}"#, 400),
            ("/key/generate", r#"{"models":"gpt"}"#, 400),
            ("/key/generate", r#"{"duration":"forever"}"#, 400),
            ("/key/update", r#"{}"#, 400),
            ("/key/update", r#"{"key":"nope"}"#, 404),
            ("/key/delete", r#"{}"#, 400),
        ] {
            let (s, v) = call(&kv, &log, "POST", path, "", Some("sk-master"), body);
            assert_eq!(s, status, "{path} {body}: {v}");
            assert!(v["error"]["message"].is_string());
        }
        assert_eq!(
            call(&kv, &log, "POST", "/key/generate", "", None, "{}").0,
            401
        );
        assert_eq!(
            call(
                &kv,
                &log,
                "POST",
                "/key/generate",
                "",
                Some("sk-other"),
                "{}"
            )
            .0,
            401
        );
    }

    #[test]
    fn an_alias_is_found_on_a_replica_with_its_own_log() {
        let kv = MemoryKv::default();
        let (s, v) = call(
            &kv,
            &TestDb::new(),
            "POST",
            "/key/generate",
            "",
            Some("sk-master"),
            r#"{"key_alias":"shared"}"#,
        );
        assert_eq!(s, 200, "{v}");
        // Another replica: the same shared store, a request log of its own.
        let other = TestDb::new();
        let (s, info) = call(
            &kv,
            &other,
            "GET",
            "/key/info",
            "key=shared",
            Some("sk-master"),
            "",
        );
        assert_eq!(s, 200, "{info}");
        assert_eq!(info["info"]["key_alias"], "shared");
        let (s, _) = call(
            &kv,
            &other,
            "POST",
            "/key/update",
            "",
            Some("sk-master"),
            r#"{"key":"shared","key_alias":"renamed"}"#,
        );
        assert_eq!(s, 200);
        let (s, _) = call(
            &kv,
            &other,
            "GET",
            "/key/info",
            "key=shared",
            Some("sk-master"),
            "",
        );
        assert_eq!(s, 404, "the old alias is gone");
        let (s, _) = call(
            &kv,
            &TestDb::new(),
            "POST",
            "/key/delete",
            "",
            Some("sk-master"),
            r#"{"key_aliases":["renamed"]}"#,
        );
        assert_eq!(s, 200);
        let (s, _) = call(
            &kv,
            &other,
            "GET",
            "/key/info",
            "key=renamed",
            Some("sk-master"),
            "",
        );
        assert_eq!(s, 404, "a deleted key's alias is gone");
    }
}
