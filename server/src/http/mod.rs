//! The REST API under `/api/v1` (DESIGN.md §4): JSON in, JSON out, the same session cookie as
//! the pages. One module per resource, each with its own `router()`, merged here.

mod account;
pub mod client;
mod events;
mod extract;
pub mod form_errors;
mod live;
mod health;
mod notifications;
mod openapi;
pub mod request_id;
pub mod same_origin;
pub mod security_headers;
pub mod site_package;
mod users;

pub use live::STREAMS_PER_USER;

use axum::http::StatusCode;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

/// Routes mounted at `/api/v1`; any other path there is a JSON 404, never a page.
pub fn api_router() -> Router<AppState> {
    Router::new().merge(users::router()).merge(account::router()).merge(notifications::router()).merge(events::router()).merge(live::router()).merge(openapi::router()).fallback(no_such_route)
}

async fn no_such_route() -> (StatusCode, Json<Value>) {
    let error = json!({ "code": "no_such_route", "message": "There is no such API route.", "field": null });
    (StatusCode::NOT_FOUND, Json(json!({ "error": error })))
}

/// Routes mounted at the root (`/healthz`, the one-click unsubscribe).
pub fn root_router() -> Router<AppState> {
    health::router().merge(notifications::root_router())
}
