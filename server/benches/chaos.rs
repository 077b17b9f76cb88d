//! The chaos run (not in CI): a production-shaped deployment (the `whenly` binary, three
//! `event-node` processes over mutual TLS, MariaDB) for `WHENLY_CHAOS_MINUTES` (default 10)
//! minutes, while
//! - a random node is SIGKILLed or SIGSTOPped every 2–4 s and brought back 0.4–1 s later,
//! - eight people answer, leave and rejoin events whose deadlines roll by every ~15 s,
//! - the server is SIGKILLed and restarted once (at 40 %), and MariaDB once (at 70 %).
//!
//! Then every outcome is compared with `outcome()` over the answers the API accepted. A
//! request that failed without an answer (server or database down) leaves its participant's
//! state unknown until a later request settles it; an event whose deadline passed while one of
//! its participants was unsettled cannot be checked and is counted apart. Prints answers
//! accepted, outcomes checked, mismatches (must be 0) and the worst deadline→outcome time:
//! `cargo bench -p server --bench chaos`, results in docs/BENCHMARKS.md.

#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod helpers;
#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod harness;
#[path = "../tests/cluster/scenario.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod scenario;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::events::OutcomeView;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use scheduling::{outcome, Answer, Availability, EventSpec, ParticipantId};
use serde_json::{json, Value};

use harness::{Deployment, Rng};
use helpers::{rfc3339, Backend, Browser};
use scenario::{random_availability, stored_at};

const GUESTS: usize = 7;
const EVENTS_PER_ROUND: usize = 3;
const ROUND: Duration = Duration::from_secs(15);

/// What the API said about one event.
struct Record {
    spec: EventSpec,
    deadline: DateTime<Utc>,
    answers: BTreeMap<usize, Availability>,
    /// Participants whose last request failed without an answer: their state is unknown.
    unsettled: BTreeSet<usize>,
    /// Set at the deadline if someone was unsettled then: this event cannot be checked.
    uncheckable: bool,
}

type Events = Arc<Mutex<Vec<(String, Record)>>>;

/// A request's status, or `None` when it got no answer at all.
async fn status(response: Result<reqwest::Response, reqwest::Error>) -> Option<StatusCode> {
    response.ok().map(|response| response.status())
}

#[tokio::main]
async fn main() {
    let minutes: u64 = std::env::var("WHENLY_CHAOS_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(10);
    let total = Duration::from_secs(minutes * 60);
    let mut deployment = Deployment::start(Backend::MariaDb).await.expect("MariaDB is required for the chaos run");
    let mut rng = Rng::from_time();
    let started = std::time::Instant::now();

    let mut users = Vec::new();
    for index in 0..=GUESTS {
        let name = if index == 0 { "organizer".to_owned() } else { format!("guest{index}") };
        let browser = deployment.browser();
        assert_eq!(browser.sign_up(&name, "password123").await.status(), StatusCode::CREATED);
        users.push((name, browser));
    }
    let events: Events = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));

    // Nodes are taken out of the deployment so the chaos thread owns them.
    let nodes = Arc::new(Mutex::new(std::mem::take(&mut deployment.nodes)));
    let chaos = {
        let (nodes, stop) = (Arc::clone(&nodes), Arc::clone(&stop));
        let mut rng = Rng::seeded(rng.below(u64::MAX));
        std::thread::spawn(move || {
            let mut faults = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(2000 + rng.below(2000)));
                let victim = rng.below(3) as usize;
                let hang = rng.below(3) == 0;
                {
                    let mut nodes = nodes.lock().unwrap();
                    if hang { nodes[victim].signal("STOP").unwrap() } else { nodes[victim].kill() }
                }
                std::thread::sleep(Duration::from_millis(400 + rng.below(600)));
                let mut nodes = nodes.lock().unwrap();
                if hang { nodes[victim].signal("CONT").unwrap() } else { nodes[victim].restart().unwrap() }
                faults += 1;
            }
            faults
        })
    };

    let streams: Vec<_> = users
        .iter()
        .enumerate()
        .skip(1)
        .map(|(user, (_, browser))| {
            let (browser, events, stop, accepted) = (browser.clone(), Arc::clone(&events), Arc::clone(&stop), Arc::clone(&accepted));
            let mut rng = Rng::seeded(rng.below(u64::MAX));
            tokio::spawn(async move { participate(user, browser, events, stop, accepted, &mut rng).await })
        })
        .collect();

    let (mut server_restarted, mut database_restarted) = (false, false);
    while started.elapsed() < total {
        let deadline = Utc::now() + chrono::Duration::seconds(20 + rng.below(20) as i64);
        for _ in 0..EVENTS_PER_ROUND {
            if let Some(code) = create_and_join(&users, deadline).await {
                let spec = EventSpec::new(deadline, 60, None).unwrap();
                let record = Record { spec, deadline, answers: BTreeMap::new(), unsettled: BTreeSet::new(), uncheckable: false };
                events.lock().unwrap().push((code, record));
            }
        }
        let elapsed = started.elapsed().as_secs_f64() / total.as_secs_f64();
        if !server_restarted && elapsed >= 0.4 {
            eprintln!("chaos: SIGKILL the server, start it again");
            deployment.kill_server();
            tokio::time::sleep(Duration::from_secs(2)).await;
            deployment.start_server().await;
            server_restarted = true;
        }
        if !database_restarted && elapsed >= 0.7 {
            eprintln!("chaos: restart MariaDB");
            restart_mariadb();
            database_restarted = true;
        }
        tokio::time::sleep(ROUND).await;
    }
    stop.store(true, Ordering::Relaxed);
    for stream in streams {
        stream.await.unwrap();
    }
    let faults = chaos.join().unwrap();
    deployment.nodes = std::mem::take(&mut *nodes.lock().unwrap());

    let last_deadline = events.lock().unwrap().iter().map(|(_, record)| record.deadline).max().unwrap();
    tokio::time::sleep((last_deadline - Utc::now()).to_std().unwrap_or_default()).await;
    let report = check(&deployment, &users, &events).await;
    println!(
        "chaos run: {minutes} min, {faults} node faults, server and MariaDB restarted once; {} answers accepted; \
         {} events: {} outcomes checked, {} mismatches, {} not checkable; worst deadline→outcome {} ms",
        accepted.load(Ordering::Relaxed),
        report.events,
        report.checked,
        report.mismatches,
        report.uncheckable,
        report.worst.num_milliseconds()
    );
    assert_eq!(report.mismatches, 0, "outcomes differ from outcome() over the accepted answers");
}

/// Creates an event and has every guest join, retrying through outages; `None` if it could
/// not be done well before the deadline.
async fn create_and_join(users: &[(String, Browser)], deadline: DateTime<Utc>) -> Option<String> {
    let input = json!({ "name": "Chaos", "deadline": rfc3339(deadline), "duration_minutes": 60 });
    let organizer = &users[0].1;
    let mut code = None;
    while code.is_none() && Utc::now() < deadline - chrono::Duration::seconds(15) {
        match organizer.client.post(organizer.url("/api/v1/events")).json(&input).send().await {
            Ok(response) if response.status() == StatusCode::CREATED => {
                code = response.json::<Value>().await.ok().and_then(|event| event["code"].as_str().map(str::to_owned));
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    let code = code?;
    for (_, guest) in &users[1..] {
        loop {
            let joined = status(guest.client.post(guest.url(&format!("/api/v1/events/{code}/join"))).send().await).await;
            if joined == Some(StatusCode::OK) {
                break;
            }
            if Utc::now() >= deadline - chrono::Duration::seconds(10) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Some(code)
}

/// One guest, one request at a time: mostly answers, sometimes leave and rejoin, on events
/// still open; every answer the API accepted is recorded.
async fn participate(user: usize, browser: Browser, events: Events, stop: Arc<AtomicBool>, accepted: Arc<AtomicUsize>, rng: &mut Rng) {
    while !stop.load(Ordering::Relaxed) {
        let open: Vec<String> = events
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, record)| record.deadline > Utc::now() + chrono::Duration::seconds(1))
            .map(|(code, _)| code.clone())
            .collect();
        if open.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let code = &open[rng.below(open.len() as u64) as usize];
        let update = |change: &dyn Fn(&mut Record)| {
            let mut events = events.lock().unwrap();
            if let Some((_, record)) = events.iter_mut().find(|(c, _)| c == code) {
                change(record);
            }
        };
        if rng.below(6) == 0 {
            let left = status(browser.client.post(browser.url(&format!("/api/v1/events/{code}/leave"))).send().await).await;
            match left {
                Some(StatusCode::NO_CONTENT) => update(&|record| {
                    record.answers.remove(&user);
                    record.unsettled.remove(&user);
                }),
                Some(status) if status.is_client_error() => {}
                _ => update(&|record| {
                    record.unsettled.insert(user);
                }),
            }
            // A failed rejoin leaves the guest out (answers then get 403): nothing to record.
            let _ = browser.client.post(browser.url(&format!("/api/v1/events/{code}/join"))).send().await;
        } else {
            let (body, availability) = random_availability(rng);
            let put = browser.client.put(browser.url(&format!("/api/v1/events/{code}/availability"))).json(&body).send().await;
            match status(put).await {
                Some(StatusCode::OK) => {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    update(&|record| {
                        record.answers.insert(user, availability.clone());
                        record.unsettled.remove(&user);
                    });
                }
                Some(status) if status.is_client_error() => {}
                _ => update(&|record| {
                    record.unsettled.insert(user);
                }),
            }
        }
        // Whoever is unsettled at an event's deadline makes it uncheckable.
        let mut events = events.lock().unwrap();
        for (_, record) in events.iter_mut() {
            if record.deadline <= Utc::now() && !record.unsettled.is_empty() {
                record.uncheckable = true;
            }
        }
    }
}

/// Stops MariaDB and starts it again, as `scripts/setup.sh` does.
fn restart_mariadb() {
    let shutdown = std::process::Command::new("mariadb-admin").args(["-h127.0.0.1", "-uroot", "shutdown"]).status();
    assert!(shutdown.is_ok_and(|status| status.success()), "mariadb-admin shutdown failed");
    std::thread::sleep(Duration::from_secs(3));
    let start = std::process::Command::new("start-stop-daemon")
        .args(["--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd", "--", "--user=mysql"])
        .status();
    assert!(start.is_ok_and(|status| status.success()), "cannot start MariaDB again");
    for _ in 0..60 {
        let ping = std::process::Command::new("mariadb-admin").args(["-h127.0.0.1", "ping"]).output();
        if ping.is_ok_and(|output| output.status.success()) {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!("MariaDB did not come back");
}

struct Report {
    events: usize,
    checked: usize,
    mismatches: usize,
    uncheckable: usize,
    worst: chrono::Duration,
}

async fn check(deployment: &Deployment, users: &[(String, Browser)], events: &Events) -> Report {
    let reader = &users[0].1;
    let records: Vec<(String, Record)> = std::mem::take(&mut *events.lock().unwrap());
    let mut report = Report { events: records.len(), checked: 0, mismatches: 0, uncheckable: 0, worst: chrono::Duration::zero() };
    let stored = stored_at(deployment).await;
    for (code, record) in &records {
        let shown = reader.decided_outcome(code).await;
        if let Some(Some(at)) = stored.get(code) {
            report.worst = report.worst.max(*at - record.deadline);
        }
        if record.uncheckable || !record.unsettled.is_empty() {
            report.uncheckable += 1;
            continue;
        }
        let answers: Vec<Answer> = record
            .answers
            .iter()
            .map(|(&user, availability)| Answer::of(ParticipantId(user as u64), 1, availability.clone()))
            .collect();
        let expected = OutcomeView::decided(&outcome(&record.spec, &answers), |id| users[id.0 as usize].0.clone());
        report.checked += 1;
        if shown != serde_json::to_value(&expected).unwrap() {
            report.mismatches += 1;
            eprintln!("MISMATCH {code}: shown {shown}, expected {}", serde_json::to_value(&expected).unwrap());
        }
    }
    report
}
