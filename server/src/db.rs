//! The database handle. Whenly runs on MySQL/MariaDB in production and on an embedded SQLite
//! file by default. sqlx's `Any` driver cannot decode chrono types or MySQL TEXT, so we keep
//! two native pools behind one enum; [`with_pool!`] expands a query body once per backend (the
//! SQL we write is the common subset, with `?` placeholders).

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::MigrateError;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

#[derive(Debug, Clone)]
pub enum Db {
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to whichever concrete pool `$db` holds.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::MySql($pool) => $body,
            $crate::db::Db::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Db {
    /// Connects to `url` (`mysql://`, `mariadb://` or `sqlite://`). A SQLite file is created
    /// when missing, in WAL mode so readers do not block the writer.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        if let Some(rest) = url.strip_prefix("mariadb://") {
            return Self::connect_mysql(&format!("mysql://{rest}")).await;
        }
        if url.starts_with("mysql://") {
            return Self::connect_mysql(url).await;
        }
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
            return Ok(Self::Sqlite(pool));
        }
        Err(sqlx::Error::Configuration(
            format!("unsupported database URL {url:?}: expected mysql://… or sqlite://…").into(),
        ))
    }

    async fn connect_mysql(url: &str) -> Result<Self, sqlx::Error> {
        let options = MySqlConnectOptions::from_str(url)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(32)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self::MySql(pool))
    }

    /// Applies the migrations of this backend's dialect (`migrations/mysql` or `/sqlite`).
    pub async fn migrate(&self) -> Result<(), MigrateError> {
        match self {
            Db::MySql(pool) => sqlx::migrate!("../migrations/mysql").run(pool).await,
            Db::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await,
        }
    }

    /// Waits for the connections in use to be returned, then closes them all (SQLite then
    /// checkpoints its write-ahead log into the database file).
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }

    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }
}

/// Takes the event's row lock until the transaction ends. Joins take it so that two cannot both
/// take the last seat; answers and leaves so that their deadline check and their commit are one
/// step for the manifest, which takes it too (an answer checked just before the deadline but
/// committed just after it is either in the manifest or waited for, never missed). The update
/// that takes the lock also bumps the event's `generation`, the mark every cache and live page
/// keys on (all three change what the page shows; a transaction that rolls back undoes the
/// bump). On SQLite a write transaction ([`BeginWrite`]) already holds the database's write
/// lock, and the update only bumps.
pub(crate) async fn lock_event_for_change<DB>(tx: &mut sqlx::Transaction<'_, DB>, event_id: i64) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
{
    const SQL: &str = "UPDATE event SET generation = generation + 1 WHERE event_id = ?";
    sqlx::query(SQL).bind(event_id).execute(&mut **tx).await.map(|_| ())
}

/// The row lock of [`lock_event_for_change`] for several events at once (a batch of manifests
/// or outcome reports), in the primary key's order like any range lock; it changes nothing.
pub(crate) async fn lock_events<DB>(tx: &mut sqlx::Transaction<'_, DB>, event_ids: &[i64]) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
{
    if event_ids.is_empty() {
        return Ok(());
    }
    let sql = format!("UPDATE event SET event_id = event_id WHERE event_id IN ({})", placeholders(event_ids.len()));
    let mut query = sqlx::query(&sql);
    for id in event_ids {
        query = query.bind(*id);
    }
    query.execute(&mut **tx).await.map(|_| ())
}

/// The most values one `IN (…)` list binds (SQLite allows 32,766 parameters in all).
pub(crate) const MAX_IN_LIST: usize = 500;

/// `?, ?, …` for an `IN (…)` list of `count` values (`count` > 0).
pub(crate) fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// The id of the row an `INSERT` created, the one call that differs between the dialects.
pub trait InsertedId {
    fn inserted_id(&self) -> i64;
}

impl InsertedId for sqlx::mysql::MySqlQueryResult {
    fn inserted_id(&self) -> i64 {
        // AUTO_INCREMENT BIGINT ids are far below i64::MAX.
        self.last_insert_id() as i64
    }
}

impl InsertedId for sqlx::sqlite::SqliteQueryResult {
    fn inserted_id(&self) -> i64 {
        self.last_insert_rowid()
    }
}

/// Starts a transaction that will write. SQLite then takes the write lock at `BEGIN IMMEDIATE`:
/// a deferred transaction that reads first fails with "database is locked" when another writer
/// commits between its read and its first write (the busy timeout does not cover that case).
/// MySQL locks per row and needs nothing special.
pub trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for MySqlPool {
    type Database = sqlx::MySql;
    fn begin_write(&self) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::MySql>, sqlx::Error>> + Send {
        self.begin()
    }
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    fn begin_write(&self) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

/// An instant to bind, for the times a person chooses (deadlines, windows, what follows from
/// them), which may lie as late as 2199. sqlx sends a `DateTime<Utc>` to MySQL typed TIMESTAMP,
/// and MariaDB turns a TIMESTAMP parameter past 2038-01-19 into NULL; typed DATETIME (what the
/// columns are) it keeps. SQLite gets the same text as a `DateTime<Utc>`, so the stored form,
/// and how it compares, does not change.
#[derive(Debug, Clone, Copy)]
pub struct LateInstant(pub chrono::DateTime<chrono::Utc>);

impl sqlx::Type<sqlx::MySql> for LateInstant {
    fn type_info() -> sqlx::mysql::MySqlTypeInfo {
        <chrono::NaiveDateTime as sqlx::Type<sqlx::MySql>>::type_info()
    }
}

impl sqlx::Encode<'_, sqlx::MySql> for LateInstant {
    fn encode_by_ref(&self, buf: &mut Vec<u8>) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        sqlx::Encode::<sqlx::MySql>::encode(self.0.naive_utc(), buf)
    }
}

impl sqlx::Type<sqlx::Sqlite> for LateInstant {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <chrono::DateTime<chrono::Utc> as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for LateInstant {
    fn encode_by_ref(&self, buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        sqlx::Encode::<sqlx::Sqlite>::encode_by_ref(&self.0, buf)
    }
}
