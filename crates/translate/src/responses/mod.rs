//! `POST /v1/responses` (OpenAI Responses API) bridged through chat for providers without it:
//! the request's items to chat messages ([`request`]), a chat answer to a `response` object
//! ([`response`]) and a chat stream to the Responses event sequence ([`stream`]). The gateway
//! keeps conversations as chat messages, so a follow-up (`previous_response_id`) continues on
//! any provider.

pub mod request;
pub mod response;
pub mod stream;

pub use request::ResponsesRequest;

/// Built-in (hosted) tool types that only OpenAI runs; refused on a bridged provider.
pub const BUILT_IN_TOOLS: &[&str] = &[
    "web_search",
    "web_search_preview",
    "file_search",
    "code_interpreter",
    "mcp",
    "computer_use",
    "computer_use_preview",
    "image_generation",
    "local_shell",
];
