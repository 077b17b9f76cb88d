//! `/api/v1/users/*`: sign-up, log-in, log-out, and who am I.

use std::net::SocketAddr;

use app::accounts::UserView;
use app::error::AppError;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower_sessions::Session;

use crate::error::Result;
use crate::http::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/signup", post(sign_up))
        .route("/users/login", post(log_in))
        .route("/users/logout", post(log_out))
        .route("/users/me", get(me))
}

#[derive(Deserialize)]
struct CredentialsInput {
    username: String,
    password: String,
}

async fn sign_up(
    State(state): State<AppState>,
    session: Session,
    ApiJson(input): ApiJson<CredentialsInput>,
) -> Result<(StatusCode, Json<UserView>)> {
    let user = state.accounts.sign_up(&session, input.username, input.password).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn log_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    ApiJson(input): ApiJson<CredentialsInput>,
) -> Result<Json<UserView>> {
    let user = state.accounts.log_in(&session, peer.ip(), input.username, input.password).await?;
    Ok(Json(user))
}

async fn log_out(State(state): State<AppState>, session: Session) -> Result<StatusCode> {
    state.accounts.log_out(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, session: Session) -> Result<Json<UserView>> {
    let user = state.accounts.current_user(&session).await?.ok_or(AppError::NotLoggedIn)?;
    Ok(Json(user))
}
