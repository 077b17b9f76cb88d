//! What a user is told: the outcome of an event, a reminder to answer, "everyone answered"
//! (to the organizer), a cancellation. The DTOs of the in-app list (the dashboard's list and the
//! header's unread count) and of the per-kind mail choices, and the server functions the pages
//! call, each one line over the [`NotificationsPort`](crate::ports::NotificationsPort).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The kinds of notification a user can opt out of (by mail; the in-app list keeps them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The meeting time is decided (or none could be found): to every participant.
    Outcome,
    /// The deadline is near and you have not answered.
    Reminder,
    /// To the organizer: everyone else has answered.
    EveryoneAnswered,
    /// The organizer cancelled the event: to every other participant.
    Cancelled,
}

impl NotificationKind {
    pub const ALL: [Self; 4] = [Self::Outcome, Self::Reminder, Self::EveryoneAnswered, Self::Cancelled];

    /// The name on the wire and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Outcome => "outcome",
            Self::Reminder => "reminder",
            Self::EveryoneAnswered => "everyone_answered",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// What the settings page calls this kind of mail.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Outcome => "The meeting time is decided",
            Self::Reminder => "A reminder to answer before the deadline",
            Self::EveryoneAnswered => "Everyone answered your event",
            Self::Cancelled => "An event you joined is cancelled",
        }
    }

    /// One line about `event` in the in-app list.
    pub fn headline(self, event: &str) -> String {
        match self {
            Self::Outcome => format!("The time for “{event}” is decided."),
            Self::Reminder => format!("“{event}” closes soon and you have not answered."),
            Self::EveryoneAnswered => format!("Everyone has answered “{event}”."),
            Self::Cancelled => format!("“{event}” was cancelled."),
        }
    }
}

/// One notification in the in-app list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NotificationView {
    pub id: i64,
    pub kind: NotificationKind,
    pub event_code: String,
    pub event_name: String,
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

/// The newest notifications (at most [`LIST_MAX`]) and how many of all are unread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NotificationList {
    pub unread: u32,
    pub items: Vec<NotificationView>,
}

/// The most notifications a list holds.
pub const LIST_MAX: u32 = 50;

/// The signed-in user's notifications.
#[server]
pub async fn my_notifications() -> Result<NotificationList, AppError> {
    use crate::ports::{port, session, NotificationsPort};
    port::<dyn NotificationsPort>()?.list(&session().await?).await
}

/// How many of the signed-in user's notifications are unread (0 when signed out).
#[server]
pub async fn unread_notifications() -> Result<u32, AppError> {
    use crate::ports::{port, session, NotificationsPort};
    port::<dyn NotificationsPort>()?.unread(&session().await?).await
}

/// Marks the signed-in user's notifications up to `up_to` (an id) read: the list was seen.
#[server]
pub async fn mark_notifications_read(up_to: i64) -> Result<(), AppError> {
    use crate::ports::{port, session, NotificationsPort};
    port::<dyn NotificationsPort>()?.mark_read(&session().await?, up_to).await
}

/// Turns off the kind of mail an unsubscribe link names; returns the kind.
#[server]
pub async fn unsubscribe(token: String) -> Result<NotificationKind, AppError> {
    use crate::ports::{port, NotificationsPort};
    let kind = port::<dyn NotificationsPort>()?.unsubscribe(&token).await?;
    leptos_axum::redirect(&format!("{}?done={}", crate::routes::UNSUBSCRIBE, kind.as_str()));
    Ok(kind)
}
