//! The organizer's controls before the deadline: change the event (answers kept), hide who
//! answered, close answers now, move the deadline; each only by the organizer, only while the
//! event is open, and each followed by the cluster (on the embedded nodes).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use app::events::OutcomeView;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use scheduling::{outcome, Answer, Availability, EventSpec, Interval, IntervalSet, Minute, ParticipantId};
use serde_json::{json, Value};

use crate::helpers::{assert_error, event_input, intervals_tomorrow, on_both_databases, rfc3339, spawn_app, Backend, Browser};

on_both_databases!(
    changes_keep_answers_and_only_the_organizer_makes_them,
    hidden_answers_show_counts_not_names,
    closing_now_and_moving_the_deadline_reach_the_cluster,
    edits_racing_answers_and_the_deadline_decide_right,
);

fn tomorrow_at(hour: u32) -> DateTime<Utc> {
    (Utc::now() + Duration::days(1)).date_naive().and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

/// An instant as the tests send it (`rfc3339` keeps whole seconds).
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    rfc3339(at).parse().unwrap()
}

async fn patch(browser: &Browser, code: &str, body: Value) -> reqwest::Response {
    browser.patch_json(&format!("/api/v1/events/{code}"), &body).await
}

async fn changes_keep_answers_and_only_the_organizer_makes_them(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let carol = app.new_browser().signed_up("carol").await;
    let code = alice.create_event(&event_input(Duration::hours(2))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    let before = alice.event(&code).await;

    // Not the organizer: a participant, someone who never joined. No such event.
    for outsider in [&bob, &carol] {
        assert_error(patch(outsider, &code, json!({ "name": "Mine now" })).await, StatusCode::FORBIDDEN, "not_organizer").await;
        assert_error(outsider.post(&format!("/api/v1/events/{code}/decide")).await, StatusCode::FORBIDDEN, "not_organizer").await;
    }
    assert_error(patch(&alice, "1111111111", json!({ "name": "x" })).await, StatusCode::NOT_FOUND, "event_not_found").await;
    // Bad values: a clear 422 naming the field, and nothing changes.
    for (body, field) in [
        (json!({ "name": "  " }), "name"),
        (json!({ "name": "x".repeat(121) }), "name"),
        (json!({ "description": "bell\u{7}" }), "description"),
        (json!({ "duration_minutes": 4 }), "duration_minutes"),
        (json!({ "duration_minutes": 1441 }), "duration_minutes"),
        (json!({ "deadline": rfc3339(Utc::now() - Duration::minutes(1)) }), "deadline"),
        (json!({ "deadline": "2030-02-30T09:00:00Z" }), "deadline"),
        (json!({ "window_start": null, "window_end": "0000-00-00T00:00:00Z" }), "window_end"),
        (json!({ "window_start": rfc3339(tomorrow_at(9)) }), "window_start"),
        (json!({ "window_start": rfc3339(tomorrow_at(9)), "window_end": rfc3339(tomorrow_at(9) + Duration::minutes(30)) }), "window_end"),
        (json!({ "window_start": rfc3339(Utc::now() - Duration::days(2)), "window_end": rfc3339(Utc::now() - Duration::days(1)) }), "window_end"),
    ] {
        let error = assert_error(patch(&alice, &code, body.clone()).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    assert_eq!(patch(&alice, &code, json!("rename")).await.status(), StatusCode::BAD_REQUEST);
    // A misspelt field is refused, not ignored.
    assert_eq!(patch(&alice, &code, json!({ "answers_hiden": true })).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(patch(&alice, &code, json!({ "duration_minutes": "60" })).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(alice.event(&code).await, before, "refused changes change nothing");

    // The organizer changes everything at once; Bob's answer stays.
    let later = Utc::now() + Duration::hours(5);
    let body = json!({
        "name": "Team dinner", "description": "Somewhere new", "deadline": rfc3339(later), "duration_minutes": 90,
        "window_start": rfc3339(tomorrow_at(8)), "window_end": rfc3339(tomorrow_at(20)),
    });
    let response = patch(&alice, &code, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!((changed["name"].as_str(), changed["description"].as_str(), changed["duration_minutes"].as_u64()), (Some("Team dinner"), Some("Somewhere new"), Some(90)));
    assert_eq!(changed["deadline"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), whole_seconds(later));
    assert_eq!(changed["window_start"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), tomorrow_at(8));
    assert_eq!(changed["answered_count"], 1);
    let mine = bob.event_page(&code).await.my_answer.expect("Bob's answer is kept");
    assert_eq!(mine.free.len(), 1);
    // Both null removes the window; absent fields stay.
    let cleared: Value = patch(&alice, &code, json!({ "window_start": null, "window_end": null })).await.json().await.unwrap();
    assert_eq!((cleared["window_start"].clone(), cleared["window_end"].clone(), cleared["name"].clone()), (Value::Null, Value::Null, json!("Team dinner")));
    // The same change again, or none, is fine and changes nothing.
    let unchanged = alice.event_page(&code).await.event;
    assert_eq!(patch(&alice, &code, json!({ "name": "Team dinner" })).await.status(), StatusCode::OK);
    assert_eq!(patch(&alice, &code, json!({})).await.status(), StatusCode::OK);
    assert_eq!(alice.event_page(&code).await.event, unchanged);
    // Someone who has not joined learns nothing of the answers, not even how many.
    assert_eq!(carol.event(&code).await["answered_count"], 0);
    // A cancelled event cannot be changed.
    let cancel = alice.client.delete(alice.url(&format!("/api/v1/events/{code}"))).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    assert_error(patch(&alice, &code, json!({ "name": "Again" })).await, StatusCode::CONFLICT, "event_cancelled").await;
    assert_error(alice.post(&format!("/api/v1/events/{code}/decide")).await, StatusCode::CONFLICT, "event_cancelled").await;
}

async fn hidden_answers_show_counts_not_names(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let carol = app.new_browser().signed_up("carol").await;
    let code = alice.create_event(&event_input(Duration::hours(1))).await;
    for guest in [&bob, &carol] {
        assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    }
    assert_eq!(patch(&alice, &code, json!({ "answers_hidden": true })).await.status(), StatusCode::OK);
    alice.put_availability(&code, &intervals_tomorrow(&[(9, 10), (14, 15)])).await;
    bob.put_availability(&code, &intervals_tomorrow(&[(9, 10)])).await;
    carol.put_availability(&code, &intervals_tomorrow(&[(14, 15), (16, 17)])).await;

    let seen = bob.event(&code).await;
    assert_eq!((seen["answers_hidden"].clone(), seen["participants"].clone(), seen["answered_count"].clone()), (json!(true), Value::Null, json!(3)));
    assert_eq!(bob.event_page(&code).await.event.participants, None);
    let organizer = alice.event(&code).await;
    assert_eq!(organizer["participants"].as_array().map(Vec::len), Some(3), "the organizer sees who");
    // The heatmap is counts anyway: everyone sees it.
    assert_eq!(bob.event_page(&code).await.heatmap.map(|heatmap| heatmap.answered), Some(3));

    // Decided: names for the organizer only; counts for everyone.
    assert_eq!(alice.post(&format!("/api/v1/events/{code}/decide")).await.status(), StatusCode::OK);
    let for_bob = bob.decided_outcome(&code).await;
    let best = &for_bob["best_effort"];
    assert_eq!((best["available"].clone(), best["unavailable"].clone()), (json!([]), json!([])), "{for_bob}");
    assert_eq!((best["available_count"].clone(), best["unavailable_count"].clone()), (json!(2), json!(1)));
    let for_alice = alice.decided_outcome(&code).await;
    assert_eq!(for_alice["best_effort"]["available"], json!(["alice", "bob"]));
    assert_eq!(bob.my_events().await["finished"][0]["outcome"]["best_effort"]["available"], json!([]));
    assert_eq!(alice.my_events().await["finished"][0]["outcome"]["best_effort"]["available"], json!(["alice", "bob"]));
    // After the deadline the setting cannot change.
    assert_error(patch(&alice, &code, json!({ "answers_hidden": false })).await, StatusCode::CONFLICT, "deadline_passed").await;
}

async fn closing_now_and_moving_the_deadline_reach_the_cluster(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let slot = |start: u32, end: u32| json!({ "start": rfc3339(tomorrow_at(start)), "end": rfc3339(tomorrow_at(end)) });

    // Closed now, an hour early: decided at once, and closed for answers and changes.
    let now_code = alice.create_event(&event_input(Duration::hours(1))).await;
    // Moved from an hour to a few seconds: the coordinator's timer follows.
    let sooner = alice.create_event(&event_input(Duration::hours(1))).await;
    // Moved from a few seconds to later: answers after the first deadline still count.
    let later = alice.create_event(&event_input(Duration::seconds(3))).await;
    for code in [&now_code, &sooner, &later] {
        assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
        alice.put_availability(code, &intervals_tomorrow(&[(9, 12)])).await;
    }
    let extended = Utc::now() + Duration::seconds(8);
    assert_eq!(patch(&alice, &later, json!({ "deadline": rfc3339(extended) })).await.status(), StatusCode::OK);
    let shortened = Utc::now() + Duration::seconds(2);
    assert_eq!(patch(&alice, &sooner, json!({ "deadline": rfc3339(shortened) })).await.status(), StatusCode::OK);
    bob.put_availability(&now_code, &intervals_tomorrow(&[(10, 11)])).await;
    bob.put_availability(&sooner, &intervals_tomorrow(&[(11, 12)])).await;

    let response = alice.post(&format!("/api/v1/events/{now_code}/decide")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let closed: Value = response.json().await.unwrap();
    assert!(closed["deadline"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap() <= Utc::now());
    assert!(matches!(closed["status"].as_str(), Some("deciding" | "finished")), "{closed}");
    assert_error(bob.put_availability(&now_code, &intervals_tomorrow(&[(9, 10)])).await, StatusCode::CONFLICT, "deadline_passed").await;
    assert_error(alice.post(&format!("/api/v1/events/{now_code}/decide")).await, StatusCode::CONFLICT, "deadline_passed").await;
    assert_error(patch(&alice, &now_code, json!({ "deadline": rfc3339(Utc::now() + Duration::hours(1)) })).await, StatusCode::CONFLICT, "deadline_passed")
        .await;
    let scheduled = |start: u32| json!({ "status": "scheduled", "slot": slot(start, start + 1), "common": [slot(start, start + 1)], "if_need_be": [], "if_need_be_count": 0 });
    assert_eq!(bob.decided_outcome(&now_code).await, scheduled(10));
    assert_eq!(bob.decided_outcome(&sooner).await, scheduled(11));

    // Past the first deadline of `later`, it still takes answers and is not decided.
    let first_deadline = Utc::now() + Duration::seconds(1);
    while Utc::now() < first_deadline + Duration::seconds(3) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let pending = bob.get(&format!("/api/v1/events/{later}/outcome")).await.json::<Value>().await.unwrap();
    assert_eq!(pending["status"], "pending");
    assert_eq!(bob.put_availability(&later, &intervals_tomorrow(&[(9, 10)])).await.status(), StatusCode::OK);
    assert_eq!(bob.decided_outcome(&later).await, scheduled(9));
    let stored_after = alice.event(&later).await["deadline"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert_eq!(stored_after, whole_seconds(extended));
}

/// People answer over and over while the organizer changes the length and the window, moves the
/// deadline, and finally closes answers now: the stored outcome is `outcome()` over the last
/// accepted answer of each, with the event as it stood at the end.
async fn edits_racing_answers_and_the_deadline_decide_right(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let mut guests = Vec::new();
    for index in 0..4 {
        guests.push((format!("guest{index}"), app.new_browser().signed_up(&format!("guest{index}")).await));
    }
    let code = alice.create_event(&event_input(Duration::seconds(6))).await;
    for (_, guest) in &guests {
        assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    }
    let accepted: Arc<Mutex<BTreeMap<String, Availability>>> = Arc::default();
    let mut writers = Vec::new();
    for (round, (name, guest)) in guests.into_iter().enumerate() {
        let (code, accepted) = (code.clone(), Arc::clone(&accepted));
        writers.push(tokio::spawn(async move {
            for step in 0u32.. {
                // One of them leaves while the organizer is busy: whether that lands before
                // or after answers close, the outcome must agree with it.
                if round == 0 && step == 6 {
                    let left = guest.post(&format!("/api/v1/events/{code}/leave")).await.status();
                    match left {
                        StatusCode::NO_CONTENT => {
                            accepted.lock().unwrap().remove(&name);
                        }
                        StatusCode::CONFLICT => {}
                        other => panic!("{name} leaving: {other}"),
                    }
                    return;
                }
                let hours = (8 + (round as u32 + step) % 6, 11 + (round as u32 * 2 + step) % 7);
                let (start, end) = (hours.0.min(hours.1), hours.0.max(hours.1) + 1);
                let maybe = (end, end + 1 + step % 2);
                let body = json!({ "intervals": [{ "start": rfc3339(tomorrow_at(start)), "end": rfc3339(tomorrow_at(end)) }],
                    "if_need_be": [{ "start": rfc3339(tomorrow_at(maybe.0)), "end": rfc3339(tomorrow_at(maybe.1)) }] });
                let response = guest.put_availability(&code, &body).await;
                match response.status() {
                    StatusCode::OK => {
                        let set = |a: u32, b: u32| IntervalSet::from_intervals(vec![Interval::new(Minute::floor(tomorrow_at(a)), Minute::floor(tomorrow_at(b))).unwrap()]);
                        accepted.lock().unwrap().insert(name.clone(), Availability::new(set(start, end), set(maybe.0, maybe.1)));
                    }
                    StatusCode::CONFLICT => return,
                    other => panic!("{name}: {other}"),
                }
            }
        }));
    }
    // The organizer keeps changing the event meanwhile, then closes answers.
    for step in 0..8u32 {
        let body = match step % 4 {
            0 => json!({ "duration_minutes": 60 + 30 * (step % 3) }),
            1 => json!({ "window_start": rfc3339(tomorrow_at(9)), "window_end": rfc3339(tomorrow_at(18)) }),
            2 => json!({ "deadline": rfc3339(Utc::now() + Duration::seconds(4)) }),
            _ => json!({ "window_start": null, "window_end": null, "duration_minutes": 120 }),
        };
        assert_eq!(patch(&alice, &code, body).await.status(), StatusCode::OK, "step {step}");
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    assert_eq!(alice.post(&format!("/api/v1/events/{code}/decide")).await.status(), StatusCode::OK);
    for writer in writers {
        writer.await.unwrap();
    }

    let shown = alice.decided_outcome(&code).await;
    let event = alice.event(&code).await;
    let instant = |field: &str| event[field].as_str().map(|text| text.parse::<DateTime<Utc>>().unwrap());
    let window = instant("window_start").zip(instant("window_end")).and_then(|(start, end)| Interval::new(Minute::floor(start), Minute::floor(end)));
    let spec = EventSpec::new(instant("deadline").unwrap(), event["duration_minutes"].as_u64().unwrap() as u32, window).unwrap();
    let accepted = accepted.lock().unwrap();
    let names: Vec<&String> = accepted.keys().collect();
    let answers: Vec<Answer> = accepted.values().enumerate().map(|(index, availability)| Answer::of(ParticipantId(index as u64), 1, availability.clone())).collect();
    let expected = OutcomeView::decided(&outcome(&spec, &answers), |id| names[id.0 as usize].clone());
    assert_eq!(shown, serde_json::to_value(&expected).unwrap(), "{} answers", answers.len());
}
