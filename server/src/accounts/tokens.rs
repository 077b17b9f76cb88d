//! The signed links of account mails: `{user}.{expires}.{tag}`, the tag an HMAC (a site key per
//! purpose) over the user, the expiry and what the link must still find to work: the address
//! for a verification link (changing the address voids older links), the password hash for a
//! reset link (using it changes the hash, so a reset link works once, and any password change
//! voids it). Nothing is stored per link.

use chrono::{DateTime, Duration, Utc};

use crate::db::Db;
use crate::error::Result;
use crate::site_key::SiteKey;

/// How long a verification link works.
pub const VERIFY_FOR: Duration = Duration::hours(48);
/// How long a reset link works.
pub const RESET_FOR: Duration = Duration::hours(1);

/// The longest token read (two numbers and a 43-character tag).
const TOKEN_MAX: usize = 120;

pub struct AccountTokens {
    verify: SiteKey,
    reset: SiteKey,
}

/// A token's parts before its tag is checked against the account's current state.
pub struct Signed<'a> {
    pub user_id: i64,
    expires: i64,
    tag: &'a str,
}

impl AccountTokens {
    pub async fn load(db: &Db) -> Result<Self> {
        Ok(Self { verify: SiteKey::load(db, "verify-email").await?, reset: SiteKey::load(db, "password-reset").await? })
    }

    /// A link token confirming `email` for `user_id`.
    pub fn verify_token(&self, user_id: i64, email: &str, now: DateTime<Utc>) -> String {
        sign(&self.verify, user_id, (now + VERIFY_FOR).timestamp(), email.to_ascii_lowercase().as_bytes())
    }

    /// Whether `signed` confirms `email` and has not expired.
    pub fn verifies(&self, signed: &Signed<'_>, email: &str, now: DateTime<Utc>) -> bool {
        valid(&self.verify, signed, email.to_ascii_lowercase().as_bytes(), now)
    }

    /// A link token that sets a new password for `user_id` while the hash is `password_hash`.
    pub fn reset_token(&self, user_id: i64, password_hash: &str, now: DateTime<Utc>) -> String {
        sign(&self.reset, user_id, (now + RESET_FOR).timestamp(), password_hash.as_bytes())
    }

    pub fn resets(&self, signed: &Signed<'_>, password_hash: &str, now: DateTime<Utc>) -> bool {
        valid(&self.reset, signed, password_hash.as_bytes(), now)
    }
}

/// The parts of a token, if it has the shape of one.
pub fn parse(token: &str) -> Option<Signed<'_>> {
    if token.len() > TOKEN_MAX {
        return None;
    }
    let mut parts = token.split('.');
    let (user, expires, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Signed { user_id: user.parse().ok()?, expires: expires.parse().ok()?, tag })
}

fn sign(key: &SiteKey, user_id: i64, expires: i64, state: &[u8]) -> String {
    let (user, expiry) = (user_id.to_string(), expires.to_string());
    format!("{user}.{expiry}.{}", key.sign(&[user.as_bytes(), expiry.as_bytes(), state]))
}

fn valid(key: &SiteKey, signed: &Signed<'_>, state: &[u8], now: DateTime<Utc>) -> bool {
    let (user, expiry) = (signed.user_id.to_string(), signed.expires.to_string());
    now.timestamp() < signed.expires && key.verify(&[user.as_bytes(), expiry.as_bytes(), state], signed.tag)
}
