//! The pages' server functions over HTTP: a refused call answers with the status the REST API
//! gives the same error (not Leptos's blanket 500) and the typed error as its body, while a
//! plain form post still gets its redirect back to the page with the error in the URL.

use app::error::AppError;
use app::events::calls::JoinEvent;
use chrono::Duration;
use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, CONTENT_TYPE, REFERER};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{event_input, spawn_app, Backend};

#[tokio::test]
async fn a_refused_server_function_call_has_the_api_status_and_a_form_post_its_redirect() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    let alice = app.new_browser().signed_up("alice").await;
    let mut input = event_input(Duration::hours(2));
    input["capacity"] = json!(1);
    let code = alice.create_event(&input).await;
    let bob = app.new_browser().signed_up("bob").await;
    let join = |accept: &'static str| {
        bob.client
            .post(bob.url(JoinEvent::PATH))
            .header(ACCEPT, accept)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(REFERER, bob.url(&format!("/e/{code}")))
            .body(format!("code={code}"))
            .send()
    };

    // As an island calls it (fetch).
    let response = join("application/json").await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error: AppError = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(error, AppError::EventFull);

    // As a form without script posts it: redirected back to the event page, error in the URL.
    let response = join("text/html,application/xhtml+xml").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.url().path(), format!("/e/{code}"));
    assert!(response.url().query().unwrap_or_default().contains("__err="), "{}", response.url());

    // Nothing changed: Bob is not a participant.
    assert_eq!(alice.event(&code).await["participants"].as_array().unwrap().len(), 1);
}
