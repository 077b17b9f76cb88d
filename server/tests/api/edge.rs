//! The web edge: everything a client sends gets a bounded, clear answer. Oversized and
//! malformed input, ambiguous bodies, odd paths, case games with codes and names, and
//! redirects after sign-in.

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, event_input, intervals_tomorrow, new_client, on_both_databases, spawn_app, Backend};

on_both_databases!(
    a_body_with_both_answer_shapes_is_refused_and_keeps_the_answer,
    large_bad_text_answers_cost_a_short_error,
    a_stranger_cannot_make_the_server_read_an_answer,
    event_codes_and_usernames_compare_exactly,
    control_characters_are_refused_in_names_and_descriptions,
    names_and_descriptions_stay_text_on_the_event_page,
    a_window_outside_the_supported_years_is_a_422,
    an_invalid_utf8_path_segment_gets_the_json_error_shape,
    answers_piling_up_behind_a_stalled_write_are_refused_past_the_bound,
);

fn availability_url(code: &str) -> String {
    format!("/api/v1/events/{code}/availability")
}

async fn a_body_with_both_answer_shapes_is_refused_and_keeps_the_answer(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);

    let both = json!({ "intervals": [], "text": "2030-01-07 09:00 - 2030-01-07 12:00", "time_zone": "UTC" });
    let error = assert_error(alice.put_availability(&code, &both).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert!(error["message"].as_str().unwrap().contains("not both"), "{error}");
    let intervals_and_zone = json!({ "intervals": [], "time_zone": "UTC" });
    assert_error(alice.put_availability(&code, &intervals_and_zone).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    let text_without_zone = json!({ "text": "2030-01-07 09:00 - 2030-01-07 12:00" });
    assert_error(alice.put_availability(&code, &text_without_zone).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_error(alice.put_availability(&code, &json!({})).await, StatusCode::BAD_REQUEST, "malformed_request").await;

    // Nothing was stored: the next answer is version 2.
    let next = alice.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.json::<Value>().await.unwrap();
    assert_eq!(next, json!({ "version": 2 }));
}

async fn large_bad_text_answers_cost_a_short_error(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;

    // 1 MB of bad lines: refused before parsing, with a short message; past the body limit
    // (2 MB) a short 4xx too.
    for (lines, status) in [(50_000, StatusCode::UNPROCESSABLE_ENTITY), (150_000, StatusCode::PAYLOAD_TOO_LARGE)] {
        let huge = json!({ "text": "tomorrow at nine-ish\n".repeat(lines), "time_zone": "UTC" });
        let response = alice.put_availability(&code, &huge).await;
        assert_eq!(response.status(), status);
        let body = response.text().await.unwrap();
        assert!(body.len() < 1_000, "{} bytes", body.len());
    }

    // A body the parser chokes on is not quoted back whole.
    let choking = json!({ "intervals": "x".repeat(1_000_000) });
    let response = alice.put_availability(&code, &choking).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().len() < 1_000);

    // Under the size limit but over the line limit.
    let many_lines = json!({ "text": "x\n".repeat(201), "time_zone": "UTC" });
    let response = alice.put_availability(&code, &many_lines).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().len() < 1_000);

    // 200 bad lines: at most 20 are named.
    let bad_lines = json!({ "text": "x\n".repeat(200), "time_zone": "UTC" });
    let error = assert_error(alice.put_availability(&code, &bad_lines).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    let named = error["message"].as_str().unwrap().matches("line ").count();
    assert_eq!(named, 20, "{error}");

    // A 100 KB time zone is not echoed back.
    let zone = "Z".repeat(100_000);
    for (path, body) in [
        (availability_url(&code), json!({ "text": "", "time_zone": zone })),
        ("/api/v1/events".to_owned(), { let mut input = event_input(chrono::Duration::hours(2)); input["time_zone"] = json!(zone); input }),
    ] {
        let response = if path.ends_with("availability") { alice.client.put(alice.url(&path)).json(&body).send().await.unwrap() } else { alice.post_json(&path, &body).await };
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let text = response.text().await.unwrap();
        assert!(text.len() < 1_000, "{path}: {} bytes echoed", text.len());
    }
}

async fn a_stranger_cannot_make_the_server_read_an_answer(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let mallory = app.new_browser().signed_up("mallory").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    // Membership comes first: a bad answer from a stranger is refused as a stranger's.
    let bad = json!({ "text": "x\n".repeat(150), "time_zone": "UTC" });
    assert_error(mallory.put_availability(&code, &bad).await, StatusCode::FORBIDDEN, "not_a_participant").await;
    // A closed event says so before anything else, whoever asks and whatever they send.
    let delete = alice.client.delete(alice.url(&format!("/api/v1/events/{code}"))).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    assert_error(mallory.put_availability(&code, &bad).await, StatusCode::CONFLICT, "event_cancelled").await;
    assert_error(alice.put_availability(&code, &bad).await, StatusCode::CONFLICT, "event_cancelled").await;
    let good = crate::helpers::intervals_tomorrow(&[(9, 10)]);
    assert_error(alice.put_availability(&code, &good).await, StatusCode::CONFLICT, "event_cancelled").await;
}

async fn event_codes_and_usernames_compare_exactly(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    let swapped: String = code.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect();
    assert_ne!(swapped, code);
    assert_error(alice.get(&format!("/api/v1/events/{swapped}")).await, StatusCode::NOT_FOUND, "event_not_found").await;

    // An accented name is not another spelling of `alice`.
    let stranger = app.new_browser();
    assert_error(stranger.log_in("alicé", "password123").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    assert_error(stranger.log_in("ALİCE", "password123").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    assert_eq!(stranger.whoami().await, None);
    // Case still does not matter for the name itself.
    assert_eq!(stranger.log_in("ALICE", "password123").await.status(), StatusCode::OK);
}

async fn control_characters_are_refused_in_names_and_descriptions(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    for (field, value) in [("name", "Lunch\u{0}"), ("name", "Lunch\ttime"), ("name", "Lunch\nBREAK:1"), ("description", "ok\u{7}bell"), ("description", "nul\u{0}")] {
        let mut input = event_input(chrono::Duration::hours(2));
        input[field] = json!(value);
        let error = assert_error(alice.post_json("/api/v1/events", &input).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(error["field"], field, "{value:?}");
    }
    // Tabs and line breaks (also as a browser's CRLF) are fine in a description.
    let mut input = event_input(chrono::Duration::hours(2));
    input["description"] = json!("Agenda:\r\n\t1. food\r\n\t2. more food");
    let response = alice.post_json("/api/v1/events", &input).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["description"], "Agenda:\n\t1. food\n\t2. more food");
}

/// An organizer's markup in the event's name or description is shown as text on the event
/// page, also where Leptos writes children unescaped (`<title>`, the edit form's `<textarea>`).
async fn names_and_descriptions_stay_text_on_the_event_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let mut input = event_input(chrono::Duration::hours(2));
    input["name"] = json!(r#"</title><meta http-equiv="refresh" content="0;url=https://evil.example/">"#);
    input["description"] = json!("hi</textarea><img src=y> &amp; more");
    let code = alice.create_event(&input).await;
    for (viewer, who) in [(&alice, "the organizer"), (&bob, "an invitee")] {
        let page = viewer.get(&format!("/e/{code}")).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(!html.contains("<meta http-equiv"), "{who}: {html}");
        assert!(!html.contains("<img src=y>"), "{who}: {html}");
        assert!(html.contains("<title>&lt;/title&gt;&lt;meta http-equiv=\"refresh\""), "{who}: {html}");
    }
    let organizer_page = alice.get(&format!("/e/{code}")).await.text().await.unwrap();
    assert!(organizer_page.contains(">hi&lt;/textarea&gt;&lt;img src=y&gt; &amp;amp; more</textarea>"), "{organizer_page}");
}

async fn a_window_outside_the_supported_years_is_a_422(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let mut input = event_input(chrono::Duration::hours(2));
    input["window_start"] = json!("0001-01-01T00:00:00Z");
    input["window_end"] = json!("2099-01-01T00:00:00Z");
    let error = assert_error(alice.post_json("/api/v1/events", &input).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(error["field"], "window_start");
}

async fn an_invalid_utf8_path_segment_gets_the_json_error_shape(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let response = alice.get("/api/v1/events/%FF%FE").await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_error(response, StatusCode::BAD_REQUEST, "malformed_request").await;
}

/// `next` after log-in: only this site's pages are followed, and no `next` breaks the reply.
#[tokio::test]
async fn next_after_log_in_leads_only_to_this_sites_pages() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    app.new_browser().signed_up("alice").await;
    let no_redirects = || reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (next, expected) in [
        ("/e/abcDEF1234", "/e/abcDEF1234"),
        ("/%09/evil.example", "/me"),
        ("//evil.example", "/me"),
        ("https://evil.example/", "/me"),
        ("/me%0ASet-Cookie:%20x=y", "/me"),
        ("/e/abc%0D%0ALocation:%20https://evil.example", "/me"),
    ] {
        let client = no_redirects();
        let response = client
            .post(app.url(<app::accounts::LogIn as leptos::server_fn::ServerFn>::PATH))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "text/html")
            .body(format!("username=alice&password=password123&next={next}"))
            .send()
            .await
            .unwrap_or_else(|error| panic!("{next}: the server dropped the connection: {error}"));
        assert_eq!(response.headers().get(LOCATION).map(|value| value.to_str().unwrap()), Some(expected), "{next}");
    }
}

/// The server functions answer a client's mistake with a 400, not a 500.
#[tokio::test]
async fn server_functions_answer_malformed_calls_with_400() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    let client = new_client();
    let path = app.url(<app::accounts::LogIn as leptos::server_fn::ServerFn>::PATH);
    let form = |body: Vec<u8>| client.post(&path).header(CONTENT_TYPE, "application/x-www-form-urlencoded").header(ACCEPT, "application/json").body(body).send();
    for (what, body) in [
        ("a missing field", b"username=alice".to_vec()),
        ("a duplicate key", b"username=alice&username=bob&password=password123".to_vec()),
        ("invalid UTF-8", b"username=%FF%FE&password=password123".to_vec()),
        ("an over-long body", format!("username=alice&password={}", "x".repeat(3 << 20)).into_bytes()),
    ] {
        let response = form(body).await.unwrap();
        assert!(response.status().is_client_error(), "{what}: {}", response.status());
    }
}

/// A browser posting for another site (or another host of the same site) is refused; pages
/// say they may not be framed.
#[tokio::test]
async fn cross_site_posts_are_refused_and_pages_cannot_be_framed() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    app.new_browser().signed_up("alice").await;
    let host = app.url("").trim_start_matches("http://").to_owned();
    let log_in = |headers: Vec<(&'static str, String)>| {
        let mut request = new_client().post(app.url("/api/v1/users/login")).json(&json!({ "username": "alice", "password": "password123" }));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    for headers in [
        vec![("origin", "http://evil.example".to_owned())],
        vec![("origin", format!("http://evil.{host}"))],
        vec![("sec-fetch-site", "same-site".to_owned()), ("origin", format!("http://{host}"))],
        vec![("sec-fetch-site", "cross-site".to_owned())],
    ] {
        let response = log_in(headers.clone()).await.unwrap();
        assert!(response.headers().get("set-cookie").is_none(), "{headers:?}");
        assert_error(response, StatusCode::FORBIDDEN, "cross_site_request").await;
    }
    for headers in [vec![], vec![("origin", format!("http://{host}"))], vec![("sec-fetch-site", "same-origin".to_owned())]] {
        assert_eq!(log_in(headers.clone()).await.unwrap().status(), StatusCode::OK, "{headers:?}");
    }

    let mut nonces = Vec::new();
    for _ in 0..2 {
        let page = app.get("/login").await;
        assert_eq!(page.headers()["x-frame-options"], "DENY");
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        assert_eq!(page.headers()["cross-origin-opener-policy"], "same-origin");
        let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        // Inline scripts run only with this page's nonce, and every inline script has it.
        let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce").to_owned();
        let html = page.text().await.unwrap();
        let scripts = html.matches("<script").count();
        assert!(scripts >= 1, "{html}");
        assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts - html.matches("<script src=").count(), "{html}");
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce is used once");
    let api = app.get("/api/v1/openapi.json").await;
    assert!(api.headers()["content-security-policy"].to_str().unwrap().starts_with("frame-ancestors"));
}

/// A participant's answers that pile up behind a stalled write (here another connection holds
/// the event's row, as a long transaction would) wait, four at most; the next is refused at
/// once with 503 and `Retry-After`, and the waiting ones are all written, each its own
/// version, once the write can go on.
async fn answers_piling_up_behind_a_stalled_write_are_refused_past_the_bound(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    let db = server::db::Db::connect(&app.database_url()).await.unwrap();
    const HOLD: &str = "UPDATE event SET generation = generation WHERE code = ?";
    // Held well under the server's SQLite busy timeout (5 s).
    let holder = match &db {
        server::db::Db::MySql(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(HOLD).bind(&code).execute(&mut *tx).await.unwrap();
            Held::MySql(tx)
        }
        server::db::Db::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(HOLD).bind(&code).execute(&mut *tx).await.unwrap();
            Held::Sqlite(tx)
        }
    };
    let save = |hour: u32| {
        let alice = alice.clone();
        let code = code.clone();
        tokio::spawn(async move {
            let response = alice.put_availability(&code, &intervals_tomorrow(&[(hour, hour + 1)])).await;
            let retry_after = response.headers().get("retry-after").map(|value| value.to_str().unwrap().to_owned());
            (response.status(), retry_after, response.json::<Value>().await.unwrap())
        })
    };
    // The first is taken by the event's writer, which waits for the row.
    let first = save(8);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let more: Vec<_> = (9..14).map(save).collect();
    // The refusal comes at once; the four waiting ones cannot finish before the row is free.
    let mut waited = 0;
    while !more.iter().any(|saved| saved.is_finished()) && waited < 3_000 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 10;
    }
    // The one refused is the fifth to arrive, so all five have arrived by now.
    match holder {
        Held::MySql(tx) => tx.rollback().await.unwrap(),
        Held::Sqlite(tx) => tx.rollback().await.unwrap(),
    }
    let mut versions = Vec::new();
    let mut refused = 0;
    for saved in std::iter::once(first).chain(more) {
        let (status, retry_after, body) = saved.await.unwrap();
        match status {
            StatusCode::OK => versions.push(body["version"].as_u64().unwrap()),
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                assert_eq!(body["error"]["code"], "busy", "{body}");
                assert_eq!(retry_after.as_deref(), Some("1"));
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    versions.sort_unstable();
    assert_eq!(refused, 1, "one past the four waiting is refused");
    assert_eq!(versions, [1, 2, 3, 4, 5], "the first and the four waiting are each written");
    // And the event takes answers as before.
    let response = alice.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await;
    assert_eq!(response.json::<Value>().await.unwrap()["version"], 6);
}

enum Held {
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}
