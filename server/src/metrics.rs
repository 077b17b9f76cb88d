//! `GET /metrics`: what an operator graphs and alerts on, in the Prometheus (OpenMetrics) text
//! format, from the `prometheus-client` crate (the Prometheus project's own Rust client).
//!
//! Served on its own address (`--metrics-listen`, loopback by default), never on the public
//! one: route names and node states are for the operator, and a scrape costs a database query.
//!
//! Two kinds of numbers. Histograms are observed where things happen: each request's latency
//! by route (the route's pattern, never the raw path, so the series stay few), each answer's
//! dispatch lag (accepted by the server → acknowledged by a node, incl. the reconciler's resends
//! after a fault) and each outcome's lateness (deadline → stored). Gauges are read when
//! scraped: live streams, node states, mails waiting in the outbox, passwords waiting to be
//! hashed.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::state::AppState;

/// Request latencies: 1 ms to ~16 s.
const REQUEST_BUCKETS: [f64; 15] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 60.0];
/// Dispatch lag and deadline → outcome: 5 ms to 10 minutes (a fault's recovery included).
const PIPELINE_BUCKETS: [f64; 16] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
    /// `2xx`, `4xx`, …: enough to tell failures apart, few series.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
    state: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Histogram, fn() -> Histogram>,
    dispatch_lag: Histogram,
    deadline_to_outcome: Histogram,
    live_streams: Gauge,
    nodes: Family<NodeLabels, Gauge>,
    outbox_pending: Gauge,
    hashing_queue: Gauge,
    /// One scrape at a time: each rebuilds the node series before encoding them.
    scraping: tokio::sync::Mutex<()>,
}

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("whenly");
        let requests = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(request_histogram as fn() -> Histogram);
        let dispatch_lag = Histogram::new(PIPELINE_BUCKETS);
        let deadline_to_outcome = Histogram::new(PIPELINE_BUCKETS);
        let (live_streams, nodes, outbox_pending, hashing_queue) = (Gauge::default(), Family::default(), Gauge::default(), Gauge::default());
        registry.register("http_request_duration_seconds", "Time to the response's head, by route pattern", requests.clone());
        registry.register("dispatch_lag_seconds", "From an answer's acceptance to a node's acknowledgement", dispatch_lag.clone());
        registry.register("deadline_to_outcome_seconds", "From an event's deadline to its stored outcome", deadline_to_outcome.clone());
        registry.register("live_streams", "Live event page streams open in this process", live_streams.clone());
        registry.register("node_state", "1 for each event node's current state as this process sees it", nodes.clone());
        registry.register("outbox_pending", "Mails waiting to be sent or retried (all processes)", outbox_pending.clone());
        registry.register("password_hashing_queue", "Password hashes waiting for a hashing thread", hashing_queue.clone());
        Self { registry, requests, dispatch_lag, deadline_to_outcome, live_streams, nodes, outbox_pending, hashing_queue, scraping: tokio::sync::Mutex::default() }
    }
}

impl Metrics {
    /// An answer (or withdrawal) accepted at `accepted_at` was acknowledged by a node now.
    pub fn dispatched(&self, accepted_at: chrono::DateTime<chrono::Utc>) {
        self.dispatch_lag.observe(seconds_since(accepted_at));
    }

    /// An outcome was stored now for an event whose deadline was `deadline`.
    pub fn decided(&self, deadline: chrono::DateTime<chrono::Utc>) {
        self.deadline_to_outcome.observe(seconds_since(deadline));
    }

    fn observe_request(&self, method: &Method, route: &str, status: StatusCode, started: Instant) {
        // The methods Whenly answers, each by name; any other token a client makes up is one
        // series, not one each.
        let method = match *method {
            Method::GET | Method::HEAD | Method::POST | Method::PUT | Method::DELETE | Method::PATCH | Method::OPTIONS => method.as_str(),
            _ => "other",
        };
        let labels = RouteLabels { method: method.to_owned(), route: route.to_owned(), status: format!("{}xx", status.as_u16() / 100) };
        self.requests.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    }
}

fn seconds_since(at: chrono::DateTime<chrono::Utc>) -> f64 {
    (chrono::Utc::now() - at).num_microseconds().map_or(0.0, |micros| micros.max(0) as f64 / 1e6)
}

/// Middleware: times each request by its route pattern (`/api/v1/events/{code}`); paths no
/// route matched (static files, the not-found page) count as `other`.
pub async fn time_requests(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or_else(|| "other".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics.observe_request(&method, &route, response.status(), started);
    response
}

/// The metrics address's router: `GET /metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    let metrics = &state.metrics;
    let _one_at_a_time = metrics.scraping.lock().await;
    metrics.live_streams.set(i64::try_from(state.live.open_streams()).unwrap_or(i64::MAX));
    metrics.nodes.clear();
    for (node, node_state) in state.cluster.node_states() {
        metrics.nodes.get_or_create(&NodeLabels { node, state: node_state.as_str().to_owned() }).set(1);
    }
    metrics.hashing_queue.set(i64::try_from(state.accounts.hashing_queue()).unwrap_or(i64::MAX));
    match crate::outbox::pending(&state.db).await {
        Ok(pending) => {
            metrics.outbox_pending.set(pending);
        }
        Err(error) => tracing::warn!(%error, "metrics: cannot count the outbox"),
    }
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry) {
        tracing::error!(%error, "metrics: cannot encode");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}
