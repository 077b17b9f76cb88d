//! "Fill from your calendar": a participant picks an `.ics` file exported from their calendar
//! app, the server reads its busy times and suggests an answer, and the suggestion fills the
//! grid unsaved, for review (save it, change it, or undo it). The file goes from the picker
//! straight to the REST route as the request body (no copy in the page, no form encoding of
//! megabytes); the server keeps nothing of it.

use leptos::prelude::*;

use crate::error::AppError;
use crate::events::{AnswerView, CalendarSuggestion};
#[cfg(feature = "hydrate")]
use crate::events::CALENDAR_FILE_MAX_BYTES;
use crate::pages::ErrorMessage;
use crate::time::{use_viewer_zone, ViewerZone};

#[component]
pub(super) fn CalendarFile(
    code: String,
    /// The grid shows all 24 hours: the calendar then fills whole days, not 08:00–20:00.
    all_hours: RwSignal<bool>,
    editable: Signal<bool>,
    /// The grid holds unsaved changes: once saved or undone, what was read is no longer shown.
    unsaved: RwSignal<bool>,
    /// Set while a file is read (the grid waits meanwhile).
    reading: RwSignal<bool>,
    /// Called with the suggested answer, to fill the grid.
    on_suggestion: Callback<AnswerView>,
) -> impl IntoView {
    let zone = use_viewer_zone();
    let pending = reading;
    let read = RwSignal::new(None::<Result<String, AppError>>);
    // "The grid shows what that leaves free" is true until the grid is saved or undone.
    Effect::new(move |_| {
        if !unsaved.get() && matches!(read.get_untracked(), Some(Ok(_))) {
            read.set(None);
        }
    });
    let on_change = move |event: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(input) = event.target().and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
            let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
            if pending.get_untracked() {
                input.set_value("");
                return;
            }
            // The route's limit, said in words before the upload rather than after.
            if file.size() > CALENDAR_FILE_MAX_BYTES as f64 {
                read.set(Some(Err(AppError::invalid("file", "This file is over 8 MB. Export a shorter time span (the next few months are enough)."))));
                return;
            }
            let hours = if all_hours.get_untracked() { "&day_start=00:00&day_end=24:00" } else { "" };
            let url = format!(
                "/api/v1/events/{code}/availability/from-calendar?time_zone={}{hours}",
                String::from(js_sys::encode_uri_component(zone.name()))
            );
            pending.set(true);
            read.set(None);
            let zone = zone.clone();
            leptos::task::spawn_local(async move {
                let all_hours = all_hours.get_untracked();
                let outcome = browser::send(&url, &file).await.map(|suggestion| {
                    let summary = summary(&file.name(), &suggestion, &zone, all_hours);
                    on_suggestion.run(AnswerView { free: suggestion.free, if_need_be: suggestion.if_need_be });
                    summary
                });
                read.set(Some(outcome));
                pending.set(false);
                // The same file may be picked again (after an undo, say).
                input.set_value("");
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (event, &code, &zone, all_hours, on_suggestion, pending);
    };
    view! {
        <div class="stack calendar-file">
            <label for="calendar-file">"Calendar file (.ics)"</label>
            <p id="calendar-file-hint" class="hint">
                "Export your calendar as an .ics file (Google, Outlook, Apple Calendar or Thunderbird can) and pick it: "
                "the grid then shows as free the times in its hours that your calendar leaves free, and tentative events as if need be. "
                "Check the grid, then save. The file is read once and not kept."
            </p>
            // Not disabled while reading: that would take the keyboard's focus away.
            <input type="file" id="calendar-file" accept=".ics,text/calendar" aria-describedby="calendar-file-hint"
                disabled=move || !editable.get() aria-busy=move || pending.get().to_string() on:change=on_change/>
            <p class="muted" role="status" data-testid="calendar-file-status">{move || match (pending.get(), read.get()) {
                (true, _) => Some("Reading your calendar…".to_owned()),
                (false, Some(Ok(summary))) => Some(summary),
                _ => None,
            }}</p>
            {move || match read.get() {
                Some(Err(error)) => Some(view! { <ErrorMessage error/> }),
                _ => None,
            }}
        </div>
    }
}

/// What was read, in words.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn summary(file_name: &str, suggestion: &CalendarSuggestion, zone: &ViewerZone, all_hours: bool) -> String {
    let events = match suggestion.events {
        0 => "no events".to_owned(),
        1 => "1 event".to_owned(),
        n => format!("{n} events"),
    };
    let hours = if all_hours { "all day" } else { "08:00 to 20:00 (tick “Show all 24 hours” and pick the file again for whole days)" };
    let mut summary = format!("Read {file_name}: {events} in this event's time. The grid shows what that leaves free, {hours}: check it, then save.");
    if let Some(until) = suggestion.filled_until {
        summary.push_str(&format!(
            " Your calendar leaves more separate times than an answer can hold, so only the time before {} is filled: paint the rest by hand.",
            zone.text_format(until)
        ));
    }
    match suggestion.unread {
        0 => {}
        1 => summary.push_str(" 1 event could not be read (a broken date, or one repeating too often): check its times yourself."),
        n => summary.push_str(&format!(" {n} events could not be read (broken dates, or repeating too often): check their times yourself.")),
    }
    summary
}

#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    use crate::error::{AppError, ErrorBody};
    use crate::events::CalendarSuggestion;

    fn unreachable(error: wasm_bindgen::JsValue) -> AppError {
        AppError::Transport(leptos::server_fn::error::ServerFnErrorErr::Request(format!("{error:?}")))
    }

    /// POSTs `file` as the body to `url` and reads the suggestion or the error.
    pub async fn send(url: &str, file: &web_sys::File) -> Result<CalendarSuggestion, AppError> {
        let window = web_sys::window().ok_or_else(|| unreachable("no window".into()))?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(file);
        let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(unreachable)?.unchecked_into();
        let text = JsFuture::from(response.text().map_err(unreachable)?).await.map_err(unreachable)?.as_string().unwrap_or_default();
        if response.ok() {
            return serde_json::from_str(&text).map_err(|_| AppError::Internal);
        }
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(AppError::try_from(body).unwrap_or(AppError::Internal)),
            // Not Whenly's answer: a proxy in front refused the size, or is down.
            Err(_) if response.status() == 413 => Err(AppError::TooLarge),
            Err(_) => Err(unreachable(format!("HTTP {}", response.status()).into())),
        }
    }
}
