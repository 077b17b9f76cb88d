//! Getting into an account and out of it for good: a password reset by mail (the same answer
//! whether or not the address belongs to anyone), a password change, and deleting the account.
//! Each ends the account's other sessions (everywhere: through the session store, which tells
//! every server process), since whoever knew the old password may hold one; before the change
//! is written, so a crash in between leaves people logged out, never a changed account with
//! its old sessions alive.
//!
//! Deleting an account keeps its row, emptied, so the events it took part in stay whole for the
//! others: its open events are cancelled (their participants are told), it leaves the open
//! events it joined (its answers withdrawn, as a leave does), and finished events keep its
//! answers under the name "(deleted)". Its address, zone, notifications and sessions go.

use std::net::IpAddr;
use std::sync::Arc;

use app::accounts::{validate_email, validate_password, UserView, PASSWORD_MAX};
use app::error::AppError;
use app::notifications::NotificationKind;
use chrono::Utc;
use tower_sessions::Session;

use super::repo;
use super::settings::write_account_mail;
use super::throttle::ClientKey;
use super::{retry_after, tokens, AccountService};
use crate::db::{lock_event_for_change, with_pool, BeginWrite};
use crate::events::tell_organizer_if_everyone_answered;
use crate::error::Result;
use crate::outbox::{self, Audience, Mail};

/// The name a deleted account shows under.
pub const DELETED_NAME: &str = "(deleted)";

impl AccountService {
    /// Writes a reset mail to each account with this verified address. Says nothing about
    /// whether there is one, not even by its time: the lookup and the writes run after the
    /// answer, on a task of their own (a bounded number at once: a flood of requests waits for
    /// a free one instead of piling up tasks).
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        validate_email(email)?;
        let permit = Arc::clone(&self.reset_lookups).acquire_owned().await.map_err(|_| crate::error::Error::Busy { retry_after_secs: 1 })?;
        let (db, email) = (self.db.clone(), email.to_owned());
        tokio::spawn(async move {
            let _permit = permit;
            let written = async {
                for user_id in repo::verified_owners(&db, &email).await? {
                    write_account_mail(&db, user_id, Mail::PasswordReset).await?;
                }
                Ok::<_, crate::error::Error>(())
            };
            if let Err(error) = written.await {
                tracing::error!(%error, "cannot write a password reset mail");
            }
        });
        Ok(())
    }

    /// Sets a new password with a reset link (once: the link is bound to the old hash), ends
    /// every session of the account, and signs it in on `session`.
    pub async fn reset_password(&self, session: &Session, token: &str, password: String) -> Result<UserView> {
        validate_password(&password)?;
        let signed = tokens::parse(token).ok_or(AppError::BadLink)?;
        let profile = repo::mail_profile(&self.db, signed.user_id).await?.ok_or(AppError::BadLink)?;
        if profile.deleted() || !self.tokens.resets(&signed, &profile.password_hash, Utc::now()) {
            return Err(AppError::BadLink.into());
        }
        let hash = self.hashing.hash(password).await?;
        self.end_sessions(profile.user_id, None).await?;
        if !repo::replace_password(&self.db, profile.user_id, &profile.password_hash, &hash).await? {
            return Err(AppError::BadLink.into());
        }
        // Again: a sign-in with the old password may have slipped in between.
        self.end_sessions(profile.user_id, None).await?;
        tracing::info!(user_id = profile.user_id, "password reset");
        Self::bind_session(&self.db, session, profile.user_id, hash.as_db()).await?;
        Ok(UserView { username: profile.username })
    }

    /// Changes the password after checking the current one (throttled like a log-in) and ends
    /// the account's other sessions.
    pub async fn change_password(&self, session: &Session, client: IpAddr, current: String, new: String) -> Result<()> {
        let user_id = self.signed_in(session).await?;
        validate_password(&new).map_err(|_| AppError::invalid("new_password", "The new password must be 8 to 128 characters long."))?;
        let old = self.check_password(user_id, client, current, "current_password").await?;
        let hash = self.hashing.hash(new).await?;
        let this = session.id().map(|id| id.to_string());
        self.end_sessions(user_id, this.as_deref()).await?;
        if !repo::replace_password(&self.db, user_id, old.password_hash.as_db(), &hash).await? {
            // Changed meanwhile (another session, a reset): this one is no longer the owner's word.
            return Err(AppError::invalid("current_password", "Your password was changed meanwhile. Log in again.").into());
        }
        // Again: a sign-in with the old password may have slipped in between.
        self.end_sessions(user_id, this.as_deref()).await?;
        tracing::info!(user_id, "password changed");
        Ok(())
    }

    /// Deletes the account after checking the password (throttled like a log-in).
    pub async fn delete_account(&self, session: &Session, client: IpAddr, password: String) -> Result<()> {
        let user_id = self.signed_in(session).await?;
        self.check_password(user_id, client, password, "password").await?;
        self.end_sessions(user_id, None).await?;
        let now = Utc::now();
        // The events it may have to cancel or leave, locked in one key order (as every batch
        // locks events) before their state is read: under the locks the reads are current.
        const CANDIDATES: &str = "SELECT e.event_id FROM event e LEFT JOIN participant p ON p.event_id = e.event_id AND p.user_id = ? \
             WHERE (e.organizer_id = ? OR p.left_at IS NULL AND p.participant_id IS NOT NULL) \
             AND e.cancelled_at IS NULL AND e.outcome_stored_at IS NULL";
        const CANCEL: &str = "UPDATE event SET cancelled_at = ?, reminder_due_at = NULL \
             WHERE event_id = ? AND organizer_id = ? AND cancelled_at IS NULL AND outcome_stored_at IS NULL";
        const RELEASE: &str = "UPDATE answer SET needs_dispatch = FALSE WHERE event_id = ?";
        const LEAVE: &str = "UPDATE participant SET left_at = ? WHERE event_id = ? AND user_id = ? AND left_at IS NULL \
             AND event_id IN (SELECT event_id FROM event WHERE event_id = ? AND organizer_id <> ? AND deadline > ? \
             AND cancelled_at IS NULL AND outcome_stored_at IS NULL)";
        const WITHDRAW: &str = "UPDATE answer SET version = version + 1, withdrawn_at = ?, accepted_at = ?, needs_dispatch = TRUE \
             WHERE participant_id = (SELECT participant_id FROM participant WHERE event_id = ? AND user_id = ?) AND withdrawn_at IS NULL";
        const FORGET: &str = "DELETE FROM notification WHERE user_id = ?";
        const EMPTY: &str = "UPDATE user SET username = ?, username_key = ?, password_hash = '!', email = NULL, email_key = NULL, \
             email_verified_at = NULL, time_zone = NULL, mail_opt_out = 0, deleted_at = ? WHERE user_id = ?";
        let mut candidates: Vec<i64> =
            with_pool!(&self.db, |pool| sqlx::query_scalar(CANDIDATES).bind(user_id).bind(user_id).fetch_all(pool).await)?;
        let cancelled_mail = Mail::Notice(NotificationKind::Cancelled);
        let mut attempts = 0;
        let (cancelled, left) = loop {
            attempts += 1;
            candidates.sort_unstable();
            candidates.dedup();
            let candidates_now = &mut candidates;
            let done = with_pool!(&self.db, |pool| async {
                let mut tx = pool.begin_write().await?;
                let candidates = &mut *candidates_now;
                for &event_id in candidates.iter() {
                    lock_event_for_change(&mut tx, event_id).await?;
                }
                // A join or a create that committed since the first read: lock those too.
                let now_candidates: Vec<i64> = sqlx::query_scalar(CANDIDATES).bind(user_id).bind(user_id).fetch_all(&mut *tx).await?;
                let missed: Vec<i64> = now_candidates.into_iter().filter(|id| candidates.binary_search(id).is_err()).collect();
                if !missed.is_empty() && attempts < 5 {
                    tx.rollback().await?;
                    candidates.extend(missed);
                    return Ok::<_, sqlx::Error>(None);
                }
                let (mut cancelled, mut left) = (0, 0);
                for &event_id in candidates.iter() {
                    if sqlx::query(CANCEL).bind(now).bind(event_id).bind(user_id).execute(&mut *tx).await?.rows_affected() == 1 {
                        sqlx::query(RELEASE).bind(event_id).execute(&mut *tx).await?;
                        outbox::to_participants(&mut tx, cancelled_mail, Audience::AllButOrganizer, &[event_id], now).await?;
                        cancelled += 1;
                        continue;
                    }
                    let leave = sqlx::query(LEAVE).bind(now).bind(event_id).bind(user_id).bind(event_id).bind(user_id).bind(now);
                    if leave.execute(&mut *tx).await?.rows_affected() == 1 {
                        sqlx::query(WITHDRAW).bind(now).bind(now).bind(event_id).bind(user_id).execute(&mut *tx).await?;
                        tell_organizer_if_everyone_answered(&mut tx, event_id, now).await?;
                        left += 1;
                    }
                }
                sqlx::query(FORGET).bind(user_id).execute(&mut *tx).await?;
                sqlx::query(EMPTY).bind(DELETED_NAME).bind(format!("#deleted-{user_id}")).bind(now).bind(user_id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(Some((cancelled, left)))
            }
            .await)?;
            if let Some(done) = done {
                break done;
            }
        };
        // Again: a sign-in may have slipped in before the password was emptied.
        self.end_sessions(user_id, None).await?;
        tracing::info!(user_id, cancelled, left, "account deleted");
        // This request's session too, now and not re-saved at its end.
        session.flush().await?;
        Ok(())
    }

    /// The account's record if `password` is its password, counted like a log-in attempt.
    async fn check_password(&self, user_id: i64, client: IpAddr, password: String, field: &str) -> Result<repo::UserRecord> {
        let user = repo::find_by_id(&self.db, user_id).await?.ok_or(AppError::NotLoggedIn)?;
        let account = repo::username_key(&user.username);
        let attempt = self
            .throttle
            .begin_log_in(Some(&account), ClientKey::from(client))
            .map_err(|wait| AppError::TooManyAttempts { retry_after_secs: retry_after(wait) })?;
        let plausible = password.chars().count() <= PASSWORD_MAX;
        let matches = match plausible {
            true => match self.hashing.verify(password, user.password_hash.clone()).await {
                Ok(matches) => matches,
                Err(error) => {
                    attempt.not_judged();
                    return Err(error);
                }
            },
            false => false,
        };
        if !matches {
            tracing::info!(user_id, "wrong password given to change the account");
            return Err(AppError::invalid(field, "That is not your password.").into());
        }
        attempt.succeeded();
        Ok(user)
    }

    /// Ends every session of `user_id` but `keep`, in every server process.
    async fn end_sessions(&self, user_id: i64, keep: Option<&str>) -> Result<()> {
        use tower_sessions::SessionStore;
        for id in repo::take_sessions(&self.db, user_id, keep).await? {
            if let Ok(id) = id.parse() {
                self.sessions.delete(&id).await.map_err(|e| crate::error::Error::Session(tower_sessions::session::Error::Store(e)))?;
            }
        }
        Ok(())
    }
}
