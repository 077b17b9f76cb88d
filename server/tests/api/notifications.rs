//! Notifications end to end, against a real SMTP server on loopback ([`crate::mail`]): the
//! outcome to every participant in their own zone with the calendar file, the reminder to
//! who has not answered, "everyone answered" to the organizer, cancellations; an SMTP server
//! that refuses for a while; unsubscribing; the in-app list; the account mails (verification,
//! reset) and what a password change or a deleted account does to sessions and events.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, event_input, intervals_tomorrow, on_both_databases, spawn_app, spawn_app_with, Backend, Browser, TestApp, TestSettings,
};
use crate::mail::{link_token, SmtpServer};

on_both_databases!(
    both_participants_get_one_outcome_mail_in_their_own_zone_with_the_calendar_file,
    the_reminder_goes_only_to_who_has_not_answered,
    a_refusing_smtp_server_gets_the_mail_later,
    unsubscribe_stops_that_kind_of_mail_only,
    the_organizer_hears_once_that_everyone_answered,
    a_reset_link_works_once_and_ends_every_session,
    without_smtp_notifications_are_in_app_only,
    a_deleted_account_cancels_its_open_events_and_leaves_the_others,
    account_mails_are_capped_however_they_are_asked_for,
    a_silent_smtp_server_holds_up_nothing_for_long,
);

async fn mail_app(backend: Backend) -> Option<(TestApp, SmtpServer)> {
    let smtp = SmtpServer::start()?;
    let app = spawn_app_with(backend, TestSettings { smtp_url: Some(smtp.url()), ..TestSettings::default() }).await?;
    Some((app, smtp))
}

fn address(name: &str) -> String {
    format!("{name}@example.org")
}

/// Signs `name` up with an address, follows the verification link it is mailed, and sets
/// `zone` as the zone of their mails.
async fn verified_user(app: &TestApp, smtp: &SmtpServer, name: &str, zone: Option<&str>) -> Browser {
    let browser = app.new_browser();
    let body = json!({ "username": name, "password": "password123", "email": address(name) });
    assert_eq!(browser.post_json("/api/v1/users/signup", &body).await.status(), StatusCode::CREATED);
    let mail = smtp.wait_for(&address(name), 1).await.remove(0);
    assert_eq!(mail.subject, "Confirm your e-mail address for Whenly");
    assert!(mail.list_unsubscribe.is_none(), "an account mail has nothing to unsubscribe from");
    let token = link_token(&mail.text, "/verify-email");
    assert_eq!(browser.post_json("/api/v1/users/email/verify", &json!({ "token": token })).await.status(), StatusCode::NO_CONTENT);
    if let Some(zone) = zone {
        let response = browser.client.put(browser.url("/api/v1/users/me/settings")).json(&json!({ "time_zone": zone })).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let settings: Value = browser.get("/api/v1/users/me/settings").await.json().await.unwrap();
    assert_eq!(settings["email_verified"], true, "{settings}");
    browser
}

async fn notifications(browser: &Browser) -> Value {
    let response = browser.get("/api/v1/notifications").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Mails to `address` whose subject contains `fragment`, once the outbox had time to send more.
async fn settled_mails(smtp: &SmtpServer, address: &str, fragment: &str) -> Vec<crate::mail::Received> {
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    smtp.to(address).into_iter().filter(|mail| mail.subject.contains(fragment)).collect()
}

async fn both_participants_get_one_outcome_mail_in_their_own_zone_with_the_calendar_file(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", Some("America/New_York")).await;
    let bob = verified_user(&app, &smtp, "bob", Some("Asia/Tokyo")).await;
    let mut input = event_input(Duration::seconds(3));
    input["name"] = json!("Planning");
    let code = alice.create_event(&input).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    // 12:00–13:00 UTC is the same day in both zones (07:00 in New York, 21:00 in Tokyo).
    for person in [&alice, &bob] {
        assert_eq!(person.put_availability(&code, &intervals_tomorrow(&[(12, 14)])).await.status(), StatusCode::OK);
    }
    let outcome = bob.decided_outcome(&code).await;
    assert_eq!(outcome["status"], "scheduled");
    let start: chrono::DateTime<Utc> = outcome["slot"]["start"].as_str().unwrap().parse().unwrap();
    let end: chrono::DateTime<Utc> = outcome["slot"]["end"].as_str().unwrap().parse().unwrap();
    let calendar = bob.get(&format!("/api/v1/events/{code}/calendar.ics")).await.bytes().await.unwrap();

    for (name, zone) in [("alice", chrono_tz::America::New_York), ("bob", chrono_tz::Asia::Tokyo)] {
        smtp.wait_for(&address(name), 2).await;
        let mails = settled_mails(&smtp, &address(name), "\u{201c}Planning\u{201d}:").await;
        assert_eq!(mails.len(), 1, "exactly one outcome mail to {name}: {mails:?}");
        let mail = &mails[0];
        let local = |at: chrono::DateTime<Utc>| at.with_timezone(&zone);
        let expected = format!("{}\u{2013}{} ({})", local(start).format("%A %-d %B %Y, %H:%M"), local(end).format("%H:%M"), zone.name());
        assert!(mail.text.contains(&expected), "{name} should read {expected:?} in {}", mail.text);
        assert!(mail.subject.contains(&local(start).format("%H:%M").to_string()), "{}", mail.subject);
        assert!(mail.html.contains("<a href=\"http://whenly.test/e/"), "an HTML alternative with the link: {}", mail.html);
        assert!(mail.message_id.starts_with("whenly-") && mail.message_id.ends_with("@whenly.test"), "{}", mail.message_id);
        // The calendar file is attached, byte for byte what calendar.ics serves, and a real
        // iCalendar parser reads the slot from it.
        assert_eq!(mail.attachments.len(), 1);
        let (file_name, contents) = &mail.attachments[0];
        assert_eq!(file_name, &format!("whenly-{code}.ics"));
        assert_eq!(contents.as_slice(), calendar.as_ref());
        let parsed = ical::IcalParser::new(std::io::BufReader::new(contents.as_slice())).next().unwrap().unwrap();
        let dtstart = parsed.events[0].properties.iter().find(|p| p.name == "DTSTART").and_then(|p| p.value.clone());
        assert_eq!(dtstart, Some(start.format("%Y%m%dT%H%M%SZ").to_string()));
    }
    let list = notifications(&bob).await;
    assert_eq!(list["unread"], 1, "{list}");
    assert_eq!(list["items"][0]["kind"], "outcome");
    assert_eq!(list["items"][0]["event_code"], code.as_str());
    let up_to = list["items"][0]["id"].clone();
    assert_eq!(bob.post_json("/api/v1/notifications/read", &json!({ "up_to": up_to })).await.status(), StatusCode::NO_CONTENT);
    let list = notifications(&bob).await;
    assert_eq!(list["unread"], 0);
    assert_eq!(list["items"][0]["read"], true);
    // Someone else's list is theirs alone.
    assert_eq!(notifications(&app.new_browser().signed_up("carol").await).await["items"], json!([]));
}

async fn set_reminder_due_now(app: &TestApp, code: &str) {
    let db = server::db::Db::connect(&app.database_url()).await.unwrap();
    const SQL: &str = "UPDATE event SET reminder_due_at = ? WHERE code = ? AND reminder_due_at IS NOT NULL";
    let changed = match &db {
        server::db::Db::MySql(pool) => sqlx::query(SQL).bind(Utc::now()).bind(code).execute(pool).await.unwrap().rows_affected(),
        server::db::Db::Sqlite(pool) => sqlx::query(SQL).bind(Utc::now()).bind(code).execute(pool).await.unwrap().rows_affected(),
    };
    assert_eq!(changed, 1, "the event has a reminder due");
}

async fn reminder_due(app: &TestApp, code: &str) -> bool {
    let db = server::db::Db::connect(&app.database_url()).await.unwrap();
    const SQL: &str = "SELECT COUNT(*) FROM event WHERE code = ? AND reminder_due_at IS NOT NULL";
    let count: i64 = match &db {
        server::db::Db::MySql(pool) => sqlx::query_scalar(SQL).bind(code).fetch_one(pool).await.unwrap(),
        server::db::Db::Sqlite(pool) => sqlx::query_scalar(SQL).bind(code).fetch_one(pool).await.unwrap(),
    };
    count == 1
}

async fn the_reminder_goes_only_to_who_has_not_answered(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", None).await;
    let bob = verified_user(&app, &smtp, "bob", None).await;
    let carol = verified_user(&app, &smtp, "carol", None).await;
    let mut input = event_input(Duration::hours(3));
    input["reminder"] = json!("1h");
    let code = alice.create_event(&input).await;
    assert_eq!(alice.event(&code).await["reminder"], "1h");
    for guest in [&bob, &carol] {
        assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    }
    // Carol answers and then leaves and rejoins: a withdrawn answer is no answer.
    for person in [&alice, &bob, &carol] {
        assert_eq!(person.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    }
    assert_eq!(carol.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(carol.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    // Two hours from now is when it falls due; the test moves it to now.
    set_reminder_due_now(&app, &code).await;
    let mails = smtp.wait_for(&address("carol"), 2).await;
    assert!(mails[1].subject.starts_with("Reminder: when can you make"), "{:?}", mails[1].subject);
    assert!(mails[1].list_unsubscribe.is_some());
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    let reminders = |name: &str| smtp.to(&address(name)).into_iter().filter(|mail| mail.subject.starts_with("Reminder")).count();
    assert_eq!(reminders("alice"), 0, "alice answered");
    assert_eq!(reminders("bob"), 0, "bob answered");
    assert_eq!(reminders("carol"), 1, "one reminder, once");
    assert!(!reminder_due(&app, &code).await, "written once, then cleared");
    let list = notifications(&carol).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["kind"], "reminder");
    assert_eq!(notifications(&bob).await["unread"], 0);
    // Everyone had answered before carol left: the organizer was told then (once).
    assert_eq!(notifications(&alice).await["items"][0]["kind"], "everyone_answered");

    // Too close a deadline for the lead plus an hour: no reminder at all; none asked: none.
    let mut close = event_input(Duration::minutes(90));
    close["reminder"] = json!("1h");
    let close = alice.create_event(&close).await;
    assert!(!reminder_due(&app, &close).await);
    let mut none = event_input(Duration::days(3));
    none["reminder"] = json!("none");
    let none = alice.create_event(&none).await;
    assert!(!reminder_due(&app, &none).await);
    assert_eq!(alice.event(&none).await["reminder"], "none");
    // The default is a day ahead.
    let default = alice.create_event(&event_input(Duration::days(3))).await;
    assert_eq!(alice.event(&default).await["reminder"], "24h");
    assert!(reminder_due(&app, &default).await);
    let mut odd = event_input(Duration::days(3));
    odd["reminder"] = json!("2h");
    assert_error(alice.post_json("/api/v1/events", &odd).await, StatusCode::BAD_REQUEST, "malformed_request").await;
}

async fn a_refusing_smtp_server_gets_the_mail_later(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", None).await;
    let bob = verified_user(&app, &smtp, "bob", None).await;
    let code = alice.create_event(&event_input(Duration::hours(3))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    smtp.refuse(true);
    assert_eq!(alice.client.delete(alice.url(&format!("/api/v1/events/{code}"))).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    // Refused (451) for a while: nothing arrives, the cancellation stands, the list has it.
    tokio::time::sleep(StdDuration::from_secs(4)).await;
    assert_eq!(smtp.to(&address("bob")).len(), 1, "only the verification mail while refused");
    assert_eq!(notifications(&bob).await["items"][0]["kind"], "cancelled");
    smtp.refuse(false);
    // Retried with backoff (5 s, 10 s, ...): it arrives, once.
    let mails = smtp.wait_for(&address("bob"), 2).await;
    assert!(mails[1].subject.starts_with("Cancelled:"), "{}", mails[1].subject);
    assert!(mails[1].text.contains("alice cancelled"), "{}", mails[1].text);
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    assert_eq!(smtp.to(&address("bob")).len(), 2);
    assert_eq!(smtp.to(&address("alice")).len(), 1, "the organizer who cancelled is not told");
}

async fn unsubscribe_stops_that_kind_of_mail_only(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", None).await;
    let bob = verified_user(&app, &smtp, "bob", None).await;
    let first = alice.create_event(&event_input(Duration::hours(3))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{first}/join")).await.status(), StatusCode::OK);
    assert_eq!(alice.client.delete(alice.url(&format!("/api/v1/events/{first}"))).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let cancelled = smtp.wait_for(&address("bob"), 2).await.remove(1);
    assert_eq!(cancelled.list_unsubscribe_post.as_deref(), Some("List-Unsubscribe=One-Click"));
    let link = cancelled.list_unsubscribe.clone().unwrap();
    let link = link.trim_start_matches('<').trim_end_matches('>');
    let token = link_token(link, "/unsubscribe");
    // A forged or altered token does nothing.
    let one_click = |token: String| {
        let client = reqwest::Client::new();
        let url = app.url(&format!("/unsubscribe?token={token}"));
        async move { client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send().await.unwrap() }
    };
    assert_error(one_click(token.replace("cancelled", "outcome")).await, StatusCode::UNPROCESSABLE_ENTITY, "bad_link").await;
    assert_error(one_click("1.cancelled.AAAA".to_owned()).await, StatusCode::UNPROCESSABLE_ENTITY, "bad_link").await;
    // What a mail client does (RFC 8058): POST to the link, no cookie, no origin.
    assert_eq!(one_click(token.clone()).await.status(), StatusCode::OK);
    assert_eq!(one_click(token).await.status(), StatusCode::OK, "again is fine");
    let settings: Value = bob.get("/api/v1/users/me/settings").await.json().await.unwrap();
    assert_eq!(settings["mail"], json!({ "outcome": true, "reminder": true, "everyone_answered": true, "cancelled": false }));

    // The next cancellation is in the list but not mailed; an outcome still is.
    let second = alice.create_event(&event_input(Duration::hours(3))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{second}/join")).await.status(), StatusCode::OK);
    assert_eq!(alice.client.delete(alice.url(&format!("/api/v1/events/{second}"))).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let third = alice.create_event(&event_input(Duration::seconds(3))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{third}/join")).await.status(), StatusCode::OK);
    bob.decided_outcome(&third).await;
    let mails = smtp.wait_for(&address("bob"), 3).await;
    assert!(mails[2].subject.contains("no time was picked"), "{}", mails[2].subject);
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    assert_eq!(smtp.to(&address("bob")).len(), 3, "no second cancellation mail");
    let kinds: Vec<Value> = notifications(&bob).await["items"].as_array().unwrap().iter().map(|item| item["kind"].clone()).collect();
    assert_eq!(kinds, vec![json!("outcome"), json!("cancelled"), json!("cancelled")]);
}

async fn the_organizer_hears_once_that_everyone_answered(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", None).await;
    let bob = verified_user(&app, &smtp, "bob", None).await;
    let carol = verified_user(&app, &smtp, "carol", None).await;
    let code = alice.create_event(&event_input(Duration::hours(3))).await;
    for guest in [&bob, &carol] {
        assert_eq!(guest.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    }
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 13)])).await.status(), StatusCode::OK);
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert_eq!(notifications(&alice).await["items"], json!([]), "carol has not answered");
    assert_eq!(carol.put_availability(&code, &intervals_tomorrow(&[(10, 12)])).await.status(), StatusCode::OK);
    let mails = smtp.wait_for(&address("alice"), 2).await;
    assert!(mails[1].subject.starts_with("Everyone has answered"), "{}", mails[1].subject);
    // Changes, a leave and a rejoin with a new answer: still once.
    assert_eq!(carol.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    assert_eq!(carol.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(carol.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(carol.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    assert_eq!(smtp.to(&address("alice")).len(), 2);
    assert_eq!(notifications(&alice).await["unread"], 1);

    // The last one without an answer leaving makes it so too.
    let other = alice.create_event(&event_input(Duration::hours(3))).await;
    for guest in [&bob, &carol] {
        assert_eq!(guest.post(&format!("/api/v1/events/{other}/join")).await.status(), StatusCode::OK);
    }
    assert_eq!(bob.put_availability(&other, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    assert_eq!(carol.post(&format!("/api/v1/events/{other}/leave")).await.status(), StatusCode::NO_CONTENT);
    smtp.wait_for(&address("alice"), 3).await;
    assert_eq!(notifications(&alice).await["unread"], 2);
}

async fn a_reset_link_works_once_and_ends_every_session(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", None).await;
    let elsewhere = app.new_browser();
    assert_eq!(elsewhere.log_in("alice", "password123").await.status(), StatusCode::OK);
    // Unknown, unverified and known addresses get the same answer.
    let stranger = app.new_browser();
    let request = |email: &'static str| {
        let browser = stranger.clone();
        async move { browser.post_json("/api/v1/users/password-reset", &json!({ "email": email })).await }
    };
    assert_eq!(request("nobody@example.org").await.status(), StatusCode::ACCEPTED);
    assert_eq!(request("ALICE@example.org").await.status(), StatusCode::ACCEPTED);
    assert_error(request("not an address").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    let mail = smtp.wait_for(&address("alice"), 2).await.remove(1);
    assert_eq!(mail.subject, "Reset your Whenly password");
    let token = link_token(&mail.text, "/reset-password");
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    assert!(smtp.to("nobody@example.org").is_empty());

    let reset = |token: String, password: &'static str| {
        let browser = stranger.clone();
        async move { browser.post_json("/api/v1/users/password-reset/confirm", &json!({ "token": token, "password": password })).await }
    };
    assert_error(reset(token.clone(), "short").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    let mut forged = token.clone();
    forged.push('x');
    assert_error(reset(forged, "new password 1").await, StatusCode::UNPROCESSABLE_ENTITY, "bad_link").await;
    let response = reset(token.clone(), "new password 1").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stranger.whoami().await.as_deref(), Some("alice"), "the reset signs in where it was used");
    assert_error(reset(token, "new password 2").await, StatusCode::UNPROCESSABLE_ENTITY, "bad_link").await;
    // Every earlier session ended; the old password is gone, the new one works.
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(alice.whoami().await, None);
    assert_eq!(elsewhere.whoami().await, None);
    assert_error(app.new_browser().log_in("alice", "password123").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    let again = app.new_browser();
    assert_eq!(again.log_in("alice", "new password 1").await.status(), StatusCode::OK);

    // A change needs the current password and ends the other sessions, not this one.
    let change = |current: &'static str, new: &'static str| {
        let browser = again.clone();
        async move { browser.post_json("/api/v1/users/me/password", &json!({ "current_password": current, "new_password": new })).await }
    };
    assert_error(change("wrong password", "newer password").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(change("new password 1", "newer password").await.status(), StatusCode::NO_CONTENT);
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert_eq!(again.whoami().await.as_deref(), Some("alice"));
    assert_eq!(stranger.whoami().await, None);
    assert_eq!(app.new_browser().log_in("alice", "newer password").await.status(), StatusCode::OK);
}

async fn without_smtp_notifications_are_in_app_only(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser();
    let body = json!({ "username": "alice", "password": "password123", "email": "alice@example.org" });
    assert_eq!(alice.post_json("/api/v1/users/signup", &body).await.status(), StatusCode::CREATED);
    let settings: Value = alice.get("/api/v1/users/me/settings").await.json().await.unwrap();
    assert_eq!(settings["email_enabled"], false);
    assert_eq!(settings["email"], "alice@example.org");
    assert_eq!(settings["email_verified"], false);
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&event_input(Duration::seconds(2))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    bob.decided_outcome(&code).await;
    let list = notifications(&bob).await;
    assert_eq!(list["unread"], 1, "{list}");
    assert_eq!(list["items"][0]["kind"], "outcome");
    // Bad settings change nothing.
    let put = |body: Value| alice.client.put(alice.url("/api/v1/users/me/settings")).json(&body).send();
    assert_error(put(json!({ "email": "no at sign" })).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(put(json!({ "email": format!("{}@example.org", "a".repeat(300)) })).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(put(json!({ "time_zone": "Mars/Olympus" })).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_error(put(json!({ "mail": { "outcome": "yes" } })).await.unwrap(), StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_error(put(json!([null, null])).await.unwrap(), StatusCode::BAD_REQUEST, "malformed_request").await;
    // No body is an array, whatever fields it could fill.
    assert_error(bob.post_json("/api/v1/notifications/read", &json!([7])).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    // An id in any notation of a whole number; not a fraction.
    let read = |up_to: Value| {
        let browser = bob.clone();
        async move { browser.post_json("/api/v1/notifications/read", &json!({ "up_to": up_to })).await }
    };
    assert_error(read(json!(1.5)).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_error(read(json!(1e300)).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_error(read(json!(-1)).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_error(read(json!(9_223_372_036_854_775_808u64)).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_eq!(notifications(&bob).await["unread"], 1);
    assert_eq!(read(json!(1e15)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(notifications(&bob).await["unread"], 0);
    let after: Value = alice.get("/api/v1/users/me/settings").await.json().await.unwrap();
    assert_eq!(after, settings);
    // Removing the address.
    assert_eq!(put(json!({ "email": "" })).await.unwrap().status(), StatusCode::OK);
    let after: Value = alice.get("/api/v1/users/me/settings").await.json().await.unwrap();
    assert_eq!(after["email"], Value::Null);
    // Signed out: nothing.
    assert_error(app.new_browser().get("/api/v1/notifications").await, StatusCode::UNAUTHORIZED, "not_logged_in").await;
    assert_error(app.new_browser().get("/api/v1/users/me/settings").await, StatusCode::UNAUTHORIZED, "not_logged_in").await;
}

async fn a_deleted_account_cancels_its_open_events_and_leaves_the_others(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", None).await;
    let bob = verified_user(&app, &smtp, "bob", None).await;
    let organized = alice.create_event(&event_input(Duration::hours(3))).await;
    let joined = bob.create_event(&event_input(Duration::hours(3))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{organized}/join")).await.status(), StatusCode::OK);
    assert_eq!(alice.post(&format!("/api/v1/events/{joined}/join")).await.status(), StatusCode::OK);
    assert_eq!(alice.put_availability(&joined, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    let delete = |password: &'static str| alice.client.delete(alice.url("/api/v1/users/me")).json(&json!({ "password": password })).send();
    assert_error(delete("wrong password").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(alice.whoami().await.as_deref(), Some("alice"), "a wrong password deletes nothing");
    assert_eq!(delete("password123").await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(alice.whoami().await, None);
    assert_error(app.new_browser().log_in("alice", "password123").await, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    // Her event is cancelled and bob is told; she left bob's, her answer withdrawn.
    assert_eq!(bob.event(&organized).await["status"], "cancelled");
    // Bob's mails: his verification, "everyone answered" (alice answered his event), the cancellation.
    let mails = smtp.wait_for(&address("bob"), 3).await;
    assert_eq!(mails.iter().filter(|mail| mail.subject.starts_with("Cancelled:")).count(), 1, "{mails:?}");
    let view = bob.event(&joined).await;
    assert_eq!(view["participant_count"], 1);
    // The name is free again.
    assert_eq!(app.new_browser().sign_up("alice", "password123").await.status(), StatusCode::CREATED);
}

async fn account_mails_are_capped_however_they_are_asked_for(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", None).await;
    // Changing the address back and forth, and asking again, all at once: a few mails an hour.
    let victim = "victim@example.org";
    let put = |email: &'static str| {
        let browser = alice.clone();
        async move { browser.client.put(browser.url("/api/v1/users/me/settings")).json(&json!({ "email": email })).send().await.unwrap().status() }
    };
    for _ in 0..5 {
        assert_eq!(put(victim).await, StatusCode::OK);
        assert_eq!(put("alice@example.org").await, StatusCode::OK);
    }
    assert_eq!(put(victim).await, StatusCode::OK);
    let resends: Vec<_> = (0..8).map(|_| alice.post("/api/v1/users/me/email/verification")).collect();
    for status in futures::future::join_all(resends).await.iter().map(|response| response.status()) {
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    // Resets for a verified address, asked for at once by a stranger.
    let bob = verified_user(&app, &smtp, "bob", None).await;
    drop(bob);
    let stranger = app.new_browser();
    let body = json!({ "email": "bob@example.org" });
    let resets: Vec<_> = (0..10).map(|_| stranger.post_json("/api/v1/users/password-reset", &body)).collect();
    for response in futures::future::join_all(resets).await {
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    tokio::time::sleep(StdDuration::from_secs(4)).await;
    let verifications = smtp.received().into_iter().filter(|mail| mail.subject.starts_with("Confirm")).count();
    // alice's and bob's sign-ups, then at most 3 an hour for alice (her first counts).
    assert!(verifications <= 4, "{verifications} verification mails");
    let resets = smtp.to("bob@example.org").into_iter().filter(|mail| mail.subject.starts_with("Reset")).count();
    assert_eq!(resets, 3, "3 reset mails an hour at most");
}

async fn a_silent_smtp_server_holds_up_nothing_for_long(backend: Backend) {
    let Some((app, smtp)) = mail_app(backend).await else { return };
    let alice = verified_user(&app, &smtp, "alice", None).await;
    // The SMTP server takes connections and then says nothing.
    smtp.stall(true);
    assert_eq!(alice.post_json("/api/v1/users/password-reset", &json!({ "email": "alice@example.org" })).await.status(), StatusCode::ACCEPTED);
    // The test servers' claims last 10 s: each attempt is cut off after 5 s and retried.
    tokio::time::sleep(StdDuration::from_secs(7)).await;
    smtp.stall(false);
    let mails = smtp.wait_for(&address("alice"), 2).await;
    assert_eq!(mails[1].subject, "Reset your Whenly password");
    // And the sender goes on with new mail.
    let code = alice.create_event(&event_input(Duration::hours(3))).await;
    let bob = verified_user(&app, &smtp, "bob", None).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(alice.client.delete(alice.url(&format!("/api/v1/events/{code}"))).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    smtp.wait_for(&address("bob"), 2).await;
    tokio::time::sleep(StdDuration::from_millis(2500)).await;
    assert_eq!(smtp.to(&address("alice")).len(), 2, "the reset mail once, though its first attempt timed out");
}
