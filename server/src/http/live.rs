//! `GET /api/v1/events/{code}/live`: an event page's live stream (Server-Sent Events).
//!
//! Server-Sent Events rather than a WebSocket: the page only listens, the browser's
//! `EventSource` reconnects by itself and sends the last event id back (`Last-Event-ID`), and
//! it is plain HTTP that proxies and the compression layer already know (SSE is never gzipped).
//!
//! Messages: `update` (a [`app::events::LiveEvent`], id = its generation) when the stream
//! opens, unless `Last-Event-ID` says the client has that generation already, and after each
//! change; `gone` when the reader may no longer follow (left the event, or the session ended:
//! logged out here or in another server process), after which the stream ends. When the server
//! stops, each stream ends with a `retry:` of 1–5 s (spread, so thousands of pages do not all
//! come back in the same instant) and the browser reconnects by itself. Only members
//! (participants and the organizer) may open it, like every read of answers; a comment every
//! 15 s keeps idle connections open through proxies.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use app::error::AppError;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::stream::{self, StreamExt};
use tokio::sync::{broadcast, watch};
use tower_sessions::session::Id;
use tower_sessions::Session;

use crate::error::{ErrorBody, Result};
use crate::events::{EventService, LiveFrame};
use crate::live::{NoPlace, StreamSlot};
use crate::http::extract::{ApiPath, CurrentUser};
use crate::sessions::{CachedSessionStore, MaybeEnded};
use crate::state::AppState;

/// Streams one person may hold open at once (tabs and devices); each costs a connection.
pub const STREAMS_PER_USER: usize = 16;
/// How long a browser waits before reconnecting a dropped stream.
const RECONNECT_AFTER: Duration = Duration::from_secs(2);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// When a full server asks a page to try its stream again (it polls meanwhile).
const FULL_RETRY_AFTER_SECS: u64 = 30;

pub fn router() -> Router<AppState> {
    Router::new().route("/events/{code}/live", get(live))
}

#[utoipa::path(get, path = "/api/v1/events/{code}/live", tag = "events", params(("code" = String, Path, pattern = "^[1-9A-HJ-NP-Za-km-z]{10}$", description = "The event's 10-character code")), security(("session_cookie" = [])), responses(
    (status = 200, description = "Server-Sent Events: `update` messages (a LiveEvent as JSON, id = its generation) on opening and after each change, `gone` when the reader may no longer follow", content_type = "text/event-stream", body = app::events::LiveEvent),
    (status = 400, description = "A path segment that is not UTF-8", body = ErrorBody),
    (status = 401, description = "Not logged in", body = ErrorBody),
    (status = 403, description = "Not a participant or the organizer", body = ErrorBody),
    (status = 404, description = "No event has that code", body = ErrorBody),
    (status = 429, description = "Too many streams open for this account", body = ErrorBody),
    (status = 503, description = "The server holds as many streams as it may: poll instead, or retry after `Retry-After` seconds", body = ErrorBody)))]
pub async fn live(
    State(state): State<AppState>,
    session: Session,
    CurrentUser(user_id): CurrentUser,
    ApiPath(code): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let full = || AppError::Busy { retry_after_secs: FULL_RETRY_AFTER_SECS };
    if state.live.is_full() {
        return Err(full().into());
    }
    let event_id = state.events.live_member(user_id, &code).await?;
    let session_id = session.id().ok_or(AppError::NotLoggedIn)?;
    let slot = state.live.open_stream(user_id, STREAMS_PER_USER).map_err(|refused| match refused {
        NoPlace::ForUser => AppError::TooManyStreams,
        NoPlace::Full => full(),
    })?;
    let frames = state.live.follow(event_id).await?.ok_or(AppError::EventNotFound)?;
    let last_seen: Option<i64> = headers.get("last-event-id").and_then(|value| value.to_str().ok()).and_then(|id| id.parse().ok());
    let current = frames.borrow().generation;
    let follow = Follow {
        events: Arc::clone(&state.events),
        event_id,
        frames,
        ended: state.sessions.subscribe_ended(),
        sessions: state.sessions.clone(),
        session_id,
        user_id,
        send_current: last_seen != Some(current),
        done: false,
        quiet_until: tokio::time::Instant::now() + KEEP_ALIVE,
        stopping: Box::pin(state.shutdown.begun()),
        _slot: slot,
    };
    let opening = stream::once(async { Ok::<_, Infallible>(Bytes::from(format!("retry: {}\n\n", RECONNECT_AFTER.as_millis()))) });
    let messages = stream::unfold(follow, Follow::next);
    // `X-Accel-Buffering: no`: nginx passes each message on at once even where its config
    // buffers (docs/DEPLOY.md turns buffering off anyway).
    let headers = [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache"), (header::HeaderName::from_static("x-accel-buffering"), "no")];
    Ok((headers, Body::from_stream(opening.chain(messages))).into_response())
}

/// One open stream's state.
struct Follow {
    events: Arc<EventService>,
    event_id: i64,
    frames: watch::Receiver<Arc<LiveFrame>>,
    ended: broadcast::Receiver<MaybeEnded>,
    sessions: CachedSessionStore,
    session_id: Id,
    user_id: i64,
    /// The latest frame is yet to be sent.
    send_current: bool,
    /// `gone` was sent: the stream ends.
    done: bool,
    /// When a keep-alive comment is due, unless a message goes first.
    quiet_until: tokio::time::Instant,
    /// Completes when the server stops.
    stopping: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    _slot: StreamSlot,
}

impl Follow {
    /// The next bytes to send: a message, or a keep-alive comment after [`KEEP_ALIVE`] of quiet.
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        if self.done {
            return None;
        }
        let message = self.next_message().await?;
        self.quiet_until = tokio::time::Instant::now() + KEEP_ALIVE;
        Some((Ok(message), self))
    }

    async fn next_message(&mut self) -> Option<Bytes> {
        loop {
            if self.send_current {
                self.send_current = false;
                let frame = Arc::clone(&self.frames.borrow_and_update());
                if frame.members.contains(&self.user_id) {
                    return Some(frame.message.clone());
                }
                // Not among this frame's members: gone, unless the frame predates a join (a
                // later one will have them). The database decides; if it cannot, wait.
                let member = self.events.live_member_by_id(self.user_id, self.event_id).await;
                if matches!(member, Ok(false)) {
                    return Some(self.gone("not_a_participant"));
                }
                continue;
            }
            tokio::select! {
                changed = self.frames.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                    self.send_current = true;
                }
                ended = self.ended.recv() => {
                    let maybe_mine = match ended {
                        Ok(Some(id)) => id == self.session_id,
                        Ok(None) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => false,
                    };
                    // A store that cannot answer now is not proof of a log-out.
                    if maybe_mine && !self.sessions.exists(&self.session_id).await.unwrap_or(true) {
                        return Some(self.gone("logged_out"));
                    }
                }
                () = tokio::time::sleep_until(self.quiet_until) => return Some(Bytes::from_static(b":\n\n")),
                () = &mut self.stopping => {
                    self.done = true;
                    return Some(Bytes::from(format!("retry: {}\n\n", self.reconnect_spread().as_millis())));
                }
            }
        }
    }

    /// When this stream's browser should come back after a stop: 1–5 s at random.
    fn reconnect_spread(&self) -> Duration {
        use std::hash::BuildHasher;
        // A fresh `RandomState` is randomly keyed: a cheap random number.
        let random = std::collections::hash_map::RandomState::new().hash_one(self.user_id);
        Duration::from_millis(1_000 + random % 4_000)
    }

    fn gone(&mut self, why: &'static str) -> Bytes {
        self.done = true;
        Bytes::from(format!("event: gone\ndata: {why}\n\n"))
    }
}
