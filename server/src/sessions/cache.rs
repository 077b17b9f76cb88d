//! The sessions in use, in memory in front of the SQL store: the database is written on every
//! change and read only on a miss. A load that missed keeps what it read only if no session
//! changed meanwhile, so a log-out racing a load cannot leave the session behind. Changes made
//! by other server processes arrive through [`super::changes`]; a session they name is dropped
//! here and read again from the database on its next use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::broadcast;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::changes::{self, Changes, Follower};
use super::SqlSessionStore;
use crate::db::Db;

/// Sessions kept in memory at most; past it, expired ones are dropped, then all.
const CACHED_SESSIONS_MAX: usize = 100_000;

/// Sessions that may have ended, announced to whoever holds one open (live streams):
/// `Some(id)` for one session, `None` when any may have.
pub type MaybeEnded = Option<Id>;

/// Announcements not yet read by the slowest listener at most; a listener that falls further
/// behind is told so and checks its session itself.
const ENDED_BACKLOG: usize = 1024;

/// The SQL store behind an in-memory copy of the sessions in use.
#[derive(Debug, Clone)]
pub struct CachedSessionStore {
    sql: SqlSessionStore,
    db: Db,
    recent: Arc<RecentSessions>,
    ended: broadcast::Sender<MaybeEnded>,
}

impl CachedSessionStore {
    /// `sql` must be the store [`SqlSessionStore::open`] opened on `db`.
    pub fn new(sql: SqlSessionStore, db: Db) -> Self {
        Self { sql, db, recent: Arc::default(), ended: broadcast::channel(ENDED_BACKLOG).0 }
    }

    /// Announcements of sessions that may have ended (logged out here or in another process).
    pub fn subscribe_ended(&self) -> broadcast::Receiver<MaybeEnded> {
        self.ended.subscribe()
    }

    /// Whether session `id` still exists.
    pub async fn exists(&self, id: &Id) -> session_store::Result<bool> {
        Ok(self.load(id).await?.is_some())
    }

    /// Follows the sessions other server processes change, for as long as the server runs.
    pub fn spawn_change_follower(&self, shutdown: &crate::shutdown::Shutdown) {
        let recent = Arc::clone(&self.recent);
        let ended = self.ended.clone();
        let mut follower = Follower::new(self.db.clone());
        shutdown.spawn_until(async move {
            let mut every = tokio::time::interval(changes::FOLLOW_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match follower.read().await {
                    Ok(Changes::Sessions(ids)) => {
                        for id in ids {
                            recent.forget(&id);
                            let _ = ended.send(Some(id));
                        }
                    }
                    Ok(Changes::Unknown) => {
                        recent.forget_all();
                        let _ = ended.send(None);
                    }
                    Err(error) => tracing::warn!(%error, "cannot read the session changes; retrying"),
                }
            }
        });
    }
}

#[async_trait]
impl SessionStore for CachedSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.recent.changing();
        self.sql.create(record).await?;
        self.recent.keep(record, self.recent.changing());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.recent.changing();
        self.sql.save(record).await?;
        changes::record_rewrite(&self.db, &record.id).await.map_err(|e| session_store::Error::Backend(e.to_string()))?;
        self.recent.keep(record, self.recent.changing());
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let ticket = match self.recent.get(session_id) {
            Ok(record) => return Ok(Some(record)),
            Err(ticket) => ticket,
        };
        let record = self.sql.load(session_id).await?;
        if let Some(record) = &record {
            self.recent.keep(record, ticket);
        }
        Ok(record)
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.recent.forget(session_id);
        changes::delete_session(&self.db, session_id).await.map_err(|e| session_store::Error::Backend(e.to_string()))?;
        let _ = self.ended.send(Some(*session_id));
        Ok(())
    }
}

/// The in-memory side of [`CachedSessionStore`]. A load that missed reads the database and
/// keeps what it read only if no session changed meanwhile (a change counter, which the
/// changes of other processes move too).
#[derive(Debug, Default)]
struct RecentSessions {
    inner: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    sessions: HashMap<Id, Record>,
    changes: u64,
}

/// The change count when a database read began.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ticket(u64);

impl RecentSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The active session `id`, or the ticket for reading it from the database.
    fn get(&self, id: &Id) -> Result<Record, Ticket> {
        let recent = self.lock();
        match recent.sessions.get(id) {
            Some(record) if record.expiry_date > OffsetDateTime::now_utc() => Ok(record.clone()),
            _ => Err(Ticket(recent.changes)),
        }
    }

    /// A session is being written: reads begun before now must not be kept.
    fn changing(&self) -> Ticket {
        let mut recent = self.lock();
        recent.changes += 1;
        Ticket(recent.changes)
    }

    /// Keeps `record` unless a session changed since `ticket` was taken.
    fn keep(&self, record: &Record, ticket: Ticket) {
        let mut recent = self.lock();
        if recent.changes != ticket.0 {
            return;
        }
        if recent.sessions.len() >= CACHED_SESSIONS_MAX {
            let now = OffsetDateTime::now_utc();
            recent.sessions.retain(|_, record| record.expiry_date > now);
            if recent.sessions.len() >= CACHED_SESSIONS_MAX {
                recent.sessions.clear();
            }
        }
        recent.sessions.insert(record.id, record.clone());
    }

    fn forget(&self, id: &Id) {
        let mut recent = self.lock();
        recent.changes += 1;
        recent.sessions.remove(id);
    }

    fn forget_all(&self) {
        let mut recent = self.lock();
        recent.changes += 1;
        recent.sessions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_sessions::cookie::time::Duration;

    fn record(expires_in: Duration) -> Record {
        Record { id: Id::default(), data: HashMap::default(), expiry_date: OffsetDateTime::now_utc() + expires_in }
    }

    #[test]
    fn a_kept_session_is_served_until_it_expires_or_is_forgotten() {
        let recent = RecentSessions::default();
        let active = record(Duration::days(1));
        let ticket = recent.get(&active.id).expect_err("not cached yet");
        recent.keep(&active, ticket);
        assert_eq!(recent.get(&active.id).ok(), Some(active.clone()));

        recent.forget(&active.id);
        assert!(recent.get(&active.id).is_err(), "a deleted session is read from the database again");

        let expired = record(Duration::seconds(-1));
        let ticket = recent.get(&expired.id).expect_err("not cached yet");
        recent.keep(&expired, ticket);
        assert!(recent.get(&expired.id).is_err(), "an expired session is never served");
    }

    #[test]
    fn a_read_that_raced_a_log_out_is_not_kept() {
        let recent = RecentSessions::default();
        let session = record(Duration::days(1));
        // A request misses and reads the session from the database; meanwhile a log-out
        // deletes it. What the read found must not come back from memory.
        let ticket = recent.get(&session.id).expect_err("not cached yet");
        recent.forget(&session.id);
        recent.keep(&session, ticket);
        assert!(recent.get(&session.id).is_err());
    }

    #[test]
    fn a_write_keeps_what_it_wrote_and_stops_older_reads() {
        let recent = RecentSessions::default();
        let mut session = record(Duration::days(1));
        let stale_read = recent.get(&session.id).expect_err("not cached yet");
        let write = recent.changing();
        session.data.insert("user_id".to_owned(), serde_json::json!(7));
        recent.keep(&session, write);
        recent.keep(&record(Duration::days(1)), stale_read);
        assert_eq!(recent.get(&session.id).ok(), Some(session));
    }
}
