//! Mock LLM providers on loopback for end-to-end tests. They speak the providers' real wire
//! formats, taken from the API references:
//! - OpenAI "Create chat completion": the `chat.completion` object, the `chat.completion.chunk`
//!   stream (`data: {...}` events, `usage: null` on every chunk and a final chunk with empty
//!   `choices` and the usage when `stream_options.include_usage` is set, then `data: [DONE]`),
//!   and the error object `{"error":{"message","type","param","code"}}` (401 `invalid_api_key`);
//!   embeddings, legacy completions and the Responses API (`embed.rs`, `legacy_and_responses.rs`).
//! - Anthropic Messages (`/v1/messages`): the message object, the documented SSE event sequence; 401 `authentication_error`.
//! - Gemini `generateContent` / `streamGenerateContent?alt=sse`: Gemini's 400 `API_KEY_INVALID`
//!   for a wrong key, `batchEmbedContents`, prompt blocks (`mock-prompt-blocked`) and safety stops (`mock-safety-stop`).
//!
//! Test controls are chosen by the requested (upstream) model name: `mock-error-<status>`,
//! `mock-hang`, `mock-stream-gate` (holds the rest of a stream until [`Mock::release_gate`]),
//! `mock-midstream-error`, `mock-slow-first-event` (a stream whose first event comes 100 ms after
//! its head), `mock-delay-<ms>` (the answer after a delay), `mock-first-event-after-<ms>`, and the
//! scripted failures of the OpenAI mock (`mock-fail-<n>-<status>`, `mock-retry-after-<s>`,
//! `mock-context-window`, `mock-content-policy`: see `openai.rs`). Every request is recorded.

mod anthropic;
mod embed;
mod gemini;
mod legacy_and_responses;
mod openai;
pub mod server;

pub use server::{start, Mock, MockConfig, Recorded};
