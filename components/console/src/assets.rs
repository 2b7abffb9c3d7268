//! The console's files, compiled into the component: no file system, no CDN.

/// One embedded file.
pub struct Asset {
    /// Path below `/ui/`.
    pub path: &'static str,
    /// `content-type` header.
    pub content_type: &'static str,
    /// The bytes.
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../assets/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the console serves.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/charts.js", JS),
    asset!("js/overview.js", JS),
    asset!("js/requests.js", JS),
    asset!("js/keys.js", JS),
    asset!("js/models.js", JS),
    asset!("js/health.js", JS),
    asset!("js/tryit.js", JS),
    asset!("vendor/uPlot.iife.min.js", JS),
    asset!("vendor/uPlot.min.css", "text/css; charset=utf-8"),
    asset!("vendor/uPlot.LICENSE", "text/plain; charset=utf-8"),
];

/// The asset at `path` (below `/ui/`), if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}
