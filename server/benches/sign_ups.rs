//! Password hashing under a flood of sign-ups: `WHENLY_SIGN_UPS` (default 10,000) sign-ups,
//! `IN_FLIGHT` at a time (far more than the hashing threads), against the release `whenly`
//! binary on the embedded default (SQLite). A client refused with 503 waits its `Retry-After`
//! and tries again, as a browser's user would. Reports throughput, refusals and the server's
//! resident memory (VmRSS, VmHWM from /proc) after the flood. Run with
//! `cargo build --release -p event-node && cargo bench -p server --bench sign_ups`; results
//! go to docs/BENCHMARKS.md by hand.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;

use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use reqwest::StatusCode;

use harness::Deployment;
use helpers::Backend;

const IN_FLIGHT: usize = 64;

#[tokio::main]
async fn main() {
    let sign_ups: usize = std::env::var("WHENLY_SIGN_UPS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let deployment = Deployment::start(Backend::Sqlite).await.expect("SQLite needs no service");
    println!("before: {}", deployment.server_memory());
    let started = Instant::now();
    let results: Vec<(Duration, u32)> = stream::iter(0..sign_ups)
        .map(|index| {
            let browser = deployment.browser();
            async move {
                let began = Instant::now();
                let mut refused = 0;
                loop {
                    let response = browser.sign_up(&format!("flood{index}"), "password123").await;
                    match response.status() {
                        StatusCode::CREATED => return (began.elapsed(), refused),
                        StatusCode::SERVICE_UNAVAILABLE => {
                            refused += 1;
                            let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                            tokio::time::sleep(Duration::from_secs(wait)).await;
                        }
                        other => panic!("sign-up {index}: {other}"),
                    }
                }
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut latencies: Vec<Duration> = results.iter().map(|(latency, _)| *latency).collect();
    latencies.sort();
    let refusals: u32 = results.iter().map(|(_, refused)| refused).sum();
    let percentile = |fraction: f64| latencies[((latencies.len() as f64 * fraction).ceil() as usize).clamp(1, latencies.len()) - 1];
    println!(
        "{sign_ups} sign-ups, {IN_FLIGHT} in flight: {:.0} s, {:.0}/s; {refusals} refusals (503); until created p50 {:?}, p99 {:?}",
        elapsed.as_secs_f64(),
        sign_ups as f64 / elapsed.as_secs_f64(),
        percentile(0.5),
        percentile(0.99),
    );
    println!("after: {}", deployment.server_memory());
}
