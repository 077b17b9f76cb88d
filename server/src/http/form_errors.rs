//! Errors of forms posted without script, sealed. Leptos answers such a post with a redirect
//! back to the form and the error in the URL (`__path`, the server function; `__err`, the
//! error), and the page shows it. Anyone can write such a URL, and a link to our page saying
//! "your account is locked, call …" in our own error style is content spoofing. So the server
//! seals the error it puts in a redirect (`__seal`, an HMAC over path and error under a
//! [`SiteKey`] every process shares), and a page asked for with an error that carries no
//! valid seal is redirected to the same page without it: the page never renders it, on the
//! server or in the browser.
//!
//! The seal binds nothing but the error: a sealed URL stays valid (and shareable) like the
//! unsealed one did, but only ever says what Whenly said.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::site_key::SiteKey;

/// The purpose of the [`SiteKey`] that seals form errors.
pub const PURPOSE: &str = "form_errors";

const PATH: &str = "__path";
const ERROR: &str = "__err";
const SEAL: &str = "__seal";

/// Middleware: refuses unsealed errors in page URLs, seals the errors Leptos redirects with.
pub async fn seal(State(key): State<Arc<SiteKey>>, request: Request, next: Next) -> Response {
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if let Some(unsealed) = request.uri().query().filter(|_| reads).and_then(|query| without_forged_error(&key, query)) {
        let path = request.uri().path();
        let target = if unsealed.is_empty() { path.to_owned() } else { format!("{path}?{unsealed}") };
        return Redirect::to(&target).into_response();
    }
    let mut response = next.run(request).await;
    if !response.status().is_redirection() {
        return response;
    }
    if let Some(sealed) = response.headers().get(header::LOCATION).and_then(|location| sealed_location(&key, location)) {
        response.headers_mut().insert(header::LOCATION, sealed);
    }
    response
}

/// The query without its error parameters when they are there and not sealed by us; `None`
/// when the query may stay as it is.
fn without_forged_error(key: &SiteKey, query: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let value = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let mentions_error = pairs.iter().any(|(name, _)| is_error_param(name));
    if !mentions_error {
        return None;
    }
    let sealed_once = pairs.iter().filter(|(name, _)| is_error_param(name)).count() == 3;
    if let (true, Some(path), Some(error), Some(seal)) = (sealed_once, value(PATH), value(ERROR), value(SEAL)) {
        if key.verify(&[path.as_bytes(), error.as_bytes()], seal) {
            return None;
        }
    }
    Some(encode(pairs.iter().filter(|(name, _)| !is_error_param(name))))
}

/// A redirect's `Location` with its error (the last one Leptos appended: it appends to the
/// form page's URL, which may still hold an earlier one) sealed, and any earlier error
/// removed; `None` when the location names no error parameters.
fn sealed_location(key: &SiteKey, location: &HeaderValue) -> Option<HeaderValue> {
    let location = location.to_str().ok()?;
    let (base, query) = location.split_once('?')?;
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    if !pairs.iter().any(|(name, _)| is_error_param(name)) {
        return None;
    }
    let last = |name: &str| pairs.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let mut kept: Vec<(String, String)> = pairs.iter().filter(|(name, _)| !is_error_param(name)).cloned().collect();
    if let (Some(path), Some(error)) = (last(PATH), last(ERROR)) {
        let seal = key.sign(&[path.as_bytes(), error.as_bytes()]);
        kept.extend([(PATH.to_owned(), path), (ERROR.to_owned(), error), (SEAL.to_owned(), seal)]);
    }
    let query = encode(kept.iter());
    let mut sealed = if query.is_empty() { base.to_owned() } else { format!("{base}?{query}") };
    if let Some(fragment) = fragment {
        sealed.push('#');
        sealed.push_str(fragment);
    }
    HeaderValue::try_from(sealed).ok()
}

fn is_error_param(name: &str) -> bool {
    matches!(name, PATH | ERROR | SEAL)
}

fn encode<'a>(pairs: impl Iterator<Item = &'a (String, String)>) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}
