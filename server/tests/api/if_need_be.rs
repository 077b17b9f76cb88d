//! "If need be": the third state of an answered minute, through REST (intervals and text), the
//! event page, the heatmap, and the cluster's decision at the deadline.

use app::events::SlotView;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, event_input, on_both_databases, rfc3339, spawn_app, Backend};

on_both_databases!(three_states_through_rest_text_and_the_page, the_cluster_decides_with_if_need_be_time);

fn tomorrow_at(hour: u32) -> DateTime<Utc> {
    (Utc::now() + Duration::days(1)).date_naive().and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

fn slot(start: u32, end: u32) -> Value {
    json!({ "start": rfc3339(tomorrow_at(start)), "end": rfc3339(tomorrow_at(end)) })
}

fn slots(hours: &[(u32, u32)]) -> Value {
    Value::Array(hours.iter().map(|&(start, end)| slot(start, end)).collect())
}

fn views(hours: &[(u32, u32)]) -> Vec<SlotView> {
    hours.iter().map(|&(start, end)| SlotView { start: tomorrow_at(start), end: tomorrow_at(end) }).collect()
}

/// Free `free`, if need be `maybe`, tomorrow (UTC).
fn answer(free: &[(u32, u32)], maybe: &[(u32, u32)]) -> Value {
    json!({ "intervals": slots(free), "if_need_be": slots(maybe) })
}

async fn three_states_through_rest_text_and_the_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&event_input(Duration::hours(2))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);

    // Free 9–12, if need be 11–14: where they overlap, free counts.
    assert_eq!(bob.put_availability(&code, &answer(&[(9, 12)], &[(11, 14)])).await.status(), StatusCode::OK);
    let mine = bob.event_page(&code).await.my_answer.expect("Bob answered");
    assert_eq!((mine.free, mine.if_need_be), (views(&[(9, 12)]), views(&[(12, 14)])));

    // The text format: a trailing `?` marks if need be, in the zone given.
    let day = (Utc::now() + Duration::days(1)).date_naive();
    let text = format!("{day} 10:00 - {day} 11:00\n{day} 11:00 - {day} 13:00 ?\n");
    let body = json!({ "text": text, "time_zone": "Europe/London" });
    assert_eq!(alice.put_availability(&code, &body).await.status(), StatusCode::OK);
    let london = |hour: u32| {
        let local = day.and_hms_opt(hour, 0, 0).unwrap();
        scheduling::text::resolve_local(local, "Europe/London".parse().unwrap()).unwrap()
    };
    let mine = alice.event_page(&code).await.my_answer.expect("Alice answered");
    assert_eq!(mine.free, vec![SlotView { start: london(10), end: london(11) }]);
    assert_eq!(mine.if_need_be, vec![SlotView { start: london(11), end: london(13) }]);

    // The heatmap counts free people and, apart, those who could come only if need be.
    alice.put_availability(&code, &answer(&[(10, 11)], &[(11, 13)])).await;
    let heatmap = bob.event_page(&code).await.heatmap.expect("a participant sees the heatmap");
    let counts: Vec<(DateTime<Utc>, DateTime<Utc>, u32, u32)> =
        heatmap.segments.iter().map(|segment| (segment.start, segment.end, segment.free, segment.if_need_be)).collect();
    let at = tomorrow_at;
    assert_eq!(counts, vec![(at(9), at(10), 1, 0), (at(10), at(11), 2, 0), (at(11), at(12), 1, 1), (at(12), at(13), 0, 2), (at(13), at(14), 0, 1)]);
    let live = bob.get(&format!("/api/v1/events/{code}")).await.json::<Value>().await.unwrap();
    assert_eq!(live["participant_count"], 2);

    // Bad input: a clear 422 and nothing changes.
    let before = bob.event_page(&code).await.my_answer;
    let both = json!({ "text": text, "time_zone": "UTC", "if_need_be": slots(&[(9, 10)]) });
    let error = assert_error(bob.put_availability(&code, &both).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(error["field"], "if_need_be", "{error}");
    let backwards = json!({ "intervals": [], "if_need_be": [{ "start": rfc3339(at(12)), "end": rfc3339(at(11)) }] });
    let error = assert_error(bob.put_availability(&code, &backwards).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(error["field"], "if_need_be", "{error}");
    let many: Vec<Value> = (0..101).map(|minute| json!({ "start": rfc3339(at(9) + Duration::minutes(2 * minute)), "end": rfc3339(at(9) + Duration::minutes(2 * minute + 1)) })).collect();
    let too_many = json!({ "intervals": many, "if_need_be": many });
    assert_error(bob.put_availability(&code, &too_many).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    // 150 free minutes inside one if-need-be span: 150 + 151 pieces once stored.
    let minutes: Vec<Value> = (0..150).map(|minute| json!({ "start": rfc3339(at(9) + Duration::minutes(2 * minute)), "end": rfc3339(at(9) + Duration::minutes(2 * minute + 1)) })).collect();
    let split = json!({ "intervals": minutes, "if_need_be": [{ "start": rfc3339(at(8)), "end": rfc3339(at(18)) }] });
    let error = assert_error(bob.put_availability(&code, &split).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(error["field"], "intervals", "{error}");
    assert_eq!(bob.put_availability(&code, &json!({ "intervals": [], "if_need_be": null })).await.status(), StatusCode::BAD_REQUEST);
    let only_maybe = json!({ "if_need_be": slots(&[(9, 10)]) });
    assert_eq!(bob.put_availability(&code, &only_maybe).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bob.event_page(&code).await.my_answer, before, "refused answers change nothing");

    // 100 free and 100 if need be (six hours later) is the most, and accepted.
    let later: Vec<Value> = many[..100]
        .iter()
        .map(|interval| {
            let shift = |key: &str| rfc3339(interval[key].as_str().unwrap().parse::<DateTime<Utc>>().unwrap() + Duration::hours(6));
            json!({ "start": shift("start"), "end": shift("end") })
        })
        .collect();
    let body = json!({ "intervals": many[..100], "if_need_be": later });
    assert_eq!(bob.put_availability(&code, &body).await.status(), StatusCode::OK);
    let mine = bob.event_page(&code).await.my_answer.unwrap();
    assert_eq!((mine.free.len(), mine.if_need_be.len()), (100, 100));
}

async fn the_cluster_decides_with_if_need_be_time(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let carol = app.new_browser().signed_up("carol").await;
    let deadline_in = Duration::seconds(3);

    // Nobody is free at one time: the earliest hour everyone can make if need be, naming Alice.
    let stretched = alice.create_event(&event_input(deadline_in)).await;
    // Everyone could make 9–10 if need be, but 15–16 suits everyone freely: that wins.
    let freely = alice.create_event(&event_input(deadline_in)).await;
    // Not even if need be: the best effort counts who can come, then fewest if need be.
    let best = alice.create_event(&event_input(deadline_in)).await;
    for code in [&stretched, &freely, &best] {
        for guest in [&bob, &carol] {
            assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
        }
    }
    alice.put_availability(&stretched, &answer(&[(9, 10)], &[(13, 14)])).await;
    bob.put_availability(&stretched, &answer(&[(13, 15)], &[])).await;
    carol.put_availability(&stretched, &answer(&[(12, 14)], &[])).await;

    alice.put_availability(&freely, &answer(&[(15, 16)], &[(9, 10)])).await;
    bob.put_availability(&freely, &answer(&[(15, 16)], &[(9, 10)])).await;
    carol.put_availability(&freely, &answer(&[(9, 10), (15, 16)], &[])).await;

    alice.put_availability(&best, &answer(&[(9, 10)], &[])).await;
    bob.put_availability(&best, &answer(&[(15, 16)], &[(9, 10)])).await;
    carol.put_availability(&best, &answer(&[(15, 16), (17, 18)], &[])).await;

    assert_eq!(
        bob.decided_outcome(&stretched).await,
        json!({ "status": "scheduled", "slot": slot(13, 14), "common": [slot(13, 14)], "if_need_be": ["alice"], "if_need_be_count": 1 })
    );
    assert_eq!(
        bob.decided_outcome(&freely).await,
        json!({ "status": "scheduled", "slot": slot(15, 16), "common": [slot(15, 16)], "if_need_be": [], "if_need_be_count": 0 })
    );
    // 9–10: Alice free, Bob if need be; 15–16: Bob and Carol free. Two each; 15–16 needs
    // nobody's if-need-be time, so it is the better one.
    assert_eq!(
        bob.decided_outcome(&best).await,
        json!({ "status": "no_solution", "best_effort": {
            "slot": slot(15, 16), "available": ["bob", "carol"], "if_need_be": [], "unavailable": ["alice"],
            "available_count": 2, "if_need_be_count": 0, "unavailable_count": 1 } })
    );
}
