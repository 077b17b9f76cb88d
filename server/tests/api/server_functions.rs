//! The pages' server functions over HTTP: a refused call answers with the status the REST API
//! gives the same error (not Leptos's blanket 500) and the typed error as its body, while a
//! plain form post still gets its redirect back to the page with the error in the URL, sealed
//! by the server: a URL with an error the server did not seal never reaches a page.

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
    let body = response.bytes().await.unwrap();
    let shape: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(shape["error"]["code"], "event_full", "the REST API's error shape: {shape}");
    let error: AppError = serde_json::from_slice(&body).unwrap();
    assert_eq!(error, AppError::EventFull);

    // As a form without script posts it: redirected back to the event page, the error in the
    // URL with its seal, and the page says it.
    let response = join("text/html,application/xhtml+xml").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.url().path(), format!("/e/{code}"));
    let query = response.url().query().unwrap_or_default().to_owned();
    assert!(query.contains("__err=") && query.contains("__seal="), "{query}");
    assert!(response.text().await.unwrap().contains("This event is full"), "the page shows the sealed error");

    // Nothing changed: Bob is not a participant.
    assert_eq!(alice.event(&code).await["participants"].as_array().unwrap().len(), 1);
}

/// Anyone can write a URL with an error in it; a page only ever shows one the server sealed.
#[tokio::test]
async fn a_link_cannot_make_a_page_say_what_its_author_wants() {
    use leptos::server_fn::error::ServerFnUrlError;
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    let sign_up = <app::accounts::SignUp as ServerFn>::PATH;
    let client = reqwest::Client::new();
    let forged = ServerFnUrlError::new(sign_up, AppError::invalid("username", "Your account is locked: call +1 555 0100"))
        .to_url(&app.url("/signup?next=%2Fnew"))
        .unwrap();

    // Unsealed: redirected to the same page without it, other parameters kept.
    let response = client.get(forged.as_str()).send().await.unwrap();
    assert_eq!(response.url().path(), "/signup");
    assert_eq!(response.url().query(), Some("next=%2Fnew"));
    assert!(!response.text().await.unwrap().contains("555 0100"));

    // A form posted without script: the error comes back sealed and is shown.
    let post = |referer: String| {
        client
            .post(app.url(sign_up))
            .header(ACCEPT, "text/html")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(REFERER, referer)
            .body("username=a%20b&password=password123")
            .send()
    };
    let response = post(app.url("/signup?next=%2Fnew")).await.unwrap();
    let sealed = response.url().clone();
    assert!(sealed.query().unwrap().contains("__seal="), "{sealed}");
    let page = response.text().await.unwrap();
    assert!(page.contains("not a space"), "the page shows the sign-up's own error: {page}");

    // The seal covers the error: another error under the same seal is removed.
    let forged_err = forged.query_pairs().find(|(name, _)| name == "__err").unwrap().1.into_owned();
    let mut tampered = sealed.clone();
    let pairs: Vec<(String, String)> = sealed
        .query_pairs()
        .map(|(name, value)| {
            let value = if name == "__err" { forged_err.clone() } else { value.into_owned() };
            (name.into_owned(), value)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let response = client.get(tampered.as_str()).send().await.unwrap();
    assert_eq!(response.url().query(), Some("next=%2Fnew"));
    assert!(!response.text().await.unwrap().contains("555 0100"));

    // Posting again from the page that shows an error: one error in the URL, the new one.
    let response = post(sealed.to_string()).await.unwrap();
    let errors = response.url().query_pairs().filter(|(name, _)| name == "__err").count();
    assert_eq!(errors, 1, "{}", response.url());
    assert!(response.url().query().unwrap().contains("__seal="));
}
