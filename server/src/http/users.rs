//! `/api/v1/users/*`: sign-up, log-in, log-out, and who am I.

use app::accounts::UserView;
use app::error::AppError;
use app::ports::ClientAddress;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::error::{ErrorBody, Result};
use crate::http::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/signup", post(sign_up))
        .route("/users/login", post(log_in))
        .route("/users/logout", post(log_out))
        .route("/users/me", get(me))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CredentialsInput {
    /// 3–32 of `a-z 0-9 _ . -`, in either case (unique and logged in without regard to case).
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]+$")]
    username: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignUpInput {
    /// 3–32 of `a-z 0-9 _ . -`, in either case (unique and logged in without regard to case).
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]+$")]
    username: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// Optional: mailed a verification link; notifications go there once it is verified.
    #[serde(default)]
    #[schema(max_length = 254)]
    email: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/users/signup", tag = "users", request_body = SignUpInput, responses(
    (status = 201, description = "Created and signed in (session cookie set)", body = UserView),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 409, description = "Username taken", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "A rule is broken", body = ErrorBody),
    (status = 429, description = "Too many sign-ups from this client (see Retry-After)", body = ErrorBody),
    (status = 503, description = "Password hashing is at capacity (see Retry-After)", body = ErrorBody)))]
pub async fn sign_up(
    State(state): State<AppState>,
    Extension(ClientAddress(client)): Extension<ClientAddress>,
    session: Session,
    ApiJson(input): ApiJson<SignUpInput>,
) -> Result<(StatusCode, Json<UserView>)> {
    let user = state.accounts.sign_up(&session, client, input.username, input.password, input.email).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(post, path = "/api/v1/users/login", tag = "users", request_body = CredentialsInput, responses(
    (status = 200, description = "Signed in (session cookie set)", body = UserView),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 401, description = "Wrong username or password", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 429, description = "Too many failed log-ins (see Retry-After)", body = ErrorBody),
    (status = 503, description = "Password hashing is at capacity (see Retry-After)", body = ErrorBody)))]
pub async fn log_in(
    State(state): State<AppState>,
    Extension(ClientAddress(client)): Extension<ClientAddress>,
    session: Session,
    ApiJson(input): ApiJson<CredentialsInput>,
) -> Result<Json<UserView>> {
    let user = state.accounts.log_in(&session, client, input.username, input.password).await?;
    Ok(Json(user))
}

#[utoipa::path(post, path = "/api/v1/users/logout", tag = "users", responses(
    (status = 204, description = "Session destroyed"),
    (status = 403, description = "A browser request from another site", body = ErrorBody)))]
pub async fn log_out(State(state): State<AppState>, session: Session) -> Result<StatusCode> {
    state.accounts.log_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("session_cookie" = [])), responses(
    (status = 200, body = UserView), (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, session: Session) -> Result<Json<UserView>> {
    let user = state.accounts.current_user(&session).await?.ok_or(AppError::NotLoggedIn)?;
    Ok(Json(user))
}
