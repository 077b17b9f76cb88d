//! Events: create, read, join, leave, cancel, the dashboard lists, and answers. The database
//! is the source of truth; every rule that depends on the deadline or on membership is checked
//! inside the transaction that writes.
//!
//! After an answer commits, the cluster ([`crate::cluster`]) dispatches it to an event node;
//! the nodes compute the outcome at the deadline and the cluster stores it.
//! The REST handlers call [`EventService`] directly; the pages reach it through
//! [`EventPages`], the [`EventsPort`] that resolves the caller's session first.

mod answers;
mod busy;
pub mod calendar;
pub mod code;
mod heatmap;
mod live;
mod members;
mod notice;
mod page_cache;
mod pages;
mod repo;
mod rules;

use std::sync::Arc;

use app::error::AppError;
use app::events::{
    AnswerView, AvailabilityInput, CalendarFileQuery, CALENDAR_FILE_MAX_BYTES, CalendarSuggestion, CreateEventInput, EditEventInput, EventList, EventPageData, EventResults, EventSearch, EventStatus, EventSummary, EventView, MyEvents, OutcomeView,
    ParticipantView, SlotView, EVENTS_PER_PAGE, QUERY_MAX,
};
use chrono::Utc;

use crate::cluster::Cluster;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::live::ChangeSender;
use answers::AnswerQueue;
use heatmap::heatmap;
pub use live::LiveFrame;
pub use notice::EventNotice;
use code::EventIds;
use members::KnownMembers;
use page_cache::PageCache;
pub use pages::EventPages;
pub(crate) use repo::{generations, tell_organizer_if_everyone_answered};
use repo::EventRow;
use rules::{calendar_reading, parse_availability, validate, validate_edit, ValidEdit};
pub(crate) use rules::ValidEvent;

/// The last page a search may ask for (`EVENTS_PER_PAGE` × this is more than anyone has).
const MAX_PAGE: u32 = 100_000;

/// Calendar files read at once (each costs a core and tens of MB while it is read); more are
/// told to try again.
const CALENDAR_READERS: usize = 2;
/// How long a file that has arrived waits for a reader.
const CALENDAR_READER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Calendar files arriving at once (at most 8 MB each in memory).
const CALENDAR_UPLOADS: usize = 8;
/// How long a calendar file may take to arrive.
const CALENDAR_UPLOAD_TIME: std::time::Duration = std::time::Duration::from_secs(20);

/// How many times a create retries when a fresh code collides (practically never).
const CODE_ATTEMPTS: usize = 3;

pub struct EventService {
    db: Db,
    cluster: Arc<Cluster>,
    /// What the event page shows of the participants, per event and generation.
    page_cache: Arc<PageCache>,
    /// Writes answers, grouping those that arrive together for one event.
    answers: AnswerQueue,
    /// Event ids by code, for the answer path.
    event_ids: EventIds,
    /// Who has been seen a participant, for the answer path.
    known_members: KnownMembers,
    /// Tells the live pages of this process about a change at once (others learn of it from
    /// the event's generation within a round).
    changes: ChangeSender,
    /// Permits to receive a calendar file ([`CALENDAR_UPLOADS`]), and to read one
    /// ([`CALENDAR_READERS`]).
    calendar_uploads: Arc<tokio::sync::Semaphore>,
    calendar_readers: Arc<tokio::sync::Semaphore>,
    /// Who is sending a calendar file now.
    calendar_uploaders: Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
}

/// A person sending a calendar file, until it has been read (the request may be cancelled
/// first; the reading goes on, and so does the person's turn).
struct Uploader {
    uploaders: Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
    user_id: i64,
}

impl Uploader {
    /// `None` while the same person is sending, or waiting for the reading of, another file.
    fn start(uploaders: &Arc<std::sync::Mutex<std::collections::HashSet<i64>>>, user_id: i64) -> Option<Self> {
        let first = uploaders.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(user_id);
        first.then(|| Self { uploaders: Arc::clone(uploaders), user_id })
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.uploaders.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&self.user_id);
    }
}

impl EventService {
    pub fn new(db: Db, cluster: Arc<Cluster>, changes: ChangeSender) -> Self {
        let page_cache = Arc::new(PageCache::default());
        let answers = AnswerQueue::new(db.clone(), Arc::clone(&cluster), Arc::clone(&page_cache), changes.clone());
        Self {
            db,
            cluster,
            page_cache,
            answers,
            event_ids: EventIds::default(),
            known_members: KnownMembers::default(),
            changes,
            calendar_uploads: Arc::new(tokio::sync::Semaphore::new(CALENDAR_UPLOADS)),
            calendar_readers: Arc::new(tokio::sync::Semaphore::new(CALENDAR_READERS)),
            calendar_uploaders: Arc::default(),
        }
    }

    /// Runs `work` on the cluster after the request's commit; a failure leaves the row for the
    /// reconciler, so the caller's success (the commit) stands.
    fn after_commit<F>(&self, what: &'static str, work: impl FnOnce(Arc<Cluster>) -> F)
    where
        F: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let job = work(Arc::clone(&self.cluster));
        // Its lines carry the request's id.
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            if let Err(error) = job.await {
                tracing::debug!(%error, what, "cluster work deferred to the reconciler");
            }
        }));
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
        let names = event.shows_names_to(user_id);
        let outcome = match is_participant || is_organizer {
            true => Some(self.outcome_of(&event, participants).await?).map(|outcome| if names { outcome } else { outcome.without_names() }),
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
            reminder: app::events::Reminder::from_minutes(u32::try_from(event.reminder_minutes).unwrap_or_default()),
            participant_count: u32::try_from(participants.len()).unwrap_or(u32::MAX),
            answered_count: match is_participant || is_organizer {
                true => u32::try_from(participants.iter().filter(|p| p.answered).count()).unwrap_or(u32::MAX),
                false => 0,
            },
            answers_hidden: event.answers_hidden,
            is_participant,
            is_organizer,
            participants: ((is_participant || is_organizer) && names).then(|| {
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
        self.known_members.forget(event.event_id, user_id);
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

    /// Stores the participant's answer (a new version) and returns the version. Nothing is read
    /// of the event here beyond its id: whether it still takes answers, and from this user, is
    /// checked under its lock when the answer is written.
    pub async fn put_availability(&self, user_id: i64, event_code: &str, input: AvailabilityInput) -> Result<u64> {
        let event_id = self.event_id(event_code).await?;
        // Only a participant's answer is worth reading.
        let availability = match self.may_answer(event_id, user_id).await? {
            true => parse_availability(input).map_err(Error::from),
            false => Err(AppError::NotParticipant.into()),
        };
        match availability {
            Ok(availability) => self.answers.save(event_id, user_id, availability).await,
            // Refused before the write: a closed event says so first, as the write would.
            Err(error) => {
                Self::ensure_open(&self.find(event_code).await?)?;
                Err(error)
            }
        }
    }

    /// The answer a participant's calendar file suggests over the time the event offers, for
    /// them to review and save; nothing of the file is kept. Who may, when, and whether a
    /// reader is free are settled before the body is read.
    pub async fn suggest_from_calendar(&self, user_id: i64, event_code: &str, query: CalendarFileQuery, body: axum::body::Body) -> Result<CalendarSuggestion> {
        let event = self.find(event_code).await?;
        // Asked of the database, not of a page snapshot: someone who left is refused at once.
        if !repo::is_participant(&self.db, event.event_id, user_id).await? {
            return Err(AppError::NotParticipant.into());
        }
        Self::ensure_open(&event)?;
        let reading = calendar_reading(&query, &event.spec()?)?;
        // A declared size over the limit is refused before anything is held or read.
        if axum::body::HttpBody::size_hint(&body).lower() > CALENDAR_FILE_MAX_BYTES as u64 {
            return Err(AppError::TooLarge.into());
        }
        // Files arriving and files being read are bounded apart: a slow upload holds a slot of
        // the first kind only.
        let busy = |_| Error::Busy { retry_after_secs: 2 };
        // One file at a time per person: one account cannot hold every slot.
        let sending = Uploader::start(&self.calendar_uploaders, user_id).ok_or(Error::Busy { retry_after_secs: 2 })?;
        let upload = Arc::clone(&self.calendar_uploads).try_acquire_owned().map_err(busy)?;
        let file = match tokio::time::timeout(CALENDAR_UPLOAD_TIME, axum::body::to_bytes(body, CALENDAR_FILE_MAX_BYTES)).await {
            Ok(Ok(file)) => file,
            Ok(Err(error)) if std::error::Error::source(&error).is_some_and(|inner| inner.is::<http_body_util::LengthLimitError>()) => return Err(AppError::TooLarge.into()),
            Ok(Err(error)) => return Err(Error::malformed(&format!("the file could not be read: {error}"))),
            Err(_) => return Err(AppError::invalid("file", "The file took too long to arrive; try again.").into()),
        };
        // The file is here: wait a little for a reader rather than make a phone send it again.
        let permit = tokio::time::timeout(CALENDAR_READER_WAIT, Arc::clone(&self.calendar_readers).acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(Error::Busy { retry_after_secs: 2 })?;
        drop(upload);
        let (answer, read) = tokio::task::spawn_blocking(move || {
            let (_permit, _sending) = (permit, sending);
            busy::suggest(&file, &reading)
        })
        .await?
        .map_err(|error| AppError::invalid("file", error.to_string()))?;
        let (answer, cut) = busy::fit(answer, scheduling::text::MAX_INTERVALS);
        Ok(CalendarSuggestion {
            free: slot_views(&answer.free),
            if_need_be: slot_views(&answer.if_need_be),
            events: u32::try_from(read.events).unwrap_or(u32::MAX),
            unread: u32::try_from(read.unread).unwrap_or(u32::MAX),
            filled_until: cut.map(scheduling::Minute::to_utc),
        })
    }

    /// The organizer changes the event before its deadline (answers are kept); the
    /// coordinator learns the new spec, and open pages the new event.
    pub async fn edit(&self, user_id: i64, event_code: &str, input: EditEventInput) -> Result<EventView> {
        self.change(user_id, event_code, |current, now| validate_edit(current, input, now)).await
    }

    /// The organizer closes answers now: the deadline becomes this instant and the cluster
    /// decides the event at once.
    pub async fn decide_now(&self, user_id: i64, event_code: &str) -> Result<EventView> {
        self.change(user_id, event_code, |current, now| {
            let spec = rules::valid_spec(now, current.spec.duration_minutes(), current.spec.window())?;
            Ok(ValidEdit { spec, ..current })
        })
        .await
    }

    async fn change(&self, user_id: i64, event_code: &str, edit: impl FnOnce(ValidEdit, chrono::DateTime<Utc>) -> Result<ValidEdit, AppError>) -> Result<EventView> {
        let event_id = self.event_id(event_code).await?;
        if repo::edit_event(&self.db, event_id, user_id, edit).await? {
            self.changes.changed(event_id);
            self.after_commit("tell the coordinator the new spec", |cluster| async move { cluster.assign_coordinator(event_id).await });
        }
        self.view(user_id, event_code).await
    }

    /// The id of the event `event_code` names. A code names one event for good (codes are
    /// unique and never reused), so the answer is kept.
    async fn event_id(&self, event_code: &str) -> Result<i64> {
        if let Some(event_id) = self.event_ids.get(event_code) {
            return Ok(event_id);
        }
        let event_id = self.find(event_code).await?.event_id;
        self.event_ids.keep(event_code, event_id);
        Ok(event_id)
    }

    /// Whether `user_id` is, or was, a participant of `event_id`: known from an earlier check
    /// or the newest page snapshot kept (a busy event's pages keep one), else asked. Someone
    /// who never joined is never known, so their answer is never read.
    async fn may_answer(&self, event_id: i64, user_id: i64) -> Result<bool> {
        if self.known_members.contains(event_id, user_id)
            || self.page_cache.latest(event_id).is_some_and(|snapshot| snapshot.participants.iter().any(|p| p.user_id == user_id))
        {
            return Ok(true);
        }
        let member = repo::is_participant(&self.db, event_id, user_id).await?;
        if member {
            self.known_members.keep(event_id, user_id);
        }
        Ok(member)
    }

    /// The event's outcome, for its participants and organizer.
    pub async fn outcome(&self, user_id: i64, event_code: &str) -> Result<OutcomeView> {
        let event = self.find(event_code).await?;
        let participants = repo::participants(&self.db, event.event_id).await?;
        if event.organizer_id != user_id && !participants.iter().any(|p| p.user_id == user_id) {
            return Err(AppError::NotParticipant.into());
        }
        let outcome = self.outcome_of(&event, &participants).await?;
        Ok(if event.shows_names_to(user_id) { outcome } else { outcome.without_names() })
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
            .map(|answer| {
                AnswerView { free: slot_views(&answer.free), if_need_be: slot_views(&answer.if_need_be) }
            });
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

    /// The dashboard: the first page of each of the four lists, and how many each leaves out.
    pub async fn my_events(&self, user_id: i64) -> Result<MyEvents> {
        let mut lists = MyEvents::default();
        for list in [EventList::Organized, EventList::Pending, EventList::Answered, EventList::Finished] {
            let search = EventSearch { list: Some(list), ..EventSearch::default() };
            let found = self.search(user_id, search).await?;
            let more = found.total.saturating_sub(u32::try_from(found.items.len()).unwrap_or(u32::MAX));
            let (items, left_out) = match list {
                EventList::Organized => (&mut lists.organized, &mut lists.more.organized),
                EventList::Pending => (&mut lists.pending, &mut lists.more.pending),
                EventList::Answered => (&mut lists.answered, &mut lists.more.answered),
                EventList::Finished => (&mut lists.finished, &mut lists.more.finished),
            };
            (*items, *left_out) = (found.items, more);
        }
        Ok(lists)
    }

    /// One page of the user's events that `search` matches (by name, status, list).
    pub async fn search(&self, user_id: i64, search: EventSearch) -> Result<EventResults> {
        let name_part = search.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_owned);
        if name_part.as_ref().is_some_and(|q| q.chars().count() > QUERY_MAX) {
            return Err(AppError::invalid("q", format!("Search for at most {QUERY_MAX} characters of a name.")).into());
        }
        // No name holds one (they are refused at creation), and SQLite's LIKE would stop at a
        // NUL and match every event.
        if name_part.as_ref().is_some_and(|q| q.chars().any(char::is_control)) {
            return Err(AppError::invalid("q", "A name holds no control characters.").into());
        }
        let page = search.page.unwrap_or(1);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(AppError::invalid("page", format!("Pages count from 1 to {MAX_PAGE}.")).into());
        }
        let now = Utc::now();
        let per_page = i64::from(EVENTS_PER_PAGE);
        let filter = repo::EventFilter {
            user_id,
            now,
            name_part,
            status: search.status,
            list: search.list,
            limit: per_page,
            offset: i64::from(page - 1) * per_page,
        };
        let (rows, total) = repo::find_user_events(&self.db, &filter).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let status = row.event.status(now);
            // Names only where they are shown: the participants are read for those alone.
            let outcome = match status {
                EventStatus::Cancelled => Some(OutcomeView::Cancelled),
                EventStatus::Finished if !row.event.shows_names_to(user_id) => Some(self.outcome_of(&row.event, &[]).await?.without_names()),
                EventStatus::Finished => {
                    let participants = repo::participants(&self.db, row.event.event_id).await?;
                    Some(self.outcome_of(&row.event, &participants).await?)
                }
                EventStatus::Open | EventStatus::Deciding => None,
            };
            items.push(EventSummary { code: row.event.code, name: row.event.name, deadline: row.event.deadline, status, answered: row.answered, outcome });
        }
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        Ok(EventResults { items, total, page, pages: total.div_ceil(EVENTS_PER_PAGE).max(1) })
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

fn slot_views(set: &scheduling::IntervalSet) -> Vec<SlotView> {
    set.intervals().iter().copied().map(SlotView::from).collect()
}
