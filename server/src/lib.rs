//! Whenly's web server. A request arrives at axum; the session layer loads the caller's
//! server-side session from SQL; then either a REST handler (`/api/v1`, [`http`]) or Leptos
//! (pages and server functions, from the `app` crate) answers. Both call the same services
//! ([`accounts`], [`events`]), which the pages reach through the ports `app` declares, provided
//! here as Leptos context.

pub mod accounts;
pub mod admin;
pub mod cluster;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod open_files;
pub mod outbox;
pub mod sessions;
pub mod shutdown;
pub mod site_key;
pub mod state;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use app::ports::{AccountsPort, EventsPort, NotificationsPort};
use app::{shell, App};
use axum::serve::ListenerExt;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{Expiry, SessionManagerLayer};

use event_node::credentials::CredentialDir;
use event_node::protocol::Peer;

use crate::accounts::password::HashingPool;
use crate::accounts::tokens::AccountTokens;
use crate::accounts::{throttle::ThrottleLimits, AccountParts, AccountService};
use crate::http::client::TrustedProxies;
use crate::config::Config;
use crate::cluster::Cluster;
use crate::db::Db;
use crate::events::{EventPages, EventService};
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::notify::compose::Composer;
use crate::notify::sender::{MailConfigError, MailSettings, Sender};
use crate::notify::Notifications;
use crate::sessions::{CachedSessionStore, SqlSessionStore};
use crate::shutdown::Shutdown;
use crate::site_key::SiteKey;
use crate::state::AppState;

pub use crate::sessions::SESSION_COOKIE;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare the data directory {0}: {1}")]
    DataDir(std::path::PathBuf, std::io::Error),
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot read the Leptos site configuration: {0}")]
    Leptos(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot start: {0}")]
    Service(#[from] error::Error),
    #[error("cannot start an embedded event node: {0}")]
    Node(String),
    #[error("cannot prepare the cluster credentials: {0}")]
    Credentials(#[from] event_node::credentials::CredentialError),
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot start the password hashing threads: {0}")]
    Hashing(std::io::Error),
    #[error("cannot set up mail: {0}")]
    Mail(#[from] MailConfigError),
}

/// A peer that stops acknowledging (a phone that lost its network, a pulled cable) is dropped
/// after this, not after the kernel's ~15 minutes of retransmissions: a live stream's
/// keep-alive comment every 15 s is data that must be acknowledged, so such a stream frees its
/// place (and its memory) within about a minute.
const UNACKED_DATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(45);

/// A server bound to its port, ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    control: SocketAddr,
    /// Where `GET /metrics` is served, if anywhere.
    metrics: Option<(TcpListener, Router)>,
    db: Db,
    shutdown: Shutdown,
    /// How long requests in flight, and then the background work, may take once the shutdown
    /// began.
    grace: std::time::Duration,
}

impl Application {
    /// Opens and migrates the database, builds the services and binds `config.listen`
    /// (port 0 picks a free port: see [`Application::local_addr`]).
    pub async fn build(config: &Config, leptos_options: LeptosOptions) -> Result<Self, StartError> {
        let database_url = config.database_url();
        if config.database_url.is_none() {
            tokio::fs::create_dir_all(&config.data_dir)
                .await
                .map_err(|e| StartError::DataDir(config.data_dir.clone(), e))?;
        }
        let db = Db::connect(&database_url).await?;
        db.migrate().await?;
        let shutdown = Shutdown::default();
        let session_store = SqlSessionStore::open(&db).await?;
        session_store.spawn_expired_session_sweeper(&shutdown);
        let cached_sessions = CachedSessionStore::new(session_store, db.clone());
        cached_sessions.spawn_change_follower(&shutdown);

        let limits = ThrottleLimits {
            failures_per_account: config.login_failures_per_account,
            failures_per_client: config.login_failures_per_client,
            sign_ups_per_client: config.sign_ups_per_client,
            window: config.login_throttle_window(),
        };
        let hashing = HashingPool::sized_for_this_machine().map_err(StartError::Hashing)?;
        let tokens = Arc::new(AccountTokens::load(&db).await?);
        let mail = mail_settings(config, &db, Arc::clone(&tokens)).await?;
        let parts = AccountParts { limits, hashing, tokens, sessions: cached_sessions.clone(), email_enabled: mail.transport.is_some() };
        let accounts = Arc::new(AccountService::new(db.clone(), parts).await?);
        let notifications = Arc::new(Notifications::new(db.clone(), Arc::clone(&accounts)).await?);
        let metrics = Arc::new(Metrics::default());
        let (cluster, control) = start_cluster(config, &db, &shutdown, Arc::clone(&metrics)).await?;
        let (changes, changed) = live::change_channel();
        let events = Arc::new(EventService::new(db.clone(), Arc::clone(&cluster), changes));
        Sender::new(db.clone(), Arc::clone(&events), mail).spawn(&shutdown);
        let open_files = open_files::raise_limit();
        let max_streams = config.max_live_streams.unwrap_or_else(|| open_files.map_or(usize::MAX, open_files::streams_within));
        if max_streams < 1_000 && config.max_live_streams.is_none() {
            tracing::warn!(?open_files, max_streams, "few live streams fit in the open-file limit: raise it (LimitNOFILE)");
        } else {
            tracing::info!(?open_files, max_streams, "open-file limit and live streams");
        }
        let live = LiveHub::start(db.clone(), Arc::clone(&events), changed, max_streams, &shutdown);
        let form_errors = Arc::new(http::form_errors::FormErrorSeal {
            key: SiteKey::load(&db, http::form_errors::PURPOSE).await?,
            cookie_secure: config.cookie_secure,
        });
        let state = AppState { leptos_options, db: db.clone(), accounts, events, notifications, cluster, live, sessions: cached_sessions.clone(), shutdown: shutdown.clone(), metrics: Arc::clone(&metrics) };

        let session_layer = SessionManagerLayer::new(cached_sessions)
            .with_name(SESSION_COOKIE)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(config.cookie_secure)
            .with_expiry(Expiry::OnInactivity(time::Duration::days(14)));

        // Server functions answer every error, a wrong password included, with HTTP 500 and the
        // typed error in the body, so the trace layer's "failure" is not a fault: real internal
        // errors are logged at ERROR by `error::Error` itself.
        let trace_layer = TraceLayer::new_for_http()
            .make_span_with(http::request_id::span::<axum::body::Body>)
            .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG));
        let proxies = TrustedProxies::new(&config.trusted_proxies);
        let metrics_router = metrics::router(state.clone());
        let router = router(state)
            .layer(axum::middleware::from_fn_with_state(metrics, metrics::time_requests))
            .layer(axum::middleware::from_fn_with_state(form_errors, http::form_errors::seal))
            .layer(session_layer)
            .layer(axum::middleware::from_fn(http::same_origin::check))
            .layer(axum::middleware::map_response(http::security_headers::add))
            .layer(axum::middleware::from_fn_with_state(proxies, http::client::resolve)).layer(CompressionLayer::new()).layer(trace_layer)
            .layer(axum::middleware::from_fn(http::request_id::assign));
        let listener = TcpListener::bind(config.listen).await.map_err(|e| StartError::Bind(config.listen, e))?;
        socket2::SockRef::from(&listener)
            .set_tcp_user_timeout(Some(UNACKED_DATA_TIMEOUT))
            .map_err(|e| StartError::Bind(config.listen, e))?;
        let metrics = match config.metrics_listen.0 {
            Some(address) => Some((TcpListener::bind(address).await.map_err(|e| StartError::Bind(address, e))?, metrics_router)),
            None => None,
        };
        let grace = std::time::Duration::from_secs(config.shutdown_grace_secs);
        Ok(Self { listener, router, control, metrics, db, shutdown, grace })
    }

    /// How long a connection may leave data unacknowledged before the kernel drops it (the
    /// listener's `TCP_USER_TIMEOUT`, which every accepted connection inherits).
    pub fn unacked_data_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
        socket2::SockRef::from(&self.listener).tcp_user_timeout()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound TCP listener has a local address")
    }

    /// Where the control plane the event nodes call listens.
    pub fn control_addr(&self) -> SocketAddr {
        self.control
    }

    /// Where `GET /metrics` listens, unless `--metrics-listen off`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The handle that stops this server (what SIGTERM and SIGINT do in [`run`]).
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Serves until the shutdown begins (or `stop` completes), then stops accepting, lets
    /// requests in flight finish and live streams end, and stops the background work, all
    /// within the grace period; then closes the database.
    pub async fn serve_until(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let Self { listener, router, metrics, db, shutdown, grace, .. } = self;
        if let Some((listener, router)) = metrics {
            let stopping = shutdown.begun();
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(stopping).await {
                    tracing::error!(%error, "the metrics server stopped");
                }
            });
        }
        let on_stop = shutdown.clone();
        tokio::spawn(async move {
            stop.await;
            on_stop.begin();
        });
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        // No Nagle delay: a live page's frames and a streamed response's parts are small
        // writes, each of which the reader wants now, not after the previous one's ACK.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
            }
        });
        let serving = axum::serve(listener, service).with_graceful_shutdown(shutdown.begun());
        let overrun = {
            let begun = shutdown.begun();
            async move {
                begun.await;
                tokio::time::sleep(grace).await;
            }
        };
        let served = tokio::select! {
            served = std::future::IntoFuture::into_future(serving) => served.map_err(StartError::Serve),
            () = overrun => {
                tracing::warn!(?grace, "requests still in flight after the grace period: cutting them off");
                Ok(())
            }
        };
        shutdown.begin();
        let left = grace.saturating_sub(shutdown.since_begun()).max(std::time::Duration::from_secs(1));
        if !shutdown.finish(left).await {
            tracing::warn!("background work still running after the grace period: cutting it off");
        }
        if tokio::time::timeout(std::time::Duration::from_secs(2), db.close()).await.is_err() {
            tracing::warn!("a database connection still in use after the grace period: not waiting for it");
        }
        tracing::info!(after = ?shutdown.since_begun(), "stopped");
        served
    }
}

/// The mail sender's settings: the SMTP transport (none without `--smtp-url`), the sender
/// address and the links' base, each SMTP exchange cut off at half the claim's lease.
async fn mail_settings(config: &Config, db: &Db, tokens: Arc<AccountTokens>) -> Result<MailSettings, StartError> {
    let lease = std::time::Duration::from_secs(config.mail_claim_secs.max(2));
    let transport = config.smtp_url.as_deref().map(|url| notify::sender::transport(url, lease / 2)).transpose()?;
    let from = notify::sender::mailbox(&config.mail_from)?;
    let unsubscribe = notify::unsubscribe::Unsubscribe::load(db).await?;
    match &transport {
        Some(_) => tracing::info!(from = %config.mail_from, "e-mail on"),
        None => tracing::info!("e-mail off (no --smtp-url): notifications are in-app only"),
    }
    Ok(MailSettings { transport, composer: Composer::new(from, config.public_url(), unsubscribe), tokens, lease })
}

/// Loads (at first start: makes) the cluster credentials, serves the control plane, starts the
/// embedded nodes when no external ones are configured, and starts the monitor and the
/// reconciler. Returns the cluster and the control address.
async fn start_cluster(config: &Config, db: &Db, shutdown: &Shutdown, metrics: Arc<Metrics>) -> Result<(Arc<Cluster>, SocketAddr), StartError> {
    let credentials = CredentialDir::new(config.cluster_credentials());
    let embedded: Vec<String> = match config.nodes.is_empty() {
        true => (1..=config.embedded_nodes).map(|index| format!("n{index}")).collect(),
        false => Vec::new(),
    };
    if credentials.init()? {
        tracing::info!(path = %credentials.path().display(), "created the cluster CA");
    }
    credentials.ensure(&Peer::Server)?;
    for id in &embedded {
        credentials.ensure(&Peer::Node(id.clone()))?;
    }
    let tls = credentials.load(Peer::Server)?;

    let cluster = Cluster::new(db.clone(), Arc::clone(&tls), config.nodes.clone(), metrics).await?;
    let control = cluster::serve_control_plane(Arc::clone(&cluster), tls, config.control_listen)
        .await
        .map_err(|e| StartError::Bind(config.control_listen, e))?;
    for id in embedded {
        let node_config = event_node::runtime::NodeConfig {
            listen: "127.0.0.1:0".parse().expect("a valid address"),
            advertise: None,
            data_dir: config.data_dir.join("nodes").join(&id),
            server: control,
            credentials: credentials.path().to_owned(),
            log: config.log.clone(),
            node_id: id.clone(),
        };
        let bound = event_node::runtime::bind(node_config).await.map_err(|e| StartError::Node(e.to_string()))?;
        // In the ring before the first request (its hello, a moment later, changes nothing).
        cluster.join(&id, bound.address()).await?;
        shutdown.spawn_until(async move {
            if let Err(error) = bound.serve().await {
                tracing::error!(%error, "embedded event node stopped");
            }
        });
    }
    tracing::info!(%control, "event cluster");
    cluster.spawn_background_work(shutdown);
    Ok((cluster, control))
}

/// Pages and server functions (Leptos), the REST API and health, and static files.
fn router(state: AppState) -> Router {
    let leptos_options = state.leptos_options.clone();
    let site_pkg = format!("/{}", leptos_options.site_pkg_dir);
    let site_pkg_files = http::site_package::router(&leptos_options);
    let accounts: Arc<dyn AccountsPort> = state.accounts.clone();
    let notifications: Arc<dyn NotificationsPort> = state.notifications.clone();
    let events: Arc<dyn EventsPort> = Arc::new(EventPages::new(state.accounts.clone(), state.events.clone()));
    // The same ports for the pages and for the not-found page (which renders the header).
    let provide_ports = move || {
        provide_context(accounts.clone());
        provide_context(events.clone());
        provide_context(notifications.clone());
        http::security_headers::provide_page_policy();
    };
    Router::new()
        .merge(http::root_router())
        .nest("/api/v1", http::api_router())
        .leptos_routes_with_context(&state, generate_route_list(App), provide_ports.clone(), move || {
            shell(leptos_options.clone())
        })
        .nest_service(&site_pkg, site_pkg_files)
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(provide_ports, shell))
        .layer(axum::middleware::map_response(error::server_fn_error_status))
        .with_state(state)
}

/// Runs the server with the site configuration cargo-leptos provides (its `LEPTOS_*`
/// environment, or the workspace `Cargo.toml` when started by hand from the repository root),
/// or else the one of an unpacked release (`scripts/package.sh`): the site in `../site` from
/// the binary.
pub async fn run(config: Config) -> Result<(), StartError> {
    let stop = shutdown::signal();
    let configured = leptos::config::get_configuration(None).or_else(|_| leptos::config::get_configuration(Some("Cargo.toml")));
    // An unpacked release's site is beside its binary, whatever the build compiled in
    // (cargo-leptos builds in `target/site` relative to the repository); only an explicit
    // `LEPTOS_SITE_ROOT` overrides it.
    let packaged = std::env::var_os("LEPTOS_SITE_ROOT").is_none().then(packaged_site).flatten();
    let mut leptos_options = match (packaged, configured) {
        (Some(packaged), _) => packaged,
        (None, Ok(configuration)) => configuration.leptos_options,
        (None, Err(error)) => return Err(StartError::Leptos(error.to_string())),
    };
    // A binary built without cargo-leptos (`cargo build`, `cargo test`) and run without its
    // environment has no output name: this crate's own.
    if leptos_options.output_name.is_empty() {
        leptos_options.output_name = "whenly".into();
    }
    leptos_options.hash_files = http::site_package::has_hashed_names(&leptos_options).map_err(StartError::Leptos)?;
    let application = Application::build(&config, leptos_options).await?;
    let metrics = application.metrics_addr().map_or_else(|| "off".to_owned(), |address| address.to_string());
    tracing::info!(address = %application.local_addr(), %metrics, database = %redact(&config.database_url()), "whenly listening");
    application.serve_until(stop).await
}

/// The site of an unpacked release: `<prefix>/site` beside `<prefix>/bin/whenly`.
fn packaged_site() -> Option<LeptosOptions> {
    let exe = std::env::current_exe().ok()?;
    let site = exe.parent()?.parent()?.join("site");
    site.join("pkg").is_dir().then(|| LeptosOptions::builder().output_name("whenly").site_root(site.to_string_lossy().into_owned()).site_pkg_dir("pkg").build())
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => format!("{}://…{}", &url[..scheme_end], &url[at..]),
        _ => url.to_owned(),
    }
}
