//! What the console answers for a path below its route, as plain data (unit-tested natively).

use crate::assets;

/// The console's Content-Security-Policy: only its own origin, no inline script or style, no
/// frames, no plugins; the admin API is reached on the same origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A whole answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: &'static [u8],
}

/// Answers `method` on `rest`, the path after `/ui` (Spin's `spin-path-info`: empty or starting
/// with `/`). `if_none_match` is the request's header, for cheap reloads (304).
pub fn answer(method: &str, rest: &str, if_none_match: Option<&str>) -> Answer {
    if method != "GET" && method != "HEAD" {
        return plain(405, b"method not allowed\n", &[("allow", "GET")]);
    }
    // `/ui` itself: relative URLs need the trailing slash, so redirect relatively (also right
    // behind a proxy that adds a path prefix).
    if rest.is_empty() {
        return plain(308, b"", &[("location", "ui/")]);
    }
    let path = match rest.trim_start_matches('/') {
        "" => "index.html",
        p => p,
    };
    let Some(asset) = assets::find(path) else {
        return plain(404, b"not found\n", &[]);
    };
    let etag = format!("\"{:016x}\"", fnv1a(asset.body));
    let mut headers = security_headers();
    headers.push(("etag".into(), etag.clone()));
    // Revalidate every time: a new build is seen at once, an unchanged file costs a 304.
    headers.push(("cache-control".into(), "no-cache".into()));
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        return Answer {
            status: 304,
            headers,
            body: b"",
        };
    }
    headers.push(("content-type".into(), asset.content_type.into()));
    Answer {
        status: 200,
        headers,
        body: asset.body,
    }
}

fn security_headers() -> Vec<(String, String)> {
    [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn plain(status: u16, body: &'static [u8], extra: &[(&str, &str)]) -> Answer {
    let mut headers = security_headers();
    headers.push(("content-type".into(), "text/plain; charset=utf-8".into()));
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Answer {
        status,
        headers,
        body,
    }
}

/// FNV-1a, 64 bits: the asset's ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
        a.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn index_and_assets_with_csp() {
        for rest in ["/", "/index.html"] {
            let a = answer("GET", rest, None);
            assert_eq!(a.status, 200);
            assert_eq!(header(&a, "content-type"), Some("text/html; charset=utf-8"));
            assert_eq!(header(&a, "content-security-policy"), Some(CSP));
        }
        let js = answer("GET", "/js/app.js", None);
        assert_eq!(
            header(&js, "content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(answer("GET", "/nope.js", None).status, 404);
        assert_eq!(answer("GET", "/../spin.toml", None).status, 404);
        assert_eq!(answer("POST", "/", None).status, 405);
    }

    #[test]
    fn bare_route_redirects_relatively() {
        let a = answer("GET", "", None);
        assert_eq!(a.status, 308);
        assert_eq!(header(&a, "location"), Some("ui/"));
    }

    #[test]
    fn unchanged_files_revalidate_with_304() {
        let first = answer("GET", "/app.css", None);
        let etag = header(&first, "etag").unwrap().to_string();
        let again = answer("GET", "/app.css", Some(&etag));
        assert_eq!((again.status, again.body.len()), (304, 0));
        assert_eq!(answer("GET", "/app.css", Some("\"x\"")).status, 200);
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        let html = std::str::from_utf8(answer("GET", "/", None).body).unwrap();
        assert!(!html.contains("<script>") && !html.contains("style="));
        assert!(!html.contains("<style"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
