//! Busy times from a calendar file: the suggestion a participant reviews (nothing saved), the
//! same answer saved, the hours offered, and every refusal, with exports as calendar apps write
//! them (`server/tests/fixtures/calendars`) and a generated 5 MB one.

use app::events::{CalendarSuggestion, SlotView};
use chrono::{DateTime, Duration, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, big_calendar, event_input, on_both_databases, rfc3339, spawn_app, Backend, Browser};

on_both_databases!(
    a_calendar_file_suggests_an_answer_to_review,
    calendar_files_that_cannot_be_read_change_nothing,
    an_event_without_a_window_is_read_as_far_as_the_grid_shows,
    someone_who_left_may_not_send_a_file,
    one_person_sends_one_file_at_a_time,
    a_suggestion_near_the_end_of_the_supported_dates_can_be_saved,
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/calendars/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

/// `day` of March 2030 (32 is 1 April) at `hour:minute` UTC.
fn march(day: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 3, 1, hour, minute, 0).unwrap() + Duration::days(day - 1)
}

fn slot(start: DateTime<Utc>, end: DateTime<Utc>) -> SlotView {
    SlotView { start, end }
}

/// An event whose window is 25 March to 5 April 2030, over Berlin's switch to summer time.
fn spring_event() -> Value {
    let mut input = event_input(Duration::hours(1));
    input["window_start"] = json!(rfc3339(march(25, 0, 0)));
    input["window_end"] = json!(rfc3339(march(36, 0, 0)));
    input
}

async fn upload(browser: &Browser, code: &str, query: &str, file: Vec<u8>) -> reqwest::Response {
    let url = browser.url(&format!("/api/v1/events/{code}/availability/from-calendar?{query}"));
    browser.client.post(url).header(reqwest::header::CONTENT_TYPE, "text/calendar").body(file).send().await.unwrap()
}

async fn suggestion(browser: &Browser, code: &str, query: &str, file: Vec<u8>) -> CalendarSuggestion {
    let response = upload(browser, code, query, file).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn a_calendar_file_suggests_an_answer_to_review(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&spring_event()).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);

    // Google's export, read in Berlin over the grid's hours (08:00 to 20:00).
    let suggested = suggestion(&bob, &code, "time_zone=Europe/Berlin", fixture("google.ics")).await;
    assert_eq!((suggested.events, suggested.unread), (11, 0));
    // Monday the 25th: 08:00 to the stand-up at 09:00, then to the tentative coffee at 15:00
    // (if need be until 16:00), then to 20:00 (Berlin; UTC+1).
    let monday: Vec<SlotView> = suggested.free.iter().copied().filter(|slot| slot.start.date_naive() == march(25, 0, 0).date_naive()).collect();
    assert_eq!(monday, [slot(march(25, 7, 0), march(25, 8, 0)), slot(march(25, 8, 30), march(25, 14, 0)), slot(march(25, 15, 0), march(25, 19, 0))]);
    assert_eq!(suggested.if_need_be, [slot(march(25, 14, 0), march(25, 15, 0))]);
    assert!(!suggested.free.iter().any(|slot| slot.start.date_naive() == march(29, 0, 0).date_naive()), "the all-day offsite is busy");
    // After the switch to summer time the day offered is 06:00–18:00 UTC and the stand-up 07:00.
    assert!(suggested.free.contains(&slot(march(33, 6, 0), march(33, 7, 0))), "{:?}", suggested.free);
    // A suggestion saves nothing.
    assert_eq!(bob.event_page(&code).await.my_answer, None);

    // Saved as it came, the answer is exactly the suggestion.
    let views = |slots: &[SlotView]| Value::Array(slots.iter().map(|slot| json!({ "start": rfc3339(slot.start), "end": rfc3339(slot.end) })).collect());
    let answer = json!({ "intervals": views(&suggested.free), "if_need_be": views(&suggested.if_need_be) });
    assert_eq!(bob.put_availability(&code, &answer).await.status(), StatusCode::OK);
    let saved = bob.event_page(&code).await.my_answer.expect("saved");
    assert_eq!((saved.free, saved.if_need_be), (suggested.free.clone(), suggested.if_need_be.clone()));

    // All 24 hours: the free weekend runs from the offsite's end to Monday's stand-up.
    let whole_days = suggestion(&bob, &code, "time_zone=Europe/Berlin&day_start=00:00&day_end=24:00", fixture("google.ics")).await;
    assert!(whole_days.free.contains(&slot(march(29, 23, 0), march(32, 7, 0))), "{:?}", whole_days.free);
    // Other exports and zones: Outlook's Windows zone names, floating times read in the zone given.
    let outlook = suggestion(&bob, &code, "time_zone=Europe/Berlin&day_start=09:00&day_end=17:00", fixture("outlook.ics")).await;
    assert_eq!(outlook.events, 3);
    assert!(outlook.free.contains(&slot(march(26, 8, 0), march(26, 12, 0))) && outlook.free.contains(&slot(march(26, 13, 0), march(26, 16, 0))));
    let thunderbird = suggestion(&bob, &code, "time_zone=America/New_York", fixture("thunderbird.ics")).await;
    assert!(thunderbird.free.contains(&slot(march(25, 12, 0), march(25, 15, 0))), "08:00 New York to the floating 11:00 lunch");

    // A 5 MB export (years of meetings, weekly series, all-day events) is read whole.
    let big = big_calendar();
    assert!(big.len() > 5_000_000, "{} bytes", big.len());
    let read = suggestion(&bob, &code, "time_zone=Europe/Berlin", big).await;
    assert!(read.events > 100 && !read.free.is_empty(), "{} events, {} free", read.events, read.free.len());

    // The organizer, a participant, may too; once cancelled, nobody.
    assert_eq!(upload(&alice, &code, "time_zone=UTC", fixture("apple.ics")).await.status(), StatusCode::OK);
    assert_eq!(alice.client.delete(alice.url(&format!("/api/v1/events/{code}"))).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_error(upload(&bob, &code, "time_zone=UTC", fixture("google.ics")).await, StatusCode::CONFLICT, "event_cancelled").await;
}

async fn calendar_files_that_cannot_be_read_change_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let carol = app.new_browser().signed_up("carol").await;
    let code = alice.create_event(&spring_event()).await;
    let saved = json!({ "intervals": [{ "start": rfc3339(march(26, 9, 0)), "end": rfc3339(march(26, 10, 0)) }] });
    assert_eq!(alice.put_availability(&code, &saved).await.status(), StatusCode::OK);
    let before = alice.event_page(&code).await.my_answer;

    for (file, says) in [
        (fixture("cut-short.ics"), "cut short"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\xd8".to_vec(), "BEGIN:VCALENDAR"),
        (b"Dear Alice, Tuesday works.".to_vec(), "BEGIN:VCALENDAR"),
        (Vec::new(), "empty"),
    ] {
        let error = assert_error(upload(&alice, &code, "time_zone=Europe/Berlin", file).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(error["field"], "file", "{error}");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    let error = assert_error(upload(&alice, &code, "time_zone=Mars/Olympus", fixture("google.ics")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(error["field"], "time_zone");
    let error = assert_error(upload(&alice, &code, "time_zone=UTC&day_start=18:00&day_end=09:00", fixture("google.ics")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(error["field"], "day_end");
    for hour in ["25:00", "8:00", " 08:00", "+8:00", "08:5", "24:00"] {
        let query = format!("time_zone=UTC&day_start={}", hour.replace(' ', "%20"));
        let error = assert_error(upload(&alice, &code, &query, fixture("google.ics")).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(error["field"], "day_start", "{hour}");
    }
    assert_error(upload(&alice, &code, "time_zone=UTC&hours=all", fixture("google.ics")).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_error(upload(&alice, &code, "", fixture("google.ics")).await, StatusCode::BAD_REQUEST, "malformed_request").await;
    // Over 8 MB is refused before it is read.
    let huge = vec![b' '; 9 * 1024 * 1024];
    assert_error(upload(&alice, &code, "time_zone=UTC", huge).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    // Only participants, only signed in, only for an event that exists; who may send is settled
    // before the body is read (a stranger's 9 MB is refused as a stranger, not as too large).
    assert_error(upload(&carol, &code, "time_zone=UTC", vec![b' '; 9 * 1024 * 1024]).await, StatusCode::FORBIDDEN, "not_a_participant").await;
    assert_error(upload(&carol, &code, "time_zone=UTC", fixture("google.ics")).await, StatusCode::FORBIDDEN, "not_a_participant").await;
    assert_error(upload(&app.new_browser(), &code, "time_zone=UTC", fixture("google.ics")).await, StatusCode::UNAUTHORIZED, "not_logged_in").await;
    assert_error(upload(&alice, "zzzzzzzzzz", "time_zone=UTC", fixture("google.ics")).await, StatusCode::NOT_FOUND, "event_not_found").await;

    assert_eq!(alice.event_page(&code).await.my_answer, before, "nothing changed");
}

/// The grid shows an event without a window for 56 days from the deadline's day, in the
/// viewer's zone: the suggestion stops where the grid does, so nothing is saved unseen.
async fn an_event_without_a_window_is_read_as_far_as_the_grid_shows(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(Duration::hours(5))).await;
    let deadline: DateTime<Utc> = alice.event(&code).await["deadline"].as_str().unwrap().parse().unwrap();
    let berlin = chrono_tz::Europe::Berlin;
    let grid_end_day = deadline.with_timezone(&berlin).date_naive() + Duration::days(56);
    let grid_end = berlin.from_local_datetime(&grid_end_day.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap().with_timezone(&Utc);
    let empty = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n".to_vec();
    let whole_days = suggestion(&alice, &code, "time_zone=Europe/Berlin&day_start=00:00&day_end=24:00", empty).await;
    // One free stretch from the first minute after the deadline to the grid's last midnight.
    let whole_minute = DateTime::from_timestamp(deadline.timestamp().div_euclid(60) * 60, 0).unwrap();
    let first_minute = if whole_minute < deadline { whole_minute + Duration::minutes(1) } else { whole_minute };
    assert_eq!(whole_days.free, [slot(first_minute, grid_end)]);
    assert_eq!((whole_days.events, whole_days.unread, whole_days.filled_until), (0, 0, None));
}

/// Someone who joined and left is refused at once, even while the event's page snapshot (kept
/// for busy pages) still lists them.
async fn someone_who_left_may_not_send_a_file(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&spring_event()).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(upload(&bob, &code, "time_zone=UTC", fixture("google.ics")).await.status(), StatusCode::OK);
    // The organizer's page views keep a snapshot listing Bob.
    assert_eq!(alice.get(&format!("/e/{code}")).await.status(), StatusCode::OK);
    alice.event_page(&code).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
    assert_error(upload(&bob, &code, "time_zone=UTC", fixture("google.ics")).await, StatusCode::FORBIDDEN, "not_a_participant").await;
    // Back again, they may.
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(upload(&bob, &code, "time_zone=UTC", fixture("google.ics")).await.status(), StatusCode::OK);
}

/// A file sent slowly holds one of the few places for files arriving; the same person's next
/// file waits its turn (503), everyone else's goes through, and once the slow one has arrived
/// it is read and the sender may send again.
async fn one_person_sends_one_file_at_a_time(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser();
    let signed_up = bob.sign_up("bob", "password123").await;
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let cookie = signed_up.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let code = alice.create_event(&spring_event()).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);

    // Bob's slow file: the head and its first line, then nothing for now.
    let file = fixture("google.ics");
    let address = app.base_url.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST /api/v1/events/{code}/availability/from-calendar?time_zone=UTC HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        file.len()
    );
    async fn start_slow(address: &str, head: &str, first_line: &[u8]) -> tokio::net::TcpStream {
        let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
        slow.write_all(head.as_bytes()).await.unwrap();
        slow.write_all(first_line).await.unwrap();
        slow
    }
    // His quick file at the same time: whichever the server takes first, the other is told to
    // try again. Until the slow one is the first, start again.
    let mut slow = start_slow(&address, &head, &file[..17]).await;
    let mut refused = None;
    for _ in 0..100 {
        let response = upload(&bob, &code, "time_zone=UTC", file.clone()).await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
        let mut answer = vec![0; 4096];
        if let Ok(read) = tokio::time::timeout(std::time::Duration::from_millis(50), slow.read(&mut answer)).await {
            let answer = String::from_utf8_lossy(&answer[..read.unwrap()]).into_owned();
            assert!(answer.starts_with("HTTP/1.1 503"), "the slow file came second, so it was refused: {answer}");
            slow = start_slow(&address, &head, &file[..17]).await;
        }
    }
    let refused = refused.expect("a second file from the same person while the first arrives is refused");
    assert!(refused.headers().contains_key(reqwest::header::RETRY_AFTER));
    // Alice is not held up by Bob.
    assert_eq!(upload(&alice, &code, "time_zone=UTC", file.clone()).await.status(), StatusCode::OK);
    // The rest of the slow file arrives: it is read, and Bob may send again.
    slow.write_all(&file[17..]).await.unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(upload(&bob, &code, "time_zone=UTC", file).await.status(), StatusCode::OK);
}

/// An event whose time runs to the last supported day: the suggestion stops there, so saving
/// it as it came is accepted. A deadline at the very end of the supported dates leaves no time
/// for a meeting and is refused, as is a leap second.
async fn a_suggestion_near_the_end_of_the_supported_dates_can_be_saved(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let mut input = event_input(Duration::hours(1));
    input["deadline"] = json!("2199-12-31T23:30:00Z");
    let code = alice.create_event(&input).await;
    let empty = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n".to_vec();
    let suggested = suggestion(&alice, &code, "time_zone=UTC&day_start=00:00&day_end=24:00", empty).await;
    let end: DateTime<Utc> = "2200-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(suggested.free, [slot("2199-12-31T23:30:00Z".parse().unwrap(), end)]);
    let answer = json!({ "intervals": [{ "start": rfc3339(suggested.free[0].start), "end": rfc3339(suggested.free[0].end) }] });
    assert_eq!(alice.put_availability(&code, &answer).await.status(), StatusCode::OK);
    assert_eq!(alice.event(&code).await["deadline"], "2199-12-31T23:30:00Z");
    // Late windows are kept as sent (MariaDB too, past its TIMESTAMP range).
    let mut input = event_input(Duration::hours(1));
    input["window_start"] = json!("2150-01-01T08:00:00Z");
    input["window_end"] = json!("2150-01-08T08:00:00Z");
    let late = alice.create_event(&input).await;
    let changed = alice.patch_json(&format!("/api/v1/events/{late}"), &json!({ "deadline": "2149-12-31T08:00:00Z", "window_start": "2150-01-02T08:00:00Z", "window_end": "2150-01-09T08:00:00Z" })).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let event = alice.event(&late).await;
    assert_eq!((&event["deadline"], &event["window_start"], &event["window_end"]), (&json!("2149-12-31T08:00:00Z"), &json!("2150-01-02T08:00:00Z"), &json!("2150-01-09T08:00:00Z")));

    for (deadline, field) in [("2200-01-01T00:00:00Z", "deadline"), ("2030-06-30T12:00:60Z", "deadline")] {
        let mut input = event_input(Duration::hours(1));
        input["deadline"] = json!(deadline);
        let error = assert_error(alice.post_json("/api/v1/events", &input).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(error["field"], field, "{deadline}");
        let error = assert_error(alice.patch_json(&format!("/api/v1/events/{code}"), &json!({ "deadline": deadline })).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
        assert_eq!(error["field"], field, "{deadline}");
    }
    let mut input = event_input(Duration::hours(1));
    input["window_start"] = json!("2030-06-30T12:00:60Z");
    input["window_end"] = json!("2030-07-30T12:00:00Z");
    let error = assert_error(alice.post_json("/api/v1/events", &input).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input").await;
    assert_eq!(error["field"], "window_start");
}
