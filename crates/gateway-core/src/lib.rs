//! Pure gateway logic shared by the Spin components: no Spin imports, unit-tested natively.

pub mod error;
pub mod sse;

pub use error::{ApiError, ErrorType};
