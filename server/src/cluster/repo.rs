//! The SQL behind dispatch, manifests and outcomes.

use chrono::{DateTime, Utc};
use scheduling::{Answer, EventSpec, Interval, IntervalSet, Minute, Outcome, ParticipantId};

use crate::db::{with_pool, BeginWrite, Db};
use crate::error::{Error, Result};

#[derive(sqlx::FromRow)]
pub(crate) struct AnswerRow {
    pub participant_id: i64,
    pub event_id: i64,
    pub intervals: String,
    pub version: i64,
    pub assigned_node: Option<String>,
}

impl AnswerRow {
    pub(crate) fn answer(&self) -> Result<Answer> {
        let availability: IntervalSet = serde_json::from_str(&self.intervals).map_err(|e| Error::Encoding(e.to_string()))?;
        Ok(Answer { participant: ParticipantId(self.participant_id as u64), version: self.version as u64, availability })
    }
}

const ANSWER_COLUMNS: &str = "a.participant_id, a.event_id, a.intervals, a.version, a.assigned_node";

pub(crate) async fn answer(db: &Db, participant_id: i64) -> Result<Option<AnswerRow>, sqlx::Error> {
    let sql = format!("SELECT {ANSWER_COLUMNS} FROM answer a WHERE a.participant_id = ?");
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(participant_id).fetch_optional(pool).await)
}

/// Answers whose latest version no node has acknowledged, oldest first.
pub(crate) async fn undispatched(db: &Db, limit: i64) -> Result<Vec<AnswerRow>, sqlx::Error> {
    let sql = format!("SELECT {ANSWER_COLUMNS} FROM answer a WHERE a.dispatched_version < a.version ORDER BY a.accepted_at LIMIT ?");
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(limit).fetch_all(pool).await)
}

/// Records that `node` acknowledged `version` (unless a newer version arrived meanwhile, which
/// the reconciler then dispatches).
pub(crate) async fn mark_dispatched(db: &Db, participant_id: i64, node: &str, version: i64) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE answer SET assigned_node = ?, dispatched_version = ? WHERE participant_id = ? AND version = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(node).bind(version).bind(participant_id).bind(version).execute(pool).await.map(|_| ()))
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
}

impl EventSpecRow {
    pub(crate) fn spec(&self) -> Result<EventSpec> {
        let window = match (self.window_start, self.window_end) {
            (Some(start), Some(end)) => Interval::new(Minute::floor(start), Minute::floor(end)),
            _ => None,
        };
        EventSpec::new(self.deadline, u32::try_from(self.duration_minutes).unwrap_or_default(), window)
            .map_err(|e| Error::Encoding(format!("stored event {} is invalid: {e}", self.event_id)))
    }

    pub(crate) fn stored_outcome(&self) -> Result<Option<Outcome>> {
        self.outcome.as_deref().map(serde_json::from_str).transpose().map_err(|e| Error::Encoding(e.to_string()))
    }
}

const SPEC_COLUMNS: &str = "event_id, deadline, duration_minutes, window_start, window_end, coordinator_node, outcome";

pub(crate) async fn event_spec(db: &Db, event_id: i64) -> Result<Option<EventSpecRow>, sqlx::Error> {
    let sql = format!("SELECT {SPEC_COLUMNS} FROM event WHERE event_id = ?");
    with_pool!(db, |pool| sqlx::query_as(&sql).bind(event_id).fetch_optional(pool).await)
}

/// Every unfinished, uncancelled event.
pub(crate) async fn unfinished_events(db: &Db) -> Result<Vec<EventSpecRow>, sqlx::Error> {
    let sql = format!("SELECT {SPEC_COLUMNS} FROM event WHERE outcome_stored_at IS NULL AND cancelled_at IS NULL");
    with_pool!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
}

/// Unfinished, uncancelled events without a coordinator.
pub(crate) async fn events_without_coordinator(db: &Db) -> Result<Vec<EventSpecRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {SPEC_COLUMNS} FROM event WHERE coordinator_node IS NULL AND outcome_stored_at IS NULL AND cancelled_at IS NULL"
    );
    with_pool!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
}

pub(crate) async fn set_coordinator(db: &Db, event_id: i64, node: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE event SET coordinator_node = ?, coordinator_epoch = coordinator_epoch + 1 WHERE event_id = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(node).bind(event_id).execute(pool).await.map(|_| ()))
}

/// The answers of current participants (all accepted before the deadline by construction).
///
/// Read under the event's lock, which answers and leaves hold from their deadline check to
/// their commit: an answer checked just before the deadline but committed just after it is
/// either seen here or waited for, never missed. (A plain read could see the database as it
/// was before that commit: an accepted answer missing from the outcome.)
pub(crate) async fn manifest_answers(db: &Db, event_id: i64) -> Result<Vec<AnswerRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {ANSWER_COLUMNS} FROM answer a JOIN participant p ON p.participant_id = a.participant_id \
         WHERE a.event_id = ? AND p.left_at IS NULL ORDER BY a.participant_id"
    );
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        sqlx::query(crate::events::LOCK_EVENT).bind(event_id).execute(&mut *tx).await?;
        let answers = sqlx::query_as(&sql).bind(event_id).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(answers)
    })
}

/// Stores the outcome unless one is stored (or the event was cancelled). Returns whether this
/// call stored it.
pub(crate) async fn store_outcome(db: &Db, event_id: i64, outcome: &Outcome) -> Result<bool> {
    const SQL: &str = "UPDATE event SET outcome = ?, outcome_stored_at = ? \
         WHERE event_id = ? AND outcome_stored_at IS NULL AND cancelled_at IS NULL";
    let encoded = serde_json::to_string(outcome).map_err(|e| Error::Encoding(e.to_string()))?;
    let stored = with_pool!(db, |pool| sqlx::query(SQL).bind(encoded).bind(Utc::now()).bind(event_id).execute(pool).await.map(|done| done.rows_affected() == 1))?;
    Ok(stored)
}

/// Undoes [`set_coordinator`] when the node could not be told, so the reconciler tries again.
pub(crate) async fn clear_coordinator(db: &Db, event_id: i64) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE event SET coordinator_node = NULL WHERE event_id = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(event_id).execute(pool).await.map(|_| ()))
}

#[derive(sqlx::FromRow)]
pub(crate) struct NodeRow {
    pub node_id: String,
    pub address: String,
}

pub(crate) async fn nodes(db: &Db) -> Result<Vec<NodeRow>, sqlx::Error> {
    const SQL: &str = "SELECT node_id, address FROM node ORDER BY node_id";
    with_pool!(db, |pool| sqlx::query_as(SQL).fetch_all(pool).await)
}

/// Counts a wrong report; the `strikes`-th in a row quarantines the node. (`state` is assigned
/// first: MySQL evaluates later assignments with earlier ones applied, SQLite does not.)
pub(crate) async fn strike_node(db: &Db, node: &str, strikes: i32) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE node SET state = CASE WHEN strikes + 1 >= ? THEN 'quarantined' ELSE state END, \
         strikes = strikes + 1 WHERE node_id = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(strikes).bind(node).execute(pool).await.map(|_| ()))
}

pub(crate) async fn quarantined_nodes(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    const SQL: &str = "SELECT node_id FROM node WHERE state = 'quarantined'";
    with_pool!(db, |pool| sqlx::query_scalar(SQL).fetch_all(pool).await)
}

/// Records the monitor's verdict; only an operator lifts a quarantine.
pub(crate) async fn set_node_state(db: &Db, node: &str, state: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE node SET state = ? WHERE node_id = ? AND state <> 'quarantined'";
    with_pool!(db, |pool| sqlx::query(SQL).bind(state).bind(node).execute(pool).await.map(|_| ()))
}

/// Takes an unavailable node's work away: its answers become undispatched and unassigned, its
/// unfinished events lose their coordinator. Returns (answers, events) moved.
pub(crate) async fn move_work_off(db: &Db, node: &str) -> Result<(u64, u64), sqlx::Error> {
    const ANSWERS: &str = "UPDATE answer SET assigned_node = NULL, dispatched_version = 0 WHERE assigned_node = ?";
    const EVENTS: &str = "UPDATE event SET coordinator_node = NULL \
         WHERE coordinator_node = ? AND outcome_stored_at IS NULL AND cancelled_at IS NULL";
    with_pool!(db, |pool| {
        // Events before answers: the order answers and leaves lock in (event row, then answer).
        let mut tx = pool.begin_write().await?;
        let events = sqlx::query(EVENTS).bind(node).execute(&mut *tx).await?.rows_affected();
        let answers = sqlx::query(ANSWERS).bind(node).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok((answers, events))
    })
}

pub(crate) async fn clear_strikes(db: &Db, node: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE node SET strikes = 0 WHERE node_id = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(node).execute(pool).await.map(|_| ()))
}

/// Records a node and its address (at hello, and at start for configured nodes). Its state is
/// the monitor's to change. A node's hello may race the server's own start-up insert: the
/// loser of the insert updates instead.
pub(crate) async fn upsert_node(db: &Db, node: &str, address: &str) -> Result<(), sqlx::Error> {
    const UPDATE: &str = "UPDATE node SET address = ?, last_seen_at = ? WHERE node_id = ?";
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
