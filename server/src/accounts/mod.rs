//! Accounts: sign-up, log-in, log-out and the current user, over a server-side session.
//! [`AccountService`] holds the rules; the REST handlers call it directly and the pages reach
//! it through [`AccountsPort`], so both speak with one voice.

pub mod password;
pub mod repo;
pub mod throttle;

use std::net::IpAddr;

use app::accounts::{validate_password, validate_username, UserView, PASSWORD_MAX, USERNAME_MAX};
use app::error::AppError;
use app::ports::AccountsPort;
use async_trait::async_trait;
use tower_sessions::Session;

use crate::db::Db;
use crate::error::{OnUniqueViolation, Result};
use password::StoredPasswordHash;
use throttle::{LoginThrottle, ThrottleLimits};

/// Session key holding the signed-in user's id.
const SESSION_USER_ID: &str = "user_id";

pub struct AccountService {
    db: Db,
    throttle: LoginThrottle,
    /// Verified against when the username does not exist, so that an unknown user costs the
    /// same time as a wrong password and response times do not reveal who has an account.
    decoy_hash: StoredPasswordHash,
}

impl AccountService {
    pub async fn new(db: Db, limits: ThrottleLimits) -> Result<Self> {
        let decoy_hash = password::hash("decoy password never matched".to_owned()).await?;
        Ok(Self { db, throttle: LoginThrottle::new(limits), decoy_hash })
    }

    pub async fn sign_up(&self, session: &Session, username: String, password: String) -> Result<UserView> {
        validate_username(&username)?;
        validate_password(&password)?;
        let hash = password::hash(password).await?;
        let user_id = repo::insert_user(&self.db, &username, &hash)
            .await
            .on_unique_violation(AppError::UsernameTaken)?;
        tracing::info!(user_id, "account created");
        Self::bind_session(session, user_id).await?;
        Ok(UserView { username })
    }

    pub async fn log_in(&self, session: &Session, client: IpAddr, username: String, password: String) -> Result<UserView> {
        let account = repo::username_key(&username);
        self.throttle
            .check(&account, client)
            .map_err(|wait| AppError::TooManyAttempts { retry_after_secs: wait.as_secs().max(1) })?;

        // Over-long input cannot belong to an account: refuse it without spending a hash on it.
        let plausible = username.chars().count() <= USERNAME_MAX && password.chars().count() <= PASSWORD_MAX;
        let user = if plausible { repo::find_by_username(&self.db, &username).await? } else { None };
        let stored = user.as_ref().map_or_else(|| self.decoy_hash.clone(), |user| user.password_hash.clone());
        let matches = plausible && password::verify(password, stored).await?;

        match user {
            Some(user) if matches => {
                self.throttle.record_success(&account);
                Self::bind_session(session, user.user_id).await?;
                Ok(UserView { username: user.username })
            }
            _ => {
                self.throttle.record_failure(&account, client);
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
        Ok(session.get::<i64>(SESSION_USER_ID).await?)
    }

    pub async fn current_user(&self, session: &Session) -> Result<Option<UserView>> {
        let Some(user_id) = self.current_user_id(session).await? else {
            return Ok(None);
        };
        let user = repo::find_by_id(&self.db, user_id).await?;
        Ok(user.map(|user| UserView { username: user.username }))
    }

    /// A new session id on every sign-in defeats session fixation.
    async fn bind_session(session: &Session, user_id: i64) -> Result<()> {
        session.cycle_id().await?;
        session.insert(SESSION_USER_ID, user_id).await?;
        Ok(())
    }
}

#[async_trait]
impl AccountsPort for AccountService {
    async fn sign_up(&self, session: &Session, _client: IpAddr, username: String, password: String) -> Result<UserView, AppError> {
        Ok(AccountService::sign_up(self, session, username, password).await?)
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
}
