//! The event page's server function, which every open page polls. Its participants, answers
//! and heatmap are cached per event, so this proves the cache never outlives a write: each
//! join, answer, edit and leave shows on the very next poll, the writer's and everyone else's.

use app::events::{AnswerView, EventPageData, SlotView};
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;

use crate::helpers::{event_input, intervals_tomorrow, on_both_databases, spawn_app, Backend, Browser};

on_both_databases!(every_change_shows_on_the_next_poll);

async fn poll(browser: &Browser, code: &str) -> EventPageData {
    browser.event_page(code).await
}

fn tomorrow_at(hour: u32) -> DateTime<Utc> {
    (Utc::now() + Duration::days(1)).date_naive().and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

fn slots(hours: &[(u32, u32)]) -> Option<AnswerView> {
    let free = hours.iter().map(|&(start, end)| SlotView { start: tomorrow_at(start), end: tomorrow_at(end) }).collect();
    Some(AnswerView { free, if_need_be: Vec::new() })
}

fn answered(page: &EventPageData) -> Vec<(String, bool)> {
    let participants = page.event.participants.as_ref().expect("a member sees the participants");
    participants.iter().map(|p| (p.username.clone(), p.answered)).collect()
}

async fn every_change_shows_on_the_next_poll(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let carol = app.new_browser().signed_up("carol").await;
    let code = alice.create_event(&event_input(Duration::hours(2))).await;

    let page = poll(&alice, &code).await;
    assert_eq!(answered(&page), [("alice".to_owned(), false)]);
    assert_eq!(page.heatmap.as_ref().map(|heatmap| heatmap.answered), Some(0));
    assert_eq!(poll(&alice, &code).await, page, "nothing changed, the same page");

    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(answered(&poll(&alice, &code).await), [("alice".to_owned(), false), ("bob".to_owned(), false)]);

    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    let page = poll(&alice, &code).await;
    assert_eq!(answered(&page), [("alice".to_owned(), false), ("bob".to_owned(), true)]);
    assert_eq!(page.heatmap.as_ref().map(|heatmap| heatmap.answered), Some(1));
    assert_eq!(page.my_answer, None, "Alice has not answered");
    assert_eq!(poll(&bob, &code).await.my_answer, slots(&[(9, 12)]));

    // An edit: the new answer, not the cached old one, for Bob and in everyone's heatmap.
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(14, 16)])).await.status(), StatusCode::OK);
    assert_eq!(poll(&bob, &code).await.my_answer, slots(&[(14, 16)]));
    let heatmap = poll(&alice, &code).await.heatmap.expect("a participant sees the heatmap");
    let free: Vec<_> = heatmap.segments.iter().map(|segment| (segment.start, segment.end, segment.free)).collect();
    assert_eq!(free, [(tomorrow_at(14), tomorrow_at(16), 1)]);

    // Someone who has not joined sees the event but nobody's answers.
    let page = poll(&carol, &code).await;
    assert_eq!((page.event.participants, page.my_answer, page.heatmap), (None, None, None));

    assert_eq!(bob.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
    let page = poll(&alice, &code).await;
    assert_eq!(answered(&page), [("alice".to_owned(), false)]);
    assert_eq!(page.heatmap.map(|heatmap| heatmap.answered), Some(0), "Bob's answer left with him");
}
