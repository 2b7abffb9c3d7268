//! The router's public paths: each is served with and without the `/v1` prefix, like LiteLLM.

use crate::error::{ApiError, ErrorType};
use crate::model_admin::ModelPath;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/completions` (legacy text completions).
    Completions,
    /// `POST /v1/responses` (OpenAI Responses API).
    Responses,
    /// `GET /v1/responses/{id}`: a response the gateway stored.
    GetResponse(String),
    /// `DELETE /v1/responses/{id}`.
    DeleteResponse(String),
    /// `POST /v1/messages` (Anthropic Messages front door).
    Messages,
    /// `POST /v1/messages/count_tokens` (Anthropic's token counting, used by Claude Code).
    CountTokens,
    /// `GET /v1/models`.
    ListModels,
    /// `GET /v1/models/{id}` (the id may contain `/`).
    GetModel(String),
    /// `GET /health` (no auth).
    Health,
    /// `GET /health/liveliness` (no auth): the process answers.
    Liveliness,
    /// `GET /health/readiness` (no auth): the config loads.
    Readiness,
    /// LiteLLM-compatible key management and spend paths (`/key/...`, `/spend/...`, ...).
    Admin(String),
    /// LiteLLM's model management paths (`/model/new`, `/model/info`, ...).
    Models(ModelPath),
}

/// Admin paths handed to the auth component.
const ADMIN_PATHS: &[(&str, &str)] = &[
    ("/key/generate", "POST"),
    ("/key/update", "POST"),
    ("/key/delete", "POST"),
    ("/key/info", "GET"),
    ("/key/list", "GET"),
    ("/spend/logs", "GET"),
    ("/global/spend/report", "GET"),
    ("/global/activity", "GET"),
    ("/global/activity/model", "GET"),
    ("/usage/series", "GET"),
    ("/metrics", "GET"),
];

impl Route {
    /// Resolves a method and path (query already removed) to a route, or a 404/405 error.
    pub fn resolve(method: &str, path: &str) -> Result<Route, ApiError> {
        let trimmed = path.trim_end_matches('/');
        let bare = trimmed
            .strip_prefix("/v1")
            .filter(|rest| rest.is_empty() || rest.starts_with('/'));
        let bare = bare.unwrap_or(trimmed);
        let (route, allowed) = match bare {
            "/chat/completions" => (Route::ChatCompletions, "POST"),
            "/embeddings" => (Route::Embeddings, "POST"),
            "/completions" => (Route::Completions, "POST"),
            "/responses" => (Route::Responses, "POST"),
            "/messages" => (Route::Messages, "POST"),
            "/messages/count_tokens" => (Route::CountTokens, "POST"),
            "/models" => (Route::ListModels, "GET"),
            "/health" => (Route::Health, "GET"),
            "/health/liveliness" => (Route::Liveliness, "GET"),
            "/health/readiness" => (Route::Readiness, "GET"),
            other => {
                if let Some(id) = other
                    .strip_prefix("/responses/")
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                {
                    let id = percent_decode(id);
                    return match method {
                        "GET" | "HEAD" => Ok(Route::GetResponse(id)),
                        "DELETE" => Ok(Route::DeleteResponse(id)),
                        _ => Err(ApiError::new(
                            405,
                            ErrorType::InvalidRequest,
                            format!("Method {method} is not allowed on {path}; use GET or DELETE"),
                        )
                        .with_code("method_not_allowed")
                        .with_header("allow", "GET, DELETE")),
                    };
                }
                if let Some(id) = other.strip_prefix("/models/").filter(|id| !id.is_empty()) {
                    (Route::GetModel(percent_decode(id)), "GET")
                } else if let Some((admin, m)) = ADMIN_PATHS.iter().find(|(p, _)| *p == other) {
                    (Route::Admin(admin.to_string()), *m)
                } else if let Some((model_path, m)) = ModelPath::resolve(other) {
                    (Route::Models(model_path), m)
                } else {
                    return Err(ApiError::new(
                        404,
                        ErrorType::NotFound,
                        format!("Unknown path: {method} {path}"),
                    )
                    .with_code("unknown_url"));
                }
            }
        };
        if method == allowed || (allowed == "GET" && method == "HEAD") {
            Ok(route)
        } else {
            Err(ApiError::new(
                405,
                ErrorType::InvalidRequest,
                format!("Method {method} is not allowed on {path}; use {allowed}"),
            )
            .with_code("method_not_allowed")
            .with_header("allow", allowed))
        }
    }
}

/// Decodes `%XX` escapes (model ids with `/` may arrive encoded as `%2F`); invalid escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_with_and_without_v1() {
        for p in [
            "/v1/chat/completions",
            "/chat/completions",
            "/v1/chat/completions/",
        ] {
            assert_eq!(Route::resolve("POST", p).unwrap(), Route::ChatCompletions);
        }
        assert_eq!(
            Route::resolve("GET", "/v1/models").unwrap(),
            Route::ListModels
        );
        assert_eq!(
            Route::resolve("GET", "/v1/models/meta-llama/Llama-3").unwrap(),
            Route::GetModel("meta-llama/Llama-3".into())
        );
        assert_eq!(
            Route::resolve("GET", "/models/a%2Fb").unwrap(),
            Route::GetModel("a/b".into())
        );
        assert_eq!(Route::resolve("GET", "/health").unwrap(), Route::Health);
        assert_eq!(
            Route::resolve("POST", "/key/generate").unwrap(),
            Route::Admin("/key/generate".into())
        );
        assert_eq!(
            Route::resolve("POST", "/v1/messages").unwrap(),
            Route::Messages
        );
        assert_eq!(
            Route::resolve("PATCH", "/model/rt-1/update").unwrap(),
            Route::Models(ModelPath::UpdateById("rt-1".into()))
        );
        assert_eq!(
            Route::resolve("GET", "/v1/model/info").unwrap(),
            Route::Models(ModelPath::Info)
        );
        assert_eq!(
            Route::resolve("POST", "/v1/messages/count_tokens").unwrap(),
            Route::CountTokens
        );
    }

    #[test]
    fn openai_surface_routes() {
        assert_eq!(
            Route::resolve("POST", "/v1/embeddings").unwrap(),
            Route::Embeddings
        );
        assert_eq!(
            Route::resolve("POST", "/completions").unwrap(),
            Route::Completions
        );
        assert_eq!(
            Route::resolve("POST", "/v1/responses").unwrap(),
            Route::Responses
        );
        assert_eq!(
            Route::resolve("GET", "/v1/responses/resp_1").unwrap(),
            Route::GetResponse("resp_1".into())
        );
        assert_eq!(
            Route::resolve("DELETE", "/v1/responses/resp_1").unwrap(),
            Route::DeleteResponse("resp_1".into())
        );
        assert_eq!(
            Route::resolve("POST", "/v1/responses/x")
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            Route::resolve("GET", "/v1/embeddings").unwrap_err().status,
            405
        );
    }

    #[test]
    fn unknown_and_wrong_method() {
        let e = Route::resolve("GET", "/v1/nope").unwrap_err();
        assert_eq!(e.status, 404);
        assert_eq!(
            Route::resolve("GET", "/v1x/models").unwrap_err().status,
            404
        );
        let e = Route::resolve("GET", "/v1/chat/completions").unwrap_err();
        assert_eq!(e.status, 405);
        assert_eq!(e.headers, vec![("allow".to_string(), "POST".to_string())]);
        assert_eq!(
            Route::resolve("DELETE", "/v1/models").unwrap_err().status,
            405
        );
    }

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zz"), "a%zz");
        assert_eq!(percent_decode("%41"), "A");
    }
}
