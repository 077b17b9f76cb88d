//! `/api/v1/events/*` and `/api/v1/me/events`: events and answers.

use app::events::{AvailabilityInput, CreateEventInput, EventView, MyEvents, OutcomeView};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};

use crate::error::{ErrorBody, Result};
use crate::http::extract::{ApiJson, CurrentUser};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", post(create))
        .route("/events/{code}", get(read).delete(cancel))
        .route("/events/{code}/join", post(join))
        .route("/events/{code}/leave", post(leave))
        .route("/events/{code}/availability", put(put_availability))
        .route("/events/{code}/outcome", get(outcome))
        .route("/events/{code}/calendar.ics", get(calendar))
        .route("/me/events", get(my_events))
}

#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = CreateEventInput, responses(
    (status = 201, description = "Created; the organizer is its first participant", body = EventView),
    (status = 401, body = ErrorBody), (status = 422, description = "A field breaks a rule", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<CreateEventInput>,
) -> Result<(StatusCode, Json<EventView>)> {
    Ok((StatusCode::CREATED, Json(state.events.create(user, input).await?)))
}

#[utoipa::path(get, path = "/api/v1/events/{code}", tag = "events", params(("code" = String, Path, description = "The event's 10-character code")), responses(
    (status = 200, description = "Participants and outcome only for members", body = EventView),
    (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<Json<EventView>> {
    Ok(Json(state.events.view(user, &code).await?))
}

#[utoipa::path(post, path = "/api/v1/events/{code}/join", tag = "events", params(("code" = String, Path, description = "The event's 10-character code")), responses(
    (status = 200, body = EventView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "Full, past the deadline, or cancelled", body = ErrorBody)))]
pub async fn join(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<Json<EventView>> {
    Ok(Json(state.events.join(user, &code).await?))
}

#[utoipa::path(post, path = "/api/v1/events/{code}/leave", tag = "events", params(("code" = String, Path, description = "The event's 10-character code")), responses(
    (status = 204, description = "Left; the answer is withdrawn"), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn leave(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<StatusCode> {
    state.events.leave(user, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/events/{code}", tag = "events", params(("code" = String, Path, description = "The event's 10-character code")), responses(
    (status = 204, description = "Cancelled"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<StatusCode> {
    state.events.cancel(user, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/events/{code}/availability", tag = "events", params(("code" = String, Path, description = "The event's 10-character code")),
    request_body = AvailabilityInput, responses(
    (status = 200, description = "Stored; `{version}` of this participant's answer", body = AnswerAccepted),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "Past the deadline or cancelled", body = ErrorBody),
    (status = 422, description = "Names the interval or the text line at fault", body = ErrorBody)))]
pub async fn put_availability(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<AvailabilityInput>,
) -> Result<Json<AnswerAccepted>> {
    let version = state.events.put_availability(user, &code, input).await?;
    Ok(Json(AnswerAccepted { version }))
}

/// The version the stored answer got (1 for a first answer, then +1 per edit).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AnswerAccepted {
    pub version: u64,
}

#[utoipa::path(get, path = "/api/v1/events/{code}/outcome", tag = "events", params(("code" = String, Path, description = "The event's 10-character code")), responses(
    (status = 200, body = OutcomeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
pub async fn outcome(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<Json<OutcomeView>> {
    Ok(Json(state.events.outcome(user, &code).await?))
}

#[utoipa::path(get, path = "/api/v1/me/events", tag = "events", responses(
    (status = 200, body = MyEvents), (status = 401, body = ErrorBody)))]
pub async fn my_events(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<MyEvents>> {
    Ok(Json(state.events.my_events(user).await?))
}

#[utoipa::path(get, path = "/api/v1/events/{code}/calendar.ics", tag = "events", params(("code" = String, Path, description = "The event's 10-character code")), responses(
    (status = 200, description = "The scheduled slot as an iCalendar file", content_type = "text/calendar", body = String),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "No slot is scheduled (yet)", body = ErrorBody)))]
pub async fn calendar(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(code): Path<String>,
) -> Result<([(header::HeaderName, String); 2], String)> {
    let file = state.events.calendar(user, &code).await?;
    let disposition = format!("attachment; filename=\"whenly-{code}.ics\"");
    Ok(([(header::CONTENT_TYPE, "text/calendar; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], file))
}
