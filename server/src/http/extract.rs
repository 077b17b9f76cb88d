//! Extractors whose rejections speak the API's error format instead of axum's plain text.

use app::error::AppError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use crate::error::Error;
use crate::state::AppState;

/// The signed-in user's id; a request without one is refused with 401 `not_logged_in`.
pub struct CurrentUser(pub i64);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| Error::malformed(message))?;
        let user_id = state.accounts.current_user_id(&session).await?.ok_or(AppError::NotLoggedIn)?;
        Ok(Self(user_id))
    }
}

/// Like `axum::Json`, but a bad body becomes a 400 `malformed_request` (a body over the limit
/// a 413 `too_large`) in our JSON shape, and only an object is a body: serde reads a struct from
/// an array too (`[7]` as `{"up_to": 7}`), which no route documents.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The body alone, under axum's default limit (2 MB, as for `Json`); the headers stay.
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::Bytes::from_request(Request::new(body), state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(AppError::TooLarge.into()),
            Err(rejection) => return Err(Error::malformed(&rejection.body_text())),
        };
        if bytes.iter().find(|byte| !byte.is_ascii_whitespace()).is_some_and(|first| *first != b'{') {
            return Err(Error::malformed("expected a JSON object"));
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(AppError::TooLarge.into()),
            Err(rejection) => Err(Error::malformed(&rejection.body_text())),
        }
    }
}

/// Like `axum::extract::Path`, but a bad segment (invalid UTF-8, say) becomes a 400
/// `malformed_request` in our JSON shape instead of axum's plain text.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(Error::malformed(&rejection.body_text())),
        }
    }
}

/// Like `axum::extract::Query`, but a bad query (an unknown parameter, a page that is not a
/// number) becomes a 400 `malformed_request` in our JSON shape.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query).map(Self).map_err(|error| Error::malformed(&error.to_string()))
    }
}
