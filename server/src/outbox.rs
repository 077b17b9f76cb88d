//! The `notification` table as an outbox (the rest of telling people is [`crate::notify`]). Rows are written by the statements here, inside the
//! transaction of the change that causes them (an outcome stored, a cancellation, the answer
//! that completes an event, a reminder falling due), so a notification exists if and only if
//! its cause committed. A sender then claims due rows, sends, and settles them.
//!
//! A claim moves `mail_due_at` to the end of a lease and counts the attempt, in one short
//! transaction: on MySQL the rows are picked `FOR UPDATE SKIP LOCKED`, so several server
//! processes take disjoint rows; on SQLite the claim holds the database's single write lock.
//! A process killed after its claim leaves the row due again when the lease ends, and the next
//! claim (by any process) sends it.

use chrono::{DateTime, Utc};

use app::notifications::NotificationKind;

use crate::db::{placeholders, with_pool, BeginWrite, Db};

/// What a row sends: one of the four notifications (in the in-app list too), or an account
/// mail (never listed, cannot be opted out of).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mail {
    Notice(NotificationKind),
    VerifyEmail,
    PasswordReset,
}

impl Mail {
    /// The `kind` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Notice(kind) => kind.as_str(),
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "verify_email" => Some(Self::VerifyEmail),
            "password_reset" => Some(Self::PasswordReset),
            other => NotificationKind::parse(other).map(Self::Notice),
        }
    }
}

/// Who among an event's current participants is told.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Audience {
    Everyone,
    /// Everyone but the organizer (who caused it).
    AllButOrganizer,
    /// Those without an answer (withdrawn answers count as none).
    NotAnswered,
}

impl Audience {
    fn filter(self) -> &'static str {
        match self {
            Self::Everyone => "",
            Self::AllButOrganizer => " AND p.user_id <> (SELECT e.organizer_id FROM event e WHERE e.event_id = p.event_id)",
            Self::NotAnswered => {
                " AND NOT EXISTS (SELECT 1 FROM answer a WHERE a.participant_id = p.participant_id AND a.withdrawn_at IS NULL)"
            }
        }
    }
}

const COLUMNS: &str = "INSERT INTO notification (user_id, event_id, kind, created_at, mail_state, mail_due_at)";

/// Notifies `audience` of each of `event_ids` (at most [`crate::db::MAX_IN_LIST`]), within `tx`.
pub(crate) async fn to_participants<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    mail: Mail,
    audience: Audience,
    event_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
{
    if event_ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "{COLUMNS} SELECT p.user_id, p.event_id, ?, ?, 'pending', ? FROM participant p \
         WHERE p.event_id IN ({}) AND p.left_at IS NULL{}",
        placeholders(event_ids.len()),
        audience.filter()
    );
    let mut query = sqlx::query(&sql).bind(mail.as_str().to_owned()).bind(now).bind(now);
    for event_id in event_ids {
        query = query.bind(*event_id);
    }
    query.execute(&mut **tx).await.map(|_| ())
}

/// Notifies one user (about `event_id`, if any), within `tx`.
pub(crate) async fn to_user<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    mail: Mail,
    user_id: i64,
    event_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
{
    let sql = format!("{COLUMNS} VALUES (?, ?, ?, ?, 'pending', ?)");
    let query = sqlx::query(&sql).bind(user_id).bind(event_id).bind(mail.as_str().to_owned()).bind(now).bind(now);
    query.execute(&mut **tx).await.map(|_| ())
}

/// A claimed row: what to send, and which attempt this is.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Claimed {
    pub notification_id: i64,
    pub user_id: i64,
    pub event_id: Option<i64>,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    /// Counting this one.
    pub mail_attempts: i32,
}

/// Claims up to `limit` rows due by `now` until `lease_end`.
pub(crate) async fn claim(db: &Db, now: DateTime<Utc>, lease_end: DateTime<Utc>, limit: u32) -> Result<Vec<Claimed>, sqlx::Error> {
    let lock = match db {
        Db::MySql(_) => " FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let select = format!(
        "SELECT notification_id, user_id, event_id, kind, created_at, mail_attempts FROM notification \
         WHERE mail_due_at <= ? ORDER BY mail_due_at LIMIT ?{lock}"
    );
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let mut rows: Vec<Claimed> = sqlx::query_as(&select).bind(now).bind(limit).fetch_all(&mut *tx).await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(rows);
        }
        let update = format!(
            "UPDATE notification SET mail_due_at = ?, mail_attempts = mail_attempts + 1 WHERE notification_id IN ({})",
            placeholders(rows.len())
        );
        let mut query = sqlx::query(&update).bind(lease_end);
        for row in &rows {
            query = query.bind(row.notification_id);
        }
        query.execute(&mut *tx).await?;
        tx.commit().await?;
        for row in &mut rows {
            row.mail_attempts += 1;
        }
        Ok(rows)
    })
}

/// How a mail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    Sent,
    /// Not to be sent: no verified address, opted out, e-mail off, the account deleted.
    Skipped,
    /// Refused for good by the SMTP server, or still failing when the retry time ran out.
    Failed,
}

impl Settled {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
        }
    }
}

/// Records how the row's mail ended, unless another claim took the row since (`attempt` is
/// the claim's count); it is never claimed again. Returns whether it recorded it.
pub(crate) async fn settle(db: &Db, notification_id: i64, attempt: i32, how: Settled, error: Option<&str>) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE notification SET mail_state = ?, mail_due_at = NULL, mail_settled_at = ?, mail_error = ? \
         WHERE notification_id = ? AND mail_attempts = ? AND mail_due_at IS NOT NULL";
    let error = error.map(|error| error.chars().take(500).collect::<String>());
    let done = with_pool!(db, |pool| sqlx::query(SQL)
        .bind(how.as_str())
        .bind(Utc::now())
        .bind(error)
        .bind(notification_id)
        .bind(attempt)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Makes the row due again at `at`, unless another claim took it since (`attempt` is the
/// claim's count).
pub(crate) async fn retry_at(db: &Db, notification_id: i64, attempt: i32, at: DateTime<Utc>, error: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE notification SET mail_due_at = ?, mail_error = ? \
         WHERE notification_id = ? AND mail_attempts = ? AND mail_due_at IS NOT NULL";
    let error: String = error.chars().take(500).collect();
    with_pool!(db, |pool| sqlx::query(SQL).bind(at).bind(error).bind(notification_id).bind(attempt).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// A mail given up, for the operator.
#[derive(Debug, sqlx::FromRow)]
pub struct FailedMail {
    pub notification_id: i64,
    pub user_id: i64,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub mail_attempts: i32,
    pub mail_error: Option<String>,
}

/// Mails waiting to be sent or retried, claimed ones included (index `notification_mail_due`).
pub async fn pending(db: &Db) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT COUNT(*) FROM notification WHERE mail_due_at IS NOT NULL";
    with_pool!(db, |pool| sqlx::query_scalar(SQL).fetch_one(pool).await)
}

/// The newest `limit` mails settled as failed.
pub async fn failed(db: &Db, limit: u32) -> Result<Vec<FailedMail>, sqlx::Error> {
    const SQL: &str = "SELECT notification_id, user_id, kind, created_at, mail_attempts, mail_error FROM notification \
         WHERE mail_state = 'failed' ORDER BY notification_id DESC LIMIT ?";
    with_pool!(db, |pool| sqlx::query_as(SQL).bind(limit).fetch_all(pool).await)
}
