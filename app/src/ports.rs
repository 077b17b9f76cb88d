//! The ports: what the server functions need from the server, as traits. `app` declares them
//! and the `server` crate implements them and provides the implementation through Leptos
//! context, so `app` never depends on `server` (no crate cycle, no SQL or RPC in the UI crate).

use std::net::IpAddr;

use async_trait::async_trait;
use tower_sessions::Session;

use crate::{accounts::UserView, error::AppError};

/// Sign-up, log-in, log-out and "who is this?" over the caller's session.
#[async_trait]
pub trait AccountsPort: Send + Sync + 'static {
    /// Creates the account and signs it in on `session`.
    async fn sign_up(
        &self,
        session: &Session,
        client: IpAddr,
        username: String,
        password: String,
    ) -> Result<UserView, AppError>;
    /// Verifies the credentials (throttled per account and per `client`), then rotates the
    /// session id and binds the user to it.
    async fn log_in(
        &self,
        session: &Session,
        client: IpAddr,
        username: String,
        password: String,
    ) -> Result<UserView, AppError>;
    /// Destroys the session.
    async fn log_out(&self, session: &Session) -> Result<(), AppError>;
    /// The user bound to `session`, if any.
    async fn current_user(&self, session: &Session) -> Result<Option<UserView>, AppError>;
}
