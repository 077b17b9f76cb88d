//! The server's error type. Client mistakes travel as [`AppError`] (the same words the pages
//! show); everything else is internal: logged here, shown to nobody. The REST API renders it
//! with [`IntoResponse`], the server functions through `From<Error> for AppError`.

use app::error::AppError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use leptos::prelude::ServerFnErrorErr;

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
    /// The password hashing queue is full.
    #[error("busy: retry after {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
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

/// Characters of a parser's complaint repeated to the client (serde quotes the input it
/// choked on, which may be megabytes).
const MALFORMED_MESSAGE_CHARS: usize = 200;

impl Error {
    /// A malformed request, described by at most [`MALFORMED_MESSAGE_CHARS`] of `message`.
    pub fn malformed(message: &str) -> Self {
        let mut chars = message.chars();
        let mut short: String = chars.by_ref().take(MALFORMED_MESSAGE_CHARS).collect();
        if chars.next().is_some() {
            short.push('…');
        }
        Self::MalformedRequest(short)
    }

    fn log_internal(&self) {
        tracing::error!(error = %self, "internal error");
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        match error {
            Error::App(app_error) => app_error,
            Error::MalformedRequest(message) => AppError::invalid("request", message),
            Error::Busy { retry_after_secs } => AppError::Busy { retry_after_secs },
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
        let (status, code) = status_and_code(&app_error);
        let field = match &app_error {
            AppError::Invalid { field, .. } if field != "request" => Some(field.clone()),
            AppError::InvalidLines { .. } => Some("text".to_owned()),
            _ => None,
        };
        let body = Json(ErrorBody { error: ErrorDetail { code: code.to_owned(), message: app_error.to_string(), field } });
        match app_error.retry_after_secs() {
            Some(retry_after_secs) => (status, [(header::RETRY_AFTER, retry_after_secs.to_string())], body).into_response(),
            None => (status, body).into_response(),
        }
    }
}

/// The HTTP status and the stable API code of each error, for REST and server functions alike.
fn status_and_code(error: &AppError) -> (StatusCode, &'static str) {
    match error {
        AppError::Invalid { field, .. } if field == "request" => (StatusCode::BAD_REQUEST, "malformed_request"),
        AppError::Invalid { .. } | AppError::InvalidLines { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        AppError::NotScheduled => (StatusCode::CONFLICT, "not_scheduled"),
        AppError::UsernameTaken => (StatusCode::CONFLICT, "username_taken"),
        AppError::WrongCredentials => (StatusCode::UNAUTHORIZED, "wrong_credentials"),
        AppError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        AppError::TooManySignUps { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_sign_ups"),
        AppError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        AppError::CrossSiteRequest => (StatusCode::FORBIDDEN, "cross_site_request"),
        AppError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        AppError::NotLoggedIn => (StatusCode::UNAUTHORIZED, "not_logged_in"),
        AppError::EventNotFound => (StatusCode::NOT_FOUND, "event_not_found"),
        AppError::NotParticipant => (StatusCode::FORBIDDEN, "not_a_participant"),
        AppError::NotOrganizer => (StatusCode::FORBIDDEN, "not_organizer"),
        AppError::EventFull => (StatusCode::CONFLICT, "event_full"),
        AppError::DeadlinePassed => (StatusCode::CONFLICT, "deadline_passed"),
        AppError::EventCancelled => (StatusCode::CONFLICT, "event_cancelled"),
        AppError::OrganizerCannotLeave => (StatusCode::CONFLICT, "organizer_cannot_leave"),
        AppError::Transport(error) if sent_wrong(error) => (StatusCode::BAD_REQUEST, "malformed_request"),
        AppError::Internal | AppError::Transport(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// Whether a server function failed because of what the client sent (a missing or duplicate
/// field, a body that is not the encoding it claims, invalid UTF-8, too long): a 400, not a
/// fault of the server.
fn sent_wrong(error: &ServerFnErrorErr) -> bool {
    matches!(
        error,
        ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) | ServerFnErrorErr::Deserialization(_) | ServerFnErrorErr::Request(_) | ServerFnErrorErr::UnsupportedRequestMethod(_)
    )
}

/// The largest server-function error body read back (200 bad lines of a text answer fit many
/// times over).
const SERVER_FN_ERROR_BODY_LIMIT: usize = 1 << 20;

/// Leptos answers every failed server function with 500. This middleware gives the response
/// the status the REST API gives the same error (a full event 409, a bad field 422, ...), so
/// access logs, the trace layer and the browser tell a refused request from a broken server.
/// The body (the `AppError` as JSON) stays as it is. A plain form post is left alone: Leptos
/// answers it with a redirect back to the form, the error in the URL.
pub async fn server_fn_error_status(response: Response) -> Response {
    use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR || !response.headers().contains_key(SERVER_FN_ERROR_HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, SERVER_FN_ERROR_BODY_LIMIT).await else {
        return (parts.status, parts.headers).into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_and_code(&error).0;
        if let Some(retry_after_secs) = error.retry_after_secs() {
            parts.headers.insert(header::RETRY_AFTER, retry_after_secs.into());
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
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
