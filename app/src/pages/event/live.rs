//! How an open event page keeps itself current. The clock ticks in the browser every second
//! (the countdown needs no server). The event's shared state (what the organizer may change,
//! participants, who answered, the heatmap, the status, the outcome) arrives on the event's live stream, an `EventSource` on
//! `/api/v1/events/{code}/live`, only when it changed; the browser reconnects a dropped stream
//! by itself, and the server then sends what changed meanwhile. When no stream can be opened
//! at all, the page asks for its data every few seconds instead, as it did before streams.

use leptos::prelude::*;

use crate::events::{EventStatus, EventView, Heatmap, LiveEvent};
use crate::time::now;

/// Polling cadence without a stream, in ticks of one second.
const POLL_OPEN_TICKS: u32 = 4;
const POLL_DECIDING_TICKS: u32 = 1;
/// While polling, seconds between tries to open the stream again, at least (a full server
/// refuses new streams for a while; a proxy that broke one may let the next through). Each
/// wait adds up to as much again at random, so pages refused together do not come back together.
const STREAM_RETRY_TICKS: u32 = 30;

/// What the page keeps current.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) struct LiveSignals {
    pub event: RwSignal<EventView>,
    pub heatmap: RwSignal<Option<Heatmap>>,
    /// Reads the whole page data again (the server function).
    pub refresh: Callback<()>,
    pub set_clock: WriteSignal<chrono::DateTime<chrono::Utc>>,
}

/// Starts the clock, and for a member (only members may follow an event) the stream (or,
/// failing that, polling), for as long as the island lives; a viewer who joins starts
/// following then, one who leaves stops.
pub(super) fn follow(code: String, signals: LiveSignals) {
    let polling = RwSignal::new(false);
    // Bumped to open the stream again (the server said "gone" but the page still says member,
    // or the page has been polling for a while).
    let reopen = RwSignal::new(0u32);
    tick(signals, polling, reopen);
    let member = Memo::new(move |_| signals.event.with(|event| event.is_participant || event.is_organizer));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        reopen.track();
        if member.get() {
            stream::open(&code, signals, polling, reopen);
        } else {
            polling.set(false);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (code, member, reopen);
}

/// Writes a pushed state into the page's signals, each only if it changed, so a push never
/// redraws what did not change (the grid someone is painting above all). While answers are
/// hidden the push names nobody: the organizer's page reads the names with the page data.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) fn apply(live: LiveEvent, signals: LiveSignals) {
    let organizer_reads_names = live.answers_hidden && signals.event.with_untracked(|event| event.is_organizer);
    let mut fresh = signals.event.get_untracked();
    fresh.status = live.status;
    fresh.name = live.name;
    fresh.description = live.description;
    fresh.deadline = live.deadline;
    fresh.duration_minutes = live.duration_minutes;
    fresh.window_start = live.window_start;
    fresh.window_end = live.window_end;
    fresh.answers_hidden = live.answers_hidden;
    fresh.participant_count = live.participant_count;
    fresh.answered_count = live.answered_count;
    if !organizer_reads_names {
        fresh.participants = (!live.answers_hidden).then_some(live.participants);
        fresh.outcome = Some(live.outcome);
    }
    if signals.event.with_untracked(|event| *event != fresh) {
        signals.event.set(fresh);
    }
    if organizer_reads_names {
        signals.refresh.run(());
    }
    let heatmap = live.heatmap;
    if signals.heatmap.with_untracked(|current| current.as_ref() != Some(&heatmap)) {
        signals.heatmap.set(Some(heatmap));
    }
}

/// Ticks the clock every second; while `polling`, also refreshes the page data (every few
/// seconds while answers are open, every second once the deadline passed until the outcome)
/// and now and then tries the stream again.
fn tick(signals: LiveSignals, polling: RwSignal<bool>, reopen: RwSignal<u32>) {
    Effect::new(move |_| {
        let ticks = std::cell::Cell::new(0u32);
        let next_retry = std::cell::Cell::new(retry_after(0));
        let handle = set_interval_with_handle(
            move || {
                let current = now();
                signals.set_clock.set(current);
                if !polling.get_untracked() {
                    return;
                }
                ticks.set(ticks.get() + 1);
                let (status, deadline) = signals.event.with_untracked(|event| (event.status, event.deadline));
                let every = match status {
                    EventStatus::Open if current < deadline => POLL_OPEN_TICKS,
                    EventStatus::Open | EventStatus::Deciding => POLL_DECIDING_TICKS,
                    EventStatus::Finished | EventStatus::Cancelled => return,
                };
                if ticks.get() % every == 0 {
                    signals.refresh.run(());
                }
                if ticks.get() >= next_retry.get() {
                    next_retry.set(retry_after(ticks.get()));
                    reopen.update(|epoch| *epoch += 1);
                }
            },
            std::time::Duration::from_secs(1),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
}

/// The tick at which to try the stream again, counting from `now`.
fn retry_after(now: u32) -> u32 {
    #[cfg(feature = "hydrate")]
    let spread = (js_sys::Math::random() * f64::from(STREAM_RETRY_TICKS)) as u32;
    #[cfg(not(feature = "hydrate"))]
    let spread = 0;
    now + STREAM_RETRY_TICKS + spread
}

#[cfg(feature = "hydrate")]
mod stream {
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use super::{apply, LiveSignals};
    use crate::events::{EventStatus, LiveEvent};

    /// Opens the event's stream; closes it when the island goes away, and once the event is
    /// decided or cancelled (nothing changes after that). Falls back to polling when the
    /// stream cannot be opened (`EventSource` gives up: an error status, not a stream). When
    /// the server says this reader may no longer follow: logged out, the page is loaded again
    /// (it then asks to log in); not a participant, the page data is read again, and if it
    /// still says member (the leave was undone meanwhile) the stream opens again.
    pub(super) fn open(code: &str, signals: LiveSignals, polling: RwSignal<bool>, reopen: RwSignal<u32>) {
        let Ok(source) = EventSource::new(&format!("/api/v1/events/{code}/live")) else {
            polling.set(true);
            return;
        };
        let update_source = source.clone();
        let on_update = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            let Some(json) = message.data().as_string() else { return };
            if let Ok(live) = serde_json::from_str::<LiveEvent>(&json) {
                polling.set(false);
                let settled = matches!(live.status, EventStatus::Finished | EventStatus::Cancelled);
                apply(live, signals);
                if settled {
                    update_source.close();
                }
            }
        });
        let gone_source = source.clone();
        let on_gone = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            gone_source.close();
            if message.data().as_string().as_deref() == Some("logged_out") {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
                return;
            }
            signals.refresh.run(());
            reopen.update(|epoch| *epoch += 1);
        });
        let error_source = source.clone();
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            // CONNECTING: the browser retries by itself. CLOSED: it gave up.
            if error_source.ready_state() == EventSource::CLOSED {
                polling.set(true);
            }
        });
        let _ = source.add_event_listener_with_callback("update", on_update.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("gone", on_gone.as_ref().unchecked_ref());
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let closures = StoredValue::new_local((on_update, on_gone, on_error));
        on_cleanup(move || {
            source.close();
            closures.dispose();
        });
    }
}
