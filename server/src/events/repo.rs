//! The SQL behind events, in the dialect-common subset. Writes that depend on a rule (capacity,
//! membership, the deadline) check it inside their transaction.

use std::collections::{HashMap, HashSet};

use app::error::AppError;
use app::events::{EventList, EventStatus};
use app::notifications::NotificationKind;
use chrono::{DateTime, Utc};
use scheduling::{Availability, EventSpec};

use crate::cluster::repo::{stored_spec, AnswerRow};
use crate::db::{lock_event_for_change, placeholders, with_pool, BeginWrite, Db, InsertedId, LateInstant};
use crate::error::{Error, Result};
use crate::events::rules::{ValidEdit, REMINDER_GRACE};
use crate::events::ValidEvent;
use crate::outbox::{self, Audience, Mail};

/// `code` is read through `CAST(… AS CHAR)`: on MySQL it is `utf8mb4_bin` (compared byte for
/// byte), which sqlx would decode only as bytes.
const EVENT_COLUMNS: &str = "e.event_id, CAST(e.code AS CHAR) AS code, e.organizer_id, u.username AS organizer, e.name, e.description, \
     e.deadline, e.duration_minutes, e.window_start, e.window_end, e.capacity, e.time_zone, \
     e.outcome_stored_at, e.cancelled_at, e.generation, e.reminder_minutes, e.answers_hidden";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub event_id: i64,
    pub code: String,
    pub organizer_id: i64,
    pub organizer: String,
    pub name: String,
    pub description: String,
    pub deadline: DateTime<Utc>,
    pub duration_minutes: i32,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub capacity: Option<i32>,
    pub time_zone: String,
    pub outcome_stored_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Bumped by every change to what the event's page shows (`db::lock_event_for_change`).
    pub generation: i64,
    pub reminder_minutes: i32,
    /// Participants other than the organizer see counts, not who.
    pub answers_hidden: bool,
}

impl EventRow {
    /// What the cluster decides the event by.
    pub(crate) fn spec(&self) -> Result<EventSpec> {
        stored_spec(self.event_id, self.deadline, self.duration_minutes, self.window_start, self.window_end)
    }

    /// Whether `user_id` may see who answered and who can come: unless the organizer hides
    /// answers, every member; while hidden, only the organizer.
    pub(crate) fn shows_names_to(&self, user_id: i64) -> bool {
        !self.answers_hidden || self.organizer_id == user_id
    }

    pub(crate) fn status(&self, now: DateTime<Utc>) -> EventStatus {
        if self.cancelled_at.is_some() {
            EventStatus::Cancelled
        } else if self.outcome_stored_at.is_some() {
            EventStatus::Finished
        } else if now >= self.deadline {
            EventStatus::Deciding
        } else {
            EventStatus::Open
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ParticipantRow {
    pub participant_id: i64,
    pub user_id: i64,
    pub username: String,
    answer_version: Option<i64>,
    /// The answer itself, when the query selects it.
    #[sqlx(default)]
    intervals: Option<String>,
}

impl From<ParticipantRow> for Participant {
    fn from(row: ParticipantRow) -> Self {
        Self {
            participant_id: row.participant_id,
            user_id: row.user_id,
            username: row.username,
            answered: row.answer_version.is_some(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Participant {
    pub participant_id: i64,
    pub user_id: i64,
    pub username: String,
    pub answered: bool,
}

#[derive(sqlx::FromRow)]
struct UserEventRow {
    #[sqlx(flatten)]
    event: EventRow,
    answer_version: Option<i64>,
}

pub(crate) struct UserEvent {
    pub event: EventRow,
    pub answered: bool,
}

/// Inserts the event and its organizer as the first participant, in one transaction.
pub(crate) async fn insert_event(db: &Db, organizer_id: i64, code: &str, event: &ValidEvent) -> Result<i64, sqlx::Error> {
    const INSERT_EVENT: &str = "INSERT INTO event (code, organizer_id, name, name_key, description, deadline, duration_minutes, \
         window_start, window_end, capacity, time_zone, reminder_minutes, reminder_due_at, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    const INSERT_ORGANIZER: &str = "INSERT INTO participant (event_id, user_id, joined_at) VALUES (?, ?, ?)";
    let now = Utc::now();
    let window = event.spec.window();
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let event_id = sqlx::query(INSERT_EVENT)
            .bind(code)
            .bind(organizer_id)
            .bind(&event.name)
            .bind(name_key(&event.name))
            .bind(&event.description)
            .bind(LateInstant(event.spec.deadline()))
            .bind(event.spec.duration_minutes())
            .bind(window.map(|w| LateInstant(w.start().to_utc())))
            .bind(window.map(|w| LateInstant(w.end().to_utc())))
            .bind(event.capacity)
            .bind(&event.time_zone)
            .bind(event.reminder.minutes())
            .bind(event.reminder_due(now).map(LateInstant))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .inserted_id();
        sqlx::query(INSERT_ORGANIZER).bind(event_id).bind(organizer_id).bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(event_id)
    })
}

pub(crate) async fn find_by_id(db: &Db, event_id: i64) -> Result<Option<EventRow>, sqlx::Error> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM event e JOIN user u ON u.user_id = e.organizer_id WHERE e.event_id = ?");
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(event_id).fetch_optional(pool).await)
}

/// The generation of each of `event_ids` that exists (at most [`crate::db::MAX_IN_LIST`] ids).
pub(crate) async fn generations(db: &Db, event_ids: &[i64]) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    if event_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT event_id, generation FROM event WHERE event_id IN ({})", crate::db::placeholders(event_ids.len()));
    with_pool!(db, |pool| {
        let mut query = sqlx::query_as(&sql);
        for id in event_ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })
}

pub(crate) async fn find_by_code(db: &Db, code: &str) -> Result<Option<EventRow>, sqlx::Error> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM event e JOIN user u ON u.user_id = e.organizer_id WHERE e.code = ?");
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(code).fetch_optional(pool).await)
}

/// The current participants (not those who left) in joining order, with `answer_columns` of
/// their answers (if any) after the participant's own.
macro_rules! participants_sql {
    ($answer_columns:literal) => {
        concat!(
            "SELECT p.participant_id, p.user_id, u.username, ",
            $answer_columns,
            " FROM participant p JOIN user u ON u.user_id = p.user_id \
             LEFT JOIN answer a ON a.participant_id = p.participant_id AND a.withdrawn_at IS NULL \
             WHERE p.event_id = ? AND p.left_at IS NULL ORDER BY p.participant_id"
        )
    };
}

async fn participant_rows(db: &Db, sql: &'static str, event_id: i64) -> Result<Vec<ParticipantRow>, sqlx::Error> {
    with_pool!(db, |pool| sqlx::query_as(sql).bind(event_id).fetch_all(pool).await)
}

/// Current participants (not those who left), in joining order.
pub(crate) async fn participants(db: &Db, event_id: i64) -> Result<Vec<Participant>, sqlx::Error> {
    let rows = participant_rows(db, participants_sql!("a.version AS answer_version"), event_id).await?;
    Ok(rows.into_iter().map(Participant::from).collect())
}

/// Current participants with their answers, in one query: all the event page shows of them,
/// read in a single snapshot (the page is polled, so this is the hot read).
pub(crate) async fn participants_with_answers(db: &Db, event_id: i64) -> Result<Vec<(Participant, Option<Availability>)>> {
    let rows = participant_rows(db, participants_sql!("a.version AS answer_version, a.intervals"), event_id).await?;
    rows.into_iter()
        .map(|mut row| {
            let answer = row.intervals.take().map(|json| decode_intervals(&json)).transpose()?;
            Ok((Participant::from(row), answer))
        })
        .collect()
}

fn decode_intervals(json: &str) -> Result<Availability> {
    serde_json::from_str(json).map_err(|e| Error::Encoding(e.to_string()))
}

/// Refuses unless the event takes changes now: read under its lock, where the organizer's
/// changes (which may move the deadline to now) are made too, never from a copy read before.
async fn ensure_open_under_lock<DB>(tx: &mut sqlx::Transaction<'_, DB>, event_id: i64) -> Result<()>
where
    DB: sqlx::Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'r> (DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>): sqlx::FromRow<'r, DB::Row>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
{
    const STATE: &str = "SELECT deadline, cancelled_at, outcome_stored_at FROM event WHERE event_id = ?";
    let state: Option<(DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>)> =
        sqlx::query_as(STATE).bind(event_id).fetch_optional(&mut **tx).await?;
    match state {
        None => Err(AppError::EventNotFound.into()),
        Some((_, Some(_), _)) => Err(AppError::EventCancelled.into()),
        Some((deadline, None, stored)) if stored.is_some() || Utc::now() >= deadline => Err(AppError::DeadlinePassed.into()),
        Some(_) => Ok(()),
    }
}

/// Joins (or re-joins after leaving), refusing when the event is full.
pub(crate) async fn join(db: &Db, event: &EventRow, user_id: i64) -> Result<()> {
    const MEMBERSHIP: &str = "SELECT left_at FROM participant WHERE event_id = ? AND user_id = ?";
    const COUNT: &str = "SELECT COUNT(*) FROM participant WHERE event_id = ? AND left_at IS NULL";
    const INSERT: &str = "INSERT INTO participant (event_id, user_id, joined_at) VALUES (?, ?, ?)";
    const REJOIN: &str = "UPDATE participant SET left_at = NULL, joined_at = ? WHERE event_id = ? AND user_id = ?";
    let now = Utc::now();
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        lock_event_for_change(&mut tx, event.event_id).await?;
        ensure_open_under_lock(&mut tx, event.event_id).await?;
        let membership: Option<Option<DateTime<Utc>>> =
            sqlx::query_scalar(MEMBERSHIP).bind(event.event_id).bind(user_id).fetch_optional(&mut *tx).await?;
        if membership == Some(None) {
            return Ok(());
        }
        let count: i64 = sqlx::query_scalar(COUNT).bind(event.event_id).fetch_one(&mut *tx).await?;
        if event.capacity.is_some_and(|capacity| count >= i64::from(capacity)) {
            return Err(AppError::EventFull.into());
        }
        if membership.is_some() {
            sqlx::query(REJOIN).bind(now).bind(event.event_id).bind(user_id).execute(&mut *tx).await?;
        } else {
            sqlx::query(INSERT).bind(event.event_id).bind(user_id).bind(now).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    })
}

/// Marks the participant as gone and withdraws their answer: the row stays, one version up and
/// marked withdrawn, so the nodes learn of it through the same dispatch path as answers and a
/// rejoin's next answer gets a still higher version. Returns the participant id.
pub(crate) async fn leave(db: &Db, event: &EventRow, user_id: i64) -> Result<i64> {
    const WITHDRAW_ANSWER: &str = "UPDATE answer SET version = version + 1, withdrawn_at = ?, accepted_at = ?, needs_dispatch = TRUE \
         WHERE participant_id = ? AND withdrawn_at IS NULL";
    const MARK_LEFT: &str = "UPDATE participant SET left_at = ? WHERE participant_id = ?";
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        lock_event_for_change(&mut tx, event.event_id).await?;
        let participant: Option<i64> =
            sqlx::query_scalar(CURRENT_PARTICIPANT).bind(event.event_id).bind(user_id).fetch_optional(&mut *tx).await?;
        let participant = participant.ok_or(AppError::NotParticipant)?;
        ensure_open_under_lock(&mut tx, event.event_id).await?;
        let now = Utc::now();
        sqlx::query(WITHDRAW_ANSWER).bind(now).bind(now).bind(participant).execute(&mut *tx).await?;
        sqlx::query(MARK_LEFT).bind(now).bind(participant).execute(&mut *tx).await?;
        // The last one without an answer may just have left.
        tell_organizer_if_everyone_answered(&mut tx, event.event_id, now).await?;
        tx.commit().await?;
        Ok(participant)
    })
}

/// Cancels the event unless it was cancelled or decided meanwhile (returns whether this call
/// cancelled it); its answers need no dispatch any more (the coordinator learns of the
/// cancellation from the manifest and forgets the event).
pub(crate) async fn cancel(db: &Db, event_id: i64) -> Result<bool> {
    const CANCEL: &str = "UPDATE event SET cancelled_at = ?, reminder_due_at = NULL, generation = generation + 1 \
         WHERE event_id = ? AND cancelled_at IS NULL AND outcome_stored_at IS NULL";
    const RELEASE: &str = "UPDATE answer SET needs_dispatch = FALSE WHERE event_id = ?";
    let now = Utc::now();
    let cancelled = with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let cancelled = sqlx::query(CANCEL).bind(now).bind(event_id).execute(&mut *tx).await?.rows_affected() == 1;
        if cancelled {
            sqlx::query(RELEASE).bind(event_id).execute(&mut *tx).await?;
            let told = Mail::Notice(NotificationKind::Cancelled);
            outbox::to_participants(&mut tx, told, Audience::AllButOrganizer, &[event_id], now).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(cancelled)
    })?;
    Ok(cancelled)
}

/// Whether the organizer hides the event's answers now (`true` for an event that is gone).
pub(crate) async fn answers_hidden(db: &Db, event_id: i64) -> Result<bool, sqlx::Error> {
    const SQL: &str = "SELECT answers_hidden FROM event WHERE event_id = ?";
    let hidden: Option<bool> = with_pool!(db, |pool| sqlx::query_scalar(SQL).bind(event_id).fetch_optional(pool).await)?;
    Ok(hidden.unwrap_or(true))
}

/// An event as its organizer may change it, read under its lock.
#[derive(sqlx::FromRow)]
struct Editable {
    organizer_id: i64,
    name: String,
    description: String,
    deadline: DateTime<Utc>,
    duration_minutes: i32,
    window_start: Option<DateTime<Utc>>,
    window_end: Option<DateTime<Utc>>,
    answers_hidden: bool,
    reminder_minutes: i32,
    cancelled_at: Option<DateTime<Utc>>,
    outcome_stored_at: Option<DateTime<Utc>>,
}

/// Changes the event as `edit` says, given it as it stands and the time, under the event's
/// lock: only its organizer, only while it takes answers (the same check, under the same lock,
/// as an answer's, so no answer is accepted under a deadline that has moved before it). Answers
/// are kept. A moved deadline moves the reminder (`None` if it is now too close). Returns
/// whether anything changed (an edit to what is there already writes nothing).
pub(crate) async fn edit_event(
    db: &Db,
    event_id: i64,
    user_id: i64,
    edit: impl FnOnce(ValidEdit, DateTime<Utc>) -> Result<ValidEdit, AppError>,
) -> Result<bool> {
    const READ: &str = "SELECT organizer_id, name, description, deadline, duration_minutes, window_start, window_end, \
         answers_hidden, reminder_minutes, cancelled_at, outcome_stored_at FROM event WHERE event_id = ?";
    const UPDATE: &str = "UPDATE event SET name = ?, name_key = ?, description = ?, deadline = ?, duration_minutes = ?, window_start = ?, \
         window_end = ?, answers_hidden = ?, reminder_due_at = CASE WHEN ? THEN ? ELSE reminder_due_at END WHERE event_id = ?";
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        lock_event_for_change(&mut tx, event_id).await?;
        let Some(row) = sqlx::query_as::<_, Editable>(READ).bind(event_id).fetch_optional(&mut *tx).await? else {
            return Err(AppError::EventNotFound.into());
        };
        let now = Utc::now();
        let refusal = if row.organizer_id != user_id {
            Some(AppError::NotOrganizer)
        } else if row.cancelled_at.is_some() {
            Some(AppError::EventCancelled)
        } else if row.outcome_stored_at.is_some() || now >= row.deadline {
            Some(AppError::DeadlinePassed)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            tx.rollback().await?;
            return Err(refusal.into());
        }
        let spec = stored_spec(event_id, row.deadline, row.duration_minutes, row.window_start, row.window_end)?;
        let current = ValidEdit { name: row.name, description: row.description, spec, answers_hidden: row.answers_hidden };
        let changed = match edit(current.clone(), now) {
            Ok(changed) if changed == current => {
                tx.rollback().await?;
                return Ok(false);
            }
            Ok(changed) => changed,
            Err(refusal) => {
                tx.rollback().await?;
                return Err(refusal.into());
            }
        };
        let deadline = changed.spec.deadline();
        let lead = chrono::Duration::minutes(i64::from(row.reminder_minutes));
        let reminder = (row.reminder_minutes > 0 && deadline - lead >= now + REMINDER_GRACE).then_some(deadline - lead);
        let window = changed.spec.window();
        sqlx::query(UPDATE)
            .bind(&changed.name)
            .bind(name_key(&changed.name))
            .bind(&changed.description)
            .bind(LateInstant(deadline))
            .bind(changed.spec.duration_minutes())
            .bind(window.map(|w| LateInstant(w.start().to_utc())))
            .bind(window.map(|w| LateInstant(w.end().to_utc())))
            .bind(changed.answers_hidden)
            .bind(deadline != row.deadline)
            .bind(reminder.map(LateInstant))
            .bind(event_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    })
}

/// The user's participant id in the event, while they are in it.
const CURRENT_PARTICIPANT: &str = "SELECT participant_id FROM participant WHERE event_id = ? AND user_id = ? AND left_at IS NULL";

/// Whether the user is a current participant of the event.
pub(crate) async fn is_participant(db: &Db, event_id: i64, user_id: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        with_pool!(db, |pool| sqlx::query_scalar(CURRENT_PARTICIPANT).bind(event_id).bind(user_id).fetch_optional(pool).await)?;
    Ok(found.is_some())
}

/// One answer of a batch for [`upsert_answers`].
pub(crate) struct NewAnswer<'a> {
    pub user_id: i64,
    /// The availability as stored (JSON).
    pub intervals: &'a str,
}

/// What [`upsert_answers`] reads under the event's lock, one row per current participant of
/// the batch (one row with no participant if none is): whether the event still takes answers,
/// and each participant's answer row as it stands.
#[derive(sqlx::FromRow)]
struct EventAndMember {
    generation: i64,
    deadline: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    outcome_stored_at: Option<DateTime<Utc>>,
    /// Set once the organizer was told everyone answered.
    everyone_answered_at: Option<DateTime<Utc>>,
    participant_id: Option<i64>,
    user_id: Option<i64>,
    /// The answer's version now (`None`: never answered); every change of it takes the
    /// event's lock, so the upsert makes it exactly one more.
    version: Option<i64>,
    /// The node holding it, as read: an acknowledgement recorded meanwhile (not under the lock)
    /// may move it, and then the dispatch picks another node for this version, which the
    /// manifests and versions already allow for.
    assigned_node: Option<String>,
    /// A withdrawn answer (the participant left and came back) counts as none.
    withdrawn_at: Option<DateTime<Utc>>,
}

/// What [`upsert_answers`] did: each answer's row as stored, or why it was refused, in the
/// batch's order; and the event's generation after the batch, if anything was stored.
pub(crate) struct WrittenAnswers {
    pub generation: Option<i64>,
    pub results: Vec<Result<AnswerRow, AppError>>,
}

/// Stores a new version of each answer of `batch` (at most one per user) in one transaction.
/// Everything an answer depends on (the event exists, is not cancelled or decided, the deadline
/// is ahead, the user is a current participant) is checked in it under the event's lock, so an
/// accepted answer is always one accepted before the deadline; a refused answer leaves the
/// others stored.
pub(crate) async fn upsert_answers(db: &Db, event_id: i64, batch: &[NewAnswer<'_>]) -> Result<WrittenAnswers, sqlx::Error> {
    // On MySQL an UPDATE that finds no row gap-locks, and two first answers in the same gap
    // then deadlock on their INSERTs; an upsert does not. The version only grows: a withdrawn
    // row (the participant left and came back) goes on from it. Rows go in participant order,
    // like every other statement locking several answers.
    const UPSERT_MYSQL: &str = " ON DUPLICATE KEY UPDATE intervals = VALUES(intervals), version = version + 1, \
         accepted_at = VALUES(accepted_at), withdrawn_at = NULL, needs_dispatch = TRUE";
    const UPSERT_SQLITE: &str = " ON CONFLICT (participant_id) DO UPDATE SET intervals = excluded.intervals, \
         version = answer.version + 1, accepted_at = excluded.accepted_at, withdrawn_at = NULL, needs_dispatch = TRUE";
    let on_conflict = match db {
        Db::MySql(_) => UPSERT_MYSQL,
        Db::Sqlite(_) => UPSERT_SQLITE,
    };
    // The event's state, the batch's current participants and their answers' versions, in one
    // read after the lock (on MySQL the transaction's snapshot starts here, after every other
    // change of these rows committed: they all take the lock).
    let read_sql = format!(
        "SELECT e.generation, e.deadline, e.cancelled_at, e.outcome_stored_at, e.everyone_answered_at, \
         p.participant_id, p.user_id, a.version, a.assigned_node, a.withdrawn_at \
         FROM event e \
         LEFT JOIN participant p ON p.event_id = e.event_id AND p.left_at IS NULL AND p.user_id IN ({}) \
         LEFT JOIN answer a ON a.participant_id = p.participant_id \
         WHERE e.event_id = ?",
        placeholders(batch.len())
    );
    // One answer per user (the queue sees to it): a second would bump the version twice.
    debug_assert_eq!(batch.iter().map(|answer| answer.user_id).collect::<HashSet<_>>().len(), batch.len());
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        lock_event_for_change(&mut tx, event_id).await?;
        let mut read = sqlx::query_as::<_, EventAndMember>(&read_sql);
        for answer in batch {
            read = read.bind(answer.user_id);
        }
        let rows = read.bind(event_id).fetch_all(&mut *tx).await?;
        let now = Utc::now();
        let closed = match rows.first() {
            None => Some(AppError::EventNotFound),
            Some(event) if event.cancelled_at.is_some() => Some(AppError::EventCancelled),
            Some(event) if event.outcome_stored_at.is_some() || now >= event.deadline => Some(AppError::DeadlinePassed),
            Some(_) => None,
        };
        if let Some(refusal) = closed {
            tx.rollback().await?;
            return Ok(WrittenAnswers { generation: None, results: vec![Err(refusal); batch.len()] });
        }
        let generation = rows.first().map(|event| event.generation);
        let organizer_told = rows.first().is_some_and(|event| event.everyone_answered_at.is_some());
        // Participants of the batch who had no answer (or a withdrawn one) until now.
        let first_answers: HashSet<i64> =
            rows.iter().filter(|row| row.version.is_none() || row.withdrawn_at.is_some()).filter_map(|row| row.user_id).collect();
        // user → (participant, the answer row's version and node as they stand)
        let members: HashMap<i64, (i64, Option<i64>, Option<String>)> = rows
            .into_iter()
            .filter_map(|row| Some((row.user_id?, (row.participant_id?, row.version, row.assigned_node))))
            .collect();
        let mut accepted: Vec<(i64, &NewAnswer<'_>)> = Vec::new();
        let mut results: Vec<Result<i64, AppError>> = Vec::with_capacity(batch.len());
        for answer in batch {
            results.push(match members.get(&answer.user_id) {
                None => Err(AppError::NotParticipant),
                Some(&(participant, _, _)) => {
                    accepted.push((participant, answer));
                    Ok(participant)
                }
            });
        }
        let (generation, stored) = match accepted.is_empty() {
            // Nothing to store: the rollback takes the generation bump back (and frees the lock now).
            true => {
                tx.rollback().await?;
                (None, HashMap::new())
            }
            false => {
                accepted.sort_by_key(|(participant, _)| *participant);
                let upsert = format!(
                    "INSERT INTO answer (participant_id, event_id, intervals, version, accepted_at, needs_dispatch) VALUES {}{on_conflict}",
                    vec!["(?, ?, ?, 1, ?, TRUE)"; accepted.len()].join(", ")
                );
                let mut query = sqlx::query(&upsert);
                for (participant, answer) in &accepted {
                    query = query.bind(*participant).bind(event_id).bind(answer.intervals).bind(now);
                }
                query.execute(&mut *tx).await?;
                // Only a first answer can complete the event's answers (a changed one cannot).
                if !organizer_told && accepted.iter().any(|(_, answer)| first_answers.contains(&answer.user_id)) {
                    tell_organizer_if_everyone_answered(&mut tx, event_id, now).await?;
                }
                tx.commit().await?;
                // The upsert made each version one more than it was (a new row: 1).
                let stored: HashMap<i64, (i64, Option<String>)> = members
                    .into_values()
                    .map(|(participant, version, node)| (participant, (version.map_or(1, |version| version + 1), node)))
                    .collect();
                (generation, stored)
            }
        };
        let results = results
            .into_iter()
            .zip(batch)
            .map(|(result, answer)| {
                let participant_id = result?;
                let (version, assigned_node) = stored.get(&participant_id).cloned().unwrap_or_default();
                Ok(AnswerRow {
                    participant_id,
                    event_id,
                    intervals: answer.intervals.to_owned(),
                    version,
                    assigned_node,
                    withdrawn_at: None,
                    accepted_at: now,
                    needs_dispatch: true,
                })
            })
            .collect();
        Ok(WrittenAnswers { generation, results })
    })
}

/// Tells the organizer, once per event, that every current participant but them has an
/// answer (when there is at least one such participant), in the transaction of the change
/// (an answer, a leave) that may have made it so. Later joiners do not make it happen again.
pub(crate) async fn tell_organizer_if_everyone_answered<DB>(tx: &mut sqlx::Transaction<'_, DB>, event_id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64, i64, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
{
    const COUNT: &str = "SELECT e.organizer_id, \
         (SELECT COUNT(*) FROM participant p WHERE p.event_id = e.event_id AND p.left_at IS NULL AND p.user_id <> e.organizer_id), \
         (SELECT COUNT(*) FROM participant p JOIN answer a ON a.participant_id = p.participant_id AND a.withdrawn_at IS NULL \
          WHERE p.event_id = e.event_id AND p.left_at IS NULL AND p.user_id <> e.organizer_id) \
         FROM event e WHERE e.event_id = ? AND e.everyone_answered_at IS NULL AND e.cancelled_at IS NULL AND e.outcome_stored_at IS NULL";
    const MARK: &str = "UPDATE event SET everyone_answered_at = ? WHERE event_id = ?";
    let counts: Option<(i64, i64, i64)> = sqlx::query_as(COUNT).bind(event_id).fetch_optional(&mut **tx).await?;
    let Some((organizer_id, others, answered)) = counts else { return Ok(()) };
    if others == 0 || answered < others {
        return Ok(());
    }
    sqlx::query(MARK).bind(now).bind(event_id).execute(&mut **tx).await?;
    outbox::to_user(tx, Mail::Notice(NotificationKind::EveryoneAnswered), organizer_id, Some(event_id), now).await
}

pub(crate) async fn stored_outcome(db: &Db, event_id: i64) -> Result<Option<scheduling::Outcome>> {
    const SQL: &str = "SELECT outcome FROM event WHERE event_id = ?";
    let stored: Option<Option<String>> = with_pool!(db, |pool| sqlx::query_scalar(SQL).bind(event_id).fetch_optional(pool).await)?;
    stored.flatten().map(|json| serde_json::from_str(&json).map_err(|e| Error::Encoding(e.to_string()))).transpose()
}

/// A name as the search matches it: lower-cased here, by Unicode's rules, on both databases.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Which of a user's events [`find_user_events`] reads, and which page of them.
pub(crate) struct EventFilter {
    pub user_id: i64,
    pub now: DateTime<Utc>,
    /// Matched anywhere in the name, in any case ([`name_key`] of both).
    pub name_part: Option<String>,
    pub status: Option<EventStatus>,
    pub list: Option<EventList>,
    pub limit: i64,
    pub offset: i64,
}

impl EventFilter {
    /// Only decided or cancelled events can match: shown newest first.
    pub(crate) fn newest_first(&self) -> bool {
        self.list == Some(EventList::Finished) || matches!(self.status, Some(EventStatus::Finished | EventStatus::Cancelled))
    }
}

/// One page of the user's events (organized, or taken part in now) that `filter` matches, and
/// how many match in all. Two statements that start from the user's participant rows (index
/// `participant_user`; an organizer is always a participant of their event, and cannot leave),
/// so the cost follows the account, not the site.
pub(crate) async fn find_user_events(db: &Db, filter: &EventFilter) -> Result<(Vec<UserEvent>, i64), sqlx::Error> {
    const UNDECIDED: &str = "e.cancelled_at IS NULL AND e.outcome_stored_at IS NULL";
    // Conditions and their values, in order.
    let mut conditions: Vec<String> = vec!["p.user_id = ? AND p.left_at IS NULL".into()];
    let mut values: Vec<FilterValue> = vec![FilterValue::Id(filter.user_id)];
    match filter.list {
        None => {}
        Some(EventList::Finished) => conditions.push("(e.cancelled_at IS NOT NULL OR e.outcome_stored_at IS NOT NULL)".into()),
        Some(EventList::Organized) => conditions.push(format!("{UNDECIDED} AND e.organizer_id = ?")),
        Some(EventList::Answered) => conditions.push(format!("{UNDECIDED} AND e.organizer_id <> ? AND a.version IS NOT NULL")),
        Some(EventList::Pending) => conditions.push(format!("{UNDECIDED} AND e.organizer_id <> ? AND a.version IS NULL")),
    }
    if matches!(filter.list, Some(EventList::Organized | EventList::Answered | EventList::Pending)) {
        values.push(FilterValue::Id(filter.user_id));
    }
    match filter.status {
        None => {}
        Some(EventStatus::Open) => conditions.push(format!("{UNDECIDED} AND e.deadline > ?")),
        Some(EventStatus::Deciding) => conditions.push(format!("{UNDECIDED} AND e.deadline <= ?")),
        Some(EventStatus::Finished) => conditions.push("e.cancelled_at IS NULL AND e.outcome_stored_at IS NOT NULL".into()),
        Some(EventStatus::Cancelled) => conditions.push("e.cancelled_at IS NOT NULL".into()),
    }
    if matches!(filter.status, Some(EventStatus::Open | EventStatus::Deciding)) {
        values.push(FilterValue::Instant(filter.now));
    }
    if let Some(part) = &filter.name_part {
        // `!` escapes LIKE's wildcards in what was typed.
        conditions.push("e.name_key LIKE ? ESCAPE '!'".into());
        let escaped = name_key(part).replace('!', "!!").replace('%', "!%").replace('_', "!_");
        values.push(FilterValue::Text(format!("%{escaped}%")));
    }
    let from = format!(
        "FROM participant p JOIN event e ON e.event_id = p.event_id JOIN user u ON u.user_id = e.organizer_id \
         LEFT JOIN answer a ON a.participant_id = p.participant_id AND a.withdrawn_at IS NULL \
         WHERE {}",
        conditions.join(" AND ")
    );
    // Finished ones: the most recently decided or cancelled first.
    let order = match filter.newest_first() {
        true => "COALESCE(e.cancelled_at, e.outcome_stored_at) DESC, e.event_id DESC",
        false => "e.deadline, e.event_id",
    };
    let page_sql = format!("SELECT {EVENT_COLUMNS}, a.version AS answer_version {from} ORDER BY {order} LIMIT ? OFFSET ?");
    let count_sql = format!("SELECT COUNT(*) {from}");
    with_pool!(db, |pool| {
        let mut page = sqlx::query_as::<_, UserEventRow>(&page_sql);
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for value in &values {
            (page, count) = match value {
                FilterValue::Id(id) => (page.bind(*id), count.bind(*id)),
                FilterValue::Instant(at) => (page.bind(*at), count.bind(*at)),
                FilterValue::Text(text) => (page.bind(text.clone()), count.bind(text.clone())),
            };
        }
        let rows = page.bind(filter.limit).bind(filter.offset).fetch_all(pool).await?;
        let total = count.fetch_one(pool).await?;
        Ok((rows.into_iter().map(|row| UserEvent { answered: row.answer_version.is_some(), event: row.event }).collect(), total))
    })
}

/// A value a filter condition binds.
enum FilterValue {
    Id(i64),
    Instant(DateTime<Utc>),
    Text(String),
}

