//! Upgrades and crashes under load (not in CI): a production-shaped deployment (the `whenly`
//! binary, three `event-node` processes, MariaDB, or SQLite with `WHENLY_BENCH_SQLITE=1`) while
//! eight people keep answering six events, with
//! - a rolling restart: the server (SIGTERM, then started again), then each node in turn
//!   (SIGTERM drains it, then it is started again and rejoins), one at a time;
//! - then five SIGKILLs of the server, each restarted at once as a supervisor would, timing
//!   SIGKILL → `/healthz` 200.
//!
//! The clients behave like a careful client (or a proxy): a request refused before it was sent
//! (no listener) is retried after 100 ms, up to 30 s; nothing else is retried. Printed: answers
//! accepted, such retries, failed requests (a 5xx, or a connection cut after the request went
//! out: must be 0), the restart and recovery times, and whether every outcome equals
//! `outcome()` over the accepted answers. `cargo bench -p server --bench rolling`, results in
//! docs/BENCHMARKS.md.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;
#[path = "../tests/cluster/scenario.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod scenario;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;

use harness::{Deployment, Rng};
use helpers::{Backend, Browser};
use scenario::{assert_no_strikes, assert_stored_once, random_availability, Scenario};

const GUESTS: usize = 7;
const EVENTS: usize = 6;
const KILLS: usize = 5;

/// Per phase: 0 steady load and the rolling restart, 1 the SIGKILLs (a crash cuts off what
/// was in flight: those requests fail by nature, and are counted apart).
#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    retries: AtomicUsize,
    failed: [AtomicUsize; 2],
    crashing: AtomicBool,
}

impl Counts {
    fn fail(&self) {
        self.failed[usize::from(self.crashing.load(Ordering::Relaxed))].fetch_add(1, Ordering::Relaxed);
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let backend = if std::env::var("WHENLY_BENCH_SQLITE").is_ok() { Backend::Sqlite } else { Backend::MariaDb };
    let mut deployment = Deployment::start(backend).await.expect("MariaDB (or WHENLY_BENCH_SQLITE=1)");
    let deadline = Utc::now() + chrono::Duration::seconds(75);
    let scenario = Scenario::set_up(&deployment, GUESTS, EVENTS, deadline).await;
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let base_url = deployment.browser().base_url;

    // Each person on a client without kept-alive connections: a request is either refused
    // before it is sent (retried) or taken by a server that must finish it.
    let mut load = Vec::new();
    for (user, (name, _)) in scenario.users.iter().enumerate() {
        let name = name.clone();
        let client = reqwest::Client::builder().cookie_store(true).pool_max_idle_per_host(0).build().unwrap();
        let browser = Browser { base_url: base_url.clone(), client };
        assert_eq!(browser.log_in(&name, "password123").await.status(), StatusCode::OK);
        let events = scenario.events.clone();
        let (counts, stop) = (Arc::clone(&counts), Arc::clone(&stop));
        let mut rng = Rng::seeded(0x5eed + user as u64);
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (code, record) = &events[rng.below(events.len() as u64) as usize];
                let (body, availability) = random_availability(&mut rng);
                let url = browser.url(&format!("/api/v1/events/{code}/availability"));
                let refused_since = Instant::now();
                loop {
                    match browser.client.put(&url).json(&body).send().await {
                        Ok(response) if response.status() == StatusCode::OK => {
                            record.lock().unwrap().answers.insert(user, availability);
                            counts.accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(response) => {
                            eprintln!("{name}: {} {}", response.status(), response.text().await.unwrap_or_default());
                            counts.fail();
                        }
                        Err(error) if error.is_connect() && refused_since.elapsed() < Duration::from_secs(30) => {
                            counts.retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        Err(error) => {
                            eprintln!("{name}: {error:?}");
                            counts.fail();
                        }
                    }
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The rolling restart: the server, then each node, one at a time.
    let began = Instant::now();
    deployment.terminate_server();
    let stopping = Instant::now();
    let status = deployment.wait_for_server_exit().await;
    let stop_took = stopping.elapsed();
    deployment.start_server().await;
    println!("server: SIGTERM → exit {status} in {stop_took:?}, back serving after {:?}", stopping.elapsed());
    for index in 0..deployment.nodes.len() {
        let id = format!("n{}", index + 1);
        let draining = Instant::now();
        deployment.nodes[index].signal("TERM").expect("SIGTERM a node");
        while deployment.nodes[index].wait_for_exit(Duration::ZERO).is_none() {
            assert!(draining.elapsed() < Duration::from_secs(90), "{id} did not drain and exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let drained = draining.elapsed();
        deployment.nodes[index].restart().expect("restart a node");
        deployment.wait_for_node(&id, "live").await;
        println!("{id}: SIGTERM → drained and exited in {drained:?}, live again after {:?}", draining.elapsed());
    }
    println!("rolling restart of the server and 3 nodes: {:?}", began.elapsed());

    // Crashes: SIGKILL, restarted at once, timed to the first healthy answer.
    let mut recoveries = Vec::new();
    tokio::time::sleep(Duration::from_secs(2)).await;
    counts.crashing.store(true, Ordering::Relaxed);
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let killed = Instant::now();
        deployment.kill_server();
        deployment.start_server().await;
        recoveries.push(killed.elapsed());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counts.crashing.store(false, Ordering::Relaxed);
    recoveries.sort();
    println!("SIGKILL → serving again (restarted at once), {KILLS} times: median {:?}, worst {:?}", recoveries[KILLS / 2], recoveries[KILLS - 1]);

    // Load until shortly before the deadline, then every outcome against the oracle.
    let until = (deadline - Utc::now()).to_std().unwrap_or_default().saturating_sub(Duration::from_secs(3));
    tokio::time::sleep(until).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let failed = |phase: usize| counts.failed[phase].load(Ordering::Relaxed);
    println!(
        "answers accepted {}, refused-before-sent retries {}, failed requests: {} outside the SIGKILLs, {} cut off by them",
        counts.accepted.load(Ordering::Relaxed),
        counts.retries.load(Ordering::Relaxed),
        failed(0),
        failed(1)
    );
    scenario.assert_outcomes_match_the_oracle().await;
    assert_stored_once(&deployment, EVENTS).await;
    assert_no_strikes(&deployment).await;
    assert_eq!(failed(0), 0, "failed requests outside the SIGKILLs");
    println!("every outcome equals outcome() over the accepted answers; each stored once; no node struck");
}
