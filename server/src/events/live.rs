//! The event's shared state for live pages ([`crate::live`]): what every member's page shows
//! alike, built and serialized once per change for all of them.

use std::collections::HashSet;
use std::sync::Arc;

use app::error::AppError;
use app::events::{LiveEvent, ParticipantView};
use axum::body::Bytes;
use chrono::Utc;

use super::page_cache::PageSnapshot;
use super::{heatmap, repo, EventService};
use crate::error::{Error, Result};

/// One message of an event's live stream, as of one generation.
#[derive(Debug)]
pub struct LiveFrame {
    pub generation: i64,
    /// Who may receive it: the current participants and the organizer.
    pub members: HashSet<i64>,
    /// The [`LiveEvent`] as one Server-Sent Events `update` message (the JSON as data, the
    /// generation as id), encoded once: every stream sends these same bytes, and a stream
    /// whose reader is slow holds a reference to them, not a copy.
    pub message: Bytes,
}

/// `live` as an SSE message. Compact JSON has no line breaks, so it is one `data` line.
fn update_message(live: &LiveEvent) -> serde_json::Result<Bytes> {
    let mut message = format!("event: update\nid: {}\ndata: ", live.generation).into_bytes();
    serde_json::to_writer(&mut message, live)?;
    message.extend_from_slice(b"\n\n");
    Ok(Bytes::from(message))
}

impl EventService {
    /// The event `event_code` names, if `user_id` is one of its members (who may follow it).
    pub async fn live_member(&self, user_id: i64, event_code: &str) -> Result<i64> {
        let event = self.find(event_code).await?;
        if event.organizer_id != user_id && !repo::is_participant(&self.db, event.event_id, user_id).await? {
            return Err(AppError::NotParticipant.into());
        }
        Ok(event.event_id)
    }

    /// Whether `user_id` is a member of `event_id` now (a participant or the organizer).
    pub async fn live_member_by_id(&self, user_id: i64, event_id: i64) -> Result<bool> {
        let Some(event) = repo::find_by_id(&self.db, event_id).await? else { return Ok(false) };
        Ok(event.organizer_id == user_id || repo::is_participant(&self.db, event_id, user_id).await?)
    }

    /// The shared state of `event_id` now, or `None` if there is no such event.
    pub async fn live_frame(&self, event_id: i64) -> Result<Option<LiveFrame>> {
        let Some(row) = repo::find_by_id(&self.db, event_id).await? else { return Ok(None) };
        let snapshot = self.snapshot(&row).await?;
        // One frame for every member: while answers are hidden it names nobody (the organizer's
        // page reads the names from the event). The participants may have been read after the
        // row: hidden if either read says so, so a frame never names people the organizer hid.
        let hidden = row.answers_hidden || repo::answers_hidden(&self.db, event_id).await?;
        let participants: Vec<ParticipantView> = match hidden {
            true => Vec::new(),
            false => snapshot.participants.iter().map(|p| ParticipantView { username: p.username.clone(), answered: p.answered }).collect(),
        };
        let outcome = self.outcome_of(&row, &snapshot.participants).await?;
        let members = snapshot.participants.iter().map(|p| p.user_id).chain([row.organizer_id]).collect();
        let live = LiveEvent {
            generation: row.generation,
            status: row.status(Utc::now()),
            name: row.name.clone(),
            description: row.description.clone(),
            deadline: row.deadline,
            duration_minutes: u32::try_from(row.duration_minutes).unwrap_or_default(),
            window_start: row.window_start,
            window_end: row.window_end,
            answers_hidden: hidden,
            participant_count: u32::try_from(snapshot.participants.len()).unwrap_or(u32::MAX),
            answered_count: u32::try_from(snapshot.participants.iter().filter(|p| p.answered).count()).unwrap_or(u32::MAX),
            participants,
            heatmap: snapshot.heatmap.clone(),
            outcome: if hidden { outcome.without_names() } else { outcome },
        };
        let message = update_message(&live).map_err(|e| Error::Encoding(e.to_string()))?;
        Ok(Some(LiveFrame { generation: row.generation, members, message }))
    }

    /// The participants, their answers and the heatmap of `row`'s event at its generation.
    pub(super) async fn snapshot(&self, row: &repo::EventRow) -> Result<Arc<PageSnapshot>> {
        if let Some(snapshot) = self.page_cache.get(row.event_id, row.generation) {
            return Ok(snapshot);
        }
        let (participants, answers): (Vec<_>, Vec<_>) =
            repo::participants_with_answers(&self.db, row.event_id).await?.into_iter().unzip();
        let heatmap = heatmap(answers.iter().flatten());
        Ok(self.page_cache.keep(row.event_id, row.generation, PageSnapshot { participants, answers, heatmap }))
    }
}

#[cfg(test)]
mod tests {
    use app::events::{EventStatus, Heatmap, LiveEvent, OutcomeView, ParticipantView};

    use super::update_message;

    #[test]
    fn a_frame_is_one_sse_message_whatever_the_names_hold() {
        let live = LiveEvent {
            generation: 42,
            status: EventStatus::Open,
            name: "a\nname".into(),
            description: "two\r\nlines".into(),
            deadline: chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            duration_minutes: 60,
            window_start: None,
            window_end: None,
            answers_hidden: false,
            participant_count: 1,
            answered_count: 1,
            participants: vec![ParticipantView { username: "line\nbreak\r\ndata: x".into(), answered: true }],
            heatmap: Heatmap { answered: 1, segments: Vec::new() },
            outcome: OutcomeView::Pending,
        };
        let message = update_message(&live).unwrap();
        let text = std::str::from_utf8(&message).unwrap();
        let data = text.strip_prefix("event: update\nid: 42\ndata: ").and_then(|rest| rest.strip_suffix("\n\n")).expect(text);
        assert!(!data.contains(['\n', '\r']), "{data}");
        assert_eq!(serde_json::from_str::<LiveEvent>(data).unwrap(), live);
    }
}
