//! Request checks shared by the routes that call providers.

use crate::error::ApiError;

/// Returns the content-type error for a POST body that is not JSON (a missing header is accepted).
pub fn require_json(content_type: Option<&str>) -> Result<(), ApiError> {
    match content_type {
        None => Ok(()),
        Some(ct) => {
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media == "application/json" || media.ends_with("+json") {
                Ok(())
            } else {
                Err(ApiError::new(
                    415,
                    crate::ErrorType::InvalidRequest,
                    format!("Unsupported content type `{ct}`: send application/json"),
                )
                .with_code("unsupported_media_type"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(require_json(None).is_ok());
        assert!(require_json(Some("application/json; charset=utf-8")).is_ok());
        assert_eq!(require_json(Some("text/plain")).unwrap_err().status, 415);
        assert_eq!(
            require_json(Some("application/x-www-form-urlencoded"))
                .unwrap_err()
                .status,
            415
        );
    }
}
