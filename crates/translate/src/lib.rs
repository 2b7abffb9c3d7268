//! Translation between OpenAI chat completions (the gateway's canonical format) and the native
//! formats of Anthropic Messages and Google Gemini `generateContent`, streams included, plus the
//! reverse direction used by the gateway's Anthropic Messages front door. Pure Rust, no Spin.
//!
//! Errors are [`gateway_core::ApiError`]s that name the provider.

pub mod anthropic;
pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod gemini;
pub mod messages;
pub mod openai;
pub mod params;
pub mod request;
pub mod responses;

pub use gateway_core::sse::Translator;
