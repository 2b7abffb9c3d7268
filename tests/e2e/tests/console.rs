//! The operator console (`components/console`) on the test host: served at `/ui` next to the
//! router's catch-all route, with its Content-Security-Policy; the admin API answers no
//! cross-origin preflight.

use e2e::*;

#[tokio::test]
async fn console_is_served_at_ui_with_a_strict_csp() {
    let g = Gateway::start().await;
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let bare = no_redirect
        .get(format!("{}/ui", g.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status().as_u16(), 308);
    assert_eq!(
        bare.headers()["location"],
        "ui/",
        "relative: works under a path prefix"
    );

    let page = g.client.get(format!("{}/ui/", g.url)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(page.headers().get("set-cookie").is_none());
    let html = page.text().await.unwrap();
    assert!(html.contains("src=\"js/app.js\""), "relative asset URLs");

    for (path, kind) in [
        ("/ui/js/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
        ("/ui/vendor/uPlot.iife.min.js", "text/javascript"),
    ] {
        let r = g
            .client
            .get(format!("{}{path}", g.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
    }
    let missing = g
        .client
        .get(format!("{}/ui/nope.js", g.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    // Everything else still goes to the router.
    let (status, _, v) = g.get("/uix").await;
    assert_eq!(status, 404);
    assert_eq!(assert_openai_error(&v)["code"], "unknown_url");
}

#[tokio::test]
async fn admin_api_answers_no_cross_origin_preflight() {
    let g = Gateway::start().await;
    let r = g
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/key/list", g.url))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(r.status().as_u16() >= 400);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // A simple cross-origin request without the key is refused like any other.
    let r = g
        .client
        .get(format!("{}/key/list", g.url))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
