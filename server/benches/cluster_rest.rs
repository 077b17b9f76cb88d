//! Load through REST on a production-shaped deployment (the `whenly` binary, three `event-node`
//! processes, MariaDB): answer throughput and latency, and the time from a shared deadline to
//! stored outcomes, also with a coordinator SIGKILLed at the deadline. Run with
//! `cargo bench -p server --bench cluster_rest` (debug-built binaries unless `--release`
//! builds exist next to this bench); results go to docs/BENCHMARKS.md by hand.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;

use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use reqwest::StatusCode;
use serde_json::json;
use server::db::Db;

use harness::Deployment;
use helpers::{intervals_tomorrow, rfc3339, Backend, Browser};

const USERS: usize = 50;
const ANSWER_SECONDS: u64 = 15;
const DEADLINE_EVENTS: usize = 1000;

#[tokio::main]
async fn main() {
    let mut deployment = Deployment::start(Backend::MariaDb).await.expect("MariaDB is required for this benchmark");
    let organizer = signed_up(&deployment, "organizer").await;
    answer_throughput(&deployment, &organizer).await;
    deadline_to_outcome(&mut deployment, &organizer, None).await;
    deadline_to_outcome(&mut deployment, &organizer, Some(1)).await;
}

async fn signed_up(deployment: &Deployment, username: &str) -> Browser {
    let browser = deployment.browser();
    assert_eq!(browser.sign_up(username, "password123").await.status(), StatusCode::CREATED);
    browser
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// `USERS` users, each answering one of 10 events in a loop, one request at a time.
async fn answer_throughput(deployment: &Deployment, organizer: &Browser) {
    let far = Utc::now() + chrono::Duration::hours(1);
    let mut codes = Vec::new();
    for index in 0..10 {
        codes.push(organizer.create_event(&json!({ "name": format!("Load {index}"), "deadline": rfc3339(far), "duration_minutes": 60 })).await);
    }
    let mut users = Vec::new();
    for index in 0..USERS {
        let user = signed_up(deployment, &format!("user{index}")).await;
        for code in &codes {
            assert_eq!(user.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
        }
        users.push(user);
    }
    let until = Instant::now() + Duration::from_secs(ANSWER_SECONDS);
    let started = Instant::now();
    let tasks: Vec<_> = users
        .into_iter()
        .enumerate()
        .map(|(index, user)| {
            let codes = codes.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut round = index;
                while Instant::now() < until {
                    let body = intervals_tomorrow(&[(8 + (round % 5) as u32, 14 + (round % 4) as u32)]);
                    let sent = Instant::now();
                    let response = user.put_availability(&codes[round % codes.len()], &body).await;
                    assert_eq!(response.status(), StatusCode::OK);
                    latencies.push(sent.elapsed());
                    round += 1;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "answers: {} in {:.1} s = {:.0}/s with {USERS} concurrent users; latency p50 {:?} p99 {:?} max {:?}",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
}

/// `DEADLINE_EVENTS` events on one deadline, one answer each; optionally SIGKILLs node
/// `kill` at the deadline. Prints the time from deadline to stored outcome.
async fn deadline_to_outcome(deployment: &mut Deployment, organizer: &Browser, kill: Option<usize>) {
    // Whole seconds: the request carries the deadline to the second (`rfc3339`), and a
    // fraction here would be counted against the cluster.
    let deadline = (Utc::now() + chrono::Duration::seconds(60)).trunc_subsecs(0);
    let mut codes = Vec::new();
    for index in 0..DEADLINE_EVENTS {
        let input = json!({ "name": format!("Deadline {index}"), "deadline": rfc3339(deadline), "duration_minutes": 60 });
        let code = organizer.create_event(&input).await;
        assert_eq!(organizer.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
        codes.push(code);
    }
    assert!(Utc::now() < deadline, "creating the events took longer than the lead time");
    tokio::time::sleep((deadline - Utc::now()).to_std().unwrap()).await;
    if let Some(victim) = kill {
        deployment.nodes[victim].kill();
    }
    let stored = loop {
        let stored = stored_at(deployment, &codes).await;
        if stored.len() == codes.len() {
            break stored;
        }
        if Utc::now() > deadline + chrono::Duration::seconds(120) {
            panic!("only {} of {} outcomes stored 2 minutes after the deadline", stored.len(), codes.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut delays: Vec<Duration> = stored.iter().map(|at| (*at - deadline).to_std().unwrap_or_default()).collect();
    delays.sort();
    let label = match kill {
        Some(victim) => format!("with node n{} SIGKILLed at the deadline", victim + 1),
        None => "all nodes up".to_owned(),
    };
    println!(
        "deadline -> stored outcome, {} events on one deadline, {label}: p50 {:?} p99 {:?} max {:?}",
        codes.len(),
        percentile(&delays, 0.50),
        percentile(&delays, 0.99),
        delays.last().unwrap()
    );
    if let Some(victim) = kill {
        deployment.nodes[victim].restart().expect("restart the killed node");
    }
}

/// The stored-at times of those of `codes` whose outcome is stored.
async fn stored_at(deployment: &Deployment, codes: &[String]) -> Vec<DateTime<Utc>> {
    const SQL: &str = "SELECT CAST(code AS CHAR) AS code, outcome_stored_at FROM event WHERE outcome_stored_at IS NOT NULL";
    let rows: Vec<(String, DateTime<Utc>)> = match Db::connect(&deployment.database_url()).await.unwrap() {
        Db::MySql(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
    };
    rows.into_iter().filter(|(code, _)| codes.contains(code)).map(|(_, at)| at).collect()
}
