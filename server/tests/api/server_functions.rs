//! The pages' server functions over HTTP: a refused call answers with the status the REST API
//! gives the same error (not Leptos's blanket 500) and the typed error as its body, while a
//! plain form post still gets its redirect back to the page with the error in the URL, sealed
//! by the server: a URL with an error the server did not seal never reaches a page.

use app::error::AppError;
use app::events::calls::JoinEvent;
use chrono::Duration;
use leptos::server_fn::ServerFn;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, REFERER};
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

/// Anyone can write a URL with an error in it, or post a form to get one: a page shows an
/// error from its URL only to the browser the server sealed it for.
#[tokio::test]
async fn a_link_cannot_make_a_page_say_what_its_author_wants() {
    use leptos::server_fn::error::ServerFnUrlError;
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    let sign_up = <app::accounts::SignUp as ServerFn>::PATH;
    let spoof = AppError::invalid("username", "Your account is locked: call +1 555 0100");
    let forged = ServerFnUrlError::new(sign_up, spoof).to_url(&app.url("/signup?next=%2Fnew")).unwrap();
    let page_text = |client: reqwest::Client, url: String| async move {
        let response = client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };

    // Unsealed: the page is served as if the error were not in its URL.
    assert!(!page_text(reqwest::Client::new(), forged.to_string()).await.contains("555 0100"));

    // A form posted without script: the error comes back sealed and is shown.
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let post = |client: &reqwest::Client, referer: String, username: &str| {
        client
            .post(app.url(sign_up))
            .header(ACCEPT, "text/html")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(REFERER, referer)
            .body(format!("username={username}&password=password123"))
            .send()
    };
    let response = post(&browser, app.url("/signup?next=%2Fnew"), "a%20b").await.unwrap();
    let sealed = response.url().clone();
    assert_eq!(sealed.path(), "/signup");
    assert!(sealed.query().unwrap().starts_with("next=%2Fnew&__path="), "{sealed}");
    assert!(sealed.query().unwrap().contains("__seal="), "{sealed}");
    assert!(response.text().await.unwrap().contains("not a space"), "the page shows the sign-up's own error");
    // A reload shows it again.
    assert!(page_text(browser.clone(), sealed.to_string()).await.contains("not a space"));

    // The same sealed URL in another browser (sent to a victim): not shown.
    assert!(!page_text(reqwest::Client::new(), sealed.to_string()).await.contains("not a space"));

    // The seal covers the error: another error under the same seal is not shown.
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
    assert!(!page_text(browser.clone(), tampered.to_string()).await.contains("555 0100"));

    // An attacker posts from a page URL holding their own error (a relative Referer, which
    // Leptos copies as it is): what comes back holds the server's error only.
    let attacker = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let relative = format!("/signup?{}", forged.query().unwrap());
    let response = post(&attacker, relative, "a%20b").await.unwrap();
    let errors = response.url().query_pairs().filter(|(name, _)| name == "__err").count();
    assert_eq!(errors, 1, "{}", response.url());
    let page = response.text().await.unwrap();
    assert!(!page.contains("555 0100") && page.contains("not a space"), "{page}");

    // Posting again from a page that shows an error: one error in the URL, the new one.
    let response = post(&browser, sealed.to_string(), "ab").await.unwrap();
    let errors = response.url().query_pairs().filter(|(name, _)| name == "__err").count();
    assert_eq!(errors, 1, "{}", response.url());
    assert!(response.text().await.unwrap().contains("at least 3 characters"));
}

/// Error parameters never lead anywhere: no redirect is built from a request's URL, and the
/// REST API answers as usual.
#[tokio::test]
async fn error_parameters_cause_no_redirects() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for path in ["//evil.example/?__err=x", "/%5Cevil.example/?__err=x&__path=y", "/signup?__err=x"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert!(!response.status().is_redirection(), "{path}: {:?}", response.headers().get(LOCATION));
    }
    let response = client.get(app.url("/api/v1/events/nope?__err=x")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the API's own answer (not logged in)");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");

    // A form post that names another site as its page stays on ours (the path only).
    let response = client
        .post(app.url(<app::accounts::SignUp as ServerFn>::PATH))
        .header(ACCEPT, "text/html")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(REFERER, "https://evil.example/phish")
        .body("username=a%20b&password=password123")
        .send()
        .await
        .unwrap();
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(location.starts_with("/phish?__path="), "{location}");
}
