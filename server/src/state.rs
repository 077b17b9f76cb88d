//! What every handler can reach: the Leptos options (for SSR and static files), the database,
//! and the services.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::accounts::AccountService;
use crate::cluster::Cluster;
use crate::db::Db;
use crate::events::EventService;
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::notify::Notifications;
use crate::sessions::CachedSessionStore;
use crate::shutdown::Shutdown;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub accounts: Arc<AccountService>,
    pub events: Arc<EventService>,
    pub notifications: Arc<Notifications>,
    pub cluster: Arc<Cluster>,
    pub live: Arc<LiveHub>,
    /// The session store, for streams that must end when their session does.
    pub sessions: CachedSessionStore,
    /// Begun once the server is stopping: live streams end, `/healthz` says so.
    pub shutdown: Shutdown,
    pub metrics: Arc<Metrics>,
}
