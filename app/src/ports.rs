//! The ports: what the server functions need from the server, as traits. `app` declares them
//! and the `server` crate implements them and provides the implementation through Leptos
//! context, so `app` never depends on `server` (no crate cycle, no SQL or RPC in the UI crate).
//! The helpers below fetch a port and the caller's session inside a server function.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use tower_sessions::Session;

use crate::accounts::{AccountSettings, SettingsInput, UserView};
use crate::notifications::NotificationList;
use crate::error::AppError;
use crate::events::{AvailabilityInput, CreateEventInput, EditEventInput, EventPageData, EventResults, EventSearch, EventView, MyEvents};

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
        email: Option<String>,
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
    async fn settings(&self, session: &Session) -> Result<AccountSettings, AppError>;
    async fn save_settings(&self, session: &Session, input: SettingsInput) -> Result<AccountSettings, AppError>;
    async fn resend_verification(&self, session: &Session) -> Result<(), AppError>;
    async fn verify_email(&self, token: &str) -> Result<(), AppError>;
    async fn request_password_reset(&self, email: &str) -> Result<(), AppError>;
    /// Sets the password from a reset link, ends every session of the account and signs in on `session`.
    async fn reset_password(&self, session: &Session, token: &str, password: String) -> Result<UserView, AppError>;
    /// Checks `current` (throttled like a log-in), sets `new`, ends the account's other sessions.
    async fn change_password(&self, session: &Session, client: IpAddr, current: String, new: String) -> Result<(), AppError>;
    /// Checks the password (throttled like a log-in), then deletes the account and every session of it.
    async fn delete_account(&self, session: &Session, client: IpAddr, password: String) -> Result<(), AppError>;
}

/// The signed-in user's notifications.
#[async_trait]
pub trait NotificationsPort: Send + Sync + 'static {
    async fn list(&self, session: &Session) -> Result<NotificationList, AppError>;
    /// 0 when nobody is signed in.
    async fn unread(&self, session: &Session) -> Result<u32, AppError>;
    async fn mark_read(&self, session: &Session, up_to: i64) -> Result<(), AppError>;
    /// Turns off the kind of mail an unsubscribe link's token names (no session needed).
    async fn unsubscribe(&self, token: &str) -> Result<crate::notifications::NotificationKind, AppError>;
}

/// Events and answers for the user signed in on `session` (`NotLoggedIn` without one). The
/// same rules as the REST API: both reach one service.
#[async_trait]
pub trait EventsPort: Send + Sync + 'static {
    async fn create(&self, session: &Session, input: CreateEventInput) -> Result<EventView, AppError>;
    async fn page(&self, session: &Session, code: &str) -> Result<EventPageData, AppError>;
    async fn join(&self, session: &Session, code: &str) -> Result<(), AppError>;
    async fn leave(&self, session: &Session, code: &str) -> Result<(), AppError>;
    async fn cancel(&self, session: &Session, code: &str) -> Result<(), AppError>;
    /// The organizer changes the event before its deadline.
    async fn edit(&self, session: &Session, code: &str, input: EditEventInput) -> Result<EventView, AppError>;
    /// The organizer closes answers now; the cluster decides at once.
    async fn decide_now(&self, session: &Session, code: &str) -> Result<EventView, AppError>;
    /// Stores a new version of the caller's answer and returns that version.
    async fn put_availability(&self, session: &Session, code: &str, input: AvailabilityInput) -> Result<u64, AppError>;
    async fn my_events(&self, session: &Session) -> Result<MyEvents, AppError>;
    /// One page of the caller's events that `search` matches.
    async fn search(&self, session: &Session, search: EventSearch) -> Result<EventResults, AppError>;
}

/// A port the server provided; missing context is a server bug, reported as an error (never a
/// panic inside a request).
pub fn port<P: ?Sized + Send + Sync + 'static>() -> Result<Arc<P>, AppError> {
    leptos::prelude::use_context::<Arc<P>>().ok_or(AppError::Internal)
}

/// The caller's session.
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|_| AppError::Internal)
}

/// The client's address as the server resolved it for this request (the TCP peer, or the
/// address a trusted reverse proxy reported), for throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The caller's address (for log-in and sign-up throttling).
pub async fn client_address() -> Result<IpAddr, AppError> {
    let axum::Extension(ClientAddress(client)) = leptos_axum::extract::<axum::Extension<ClientAddress>>()
        .await
        .map_err(|_| AppError::Internal)?;
    Ok(client)
}
