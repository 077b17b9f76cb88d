//! Telling people. A notification is a row of `notification`, written in the transaction of
//! the change that causes it ([`crate::outbox`], which the events and accounts code writes
//! through and which depends on neither): the in-app list reads these rows, and a sender in
//! every server process ([`sender`]) claims the due ones, mails them ([`compose`]) to verified
//! addresses over SMTP, and settles them. Nothing a request does waits for SMTP.
//!
//! Kinds of mail: the four notifications ([`NotificationKind`]), which a user can opt out of
//! per kind (by mail; the list keeps them), and two account mails (address verification,
//! password reset), which are never in the list and cannot be opted out of.

pub mod compose;
mod reminders;
pub mod sender;
pub mod unsubscribe;

use std::sync::Arc;

use app::error::AppError;
use app::notifications::{NotificationKind, NotificationList, NotificationView, LIST_MAX};
use app::ports::NotificationsPort;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tower_sessions::Session;

use crate::accounts::AccountService;
use crate::db::{with_pool, Db};
use crate::error::Result;

/// The in-app list, for the pages (through [`NotificationsPort`]) and the REST API.
pub struct Notifications {
    db: Db,
    accounts: Arc<AccountService>,
    unsubscribe: unsubscribe::Unsubscribe,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    notification_id: i64,
    kind: String,
    code: String,
    name: String,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

/// The kinds the list shows, as an SQL list.
const LISTED: &str = "('outcome', 'reminder', 'everyone_answered', 'cancelled')";

impl Notifications {
    pub async fn new(db: Db, accounts: Arc<AccountService>) -> Result<Self> {
        let unsubscribe = unsubscribe::Unsubscribe::load(&db).await?;
        Ok(Self { db, accounts, unsubscribe })
    }

    /// Turns off the kind of mail an unsubscribe link names, for its recipient.
    pub async fn unsubscribe(&self, token: &str) -> Result<NotificationKind> {
        self.unsubscribe.apply(&self.db, token).await
    }

    /// The newest [`LIST_MAX`] notifications of `user_id` and how many are unread.
    pub async fn list(&self, user_id: i64) -> Result<NotificationList> {
        let sql = format!(
            "SELECT n.notification_id, n.kind, CAST(e.code AS CHAR) AS code, e.name, n.created_at, n.read_at \
             FROM notification n JOIN event e ON e.event_id = n.event_id \
             WHERE n.user_id = ? AND n.kind IN {LISTED} ORDER BY n.notification_id DESC LIMIT ?"
        );
        let rows: Vec<ListRow> = with_pool!(&self.db, |pool| sqlx::query_as(&sql).bind(user_id).bind(LIST_MAX).fetch_all(pool).await)?;
        let items = rows
            .into_iter()
            .filter_map(|row| {
                Some(NotificationView {
                    id: row.notification_id,
                    kind: NotificationKind::parse(&row.kind)?,
                    event_code: row.code,
                    event_name: row.name,
                    created_at: row.created_at,
                    read: row.read_at.is_some(),
                })
            })
            .collect();
        Ok(NotificationList { unread: self.unread(user_id).await?, items })
    }

    pub async fn unread(&self, user_id: i64) -> Result<u32> {
        let sql = format!("SELECT COUNT(*) FROM notification WHERE user_id = ? AND read_at IS NULL AND kind IN {LISTED}");
        let count: i64 = with_pool!(&self.db, |pool| sqlx::query_scalar(&sql).bind(user_id).fetch_one(pool).await)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Marks every notification of `user_id` up to id `up_to` read (what the list showed).
    pub async fn mark_read(&self, user_id: i64, up_to: i64) -> Result<()> {
        const SQL: &str = "UPDATE notification SET read_at = ? WHERE user_id = ? AND notification_id <= ? AND read_at IS NULL";
        with_pool!(&self.db, |pool| sqlx::query(SQL).bind(Utc::now()).bind(user_id).bind(up_to).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    async fn user(&self, session: &Session) -> Result<i64> {
        Ok(self.accounts.current_user_id(session).await?.ok_or(AppError::NotLoggedIn)?)
    }
}

#[async_trait]
impl NotificationsPort for Notifications {
    async fn list(&self, session: &Session) -> Result<NotificationList, AppError> {
        Ok(Notifications::list(self, self.user(session).await?).await?)
    }

    async fn unread(&self, session: &Session) -> Result<u32, AppError> {
        match self.accounts.current_user_id(session).await? {
            Some(user_id) => Ok(Notifications::unread(self, user_id).await?),
            None => Ok(0),
        }
    }

    async fn mark_read(&self, session: &Session, up_to: i64) -> Result<(), AppError> {
        Ok(Notifications::mark_read(self, self.user(session).await?, up_to).await?)
    }

    async fn unsubscribe(&self, token: &str) -> Result<NotificationKind, AppError> {
        Ok(Notifications::unsubscribe(self, token).await?)
    }
}
