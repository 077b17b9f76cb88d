//! `spawn_app`: a real Whenly server on a free loopback port, over a database of its own.
//!
//! MariaDB comes from `WHENLY_TEST_MYSQL_URL` (default `mysql://whenly:whenly@127.0.0.1:3306`,
//! the account `scripts/setup.sh` creates). Each test gets a new `whenly_test_*` database,
//! dropped afterwards. When no MariaDB answers, the test fails under `CI=true` and says it
//! skipped otherwise.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{Duration, SecondsFormat, Utc};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use server::config::Config;
use server::Application;
use sqlx::{Connection, Executor, MySqlConnection};

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    MariaDb,
}

/// Generates one `#[tokio::test]` per backend for each listed async test body.
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await })+
        }
        mod mariadb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::MariaDb).await })+
        }
    };
}
pub(crate) use on_both_databases;

/// A running server plus one "browser" on it (derefs to [`Browser`]).
pub struct TestApp {
    browser: Browser,
    /// The control plane the embedded nodes call (tests may call it too).
    pub control: std::net::SocketAddr,
    /// The listener's `TCP_USER_TIMEOUT`, as the server set it.
    pub unacked_data_timeout: Option<std::time::Duration>,
    /// Where `GET /metrics` is served.
    pub metrics: std::net::SocketAddr,
    /// Stops the server as SIGTERM would.
    pub shutdown: server::shutdown::Shutdown,
    /// Completes when the server has stopped.
    pub stopped: std::sync::Arc<tokio::sync::Notify>,
    _database: TestDatabase,
    _data_dir: TempDir,
}

impl TestApp {
    /// A control-plane client holding `identity`'s real cluster certificate (from the
    /// credentials the server made under its data dir at start).
    pub async fn control_as(&self, identity: event_node::protocol::Peer) -> event_node::protocol::ControlPlaneClient {
        use event_node::protocol::link::Connect;
        let credentials = event_node::credentials::CredentialDir::new(self._data_dir.path.join("cluster"));
        credentials.ensure(&identity).expect("issue a certificate");
        let tls = credentials.load(identity).expect("load a certificate");
        let client = event_node::protocol::ControlPlaneClient::connect(&tls, self.control, &event_node::protocol::Peer::Server).await;
        client.expect("connect to the control plane")
    }
}

/// An HTTP client with its own cookie jar, pointed at one server (clones share the jar).
#[derive(Clone)]
pub struct Browser {
    pub base_url: String,
    pub client: reqwest::Client,
}

impl std::ops::Deref for TestApp {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl TestApp {
    /// The database the server uses, for tests that reach past it.
    #[allow(dead_code)]
    pub fn database_url(&self) -> String {
        self._database.url().unwrap_or_else(|| format!("sqlite://{}/whenly.db", self._data_dir.path.display()))
    }

    /// Another browser (a fresh cookie jar) on the same server.
    pub fn new_browser(&self) -> Browser {
        Browser::new(self.base_url.clone())
    }
}

/// Tunables a test may change; everything else is the production default.
pub struct TestSettings {
    pub login_failures_per_account: u32,
    pub login_failures_per_client: u32,
    pub sign_ups_per_client: u32,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The site dir (cargo-leptos's `target/site`); the default names one that need not exist.
    pub site_root: Option<std::path::PathBuf>,
    /// `--max-live-streams`; the default derives it from the open-file limit.
    pub max_live_streams: Option<usize>,
    /// `--smtp-url`; none: e-mail is off.
    pub smtp_url: Option<String>,
}

impl Default for TestSettings {
    fn default() -> Self {
        // Sign-ups are throttled per client, and every test client is 127.0.0.1: tests that do
        // not test that throttle get room for all the users they need.
        Self { login_failures_per_account: 5, login_failures_per_client: 20, sign_ups_per_client: 1000, trusted_proxies: Vec::new(), site_root: None, max_live_streams: None, smtp_url: None }
    }
}

/// Starts a server on `backend`, or returns `None` (after saying so) when MariaDB is not
/// available outside CI.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, TestSettings::default()).await
}

pub async fn spawn_app_with(backend: Backend, settings: TestSettings) -> Option<TestApp> {
    let data_dir = TempDir::new();
    let database = match backend {
        Backend::Sqlite => TestDatabase::Sqlite,
        Backend::MariaDb => TestDatabase::create_mariadb().await?,
    };
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path.clone(),
        database_url: database.url(),
        cookie_secure: false,
        log: "warn".into(),
        login_failures_per_account: settings.login_failures_per_account,
        login_failures_per_client: settings.login_failures_per_client,
        sign_ups_per_client: settings.sign_ups_per_client,
        trusted_proxies: settings.trusted_proxies,
        login_throttle_window_secs: 900,
        control_listen: "127.0.0.1:0".parse().unwrap(),
        cluster_credentials: None,
        nodes: Vec::new(),
        embedded_nodes: 3,
        max_live_streams: settings.max_live_streams,
        smtp_url: settings.smtp_url,
        mail_from: "Whenly <whenly@whenly.test>".into(),
        public_url: Some("http://whenly.test".into()),
        mail_claim_secs: 10,
        metrics_listen: server::config::OptionalAddress(Some("127.0.0.1:0".parse().unwrap())),
        shutdown_grace_secs: 10,
        log_format: server::telemetry::LogFormat::Text,
        command: None,
    };
    server::telemetry::init(&config.log, config.log_format);
    let mut leptos_options = leptos::config::LeptosOptions::builder().output_name("whenly").build();
    if let Some(site_root) = settings.site_root {
        leptos_options.site_root = site_root.to_string_lossy().into();
    }
    let application = Application::build(&config, leptos_options).await.expect("server starts");
    let base_url = format!("http://{}", application.local_addr());
    let control = application.control_addr();
    let unacked_data_timeout = application.unacked_data_timeout().expect("getsockopt");
    let metrics = application.metrics_addr().expect("metrics served");
    let shutdown = application.shutdown();
    let stopped = std::sync::Arc::new(tokio::sync::Notify::new());
    let on_stop = std::sync::Arc::clone(&stopped);
    tokio::spawn(async move {
        let _ = application.serve_until(std::future::pending()).await;
        on_stop.notify_waiters();
        on_stop.notify_one();
    });
    Some(TestApp { browser: Browser::new(base_url), control, unacked_data_timeout, metrics, shutdown, stopped, _database: database, _data_dir: data_dir })
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().unwrap()
}

impl Browser {
    pub fn new(base_url: String) -> Self {
        Self { base_url, client: new_client() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.client.patch(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn sign_up(&self, username: &str, password: &str) -> Response {
        self.post_json("/api/v1/users/signup", &json!({ "username": username, "password": password })).await
    }

    pub async fn log_in(&self, username: &str, password: &str) -> Response {
        self.post_json("/api/v1/users/login", &json!({ "username": username, "password": password })).await
    }

    pub async fn log_out(&self) -> Response {
        self.client.post(self.url("/api/v1/users/logout")).send().await.unwrap()
    }

    /// The signed-in username per `/api/v1/users/me`, or `None` on 401.
    pub async fn whoami(&self) -> Option<String> {
        let response = self.client.get(self.url("/api/v1/users/me")).send().await.unwrap();
        match response.status() {
            StatusCode::OK => Some(response.json::<Value>().await.unwrap()["username"].as_str().unwrap().to_owned()),
            StatusCode::UNAUTHORIZED => None,
            other => panic!("unexpected /me status {other}"),
        }
    }
}

// Event helpers shared by the event and outcome tests.

pub fn rfc3339(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn event_input(deadline_in: Duration) -> Value {
    json!({
        "name": "Team lunch",
        "description": "Somewhere near the office",
        "deadline": rfc3339(Utc::now() + deadline_in),
        "duration_minutes": 60,
        "time_zone": "Europe/Berlin",
    })
}

impl Browser {
    pub async fn signed_up(self, username: &str) -> Self {
        assert_eq!(self.sign_up(username, "password123").await.status(), StatusCode::CREATED);
        self
    }

    pub async fn create_event(&self, input: &Value) -> String {
        let response = self.post_json("/api/v1/events", input).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn event(&self, code: &str) -> Value {
        let response = self.get(&format!("/api/v1/events/{code}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client.post(self.url(path)).send().await.unwrap()
    }

    pub async fn put_availability(&self, code: &str, body: &Value) -> reqwest::Response {
        self.client.put(self.url(&format!("/api/v1/events/{code}/availability"))).json(body).send().await.unwrap()
    }

    /// The event page's data, as an open page reads it (its server function).
    pub async fn event_page(&self, code: &str) -> app::events::EventPageData {
        use leptos::server_fn::ServerFn;
        let response = self
            .client
            .post(self.url(app::events::calls::EventPage::PATH))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("code={code}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn my_events(&self) -> Value {
        self.get("/api/v1/me/events").await.json().await.unwrap()
    }
}

impl Browser {
    /// Polls the outcome until it is no longer pending (the cluster finalizes within a second
    /// or so of the deadline; the limit only stops a broken build from hanging).
    pub async fn decided_outcome(&self, code: &str) -> Value {
        for _ in 0..300 {
            let response = self.get(&format!("/api/v1/events/{code}/outcome")).await;
            assert_eq!(response.status(), StatusCode::OK);
            let outcome: Value = response.json().await.unwrap();
            if outcome["status"] != "pending" {
                return outcome;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no outcome for {code} 30 s after its deadline");
    }
}

pub fn codes(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|event| event["code"].as_str().unwrap()).collect()
}

pub fn intervals_tomorrow(hours: &[(u32, u32)]) -> Value {
    let day = (Utc::now() + Duration::days(1)).date_naive();
    let at = |hour: u32| rfc3339(day.and_hms_opt(hour, 0, 0).unwrap().and_utc());
    json!({ "intervals": hours.iter().map(|&(s, e)| json!({ "start": at(s), "end": at(e) })).collect::<Vec<_>>() })
}

/// Asserts the status and the API error code, returning the error object.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "expected {status} {code}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"].clone()
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}_{}", std::process::id(), nanos % 1_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("whenly_test_{}", unique_suffix()));
        std::fs::create_dir_all(&path).unwrap();
        Self { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub enum TestDatabase {
    /// The server's default: a SQLite file in the (temporary) data dir.
    Sqlite,
    MariaDb { admin_url: String, name: String },
}

impl TestDatabase {
    pub async fn create_mariadb() -> Option<Self> {
        let admin_url = std::env::var("WHENLY_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://whenly:whenly@127.0.0.1:3306".to_owned());
        let mut admin = match MySqlConnection::connect(&admin_url).await {
            Ok(connection) => connection,
            Err(error) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("SKIPPED: MariaDB is not reachable at {admin_url} ({error}); run scripts/setup.sh test");
                return None;
            }
            Err(error) => panic!("MariaDB is required in CI but not reachable at {admin_url}: {error}"),
        };
        let name = format!("whenly_test_{}", unique_suffix());
        admin.execute(format!("CREATE DATABASE `{name}`").as_str()).await.expect("create test database");
        Some(Self::MariaDb { admin_url, name })
    }

    pub fn url(&self) -> Option<String> {
        match self {
            Self::Sqlite => None,
            Self::MariaDb { admin_url, name } => Some(format!("{admin_url}/{name}")),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Self::MariaDb { admin_url, name } = self else { return };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which must not block: use a thread of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let mut admin = MySqlConnection::connect(&admin_url).await?;
                admin.execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str()).await.map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop a test database");
        }
    }
}

/// A calendar like a few years' export of a busy work account: one-off meetings every weekday,
/// weekly series (some ended, some not, with exceptions), and all-day events.
pub fn big_calendar() -> Vec<u8> {
    use std::fmt::Write;
    let mut file = String::from("BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nX-WR-TIMEZONE:Europe/Berlin\r\n");
    let first = chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 1, 1, 8, 0, 0).unwrap();
    let mut n = 0;
    while file.len() < 5_200_000 {
        let start = first + Duration::hours(n * 7 % (24 * 365 * 7));
        let end = start + Duration::minutes(30 + (n % 4) * 15);
        let stamp = |at: chrono::DateTime<Utc>| at.format("%Y%m%dT%H%M%SZ").to_string();
        let _ = write!(
            file,
            "BEGIN:VEVENT\r\nDTSTART:{}\r\nDTEND:{}\r\nDTSTAMP:20240101T000000Z\r\nUID:meeting-{n}@google.com\r\nSEQUENCE:0\r\nSTATUS:CONFIRMED\r\nSUMMARY:Meeting {n} with a fairly long title as people write them\r\nDESCRIPTION:Agenda:\\n1. Status\\n2. Next steps\\nJoin: https://meet.example.com/{n}\r\nTRANSP:{}\r\nEND:VEVENT\r\n",
            stamp(start),
            stamp(end),
            if n % 10 == 0 { "TRANSPARENT" } else { "OPAQUE" },
        );
        if n % 40 == 0 {
            let until = if n % 80 == 0 { String::new() } else { format!(";UNTIL={}", stamp(start + Duration::days(400))) };
            let _ = write!(
                file,
                "BEGIN:VEVENT\r\nDTSTART;TZID=Europe/Berlin:{}\r\nDURATION:PT45M\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE{until}\r\nEXDATE;TZID=Europe/Berlin:{}\r\nUID:series-{n}@google.com\r\nSUMMARY:Series {n}\r\nEND:VEVENT\r\n",
                start.format("%Y%m%dT%H%M%S"),
                (start + Duration::days(7)).format("%Y%m%dT%H%M%S"),
            );
        }
        if n % 50 == 0 {
            let day = start.date_naive();
            let _ = write!(file, "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nUID:day-{n}@google.com\r\nSUMMARY:Away\r\nEND:VEVENT\r\n", day.format("%Y%m%d"), day.succ_opt().unwrap().format("%Y%m%d"));
        }
        n += 1;
    }
    file.push_str("END:VCALENDAR\r\n");
    file.into_bytes()
}
