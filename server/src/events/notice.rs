//! What a mail about an event says of it: its name, page, deadline and outcome, and the
//! outcome's calendar file (the same bytes `calendar.ics` serves). Read by the mail sender when
//! it sends, so a mail always tells the event as it stands.

use app::events::OutcomeView;
use chrono::{DateTime, Utc};

use super::{calendar, repo, EventService};
use crate::error::Result;

pub struct EventNotice {
    pub code: String,
    pub organizer_id: i64,
    /// While hidden, only the organizer's mails name who can come.
    pub answers_hidden: bool,
    pub name: String,
    pub organizer: String,
    pub time_zone: String,
    pub deadline: DateTime<Utc>,
    pub outcome: OutcomeView,
    /// The `.ics` file, when a slot is scheduled.
    pub calendar: Option<String>,
}

impl EventNotice {
    /// The outcome as `user_id` may read it.
    pub fn outcome_for(&self, user_id: i64) -> OutcomeView {
        match self.answers_hidden && self.organizer_id != user_id {
            true => self.outcome.clone().without_names(),
            false => self.outcome.clone(),
        }
    }
}

impl EventService {
    /// The event as a mail tells it; `None` if there is no such event.
    pub async fn notice(&self, event_id: i64) -> Result<Option<EventNotice>> {
        let Some(event) = repo::find_by_id(&self.db, event_id).await? else { return Ok(None) };
        let participants = repo::participants(&self.db, event_id).await?;
        let outcome = self.outcome_of(&event, &participants).await?;
        let calendar = match &outcome {
            OutcomeView::Scheduled { slot, .. } => Some(calendar::ics(&calendar::CalendarEvent {
                code: &event.code,
                name: &event.name,
                description: &event.description,
                organizer: &event.organizer,
                slot: *slot,
                stamp: event.outcome_stored_at.unwrap_or_else(Utc::now),
            })),
            _ => None,
        };
        Ok(Some(EventNotice {
            organizer_id: event.organizer_id,
            answers_hidden: event.answers_hidden,
            code: event.code,
            name: event.name,
            organizer: event.organizer,
            time_zone: event.time_zone,
            deadline: event.deadline,
            outcome,
            calendar,
        }))
    }
}
