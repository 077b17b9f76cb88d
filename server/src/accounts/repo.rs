//! The SQL behind accounts. Each function is one statement in the dialect-common subset.

use chrono::Utc;

use crate::accounts::password::StoredPasswordHash;
use crate::db::{with_pool, Db};

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
