//! Events and answers over REST: the flow, every rule's error, and who may see and do what.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, codes, event_input, intervals_tomorrow, on_both_databases, rfc3339, spawn_app, Backend};

on_both_databases!(
    create_join_answer_edit_and_leave,
    bad_event_input_is_refused_and_changes_nothing,
    bad_answers_are_refused_and_change_nothing,
    only_members_see_participants_and_only_participants_answer,
    a_full_event_refuses_to_join,
    answers_after_the_deadline_are_refused,
    the_organizer_cancels,
    logged_out_clients_get_401_everywhere,
    the_openapi_document_describes_every_route,
);

async fn create_join_answer_edit_and_leave(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;

    let code = alice.create_event(&event_input(Duration::hours(2))).await;
    assert_eq!(code.len(), 10);
    let view = alice.event(&code).await;
    assert_eq!(view["name"], "Team lunch");
    assert_eq!(view["organizer"], "alice");
    assert_eq!(view["status"], "open");
    assert_eq!(view["is_organizer"], true);
    assert_eq!(view["participants"], json!([{ "username": "alice", "answered": false }]));

    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    // Joining twice is harmless.
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    let response = bob.put_availability(&code, &intervals_tomorrow(&[(9, 12), (14, 16)])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "version": 1 }));
    // An edit in the seed text format is the next version.
    let day = (Utc::now() + Duration::days(1)).date_naive();
    let text = json!({ "text": format!("{day} 10:00 - {day} 11:00\n"), "time_zone": "Europe/Berlin" });
    assert_eq!(bob.put_availability(&code, &text).await.json::<Value>().await.unwrap(), json!({ "version": 2 }));

    let view = alice.event(&code).await;
    assert_eq!(view["participant_count"], 2);
    assert_eq!(view["participants"][1], json!({ "username": "bob", "answered": true }));
    assert_eq!(codes(&alice.my_events().await["organized"]), vec![code.as_str()]);
    let bobs = bob.my_events().await;
    assert_eq!(codes(&bobs["answered"]), vec![code.as_str()]);
    assert!(codes(&bobs["pending"]).is_empty());

    assert_eq!(bob.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(alice.event(&code).await["participants"], json!([{ "username": "alice", "answered": false }]));
    assert!(codes(&bob.my_events().await["answered"]).is_empty());
    // The organizer cannot leave.
    assert_error(alice.post(&format!("/api/v1/events/{code}/leave")).await, StatusCode::CONFLICT, "organizer_cannot_leave").await;
}

async fn bad_event_input_is_refused_and_changes_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let soon = Utc::now() + Duration::hours(1);
    let with = |key: &str, value: Value| {
        let mut input = event_input(Duration::hours(1));
        input[key] = value;
        input
    };
    let cases = [
        (with("name", json!("   ")), "name"),
        (with("name", json!("x".repeat(121))), "name"),
        (with("description", json!("x".repeat(2001))), "description"),
        (with("deadline", json!(rfc3339(Utc::now() - Duration::minutes(1)))), "deadline"),
        (with("duration_minutes", json!(4)), "duration_minutes"),
        (with("duration_minutes", json!(1441)), "duration_minutes"),
        (with("window_start", json!(rfc3339(soon))), "window_start"),
        (with("capacity", json!(0)), "capacity"),
        (with("time_zone", json!("Mars/Olympus_Mons")), "time_zone"),
    ];
    for (input, field) in cases {
        let error = assert_error(alice.post_json("/api/v1/events", &input).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(error["field"], field, "{input}");
    }
    let mut short_window = event_input(Duration::hours(1));
    short_window["window_start"] = json!(rfc3339(soon + Duration::hours(1)));
    short_window["window_end"] = json!(rfc3339(soon + Duration::minutes(90)));
    let error = assert_error(alice.post_json("/api/v1/events", &short_window).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(error["message"], "The window is shorter than the meeting.");
    for body in ["{", r#"{"name": "x"}"#, r#"{"name": "x", "deadline": "tomorrow", "duration_minutes": 30}"#] {
        let response = alice.client.post(alice.url("/api/v1/events")).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "malformed_request").await;
    }
    let none = json!({ "organized": 0, "pending": 0, "answered": 0, "finished": 0 });
    assert_eq!(alice.my_events().await, json!({ "organized": [], "pending": [], "answered": [], "finished": [], "more": none }));
}

async fn bad_answers_are_refused_and_change_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(Duration::hours(2))).await;
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(9, 10)])).await.status(), StatusCode::OK);

    let day = (Utc::now() + Duration::days(1)).date_naive();
    let too_many: Vec<Value> = (0..201)
        .map(|minute| {
            let start = day.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::minutes(minute * 2);
            json!({ "start": rfc3339(start), "end": rfc3339(start + Duration::minutes(1)) })
        })
        .collect();
    let cases = [
        (intervals_tomorrow(&[(12, 11)]), "intervals", "Interval 1: the end must be at least a minute after the start."),
        (json!({ "intervals": too_many }), "intervals", "At most 200 intervals in all."),
        (
            json!({ "text": format!("{day} 09:00 - {day} 10:00\nnine to five\n"), "time_zone": "UTC" }),
            "text",
            "line 2: expected `YYYY-MM-DD HH:mm - YYYY-MM-DD HH:mm`, and `?` after it for if need be",
        ),
        (json!({ "text": "", "time_zone": "Nowhere/City" }), "time_zone", "Unknown time zone \"Nowhere/City\"."),
    ];
    for (body, field, message) in cases {
        let error = assert_error(alice.put_availability(&code, &body).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!((error["field"].as_str().unwrap(), error["message"].as_str().unwrap()), (field, message));
    }
    assert_error(alice.put_availability(&code, &json!({ "nope": 1 })).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_error(alice.put_availability("ZZZZZZZZZZ", &intervals_tomorrow(&[(9, 10)])).await, StatusCode::NOT_FOUND, "event_not_found").await;
    assert_error(alice.put_availability("0OIl000000", &intervals_tomorrow(&[(9, 10)])).await, StatusCode::NOT_FOUND, "event_not_found").await;
    // A path that is no route: JSON 404, not a page (and no panic).
    assert_error(alice.put_availability("../x", &intervals_tomorrow(&[(9, 10)])).await, StatusCode::NOT_FOUND, "no_such_route").await;
    // Still version 1: the next good answer is version 2.
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(9, 11)])).await.json::<Value>().await.unwrap(), json!({ "version": 2 }));
    // An empty answer ("no time works for me") is valid.
    assert_eq!(alice.put_availability(&code, &json!({ "intervals": [] })).await.status(), StatusCode::OK);
}

async fn only_members_see_participants_and_only_participants_answer(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let mallory = app.new_browser().signed_up("mallory").await;
    let code = alice.create_event(&event_input(Duration::hours(2))).await;

    let view = mallory.event(&code).await;
    assert_eq!(view["name"], "Team lunch", "anyone with the code may see what they would join");
    assert_eq!(view["participants"], Value::Null);
    assert_eq!(view["is_participant"], false);
    assert_error(mallory.put_availability(&code, &intervals_tomorrow(&[(9, 10)])).await, StatusCode::FORBIDDEN, "not_a_participant").await;
    assert_error(mallory.post(&format!("/api/v1/events/{code}/leave")).await, StatusCode::FORBIDDEN, "not_a_participant").await;
    let delete = mallory.client.delete(mallory.url(&format!("/api/v1/events/{code}"))).send().await.unwrap();
    assert_error(delete, StatusCode::FORBIDDEN, "not_organizer").await;
    assert_eq!(alice.event(&code).await["status"], "open");
    assert!(codes(&mallory.my_events().await["pending"]).is_empty(), "other users' events are not in my lists");
}

async fn a_full_event_refuses_to_join(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let carol = app.new_browser().signed_up("carol").await;
    let mut input = event_input(Duration::hours(2));
    input["capacity"] = json!(2);
    let code = alice.create_event(&input).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_error(carol.post(&format!("/api/v1/events/{code}/join")).await, StatusCode::CONFLICT, "event_full").await;
    assert_eq!(alice.event(&code).await["participant_count"], 2);
    // A seat freed by leaving can be taken.
    bob.post(&format!("/api/v1/events/{code}/leave")).await;
    assert_eq!(carol.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(codes(&carol.my_events().await["pending"]), vec![code.as_str()]);
}

async fn answers_after_the_deadline_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&event_input(Duration::seconds(2))).await;
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(9, 10)])).await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_error(alice.put_availability(&code, &intervals_tomorrow(&[(9, 11)])).await, StatusCode::CONFLICT, "deadline_passed").await;
    assert_error(bob.post(&format!("/api/v1/events/{code}/join")).await, StatusCode::CONFLICT, "deadline_passed").await;
    let view = alice.event(&code).await;
    assert!(["deciding", "finished"].contains(&view["status"].as_str().unwrap()), "{view}");
    assert_eq!(view["participants"], json!([{ "username": "alice", "answered": true }]));
}

async fn the_organizer_cancels(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&event_input(Duration::hours(2))).await;
    bob.post(&format!("/api/v1/events/{code}/join")).await;
    let delete = alice.client.delete(alice.url(&format!("/api/v1/events/{code}"))).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_eq!(bob.event(&code).await["status"], "cancelled");
    assert_eq!(codes(&bob.my_events().await["finished"]), vec![code.as_str()]);
    assert_eq!(codes(&alice.my_events().await["finished"]), vec![code.as_str()]);
    assert_error(bob.put_availability(&code, &intervals_tomorrow(&[(9, 10)])).await, StatusCode::CONFLICT, "event_cancelled").await;
}

async fn logged_out_clients_get_401_everywhere(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(Duration::hours(2))).await;
    let stranger = app.new_browser();
    let event = format!("/api/v1/events/{code}");
    let responses = [
        stranger.post_json("/api/v1/events", &event_input(Duration::hours(1))).await,
        stranger.get(&event).await,
        stranger.post(&format!("{event}/join")).await,
        stranger.post(&format!("{event}/leave")).await,
        stranger.put_availability(&code, &intervals_tomorrow(&[(9, 10)])).await,
        stranger.client.delete(stranger.url(&event)).send().await.unwrap(),
        stranger.get("/api/v1/me/events").await,
        stranger.get("/api/v1/users/me/settings").await,
        stranger.client.put(stranger.url("/api/v1/users/me/settings")).json(&json!({ "email": "x@example.org" })).send().await.unwrap(),
        stranger.post("/api/v1/users/me/email/verification").await,
        stranger.post_json("/api/v1/users/me/password", &json!({ "current_password": "password123", "new_password": "password456" })).await,
        stranger.client.delete(stranger.url("/api/v1/users/me")).json(&json!({ "password": "password123" })).send().await.unwrap(),
        stranger.get("/api/v1/notifications").await,
        stranger.post_json("/api/v1/notifications/read", &json!({ "up_to": 1_000_000 })).await,
    ];
    for response in responses {
        assert_error(response, StatusCode::UNAUTHORIZED, "not_logged_in").await;
    }
    assert_eq!(alice.event(&code).await["status"], "open");
}

/// The document is generated from the handlers: every route is in it with its method, and the
/// schemas the routes name are defined.
async fn the_openapi_document_describes_every_route(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."), "{}", document["openapi"]);
    let mut routes: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| methods.as_object().unwrap().keys().map(move |method| format!("{method} {path}")))
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            "delete /api/v1/events/{code}",
            "delete /api/v1/users/me",
            "get /api/v1/events/{code}",
            "get /api/v1/events/{code}/calendar.ics",
            "get /api/v1/events/{code}/live",
            "get /api/v1/events/{code}/outcome",
            "get /api/v1/me/events",
            "get /api/v1/me/events/search",
            "get /api/v1/notifications",
            "get /api/v1/users/me",
            "get /api/v1/users/me/settings",
            "patch /api/v1/events/{code}",
            "post /api/v1/events",
            "post /api/v1/events/{code}/availability/from-calendar",
            "post /api/v1/events/{code}/decide",
            "post /api/v1/events/{code}/join",
            "post /api/v1/events/{code}/leave",
            "post /api/v1/notifications/read",
            "post /api/v1/users/email/verify",
            "post /api/v1/users/login",
            "post /api/v1/users/logout",
            "post /api/v1/users/me/email/verification",
            "post /api/v1/users/me/password",
            "post /api/v1/users/password-reset",
            "post /api/v1/users/password-reset/confirm",
            "post /api/v1/users/signup",
            "put /api/v1/events/{code}/availability",
            "put /api/v1/users/me/settings",
        ]
    );
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in ["AvailabilityInput", "CalendarSuggestion", "CreateEventInput", "EditEventInput", "EventResults", "ErrorBody", "EventView", "MyEvents", "OutcomeView", "UserView", "AccountSettings", "NotificationList"] {
        assert!(schemas.contains_key(schema), "{schema} is defined");
    }
    // A misspelt field of a change is refused (400), so the document must not invite extra ones.
    assert_eq!(schemas["EditEventInput"]["additionalProperties"], json!(false));
    // Every `$ref` points at a defined schema.
    let text = document.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "{name} is referenced but not defined");
    }

    // The contract is precise: the cookie, the limits, and every status a route can answer.
    assert_eq!(document["components"]["securitySchemes"]["session_cookie"]["in"], "cookie");
    assert_eq!(document["components"]["securitySchemes"]["session_cookie"]["name"], "whenly_session");
    let statuses = |method: &str, path: &str| -> Vec<String> {
        document["paths"][path][method]["responses"].as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(statuses("post", "/api/v1/users/signup"), ["201", "400", "403", "409", "413", "422", "429", "503"]);
    assert_eq!(statuses("put", "/api/v1/events/{code}/availability"), ["200", "400", "401", "403", "404", "409", "413", "422", "503"]);
    for (method, path) in [("get", "/api/v1/events/{code}"), ("post", "/api/v1/events"), ("get", "/api/v1/me/events")] {
        assert_eq!(document["paths"][path][method]["security"][0]["session_cookie"], json!([]), "{method} {path}");
    }
    let code = &document["paths"]["/api/v1/events/{code}"]["get"]["parameters"][0]["schema"];
    assert_eq!(code["pattern"], "^[1-9A-HJ-NP-Za-km-z]{10}$", "{code}");
    let create = &schemas["CreateEventInput"]["properties"];
    assert_eq!((&create["duration_minutes"]["minimum"], &create["duration_minutes"]["maximum"]), (&json!(5), &json!(1440)));
    assert_eq!(create["name"]["maxLength"], 120);
    let credentials = &schemas["CredentialsInput"]["properties"];
    assert_eq!((&credentials["username"]["minLength"], &credentials["username"]["maxLength"]), (&json!(3), &json!(32)));
}
