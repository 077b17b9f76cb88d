//! Events: create, read, join, leave, cancel, the dashboard lists, and answers. The database
//! is the source of truth; every rule that depends on the deadline or on membership is checked
//! inside the transaction that writes.
//!
//! After an answer commits, the cluster ([`crate::cluster`]) dispatches it to an event node;
//! the nodes compute the outcome at the deadline and the cluster stores it.
//! The REST handlers call [`EventService`] directly; the pages reach it through
//! [`EventPages`], the [`EventsPort`] that resolves the caller's session first.

pub mod calendar;
pub mod code;
mod live;
mod page_cache;
mod repo;

use app::error::{excerpt, AppError, LineProblem};
use app::events::{
    AvailabilityInput, CreateEventInput, EventPageData, EventStatus, EventSummary, EventView, HeatSegment, Heatmap,
    MyEvents, OutcomeView, ParticipantView, SlotView, CAPACITY_MAX, DESCRIPTION_MAX, NAME_MAX,
};
use app::ports::EventsPort;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use scheduling::{text, EventSpec, Interval, IntervalSet, Minute, SpecError};
use tower_sessions::Session;

use std::sync::Arc;

use crate::accounts::AccountService;
use crate::cluster::Cluster;
use crate::db::Db;
use crate::live::ChangeSender;
use crate::error::{Error, Result};
pub use live::LiveFrame;
pub(crate) use repo::generations;
use page_cache::PageCache;
use repo::EventRow;

/// How many times a create retries when a fresh code collides (practically never).
const CODE_ATTEMPTS: usize = 3;

pub struct EventService {
    db: Db,
    cluster: Arc<Cluster>,
    /// What the event page shows of the participants, per event and generation.
    page_cache: PageCache,
    /// Tells the live pages of this process about a change at once (others learn of it from
    /// the event's generation within a round).
    changes: ChangeSender,
}

impl EventService {
    pub fn new(db: Db, cluster: Arc<Cluster>, changes: ChangeSender) -> Self {
        Self { db, cluster, page_cache: PageCache::default(), changes }
    }

    /// Runs `work` on the cluster after the request's commit; a failure leaves the row for the
    /// reconciler, so the caller's success (the commit) stands.
    fn after_commit<F>(&self, what: &'static str, work: impl FnOnce(Arc<Cluster>) -> F)
    where
        F: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let job = work(Arc::clone(&self.cluster));
        tokio::spawn(async move {
            if let Err(error) = job.await {
                tracing::debug!(%error, what, "cluster work deferred to the reconciler");
            }
        });
    }

    pub async fn create(&self, user_id: i64, input: CreateEventInput) -> Result<EventView> {
        let valid = validate(input, Utc::now())?;
        for _ in 0..CODE_ATTEMPTS {
            let event_code = code::new_code().map_err(|e| Error::Random(e.to_string()))?;
            match repo::insert_event(&self.db, user_id, &event_code, &valid).await {
                Ok(event_id) => {
                    self.after_commit("assign coordinator", |cluster| async move { cluster.assign_coordinator(event_id).await });
                    return self.view(user_id, &event_code).await;
                }
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(Error::Random("could not find a free event code".into()))
    }

    pub async fn view(&self, user_id: i64, event_code: &str) -> Result<EventView> {
        let event = self.find(event_code).await?;
        let participants = repo::participants(&self.db, event.event_id).await?;
        self.view_of(user_id, event, &participants).await
    }

    /// What `user_id` may see of `event`, whose current participants are `participants`.
    async fn view_of(&self, user_id: i64, event: EventRow, participants: &[repo::Participant]) -> Result<EventView> {
        let is_participant = participants.iter().any(|p| p.user_id == user_id);
        let is_organizer = event.organizer_id == user_id;
        let outcome = match is_participant || is_organizer {
            true => Some(self.outcome_of(&event, participants).await?),
            false => None,
        };
        Ok(EventView {
            status: event.status(Utc::now()),
            code: event.code,
            name: event.name,
            description: event.description,
            organizer: event.organizer,
            deadline: event.deadline,
            duration_minutes: u32::try_from(event.duration_minutes).unwrap_or_default(),
            window_start: event.window_start,
            window_end: event.window_end,
            capacity: event.capacity.and_then(|capacity| u32::try_from(capacity).ok()),
            time_zone: event.time_zone,
            participant_count: u32::try_from(participants.len()).unwrap_or(u32::MAX),
            is_participant,
            is_organizer,
            participants: (is_participant || is_organizer).then(|| {
                participants.iter().map(|p| ParticipantView { username: p.username.clone(), answered: p.answered }).collect()
            }),
            outcome,
        })
    }

    /// Joins the event (idempotent for a current participant).
    pub async fn join(&self, user_id: i64, event_code: &str) -> Result<EventView> {
        let event = self.find(event_code).await?;
        Self::ensure_open(&event)?;
        repo::join(&self.db, &event, user_id).await?;
        self.changes.changed(event.event_id);
        self.view(user_id, event_code).await
    }

    /// Leaves the event, withdrawing the answer.
    pub async fn leave(&self, user_id: i64, event_code: &str) -> Result<()> {
        let event = self.find(event_code).await?;
        if event.organizer_id == user_id {
            return Err(AppError::OrganizerCannotLeave.into());
        }
        Self::ensure_open(&event)?;
        let participant_id = repo::leave(&self.db, &event, user_id).await?;
        self.changes.changed(event.event_id);
        self.after_commit("withdraw answer", |cluster| async move { cluster.dispatch_answer(participant_id).await });
        Ok(())
    }

    /// The organizer cancels: the outcome becomes "cancelled".
    pub async fn cancel(&self, user_id: i64, event_code: &str) -> Result<()> {
        let event = self.find(event_code).await?;
        if event.organizer_id != user_id {
            return Err(AppError::NotOrganizer.into());
        }
        if event.cancelled_at.is_some() {
            return Ok(());
        }
        if event.outcome_stored_at.is_some() {
            return Err(AppError::DeadlinePassed.into());
        }
        if repo::cancel(&self.db, event.event_id).await? {
            self.changes.changed(event.event_id);
            return Ok(());
        }
        // Cancelled (nothing to do) or decided (too late) since it was read.
        match self.find(event_code).await?.cancelled_at {
            Some(_) => Ok(()),
            None => Err(AppError::DeadlinePassed.into()),
        }
    }

    /// Stores the participant's answer (a new version) and returns the version.
    pub async fn put_availability(&self, user_id: i64, event_code: &str, input: AvailabilityInput) -> Result<u64> {
        let event = self.find(event_code).await?;
        Self::ensure_open(&event)?;
        // Only a participant's answer is worth reading (the upsert checks again, under the lock).
        if !repo::is_participant(&self.db, event.event_id, user_id).await? {
            return Err(AppError::NotParticipant.into());
        }
        let availability = parse_availability(input)?;
        let (participant_id, version) = repo::upsert_answer(&self.db, &event, user_id, &availability).await?;
        self.changes.changed(event.event_id);
        self.after_commit("dispatch answer", |cluster| async move { cluster.dispatch_answer(participant_id).await });
        Ok(version)
    }

    /// The event's outcome, for its participants and organizer.
    pub async fn outcome(&self, user_id: i64, event_code: &str) -> Result<OutcomeView> {
        let event = self.find(event_code).await?;
        let participants = repo::participants(&self.db, event.event_id).await?;
        if event.organizer_id != user_id && !participants.iter().any(|p| p.user_id == user_id) {
            return Err(AppError::NotParticipant.into());
        }
        self.outcome_of(&event, &participants).await
    }

    async fn outcome_of(&self, event: &EventRow, participants: &[repo::Participant]) -> Result<OutcomeView> {
        if event.cancelled_at.is_some() {
            return Ok(OutcomeView::Cancelled);
        }
        if event.outcome_stored_at.is_none() {
            return Ok(OutcomeView::Pending);
        }
        let Some(outcome) = repo::stored_outcome(&self.db, event.event_id).await? else { return Ok(OutcomeView::Pending) };
        let username = |id: scheduling::ParticipantId| {
            participants
                .iter()
                .find(|p| p.participant_id as u64 == id.0)
                .map_or_else(|| "(left the event)".to_owned(), |p| p.username.clone())
        };
        Ok(OutcomeView::decided(&outcome, username))
    }

    /// The event page's data: the view, and for participants their own answer and the heatmap.
    /// One query for the event's row, and the participants with their answers and the heatmap
    /// from the [`PageCache`] unless the event's generation moved on.
    pub async fn page(&self, user_id: i64, event_code: &str) -> Result<EventPageData> {
        let row = self.find(event_code).await?;
        let snapshot = self.snapshot(&row).await?;
        let event = self.view_of(user_id, row, &snapshot.participants).await?;
        if !event.is_participant {
            return Ok(EventPageData { event, my_answer: None, heatmap: None });
        }
        let my_answer = snapshot
            .participants
            .iter()
            .zip(&snapshot.answers)
            .find(|(participant, _)| participant.user_id == user_id)
            .and_then(|(_, answer)| answer.as_ref())
            .map(|set| set.intervals().iter().copied().map(SlotView::from).collect());
        Ok(EventPageData { event, my_answer, heatmap: Some(snapshot.heatmap.clone()) })
    }

    /// The scheduled slot of an event as an iCalendar file, for its participants.
    pub async fn calendar(&self, user_id: i64, event_code: &str) -> Result<String> {
        let event = self.find(event_code).await?;
        let outcome = self.outcome(user_id, event_code).await?;
        let OutcomeView::Scheduled { slot, .. } = outcome else { return Err(AppError::NotScheduled.into()) };
        Ok(calendar::ics(&calendar::CalendarEvent {
            code: &event.code,
            name: &event.name,
            description: &event.description,
            organizer: &event.organizer,
            slot,
            stamp: event.outcome_stored_at.unwrap_or_else(Utc::now),
        }))
    }

    pub async fn my_events(&self, user_id: i64) -> Result<MyEvents> {
        let now = Utc::now();
        let mut lists = MyEvents::default();
        for row in repo::events_of_user(&self.db, user_id).await? {
            let status = row.event.status(now);
            let outcome = match status {
                EventStatus::Finished | EventStatus::Cancelled => {
                    let participants = repo::participants(&self.db, row.event.event_id).await?;
                    Some(self.outcome_of(&row.event, &participants).await?)
                }
                EventStatus::Open | EventStatus::Deciding => None,
            };
            let summary = EventSummary {
                code: row.event.code.clone(),
                name: row.event.name.clone(),
                deadline: row.event.deadline,
                status,
                answered: row.answered,
                outcome,
            };
            let list = match status {
                EventStatus::Finished | EventStatus::Cancelled => &mut lists.finished,
                _ if row.event.organizer_id == user_id => &mut lists.organized,
                _ if row.answered => &mut lists.answered,
                _ => &mut lists.pending,
            };
            list.push(summary);
        }
        Ok(lists)
    }

    async fn find(&self, event_code: &str) -> Result<EventRow> {
        if !code::is_well_formed(event_code) {
            return Err(AppError::EventNotFound.into());
        }
        repo::find_by_code(&self.db, event_code).await?.ok_or_else(|| AppError::EventNotFound.into())
    }

    fn ensure_open(event: &EventRow) -> Result<()> {
        match event.status(Utc::now()) {
            EventStatus::Open => Ok(()),
            EventStatus::Cancelled => Err(AppError::EventCancelled.into()),
            EventStatus::Deciding | EventStatus::Finished => Err(AppError::DeadlinePassed.into()),
        }
    }
}

/// How many of `answers` are free over time, as the step function the heatmap draws.
fn heatmap<'a>(answers: impl Iterator<Item = &'a IntervalSet>) -> Heatmap {
    let mut answered = 0u32;
    // +1 where an interval starts, -1 where it ends; each answer's intervals are disjoint.
    let mut steps: Vec<(Minute, i64)> = Vec::new();
    for set in answers {
        answered += 1;
        for interval in set.intervals() {
            steps.push((interval.start(), 1));
            steps.push((interval.end(), -1));
        }
    }
    steps.sort_unstable();
    let mut segments: Vec<HeatSegment> = Vec::new();
    let mut free = 0i64;
    for pair in steps.chunk_by(|a, b| a.0 == b.0).collect::<Vec<_>>().windows(2) {
        free += pair[0].iter().map(|step| step.1).sum::<i64>();
        let (start, end) = (pair[0][0].0, pair[1][0].0);
        let count = u32::try_from(free).unwrap_or_default();
        match segments.last_mut() {
            _ if count == 0 => {}
            Some(last) if last.end == start.to_utc() && last.free == count => last.end = end.to_utc(),
            _ => segments.push(HeatSegment { start: start.to_utc(), end: end.to_utc(), free: count }),
        }
    }
    Heatmap { answered, segments }
}

/// The pages' port: the same service, for the user signed in on the request's session.
pub struct EventPages {
    accounts: Arc<AccountService>,
    events: Arc<EventService>,
}

impl EventPages {
    pub fn new(accounts: Arc<AccountService>, events: Arc<EventService>) -> Self {
        Self { accounts, events }
    }

    async fn user(&self, session: &Session) -> Result<i64, AppError> {
        Ok(self.accounts.current_user_id(session).await?.ok_or(AppError::NotLoggedIn)?)
    }
}

#[async_trait]
impl EventsPort for EventPages {
    async fn create(&self, session: &Session, input: CreateEventInput) -> Result<EventView, AppError> {
        Ok(self.events.create(self.user(session).await?, input).await?)
    }

    async fn page(&self, session: &Session, code: &str) -> Result<EventPageData, AppError> {
        Ok(self.events.page(self.user(session).await?, code).await?)
    }

    async fn join(&self, session: &Session, code: &str) -> Result<(), AppError> {
        self.events.join(self.user(session).await?, code).await?;
        Ok(())
    }

    async fn leave(&self, session: &Session, code: &str) -> Result<(), AppError> {
        Ok(self.events.leave(self.user(session).await?, code).await?)
    }

    async fn cancel(&self, session: &Session, code: &str) -> Result<(), AppError> {
        Ok(self.events.cancel(self.user(session).await?, code).await?)
    }

    async fn put_availability(&self, session: &Session, code: &str, input: AvailabilityInput) -> Result<u64, AppError> {
        Ok(self.events.put_availability(self.user(session).await?, code, input).await?)
    }

    async fn my_events(&self, session: &Session) -> Result<MyEvents, AppError> {
        Ok(self.events.my_events(self.user(session).await?).await?)
    }
}

/// A create input that passed every rule.
pub(crate) struct ValidEvent {
    pub name: String,
    pub description: String,
    pub spec: EventSpec,
    pub capacity: Option<u32>,
    pub time_zone: String,
}

fn validate(input: CreateEventInput, now: DateTime<Utc>) -> Result<ValidEvent, AppError> {
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(AppError::invalid("name", "Give the event a name."));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid("name", "The name cannot contain tabs, line breaks or other control characters."));
    }
    if name.chars().count() > NAME_MAX {
        return Err(AppError::invalid("name", format!("The name can be at most {NAME_MAX} characters long.")));
    }
    // Browsers send a textarea's line breaks as CRLF: kept as LF.
    let description = input.description.unwrap_or_default().replace("\r\n", "\n").trim().to_owned();
    if description.chars().any(|character| character.is_control() && character != '\n' && character != '\t') {
        return Err(AppError::invalid("description", "The description cannot contain control characters (line breaks and tabs are fine)."));
    }
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(AppError::invalid("description", format!("The description can be at most {DESCRIPTION_MAX} characters long.")));
    }
    if input.deadline <= now {
        return Err(AppError::invalid("deadline", "The response deadline must be in the future."));
    }
    if !Minute::ceil(input.deadline).is_supported() {
        return Err(AppError::invalid("deadline", "The response deadline is too far in the future."));
    }
    let window = match (input.window_start, input.window_end) {
        (None, None) => None,
        (Some(start), Some(end)) => {
            let (start, end) = (Minute::ceil(start), Minute::floor(end));
            if !(start.is_supported() && end.is_supported()) {
                return Err(AppError::invalid("window_start", "The window must lie between the years 2000 and 2199."));
            }
            Some(Interval::new(start, end).ok_or_else(|| AppError::invalid("window_end", "The window must end after it starts."))?)
        }
        _ => return Err(AppError::invalid("window_start", "Give both the start and the end of the window, or neither.")),
    };
    let spec = EventSpec::new(input.deadline, input.duration_minutes, window).map_err(|error| match error {
        SpecError::Duration => AppError::invalid("duration_minutes", "The meeting length must be between 5 minutes and 24 hours."),
        SpecError::WindowTooShort => AppError::invalid("window_end", "The window is shorter than the meeting."),
        SpecError::WindowBeforeDeadline => {
            AppError::invalid("window_end", "The window ends too soon: a meeting must fit in it after the deadline.")
        }
    })?;
    if let Some(capacity) = input.capacity {
        if !(1..=CAPACITY_MAX).contains(&capacity) {
            return Err(AppError::invalid("capacity", format!("The capacity must be between 1 and {CAPACITY_MAX}.")));
        }
    }
    let time_zone = input.time_zone.unwrap_or_else(|| "UTC".to_owned());
    if time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(AppError::invalid("time_zone", format!("Unknown time zone {}; use an IANA name such as Europe/Berlin.", excerpt(&time_zone))));
    }
    Ok(ValidEvent { name, description, spec, capacity: input.capacity, time_zone })
}

fn parse_availability(input: AvailabilityInput) -> Result<IntervalSet, AppError> {
    match input {
        AvailabilityInput::Text { text, time_zone } => {
            let zone: chrono_tz::Tz = time_zone
                .parse()
                .map_err(|_| AppError::invalid("time_zone", format!("Unknown time zone {}.", excerpt(&time_zone))))?;
            if text.len() > text::MAX_TEXT_BYTES {
                return Err(AppError::invalid("text", format!("An answer can be at most {} KB of text.", text::MAX_TEXT_BYTES / 1024)));
            }
            if text.lines().filter(|line| !line.trim().is_empty()).nth(text::MAX_INTERVALS).is_some() {
                return Err(AppError::invalid("text", format!("An answer can have at most {} lines, one interval each.", text::MAX_INTERVALS)));
            }
            text::parse(&text, zone).map_err(|errors| AppError::InvalidLines {
                lines: errors
                    .0
                    .into_iter()
                    .map(|error| LineProblem { line: u32::try_from(error.line).unwrap_or(u32::MAX), message: error.kind.to_string() })
                    .collect(),
            })
        }
        AvailabilityInput::Intervals { intervals } => {
            if intervals.len() > text::MAX_INTERVALS {
                return Err(AppError::invalid("intervals", format!("At most {} intervals.", text::MAX_INTERVALS)));
            }
            intervals
                .iter()
                .enumerate()
                .map(|(index, interval)| {
                    // Only the whole minutes inside what was given count as free.
                    let (start, end) = (Minute::ceil(interval.start), Minute::floor(interval.end));
                    if !(start.is_supported() && end.is_supported()) {
                        return Err(AppError::invalid("intervals", format!("Interval {}: outside the supported dates.", index + 1)));
                    }
                    Interval::new(start, end).ok_or_else(|| {
                        AppError::invalid("intervals", format!("Interval {}: the end must be at least a minute after the start.", index + 1))
                    })
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(spans: &[(i64, i64)]) -> IntervalSet {
        spans.iter().map(|&(start, end)| Interval::new(Minute(start), Minute(end)).unwrap()).collect()
    }

    #[test]
    fn the_heatmap_counts_who_is_free_and_merges_equal_neighbours() {
        let answers = [set(&[(0, 60), (120, 180)]), set(&[(30, 90)]), set(&[(30, 60), (60, 90)]), set(&[])];
        let map = heatmap(answers.iter());
        let spans: Vec<(i64, i64, u32)> = map
            .segments
            .iter()
            .map(|s| (Minute::floor(s.start).0, Minute::floor(s.end).0, s.free))
            .collect();
        assert_eq!(map.answered, 4);
        assert_eq!(spans, vec![(0, 30, 1), (30, 60, 3), (60, 90, 2), (120, 180, 1)]);
        assert_eq!(map.free_throughout(Minute(30).to_utc(), Minute(90).to_utc()), 2);
        assert_eq!(map.free_throughout(Minute(80).to_utc(), Minute(130).to_utc()), 0, "nobody between 90 and 120");
    }
}
