//! DESIGN.md §3's crowd: many signed-in people at once, each with an event page open. A browser
//! with the page open asks the `event_page` server function for fresh data every 4 s while
//! answers are open (the page's poll), and saves an answer now and then; that is the steady load
//! the server sees from a crowd, so this bench replays it: `WHENLY_CROWD_USERS` users (default
//! 10,000), each its own HTTP client and keep-alive connection, spread over 100 events, for
//! 60 s. It reports the latency of every request (sign-up, i.e. login, is excluded, as in the
//! target) and the server's memory. The deployment is the production shape of `cluster_rest`:
//! the release `whenly` binary, three `event-node` processes, MariaDB, all on this machine with
//! the load generator. Run with
//! `cargo build --release -p event-node && cargo bench -p server --bench crowd`.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::events::calls::{EventPage, SaveAvailability};
use chrono::Utc;
use futures::{stream, StreamExt};
use leptos::server_fn::ServerFn;
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::json;

use harness::{Deployment, Rng};
use helpers::{intervals_tomorrow, rfc3339, Backend, Browser};

const EVENTS: usize = 100;
/// The page's poll while answers are open (`POLL_OPEN_TICKS` one-second ticks).
const POLL_EVERY: Duration = Duration::from_secs(4);
const MEASURE: Duration = Duration::from_secs(60);
/// Sign-ups in flight while the crowd is built: argon2 is CPU-bound, more only queue.
const SIGN_UPS_IN_FLIGHT: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Request {
    Poll,
    Answer,
}

#[tokio::main]
async fn main() {
    let users: usize = std::env::var("WHENLY_CROWD_USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let deployment = Deployment::start(Backend::MariaDb).await.expect("MariaDB is required for this benchmark");
    let organizer = deployment.browser();
    assert_eq!(organizer.sign_up("organizer", "password123").await.status(), StatusCode::CREATED);
    let deadline = rfc3339(Utc::now() + chrono::Duration::hours(2));
    let mut codes = Vec::new();
    for index in 0..EVENTS {
        let input = json!({ "name": format!("Crowd {index}"), "deadline": deadline, "duration_minutes": 60 });
        codes.push(organizer.create_event(&input).await);
    }

    let started = Instant::now();
    let crowd = build_crowd(&deployment, &codes, users).await;
    println!("{users} users signed up and joined in {:.0} s", started.elapsed().as_secs_f64());
    let memory_before = deployment.server_memory();

    let until = Instant::now() + MEASURE;
    let mut rng = Rng::from_time();
    let tasks: Vec<_> = crowd
        .into_iter()
        .map(|(user, code)| {
            let phase = Duration::from_millis(rng.below(POLL_EVERY.as_millis() as u64));
            let answer_at_tick = rng.below(MEASURE.as_secs() / POLL_EVERY.as_secs());
            tokio::spawn(keep_page_open(user, code, phase, answer_at_tick, until))
        })
        .collect();
    let mut polls = Vec::new();
    let mut answers = Vec::new();
    let mut failed = 0;
    for task in tasks {
        for (request, latency, succeeded) in task.await.expect("a user's task") {
            failed += usize::from(!succeeded);
            match request {
                Request::Poll => polls.push(latency),
                Request::Answer => answers.push(latency),
            }
        }
    }
    let memory_after = deployment.server_memory();

    let seconds = MEASURE.as_secs_f64();
    println!("{users} concurrent users over {seconds:.0} s, {} requests/s:", (polls.len() + answers.len()) as f64 / seconds);
    report("  event_page polls", &mut polls);
    report("  answers saved", &mut answers);
    let mut all: Vec<Duration> = polls.iter().chain(&answers).copied().collect();
    report("  every request", &mut all);
    println!("  failed requests: {failed}");
    println!("  whenly memory: {memory_before} before the crowd moved, {memory_after} after");
}

/// Signs `users` users up, each in its own browser, and has each join one of `codes` in turn.
async fn build_crowd(deployment: &Deployment, codes: &[String], users: usize) -> Vec<(Browser, String)> {
    let codes = Arc::new(codes.to_vec());
    stream::iter(0..users)
        .map(|index| {
            let user = deployment.browser();
            let code = codes[index % codes.len()].clone();
            async move {
                assert_eq!(user.sign_up(&format!("crowd{index}"), "password123").await.status(), StatusCode::CREATED);
                assert_eq!(user.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
                (user, code)
            }
        })
        .buffer_unordered(SIGN_UPS_IN_FLIGHT)
        .collect()
        .await
}

/// One person with the event page open: a poll every `POLL_EVERY` (starting at `phase`), and
/// at one tick an answer saved from the grid. Returns each request's latency and whether it
/// succeeded (an overloaded server answers 500 when no database connection frees up in time).
async fn keep_page_open(user: Browser, code: String, phase: Duration, answer_at_tick: u64, until: Instant) -> Vec<(Request, Duration, bool)> {
    tokio::time::sleep(phase).await;
    let mut ticks = tokio::time::interval(POLL_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut latencies = Vec::new();
    for tick in 0.. {
        ticks.tick().await;
        if Instant::now() >= until {
            break;
        }
        let sent = Instant::now();
        let response = user
            .client
            .post(user.url(EventPage::PATH))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("code={code}"))
            .send()
            .await
            .expect("poll sent");
        let succeeded = response.status() == StatusCode::OK && response.bytes().await.is_ok();
        latencies.push((Request::Poll, sent.elapsed(), succeeded));
        if tick == answer_at_tick {
            let hour = 8 + (answer_at_tick % 8) as u32;
            let body = json!({ "code": code, "intervals": intervals_tomorrow(&[(hour, hour + 3)])["intervals"] });
            let sent = Instant::now();
            let response = user.client.post(user.url(SaveAvailability::PATH)).json(&body).send().await.expect("answer sent");
            let succeeded = response.status() == StatusCode::OK && response.bytes().await.is_ok();
            latencies.push((Request::Answer, sent.elapsed(), succeeded));
        }
    }
    latencies
}

fn report(label: &str, latencies: &mut [Duration]) {
    latencies.sort();
    let at = |fraction: f64| latencies[((latencies.len() as f64 * fraction).ceil() as usize).clamp(1, latencies.len()) - 1];
    println!(
        "{label}: {} requests, p50 {:?} p99 {:?} max {:?}",
        latencies.len(),
        at(0.50),
        at(0.99),
        latencies.last().expect("at least one request")
    );
}
