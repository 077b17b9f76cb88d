//! `/api/v1/events/*` and `/api/v1/me/events`: events and answers.

use app::events::{CreateEventInput, EventView, MyEvents, OutcomeView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::Result;
use crate::events::AvailabilityInput;
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
        .route("/me/events", get(my_events))
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<CreateEventInput>,
) -> Result<(StatusCode, Json<EventView>)> {
    Ok((StatusCode::CREATED, Json(state.events.create(user, input).await?)))
}

async fn read(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<Json<EventView>> {
    Ok(Json(state.events.view(user, &code).await?))
}

async fn join(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<Json<EventView>> {
    Ok(Json(state.events.join(user, &code).await?))
}

async fn leave(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<StatusCode> {
    state.events.leave(user, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn cancel(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<StatusCode> {
    state.events.cancel(user, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_availability(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<AvailabilityInput>,
) -> Result<Json<Value>> {
    let version = state.events.put_availability(user, &code, input).await?;
    Ok(Json(json!({ "version": version })))
}

async fn outcome(State(state): State<AppState>, CurrentUser(user): CurrentUser, Path(code): Path<String>) -> Result<Json<OutcomeView>> {
    Ok(Json(state.events.outcome(user, &code).await?))
}

async fn my_events(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Result<Json<MyEvents>> {
    Ok(Json(state.events.my_events(user).await?))
}
