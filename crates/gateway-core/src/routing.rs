//! Choosing among the deployments of one logical model: a random order to try them in, and
//! which failures move on to the next one.

use crate::error::ApiError;

/// A random permutation of `0..n` from a seed (splitmix64 + Fisher–Yates).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Whether another deployment should be tried after this failure: rate limits, server-side
/// and transport failures (a provider missing its key included); never the caller's own mistakes.
pub fn should_fail_over(error: &ApiError) -> bool {
    error.status == 429 || error.status >= 500
}

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
    use crate::ErrorType;

    #[test]
    fn shuffle_is_a_permutation_and_varies() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..50 {
            let mut o = shuffled(4, seed);
            seen.insert(o.clone());
            o.sort();
            assert_eq!(o, vec![0, 1, 2, 3]);
        }
        assert!(seen.len() > 5);
        assert!(shuffled(0, 1).is_empty());
    }

    #[test]
    fn fails_over_on_server_side_errors_only() {
        assert!(should_fail_over(&ApiError::new(
            502,
            ErrorType::Upstream,
            "x"
        )));
        assert!(should_fail_over(&ApiError::new(
            429,
            ErrorType::RateLimit,
            "x"
        )));
        assert!(!should_fail_over(&ApiError::bad_request("x")));
        assert!(!should_fail_over(&ApiError::new(
            401,
            ErrorType::Authentication,
            "x"
        )));
    }

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
