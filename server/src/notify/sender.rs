//! The mail sender every server process runs. Once a second it writes the reminders that fell
//! due ([`super::reminders`]), claims due rows of the outbox ([`crate::outbox::claim`]), and
//! sends them at once over SMTP (lettre), each attempt (reads, connection, TLS, every reply)
//! cut off at half the claim's lease by a timer of ours (lettre's own timeout covers only the
//! connect), so a claim never outlives its sender's work and a silent SMTP server stalls
//! nothing. Then each row is settled: sent; skipped (no
//! verified address, opted out, e-mail off, account deleted); retried with backoff after a
//! transient failure (4xx, connection refused, timeout); failed after a permanent refusal (5xx)
//! or when [`GIVE_UP_AFTER`] has passed, logged at ERROR (the admin's log).
//!
//! Exactly once, and what cannot be: a row is settled only after the SMTP server accepted the
//! mail (`250` after the data). A process killed before that leaves the row claimed; when the
//! lease ends another claim sends it. Killed after the SMTP server accepted the data but before
//! the row was marked sent (a window of one database write), the mail goes out twice, with the
//! same `Message-ID`. SMTP itself cannot rule that out: a connection lost after the final `.`
//! and before the `250` leaves the client not knowing whether the server took it.

use std::sync::Arc;
use std::time::Duration;

use app::notifications::NotificationKind;
use chrono::Utc;
use futures::future::join_all;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::compose::{Composer, Content, Recipient};
use super::reminders;
use crate::accounts::repo::{self as accounts_repo, MailProfile};
use crate::accounts::tokens::AccountTokens;
use crate::db::Db;
use crate::events::EventService;
use crate::outbox::{self, Claimed, Mail, Settled};
use crate::shutdown::Shutdown;

/// How often the outbox is read.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// The most rows one claim takes (sent concurrently).
const CLAIM_MAX: u32 = 16;
/// The first retry's wait; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(15 * 60);
/// Attempts after which a mail whose last attempt was cut off by the timer is given up.
const TIMEOUTS_MAX: i32 = 3;
/// A mail still failing this long after its notification was written is given up.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// What the sender needs; built once at start.
pub struct MailSettings {
    /// `None`: e-mail is off, every row is settled as skipped.
    pub transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    pub composer: Composer,
    pub tokens: Arc<AccountTokens>,
    pub lease: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("--smtp-url: {0}")]
    Url(lettre::transport::smtp::Error),
    #[error("--mail-from: {0}")]
    From(lettre::address::AddressError),
}

/// The SMTP transport `url` names, each exchange cut off at `timeout`.
pub fn transport(url: &str, timeout: Duration) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailConfigError> {
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(MailConfigError::Url)?;
    Ok(builder.timeout(Some(timeout)).build())
}

pub fn mailbox(from: &str) -> Result<Mailbox, MailConfigError> {
    from.parse().map_err(MailConfigError::From)
}

pub struct Sender {
    db: Db,
    events: Arc<EventService>,
    settings: MailSettings,
}

impl Sender {
    pub fn new(db: Db, events: Arc<EventService>, settings: MailSettings) -> Self {
        Self { db, events, settings }
    }

    /// Runs until the server stops; the mails claimed when it does are sent (or cut off by
    /// the grace period, and then left to the next claim after their lease).
    pub fn spawn(self, shutdown: &Shutdown) {
        let stopping = shutdown.clone();
        shutdown.spawn_finishing(async move {
            let mut tick = tokio::time::interval(POLL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = stopping.begun() => return,
                }
                if let Err(error) = reminders::write_due(&self.db, Utc::now()).await {
                    tracing::warn!(%error, "cannot write due reminders");
                }
                // Rounds until the outbox has nothing due, then wait for the next tick.
                while !stopping.is_begun() {
                    match self.round().await {
                        Ok(0) => break,
                        Ok(_) => continue,
                        Err(error) => {
                            tracing::warn!(%error, "cannot claim mail");
                            break;
                        }
                    }
                }
            }
        });
    }

    /// Claims and handles one batch; returns how many rows it claimed.
    async fn round(&self) -> Result<usize, sqlx::Error> {
        let now = Utc::now();
        let lease_end = now + chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::minutes(1));
        let claimed = outbox::claim(&self.db, now, lease_end, CLAIM_MAX).await?;
        let count = claimed.len();
        join_all(claimed.into_iter().map(|row| self.handle(row))).await;
        Ok(count)
    }

    async fn handle(&self, row: Claimed) {
        let id = row.notification_id;
        let outcome = match tokio::time::timeout(self.settings.lease / 2, self.attempt(&row)).await {
            Ok(outcome) => outcome,
            // Cut off, perhaps waiting for the answer to the data: the mail may have gone. A
            // few tries at most, so a server that always answers late gets a few copies, not
            // a day of them.
            Err(_) if row.mail_attempts >= TIMEOUTS_MAX => {
                tracing::error!(notification = id, attempts = row.mail_attempts, "mail given up: the SMTP server did not answer in time, again (it may have been delivered)");
                Attempt::Settled(Settled::Failed, Some(format!("no answer within {:?}, {} times", self.settings.lease / 2, row.mail_attempts)))
            }
            Err(_) => Attempt::Transient(format!("no answer within {:?}", self.settings.lease / 2)),
        };
        let settled = match outcome {
            Attempt::Settled(how, error) => outbox::settle(&self.db, id, row.mail_attempts, how, error.as_deref()).await.map(|recorded| {
                if !recorded {
                    tracing::warn!(notification = id, "a mail's claim ran out before it was settled; another claim has it");
                }
            }),
            Attempt::Transient(error) if Utc::now() - row.created_at > GIVE_UP_AFTER => {
                tracing::error!(notification = id, kind = %row.kind, attempts = row.mail_attempts, %error, "mail given up after retrying for a day");
                outbox::settle(&self.db, id, row.mail_attempts, Settled::Failed, Some(&error)).await.map(|_| ())
            }
            Attempt::Transient(error) => {
                let wait = retry_wait(row.mail_attempts);
                tracing::info!(notification = id, attempts = row.mail_attempts, retry_in = ?wait, %error, "mail not sent; will retry");
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(15));
                outbox::retry_at(&self.db, id, row.mail_attempts, at, &error).await
            }
        };
        if let Err(error) = settled {
            // The claim's lease ends and the row is tried again.
            tracing::warn!(notification = id, %error, "cannot record how a mail went");
        }
    }

    async fn attempt(&self, row: &Claimed) -> Attempt {
        let Some(mail) = Mail::parse(&row.kind) else {
            return Attempt::Settled(Settled::Failed, Some(format!("unknown kind {:?}", row.kind)));
        };
        let profile = match accounts_repo::mail_profile(&self.db, row.user_id).await {
            Ok(Some(profile)) => profile,
            Ok(None) => return Attempt::skipped("no such account"),
            Err(error) => return Attempt::Transient(error.to_string()),
        };
        let Some(address) = recipient_address(mail, &profile) else {
            return Attempt::skipped("no verified address, or opted out");
        };
        let Some(transport) = &self.settings.transport else { return Attempt::skipped("e-mail is off") };
        let now = Utc::now();
        let tokens = &self.settings.tokens;
        let composer = &self.settings.composer;
        let notice;
        let content = match mail {
            Mail::VerifyEmail => Content::VerifyEmail {
                link: composer.link(&format!("{}?token={}", app::routes::VERIFY_EMAIL, tokens.verify_token(profile.user_id, &address, now))),
            },
            Mail::PasswordReset => Content::PasswordReset {
                link: composer.link(&format!(
                    "{}?token={}",
                    app::routes::RESET_PASSWORD,
                    tokens.reset_token(profile.user_id, &profile.password_hash, now)
                )),
            },
            Mail::Notice(kind) => {
                let Some(event_id) = row.event_id else { return Attempt::skipped("no event") };
                notice = match self.events.notice(event_id).await {
                    Ok(Some(notice)) => notice,
                    Ok(None) => return Attempt::skipped("no such event"),
                    Err(error) => return Attempt::Transient(error.to_string()),
                };
                // Told late (retried, or a server was down): about an open event only while it is.
                let still_open = notice.outcome == app::events::OutcomeView::Pending && now < notice.deadline;
                if matches!(kind, NotificationKind::Reminder | NotificationKind::EveryoneAnswered) && !still_open {
                    return Attempt::skipped("the event is no longer open");
                }
                Content::Notice { kind, event: &notice }
            }
        };
        let recipient = Recipient { user_id: profile.user_id, username: profile.username.clone(), address, time_zone: profile.time_zone.clone() };
        let message = match composer.message(row.notification_id, &recipient, &content) {
            Ok(message) => message,
            Err(error) => return Attempt::Settled(Settled::Failed, Some(error.to_string())),
        };
        match transport.send(message).await {
            Ok(_) => {
                tracing::info!(notification = row.notification_id, kind = mail.as_str(), "mail sent");
                Attempt::Settled(Settled::Sent, None)
            }
            Err(error) if error.is_permanent() => {
                tracing::error!(notification = row.notification_id, kind = mail.as_str(), %error, "mail refused for good by the SMTP server");
                Attempt::Settled(Settled::Failed, Some(error.to_string()))
            }
            Err(error) => Attempt::Transient(error.to_string()),
        }
    }
}

enum Attempt {
    Settled(Settled, Option<String>),
    Transient(String),
}

impl Attempt {
    fn skipped(why: &str) -> Self {
        Self::Settled(Settled::Skipped, Some(why.to_owned()))
    }
}

/// Where `mail` may go for `profile`: account mails to the address they are about, notices to
/// a verified address whose owner did not opt out of the kind.
fn recipient_address(mail: Mail, profile: &MailProfile) -> Option<String> {
    if profile.deleted() {
        return None;
    }
    let email = profile.email.clone()?;
    match mail {
        Mail::VerifyEmail => (!profile.email_verified()).then_some(email),
        Mail::PasswordReset => profile.email_verified().then_some(email),
        Mail::Notice(kind) => (profile.email_verified() && profile.mail_opt_out & accounts_repo::opt_out_bit(kind) == 0).then_some(email),
    }
}

/// The wait after the `attempts`-th failure: 5 s, 10 s, 20 s, … up to 15 minutes.
fn retry_wait(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(16);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_cap() {
        assert_eq!(retry_wait(1), Duration::from_secs(5));
        assert_eq!(retry_wait(2), Duration::from_secs(10));
        assert_eq!(retry_wait(4), Duration::from_secs(40));
        assert_eq!(retry_wait(30), RETRY_MAX);
        assert_eq!(retry_wait(i32::MAX), RETRY_MAX);
    }
}
