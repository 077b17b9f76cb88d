//! DESIGN.md §3's crowd: many signed-in people at once, each with an event page open. An open
//! page holds the event's live stream (`/api/v1/events/{code}/live`) and is sent the event's
//! state when it changes; each person saves an answer from the grid once in the minute. This
//! bench replays that: `WHENLY_CROWD_USERS` people (default 10,000), each its own HTTP client
//! and connection, 100 per event, for 60 s. It reports the latency of every save, the push
//! latency (a save committed → every other open page of the event has it: the first update
//! showing the saver as answered, on the last of the event's pages to get it), the server's
//! CPU and memory (with the streams idle, and after), and failures (a save refused, a stream
//! that ended, a save some page never saw).
//!
//! The deployment is the production shape of `cluster_rest`: the release `whenly` binary,
//! three `event-node` processes and MariaDB, on this machine with the load generator. With
//! `WHENLY_CROWD_PIN` (default on) the server and the nodes run on CPU 0 and this load
//! generator on CPU 1 (`taskset`); MariaDB is not pinned. Run with
//! `cargo build --release -p event-node && cargo bench -p server --bench crowd`.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;
#[path = "support/load.rs"]
#[allow(dead_code)]
mod load;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{stream, StreamExt};
use reqwest::StatusCode;
use serde_json::json;

use harness::{Deployment, Rng};
use load::own_cpu_seconds;
use helpers::{intervals_tomorrow, rfc3339, Backend, Browser};

/// People per event: the crowd is `users / PER_EVENT` events of this many.
const PER_EVENT: usize = 100;
const MEASURE: Duration = Duration::from_secs(60);
/// After the last save, how long pages may take to show it before it counts as lost.
const GRACE: Duration = Duration::from_secs(5);
/// Sign-ups in flight while the crowd is built: argon2 is CPU-bound, more only queue.
const SIGN_UPS_IN_FLIGHT: usize = 8;
/// Streams opened at once while the pages are opened.
const OPENING_IN_FLIGHT: usize = 64;

/// One person: their browser, name, session cookie and event.
struct Person {
    browser: Browser,
    name: String,
    /// `whenly_session=…`, for saves sent on a connection of their own.
    cookie: String,
    code: String,
}

/// What one open page saw: when each participant first showed as answered.
struct PageLog {
    code: String,
    first_answered: HashMap<String, Instant>,
    /// The stream ended or failed before the end of the run.
    broke: bool,
}

/// One save: who, in which event, when its response arrived, how long it took, whether 200.
struct Save {
    name: String,
    code: String,
    committed: Instant,
    latency: Duration,
    succeeded: bool,
}

#[tokio::main]
async fn main() {
    let users: usize = std::env::var("WHENLY_CROWD_USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let pin = std::env::var("WHENLY_CROWD_PIN").map_or(true, |value| value != "0");
    // Each person here holds one stream and saves on a connection that closes after the
    // answer, so the server may hold a stream for nearly every open file (its default keeps
    // half of them for readers' second connections).
    std::env::set_var("WHENLY_MAX_LIVE_STREAMS", (users + 100).to_string());
    let deployment = Deployment::start(Backend::MariaDb).await.expect("MariaDB is required for this benchmark");
    if pin {
        load::pin(&deployment);
    }
    let organizer = deployment.browser();
    assert_eq!(organizer.sign_up("organizer", "password123").await.status(), StatusCode::CREATED);
    let deadline = rfc3339(Utc::now() + chrono::Duration::hours(2));
    let mut codes = Vec::new();
    for index in 0..users.div_ceil(PER_EVENT) {
        let input = json!({ "name": format!("Crowd {index}"), "deadline": deadline, "duration_minutes": 60 });
        codes.push(organizer.create_event(&input).await);
    }

    let started = Instant::now();
    let crowd = build_crowd(&deployment, &codes, users).await;
    println!("{users} people signed up and joined in {:.0} s", started.elapsed().as_secs_f64());
    let memory_before = deployment.server_memory();

    // Everyone opens the page: one stream each, read until the run ends.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let crowd = Arc::new(crowd);
    let opened = Instant::now();
    let pages: Vec<tokio::task::JoinHandle<PageLog>> = stream::iter(0..crowd.len())
        .map(|index| {
            let crowd = Arc::clone(&crowd);
            let stopped = stopped.clone();
            async move {
                let person = &crowd[index];
                let response = person
                    .browser
                    .client
                    .get(person.browser.url(&format!("/api/v1/events/{}/live", person.code)))
                    .send()
                    .await
                    .expect("stream opened");
                assert_eq!(response.status(), StatusCode::OK, "a stream refused");
                tokio::spawn(read_page(response, person.code.clone(), stopped))
            }
        })
        .buffer_unordered(OPENING_IN_FLIGHT)
        .collect()
        .await;
    println!("{} pages opened in {:.1} s", pages.len(), opened.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let memory_idle = deployment.server_memory();
    let cpu_before = deployment.server_cpu_seconds();
    let own_cpu_before = own_cpu_seconds();

    // Each person saves once, at a random moment of the minute, on a connection of its own
    // that closes after the answer (a browser would keep it idle, but this machine allows
    // 20,000 open files per process: 10,000 streams and 10,000 idle second connections do
    // not fit, see docs/BENCHMARKS.md). The saves run on a thread and runtime of their own:
    // in the runtime reading 10,000 streams a save's response would wait its turn behind
    // the page reads (a person's browser shares its event loop with nobody), and the
    // operating system's scheduler, not tokio's queue, now shares CPU 1 between the two.
    let mut rng = Rng::from_time();
    let plan: Vec<(usize, Duration, u32)> = (0..crowd.len())
        .map(|index| (index, Duration::from_millis(rng.below(MEASURE.as_millis() as u64)), 8 + rng.below(8) as u32))
        .collect();
    let measured = Instant::now();
    let saving = Arc::clone(&crowd);
    let save_log = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the saves");
        runtime.block_on(async move {
            let saver = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("a client");
            let saves: Vec<tokio::task::JoinHandle<Save>> = plan
                .into_iter()
                .map(|(index, at, hour)| {
                    let (crowd, saver) = (Arc::clone(&saving), saver.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(at).await;
                        save(&saver, &crowd[index], hour).await
                    })
                })
                .collect();
            let mut save_log = Vec::new();
            for save in saves {
                save_log.push(save.await.expect("a save task"));
            }
            save_log
        })
    })
    .await
    .expect("the saving thread");
    let cpu_seconds = deployment.server_cpu_seconds() - cpu_before;
    let own_cpu_seconds = own_cpu_seconds() - own_cpu_before;
    let busy_for = measured.elapsed();
    tokio::time::sleep(GRACE).await;
    stop.send_replace(true);
    let mut page_logs = Vec::new();
    for page in pages {
        page_logs.push(page.await.expect("a page task"));
    }
    let memory_after = deployment.server_memory();

    // Push latency per save: until the last other page of its event showed it.
    let mut pages_by_event: HashMap<&str, Vec<&PageLog>> = HashMap::new();
    for page in &page_logs {
        pages_by_event.entry(page.code.as_str()).or_default().push(page);
    }
    let mut save_latencies = Vec::new();
    let mut push_latencies = Vec::new();
    let (mut refused, mut unseen) = (0, 0);
    for save in &save_log {
        save_latencies.push(save.latency);
        if !save.succeeded {
            refused += 1;
            continue;
        }
        let mut slowest = Duration::ZERO;
        for page in &pages_by_event[save.code.as_str()] {
            match page.first_answered.get(&save.name) {
                Some(seen) => slowest = slowest.max(seen.saturating_duration_since(save.committed)),
                None => unseen += 1,
            }
        }
        push_latencies.push(slowest);
    }
    let broken = page_logs.iter().filter(|page| page.broke).count();

    println!("{users} people with the page open, one save each over {:.0} s ({:.0} saves/s):", MEASURE.as_secs_f64(), users as f64 / MEASURE.as_secs_f64());
    report("  save", &mut save_latencies);
    report("  push (save committed → every other page of the event has it)", &mut push_latencies);
    println!("  failed: {refused} saves refused, {unseen} (page, save) pairs never shown, {broken} streams broken");
    println!("  whenly CPU: {:.1} s over {:.1} s ({:.0} % of one core)", cpu_seconds, busy_for.as_secs_f64(), 100.0 * cpu_seconds / busy_for.as_secs_f64());
    println!("  load generator CPU: {:.1} s ({:.0} % of one core)", own_cpu_seconds, 100.0 * own_cpu_seconds / busy_for.as_secs_f64());
    println!("  whenly memory: {memory_before} before the pages opened, {memory_idle} with {users} streams idle, {memory_after} after");
}

/// Pins the server and the nodes to CPU 0 and this process to CPU 1.
/// Signs `users` people up, each in its own browser, and has each join one of `codes` in turn.
async fn build_crowd(deployment: &Deployment, codes: &[String], users: usize) -> Vec<Person> {
    let codes = Arc::new(codes.to_vec());
    stream::iter(0..users)
        .map(|index| {
            let browser = deployment.browser();
            let code = codes[index % codes.len()].clone();
            async move {
                let name = format!("crowd{index}");
                let signed_up = browser.sign_up(&name, "password123").await;
                assert_eq!(signed_up.status(), StatusCode::CREATED);
                let cookie = signed_up.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
                assert_eq!(browser.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
                Person { browser, name, cookie, code }
            }
        })
        .buffer_unordered(SIGN_UPS_IN_FLIGHT)
        .collect()
        .await
}

/// Reads one page's stream until told to stop, noting when each participant first showed as
/// answered. The JSON is scanned, not parsed: 10,000 pages parsing every frame would make
/// the load generator the bottleneck it measures.
async fn read_page(mut response: reqwest::Response, code: String, mut stop: tokio::sync::watch::Receiver<bool>) -> PageLog {
    let mut log = PageLog { code, first_answered: HashMap::new(), broke: false };
    let mut buffer = String::new();
    loop {
        let chunk = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return log,
            chunk = response.chunk() => chunk,
        };
        let Ok(Some(chunk)) = chunk else {
            log.broke = true;
            return log;
        };
        let arrived = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if !block.contains("event: update") {
                continue;
            }
            for (at, _) in block.match_indices("\"answered\":true") {
                const NAME: &str = "\"username\":\"";
                let Some(start) = block[..at].rfind(NAME).map(|start| start + NAME.len()) else { continue };
                let Some(name) = block[start..at].split('"').next() else { continue };
                if !log.first_answered.contains_key(name) {
                    log.first_answered.insert(name.to_owned(), arrived);
                }
            }
        }
    }
}

/// CPU time this process has used so far, in seconds.
/// Saves an answer as the grid does (REST), `hour`..`hour + 3` tomorrow.
async fn save(saver: &reqwest::Client, person: &Person, hour: u32) -> Save {
    let sent = Instant::now();
    let response = saver
        .put(person.browser.url(&format!("/api/v1/events/{}/availability", person.code)))
        .header(reqwest::header::COOKIE, &person.cookie)
        .json(&intervals_tomorrow(&[(hour, hour + 3)]))
        .send()
        .await
        .expect("save sent");
    let succeeded = response.status() == StatusCode::OK && response.bytes().await.is_ok();
    let committed = Instant::now();
    Save { name: person.name.clone(), code: person.code.clone(), committed, latency: committed - sent, succeeded }
}

fn report(label: &str, latencies: &mut [Duration]) {
    if latencies.is_empty() {
        println!("{label}: none");
        return;
    }
    latencies.sort();
    let at = |fraction: f64| latencies[((latencies.len() as f64 * fraction).ceil() as usize).clamp(1, latencies.len()) - 1];
    println!("{label}: {} measured, p50 {:?} p99 {:?} max {:?}", latencies.len(), at(0.50), at(0.99), latencies.last().expect("one"));
}
