//! Headers every response carries so a browser cannot be turned against our pages: no
//! framing (clickjacking), no MIME sniffing, a separate browsing context group (no
//! cross-window references from other sites), and no full URLs (event codes) leaked to other
//! sites through `Referer`. Pages get a content security policy that runs only our own
//! scripts: the files under `/pkg` and the inline ones carrying the page's nonce (Leptos puts
//! it on its hydration script; the head script takes it too), so an injected `<script>` does
//! not run. Other responses get the part of the policy that needs no nonce; a response that
//! set one of these headers itself keeps its own.

use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::Response;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::ResponseOptions;

/// What every response may do, pages or not.
const BASE_POLICY: &str = "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

const HEADERS: [(HeaderName, &str); 5] = [
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    (header::CONTENT_SECURITY_POLICY, BASE_POLICY),
];

/// Middleware (`map_response`): adds the headers above where missing.
pub async fn add(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// For a page render (Leptos context): a fresh nonce for its inline scripts, and the page's
/// policy naming it. Scripts: ours and the nonce's; wasm may be compiled
/// (`'wasm-unsafe-eval'`, not `eval`); styles: ours and `style` attributes (the grid sizes its
/// columns with one); connections: only back to us.
pub fn provide_page_policy() {
    let nonce = Nonce::new();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; {BASE_POLICY}"
    );
    if let (Some(response), Ok(value)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(&policy)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
    provide_context(nonce);
}
