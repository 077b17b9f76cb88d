//! Saves themselves: how many answers one event takes per second, and how long each takes,
//! when many people save at once. 200 people have joined one event; `C` connections (one
//! keep-alive HTTP/1.1 connection each, like wrk's) save answers back to back for 10 s, each
//! connection speaking for the people `j, j + C, j + 2C, …` in turn, for C = 16, 64 and 256.
//! Each save is a REST `PUT …/availability` of a few hours tomorrow, as the grid sends it.
//! It reports saves per second, latency percentiles, failures, and the CPU `whenly` and the
//! event nodes used per save.
//!
//! The deployment is the production shape (release `whenly`, three release `event-node`
//! processes), on SQLite and on MariaDB (`WHENLY_SAVES_DB`: `sqlite`, `mariadb` or `both`, the
//! default; `WHENLY_SAVES_CONNECTIONS`, e.g. `16,64`, runs only those). With `WHENLY_SAVES_PIN` (default on) `whenly` and the nodes run on CPU 0 and the
//! load generator on CPU 1. Run with
//! `cargo build --release -p event-node && cargo bench -p server --bench saves`.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;
#[path = "support/load.rs"]
#[allow(dead_code)]
mod load;

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{stream, StreamExt};
use reqwest::StatusCode;
use serde_json::json;

use harness::Deployment;
use load::{nodes_cpu_seconds, own_cpu_seconds};
use helpers::{intervals_tomorrow, rfc3339, Backend};

const PEOPLE: usize = 200;
const RUN: Duration = Duration::from_secs(10);
const CONNECTIONS: [usize; 3] = [16, 64, 256];
/// Sign-ups in flight while the people are made: argon2 is CPU-bound, more only queue.
const SIGN_UPS_IN_FLIGHT: usize = 8;

#[tokio::main]
async fn main() {
    let choice = std::env::var("WHENLY_SAVES_DB").unwrap_or_else(|_| "both".into());
    let pin = std::env::var("WHENLY_SAVES_PIN").map_or(true, |value| value != "0");
    let connection_counts: Vec<usize> = match std::env::var("WHENLY_SAVES_CONNECTIONS") {
        Ok(list) => list.split(',').map(|count| count.trim().parse().expect("WHENLY_SAVES_CONNECTIONS: numbers")).collect(),
        Err(_) => CONNECTIONS.to_vec(),
    };
    println!("| database | connections | saves/s | p50 | p99 | max | failed | whenly CPU per save | nodes CPU per save | load generator CPU |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, backend) in [("SQLite", Backend::Sqlite), ("MariaDB", Backend::MariaDb)] {
        if choice != "both" && !name.eq_ignore_ascii_case(&choice) {
            continue;
        }
        let deployment = Deployment::start(backend).await.unwrap_or_else(|| panic!("{name} is required for this benchmark"));
        if pin {
            load::pin(&deployment);
        }
        let (code, cookies) = one_event(&deployment).await;
        for &connections in &connection_counts {
            let run = run(&deployment, &code, &cookies, connections).await;
            println!(
                "| {name} | {connections} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {:.0} µs | {:.0} µs | {:.0} % of a core |",
                run.saves_per_second(),
                run.percentile(0.50).as_secs_f64() * 1e3,
                run.percentile(0.99).as_secs_f64() * 1e3,
                run.percentile(1.0).as_secs_f64() * 1e3,
                run.failed,
                run.whenly_cpu / run.latencies.len() as f64 * 1e6,
                run.nodes_cpu / run.latencies.len() as f64 * 1e6,
                run.own_cpu / RUN.as_secs_f64() * 100.0,
            );
        }
    }
}

/// An event an hour ahead with [`PEOPLE`] participants; their session cookies.
async fn one_event(deployment: &Deployment) -> (String, Vec<String>) {
    let organizer = deployment.browser();
    assert_eq!(organizer.sign_up("organizer", "password123").await.status(), StatusCode::CREATED);
    let input = json!({ "name": "Saves", "deadline": rfc3339(Utc::now() + chrono::Duration::hours(1)), "duration_minutes": 60 });
    let code = organizer.create_event(&input).await;
    let cookies = stream::iter(0..PEOPLE)
        .map(|index| {
            let browser = deployment.browser();
            let code = code.clone();
            async move {
                let signed_up = browser.sign_up(&format!("saver{index}"), "password123").await;
                assert_eq!(signed_up.status(), StatusCode::CREATED);
                let cookie = signed_up.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
                assert_eq!(browser.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
                cookie
            }
        })
        .buffer_unordered(SIGN_UPS_IN_FLIGHT)
        .collect()
        .await;
    (code, cookies)
}

struct Run {
    /// Every successful save's latency, sorted.
    latencies: Vec<Duration>,
    failed: usize,
    whenly_cpu: f64,
    nodes_cpu: f64,
    own_cpu: f64,
}

impl Run {
    fn saves_per_second(&self) -> f64 {
        self.latencies.len() as f64 / RUN.as_secs_f64()
    }

    fn percentile(&self, fraction: f64) -> Duration {
        let sorted = &self.latencies;
        sorted.get(((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len().max(1)) - 1).copied().unwrap_or_default()
    }
}

/// `connections` connections saving back to back for [`RUN`].
async fn run(deployment: &Deployment, code: &str, cookies: &[String], connections: usize) -> Run {
    let url = deployment.browser().url(&format!("/api/v1/events/{code}/availability"));
    let bodies: Vec<String> = (8..16).map(|hour| intervals_tomorrow(&[(hour, hour + 3)]).to_string()).collect();
    let (whenly_before, nodes_before, own_before) = (deployment.server_cpu_seconds(), nodes_cpu_seconds(deployment), own_cpu_seconds());
    let until = Instant::now() + RUN;
    let workers: Vec<_> = (0..connections)
        .map(|connection| {
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("a client");
            let (url, bodies) = (url.clone(), bodies.clone());
            let speakers: Vec<String> = cookies.iter().skip(connection % cookies.len()).step_by(connections).cloned().collect();
            let speakers = if speakers.is_empty() { vec![cookies[connection % cookies.len()].clone()] } else { speakers };
            tokio::spawn(async move {
                let (mut latencies, mut failed) = (Vec::new(), 0);
                let mut turn = 0;
                while Instant::now() < until {
                    let cookie = &speakers[turn % speakers.len()];
                    let body = bodies[(turn + connection) % bodies.len()].clone();
                    turn += 1;
                    let sent = Instant::now();
                    let response = client
                        .put(&url)
                        .header(reqwest::header::COOKIE, cookie)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body)
                        .send()
                        .await;
                    match response {
                        Ok(response) if response.status() == StatusCode::OK => {
                            let _ = response.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        _ => failed += 1,
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    let mut run = Run { latencies: Vec::new(), failed: 0, whenly_cpu: 0.0, nodes_cpu: 0.0, own_cpu: 0.0 };
    for worker in workers {
        let (latencies, failed) = worker.await.expect("a connection's task");
        run.latencies.extend(latencies);
        run.failed += failed;
    }
    run.latencies.sort_unstable();
    run.whenly_cpu = deployment.server_cpu_seconds() - whenly_before;
    run.nodes_cpu = nodes_cpu_seconds(deployment) - nodes_before;
    run.own_cpu = own_cpu_seconds() - own_before;
    // Let the dispatches of the last saves settle before the next run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    run
}
