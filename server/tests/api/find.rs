//! Finding events: the dashboard's lists hold a page each and say how many more there are; the
//! search filters the caller's own events by name and status, page by page.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, event_input, intervals_tomorrow, on_both_databases, spawn_app, Backend, Browser};

on_both_databases!(lists_page_and_search_filters_by_name_and_status);

async fn search(browser: &Browser, query: &str) -> Value {
    let response = browser.get(&format!("/api/v1/me/events/search?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

fn names(results: &Value) -> Vec<String> {
    results["items"].as_array().unwrap().iter().map(|item| item["name"].as_str().unwrap().to_owned()).collect()
}

async fn lists_page_and_search_filters_by_name_and_status(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    // 25 open lunches an hour or more away, three reviews decided in a few seconds, one party
    // cancelled, and one name with LIKE's wildcards in it.
    for index in 1..=25 {
        let mut input = event_input(Duration::hours(1) + Duration::minutes(index));
        input["name"] = json!(format!("Lunch {index:02}"));
        alice.create_event(&input).await;
    }
    let mut reviews = Vec::new();
    for index in 1..=3 {
        let mut input = event_input(Duration::seconds(2 + index));
        input["name"] = json!(format!("Review {index}"));
        let code = alice.create_event(&input).await;
        alice.put_availability(&code, &intervals_tomorrow(&[(9, 10)])).await;
        reviews.push(code);
    }
    let mut party = event_input(Duration::hours(3));
    party["name"] = json!("Party");
    let party = alice.create_event(&party).await;
    assert_eq!(alice.client.delete(alice.url(&format!("/api/v1/events/{party}"))).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let mut odd = event_input(Duration::hours(4));
    odd["name"] = json!("100%_done");
    alice.create_event(&odd).await;
    for code in &reviews {
        alice.decided_outcome(code).await;
    }

    // The dashboard: a page per list, and how many more.
    let mine = alice.my_events().await;
    assert_eq!(mine["organized"].as_array().unwrap().len(), 20);
    assert_eq!(mine["more"]["organized"], 26 - 20, "25 lunches and the odd one");
    assert_eq!(mine["finished"].as_array().unwrap().len(), 4);
    assert_eq!(mine["more"]["finished"], 0);
    // Finished: the most recently decided or cancelled first (the party was cancelled before
    // any review was decided).
    assert_eq!(mine["finished"][3]["name"], "Party");
    assert!(mine["finished"][0]["name"].as_str().unwrap().starts_with("Review"));

    // By name, any case, page by page.
    let lunches = search(&alice, "q=LUNCH").await;
    assert_eq!((lunches["total"].clone(), lunches["pages"].clone(), lunches["page"].clone()), (json!(25), json!(2), json!(1)));
    assert_eq!(names(&lunches)[0], "Lunch 01", "open ones: soonest deadline first");
    let second = search(&alice, "q=lunch&page=2").await;
    assert_eq!(names(&second), (21..=25).map(|index| format!("Lunch {index:02}")).collect::<Vec<_>>());
    assert_eq!(search(&alice, "q=lunch&page=3").await["items"], json!([]));
    // Any case, beyond ASCII too, on both databases.
    let mut meeting = event_input(Duration::hours(5));
    meeting["name"] = json!("Ärzte-Treffen");
    alice.create_event(&meeting).await;
    assert_eq!(names(&search(&alice, "q=%C3%84RZTE").await), ["Ärzte-Treffen"]);
    assert_eq!(names(&search(&alice, "q=%C3%A4rzte").await), ["Ärzte-Treffen"]);
    // Wildcards are letters here.
    assert_eq!(names(&search(&alice, "q=%25_").await), ["100%_done"]);
    assert_eq!(search(&alice, "q=_").await["total"], 1);
    // By status, and by status and name.
    assert_eq!(names(&search(&alice, "status=cancelled").await), ["Party"]);
    assert_eq!(search(&alice, "status=finished").await["total"], 3);
    assert_eq!(search(&alice, "status=finished&q=review%202").await["total"], 1);
    assert_eq!(search(&alice, "status=open").await["total"], 27);
    assert_eq!(search(&alice, "list=finished&q=party").await["total"], 1);
    // Bob has joined nothing: nothing of Alice's is found for him.
    assert_eq!(search(&bob, "q=lunch").await["total"], 0);
    assert_eq!(bob.post(&format!("/api/v1/events/{}/join", reviews[0])).await.status(), StatusCode::CONFLICT);

    // Bad queries: 400 for what is not a parameter of this route or not of its type, 422 for
    // a value out of range.
    for bad in ["page=x", "status=maybe", "list=all", "sort=name", "page=-1"] {
        assert_eq!(alice.get(&format!("/api/v1/me/events/search?{bad}")).await.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // A NUL would end SQLite's LIKE pattern and match every event.
    for bad in ["page=0".to_owned(), "page=100001".to_owned(), format!("q={}", "x".repeat(121)), "q=%00".to_owned(), "q=lu%00nch".to_owned(), "q=%07".to_owned()] {
        assert_error(alice.get(&format!("/api/v1/me/events/search?{bad}")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    }
    let logged_out = app.new_browser();
    assert_eq!(logged_out.get("/api/v1/me/events/search").await.status(), StatusCode::UNAUTHORIZED);
}
