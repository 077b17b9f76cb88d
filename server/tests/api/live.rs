//! The event's live stream (Server-Sent Events): members get the shared state when they open it
//! and after each change; others get nothing; a reader who leaves or logs out is told `gone`
//! and the stream ends; reconnecting with the last id sent resends nothing unchanged.

use std::time::Duration;

use app::events::LiveEvent;
use reqwest::StatusCode;

use crate::helpers::{assert_error, event_input, intervals_tomorrow, on_both_databases, spawn_app, Backend, Browser};

on_both_databases!(members_follow_changes_and_readers_who_go_are_told);

/// The wire, block by block: a reconnection hint first, then the state, then, with nothing to
/// say for 15 s, a comment that keeps proxies from closing the idle connection; the stream
/// still carries the next change after it.
#[tokio::test]
async fn a_quiet_stream_is_kept_alive_by_comments() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    let mut stream = Stream::new(&alice, &code, None).await;
    assert_eq!(stream.next_block(Duration::from_secs(5)).await.as_deref(), Some("retry: 2000"));
    let update = stream.next_block(Duration::from_secs(5)).await.expect("the state on opening");
    assert!(update.starts_with("event: update\nid: "), "{update}");
    assert_eq!(stream.next_block(Duration::from_secs(20)).await.as_deref(), Some(":"), "a keep-alive comment after 15 s of quiet");
    assert_eq!(alice.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    assert!(answered(&stream.update().await).contains(&("alice", true)));
}

/// SIGTERM's path: each open stream is sent a reconnection hint of 1–5 s (spread) and ends,
/// the server has stopped well within its grace period, and it no longer accepts.
#[tokio::test]
async fn a_stopping_server_ends_streams_with_a_retry_hint() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    let mut stream = Stream::new(&alice, &code, None).await;
    assert_eq!(stream.next_block(Duration::from_secs(5)).await.as_deref(), Some("retry: 2000"));
    stream.update().await;

    let stopped = app.stopped.notified();
    let began = std::time::Instant::now();
    app.shutdown.begin();
    let hint = stream.next_block(Duration::from_secs(5)).await.expect("a hint as the server stops");
    let retry_ms: u64 = hint.strip_prefix("retry: ").and_then(|ms| ms.parse().ok()).unwrap_or_else(|| panic!("a retry hint, not {hint:?}"));
    assert!((1_000..=5_000).contains(&retry_ms), "{retry_ms}");
    let end = tokio::time::timeout(Duration::from_secs(5), stream.response.chunk()).await.expect("the stream ends at once");
    assert!(matches!(end, Ok(None)), "the stream ended cleanly: {end:?}");
    tokio::time::timeout(Duration::from_secs(10), stopped).await.expect("stopped within the grace period");
    assert!(began.elapsed() < Duration::from_secs(10), "{:?}", began.elapsed());
    assert!(alice.client.get(alice.url("/healthz")).send().await.is_err(), "no longer accepting");
}

/// One message of a stream.
#[derive(Debug)]
struct Message {
    event: String,
    id: Option<String>,
    data: String,
}

/// Reads a `text/event-stream` response message by message.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(browser: &Browser, code: &str, last_event_id: Option<&str>) -> reqwest::Response {
        let request = browser.client.get(browser.url(&format!("/api/v1/events/{code}/live")));
        let request = match last_event_id {
            Some(id) => request.header("last-event-id", id),
            None => request,
        };
        request.send().await.unwrap()
    }

    async fn new(browser: &Browser, code: &str, last_event_id: Option<&str>) -> Self {
        let response = Self::open(browser, code, last_event_id).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { response, buffer: String::new() }
    }

    /// The next message with an event name (retry hints and keep-alive comments skipped), or
    /// `None` when the stream ended or nothing came within `within`.
    async fn next(&mut self, within: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut message = Message { event: String::new(), id: None, data: String::new() };
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:")) {
                        message.event = value.to_owned();
                    } else if let Some(value) = line.strip_prefix("id: ").or_else(|| line.strip_prefix("id:")) {
                        message.id = Some(value.to_owned());
                    } else if let Some(value) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
                        message.data.push_str(value);
                    }
                }
                if !message.event.is_empty() {
                    return Some(message);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next block as sent (a message, a retry hint or a comment), without its blank line.
    async fn next_block(&mut self, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(block.trim_end_matches('\n').to_owned());
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()?.unwrap()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    async fn update(&mut self) -> LiveEvent {
        let message = self.next(Duration::from_secs(10)).await.expect("an update within 10 s");
        assert_eq!(message.event, "update", "{message:?}");
        let live: LiveEvent = serde_json::from_str(&message.data).unwrap();
        assert_eq!(message.id, Some(live.generation.to_string()));
        live
    }
}

fn answered(live: &LiveEvent) -> Vec<(&str, bool)> {
    live.participants.iter().map(|p| (p.username.as_str(), p.answered)).collect()
}

async fn members_follow_changes_and_readers_who_go_are_told(backend: Backend) {
    let Some(app) = spawn_app(backend).await else { return };
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    let bob = app.new_browser().signed_up("bob").await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);

    // Not a member, not logged in: refused, nothing streamed.
    let carol = app.new_browser().signed_up("carol").await;
    assert_error(Stream::open(&carol, &code, None).await, StatusCode::FORBIDDEN, "not_a_participant").await;
    assert_error(Stream::open(&app.new_browser(), &code, None).await, StatusCode::UNAUTHORIZED, "not_logged_in").await;

    // The organizer and a participant follow; both are sent the state at once.
    let mut alices = Stream::new(&alice, &code, None).await;
    let mut bobs = Stream::new(&bob, &code, None).await;
    let first = alices.update().await;
    assert_eq!(answered(&first), [("alice", false), ("bob", false)]);
    assert_eq!(bobs.update().await, first);

    // Bob answers: Alice's page is told, with the heatmap.
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    let after_answer = alices.update().await;
    assert_eq!(answered(&after_answer), [("alice", false), ("bob", true)]);
    assert_eq!(after_answer.heatmap.answered, 1);
    assert!(after_answer.generation > first.generation);
    assert_eq!(bobs.update().await, after_answer);

    // Dave joins and opens his page at once, while the event's last frame (without him) is
    // fresh: he is sent the state with him in it, not told he is gone.
    let dave = app.new_browser().signed_up("dave").await;
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(10, 12)])).await.status(), StatusCode::OK);
    assert_eq!(dave.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    let mut daves = Stream::new(&dave, &code, None).await;
    assert!(daves.update().await.participants.iter().any(|p| p.username == "dave"));
    drop(daves);
    assert_eq!(dave.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
    while alices.update().await.participants.iter().any(|p| p.username == "dave") {}
    while bobs.update().await.participants.iter().any(|p| p.username == "dave") {}

    // Carol joins: she can follow now, and the others see her.
    assert_eq!(carol.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    assert_eq!(answered(&alices.update().await), [("alice", false), ("bob", true), ("carol", false)]);
    let mut carols = Stream::new(&carol, &code, None).await;
    let current = carols.update().await;

    // Reconnecting with the last id seen: nothing is resent until something changes.
    let mut again = Stream::new(&carol, &code, Some(&current.generation.to_string())).await;
    assert!(again.next(Duration::from_millis(700)).await.is_none(), "an unchanged state is not resent");
    drop(again);

    // Carol leaves: her stream is told she is gone and ends; the others see her leave.
    assert_eq!(carol.post(&format!("/api/v1/events/{code}/leave")).await.status(), StatusCode::NO_CONTENT);
    let gone = carols.next(Duration::from_secs(10)).await.expect("told");
    assert_eq!((gone.event.as_str(), gone.data.as_str()), ("gone", "not_a_participant"));
    assert!(carols.next(Duration::from_secs(5)).await.is_none(), "the stream ended");
    assert_eq!(answered(&alices.update().await), [("alice", false), ("bob", true)]);

    // Bob logs out: his stream is told and ends.
    assert_eq!(bob.log_out().await.status(), StatusCode::NO_CONTENT);
    let mut told = None;
    while let Some(message) = bobs.next(Duration::from_secs(10)).await {
        told = Some(message);
        if told.as_ref().is_some_and(|message| message.event == "gone") {
            break;
        }
    }
    let told = told.expect("bob's stream was told");
    assert_eq!((told.event.as_str(), told.data.as_str()), ("gone", "logged_out"));
    assert!(bobs.next(Duration::from_secs(5)).await.is_none(), "the stream ended");

    // The organizer cancels: her stream shows it.
    assert_eq!(alice.client.delete(alice.url(&format!("/api/v1/events/{code}"))).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let cancelled = alices.update().await;
    assert_eq!(cancelled.status, app::events::EventStatus::Cancelled);
}

/// One account cannot hold an unbounded number of streams open, and a stream whose reader
/// vanished (no acknowledgements) frees its place within about a minute, not the kernel's ~15.
#[tokio::test]
async fn an_account_holds_a_bounded_number_of_streams() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite needs no service");
    assert_eq!(app.unacked_data_timeout, Some(Duration::from_secs(45)));
    let alice = app.new_browser().signed_up("alice").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    let mut open = Vec::new();
    for _ in 0..server::http::STREAMS_PER_USER {
        open.push(Stream::new(&alice, &code, None).await);
    }
    assert_error(Stream::open(&alice, &code, None).await, StatusCode::TOO_MANY_REQUESTS, "too_many_streams").await;
    // Closing one frees its place.
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    Stream::new(&alice, &code, None).await;
}

/// The process holds a bounded number of streams in all (by default the open-file limit less
/// a reserve, so streams can never take the descriptors saves and log-ins need): past it a
/// stream is refused with 503 and `Retry-After` (the page polls meanwhile), a save still goes
/// through, and a closed stream frees its place for anyone.
#[tokio::test]
async fn a_full_server_refuses_streams_not_saves() {
    let settings = crate::helpers::TestSettings { max_live_streams: Some(2), ..Default::default() };
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, settings).await.expect("SQLite needs no service");
    let alice = app.new_browser().signed_up("alice").await;
    let bob = app.new_browser().signed_up("bob").await;
    let code = alice.create_event(&event_input(chrono::Duration::hours(2))).await;
    assert_eq!(bob.post(&format!("/api/v1/events/{code}/join")).await.status(), StatusCode::OK);
    let alices = Stream::new(&alice, &code, None).await;
    let mut bobs = Stream::new(&bob, &code, None).await;
    let refused = Stream::open(&bob, &code, None).await;
    assert_eq!(refused.headers().get("retry-after").and_then(|value| value.to_str().ok()), Some("30"));
    assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "busy").await;
    // Saves go through, and the open streams carry them.
    assert!(answered(&bobs.update().await).contains(&("bob", false)));
    assert_eq!(bob.put_availability(&code, &intervals_tomorrow(&[(9, 12)])).await.status(), StatusCode::OK);
    assert!(answered(&bobs.update().await).contains(&("bob", true)));
    // A closed stream frees its place, for someone else too.
    drop(alices);
    tokio::time::sleep(Duration::from_millis(200)).await;
    Stream::new(&bob, &code, None).await;
}
