//! When a failing deployment is taken out of rotation, and for how long.

use super::classify::ErrorClass;
use super::settings::{DeploymentPolicy, RouterSettings};

/// Fewest requests in a minute before the error rate alone can cool a deployment.
pub const ERROR_RATE_MIN_REQUESTS: u64 = 5;

/// What is known about a deployment's failure when it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The failure's class.
    pub class: ErrorClass,
    /// Whether the deployment's requests have somewhere else to go (another deployment in the
    /// group, or a fallback). A deployment without one is never cooled: it would only turn its
    /// provider's errors into the gateway's.
    pub has_alternative: bool,
    /// Failures of this deployment this minute, this one included (all replicas).
    pub fails_this_minute: u64,
    /// Requests to this deployment this minute (this replica).
    pub requests_this_minute: u64,
    /// The provider's `retry-after`, in ms.
    pub retry_after_ms: Option<u64>,
}

/// Whether a failure says something about the deployment (not about the request).
pub fn counts(class: ErrorClass) -> bool {
    class != ErrorClass::Cooling
        && (class.retryable()
            || matches!(
                class,
                ErrorClass::Authentication | ErrorClass::PermissionDenied | ErrorClass::NotFound
            ))
}

/// How long to cool the deployment after this failure, if at all: at once on a 429, else when
/// its failures this minute exceed `allowed_fails` or make up over half of at least
/// [`ERROR_RATE_MIN_REQUESTS`] requests. The time is the deployment's `cooldown_time`, else the
/// provider's `retry-after`, else the router's `cooldown_time`.
pub fn cooldown_ms(
    settings: &RouterSettings,
    deployment: &DeploymentPolicy,
    f: &Failure,
) -> Option<u64> {
    if settings.disable_cooldowns || !f.has_alternative || !counts(f.class) {
        return None;
    }
    let rate = f.requests_this_minute >= ERROR_RATE_MIN_REQUESTS
        && f.fails_this_minute * 2 > f.requests_this_minute;
    let cool = f.class == ErrorClass::RateLimit
        || f.fails_this_minute > u64::from(settings.allowed_fails)
        || rate;
    let ms = deployment
        .cooldown_ms
        .or(f.retry_after_ms)
        .unwrap_or(settings.cooldown_ms);
    (cool && ms > 0).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(class: ErrorClass, fails: u64, requests: u64) -> Failure {
        Failure {
            class,
            has_alternative: true,
            fails_this_minute: fails,
            requests_this_minute: requests,
            retry_after_ms: None,
        }
    }

    #[test]
    fn rules() {
        let s = RouterSettings::default();
        let d = DeploymentPolicy::default();
        // (failure, cooldown)
        let table = [
            (failure(ErrorClass::RateLimit, 1, 100), Some(5_000)),
            (failure(ErrorClass::Server, 1, 100), None),
            (failure(ErrorClass::Server, 3, 100), None),
            (failure(ErrorClass::Server, 4, 100), Some(5_000)),
            (failure(ErrorClass::Server, 3, 5), Some(5_000)),
            (failure(ErrorClass::Server, 2, 4), None),
            (failure(ErrorClass::BadRequest, 9, 9), None),
            (failure(ErrorClass::ContextWindow, 9, 9), None),
            (failure(ErrorClass::Authentication, 4, 100), Some(5_000)),
            (failure(ErrorClass::Cooling, 9, 9), None),
            (
                Failure {
                    has_alternative: false,
                    ..failure(ErrorClass::RateLimit, 9, 9)
                },
                None,
            ),
            (
                Failure {
                    retry_after_ms: Some(20_000),
                    ..failure(ErrorClass::RateLimit, 1, 1)
                },
                Some(20_000),
            ),
        ];
        for (f, want) in table {
            assert_eq!(cooldown_ms(&s, &d, &f), want, "{f:?}");
        }
    }

    #[test]
    fn deployment_time_beats_retry_after_beats_router() {
        let s = RouterSettings {
            cooldown_ms: 1_000,
            ..RouterSettings::default()
        };
        let d = DeploymentPolicy {
            cooldown_ms: Some(60_000),
            ..DeploymentPolicy::default()
        };
        let f = Failure {
            retry_after_ms: Some(7_000),
            ..failure(ErrorClass::RateLimit, 1, 1)
        };
        assert_eq!(cooldown_ms(&s, &d, &f), Some(60_000));
        assert_eq!(
            cooldown_ms(&s, &DeploymentPolicy::default(), &f),
            Some(7_000)
        );
        let disabled = RouterSettings {
            disable_cooldowns: true,
            ..s
        };
        assert_eq!(cooldown_ms(&disabled, &d, &f), None);
    }
}
