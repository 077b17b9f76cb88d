//! `GET /healthz`: 200 when the database answers, 503 when it does not or the server is
//! stopping; either way with the
//! monitor's view of every event node (`live`, `dead`, `quarantined`, `draining`, `retired`)
//! and, when the database answers, how many events are past their deadline with no outcome
//! (`overdue_events`; more than a few seconds late is a stall worth a look).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.shutdown.is_begun() {
        // A load balancer stops sending here; the requests already here finish.
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "stopping" })));
    }
    let nodes: serde_json::Map<String, Value> =
        state.cluster.node_states().into_iter().map(|(id, node_state)| (id, json!(node_state.as_str()))).collect();
    match state.cluster.overdue_events().await {
        Ok(overdue) => (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok", "nodes": nodes, "overdue_events": overdue }))),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            let body = json!({ "status": "degraded", "database": "unreachable", "nodes": nodes });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
