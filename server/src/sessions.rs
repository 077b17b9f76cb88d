//! Server-side sessions in the SQL database (both dialects). tower-sessions has one store type
//! per backend; [`SqlSessionStore`] picks the one matching [`Db`] so the session layer has one
//! type. Every request of a signed-in person loads their session, and an open event page asks
//! every 4 s, so [`CachedSessionStore`] keeps the sessions in use in memory in front of it:
//! the database is written on every change and read only on a miss. Whenly runs one server
//! process, so the copy sees every change.

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "whenly_session";

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{MySqlStore, SqliteStore};

use crate::db::Db;

/// Sessions kept in memory at most; past it, expired ones are dropped, then all.
const CACHED_SESSIONS_MAX: usize = 100_000;

/// The table holding sessions, in the application's own database.
const SESSION_TABLE: &str = "session";

#[derive(Debug, Clone)]
pub enum SqlSessionStore {
    MySql(MySqlStore),
    Sqlite(SqliteStore),
}

impl SqlSessionStore {
    /// Opens the store on `db` and creates its table if needed.
    pub async fn open(db: &Db) -> Result<Self, sqlx::Error> {
        match db {
            Db::MySql(pool) => {
                // The default schema `tower_sessions` is a separate database an app user may not
                // create; keep the table in the application's database instead.
                let database: Option<String> = sqlx::query_scalar("SELECT DATABASE()").fetch_one(pool).await?;
                let database = database.ok_or_else(|| {
                    sqlx::Error::Configuration("the MySQL URL must name a database".into())
                })?;
                let store = MySqlStore::new(pool.clone())
                    .with_schema_name(database)
                    .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?
                    .with_table_name(SESSION_TABLE)
                    .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
                store.migrate().await?;
                Ok(Self::MySql(store))
            }
            Db::Sqlite(pool) => {
                let store = SqliteStore::new(pool.clone())
                    .with_table_name(SESSION_TABLE)
                    .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
                store.migrate().await?;
                Ok(Self::Sqlite(store))
            }
        }
    }

    /// Deletes expired sessions once an hour, for as long as the server runs.
    pub fn spawn_expired_session_sweeper(&self) {
        let period = tokio::time::Duration::from_secs(3600);
        let store = self.clone();
        tokio::spawn(async move {
            let result = match store {
                Self::MySql(store) => store.continuously_delete_expired(period).await,
                Self::Sqlite(store) => store.continuously_delete_expired(period).await,
            };
            if let Err(error) = result {
                tracing::error!(%error, "expired-session sweeper stopped");
            }
        });
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::MySql(store) => store.create(record).await,
            Self::Sqlite(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::MySql(store) => store.save(record).await,
            Self::Sqlite(store) => store.save(record).await,
        }
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::MySql(store) => store.load(session_id).await,
            Self::Sqlite(store) => store.load(session_id).await,
        }
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        match self {
            Self::MySql(store) => store.delete(session_id).await,
            Self::Sqlite(store) => store.delete(session_id).await,
        }
    }
}

/// The SQL store behind an in-memory copy of the sessions in use.
#[derive(Debug, Clone)]
pub struct CachedSessionStore {
    sql: SqlSessionStore,
    recent: Arc<RecentSessions>,
}

impl CachedSessionStore {
    pub fn new(sql: SqlSessionStore) -> Self {
        Self { sql, recent: Arc::default() }
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
        self.sql.delete(session_id).await
    }
}

/// The in-memory side of [`CachedSessionStore`]. A load that missed reads the database and
/// keeps what it read only if no session changed meanwhile (a change counter), so a log-out
/// racing a load cannot leave the logged-out session behind in memory.
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
