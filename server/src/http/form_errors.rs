//! Errors of forms posted without script, sealed to the browser that posted. Leptos answers
//! such a post with a redirect back to the form and the error in the URL (`__path`, the server
//! function; `__err`, the error), and the page shows it. Anyone can write such a URL, or post
//! a form themselves to get one whose error quotes what they typed, and a link to our page
//! saying "your account is locked, call …" in our own error style is content spoofing.
//!
//! So the URL's error is rebuilt and sealed here, and shown only to the browser it was made for:
//! - On a redirect, any error parameters in `Location` are removed (Leptos copies the form
//!   page's URL, which a client chooses through `Referer`). When the response is a failed
//!   server function (its `serverfnerror` header and body), that error is appended, with
//!   `__seal`: an HMAC-SHA256, under a [`SiteKey`] every process shares, over a fresh random
//!   nonce, the function's path and the error. The nonce goes to the browser as a cookie.
//! - A request whose URL carries error parameters that do not check against that browser's
//!   cookie is served as if they were not there (its URI is rewritten, not redirected, so no
//!   `Location` is ever built from what the client sent).
//!
//! A redirect keeps only the path of where it leads (Leptos follows `Referer` as given, so it
//! could name another site).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

use crate::error::Error;
use crate::site_key::SiteKey;

/// The purpose of the [`SiteKey`] that seals form errors.
pub const PURPOSE: &str = "form_errors";

const PATH: &str = "__path";
const ERROR: &str = "__err";
const SEAL: &str = "__seal";
/// The cookie holding the nonce of the last error sealed for this browser.
const NONCE_COOKIE: &str = "whenly_form_error";
/// How long a sealed error can be shown (reloads included).
const NONCE_MAX_AGE_SECS: u32 = 600;
/// The largest error body sealed into a URL (a text answer's 20 bad lines fit many times).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// What the middleware needs: the key, and whether the nonce cookie is `Secure`.
pub struct FormErrorSeal {
    pub key: SiteKey,
    pub cookie_secure: bool,
}

/// Middleware: drops unsealed errors from request URLs, seals the errors Leptos redirects with.
pub async fn seal(State(seal): State<Arc<FormErrorSeal>>, mut request: Request, next: Next) -> Response {
    if let Some(unsealed) = request.uri().query().and_then(|query| without_foreign_error(&seal.key, request.headers(), query)) {
        if let Some(uri) = with_query(request.uri(), &unsealed) {
            *request.uri_mut() = uri;
        }
    }
    let response = next.run(request).await;
    if !response.status().is_redirection() || !response.headers().contains_key(header::LOCATION) {
        return response;
    }
    seal.rewrite_redirect(response).await
}

impl FormErrorSeal {
    /// A redirect's `Location` without any error parameters, plus the failed server function's
    /// own error, sealed, when there is one.
    async fn rewrite_redirect(&self, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        let location = parts.headers.get(header::LOCATION).and_then(|value| value.to_str().ok()).unwrap_or("/");
        let location = on_this_site(location).to_owned();
        let (base, query, fragment) = split_location(&location);
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.as_bytes()).into_owned().filter(|(name, _)| !is_error_param(name)).collect();
        let failed_function = parts.headers.get(SERVER_FN_ERROR_HEADER).and_then(|path| path.to_str().ok()).map(str::to_owned);
        let body = match failed_function {
            Some(path) => {
                let Ok(error) = axum::body::to_bytes(body, ERROR_BODY_LIMIT).await else {
                    return Error::App(app::error::AppError::TooLarge).into_response();
                };
                match self.sealed(&path, &error) {
                    Ok((params, cookie)) => {
                        pairs.extend(params);
                        parts.headers.append(header::SET_COOKIE, cookie);
                    }
                    Err(error) => return error.into_response(),
                }
                axum::body::Body::from(error)
            }
            None => body,
        };
        let query = encode(&pairs);
        let mut rewritten = if query.is_empty() { base.to_owned() } else { format!("{base}?{query}") };
        if let Some(fragment) = fragment {
            rewritten.push('#');
            rewritten.push_str(fragment);
        }
        match HeaderValue::try_from(rewritten) {
            Ok(value) => parts.headers.insert(header::LOCATION, value),
            Err(_) => parts.headers.insert(header::LOCATION, HeaderValue::from_static("/")),
        };
        Response::from_parts(parts, body)
    }

    /// The error parameters for `error` (the body Leptos sent, which it also puts in the URL)
    /// of the function at `path`, and the cookie that lets this browser alone show them.
    fn sealed(&self, path: &str, error: &[u8]) -> Result<(Vec<(String, String)>, HeaderValue), Error> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| Error::Random(e.to_string()))?;
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let error = URL_SAFE.encode(error);
        let seal = self.key.sign(&[nonce.as_bytes(), path.as_bytes(), error.as_bytes()]);
        let secure = if self.cookie_secure { "; Secure" } else { "" };
        let cookie = format!("{NONCE_COOKIE}={nonce}; Path=/; Max-Age={NONCE_MAX_AGE_SECS}; HttpOnly; SameSite=Lax{secure}");
        let cookie = HeaderValue::try_from(cookie).map_err(|e| Error::Encoding(e.to_string()))?;
        Ok((vec![(PATH.to_owned(), path.to_owned()), (ERROR.to_owned(), error), (SEAL.to_owned(), seal)], cookie))
    }
}

/// The query without its error parameters when they are there and not sealed for this
/// browser; `None` when the query may stay as it is.
fn without_foreign_error(key: &SiteKey, headers: &HeaderMap, query: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let errors: Vec<&(String, String)> = pairs.iter().filter(|(name, _)| is_error_param(name)).collect();
    if errors.is_empty() {
        return None;
    }
    let value = |name: &str| errors.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    if let (3, Some(path), Some(error), Some(seal), Some(nonce)) = (errors.len(), value(PATH), value(ERROR), value(SEAL), nonce(headers)) {
        if key.verify(&[nonce.as_bytes(), path.as_bytes(), error.as_bytes()], seal) {
            return None;
        }
    }
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(name, _)| !is_error_param(name)).collect();
    Some(encode(&kept))
}

/// The nonce cookie this browser sent, if any.
fn nonce(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == NONCE_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// `uri` with `query` in place of its own.
fn with_query(uri: &Uri, query: &str) -> Option<Uri> {
    let path = uri.path();
    let path_and_query = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// `location` as a path on this site: an absolute URL (Leptos copies the browser's absolute
/// `Referer`) loses its scheme and host, whatever they are (behind a proxy the request's own
/// `Host` may differ, so it is not compared), and anything that a browser could still read as
/// another host (`//`, `/\\`, control characters, which browsers drop) becomes `/`.
fn on_this_site(location: &str) -> &str {
    let path = match location.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => {
            rest.find(['/', '?', '#']).map_or("/", |start| &rest[start..])
        }
        Some(_) => "/",
        None => location,
    };
    let safe = path.starts_with('/')
        && !path.starts_with("//")
        && !path.bytes().any(|byte| byte == b'\\' || byte.is_ascii_control());
    if safe { path } else { "/" }
}

/// `location` as (everything before the query, the query, the fragment).
fn split_location(location: &str) -> (&str, &str, Option<&str>) {
    let (rest, fragment) = match location.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (location, None),
    };
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    (base, query, fragment)
}

fn is_error_param(name: &str) -> bool {
    matches!(name, PATH | ERROR | SEAL)
}

fn encode(pairs: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_stays_on_this_site() {
        for (location, path) in [
            ("/login?next=%2Fme", "/login?next=%2Fme"),
            ("http://whenly.example/login?a=1", "/login?a=1"),
            ("HTTPS://WHENLY.EXAMPLE", "/"),
            ("https://evil.example/phish", "/phish"),
            ("https://whenly.example@evil.example/", "/"),
            ("//evil.example/", "/"),
            ("/\\evil.example/", "/"),
            ("/\t/evil.example/", "/"),
            ("/ok\r\nSet-Cookie: x", "/"),
            ("javascript:alert(1)", "/"),
            ("login", "/"),
        ] {
            assert_eq!(on_this_site(location), path, "{location}");
        }
    }

    #[test]
    fn a_location_splits_into_its_parts() {
        assert_eq!(split_location("/e/x?a=1#top"), ("/e/x", "a=1", Some("top")));
        assert_eq!(split_location("/e/x#top?a=1"), ("/e/x", "", Some("top?a=1")));
        assert_eq!(split_location("/e/x"), ("/e/x", "", None));
    }
}
