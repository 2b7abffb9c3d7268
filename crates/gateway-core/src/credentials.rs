//! The caller's key, from whichever header its SDK uses: `Authorization: Bearer` (OpenAI),
//! `x-api-key` (Anthropic) or `x-goog-api-key` (Gemini).

/// Picks the caller's key from the three headers' values, in that order of preference.
pub fn caller_key(
    authorization: Option<&str>,
    x_api_key: Option<&str>,
    x_goog_api_key: Option<&str>,
) -> Option<String> {
    let bearer = authorization.and_then(|a| {
        let a = a.trim();
        let (scheme, rest) = a.split_once(char::is_whitespace)?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    [bearer, x_api_key, x_goog_api_key]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|k| !k.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_header_works() {
        assert_eq!(
            caller_key(Some("Bearer sk-1"), None, None).as_deref(),
            Some("sk-1")
        );
        assert_eq!(
            caller_key(Some("bearer   sk-1 "), None, None).as_deref(),
            Some("sk-1")
        );
        assert_eq!(
            caller_key(None, Some("sk-2"), None).as_deref(),
            Some("sk-2")
        );
        assert_eq!(
            caller_key(None, None, Some("sk-3")).as_deref(),
            Some("sk-3")
        );
        assert_eq!(
            caller_key(Some("Basic abc"), Some("sk-2"), None).as_deref(),
            Some("sk-2")
        );
        assert_eq!(caller_key(Some("Bearer "), None, None), None);
        assert_eq!(caller_key(Some("sk-raw"), None, None), None);
        assert_eq!(caller_key(None, Some(""), None), None);
    }
}
