//! Sessions changed by any server process. Each process keeps the sessions in use in memory
//! ([`super::cache`]), so a log-out on one must reach the copies of all the others. The
//! database is the one thing every process shares, so it carries the signal: a change is a row
//! of `session_change`, written in the transaction that deletes the session (or right after a
//! rewrite of its data), and every process reads the last [`LOOK_BACK`] of that table every
//! [`FOLLOW_EVERY`] and drops the sessions named there. A log-out is thus honoured everywhere
//! within about [`FOLLOW_EVERY`].
//!
//! Reading a window of time, not "rows after the last id seen", is what makes this safe: ids
//! are handed out when a row is inserted but become visible when its transaction commits, in
//! another order. A row is handled once (its id is remembered while it is in the window). A
//! follower that could not read for longer than the window may have missed rows, and says so
//! ([`Changes::Unknown`]): its process then drops every copy. Timestamps come from the
//! processes' clocks, which must agree to well within the window (deadlines need that anyway).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use tower_sessions::session::Id;

use super::SESSION_TABLE;
use crate::db::{with_pool, BeginWrite, Db};

/// How often a process reads the changes.
pub(super) const FOLLOW_EVERY: Duration = Duration::from_millis(250);
/// How far back each read looks: far longer than a commit takes.
const LOOK_BACK: Duration = Duration::from_secs(10);
/// Rows older than this are deleted, by whichever process gets there.
const KEEP: Duration = Duration::from_secs(60);
/// How often a process deletes old rows.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

const INSERT: &str = "INSERT INTO session_change (session_id, changed_at) VALUES (?, ?)";

/// Deletes the session and records the change, in one transaction.
pub(super) async fn delete_session(db: &Db, id: &Id) -> Result<(), sqlx::Error> {
    let delete = format!("DELETE FROM {SESSION_TABLE} WHERE id = ?");
    let id = id.to_string();
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        sqlx::query(&delete).bind(&id).execute(&mut *tx).await?;
        sqlx::query(INSERT).bind(&id).bind(Utc::now()).execute(&mut *tx).await?;
        tx.commit().await
    })
}

/// Records that the session's data was rewritten (tower-sessions wrote it already).
pub(super) async fn record_rewrite(db: &Db, id: &Id) -> Result<(), sqlx::Error> {
    with_pool!(db, |pool| sqlx::query(INSERT).bind(id.to_string()).bind(Utc::now()).execute(pool).await.map(|_| ()))
}

/// What changed since the previous read.
#[derive(Debug, PartialEq)]
pub(super) enum Changes {
    Sessions(Vec<Id>),
    /// Too long since the last good read: anything may have changed.
    Unknown,
}

/// One process's reader of the changes.
pub(super) struct Follower {
    db: Db,
    /// Rows of the window already handled.
    handled: HashSet<i64>,
    last_read: Option<Instant>,
    last_prune: Option<Instant>,
}

impl Follower {
    pub(super) fn new(db: Db) -> Self {
        Self { db, handled: HashSet::new(), last_read: None, last_prune: None }
    }

    /// The sessions changed since the previous call (the first call: in the last window).
    pub(super) async fn read(&mut self) -> Result<Changes, sqlx::Error> {
        let started = Instant::now();
        let since = Utc::now() - chrono::Duration::from_std(LOOK_BACK).unwrap_or_default();
        const SELECT: &str = "SELECT change_id, session_id FROM session_change WHERE changed_at >= ?";
        let rows: Vec<(i64, String)> = with_pool!(&self.db, |pool| sqlx::query_as(SELECT).bind(since).fetch_all(pool).await)?;
        let missed = self.last_read.is_some_and(|last| started.duration_since(last) >= LOOK_BACK);
        self.last_read = Some(started);
        let fresh: Vec<Id> =
            rows.iter().filter(|(change_id, _)| !self.handled.contains(change_id)).filter_map(|(_, id)| id.parse().ok()).collect();
        self.handled = rows.iter().map(|(change_id, _)| *change_id).collect();
        self.prune_now_and_then().await;
        Ok(if missed { Changes::Unknown } else { Changes::Sessions(fresh) })
    }

    async fn prune_now_and_then(&mut self) {
        if self.last_prune.is_some_and(|last| last.elapsed() < PRUNE_EVERY) {
            return;
        }
        self.last_prune = Some(Instant::now());
        let before = Utc::now() - chrono::Duration::from_std(KEEP).unwrap_or_default();
        const DELETE: &str = "DELETE FROM session_change WHERE changed_at < ?";
        if let Err(error) = with_pool!(&self.db, |pool| sqlx::query(DELETE).bind(before).execute(pool).await.map(|_| ())) {
            tracing::warn!(%error, "cannot delete old session changes");
        }
    }
}
