//! A request id on every request: made here (never taken from the client, whose header could
//! forge another request's id in the logs), set as `X-Request-Id` on the request for the trace
//! layer's span, which every log line the request writes carries, and sent back on the response
//! so a user's report or a proxy's access log (`$upstream_http_x_request_id`) leads to the lines.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Middleware: assigns the request its id (16 hex digits, random).
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = new_id();
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

fn new_id() -> HeaderValue {
    let mut bytes = [0u8; 8];
    // Without the OS's randomness (never seen), the ids are only less unique.
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    HeaderValue::from_str(&hex).unwrap_or(HeaderValue::from_static("0000000000000000"))
}

/// The trace layer's span for a request: at ERROR level so that it is enabled whatever the
/// log filter (a span below the filter's level records nothing), so every line the request
/// logs, a warning included, names its id.
pub fn span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request.headers().get(REQUEST_ID).and_then(|value| value.to_str().ok()).unwrap_or("-");
    tracing::error_span!("request", id, method = %request.method(), path = %request.uri().path())
}
