//! `/api/v1/notifications`: the in-app list; and `POST /unsubscribe`, the one-click
//! unsubscribe a mail client sends (RFC 8058).

use app::notifications::NotificationList;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ErrorBody, Result};
use crate::http::extract::{ApiJson, CurrentUser};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/notifications", get(list)).route("/notifications/read", post(mark_read))
}

/// Mounted at the root: the address in every notification mail's `List-Unsubscribe`.
pub fn root_router() -> Router<AppState> {
    Router::new().route(app::routes::UNSUBSCRIBE, post(one_click_unsubscribe))
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("session_cookie" = [])), responses(
    (status = 200, description = "The newest 50, newest first, and how many of all are unread", body = NotificationList),
    (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<NotificationList>> {
    Ok(Json(state.notifications.list(user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReadInput {
    /// Every notification with this id or a lower one is marked read.
    #[serde(deserialize_with = "whole_id")]
    #[schema(minimum = 0)]
    up_to: i64,
}

/// Any JSON notation of a whole number from 0 within `i64` (`7`, `7.0`, as JSON Schema's
/// `integer` with the `int64` format allows); ids are never negative.
fn whole_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<i64, D::Error> {
    // 2^63, the first whole number past `i64::MAX` (exact in an f64).
    const PAST_MAX: f64 = 9_223_372_036_854_775_808.0;
    let number = serde_json::Number::deserialize(deserializer)?;
    let exact = match (number.as_i64(), number.is_u64() || number.is_i64()) {
        (Some(value), _) => Some(value).filter(|value| *value >= 0),
        (None, true) => None,
        (None, false) => number.as_f64().filter(|value| value.fract() == 0.0 && (0.0..PAST_MAX).contains(value)).map(|value| value as i64),
    };
    exact
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number within 64 bits, got {number}")))
}

#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "notifications", request_body = ReadInput, security(("session_cookie" = [])), responses(
    (status = 204, description = "Marked read"),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody)))]
pub async fn mark_read(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiJson(input): ApiJson<ReadInput>) -> Result<StatusCode> {
    state.notifications.mark_read(user, input.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: String,
}

/// RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` to the link; the token in the
/// query says who and what. The body is not needed and not read.
pub async fn one_click_unsubscribe(
    State(state): State<AppState>,
    query: std::result::Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<StatusCode> {
    let Ok(Query(query)) = query else { return Err(app::error::AppError::BadLink.into()) };
    state.notifications.unsubscribe(&query.token).await?;
    Ok(StatusCode::OK)
}
