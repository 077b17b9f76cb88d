//! DESIGN.md's invariant under faults: every stored outcome equals `outcome()` over the answers
//! the API accepted before the deadline, each is stored once, and no accepted answer is lost,
//! while event nodes are SIGKILLed and restarted, and across a server restart.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::events::OutcomeView;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use scheduling::{outcome, Answer, EventSpec, Interval, IntervalSet, Minute, ParticipantId};
use serde_json::{json, Value};
use server::db::Db;

use crate::harness::{Deployment, Rng};
use crate::helpers::{on_both_databases, rfc3339, Backend, Browser};

on_both_databases!(outcomes_stay_right_while_nodes_are_killed, outcomes_stay_right_across_a_server_restart);

/// What the test knows the API accepted: per event, per participant (by joining order), the
/// last availability answered with 200.
struct Accepted {
    spec: EventSpec,
    answers: BTreeMap<usize, IntervalSet>,
}

/// One organizer and the guests, all joined to every event in the same order (so participant
/// ids follow the order of `users`).
struct Scenario {
    users: Vec<(String, Browser)>,
    events: Vec<(String, Arc<Mutex<Accepted>>)>,
}

impl Scenario {
    async fn set_up(deployment: &Deployment, guests: usize, events: usize, deadline: DateTime<Utc>) -> Self {
        let mut users = Vec::new();
        for index in 0..=guests {
            let username = if index == 0 { "organizer".to_owned() } else { format!("guest{index}") };
            let browser = deployment.browser();
            assert_eq!(browser.sign_up(&username, "password123").await.status(), StatusCode::CREATED);
            users.push((username, browser));
        }
        let mut created = Vec::new();
        for index in 0..events {
            let duration = [30, 60, 90][index % 3];
            let input = json!({ "name": format!("Event {index}"), "deadline": rfc3339(deadline), "duration_minutes": duration });
            let code = users[0].1.create_event(&input).await;
            for (_, guest) in &users[1..] {
                assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
            }
            let spec = EventSpec::new(deadline, duration, None).expect("a valid spec");
            created.push((code, Arc::new(Mutex::new(Accepted { spec, answers: BTreeMap::new() }))));
        }
        Self { users, events: created }
    }

    /// Each user answers random events with random hours of tomorrow until `until`, one
    /// request at a time per user, all users at once; 200s are recorded as accepted.
    async fn stream_answers(&self, until: DateTime<Utc>, seed: &mut Rng) -> usize {
        let mut streams = Vec::new();
        for (user, (_, browser)) in self.users.iter().enumerate() {
            let browser = browser.clone();
            let events = self.events.clone();
            let mut rng = Rng::seeded(seed.below(u64::MAX));
            streams.push(tokio::spawn(async move {
                let mut accepted = 0;
                while Utc::now() < until {
                    let (code, record) = &events[rng.below(events.len() as u64) as usize];
                    let (body, availability) = random_availability(&mut rng);
                    let response = browser.put_availability(code, &body).await;
                    if response.status() == StatusCode::OK {
                        record.lock().unwrap().answers.insert(user, availability);
                        accepted += 1;
                    } else {
                        assert_eq!(response.status(), StatusCode::CONFLICT, "only the deadline may refuse an answer");
                    }
                }
                accepted
            }));
        }
        let mut accepted = 0;
        for stream in streams {
            accepted += stream.await.expect("answer stream");
        }
        accepted
    }

    /// Waits for every outcome and compares it with `outcome()` over the accepted answers.
    async fn assert_outcomes_match_the_oracle(&self) {
        let reader = &self.users[0].1;
        for (code, record) in &self.events {
            let shown = reader.decided_outcome(code).await;
            let record = record.lock().unwrap();
            let answers: Vec<Answer> = record
                .answers
                .iter()
                .map(|(&user, availability)| Answer {
                    participant: ParticipantId(user as u64),
                    version: 1,
                    availability: availability.clone(),
                })
                .collect();
            let expected = OutcomeView::decided(&outcome(&record.spec, &answers), |id| self.users[id.0 as usize].0.clone());
            assert_eq!(shown, serde_json::to_value(&expected).unwrap(), "event {code}: {} answers", answers.len());
        }
    }
}

/// 1–3 whole-hour ranges between 08:00 and 18:00 tomorrow (UTC), as the API body and as the set.
fn random_availability(rng: &mut Rng) -> (Value, IntervalSet) {
    let day = (Utc::now() + chrono::Duration::days(1)).date_naive();
    let at = |hour: u64| day.and_hms_opt(hour as u32, 0, 0).unwrap().and_utc();
    let mut json_intervals = Vec::new();
    let mut intervals = Vec::new();
    for _ in 0..=rng.below(3) {
        let start = 8 + rng.below(9);
        let end = start + 1 + rng.below(18 - start);
        json_intervals.push(json!({ "start": rfc3339(at(start)), "end": rfc3339(at(end)) }));
        intervals.push(Interval::new(Minute::floor(at(start)), Minute::floor(at(end))).unwrap());
    }
    (json!({ "intervals": json_intervals }), intervals.into_iter().collect())
}

/// When each event's outcome was stored, by code.
async fn stored_at(deployment: &Deployment) -> BTreeMap<String, Option<DateTime<Utc>>> {
    const SQL: &str = "SELECT code, outcome_stored_at FROM event";
    let rows: Vec<(String, Option<DateTime<Utc>>)> = match Db::connect(&deployment.database_url()).await.unwrap() {
        Db::MySql(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
    };
    rows.into_iter().collect()
}

/// Outcomes are stored once: a second look, after any late or repeated report had time to
/// arrive, finds every event stored at the same instant.
async fn assert_stored_once(deployment: &Deployment, events: usize) {
    let first = stored_at(deployment).await;
    assert_eq!(first.values().filter(|at| at.is_some()).count(), events, "every event has an outcome: {first:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stored_at(deployment).await, first, "no outcome was stored again");
}

async fn outcomes_stay_right_while_nodes_are_killed(backend: Backend) {
    let Some(deployment) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    const EVENTS: usize = 20;
    let deadline = Utc::now() + chrono::Duration::seconds(25);
    let scenario = Scenario::set_up(&deployment, 4, EVENTS, deadline).await;

    // A random node is SIGKILLed every ~2 s and started again ~0.7 s later, from well before the
    // deadline until well after it (coordinators die mid-finalization too).
    let deployment = Arc::new(Mutex::new(deployment));
    let stop = Arc::new(AtomicBool::new(false));
    let chaos = {
        let (deployment, stop) = (Arc::clone(&deployment), Arc::clone(&stop));
        let mut rng = Rng::seeded(rng.below(u64::MAX));
        std::thread::spawn(move || {
            let mut kills = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1500 + rng.below(1000)));
                let victim = rng.below(3) as usize;
                deployment.lock().unwrap().nodes[victim].kill();
                std::thread::sleep(Duration::from_millis(400 + rng.below(600)));
                deployment.lock().unwrap().nodes[victim].restart().expect("restart a killed node");
                kills += 1;
            }
            kills
        })
    };

    let accepted = scenario.stream_answers(deadline, &mut rng).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    let kills = chaos.join().expect("chaos thread");
    eprintln!("{accepted} answers accepted, {kills} node kills");
    assert!(kills >= 5, "the nodes were killed repeatedly ({kills})");
    assert!(accepted >= EVENTS, "answers flowed ({accepted})");

    scenario.assert_outcomes_match_the_oracle().await;
    let deployment = deployment.lock().unwrap();
    assert_stored_once(&deployment, EVENTS).await;
}

async fn outcomes_stay_right_across_a_server_restart(backend: Backend) {
    let Some(mut deployment) = Deployment::start(backend).await else { return };
    let mut rng = Rng::from_time();
    const EVENTS: usize = 4;
    let deadline = Utc::now() + chrono::Duration::seconds(12);
    let scenario = Scenario::set_up(&deployment, 2, EVENTS, deadline).await;
    let until = Utc::now() + chrono::Duration::seconds(3);
    assert!(scenario.stream_answers(until, &mut rng).await > 0);

    // Killed between the answers and the deadline, back only after it.
    deployment.kill_server();
    tokio::time::sleep((deadline - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(2)).await;
    deployment.start_server().await;

    scenario.assert_outcomes_match_the_oracle().await;
    assert_stored_once(&deployment, EVENTS).await;
}
