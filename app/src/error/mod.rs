//! The error every server function returns. It crosses the wire to the browser, so it holds
//! only what a person may read: the server maps its own errors into it and logs (then hides)
//! anything internal. On the wire (server-function bodies, form-error URLs, the REST API) it
//! has one JSON shape, [`wire`].

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

mod wire;

pub use wire::{ErrorBody, ErrorDetail};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(into = "ErrorBody", try_from = "ErrorBody")]
pub enum AppError {
    /// A form field broke a rule; the message names the rule.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// Lines of an answer in the text format that could not be read; nothing was stored.
    #[error("{}", describe_lines(lines))]
    InvalidLines { lines: Vec<LineProblem> },
    #[error("That username is already taken. Pick another one.")]
    UsernameTaken,
    /// Deliberately the same for an unknown user and a wrong password.
    #[error("Wrong username or password.")]
    WrongCredentials,
    #[error("Too many failed log-ins. Try again in {retry_after_secs} seconds.")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("Please log in first.")]
    NotLoggedIn,
    #[error("No event has that code. Check the code or the link.")]
    EventNotFound,
    #[error("Only participants of this event can do that. Join it first.")]
    NotParticipant,
    #[error("Only the organizer of this event can do that.")]
    NotOrganizer,
    #[error("This event is full: it has reached its maximum number of participants.")]
    EventFull,
    #[error("The response deadline has passed: the event can no longer be changed.")]
    DeadlinePassed,
    #[error("The organizer cancelled this event.")]
    EventCancelled,
    #[error("This event has no scheduled time: there is nothing to put in a calendar.")]
    NotScheduled,
    #[error("The organizer cannot leave their own event; cancel it instead.")]
    OrganizerCannotLeave,
    #[error("Too many sign-ups from your network. Try again in {retry_after_secs} seconds.")]
    TooManySignUps { retry_after_secs: u64 },
    /// One account holds as many live event streams open as it may.
    #[error("Too many open pages for this account. Close some tabs and reload.")]
    TooManyStreams,
    /// The server is at capacity for this kind of work (password hashing); nothing changed.
    #[error("Whenly is busy right now. Please try again in {retry_after_secs} seconds.")]
    Busy { retry_after_secs: u64 },
    /// The request body is over the size limit.
    #[error("The request is too large.")]
    TooLarge,
    /// A link from a mail (verification, password reset, unsubscribe) that is forged, expired
    /// or already used.
    #[error("This link is invalid or has expired. Ask for a new one.")]
    BadLink,
    /// A browser sent a state-changing request on behalf of another site.
    #[error("This request came from another site and was refused.")]
    CrossSiteRequest,
    /// Something failed on the server; details are in the server log, not here.
    #[error("Something went wrong on our side. Please try again in a moment.")]
    Internal,
    /// The request never got a proper answer (network down, server restarting).
    #[error("Whenly could not be reached. Check your connection and try again.")]
    Transport(ServerFnErrorErr),
}

/// One unreadable line of a text answer, numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LineProblem {
    pub line: u32,
    pub message: String,
}

/// Characters of a client's input an error message may repeat.
const EXCERPT_CHARS: usize = 40;

/// `text` quoted for an error message, cut to its first [`EXCERPT_CHARS`] characters: an
/// error never echoes more than a short prefix of what was sent.
pub fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() { format!("{head:?}…") } else { format!("{head:?}") }
}

fn describe_lines(lines: &[LineProblem]) -> String {
    let described: Vec<String> = lines.iter().map(|problem| format!("line {}: {}", problem.line, problem.message)).collect();
    described.join("; ")
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), message: message.into() }
    }

    /// When the client may try again, for errors that say so (`Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts { retry_after_secs } | Self::TooManySignUps { retry_after_secs } | Self::Busy { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value)
    }
}
