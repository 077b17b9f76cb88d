//! `GET /metrics` on its own address: Prometheus text with each route's latency, the live
//! streams, the nodes' states, the dispatch lag, deadline → outcome, the outbox and the hashing
//! queue, following what the server did; the public address does not serve it.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{event_input, intervals_tomorrow, on_both_databases, spawn_app, Backend};

on_both_databases!(metrics_follow_the_work_and_are_served_apart);

async fn scrape(address: std::net::SocketAddr) -> String {
    let response = reqwest::get(format!("http://{address}/metrics")).await.expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    response.text().await.unwrap()
}

/// The value of the sample named exactly `series` (name and labels), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn metrics_follow_the_work_and_are_served_apart(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&event_input(chrono::Duration::seconds(3))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    let stream = bob.get(&format!("/api/v1/events/{code}/live")).await;
    assert_eq!(stream.status(), StatusCode::OK);

    let text = scrape(app.metrics).await;
    // By route pattern, not by path: one series for every event's join.
    let joins = r#"whenly_http_request_duration_seconds_count{method="POST",route="/api/v1/events/{code}/join",status="2xx"}"#;
    assert_eq!(sample(&text, joins), Some(1.0), "{text}");
    let sign_ups = r#"whenly_http_request_duration_seconds_count{method="POST",route="/api/v1/users/signup",status="2xx"}"#;
    assert_eq!(sample(&text, sign_ups), Some(2.0));
    assert_eq!(sample(&text, "whenly_live_streams"), Some(1.0));
    for node in ["n1", "n2", "n3"] {
        assert_eq!(sample(&text, &format!(r#"whenly_node_state{{node="{node}",state="live"}}"#)), Some(1.0), "{text}");
    }
    assert!(sample(&text, "whenly_outbox_pending").is_some());
    assert_eq!(sample(&text, "whenly_password_hashing_queue"), Some(0.0));

    // A refused request counts as 4xx; the public address has no /metrics.
    assert_eq!(alice.post("/api/v1/events/1111111111/join").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(alice.get("/metrics").await.status(), StatusCode::NOT_FOUND);

    // The answer reaches a node, and after the deadline the outcome is stored: both observed.
    bob.decided_outcome(&code).await;
    drop(stream);
    let mut text = String::new();
    for _ in 0..50 {
        text = scrape(app.metrics).await;
        if sample(&text, "whenly_live_streams") == Some(0.0) && sample(&text, "whenly_outbox_pending") == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sample(&text, "whenly_dispatch_lag_seconds_count").is_some_and(|count| count >= 1.0), "{text}");
    assert_eq!(sample(&text, "whenly_deadline_to_outcome_seconds_count"), Some(1.0), "{text}");
    let late = sample(&text, "whenly_deadline_to_outcome_seconds_sum").unwrap();
    assert!((0.0..30.0).contains(&late), "{late}");
    let refused = r#"whenly_http_request_duration_seconds_count{method="POST",route="/api/v1/events/{code}/join",status="4xx"}"#;
    assert_eq!(sample(&text, refused), Some(1.0));
    assert_eq!(sample(&text, "whenly_live_streams"), Some(0.0), "the stream's place is freed");
    assert_eq!(sample(&text, "whenly_outbox_pending"), Some(0.0), "no SMTP: the mails are settled as skipped");
}
