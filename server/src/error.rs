//! The server's error type. Client mistakes travel as [`AppError`] (the same words the pages
//! show); everything else is internal: logged here, shown to nobody. The REST API renders it
//! with [`IntoResponse`], the server functions through `From<Error> for AppError`.

use app::error::AppError;
pub use app::error::{ErrorBody, ErrorDetail};
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
    /// The failure of a transaction that wrote several requests' changes (a group commit).
    #[error("database: {0}")]
    SharedDatabase(std::sync::Arc<sqlx::Error>),
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
        let status = status(&app_error);
        let retry_after = app_error.retry_after_secs();
        let body = Json(ErrorBody::from(app_error));
        match retry_after {
            Some(retry_after_secs) => (status, [(header::RETRY_AFTER, retry_after_secs.to_string())], body).into_response(),
            None => (status, body).into_response(),
        }
    }
}

/// The HTTP status of each error (its API code: [`AppError::code`]), for REST and server
/// functions alike.
fn status(error: &AppError) -> StatusCode {
    match error {
        AppError::Invalid { .. } | AppError::InvalidLines { .. } if error.code() == "malformed_request" => StatusCode::BAD_REQUEST,
        AppError::Invalid { .. } | AppError::InvalidLines { .. } | AppError::BadLink => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotScheduled
        | AppError::UsernameTaken
        | AppError::EventFull
        | AppError::DeadlinePassed
        | AppError::EventCancelled
        | AppError::OrganizerCannotLeave => StatusCode::CONFLICT,
        AppError::WrongCredentials | AppError::NotLoggedIn => StatusCode::UNAUTHORIZED,
        AppError::TooManyAttempts { .. } | AppError::TooManySignUps { .. } | AppError::TooManyStreams => StatusCode::TOO_MANY_REQUESTS,
        AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        AppError::CrossSiteRequest | AppError::NotParticipant | AppError::NotOrganizer => StatusCode::FORBIDDEN,
        AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::EventNotFound => StatusCode::NOT_FOUND,
        AppError::Transport(_) if error.code() == "malformed_request" => StatusCode::BAD_REQUEST,
        AppError::Internal | AppError::Transport(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The largest server-function error body read back (200 bad lines of a text answer fit many
/// times over).
const SERVER_FN_ERROR_BODY_LIMIT: usize = 1 << 20;

/// Leptos answers every failed server function with 500. This middleware gives the response
/// the status the REST API gives the same error (a full event 409, a bad field 422, ...), so
/// access logs, the trace layer and the browser tell a refused request from a broken server.
/// The body (the `AppError` in the API's error shape) stays as it is. A plain form post is left alone: Leptos
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
        parts.status = status(&error);
        if let Some(retry_after_secs) = error.retry_after_secs() {
            parts.headers.insert(header::RETRY_AFTER, retry_after_secs.into());
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
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
