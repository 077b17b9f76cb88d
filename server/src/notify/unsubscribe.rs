//! One-click unsubscribe (RFC 8058). Every notification mail carries a link that turns off that
//! kind of mail for its recipient: a signed `{user}.{kind}.{tag}` token, with no expiry (a link
//! in an old mail must still work) and no other power. A mail client POSTs it
//! (`List-Unsubscribe-Post`); a person following the link gets a page with a button, so link
//! scanners that fetch every URL of a mail unsubscribe nobody.

use app::error::AppError;
use app::notifications::NotificationKind;

use crate::accounts::repo as accounts_repo;
use crate::db::Db;
use crate::error::Result;
use crate::site_key::SiteKey;

pub const PURPOSE: &str = "unsubscribe";

/// The longest token accepted (a user id, a kind and a 43-character tag fit many times over).
const TOKEN_MAX: usize = 200;

#[derive(Debug)]
pub struct Unsubscribe {
    key: SiteKey,
}

impl Unsubscribe {
    pub async fn load(db: &Db) -> Result<Self> {
        Ok(Self { key: SiteKey::load(db, PURPOSE).await? })
    }

    /// The token that turns off `kind` for `user_id`.
    pub fn token(&self, user_id: i64, kind: NotificationKind) -> String {
        let user = user_id.to_string();
        format!("{user}.{}.{}", kind.as_str(), self.key.sign(&[user.as_bytes(), kind.as_str().as_bytes()]))
    }

    /// The user and kind a token names, if it is one this site signed.
    pub fn check(&self, token: &str) -> Option<(i64, NotificationKind)> {
        if token.len() > TOKEN_MAX {
            return None;
        }
        let mut parts = token.split('.');
        let (user, kind, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !self.key.verify(&[user.as_bytes(), kind.as_bytes()], tag) {
            return None;
        }
        Some((user.parse().ok()?, NotificationKind::parse(kind)?))
    }

    /// Turns off the mail the token names (again is fine).
    pub async fn apply(&self, db: &Db, token: &str) -> Result<NotificationKind> {
        let (user_id, kind) = self.check(token).ok_or(AppError::BadLink)?;
        accounts_repo::opt_out(db, user_id, kind).await?;
        tracing::info!(user_id, kind = kind.as_str(), "unsubscribed");
        Ok(kind)
    }
}
