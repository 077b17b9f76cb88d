//! Server-side sessions in the SQL database (both dialects). tower-sessions has one store type
//! per backend; [`SqlSessionStore`] picks the one matching [`Db`] so the session layer has one
//! type. Every request of a signed-in person loads their session, so [`CachedSessionStore`]
//! keeps the sessions in use in memory in front of it ([`cache`]); the changes other server
//! processes make reach it through the database ([`changes`]).

mod cache;
mod changes;

pub use cache::{CachedSessionStore, MaybeEnded};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "whenly_session";

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{MySqlStore, SqliteStore};

use crate::db::Db;

/// The table holding sessions, in the application's own database.
pub(crate) const SESSION_TABLE: &str = "session";

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
    pub fn spawn_expired_session_sweeper(&self, shutdown: &crate::shutdown::Shutdown) {
        let period = tokio::time::Duration::from_secs(3600);
        let store = self.clone();
        shutdown.spawn_until(async move {
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

