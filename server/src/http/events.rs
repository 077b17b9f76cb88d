//! `/api/v1/events/*` and `/api/v1/me/events`: events and answers.

use app::error::AppError;
use app::events::{AvailabilityInput, CalendarFileQuery, CalendarSuggestion, CreateEventInput, EditEventInput, EventResults, EventSearch, EventView, IntervalInput, MyEvents, OutcomeView};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};

use crate::error::{Error, ErrorBody, Result};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, CurrentUser};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", post(create))
        .route("/events/{code}", get(read).patch(edit).delete(cancel))
        .route("/events/{code}/decide", post(decide))
        .route("/events/{code}/join", post(join))
        .route("/events/{code}/leave", post(leave))
        .route("/events/{code}/availability", put(put_availability))
        .route("/events/{code}/availability/from-calendar", post(from_calendar))
        .route("/events/{code}/outcome", get(outcome))
        .route("/events/{code}/calendar.ics", get(calendar))
        .route("/me/events", get(my_events))
        .route("/me/events/search", get(search))
}

#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = CreateEventInput, security(("session_cookie" = [])), responses(
    (status = 201, description = "Created; the organizer is its first participant", body = EventView),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "A field breaks a rule", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<CreateEventInput>,
) -> Result<(StatusCode, Json<EventView>)> {
    Ok((StatusCode::CREATED, Json(state.events.create(user, input).await?)))
}

#[utoipa::path(get, path = "/api/v1/events/{code}", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 200, description = "Participants and outcome only for members", body = EventView),
    (status = 400, description = "A path segment that is not UTF-8", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody)))]
pub async fn read(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiPath(code): ApiPath<String>) -> Result<Json<EventView>> {
    Ok(Json(state.events.view(user, &code).await?))
}

#[utoipa::path(patch, path = "/api/v1/events/{code}", tag = "events", request_body = EditEventInput, params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 200, description = "Changed; answers are kept and the cluster follows a moved deadline", body = EventView),
    (status = 400, description = "Not the JSON this route takes, or a bad path segment", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not the organizer, or a browser request from another site", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 409, description = "Past the deadline (or decided), or cancelled", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "A field breaks a rule", body = ErrorBody)))]
pub async fn edit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(code): ApiPath<String>,
    ApiJson(input): ApiJson<EditEventInput>,
) -> Result<Json<EventView>> {
    Ok(Json(state.events.edit(user, &code, input).await?))
}

#[utoipa::path(post, path = "/api/v1/events/{code}/decide", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 200, description = "Answers are closed now; the cluster decides at once (status `deciding`, then `finished`)", body = EventView),
    (status = 400, description = "A path segment that is not UTF-8", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not the organizer, or a browser request from another site", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 409, description = "Past the deadline (or decided), or cancelled", body = ErrorBody),
    (status = 422, description = "The window ends too soon for a meeting after now", body = ErrorBody)))]
pub async fn decide(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiPath(code): ApiPath<String>) -> Result<Json<EventView>> {
    Ok(Json(state.events.decide_now(user, &code).await?))
}

#[utoipa::path(post, path = "/api/v1/events/{code}/join", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 200, body = EventView),
    (status = 400, description = "A path segment that is not UTF-8", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 409, description = "Full, past the deadline, or cancelled", body = ErrorBody)))]
pub async fn join(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiPath(code): ApiPath<String>) -> Result<Json<EventView>> {
    Ok(Json(state.events.join(user, &code).await?))
}

#[utoipa::path(post, path = "/api/v1/events/{code}/leave", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 204, description = "Left; the answer is withdrawn"),
    (status = 400, description = "A path segment that is not UTF-8", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not a participant, or a browser request from another site", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 409, description = "The organizer cannot leave; past the deadline; cancelled", body = ErrorBody)))]
pub async fn leave(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiPath(code): ApiPath<String>) -> Result<StatusCode> {
    state.events.leave(user, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/events/{code}", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 204, description = "Cancelled (also when it was already)"),
    (status = 400, description = "A path segment that is not UTF-8", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not the organizer, or a browser request from another site", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 409, description = "The outcome is stored: too late to cancel", body = ErrorBody)))]
pub async fn cancel(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiPath(code): ApiPath<String>) -> Result<StatusCode> {
    state.events.cancel(user, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/events/{code}/availability", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])),
    request_body = AvailabilityInput, responses(
    (status = 200, description = "Stored; `{version}` of this participant's answer", body = AnswerAccepted),
    (status = 400, description = "Not the JSON this route takes (neither shape), or a bad path segment", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not a participant, or a browser request from another site", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 409, description = "Past the deadline or cancelled", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "Both shapes at once, or names the interval or the text line at fault (at most 20)", body = ErrorBody),
    (status = 503, description = "Too many answers waiting for this event (or from this participant); `Retry-After` says when to try again", body = ErrorBody)))]
pub async fn put_availability(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<AvailabilityBody>,
) -> Result<Json<AnswerAccepted>> {
    let version = state.events.put_availability(user, &code, body.into_input()?).await?;
    Ok(Json(AnswerAccepted { version }))
}

#[utoipa::path(post, path = "/api/v1/events/{code}/availability/from-calendar", tag = "events",
    params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code"), CalendarFileQuery),
    security(("session_cookie" = [])),
    request_body(content = String, content_type = "text/calendar", description = "An iCalendar (.ics) file, at most 8 MB, as exported by a calendar app"),
    responses(
    (status = 200, description = "The answer the file suggests, for review; nothing is saved (save it with PUT …/availability)", body = CalendarSuggestion),
    (status = 400, description = "An unknown query parameter, a bad path segment, or a body that broke off", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not a participant, or a browser request from another site", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 409, description = "Past the deadline or cancelled", body = ErrorBody),
    (status = 413, description = "File over 8 MB", body = ErrorBody),
    (status = 422, description = "Not a calendar file, or too long or complex to read (the message says why), a file that took over 20 s to arrive, or a bad time zone or hour", body = ErrorBody),
    (status = 503, description = "The same person is sending another file, or other calendar files are being read; `Retry-After` says when to try again", body = ErrorBody)))]
pub async fn from_calendar(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<CalendarFileQuery>,
    file: axum::body::Body,
) -> Result<Json<CalendarSuggestion>> {
    // The body is read by the service once the caller may send it.
    Ok(Json(state.events.suggest_from_calendar(user, &code, query, file).await?))
}

/// An availability body as sent. Read field by field rather than as the untagged
/// [`AvailabilityInput`], which would take a body with both shapes as whichever it tries first
/// (an empty `intervals` next to a `text` once wiped an answer): exactly one shape is accepted.
#[derive(serde::Deserialize)]
pub struct AvailabilityBody {
    intervals: Option<Vec<IntervalInput>>,
    /// Absent: none; `null` is not a list and is refused, like a `null` anywhere else.
    #[serde(default, deserialize_with = "present_list")]
    if_need_be: Option<Vec<IntervalInput>>,
    text: Option<String>,
    time_zone: Option<String>,
}

/// A field that is absent (`None`, by `default`) or a list; `null` is an error.
fn present_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Option<Vec<IntervalInput>>, D::Error> {
    <Vec<IntervalInput> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

impl AvailabilityBody {
    /// A missing field is a malformed body (400, like any other); both shapes at once is a
    /// well-formed body that breaks a rule (422).
    fn into_input(self) -> Result<AvailabilityInput> {
        match (self.intervals, self.text, self.time_zone) {
            (Some(intervals), None, None) => Ok(AvailabilityInput::Intervals { intervals, if_need_be: self.if_need_be.unwrap_or_default() }),
            (None, Some(_), _) if self.if_need_be.is_some() => {
                Err(AppError::invalid("if_need_be", "With `text`, mark if-need-be lines with a trailing `?`; `if_need_be` goes with `intervals`.").into())
            }
            (None, Some(text), Some(time_zone)) => Ok(AvailabilityInput::Text { text, time_zone }),
            (Some(_), _, _) => Err(AppError::invalid("intervals", "Send either `intervals` or `text` with `time_zone`, not both.").into()),
            (None, _, _) => Err(Error::MalformedRequest("expected `intervals` (and `if_need_be`), or `text` with `time_zone`".into())),
        }
    }
}

/// The version the stored answer got (1 for a first answer, then +1 per edit).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AnswerAccepted {
    pub version: u64,
}

#[utoipa::path(get, path = "/api/v1/events/{code}/outcome", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 200, body = OutcomeView),
    (status = 400, description = "A path segment that is not UTF-8", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not a participant", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody)))]
pub async fn outcome(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiPath(code): ApiPath<String>) -> Result<Json<OutcomeView>> {
    Ok(Json(state.events.outcome(user, &code).await?))
}

#[utoipa::path(get, path = "/api/v1/me/events", tag = "events", security(("session_cookie" = [])), responses(
    (status = 200, body = MyEvents), (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn my_events(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<MyEvents>> {
    Ok(Json(state.events.my_events(user).await?))
}

#[utoipa::path(get, path = "/api/v1/me/events/search", tag = "events", params(EventSearch), security(("session_cookie" = [])), responses(
    (status = 200, description = "One page (20) of the events matching every filter given", body = EventResults),
    (status = 400, description = "An unknown parameter, or one that is not of its type", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 422, description = "A name filter over 120 characters, or a page out of range", body = ErrorBody)))]
pub async fn search(State(state): State<AppState>, CurrentUser(user): CurrentUser, ApiQuery(search): ApiQuery<EventSearch>) -> Result<Json<EventResults>> {
    Ok(Json(state.events.search(user, search).await?))
}

#[utoipa::path(get, path = "/api/v1/events/{code}/calendar.ics", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 200, description = "The scheduled slot as an iCalendar file", content_type = "text/calendar", body = String),
    (status = 400, description = "A path segment that is not UTF-8", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not a participant", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 409, description = "No slot is scheduled (yet)", body = ErrorBody)))]
pub async fn calendar(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(code): ApiPath<String>,
) -> Result<([(header::HeaderName, String); 2], String)> {
    let file = state.events.calendar(user, &code).await?;
    let disposition = format!("attachment; filename=\"whenly-{code}.ics\"");
    Ok(([(header::CONTENT_TYPE, "text/calendar; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], file))
}
