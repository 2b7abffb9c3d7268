//! Pure gateway logic shared by the Spin components: no Spin imports, unit-tested natively.

pub mod chat;
pub mod config;
pub mod credentials;
pub mod error;
pub mod model_admin;
pub mod models;
pub mod policy;
pub mod pricing;
pub mod relay;
pub mod routes;
pub mod routing;
pub mod sse;
pub mod upstream;
pub mod usage;

pub use error::{ApiError, ErrorType};
