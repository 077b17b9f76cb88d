//! `/api/v1/users/me/*` and the account mails' links: settings, address verification,
//! password reset and change, deleting the account.

use app::accounts::{AccountSettings, SettingsInput, UserView};
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
        .route("/users/me/settings", get(settings).put(save_settings))
        .route("/users/me/email/verification", post(resend_verification))
        .route("/users/email/verify", post(verify_email))
        .route("/users/password-reset", post(request_password_reset))
        .route("/users/password-reset/confirm", post(reset_password))
        .route("/users/me/password", post(change_password))
        .route("/users/me", axum::routing::delete(delete_account))
}

#[utoipa::path(get, path = "/api/v1/users/me/settings", tag = "users", security(("session_cookie" = [])), responses(
    (status = 200, body = AccountSettings), (status = 401, description = "Not logged in", body = ErrorBody)))]
pub async fn settings(State(state): State<AppState>, session: Session) -> Result<Json<AccountSettings>> {
    Ok(Json(state.accounts.settings(&session).await?))
}

#[utoipa::path(put, path = "/api/v1/users/me/settings", tag = "users", request_body = SettingsInput, security(("session_cookie" = [])), responses(
    (status = 200, description = "Saved; a new address is mailed a verification link", body = AccountSettings),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "A field breaks a rule", body = ErrorBody)))]
pub async fn save_settings(State(state): State<AppState>, session: Session, ApiJson(input): ApiJson<SettingsInput>) -> Result<Json<AccountSettings>> {
    Ok(Json(state.accounts.save_settings(&session, input).await?))
}

#[utoipa::path(post, path = "/api/v1/users/me/email/verification", tag = "users", security(("session_cookie" = [])), responses(
    (status = 202, description = "A new link is on its way (a few per hour at most)"),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 422, description = "No address to verify", body = ErrorBody)))]
pub async fn resend_verification(State(state): State<AppState>, session: Session) -> Result<StatusCode> {
    state.accounts.resend_verification(&session).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenInput {
    /// The `token` of the link in the mail.
    #[schema(max_length = 200)]
    token: String,
}

#[utoipa::path(post, path = "/api/v1/users/email/verify", tag = "users", request_body = TokenInput, responses(
    (status = 204, description = "The address is verified"),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "`bad_link`: forged, expired, or for an address that is no longer the account's", body = ErrorBody)))]
pub async fn verify_email(State(state): State<AppState>, ApiJson(input): ApiJson<TokenInput>) -> Result<StatusCode> {
    state.accounts.verify_email(&input.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetRequestInput {
    #[schema(max_length = 254)]
    email: String,
}

#[utoipa::path(post, path = "/api/v1/users/password-reset", tag = "users", request_body = ResetRequestInput, responses(
    (status = 202, description = "If an account has this verified address, a reset link is on its way (the same answer either way)"),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "Not an e-mail address", body = ErrorBody)))]
pub async fn request_password_reset(State(state): State<AppState>, ApiJson(input): ApiJson<ResetRequestInput>) -> Result<StatusCode> {
    state.accounts.request_password_reset(input.email.trim()).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetInput {
    #[schema(max_length = 200)]
    token: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

#[utoipa::path(post, path = "/api/v1/users/password-reset/confirm", tag = "users", request_body = ResetInput, responses(
    (status = 200, description = "Password set, every other session ended, signed in here", body = UserView),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "The password breaks a rule, or `bad_link`: the link is forged, expired or used", body = ErrorBody),
    (status = 503, description = "Password hashing is at capacity (see Retry-After)", body = ErrorBody)))]
pub async fn reset_password(State(state): State<AppState>, session: Session, ApiJson(input): ApiJson<ResetInput>) -> Result<Json<UserView>> {
    Ok(Json(state.accounts.reset_password(&session, &input.token, input.password).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangePasswordInput {
    #[schema(max_length = 128)]
    current_password: String,
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}

#[utoipa::path(post, path = "/api/v1/users/me/password", tag = "users", request_body = ChangePasswordInput, security(("session_cookie" = [])), responses(
    (status = 204, description = "Changed; every other session of the account ended"),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "Wrong current password, or the new one breaks a rule", body = ErrorBody),
    (status = 429, description = "Too many wrong passwords (see Retry-After)", body = ErrorBody),
    (status = 503, description = "Password hashing is at capacity (see Retry-After)", body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    Extension(ClientAddress(client)): Extension<ClientAddress>,
    session: Session,
    ApiJson(input): ApiJson<ChangePasswordInput>,
) -> Result<StatusCode> {
    state.accounts.change_password(&session, client, input.current_password, input.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordInput {
    #[schema(max_length = 128)]
    password: String,
}

#[utoipa::path(delete, path = "/api/v1/users/me", tag = "users", request_body = PasswordInput, security(("session_cookie" = [])), responses(
    (status = 204, description = "Deleted: open events it organizes cancelled, open events it joined left, every session ended"),
    (status = 400, description = "Not the JSON this route takes", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "A browser request from another site", body = ErrorBody),
    (status = 413, description = "Body over 2 MB", body = ErrorBody),
    (status = 422, description = "Wrong password", body = ErrorBody),
    (status = 429, description = "Too many wrong passwords (see Retry-After)", body = ErrorBody),
    (status = 503, description = "Password hashing is at capacity (see Retry-After)", body = ErrorBody)))]
pub async fn delete_account(
    State(state): State<AppState>,
    Extension(ClientAddress(client)): Extension<ClientAddress>,
    session: Session,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<StatusCode> {
    state.accounts.delete_account(&session, client, input.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
