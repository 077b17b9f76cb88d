//! An account's settings: the e-mail address (verified through a signed link before any
//! notification goes there), the zone of the times in mails, and which kinds of mail to get.
//! Every mail is written to the outbox in the transaction that asks for it; none is sent here.

use app::accounts::{validate_email, AccountSettings, SettingsInput};
use app::error::{excerpt, AppError};
use chrono::{Duration, Utc};
use tower_sessions::Session;

use super::repo::{self, mail_choices, opt_out_of};
use super::{tokens, AccountService};
use crate::db::{with_pool, BeginWrite, Db};
use crate::error::Result;
use crate::outbox::{self, Mail};

/// Account mails of one kind written per user within [`ACCOUNT_MAIL_WINDOW`], at most: a
/// stranger cannot flood someone's inbox with resets or verifications.
pub(super) const ACCOUNT_MAILS_MAX: i64 = 3;
pub(super) const ACCOUNT_MAIL_WINDOW: Duration = Duration::hours(1);

/// An address mail can be sent to: the rules the pages show, and what SMTP accepts.
pub(super) fn check_address(email: &str) -> Result<(), AppError> {
    validate_email(email)?;
    match email.parse::<lettre::Address>() {
        Ok(_) => Ok(()),
        Err(_) => Err(AppError::invalid("email", format!("{} is not an address mail can be sent to.", excerpt(email)))),
    }
}

impl AccountService {
    pub async fn settings(&self, session: &Session) -> Result<AccountSettings> {
        let user_id = self.signed_in(session).await?;
        self.settings_of(user_id).await
    }

    async fn settings_of(&self, user_id: i64) -> Result<AccountSettings> {
        let row = repo::settings(&self.db, user_id).await?.ok_or(AppError::NotLoggedIn)?;
        Ok(AccountSettings {
            username: row.username,
            email_verified: row.email.is_some() && row.email_verified_at.is_some(),
            email: row.email,
            time_zone: row.time_zone,
            mail: mail_choices(row.mail_opt_out),
            email_enabled: self.email_enabled,
        })
    }

    /// Applies what `input` holds, in one transaction; a new address gets a verification mail.
    pub async fn save_settings(&self, session: &Session, input: SettingsInput) -> Result<AccountSettings> {
        let user_id = self.signed_in(session).await?;
        let email = input.email.map(|email| email.trim().to_owned());
        if let Some(email) = email.as_deref().filter(|email| !email.is_empty()) {
            check_address(email)?;
        }
        let time_zone = input.time_zone.map(|zone| zone.trim().to_owned());
        if let Some(zone) = time_zone.as_deref().filter(|zone| !zone.is_empty()) {
            if zone.parse::<chrono_tz::Tz>().is_err() {
                return Err(AppError::invalid("time_zone", format!("Unknown time zone {}; use a name such as Europe/Berlin.", excerpt(zone))).into());
            }
        }
        let current = repo::settings(&self.db, user_id).await?.ok_or(AppError::NotLoggedIn)?;
        let now = Utc::now();
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            match email.as_deref() {
                None => {}
                Some("") => {
                    const REMOVE: &str = "UPDATE user SET email = NULL, email_key = NULL, email_verified_at = NULL WHERE user_id = ?";
                    sqlx::query(REMOVE).bind(user_id).execute(&mut *tx).await?;
                }
                Some(email) if current.email.as_deref().is_some_and(|old| repo::email_key(old) == repo::email_key(email)) => {
                    // The same address (perhaps in another case): kept, verified or not.
                    const RECASE: &str = "UPDATE user SET email = ? WHERE user_id = ?";
                    sqlx::query(RECASE).bind(email).bind(user_id).execute(&mut *tx).await?;
                }
                Some(email) => {
                    const CHANGE: &str = "UPDATE user SET email = ?, email_key = ?, email_verified_at = NULL WHERE user_id = ?";
                    sqlx::query(CHANGE).bind(email).bind(repo::email_key(email)).bind(user_id).execute(&mut *tx).await?;
                    // Capped like every account mail: changing the address back and forth
                    // cannot flood anyone's inbox.
                    write_account_mail_in(&mut tx, user_id, Mail::VerifyEmail, now).await?;
                }
            }
            if let Some(zone) = &time_zone {
                const ZONE: &str = "UPDATE user SET time_zone = ? WHERE user_id = ?";
                sqlx::query(ZONE).bind(Some(zone.as_str()).filter(|zone| !zone.is_empty())).bind(user_id).execute(&mut *tx).await?;
            }
            if let Some(choices) = &input.mail {
                const CHOICES: &str = "UPDATE user SET mail_opt_out = ? WHERE user_id = ?";
                sqlx::query(CHOICES).bind(opt_out_of(choices)).bind(user_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        })?;
        self.settings_of(user_id).await
    }

    /// Mails the verification link again (a few times an hour at most; more are dropped).
    pub async fn resend_verification(&self, session: &Session) -> Result<()> {
        let user_id = self.signed_in(session).await?;
        let settings = repo::settings(&self.db, user_id).await?.ok_or(AppError::NotLoggedIn)?;
        if settings.email.is_none() {
            return Err(AppError::invalid("email", "Add an e-mail address first.").into());
        }
        if settings.email_verified_at.is_some() {
            return Ok(());
        }
        write_account_mail(&self.db, user_id, Mail::VerifyEmail).await
    }

    /// Confirms the address a verification link was sent to, if it is still the account's.
    pub async fn verify_email(&self, token: &str) -> Result<()> {
        let signed = tokens::parse(token).ok_or(AppError::BadLink)?;
        let profile = repo::mail_profile(&self.db, signed.user_id).await?.ok_or(AppError::BadLink)?;
        let email = profile.email.as_deref().ok_or(AppError::BadLink)?;
        if profile.deleted() || !self.tokens.verifies(&signed, email, Utc::now()) {
            return Err(AppError::BadLink.into());
        }
        if !repo::mark_verified(&self.db, signed.user_id, email).await? {
            return Err(AppError::BadLink.into());
        }
        tracing::info!(user_id = signed.user_id, "e-mail address verified");
        Ok(())
    }
}

/// Writes an account mail for `user_id` unless [`ACCOUNT_MAILS_MAX`] of its kind were written
/// within [`ACCOUNT_MAIL_WINDOW`]. Counted and written in one transaction under the user row's
/// lock, so requests at once cannot all pass the count.
pub(super) async fn write_account_mail(db: &Db, user_id: i64, mail: Mail) -> Result<()> {
    let now = Utc::now();
    let written = with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let written = write_account_mail_in(&mut tx, user_id, mail, now).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(written)
    })?;
    if !written {
        tracing::info!(user_id, kind = mail.as_str(), "account mail dropped: sent often enough lately");
    }
    Ok(())
}

/// [`write_account_mail`] within `tx`; returns whether it wrote one.
async fn write_account_mail_in<DB>(tx: &mut sqlx::Transaction<'_, DB>, user_id: i64, mail: Mail, now: chrono::DateTime<Utc>) -> Result<bool, sqlx::Error>
where
    DB: sqlx::Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    Option<i64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    chrono::DateTime<Utc>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
{
    // The user row's lock (on SQLite the write transaction holds the database's).
    const LOCK: &str = "UPDATE user SET mail_opt_out = mail_opt_out WHERE user_id = ?";
    const RECENT: &str = "SELECT COUNT(*) FROM notification WHERE user_id = ? AND kind = ? AND created_at >= ?";
    sqlx::query(LOCK).bind(user_id).execute(&mut **tx).await?;
    let (recent,): (i64,) =
        sqlx::query_as(RECENT).bind(user_id).bind(mail.as_str().to_owned()).bind(now - ACCOUNT_MAIL_WINDOW).fetch_one(&mut **tx).await?;
    if recent >= ACCOUNT_MAILS_MAX {
        return Ok(false);
    }
    outbox::to_user(tx, mail, user_id, None, now).await?;
    Ok(true)
}
