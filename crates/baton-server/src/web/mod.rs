//! The web pages Baton serves itself: the customer widget (`/widget.js`), the demo host
//! product (`/demo`) and the agent console (`/console`).
//!
//! Every asset is compiled into the binary: plain HTML, CSS and JavaScript modules, no build
//! step and no third-party code. Pages carry a strict Content-Security-Policy (scripts only
//! from this origin, no inline script or style), and every asset an ETag so browsers
//! revalidate cheaply. The pages render customer and agent text as text, never as markup.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::config::DemoHost;
use crate::error::ApiError;
use crate::state::{AppState, SharedState};

/// How long the demo customer's identity token is valid: a visitor may leave the demo page
/// open all day before writing.
const DEMO_IDENTITY_SECS: i64 = 12 * 3600;

/// What kind of file an asset is, which decides its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An HTML page: Content-Security-Policy, revalidated on every load.
    Page,
    /// The widget script that host products embed: cached a few minutes, loadable from any
    /// origin.
    Widget,
    /// A script, stylesheet or image used by the pages: revalidated on every load, so that
    /// the modules of one page always come from the same release.
    Static,
}

/// One embedded file.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    kind: Kind,
    /// A quoted strong ETag: the start of the body's SHA-256.
    etag: String,
}

impl Asset {
    fn new(body: &'static [u8], content_type: &'static str, kind: Kind) -> Asset {
        let digest = Sha256::digest(body);
        Asset {
            body,
            content_type,
            kind,
            etag: format!("\"{}\"", hex::encode(&digest[..12])),
        }
    }
}

/// The Content-Security-Policy of the console and the demo host: everything from this
/// origin only, nothing inline, no plugins, no framing by other sites.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'self'";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $content_type:expr, $kind:expr) => {
        Asset::new(
            include_bytes!(concat!("../../assets/", $path)),
            $content_type,
            $kind,
        )
    };
}

static WIDGET: LazyLock<Asset> = LazyLock::new(|| asset!("widget.js", JS, Kind::Widget));
static DEMO_PAGE: LazyLock<Asset> = LazyLock::new(|| asset!("demo/demo.html", HTML, Kind::Page));
static CONSOLE_PAGE: LazyLock<Asset> =
    LazyLock::new(|| asset!("console/index.html", HTML, Kind::Page));

/// The demo host's scripts and styles, by file name under `/demo/static/`.
static DEMO_FILES: LazyLock<Vec<(&'static str, Asset)>> = LazyLock::new(|| {
    vec![
        ("demo.css", asset!("demo/demo.css", CSS, Kind::Static)),
        ("demo.js", asset!("demo/demo.js", JS, Kind::Static)),
        ("logo.svg", asset!("demo/logo.svg", SVG, Kind::Static)),
    ]
});

/// The console's modules and styles, by file name under `/console/`.
static CONSOLE_FILES: LazyLock<Vec<(&'static str, Asset)>> = LazyLock::new(|| {
    vec![
        (
            "console.css",
            asset!("console/console.css", CSS, Kind::Static),
        ),
        ("app.js", asset!("console/app.js", JS, Kind::Static)),
        ("api.js", asset!("console/api.js", JS, Kind::Static)),
        ("dom.js", asset!("console/dom.js", JS, Kind::Static)),
        ("queue.js", asset!("console/queue.js", JS, Kind::Static)),
        ("brief.js", asset!("console/brief.js", JS, Kind::Static)),
        (
            "conversation.js",
            asset!("console/conversation.js", JS, Kind::Static),
        ),
        ("alerts.js", asset!("console/alerts.js", JS, Kind::Static)),
        (
            "supervisor.js",
            asset!("console/supervisor.js", JS, Kind::Static),
        ),
        ("admin.js", asset!("console/admin.js", JS, Kind::Static)),
        ("icon.svg", asset!("console/icon.svg", SVG, Kind::Static)),
    ]
});

/// The demo host's pages: one shell that renders each page, so every URL can be opened
/// directly and moving between them is a single-page-app route change.
pub const DEMO_PAGES: [&str; 4] = ["dashboard", "billing", "settings", "integrations"];

/// The routes of the widget, the demo host and the console.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/widget.js", get(widget))
        .route("/demo", get(demo_home))
        .route("/demo/", get(demo_home))
        .route("/demo/{page}", get(demo_page))
        .route("/demo/static/{file}", get(demo_file))
        .route("/console", get(console_page))
        .route("/console/", get(console_page))
        .route("/console/{file}", get(console_file))
}

async fn widget(headers: HeaderMap) -> Response {
    serve(&WIDGET, &headers)
}

async fn demo_home(State(state): State<SharedState>, uri: Uri, headers: HeaderMap) -> Response {
    demo_shell(&state, &uri, &headers)
}

async fn console_page(headers: HeaderMap) -> Response {
    serve(&CONSOLE_PAGE, &headers)
}

async fn demo_page(
    State(state): State<SharedState>,
    Path(page): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if DEMO_PAGES.contains(&page.as_str()) {
        demo_shell(&state, &uri, &headers)
    } else {
        ApiError::not_found("no such page").into_response()
    }
}

async fn demo_file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    from_table(&DEMO_FILES, &file, &headers)
}

async fn console_file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    from_table(&CONSOLE_FILES, &file, &headers)
}

/// The demo host's shell. Under `baton demo` the widget tag carries a freshly signed identity
/// token for the demo customer (so the chat knows who they are, as in a real product), unless
/// the page is opened with `?as=visitor`; otherwise the widget is anonymous.
fn demo_shell(state: &AppState, uri: &Uri, headers: &HeaderMap) -> Response {
    let visitor = uri
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair == "as=visitor"));
    let (Some(demo), Some(secret), false) = (
        state.config.demo.as_ref(),
        state.config.identity.secret.as_deref(),
        visitor,
    ) else {
        return serve(&DEMO_PAGE, headers);
    };
    let token = match sign_demo_identity(demo, secret, state.now().timestamp()) {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, "cannot sign the demo customer's identity token");
            return serve(&DEMO_PAGE, headers);
        }
    };
    let html = std::str::from_utf8(DEMO_PAGE.body)
        .unwrap_or_default()
        .replacen(
            "src=\"/widget.js\"",
            &format!("src=\"/widget.js\" data-identity-token=\"{token}\""),
            1,
        );
    let mut response = html.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    page_headers(headers);
    // A token inside: never cached, never revalidated into another visitor's page.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HS256 identity token for the demo customer, as a host product would sign it.
fn sign_demo_identity(
    demo: &DemoHost,
    secret: &str,
    now: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut claims = demo.claims.clone();
    if let Some(map) = claims.as_object_mut() {
        map.insert("exp".into(), (now + DEMO_IDENTITY_SECS).into());
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// The headers of every HTML page: its Content-Security-Policy and referrer policy.
fn page_headers(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

fn from_table(
    table: &'static [(&'static str, Asset)],
    name: &str,
    headers: &HeaderMap,
) -> Response {
    match table.iter().find(|(n, _)| *n == name) {
        Some((_, asset)) => serve(asset, headers),
        None => ApiError::not_found("no such file").into_response(),
    }
}

/// Answers with the asset, or `304 Not Modified` when the browser has this version.
fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    if !fresh {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
    }
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    match asset.kind {
        Kind::Page => page_headers(headers),
        Kind::Widget => {
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            // Host products on other origins load it, including those that isolate
            // themselves with Cross-Origin-Embedder-Policy.
            headers.insert(
                "cross-origin-resource-policy",
                HeaderValue::from_static("cross-origin"),
            );
        }
        Kind::Static => {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_asset_has_a_distinct_etag() {
        let mut tags: Vec<&str> = DEMO_FILES
            .iter()
            .chain(CONSOLE_FILES.iter())
            .map(|(_, a)| a.etag.as_str())
            .chain([
                WIDGET.etag.as_str(),
                DEMO_PAGE.etag.as_str(),
                CONSOLE_PAGE.etag.as_str(),
            ])
            .collect();
        let count = tags.len();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), count);
    }

    #[test]
    fn pages_reference_only_files_that_are_served() {
        let console = std::str::from_utf8(CONSOLE_PAGE.body).unwrap();
        for (name, _) in CONSOLE_FILES.iter() {
            if name.ends_with(".js") && *name != "app.js" {
                continue;
            }
            assert!(
                console.contains(&format!("/console/{name}")),
                "the console page does not load {name}"
            );
        }
        let demo = std::str::from_utf8(DEMO_PAGE.body).unwrap();
        for (name, _) in DEMO_FILES.iter() {
            assert!(demo.contains(&format!("/demo/static/{name}")), "{name}");
        }
        assert!(demo.contains("src=\"/widget.js\""));
    }

    #[test]
    fn no_page_has_inline_script_or_style() {
        for page in [&*DEMO_PAGE, &*CONSOLE_PAGE] {
            let html = std::str::from_utf8(page.body).unwrap();
            for (at, _) in html.match_indices("<script") {
                let tag = &html[at..at + html[at..].find('>').unwrap()];
                assert!(tag.contains("src="), "inline script: {tag}");
            }
            assert!(!html.contains("<style"), "inline style element");
            assert!(!html.contains(" style="), "inline style attribute");
            let lower = html.to_ascii_lowercase();
            for (at, _) in lower.match_indices(" on") {
                let rest = &lower[at + 3..];
                let name_len = rest.chars().take_while(char::is_ascii_lowercase).count();
                assert!(
                    !(name_len > 0 && rest[name_len..].starts_with('=')),
                    "inline event handler near {}",
                    &html[at..(at + 40).min(html.len())]
                );
            }
        }
    }
}
