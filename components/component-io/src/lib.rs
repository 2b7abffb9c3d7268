//! Blocking WASI 0.2 HTTP helpers shared by the gateway's Spin components.
//!
//! Components handle one request per instance, so plain blocking calls on WASI pollables are all
//! the concurrency they need: a stream is copied chunk by chunk as the upstream produces it.

pub mod inbound;
pub mod outbound;
pub mod provider;
pub mod respond;
pub mod translated;

pub use inbound::Inbound;
pub use outbound::{send, UpstreamRequest};
pub use respond::{respond_error, respond_json, respond_whole, BodyWriter};
