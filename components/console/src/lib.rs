//! The operator console: a single-page web UI at `/ui` (LiteLLM's path) over the gateway's admin
//! API. Every file is compiled into the component; pages use relative URLs only, so the console
//! also works behind a proxy that adds a path prefix.

mod assets;
mod serve;

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(request: Request) -> Response {
    // Spin's path below the matched route (`/ui/...`): empty for `/ui` itself.
    let rest = request
        .header("spin-path-info")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| {
            let path = request.path();
            path.strip_prefix("/ui").unwrap_or(path).to_string()
        });
    let method = request.method().to_string();
    let if_none_match = request.header("if-none-match").and_then(|v| v.as_str());
    let answer = serve::answer(&method, &rest, if_none_match);
    let body = if method == "HEAD" {
        &[][..]
    } else {
        answer.body
    };
    let mut response = Response::builder();
    response.status(answer.status);
    for (name, value) in &answer.headers {
        response.header(name, value);
    }
    response.body(body.to_vec()).build()
}
