//! A scripted crowd for the cluster tests: an organizer and guests joined to every event,
//! answering, leaving and rejoining, with a record of what the API accepted, and the checks of
//! DESIGN.md's invariant against that record.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::events::OutcomeView;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use scheduling::{outcome, Answer, Availability, EventSpec, Interval, IntervalSet, Minute, ParticipantId};
use serde_json::{json, Value};
use server::db::Db;

use crate::harness::{Deployment, Rng};
use crate::helpers::{rfc3339, Browser};

/// What the test knows the API accepted: per event, per participant (by joining order), the
/// last availability answered with 200.
pub struct Accepted {
    pub spec: EventSpec,
    pub answers: BTreeMap<usize, Availability>,
}

/// One organizer and the guests, all joined to every event in the same order (so participant
/// ids follow the order of `users`).
pub struct Scenario {
    pub users: Vec<(String, Browser)>,
    pub events: Vec<(String, Arc<Mutex<Accepted>>)>,
}

impl Scenario {
    pub async fn set_up(deployment: &Deployment, guests: usize, events: usize, deadline: DateTime<Utc>) -> Self {
        let mut users = Vec::new();
        for index in 0..=guests {
            let username = if index == 0 { "organizer".to_owned() } else { format!("guest{index}") };
            let browser = deployment.browser();
            assert_eq!(browser.sign_up(&username, "password123").await.status(), StatusCode::CREATED);
            users.push((username, browser));
        }
        let mut scenario = Self { users, events: Vec::new() };
        scenario.add_events(events, deadline).await;
        scenario
    }

    /// Creates `count` more events (every guest joins each), all with `deadline`.
    pub async fn add_events(&mut self, count: usize, deadline: DateTime<Utc>) {
        for _ in 0..count {
            let index = self.events.len();
            let duration = [30, 60, 90][index % 3];
            let input = json!({ "name": format!("Event {index}"), "deadline": rfc3339(deadline), "duration_minutes": duration });
            let code = self.users[0].1.create_event(&input).await;
            for (_, guest) in &self.users[1..] {
                assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
            }
            let spec = EventSpec::new(deadline, duration, None).expect("a valid spec");
            self.events.push((code, Arc::new(Mutex::new(Accepted { spec, answers: BTreeMap::new() }))));
        }
    }

    /// What once stalled events forever: in every event the first guest answers once, the
    /// second twice, then both leave, rejoin and answer once more (a version that must not go
    /// back to 1 on a node that still holds 1 or 2).
    pub async fn leave_rejoin_answer(&self, rng: &mut Rng) {
        for (code, record) in &self.events {
            for (user, answers_before) in [(1, 1), (2, 2)] {
                let browser = &self.users[user].1;
                for _ in 0..answers_before {
                    let (body, _) = random_availability(rng);
                    assert_eq!(browser.put_availability(code, &body).await.status(), StatusCode::OK);
                }
                tokio::time::sleep(Duration::from_millis(rng.below(100))).await;
                assert_eq!(browser.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
                assert_eq!(browser.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
                let (body, availability) = random_availability(rng);
                assert_eq!(browser.put_availability(code, &body).await.status(), StatusCode::OK);
                record.lock().unwrap().answers.insert(user, availability);
            }
        }
    }

    /// Each user answers random events with random hours of tomorrow until `until`, one
    /// request at a time per user, all users at once; 200s are recorded as accepted. Guests
    /// also leave now and then (their answer is withdrawn) and join again.
    pub async fn stream_answers(&self, until: DateTime<Utc>, seed: &mut Rng) -> usize {
        let mut streams = Vec::new();
        for (user, (_, browser)) in self.users.iter().enumerate() {
            let browser = browser.clone();
            let events = self.events.clone();
            let mut rng = Rng::seeded(seed.below(u64::MAX));
            streams.push(tokio::spawn(async move {
                let mut accepted = 0;
                while Utc::now() < until {
                    let (code, record) = &events[rng.below(events.len() as u64) as usize];
                    if user > 0 && rng.below(8) == 0 {
                        let left = browser.post(&format!("/api/v1/events/{code}/leave")).await.status();
                        if left == StatusCode::NO_CONTENT {
                            record.lock().unwrap().answers.remove(&user);
                        } else {
                            assert_eq!(left, StatusCode::CONFLICT, "only the deadline may refuse a leave");
                        }
                        // Joining again is refused only past the deadline; the guest is then out.
                        let joined = browser.post(&format!("/api/v1/events/{code}/join")).await.status();
                        assert!(joined == StatusCode::OK || joined == StatusCode::CONFLICT, "join: {joined}");
                        continue;
                    }
                    let (body, availability) = random_availability(&mut rng);
                    let response = browser.put_availability(code, &body).await;
                    if response.status() == StatusCode::OK {
                        record.lock().unwrap().answers.insert(user, availability);
                        accepted += 1;
                    } else {
                        // Past the deadline, or out of the event (left, and the rejoin came too late).
                        let status = response.status();
                        assert!(status == StatusCode::CONFLICT || status == StatusCode::FORBIDDEN, "answer: {status}");
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
    pub async fn assert_outcomes_match_the_oracle(&self) {
        self.assert_outcomes_match_the_oracle_as(&self.users[0].1).await;
    }

    /// [`Scenario::assert_outcomes_match_the_oracle`], read by `reader` (a member of every event).
    pub async fn assert_outcomes_match_the_oracle_as(&self, reader: &Browser) {
        for (code, record) in &self.events {
            let shown = reader.decided_outcome(code).await;
            let record = record.lock().unwrap();
            let answers: Vec<Answer> = record
                .answers
                .iter()
                .map(|(&user, availability)| Answer::of(ParticipantId(user as u64), 1, availability.clone()))
                .collect();
            let expected = OutcomeView::decided(&outcome(&record.spec, &answers), |id| self.users[id.0 as usize].0.clone());
            assert_eq!(shown, serde_json::to_value(&expected).unwrap(), "event {code}: {} answers", answers.len());
        }
    }
}

/// 1–3 whole-hour ranges between 08:00 and 18:00 tomorrow (UTC), each free or (one in three)
/// if need be, as the API body and as what the server should store.
pub fn random_availability(rng: &mut Rng) -> (Value, Availability) {
    let day = (Utc::now() + chrono::Duration::days(1)).date_naive();
    let at = |hour: u64| day.and_hms_opt(hour as u32, 0, 0).unwrap().and_utc();
    let (mut json_free, mut json_maybe) = (Vec::new(), Vec::new());
    let (mut free, mut maybe) = (Vec::new(), Vec::new());
    for _ in 0..=rng.below(3) {
        let start = 8 + rng.below(9);
        let end = start + 1 + rng.below(18 - start);
        let json = json!({ "start": rfc3339(at(start)), "end": rfc3339(at(end)) });
        let interval = Interval::new(Minute::floor(at(start)), Minute::floor(at(end))).unwrap();
        if rng.below(3) == 0 {
            json_maybe.push(json);
            maybe.push(interval);
        } else {
            json_free.push(json);
            free.push(interval);
        }
    }
    let availability = Availability::new(IntervalSet::from_intervals(free), IntervalSet::from_intervals(maybe));
    (json!({ "intervals": json_free, "if_need_be": json_maybe }), availability)
}

/// When each event's outcome was stored, by code.
pub async fn stored_at(deployment: &Deployment) -> BTreeMap<String, Option<DateTime<Utc>>> {
    const SQL: &str = "SELECT CAST(code AS CHAR) AS code, outcome_stored_at FROM event";
    let rows: Vec<(String, Option<DateTime<Utc>>)> = match Db::connect(&deployment.database_url()).await.unwrap() {
        Db::MySql(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
    };
    rows.into_iter().collect()
}

/// No node was struck for a wrong report, and none is quarantined: every report was right.
pub async fn assert_no_strikes(deployment: &Deployment) {
    const SQL: &str = "SELECT node_id, strikes, state FROM node";
    let rows: Vec<(String, i32, String)> = match Db::connect(&deployment.database_url()).await.unwrap() {
        Db::MySql(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
        Db::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(&pool).await.unwrap(),
    };
    assert!(rows.iter().all(|(_, strikes, state)| *strikes == 0 && state != "quarantined"), "a node was struck: {rows:?}");
}

/// Outcomes are stored once: a second look, after any late or repeated report had time to
/// arrive, finds every event stored at the same instant.
pub async fn assert_stored_once(deployment: &Deployment, events: usize) {
    let first = stored_at(deployment).await;
    assert_eq!(first.values().filter(|at| at.is_some()).count(), events, "every event has an outcome: {first:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stored_at(deployment).await, first, "no outcome was stored again");
}

