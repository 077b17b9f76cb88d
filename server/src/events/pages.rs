//! The pages' port ([`EventsPort`]): the event service for the user signed in on the request's
//! session.

use std::sync::Arc;

use app::error::AppError;
use app::events::{AvailabilityInput, CreateEventInput, EditEventInput, EventPageData, EventResults, EventSearch, EventView, MyEvents};
use app::ports::EventsPort;
use async_trait::async_trait;
use tower_sessions::Session;

use super::EventService;
use crate::accounts::AccountService;

/// The pages' port: the same service, for the user signed in on the request's session.
pub struct EventPages {
    accounts: Arc<AccountService>,
    events: Arc<EventService>,
}

impl EventPages {
    pub fn new(accounts: Arc<AccountService>, events: Arc<EventService>) -> Self {
        Self { accounts, events }
    }

    async fn user(&self, session: &Session) -> Result<i64, AppError> {
        Ok(self.accounts.current_user_id(session).await?.ok_or(AppError::NotLoggedIn)?)
    }
}

#[async_trait]
impl EventsPort for EventPages {
    async fn create(&self, session: &Session, input: CreateEventInput) -> Result<EventView, AppError> {
        Ok(self.events.create(self.user(session).await?, input).await?)
    }

    async fn page(&self, session: &Session, code: &str) -> Result<EventPageData, AppError> {
        Ok(self.events.page(self.user(session).await?, code).await?)
    }

    async fn join(&self, session: &Session, code: &str) -> Result<(), AppError> {
        self.events.join(self.user(session).await?, code).await?;
        Ok(())
    }

    async fn leave(&self, session: &Session, code: &str) -> Result<(), AppError> {
        Ok(self.events.leave(self.user(session).await?, code).await?)
    }

    async fn cancel(&self, session: &Session, code: &str) -> Result<(), AppError> {
        Ok(self.events.cancel(self.user(session).await?, code).await?)
    }

    async fn edit(&self, session: &Session, code: &str, input: EditEventInput) -> Result<EventView, AppError> {
        Ok(self.events.edit(self.user(session).await?, code, input).await?)
    }

    async fn decide_now(&self, session: &Session, code: &str) -> Result<EventView, AppError> {
        Ok(self.events.decide_now(self.user(session).await?, code).await?)
    }

    async fn put_availability(&self, session: &Session, code: &str, input: AvailabilityInput) -> Result<u64, AppError> {
        Ok(self.events.put_availability(self.user(session).await?, code, input).await?)
    }

    async fn my_events(&self, session: &Session) -> Result<MyEvents, AppError> {
        Ok(self.events.my_events(self.user(session).await?).await?)
    }

    async fn search(&self, session: &Session, search: EventSearch) -> Result<EventResults, AppError> {
        Ok(self.events.search(self.user(session).await?, search).await?)
    }
}
