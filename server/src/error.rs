//! The server's error type. Client mistakes travel as [`AppError`] (the same words the pages
//! show); everything else is internal: logged here, shown to nobody. The REST API renders it
//! with [`IntoResponse`], the server functions through `From<Error> for AppError`.

use app::error::AppError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    App(#[from] AppError),
    /// The request body is not the JSON the route expects.
    #[error("{0}")]
    MalformedRequest(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("password hashing: {0}")]
    PasswordHash(String),
    #[error("blocking task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("random source: {0}")]
    Random(String),
    #[error("encoding: {0}")]
    Encoding(String),
    #[error("event cluster: {0}")]
    Cluster(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn log_internal(&self) {
        tracing::error!(error = %self, "internal error");
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        match error {
            Error::App(app_error) => app_error,
            Error::MalformedRequest(message) => AppError::invalid("request", message),
            internal => {
                internal.log_internal();
                AppError::Internal
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let app_error = AppError::from(self);
        let (status, code, field) = match &app_error {
            AppError::Invalid { field, .. } if field == "request" => (StatusCode::BAD_REQUEST, "malformed_request", None),
            AppError::Invalid { field, .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", Some(field.clone())),
            AppError::InvalidLines { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", Some("text".to_owned())),
            AppError::NotScheduled => (StatusCode::CONFLICT, "not_scheduled", None),
            AppError::UsernameTaken => (StatusCode::CONFLICT, "username_taken", None),
            AppError::WrongCredentials => (StatusCode::UNAUTHORIZED, "wrong_credentials", None),
            AppError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", None),
            AppError::NotLoggedIn => (StatusCode::UNAUTHORIZED, "not_logged_in", None),
            AppError::EventNotFound => (StatusCode::NOT_FOUND, "event_not_found", None),
            AppError::NotParticipant => (StatusCode::FORBIDDEN, "not_a_participant", None),
            AppError::NotOrganizer => (StatusCode::FORBIDDEN, "not_organizer", None),
            AppError::EventFull => (StatusCode::CONFLICT, "event_full", None),
            AppError::DeadlinePassed => (StatusCode::CONFLICT, "deadline_passed", None),
            AppError::EventCancelled => (StatusCode::CONFLICT, "event_cancelled", None),
            AppError::OrganizerCannotLeave => (StatusCode::CONFLICT, "organizer_cannot_leave", None),
            AppError::Internal | AppError::Transport(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        };
        let body = Json(ErrorBody { error: ErrorDetail { code: code.to_owned(), message: app_error.to_string(), field } });
        match app_error {
            AppError::TooManyAttempts { retry_after_secs } => {
                (status, [(header::RETRY_AFTER, retry_after_secs.to_string())], body).into_response()
            }
            _ => (status, body).into_response(),
        }
    }
}

/// Every API error's body: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_input`, `event_not_found`, `deadline_passed`, ...
    pub code: String,
    /// For people, in words.
    pub message: String,
    /// The input field at fault, for `invalid_input`.
    pub field: Option<String>,
}

/// Maps a unique-constraint violation to the client error it means; other errors pass.
pub trait OnUniqueViolation<T> {
    fn on_unique_violation(self, error: AppError) -> Result<T>;
}

impl<T> OnUniqueViolation<T> for std::result::Result<T, sqlx::Error> {
    fn on_unique_violation(self, error: AppError) -> Result<T> {
        self.map_err(|db_error| match &db_error {
            sqlx::Error::Database(inner) if inner.is_unique_violation() => Error::App(error),
            _ => Error::Database(db_error),
        })
    }
}
