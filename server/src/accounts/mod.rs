//! Accounts: sign-up, log-in, log-out and the current user, over a server-side session; the
//! settings ([`settings`]); reset, change and deletion ([`recovery`]). [`AccountService`] holds
//! the rules; the REST handlers call it directly and the pages reach it through
//! [`AccountsPort`], so both speak with one voice.

pub mod password;
mod recovery;
pub mod repo;
mod settings;
pub mod throttle;
pub mod tokens;

pub use recovery::DELETED_NAME;

use std::net::IpAddr;

use std::sync::Arc;

use app::accounts::{validate_password, validate_username, AccountSettings, SettingsInput, UserView, PASSWORD_MAX};
use app::error::AppError;
use app::ports::AccountsPort;
use async_trait::async_trait;
use tower_sessions::Session;

use crate::db::Db;
use crate::error::{OnUniqueViolation, Result};
use crate::sessions::CachedSessionStore;
use tokens::AccountTokens;
use password::{HashingPool, StoredPasswordHash};
use throttle::{ClientKey, Throttle, ThrottleLimits};

/// Session key holding the signed-in user's id.
const SESSION_USER_ID: &str = "user_id";
/// Session key set once the session is in `user_session`. A session without it is from before
/// that table: nothing could end it, so it counts as signed out (its owner logs in once more).
const SESSION_INDEXED: &str = "indexed";

pub struct AccountService {
    db: Db,
    throttle: Throttle,
    hashing: HashingPool,
    /// Verified against when the username does not exist, so that an unknown user costs the
    /// same time as a wrong password and response times do not reveal who has an account.
    decoy_hash: StoredPasswordHash,
    /// Signs and checks the links of account mails.
    tokens: Arc<AccountTokens>,
    /// To end a user's sessions everywhere.
    sessions: CachedSessionStore,
    /// Whether mail is sent at all (an SMTP server is configured).
    email_enabled: bool,
    /// Reset requests looked up after their answer, at most this many at once (more wait).
    reset_lookups: Arc<tokio::sync::Semaphore>,
}

/// Reset requests looked up at once on tasks of their own ([`AccountService::request_password_reset`]).
const RESET_LOOKUPS: usize = 16;

/// What an [`AccountService`] works with besides the database.
pub struct AccountParts {
    pub limits: ThrottleLimits,
    pub hashing: HashingPool,
    pub tokens: Arc<AccountTokens>,
    pub sessions: CachedSessionStore,
    pub email_enabled: bool,
}

fn retry_after(wait: std::time::Duration) -> u64 {
    wait.as_secs().max(1)
}

impl AccountService {
    pub async fn new(db: Db, parts: AccountParts) -> Result<Self> {
        let AccountParts { limits, hashing, tokens, sessions, email_enabled } = parts;
        let decoy_hash = hashing.hash("decoy password never matched".to_owned()).await?;
        let reset_lookups = Arc::new(tokio::sync::Semaphore::new(RESET_LOOKUPS));
        Ok(Self { db, throttle: Throttle::new(limits), hashing, decoy_hash, tokens, sessions, email_enabled, reset_lookups })
    }

    /// The signed-in user's id, or `NotLoggedIn`.
    async fn signed_in(&self, session: &Session) -> Result<i64> {
        Ok(self.current_user_id(session).await?.ok_or(AppError::NotLoggedIn)?)
    }

    /// Everything that can refuse a sign-up cheaply (the rules, the client's allowance, a
    /// taken name) is checked before the password is hashed.
    pub async fn sign_up(&self, session: &Session, client: IpAddr, username: String, password: String, email: Option<String>) -> Result<UserView> {
        validate_username(&username)?;
        validate_password(&password)?;
        let email = email.map(|email| email.trim().to_owned()).filter(|email| !email.is_empty());
        if let Some(email) = &email {
            settings::check_address(email)?;
        }
        let client = ClientKey::from(client);
        let counted = self
            .throttle
            .begin_sign_up(client)
            .map_err(|wait| AppError::TooManySignUps { retry_after_secs: retry_after(wait) })?;
        if repo::find_by_username(&self.db, &username).await?.is_some() {
            return Err(AppError::UsernameTaken.into());
        }
        let hash = match self.hashing.hash(password).await {
            Ok(hash) => hash,
            Err(error) => {
                // Refused for the server's sake: the client's retry must not use up its allowance.
                self.throttle.sign_up_not_served(client, counted);
                return Err(error);
            }
        };
        // Taken meanwhile by a concurrent sign-up: the unique key decides.
        let user_id = repo::insert_user(&self.db, &username, &hash)
            .await
            .on_unique_violation(AppError::UsernameTaken)?;
        tracing::info!(user_id, "account created");
        Self::bind_session(&self.db, session, user_id, hash.as_db()).await?;
        if let Some(email) = email {
            // Set like any later change of the address: it is mailed a verification link. The
            // account exists by now: a failure here is logged, and the address can be set again.
            let input = SettingsInput { email: Some(email), ..SettingsInput::default() };
            if let Err(error) = self.save_settings(session, input).await {
                tracing::error!(user_id, %error, "cannot set the address given at sign-up");
            }
        }
        Ok(UserView { username })
    }

    /// Password hashes waiting for a hashing thread (for the metrics).
    pub fn hashing_queue(&self) -> usize {
        self.hashing.waiting()
    }

    pub async fn log_in(&self, session: &Session, client: IpAddr, username: String, password: String) -> Result<UserView> {
        // A name that breaks the rules cannot belong to an account: only the client counts it,
        // so over-long or odd input is never stored as a throttle key.
        let account = validate_username(&username).is_ok().then(|| repo::username_key(&username));
        let client = ClientKey::from(client);
        let attempt = self
            .throttle
            .begin_log_in(account.as_deref(), client)
            .map_err(|wait| AppError::TooManyAttempts { retry_after_secs: retry_after(wait) })?;

        let plausible = account.is_some() && password.chars().count() <= PASSWORD_MAX;
        let judged = async {
            let user = if plausible { repo::find_by_username(&self.db, &username).await? } else { None };
            let stored = user.as_ref().map_or_else(|| self.decoy_hash.clone(), |user| user.password_hash.clone());
            // Implausible input costs no hash; the attempt still counts against the client.
            let matches = plausible && self.hashing.verify(password, stored).await?;
            Ok::<_, crate::error::Error>((user, matches))
        };
        let (user, matches) = match judged.await {
            Ok(judged) => judged,
            Err(error) => {
                // Busy, or a fault of ours: no verdict on the password, so it counts for nothing
                // (a right password retried through a busy spell must not lock its owner out).
                attempt.not_judged();
                return Err(error);
            }
        };

        match user {
            Some(user) if matches => {
                attempt.succeeded();
                Self::bind_session(&self.db, session, user.user_id, user.password_hash.as_db()).await?;
                Ok(UserView { username: user.username })
            }
            _ => {
                tracing::info!(%client, "failed log-in");
                Err(AppError::WrongCredentials.into())
            }
        }
    }

    pub async fn log_out(&self, session: &Session) -> Result<()> {
        session.flush().await?;
        Ok(())
    }

    /// The id of the user signed in on `session`, if any.
    pub async fn current_user_id(&self, session: &Session) -> Result<Option<i64>> {
        if session.get::<bool>(SESSION_INDEXED).await?.is_none() {
            return Ok(None);
        }
        Ok(session.get::<i64>(SESSION_USER_ID).await?)
    }

    pub async fn current_user(&self, session: &Session) -> Result<Option<UserView>> {
        let Some(user_id) = self.current_user_id(session).await? else {
            return Ok(None);
        };
        let user = repo::find_by_id(&self.db, user_id).await?;
        Ok(user.map(|user| UserView { username: user.username }))
    }

    /// A new session id on every sign-in defeats session fixation. The session is saved at
    /// once (not at the end of the request) so its id is known and indexed under the user, and
    /// only while the password is still `password_hash`: a sign-in that checked a password just
    /// replaced (a reset or change racing it) or an account just deleted gets no session.
    async fn bind_session(db: &Db, session: &Session, user_id: i64, password_hash: &str) -> Result<()> {
        session.cycle_id().await?;
        session.insert(SESSION_USER_ID, user_id).await?;
        session.insert(SESSION_INDEXED, true).await?;
        session.save().await?;
        let indexed = match session.id() {
            Some(id) => repo::index_session(db, user_id, &id.to_string(), password_hash).await?,
            None => false,
        };
        if !indexed {
            session.flush().await?;
            return Err(AppError::WrongCredentials.into());
        }
        Ok(())
    }
}

#[async_trait]
impl AccountsPort for AccountService {
    async fn sign_up(&self, session: &Session, client: IpAddr, username: String, password: String, email: Option<String>) -> Result<UserView, AppError> {
        Ok(AccountService::sign_up(self, session, client, username, password, email).await?)
    }

    async fn log_in(&self, session: &Session, client: IpAddr, username: String, password: String) -> Result<UserView, AppError> {
        Ok(AccountService::log_in(self, session, client, username, password).await?)
    }

    async fn log_out(&self, session: &Session) -> Result<(), AppError> {
        Ok(AccountService::log_out(self, session).await?)
    }

    async fn current_user(&self, session: &Session) -> Result<Option<UserView>, AppError> {
        Ok(AccountService::current_user(self, session).await?)
    }

    async fn settings(&self, session: &Session) -> Result<AccountSettings, AppError> {
        Ok(AccountService::settings(self, session).await?)
    }

    async fn save_settings(&self, session: &Session, input: SettingsInput) -> Result<AccountSettings, AppError> {
        Ok(AccountService::save_settings(self, session, input).await?)
    }

    async fn resend_verification(&self, session: &Session) -> Result<(), AppError> {
        Ok(AccountService::resend_verification(self, session).await?)
    }

    async fn verify_email(&self, token: &str) -> Result<(), AppError> {
        Ok(AccountService::verify_email(self, token).await?)
    }

    async fn request_password_reset(&self, email: &str) -> Result<(), AppError> {
        Ok(AccountService::request_password_reset(self, email).await?)
    }

    async fn reset_password(&self, session: &Session, token: &str, password: String) -> Result<UserView, AppError> {
        Ok(AccountService::reset_password(self, session, token, password).await?)
    }

    async fn change_password(&self, session: &Session, client: IpAddr, current: String, new: String) -> Result<(), AppError> {
        Ok(AccountService::change_password(self, session, client, current, new).await?)
    }

    async fn delete_account(&self, session: &Session, client: IpAddr, password: String) -> Result<(), AppError> {
        Ok(AccountService::delete_account(self, session, client, password).await?)
    }
}
