//! The one JSON shape of an error, wherever it travels: the REST API's error bodies, the
//! bodies of failed server functions (which the islands decode back into [`AppError`]) and the
//! error a form posted without script carries back in its redirect URL.
//!
//! `{"error": {"code", "message", "field", "lines"?, "retry_after_secs"?}}`: `code` is stable
//! and machine-readable, `message` is for people. [`AppError`] serializes through this shape
//! and reads back from it, so a client of the API and our own pages see the same thing.

use leptos::prelude::ServerFnErrorErr;
use serde::{Deserialize, Serialize};

use super::{AppError, LineProblem};

/// Every error's body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_input`, `event_not_found`, `deadline_passed`, ...
    pub code: String,
    /// For people, in words.
    pub message: String,
    /// The input field at fault, for `invalid_input`.
    pub field: Option<String>,
    /// For `invalid_input` on a text answer: each unreadable line (at most 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<LineProblem>>,
    /// For `too_many_attempts`, `too_many_sign_ups` and `busy`: the same as `Retry-After`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

/// The field named by `invalid_input` and `malformed_request` errors about the request as a
/// whole (not one field).
const WHOLE_REQUEST: &str = "request";

impl AppError {
    /// The stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { field, .. } if field == WHOLE_REQUEST => "malformed_request",
            Self::Invalid { .. } | Self::InvalidLines { .. } => "invalid_input",
            Self::NotScheduled => "not_scheduled",
            Self::UsernameTaken => "username_taken",
            Self::WrongCredentials => "wrong_credentials",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::TooManySignUps { .. } => "too_many_sign_ups",
            Self::Busy { .. } => "busy",
            Self::TooManyStreams => "too_many_streams",
            Self::CrossSiteRequest => "cross_site_request",
            Self::BadLink => "bad_link",
            Self::TooLarge => "too_large",
            Self::NotLoggedIn => "not_logged_in",
            Self::EventNotFound => "event_not_found",
            Self::NotParticipant => "not_a_participant",
            Self::NotOrganizer => "not_organizer",
            Self::EventFull => "event_full",
            Self::DeadlinePassed => "deadline_passed",
            Self::EventCancelled => "event_cancelled",
            Self::OrganizerCannotLeave => "organizer_cannot_leave",
            Self::Transport(error) if sent_wrong(error) => "malformed_request",
            Self::Internal | Self::Transport(_) => "internal",
        }
    }
}

/// Whether a server function failed because of what the client sent (a missing or duplicate
/// field, a body that is not the encoding it claims, invalid UTF-8, too long): the client's
/// mistake, not a fault of the server.
fn sent_wrong(error: &ServerFnErrorErr) -> bool {
    matches!(
        error,
        ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::Request(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_)
    )
}

/// Characters of a transport error's own words (which may quote what was sent) kept.
const TRANSPORT_DETAIL_CHARS: usize = 200;

impl From<AppError> for ErrorBody {
    fn from(error: AppError) -> Self {
        let code = error.code().to_owned();
        let retry_after_secs = error.retry_after_secs();
        let message = match &error {
            AppError::Transport(transport) if sent_wrong(transport) => {
                let detail: String = transport.to_string().chars().take(TRANSPORT_DETAIL_CHARS).collect();
                format!("The request is malformed: {detail}")
            }
            // Whatever failed is in the server's log; the client learns only that it did.
            AppError::Transport(_) => AppError::Internal.to_string(),
            other => other.to_string(),
        };
        let (field, lines) = match error {
            AppError::Invalid { field, .. } if field != WHOLE_REQUEST => (Some(field), None),
            AppError::InvalidLines { lines } => (Some("text".to_owned()), Some(lines)),
            _ => (None, None),
        };
        Self { error: ErrorDetail { code, message, field, lines, retry_after_secs } }
    }
}

/// An error body whose code this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownCode(String);

impl TryFrom<ErrorBody> for AppError {
    type Error = UnknownCode;

    fn try_from(body: ErrorBody) -> Result<Self, UnknownCode> {
        let ErrorDetail { code, message, field, lines, retry_after_secs } = body.error;
        let retry_after_secs = retry_after_secs.unwrap_or(1);
        Ok(match code.as_str() {
            "malformed_request" => Self::invalid(WHOLE_REQUEST, message),
            "invalid_input" => match lines {
                Some(lines) => Self::InvalidLines { lines },
                None => Self::Invalid { field: field.unwrap_or_else(|| WHOLE_REQUEST.to_owned()), message },
            },
            "not_scheduled" => Self::NotScheduled,
            "username_taken" => Self::UsernameTaken,
            "wrong_credentials" => Self::WrongCredentials,
            "too_many_attempts" => Self::TooManyAttempts { retry_after_secs },
            "too_many_sign_ups" => Self::TooManySignUps { retry_after_secs },
            "busy" => Self::Busy { retry_after_secs },
            "too_many_streams" => Self::TooManyStreams,
            "cross_site_request" => Self::CrossSiteRequest,
            "bad_link" => Self::BadLink,
            "too_large" => Self::TooLarge,
            "not_logged_in" => Self::NotLoggedIn,
            "event_not_found" => Self::EventNotFound,
            "not_a_participant" => Self::NotParticipant,
            "not_organizer" => Self::NotOrganizer,
            "event_full" => Self::EventFull,
            "deadline_passed" => Self::DeadlinePassed,
            "event_cancelled" => Self::EventCancelled,
            "organizer_cannot_leave" => Self::OrganizerCannotLeave,
            "internal" => Self::Internal,
            _ => return Err(UnknownCode(code)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(error: AppError) -> AppError {
        serde_json::from_str(&serde_json::to_string(&error).unwrap()).unwrap()
    }

    #[test]
    fn every_error_reads_back_as_itself() {
        let errors = [
            AppError::invalid("name", "The name is empty."),
            AppError::invalid(WHOLE_REQUEST, "expected a number"),
            AppError::InvalidLines { lines: vec![LineProblem { line: 3, message: "no such day".to_owned() }] },
            AppError::UsernameTaken,
            AppError::WrongCredentials,
            AppError::TooManyAttempts { retry_after_secs: 900 },
            AppError::TooManySignUps { retry_after_secs: 60 },
            AppError::Busy { retry_after_secs: 1 },
            AppError::TooManyStreams,
            AppError::NotLoggedIn,
            AppError::EventNotFound,
            AppError::NotParticipant,
            AppError::NotOrganizer,
            AppError::EventFull,
            AppError::DeadlinePassed,
            AppError::EventCancelled,
            AppError::NotScheduled,
            AppError::OrganizerCannotLeave,
            AppError::TooLarge,
            AppError::CrossSiteRequest,
            AppError::BadLink,
            AppError::Internal,
        ];
        for error in errors {
            assert_eq!(round_trip(error.clone()), error);
        }
    }

    #[test]
    fn the_shape_is_the_rest_apis() {
        let body = serde_json::to_value(AppError::TooManyAttempts { retry_after_secs: 30 }).unwrap();
        assert_eq!(body["error"]["code"], "too_many_attempts");
        assert_eq!(body["error"]["retry_after_secs"], 30);
        assert!(body["error"]["field"].is_null());
        let body = serde_json::to_value(AppError::invalid("name", "The name is empty.")).unwrap();
        assert_eq!(body["error"]["field"], "name");
        assert_eq!(body["error"]["message"], "The name is empty.");
        assert!(body["error"].get("lines").is_none());
    }

    #[test]
    fn a_transport_error_names_the_clients_mistake_but_hides_the_servers() {
        let sent_wrong = round_trip(AppError::Transport(ServerFnErrorErr::MissingArg("code".to_owned())));
        assert!(matches!(&sent_wrong, AppError::Invalid { field, message } if field == WHOLE_REQUEST && message.contains("code")), "{sent_wrong:?}");
        let server = AppError::Transport(ServerFnErrorErr::ServerError("connection pool at 10.0.0.7 timed out".to_owned()));
        let body = serde_json::to_string(&server).unwrap();
        assert!(!body.contains("10.0.0.7"), "{body}");
        assert_eq!(round_trip(server), AppError::Internal);
    }

    #[test]
    fn an_unknown_code_is_an_error_not_a_guess() {
        let body = r#"{"error":{"code":"from_the_future","message":"?","field":null}}"#;
        assert!(serde_json::from_str::<AppError>(body).is_err());
    }
}
