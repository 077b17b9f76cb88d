//! The SQL behind dispatch, manifests, outcomes and node membership.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use event_node::protocol::NodeId;
use scheduling::{Answer, Availability, EventSpec, Interval, Minute, Outcome, ParticipantId};

use crate::db::{lock_events, placeholders, with_pool, BeginWrite, Db, MAX_IN_LIST};
use crate::error::{Error, Result};
use crate::outbox;

#[derive(Clone, sqlx::FromRow)]
pub(crate) struct AnswerRow {
    pub participant_id: i64,
    pub event_id: i64,
    pub intervals: String,
    pub version: i64,
    pub assigned_node: Option<String>,
    /// Set when the participant left: this version is a withdrawal, not an answer.
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// When this version was accepted (for the dispatch lag).
    pub accepted_at: DateTime<Utc>,
    pub needs_dispatch: bool,
}

impl AnswerRow {
    pub(crate) fn answer(&self) -> Result<Answer> {
        let availability: Availability = serde_json::from_str(&self.intervals).map_err(|e| Error::Encoding(e.to_string()))?;
        Ok(Answer::of(ParticipantId(self.participant_id as u64), self.version as u64, availability))
    }
}

const ANSWER_COLUMNS: &str = "a.participant_id, a.event_id, a.intervals, a.version, a.assigned_node, a.withdrawn_at, a.accepted_at, a.needs_dispatch";
/// [`ANSWER_COLUMNS`] without the content (`intervals` empty): where each answer is, not what.
const ANSWER_PLACES: &str = "a.participant_id, a.event_id, '' AS intervals, a.version, a.assigned_node, a.withdrawn_at, a.accepted_at, a.needs_dispatch";

pub(crate) async fn answer(db: &Db, participant_id: i64) -> Result<Option<AnswerRow>, sqlx::Error> {
    let sql = format!("SELECT {ANSWER_COLUMNS} FROM answer a WHERE a.participant_id = ?");
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(participant_id).fetch_optional(pool).await)
}

/// Answers (and withdrawals) no node has acknowledged yet, of events still to be decided,
/// nearest deadline first (index `answer_needs_dispatch`).
pub(crate) async fn undispatched(db: &Db, limit: i64) -> Result<Vec<AnswerRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ANSWER_COLUMNS} FROM answer a JOIN event e ON e.event_id = a.event_id \
         WHERE a.needs_dispatch = TRUE AND e.outcome_stored_at IS NULL AND e.cancelled_at IS NULL \
         ORDER BY e.deadline, a.participant_id LIMIT ?"
    );
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(limit).fetch_all(pool).await)
}

/// An answer (or withdrawal) a node acknowledged: which version went where (`node` `None`:
/// nothing had to be sent anywhere).
pub(crate) struct Placed {
    pub participant_id: i64,
    pub node: Option<NodeId>,
    pub version: i64,
}

/// Records each of `placed`, unless a newer version of the row arrived meanwhile, which the
/// reconciler then dispatches. One statement per [`MAX_IN_LIST`] rows, in participant order
/// (as the answer upsert takes them; a release of a decided event's answers takes them by
/// event, and a deadlock between the two on MySQL rolls one back, to be retried).
pub(crate) async fn mark_dispatched(db: &Db, placed: &[Placed]) -> Result<(), sqlx::Error> {
    let mut placed: Vec<&Placed> = placed.iter().collect();
    placed.sort_by_key(|placed| placed.participant_id);
    for chunk in placed.chunks(MAX_IN_LIST) {
        let cases = " WHEN ? THEN ?".repeat(chunk.len());
        let sql = format!(
            "UPDATE answer SET assigned_node = CASE participant_id{cases} END, needs_dispatch = FALSE \
             WHERE participant_id IN ({}) AND version = CASE participant_id{cases} END",
            placeholders(chunk.len())
        );
        with_pool!(db, |pool| {
            let mut query = sqlx::query(&sql);
            for placed in chunk {
                query = query.bind(placed.participant_id).bind(placed.node.as_deref());
            }
            for placed in chunk {
                query = query.bind(placed.participant_id);
            }
            for placed in chunk {
                query = query.bind(placed.participant_id).bind(placed.version);
            }
            query.execute(pool).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// Moves the participant's version past `held` (a node holds a version the database does not
/// know: a restored backup, or a bug), keeping the content, so it is sent again and accepted.
/// Under the event's lock, like every change of a version (the answer path relies on it).
/// Returns whether the row was still at `version`.
pub(crate) async fn move_version_past(db: &Db, event_id: i64, participant_id: i64, version: i64, held: i64) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE answer SET version = ?, needs_dispatch = TRUE WHERE participant_id = ? AND version = ?";
    let next = held.saturating_add(1);
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        // The lock, not a change: the event's pages show nothing new.
        lock_events(&mut tx, &[event_id]).await?;
        let moved = sqlx::query(SQL).bind(next).bind(participant_id).bind(version).execute(&mut *tx).await?.rows_affected() == 1;
        tx.commit().await?;
        Ok(moved)
    })
}

/// The spec an event's stored columns describe.
pub(crate) fn stored_spec(event_id: i64, deadline: DateTime<Utc>, duration_minutes: i32, window_start: Option<DateTime<Utc>>, window_end: Option<DateTime<Utc>>) -> Result<EventSpec> {
    let window = match (window_start, window_end) {
        (Some(start), Some(end)) => Interval::new(Minute::floor(start), Minute::floor(end)),
        _ => None,
    };
    EventSpec::new(deadline, u32::try_from(duration_minutes).unwrap_or_default(), window).map_err(|e| Error::Encoding(format!("stored event {event_id} is invalid: {e}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventSpecRow {
    pub event_id: i64,
    pub deadline: DateTime<Utc>,
    pub duration_minutes: i32,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub coordinator_node: Option<String>,
    pub outcome: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl EventSpecRow {
    pub(crate) fn spec(&self) -> Result<EventSpec> {
        stored_spec(self.event_id, self.deadline, self.duration_minutes, self.window_start, self.window_end)
    }

    pub(crate) fn stored_outcome(&self) -> Result<Option<Outcome>> {
        self.outcome.as_deref().map(decode_outcome).transpose()
    }
}

/// An outcome as the `event.outcome` column holds it.
pub(crate) fn decode_outcome(json: &str) -> Result<Outcome> {
    serde_json::from_str(json).map_err(|e| Error::Encoding(e.to_string()))
}

const SPEC_COLUMNS: &str = "event_id, deadline, duration_minutes, window_start, window_end, coordinator_node, outcome, cancelled_at";

pub(crate) async fn event_spec(db: &Db, event_id: i64) -> Result<Option<EventSpecRow>, sqlx::Error> {
    let sql = format!("SELECT {SPEC_COLUMNS} FROM event WHERE event_id = ?");
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(event_id).fetch_optional(pool).await)
}

/// The events' rows, by id (a plain read: no locks).
pub(crate) async fn event_specs(db: &Db, event_ids: &[i64]) -> Result<HashMap<i64, EventSpecRow>, sqlx::Error> {
    if event_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!("SELECT {SPEC_COLUMNS} FROM event WHERE event_id IN ({})", placeholders(event_ids.len()));
    let rows: Vec<EventSpecRow> = with_pool!(db, |pool| {
        let mut query = sqlx::query_as(&sql);
        for id in event_ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|row| (row.event_id, row)).collect())
}

/// Every unfinished, uncancelled event, nearest deadline first.
pub(crate) async fn unfinished_events(db: &Db) -> Result<Vec<EventSpecRow>, sqlx::Error> {
    let sql = format!("SELECT {SPEC_COLUMNS} FROM event WHERE outcome_stored_at IS NULL AND cancelled_at IS NULL ORDER BY deadline");
    with_pool!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
}

/// Unfinished, uncancelled events without a coordinator, nearest deadline first, at most
/// `limit`.
pub(crate) async fn events_without_coordinator(db: &Db, limit: i64) -> Result<Vec<EventSpecRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {SPEC_COLUMNS} FROM event WHERE coordinator_node IS NULL AND outcome_stored_at IS NULL AND cancelled_at IS NULL \
         ORDER BY deadline LIMIT ?"
    );
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(limit).fetch_all(pool).await)
}

/// An event past its deadline with no outcome, for the stall warning.
#[derive(sqlx::FromRow)]
pub(crate) struct OverdueEvent {
    pub event_id: i64,
    pub deadline: DateTime<Utc>,
    pub coordinator_node: Option<String>,
    pub undispatched: i64,
}

/// Events whose deadline is before `before` and that have no outcome (nor were cancelled),
/// oldest first, at most `limit` (index `event_unfinished_deadline`).
pub(crate) async fn overdue_events(db: &Db, before: DateTime<Utc>, limit: i64) -> Result<Vec<OverdueEvent>, sqlx::Error> {
    const SQL: &str = "SELECT e.event_id, e.deadline, e.coordinator_node, \
         (SELECT COUNT(*) FROM answer a WHERE a.event_id = e.event_id AND a.needs_dispatch = TRUE) AS undispatched \
         FROM event e WHERE e.outcome_stored_at IS NULL AND e.cancelled_at IS NULL AND e.deadline < ? \
         ORDER BY e.deadline LIMIT ?";
    with_pool!(db, |pool| sqlx::query_as(SQL).bind(before).bind(limit).fetch_all(pool).await)
}

/// How many events are past `before` with no outcome (nor cancelled).
pub(crate) async fn count_overdue(db: &Db, before: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COUNT(*) FROM event WHERE outcome_stored_at IS NULL AND cancelled_at IS NULL AND deadline < ?";
    with_pool!(db, |pool| sqlx::query_scalar(SQL).bind(before).fetch_one(pool).await)
}

pub(crate) async fn set_coordinator(db: &Db, event_id: i64, node: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE event SET coordinator_node = ?, coordinator_epoch = coordinator_epoch + 1 WHERE event_id = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(node).bind(event_id).execute(pool).await.map(|_| ()))
}

/// Events being finalized, read together under their row locks (see [`lock_events`]): the
/// current answers of current participants are all accepted before the deadline by
/// construction, and once a deadline has passed they can no longer change.
pub(crate) struct Finalizing {
    pub events: HashMap<i64, EventSpecRow>,
    /// Each event's answers, by participant.
    pub answers: HashMap<i64, Vec<AnswerRow>>,
}

/// What of each answer [`finalizing`] reads: a manifest needs only where each one is and at
/// which version; checking a report needs the content too.
#[derive(Clone, Copy)]
pub(crate) enum AnswerRead {
    WhereOnly,
    WithContent,
}

pub(crate) async fn finalizing(db: &Db, event_ids: &[i64], read: AnswerRead) -> Result<Finalizing, sqlx::Error> {
    if event_ids.is_empty() {
        return Ok(Finalizing { events: HashMap::new(), answers: HashMap::new() });
    }
    let listed = placeholders(event_ids.len());
    let columns = match read {
        AnswerRead::WhereOnly => ANSWER_PLACES,
        AnswerRead::WithContent => ANSWER_COLUMNS,
    };
    let events_sql = format!("SELECT {SPEC_COLUMNS} FROM event WHERE event_id IN ({listed})");
    let answers_sql = format!(
        "SELECT {columns} FROM answer a JOIN participant p ON p.participant_id = a.participant_id \
         WHERE a.event_id IN ({listed}) AND p.left_at IS NULL AND a.withdrawn_at IS NULL ORDER BY a.event_id, a.participant_id"
    );
    let (events, answers): (Vec<EventSpecRow>, Vec<AnswerRow>) = with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        lock_events(&mut tx, event_ids).await?;
        let mut events = sqlx::query_as(&events_sql);
        let mut answers = sqlx::query_as(&answers_sql);
        for id in event_ids {
            events = events.bind(*id);
            answers = answers.bind(*id);
        }
        let read = (events.fetch_all(&mut *tx).await?, answers.fetch_all(&mut *tx).await?);
        tx.commit().await?;
        Ok::<_, sqlx::Error>(read)
    })?;
    let mut by_event: HashMap<i64, Vec<AnswerRow>> = HashMap::new();
    for answer in answers {
        by_event.entry(answer.event_id).or_default().push(answer);
    }
    Ok(Finalizing { events: events.into_iter().map(|row| (row.event_id, row)).collect(), answers: by_event })
}

/// An event's outcome as read after [`store_outcomes`], whichever report stored it.
#[derive(sqlx::FromRow)]
pub(crate) struct StoredOutcome {
    pub event_id: i64,
    /// `None`: none stored (cancelled meanwhile, or given to another coordinator).
    pub outcome: Option<String>,
    pub coordinator_node: Option<String>,
}

pub(crate) async fn stored_outcomes(db: &Db, event_ids: &[i64]) -> Result<HashMap<i64, StoredOutcome>, sqlx::Error> {
    if event_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!("SELECT event_id, outcome, coordinator_node FROM event WHERE event_id IN ({})", placeholders(event_ids.len()));
    let rows: Vec<StoredOutcome> = with_pool!(db, |pool| {
        let mut query = sqlx::query_as(&sql);
        for id in event_ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|row| (row.event_id, row)).collect())
}

/// Which of `event_ids` (at most [`MAX_IN_LIST`]) are open: no outcome stored, not cancelled.
pub(crate) async fn open_events(db: &Db, event_ids: &[i64]) -> Result<HashSet<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT event_id FROM event WHERE event_id IN ({}) AND outcome_stored_at IS NULL AND cancelled_at IS NULL",
        placeholders(event_ids.len())
    );
    let rows: Vec<(i64,)> = with_pool!(db, |pool| {
        let mut query = sqlx::query_as(&sql);
        for id in event_ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Stores each event's outcome unless one is stored, the event was cancelled, or `node` no
/// longer coordinates it (it may have been moved since it was read), and ends
/// the events' answers' assignments: the nodes drop them when sealed, and nothing is to be
/// dispatched any more, so neither the reconciler nor a node failure looks at them again. One
/// transaction for the whole batch. Returns the events this call stored an outcome for.
pub(crate) async fn store_outcomes(db: &Db, node: &str, outcomes: &[(i64, &Outcome)]) -> Result<HashSet<i64>> {
    const STORE: &str = "UPDATE event SET outcome = ?, outcome_stored_at = ?, reminder_due_at = NULL, generation = generation + 1 \
         WHERE event_id = ? AND outcome_stored_at IS NULL AND cancelled_at IS NULL AND coordinator_node = ?";
    if outcomes.is_empty() {
        return Ok(HashSet::new());
    }
    let mut encoded: Vec<(i64, String)> = outcomes
        .iter()
        .map(|(event_id, outcome)| serde_json::to_string(outcome).map(|json| (*event_id, json)))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Encoding(e.to_string()))?;
    // Rows locked in key order, as every batch does, so two batches cannot deadlock.
    encoded.sort_by_key(|(event_id, _)| *event_id);
    let now = Utc::now();
    let stored = with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let mut stored = HashSet::new();
        for (event_id, json) in &encoded {
            if sqlx::query(STORE).bind(json).bind(now).bind(event_id).bind(node).execute(&mut *tx).await?.rows_affected() == 1 {
                stored.insert(*event_id);
            }
        }
        // Only the events this call decided: another's (or a moved one's) are not ours to end.
        if !stored.is_empty() {
            let stored_ids: Vec<i64> = stored.iter().copied().collect();
            let release = format!(
                "UPDATE answer SET assigned_node = NULL, needs_dispatch = FALSE WHERE event_id IN ({})",
                placeholders(stored_ids.len())
            );
            let mut released = sqlx::query(&release);
            for event_id in &stored_ids {
                released = released.bind(*event_id);
            }
            released.execute(&mut *tx).await?;
            // Everyone learns the outcome: written with it, so it is told exactly when it is stored.
            let told = outbox::Mail::Notice(app::notifications::NotificationKind::Outcome);
            outbox::to_participants(&mut tx, told, outbox::Audience::Everyone, &stored_ids, now).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(stored)
    })?;
    Ok(stored)
}

/// Undoes [`set_coordinator`] when `node` could not be told, so the reconciler tries again
/// (unless another assignment replaced it meanwhile).
pub(crate) async fn clear_coordinator(db: &Db, event_id: i64, node: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE event SET coordinator_node = NULL WHERE event_id = ? AND coordinator_node = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(event_id).bind(node).execute(pool).await.map(|_| ()))
}

/// Marks these participants' answers of `event_id` for dispatch again (their node lost them).
/// Returns how many rows that touched.
pub(crate) async fn dispatch_again(db: &Db, event_id: i64, participants: &std::collections::BTreeSet<i64>) -> Result<u64, sqlx::Error> {
    const SQL: &str = "UPDATE answer SET needs_dispatch = TRUE WHERE event_id = ? AND participant_id = ? AND withdrawn_at IS NULL";
    let mut touched = 0;
    for participant in participants {
        touched += with_pool!(db, |pool| sqlx::query(SQL).bind(event_id).bind(participant).execute(pool).await.map(|done| done.rows_affected()))?;
    }
    Ok(touched)
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct NodeRow {
    pub node_id: String,
    pub address: String,
    pub state: String,
}

pub(crate) async fn nodes(db: &Db) -> Result<Vec<NodeRow>, sqlx::Error> {
    const SQL: &str = "SELECT node_id, address, state FROM node ORDER BY node_id";
    with_pool!(db, |pool| sqlx::query_as(SQL).fetch_all(pool).await)
}

/// Counts a wrong report; the `strikes`-th in a row quarantines the node. (`state` is assigned
/// first: MySQL evaluates later assignments with earlier ones applied, SQLite does not.)
pub(crate) async fn strike_node(db: &Db, node: &str, strikes: i32) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE node SET state = CASE WHEN strikes + 1 >= ? THEN 'quarantined' ELSE state END, \
         strikes = strikes + 1 WHERE node_id = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(strikes).bind(node).execute(pool).await.map(|_| ()))
}

pub(crate) async fn clear_strikes(db: &Db, node: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE node SET strikes = 0 WHERE node_id = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(node).execute(pool).await.map(|_| ()))
}

/// Moves a node from one of the `from` states to `to`; returns whether it was in one. Every
/// state change goes through here, so the monitor's `live`/`dead` verdicts never overwrite an
/// operator's `draining`, a quarantine, or a retirement.
pub(crate) async fn transition_node(db: &Db, node: &str, from: &[&str], to: &str) -> Result<bool, sqlx::Error> {
    let sql = format!("UPDATE node SET state = ? WHERE node_id = ? AND state IN ({})", placeholders(from.len()));
    with_pool!(db, |pool| {
        let mut query = sqlx::query(&sql).bind(to).bind(node);
        for state in from {
            query = query.bind(*state);
        }
        query.execute(pool).await.map(|done| done.rows_affected() == 1)
    })
}

/// Lifts a quarantine (an operator's call): the node is live again with no strikes. Returns
/// whether it was quarantined.
pub(crate) async fn lift_quarantine(db: &Db, node: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE node SET state = 'live', strikes = 0 WHERE node_id = ? AND state = 'quarantined'";
    with_pool!(db, |pool| sqlx::query(SQL).bind(node).execute(pool).await.map(|done| done.rows_affected() == 1))
}

/// Takes an unavailable node's work away: its answers of undecided events become unassigned
/// and wait for dispatch, its undecided events lose their coordinator. Returns (answers,
/// events) moved. The answers are found by a plain read first and then updated by primary
/// key, so no event row is locked here after an answer row (answers and leaves lock the
/// event, then the answer).
pub(crate) async fn move_work_off(db: &Db, node: &str) -> Result<(u64, u64), sqlx::Error> {
    const EVENTS: &str = "UPDATE event SET coordinator_node = NULL \
         WHERE coordinator_node = ? AND outcome_stored_at IS NULL AND cancelled_at IS NULL";
    const HELD: &str = "SELECT a.participant_id FROM answer a JOIN event e ON e.event_id = a.event_id \
         WHERE a.assigned_node = ? AND e.outcome_stored_at IS NULL AND e.cancelled_at IS NULL";
    const ANSWER: &str = "UPDATE answer SET assigned_node = NULL, needs_dispatch = TRUE WHERE participant_id = ? AND assigned_node = ?";
    with_pool!(db, |pool| {
        let events = sqlx::query(EVENTS).bind(node).execute(pool).await?.rows_affected();
        let held: Vec<i64> = sqlx::query_scalar(HELD).bind(node).fetch_all(pool).await?;
        let mut answers = 0;
        for participant in held {
            answers += sqlx::query(ANSWER).bind(participant).bind(node).execute(pool).await?.rows_affected();
        }
        Ok((answers, events))
    })
}

/// Records a configured node (`--nodes`) unless the database knows it already: what the node
/// said at its last hello, and its state, are newer than the configuration.
pub(crate) async fn insert_node_if_absent(db: &Db, node: &str, address: &str) -> Result<(), sqlx::Error> {
    const INSERT: &str = "INSERT INTO node (node_id, address, state, strikes, last_seen_at) VALUES (?, ?, 'live', 0, NULL)";
    with_pool!(db, |pool| match sqlx::query(INSERT).bind(node).bind(address).execute(pool).await {
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(()),
        other => other.map(|_| ()),
    })
}

/// Records a node and its address (at hello). A new node
/// is `live`; a known one keeps its state, except that a retired node saying hello was started
/// again on purpose and rejoins. A node's hello may race the server's own start-up insert: the
/// loser of the insert updates instead.
pub(crate) async fn upsert_node(db: &Db, node: &str, address: &str) -> Result<(), sqlx::Error> {
    const UPDATE: &str = "UPDATE node SET address = ?, last_seen_at = ?, \
         state = CASE WHEN state = 'retired' THEN 'live' ELSE state END WHERE node_id = ?";
    const INSERT: &str = "INSERT INTO node (node_id, address, state, strikes, last_seen_at) VALUES (?, ?, 'live', 0, ?)";
    let now = Utc::now();
    with_pool!(db, |pool| {
        let updated = sqlx::query(UPDATE).bind(address).bind(now).bind(node).execute(pool).await?;
        if updated.rows_affected() > 0 {
            return Ok(());
        }
        match sqlx::query(INSERT).bind(node).bind(address).bind(now).execute(pool).await {
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                sqlx::query(UPDATE).bind(address).bind(now).bind(node).execute(pool).await.map(|_| ())
            }
            other => other.map(|_| ()),
        }
    })
}
