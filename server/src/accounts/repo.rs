//! The SQL behind accounts. Each function is one statement in the dialect-common subset.

use app::accounts::MailChoices;
use app::notifications::NotificationKind;
use chrono::Utc;

use crate::accounts::password::StoredPasswordHash;
use crate::db::{with_pool, BeginWrite, Db};

pub struct UserRecord {
    pub user_id: i64,
    pub username: String,
    pub password_hash: StoredPasswordHash,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    user_id: i64,
    username: String,
    password_hash: String,
}

impl From<UserRow> for UserRecord {
    fn from(row: UserRow) -> Self {
        Self { user_id: row.user_id, username: row.username, password_hash: StoredPasswordHash::from_db(row.password_hash) }
    }
}

/// The case-insensitive key usernames are unique by (usernames are ASCII by rule).
pub fn username_key(username: &str) -> String {
    username.to_ascii_lowercase()
}

/// Inserts a user and returns its id; a taken username surfaces as a unique violation.
pub async fn insert_user(db: &Db, username: &str, password_hash: &StoredPasswordHash) -> Result<i64, sqlx::Error> {
    const SQL: &str = "INSERT INTO user (username, username_key, password_hash, created_at) VALUES (?, ?, ?, ?)";
    let now = Utc::now();
    let key = username_key(username);
    Ok(match db {
        Db::MySql(pool) => {
            let done = sqlx::query(SQL).bind(username).bind(&key).bind(password_hash.as_db()).bind(now).execute(pool).await?;
            i64::try_from(done.last_insert_id()).map_err(|e| sqlx::Error::Decode(Box::new(e)))?
        }
        Db::Sqlite(pool) => {
            let done = sqlx::query(SQL).bind(username).bind(&key).bind(password_hash.as_db()).bind(now).execute(pool).await?;
            done.last_insert_rowid()
        }
    })
}

pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<UserRecord>, sqlx::Error> {
    const SQL: &str = "SELECT user_id, username, password_hash FROM user WHERE username_key = ?";
    let key = username_key(username);
    let row: Option<UserRow> = with_pool!(db, |pool| sqlx::query_as(SQL).bind(&key).fetch_optional(pool).await)?;
    Ok(row.map(UserRecord::from))
}

pub async fn find_by_id(db: &Db, user_id: i64) -> Result<Option<UserRecord>, sqlx::Error> {
    const SQL: &str = "SELECT user_id, username, password_hash FROM user WHERE user_id = ?";
    let row: Option<UserRow> = with_pool!(db, |pool| sqlx::query_as(SQL).bind(user_id).fetch_optional(pool).await)?;
    Ok(row.map(UserRecord::from))
}

/// The bit of `user.mail_opt_out` that turns off mail of `kind`.
pub const fn opt_out_bit(kind: NotificationKind) -> i32 {
    match kind {
        NotificationKind::Outcome => 1,
        NotificationKind::Reminder => 2,
        NotificationKind::EveryoneAnswered => 4,
        NotificationKind::Cancelled => 8,
    }
}

/// The mail choices `opt_out` (bits of [`opt_out_bit`]) leaves on.
pub fn mail_choices(opt_out: i32) -> MailChoices {
    let mut choices = MailChoices::default();
    for kind in NotificationKind::ALL {
        choices.set(kind, opt_out & opt_out_bit(kind) == 0);
    }
    choices
}

/// The bits that turn off what `choices` leaves off.
pub fn opt_out_of(choices: &MailChoices) -> i32 {
    NotificationKind::ALL.into_iter().filter(|kind| !choices.get(*kind)).map(opt_out_bit).fold(0, |bits, bit| bits | bit)
}

/// What mail to a user needs of their account, and their settings.
#[derive(Debug, sqlx::FromRow)]
pub struct MailProfile {
    pub user_id: i64,
    pub username: String,
    pub email: Option<String>,
    pub email_verified_at: Option<chrono::DateTime<Utc>>,
    pub time_zone: Option<String>,
    pub mail_opt_out: i32,
    pub deleted_at: Option<chrono::DateTime<Utc>>,
    pub password_hash: String,
}

impl MailProfile {
    pub fn email_verified(&self) -> bool {
        self.email.is_some() && self.email_verified_at.is_some()
    }

    pub fn deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

pub async fn mail_profile(db: &Db, user_id: i64) -> Result<Option<MailProfile>, sqlx::Error> {
    const SQL: &str = "SELECT user_id, username, email, email_verified_at, time_zone, mail_opt_out, deleted_at, password_hash \
         FROM user WHERE user_id = ?";
    with_pool!(db, |pool| sqlx::query_as(SQL).bind(user_id).fetch_optional(pool).await)
}

/// Turns off mail of `kind` for `user_id`.
pub async fn opt_out(db: &Db, user_id: i64, kind: NotificationKind) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE user SET mail_opt_out = mail_opt_out | ? WHERE user_id = ?";
    with_pool!(db, |pool| sqlx::query(SQL).bind(opt_out_bit(kind)).bind(user_id).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// An account's settings as stored.
#[derive(sqlx::FromRow)]
pub struct SettingsRow {
    pub username: String,
    pub email: Option<String>,
    pub email_verified_at: Option<chrono::DateTime<Utc>>,
    pub time_zone: Option<String>,
    pub mail_opt_out: i32,
}

pub async fn settings(db: &Db, user_id: i64) -> Result<Option<SettingsRow>, sqlx::Error> {
    const SQL: &str = "SELECT username, email, email_verified_at, time_zone, mail_opt_out FROM user WHERE user_id = ? AND deleted_at IS NULL";
    with_pool!(db, |pool| sqlx::query_as(SQL).bind(user_id).fetch_optional(pool).await)
}

/// The lower-case key addresses are looked up by.
pub fn email_key(email: &str) -> String {
    email.to_ascii_lowercase()
}

/// Live accounts with this verified address (a few at most: addresses are not unique).
pub async fn verified_owners(db: &Db, email: &str) -> Result<Vec<i64>, sqlx::Error> {
    const SQL: &str = "SELECT user_id FROM user WHERE email_key = ? AND email_verified_at IS NOT NULL AND deleted_at IS NULL LIMIT 10";
    with_pool!(db, |pool| sqlx::query_scalar(SQL).bind(email_key(email)).fetch_all(pool).await)
}

/// Confirms `email` for `user_id` if it is still their address.
pub async fn mark_verified(db: &Db, user_id: i64, email: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE user SET email_verified_at = ? WHERE user_id = ? AND email_key = ? AND deleted_at IS NULL";
    let done = with_pool!(db, |pool| sqlx::query(SQL).bind(Utc::now()).bind(user_id).bind(email_key(email)).execute(pool).await.map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Replaces the password hash if it is still `old` (a reset link works once). Returns whether it did.
pub async fn replace_password(db: &Db, user_id: i64, old: &str, new: &StoredPasswordHash) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE user SET password_hash = ? WHERE user_id = ? AND password_hash = ? AND deleted_at IS NULL";
    let done = with_pool!(db, |pool| sqlx::query(SQL).bind(new.as_db()).bind(user_id).bind(old).execute(pool).await.map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Records that session `session_id` belongs to `user_id` if the account's password is still
/// `password_hash` (and it is not deleted), and forgets the user's sessions that no longer
/// exist. Returns whether it recorded it.
pub async fn index_session(db: &Db, user_id: i64, session_id: &str, password_hash: &str) -> Result<bool, sqlx::Error> {
    let prune = format!(
        "DELETE FROM user_session WHERE user_id = ? AND session_id NOT IN (SELECT id FROM {})",
        crate::sessions::SESSION_TABLE
    );
    const INSERT: &str = "INSERT INTO user_session (session_id, user_id, created_at) \
         SELECT ?, user_id, ? FROM user WHERE user_id = ? AND password_hash = ? AND deleted_at IS NULL";
    with_pool!(db, |pool| {
        sqlx::query(&prune).bind(user_id).execute(pool).await?;
        let done = sqlx::query(INSERT).bind(session_id).bind(Utc::now()).bind(user_id).bind(password_hash).execute(pool).await?;
        Ok(done.rows_affected() == 1)
    })
}

/// The sessions of `user_id` but `keep` (some may have ended), and forgets them, in one
/// transaction (a session indexed meanwhile is either taken or stays indexed).
pub async fn take_sessions(db: &Db, user_id: i64, keep: Option<&str>) -> Result<Vec<String>, sqlx::Error> {
    let select = match db {
        Db::MySql(_) => "SELECT session_id FROM user_session WHERE user_id = ? FOR UPDATE",
        Db::Sqlite(_) => "SELECT session_id FROM user_session WHERE user_id = ?",
    };
    const DELETE: &str = "DELETE FROM user_session WHERE user_id = ? AND session_id = ?";
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let mut ids: Vec<String> = sqlx::query_scalar(select).bind(user_id).fetch_all(&mut *tx).await?;
        ids.retain(|id| Some(id.as_str()) != keep);
        for id in &ids {
            sqlx::query(DELETE).bind(user_id).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ids)
    })
}
