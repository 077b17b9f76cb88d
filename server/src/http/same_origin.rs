//! Refuses state-changing requests that a browser sent on behalf of another site. The session
//! cookie is `SameSite=Lax`, which stops other *sites* but not other hosts of the same site
//! (`evil.example.com` posting to `whenly.example.com`), and not a log-in form that signs the
//! victim into the attacker's account (login CSRF). Browsers say where a request comes from:
//! `Sec-Fetch-Site` (anything but `same-origin` or `none` is refused) and, for older ones,
//! `Origin` (its host must be the request's `Host`). Clients that send neither (curl, API
//! clients) are not browsers acting for someone else, and pass.

use app::error::AppError;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// Middleware: lets safe methods and same-origin requests through.
pub async fn check(request: Request, next: Next) -> Response {
    if changes_state(request.method()) && cross_site(request.headers()) {
        return Error::App(AppError::CrossSiteRequest).into_response();
    }
    next.run(request).await
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|origin| origin.split_once("://")).map(|(_, rest)| rest);
    // `Origin: null` (sandboxed frames, some redirects) names no host: refused.
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (name.parse().unwrap(), HeaderValue::from_static(value))).collect()
    }

    #[test]
    fn browsers_say_where_a_request_comes_from() {
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin"), ("origin", "http://evil.example")])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "none")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site"), ("host", "whenly.example"), ("origin", "https://whenly.example")])));
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_be_the_host() {
        assert!(!cross_site(&headers(&[("host", "whenly.example"), ("origin", "https://whenly.example")])));
        assert!(!cross_site(&headers(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")])));
        assert!(cross_site(&headers(&[("host", "whenly.example"), ("origin", "https://evil.whenly.example")])));
        assert!(cross_site(&headers(&[("host", "whenly.example"), ("origin", "null")])));
        assert!(!cross_site(&headers(&[("host", "whenly.example")])), "API clients send no Origin");
    }
}
