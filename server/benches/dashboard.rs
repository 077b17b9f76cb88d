//! Finding events on a busy account: one person organizes 1,000 events (700 open, 250
//! decided, 50 cancelled). Measured one request after another, 300 times each: the
//! dashboard's data (`GET /api/v1/me/events`: four lists of a page each), searches by name
//! and by status (`GET /api/v1/me/events/search`), a late page, and the dashboard page as a
//! browser gets it, rendered on the server (`GET /me?q=…`). Target: a filtered page in under
//! 200 ms at p99 (seed 002 asks for 1,000 results in under 5 s).
//!
//! The deployment is the production shape (release `whenly`, three release `event-node`
//! processes), on SQLite and on MariaDB (`WHENLY_DASHBOARD_DB`: `sqlite`, `mariadb` or `both`,
//! the default). Run with `cargo build --release -p event-node && cargo bench -p server --bench dashboard`.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{stream, StreamExt};
use reqwest::StatusCode;
use serde_json::json;

use harness::Deployment;
use helpers::{intervals_tomorrow, rfc3339, Backend, Browser};

const OPEN: usize = 700;
const DECIDED: usize = 250;
const CANCELLED: usize = 50;
const REQUESTS: usize = 300;

#[tokio::main]
async fn main() {
    let choice = std::env::var("WHENLY_DASHBOARD_DB").unwrap_or_else(|_| "both".into());
    println!("| database | request | p50 | p99 | max | items on the page | matching |");
    println!("|---|---|---|---|---|---|---|");
    for (name, backend) in [("SQLite", Backend::Sqlite), ("MariaDB", Backend::MariaDb)] {
        if choice != "both" && !name.eq_ignore_ascii_case(&choice) {
            continue;
        }
        let deployment = Deployment::start(backend).await.unwrap_or_else(|| panic!("{name} is required for this benchmark"));
        let organizer = busy_account(&deployment).await;
        for (label, path) in [
            ("dashboard data", "/api/v1/me/events"),
            ("search by name", "/api/v1/me/events/search?q=team%20lunch%2042"),
            ("search by status", "/api/v1/me/events/search?status=finished"),
            ("name and status, page 5", "/api/v1/me/events/search?q=lunch&status=open&page=5"),
            ("dashboard page (HTML)", "/me?q=lunch%2042"),
        ] {
            let (mut times, mut body) = (Vec::with_capacity(REQUESTS), String::new());
            for _ in 0..REQUESTS {
                let started = Instant::now();
                let response = organizer.get(path).await;
                assert_eq!(response.status(), StatusCode::OK, "{path}");
                body = response.text().await.unwrap();
                times.push(started.elapsed());
            }
            times.sort();
            let at = |share: f64| times[((times.len() - 1) as f64 * share).round() as usize].as_secs_f64() * 1e3;
            let (items, matching) = match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(page) if page.get("items").is_some() => (page["items"].as_array().unwrap().len().to_string(), page["total"].to_string()),
                Ok(lists) => {
                    let shown: usize = ["organized", "pending", "answered", "finished"].iter().map(|list| lists[list].as_array().unwrap().len()).sum();
                    (shown.to_string(), "1,000 in 4 lists".to_owned())
                }
                Err(_) => (format!("{} KB of HTML", body.len() / 1024), "–".to_owned()),
            };
            println!("| {name} | {label} | {:.1} ms | {:.1} ms | {:.1} ms | {items} | {matching} |", at(0.5), at(0.99), at(1.0));
        }
    }
}

/// An organizer with [`OPEN`] + [`DECIDED`] + [`CANCELLED`] events, the decided ones decided.
async fn busy_account(deployment: &Deployment) -> Browser {
    let organizer = deployment.browser();
    assert_eq!(organizer.sign_up("organizer", "password123").await.status(), StatusCode::CREATED);
    let create = |index: usize, deadline: chrono::Duration| {
        let organizer = &organizer;
        async move {
            let input = json!({ "name": format!("Team lunch {index}"), "deadline": rfc3339(Utc::now() + deadline), "duration_minutes": 60 });
            organizer.create_event(&input).await
        }
    };
    let decided: Vec<String> = stream::iter(0..DECIDED).map(|index| create(index, chrono::Duration::seconds(20))).buffer_unordered(8).collect().await;
    for code in &decided {
        assert_eq!(organizer.put_availability(code, &intervals_tomorrow(&[(9, 11)])).await.status(), StatusCode::OK);
    }
    let cancelled: Vec<String> = stream::iter(DECIDED..DECIDED + CANCELLED).map(|index| create(index, chrono::Duration::hours(2))).buffer_unordered(8).collect().await;
    for code in &cancelled {
        let response = organizer.client.delete(organizer.url(&format!("/api/v1/events/{code}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let _: Vec<String> = stream::iter(DECIDED + CANCELLED..DECIDED + CANCELLED + OPEN)
        .map(|index| create(index, chrono::Duration::days(3) + chrono::Duration::minutes(index as i64)))
        .buffer_unordered(8)
        .collect()
        .await;
    for code in &decided {
        organizer.decided_outcome(code).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    organizer
}
