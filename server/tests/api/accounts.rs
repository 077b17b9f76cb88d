//! Accounts over REST: sign-up, log-in, log-out, the rules, and throttling.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, new_client, on_both_databases, spawn_app, spawn_app_with, Backend, TestSettings};

on_both_databases!(
    sign_up_log_out_log_in_round_trip,
    a_logged_out_session_cookie_is_refused,
    sign_up_signs_in_and_session_cookie_is_http_only_and_lax,
    session_id_is_rotated_at_log_in,
    duplicate_username_is_a_conflict_case_insensitively,
    bad_usernames_and_passwords_are_rejected_precisely,
    wrong_password_and_unknown_user_look_the_same,
    malformed_json_is_a_bad_request,
    repeated_failures_throttle_the_account,
    repeated_failures_throttle_the_client,
    concurrent_guesses_cannot_exceed_the_limit,
    failures_from_one_client_do_not_lock_the_account_out_for_others,
    a_spoofed_forwarded_for_is_ignored_without_trusted_proxies,
    sign_ups_are_throttled_per_client,
    a_burst_of_sign_ups_is_refused_with_503_not_queued_without_bound,
    health_reports_the_database_and_the_nodes,
    unknown_pages_are_a_404_page,
);

async fn sign_up_log_out_log_in_round_trip(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let response = app.sign_up("Alice", "correct horse").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap(), json!({ "username": "Alice" }));
    assert_eq!(app.whoami().await.as_deref(), Some("Alice"));

    assert_eq!(app.log_out().await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.whoami().await, None);

    // Log-in ignores case; the display keeps what was typed at sign-up.
    let response = app.log_in("alice", "correct horse").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.whoami().await.as_deref(), Some("Alice"));
}

/// The `Set-Cookie` header of the session cookie in `response`.
fn session_set_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with(&format!("{}=", server::SESSION_COOKIE)))
        .expect("session cookie set")
}

/// Sessions are cached in memory in front of the database: logging out must end the session
/// there too, so the old cookie, replayed by another client, is refused.
async fn a_logged_out_session_cookie_is_refused(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let set_cookie = session_set_cookie(&app.sign_up("alice", "password123").await);
    let cookie = set_cookie.split(';').next().expect("name=value first");
    let me_with_old_cookie = || new_client().get(app.url("/api/v1/users/me")).header("cookie", cookie).send();
    // Read twice, so the session is served from memory.
    assert_eq!(me_with_old_cookie().await.unwrap().status(), StatusCode::OK);
    assert_eq!(me_with_old_cookie().await.unwrap().status(), StatusCode::OK);

    assert_eq!(app.log_out().await.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_with_old_cookie().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

async fn sign_up_signs_in_and_session_cookie_is_http_only_and_lax(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let cookie = session_set_cookie(&app.sign_up("bob", "password123").await);
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "not Secure unless configured: {cookie}");
}

async fn session_id_is_rotated_at_log_in(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.sign_up("carol", "password123").await;
    let session_id = |response: &reqwest::Response| {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|value| value.strip_prefix(&format!("{}=", server::SESSION_COOKIE)))
            .map(|value| value.split(';').next().unwrap().to_owned())
    };
    // A second browser: log in twice and compare the ids it is handed.
    let browser = new_client();
    let login = || browser.post(app.url("/api/v1/users/login")).json(&json!({ "username": "carol", "password": "password123" })).send();
    let first = session_id(&login().await.unwrap()).expect("cookie at first log-in");
    let second = session_id(&login().await.unwrap()).expect("cookie at second log-in");
    assert_ne!(first, second, "log-in must issue a fresh session id");

    // The old id no longer authenticates.
    let stale = reqwest::Client::new()
        .get(app.url("/api/v1/users/me"))
        .header("cookie", format!("{}={first}", server::SESSION_COOKIE))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
}

async fn duplicate_username_is_a_conflict_case_insensitively(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    assert_eq!(app.sign_up("dave", "password123").await.status(), StatusCode::CREATED);
    let other = app.new_browser();
    let error = assert_error(other.sign_up("DAVE", "another password").await, StatusCode::CONFLICT, "username_taken").await;
    assert_eq!(error["message"], "That username is already taken. Pick another one.");
    // Nothing changed: the original password still works and the new one does not.
    assert_eq!(other.log_in("dave", "another password").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(other.log_in("dave", "password123").await.status(), StatusCode::OK);
}

async fn bad_usernames_and_passwords_are_rejected_precisely(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let cases = [
        ("ab", "password123", "username", "Username must be at least 3 characters long."),
        (&*"a".repeat(33), "password123", "username", "Username must be at most 32 characters long."),
        ("bad name", "password123", "username", "Username may only contain letters a–z, digits, '_', '.' and '-', not a space."),
        ("bad/name", "password123", "username", "Username may only contain letters a–z, digits, '_', '.' and '-', not '/'."),
        ("", "password123", "username", "Username must be at least 3 characters long."),
        ("erin", "short", "password", "Password must be at least 8 characters long."),
        ("erin", &*"p".repeat(129), "password", "Password must be at most 128 characters long."),
    ];
    for (username, password, field, message) in cases {
        let error = assert_error(app.sign_up(username, password).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(error["field"], field, "{username:?}");
        assert_eq!(error["message"], message, "{username:?}");
    }
    // None of them created an account or a session.
    assert_eq!(app.whoami().await, None);
    assert_eq!(app.log_in("erin", "short").await.status(), StatusCode::UNAUTHORIZED);
}

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.sign_up("frank", "password123").await;
    app.log_out().await;
    let wrong_password = assert_error(app.log_in("frank", "password124").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    let unknown_user = assert_error(app.log_in("nobody", "password123").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    assert_eq!(wrong_password, unknown_user);
    assert_eq!(wrong_password["message"], "Wrong username or password.");
    assert_eq!(app.whoami().await, None);
}

async fn malformed_json_is_a_bad_request(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    for body in ["{not json", r#"{"username": "x"}"#, r#"{"username": 5, "password": "password123"}"#] {
        let response = app
            .client
            .post(app.url("/api/v1/users/signup"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "malformed_request").await;
    }
    assert_eq!(app.whoami().await, None);
}

async fn repeated_failures_throttle_the_account(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.sign_up("grace", "password123").await;
    app.log_out().await;
    for _ in 0..5 {
        assert_error(app.log_in("grace", "wrong password").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    }
    // Now even the right password is refused, with a hint when to retry.
    let response = app.log_in("GRACE", "password123").await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let error = assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    assert!(error["message"].as_str().unwrap().starts_with("Too many failed log-ins."), "{error}");
    assert_eq!(app.whoami().await, None);
    // Another account from the same client is not affected yet.
    app.sign_up("heidi", "password123").await;
    app.log_out().await;
    assert_eq!(app.log_in("heidi", "password123").await.status(), StatusCode::OK);
}

async fn repeated_failures_throttle_the_client(backend: Backend) {
    let settings = TestSettings { login_failures_per_account: 100, login_failures_per_client: 4, ..TestSettings::default() };
    let Some(app) = spawn_app_with(backend, settings).await else { return };
    app.sign_up("ivan", "password123").await;
    app.log_out().await;
    for name in ["u1", "u2", "u3", "u4"] {
        assert_error(app.log_in(name, "whatever12").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    }
    assert_error(app.log_in("ivan", "password123").await, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn unknown_pages_are_a_404_page(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let response = app.client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

async fn health_reports_the_database_and_the_nodes(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let nodes = json!({ "n1": "live", "n2": "live", "n3": "live" });
    assert_eq!(response.json::<serde_json::Value>().await.unwrap(), json!({ "status": "ok", "database": "ok", "nodes": nodes, "overdue_events": 0 }));
}


/// Log-in as `username` with `password`, as the client `forwarded_for` (behind the trusted
/// proxy, which is the test's own loopback address).
async fn log_in_via_proxy(app: &crate::helpers::TestApp, forwarded_for: &str, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/users/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn concurrent_guesses_cannot_exceed_the_limit(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.sign_up("judy", "password123").await;
    app.log_out().await;
    // 30 wrong guesses at once against a limit of 5 per account: each is reserved before its
    // hash, so exactly 5 are judged and the rest refused.
    let guesses = (0..30).map(|index| {
        let browser = app.new_browser();
        async move { browser.log_in("judy", &format!("guess number {index}")).await.status() }
    });
    let statuses = futures::future::join_all(guesses).await;
    let judged = statuses.iter().filter(|status| **status == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((judged, refused), (5, 25), "{statuses:?}");
}

async fn failures_from_one_client_do_not_lock_the_account_out_for_others(backend: Backend) {
    let settings = TestSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..TestSettings::default() };
    let Some(app) = spawn_app_with(backend, settings).await else { return };
    app.sign_up("kim", "password123").await;
    app.log_out().await;
    // A stranger behind the same proxy guesses at kim's password until refused.
    for _ in 0..5 {
        assert_error(log_in_via_proxy(&app, "203.0.113.9", "kim", "wrong password").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    }
    assert_error(log_in_via_proxy(&app, "203.0.113.9", "kim", "password123").await, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // Kim, from her own address behind the same proxy, still gets in.
    assert_eq!(log_in_via_proxy(&app, "198.51.100.20", "kim", "password123").await.status(), StatusCode::OK);
    // A client's claimed left-most address is not believed: the proxy's right-most entry is.
    app.log_out().await;
    let spoofed = log_in_via_proxy(&app, "198.51.100.20, 203.0.113.9", "kim", "password123").await;
    assert_error(spoofed, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn a_spoofed_forwarded_for_is_ignored_without_trusted_proxies(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    app.sign_up("lena", "password123").await;
    app.log_out().await;
    for index in 0..5 {
        let response = log_in_via_proxy(&app, &format!("203.0.113.{index}"), "lena", "wrong password").await;
        assert_error(response, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    }
    let response = log_in_via_proxy(&app, "203.0.113.99", "lena", "wrong password").await;
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

async fn sign_ups_are_throttled_per_client(backend: Backend) {
    let settings = TestSettings { sign_ups_per_client: 3, ..TestSettings::default() };
    let Some(app) = spawn_app_with(backend, settings).await else { return };
    for name in ["mia", "noah"] {
        assert_eq!(app.new_browser().sign_up(name, "password123").await.status(), StatusCode::CREATED);
    }
    // A taken name counts as an attempt too (it is refused before any hashing).
    assert_error(app.new_browser().sign_up("MIA", "password123").await, StatusCode::CONFLICT, "username_taken").await;
    let response = app.new_browser().sign_up("olga", "password123").await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_sign_ups").await;
    // Nothing was created by the refused sign-up.
    assert_error(app.log_in("olga", "password123").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
}

async fn a_burst_of_sign_ups_is_refused_with_503_not_queued_without_bound(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    // Far more sign-ups at once than the hashing threads and their queue hold.
    let burst = (0..300).map(|index| {
        let browser = app.new_browser();
        async move {
            let response = browser.sign_up(&format!("burst{index}"), "password123").await;
            let retry_after = response.headers().get("retry-after").map(|value| value.to_str().unwrap().to_owned());
            (response.status(), retry_after)
        }
    });
    let results = futures::future::join_all(burst).await;
    let created = results.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    let busy: Vec<_> = results.iter().filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert_eq!(created + busy.len(), 300, "only 201 and 503: {results:?}");
    assert!(!busy.is_empty(), "no sign-up was refused: the queue is unbounded");
    assert!(busy.iter().all(|(_, retry_after)| retry_after.as_deref() == Some("1")), "{busy:?}");
    // A refused sign-up created nothing; a later one goes through.
    let refused = results.iter().position(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE).unwrap();
    assert_error(app.log_in(&format!("burst{refused}"), "password123").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    assert_eq!(app.new_browser().sign_up(&format!("burst{refused}"), "password123").await.status(), StatusCode::CREATED);
}
