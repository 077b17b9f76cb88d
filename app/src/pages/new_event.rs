//! Create an event. A plain HTML form (no wasm on this page): it posts the fields as typed
//! (local date-times in the chosen zone); the zone defaults to the viewer's (from the zone
//! cookie) and the deadline to a day from now. On success the server opens the event page, which shows the share link.

use chrono::{Duration, Timelike};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;
use crate::events::calls::CreateEvent;
use crate::events::{CAPACITY_MAX, DESCRIPTION_MAX, NAME_MAX};
use crate::pages::{action_error, ErrorMessage, RequireUser};
use crate::time::{now, use_viewer_zone};

/// The meeting lengths offered (minutes, label); the API takes any length from 5 min to 24 h.
const DURATIONS: [(u32, &str); 8] = [
    (15, "15 minutes"),
    (30, "30 minutes"),
    (45, "45 minutes"),
    (60, "1 hour"),
    (90, "1½ hours"),
    (120, "2 hours"),
    (180, "3 hours"),
    (480, "A working day (8 hours)"),
];

#[component]
pub fn NewEventPage() -> impl IntoView {
    view! {
        <Title text="New event · Whenly"/>
        <RequireUser>
            <NewEventForm/>
        </RequireUser>
    }
}

#[component]
fn NewEventForm() -> impl IntoView {
    let create = ServerAction::<CreateEvent>::new();
    let error = action_error(create);
    let zone = use_viewer_zone();
    // Tomorrow at this hour, on the hour.
    let tomorrow = now() + Duration::days(1);
    let default_deadline = zone.input_value(tomorrow.with_minute(0).and_then(|t| t.with_second(0)).unwrap_or(tomorrow));
    // Left empty (and so `required` stops the form) rather than a silent UTC when the server
    // has not yet heard the browser's zone.
    let zone_name = if zone.is_known() { zone.name().to_owned() } else { String::new() };
    let field_error = move |field: &'static str| {
        move || match error() {
            Some(AppError::Invalid { field: at, message }) if at == field => {
                Some(view! { <p class="error" id=format!("{field}-error") role="alert">{message}</p> })
            }
            _ => None,
        }
    };
    let other_error = move || match error() {
        Some(AppError::Invalid { field, .. })
            if ["name", "description", "deadline", "duration_minutes", "window_start", "window_end", "capacity", "time_zone", "reminder"]
                .contains(&field.as_str()) =>
        {
            None
        }
        Some(error) => Some(view! { <ErrorMessage error/> }),
        None => None,
    };
    view! {
        <section class="card narrow">
            <h1>"New event"</h1>
            <ActionForm action=create attr:class="stack">
                <label for="event-name">"Name"</label>
                <input id="event-name" name="form[name]" type="text" required maxlength=NAME_MAX
                    placeholder="Team lunch"/>
                {field_error("name")}

                <label for="event-description">"Description " <span class="muted">"(optional)"</span></label>
                <textarea id="event-description" name="form[description]" rows="3" maxlength=DESCRIPTION_MAX></textarea>
                {field_error("description")}

                <label for="event-deadline">"Answers until"</label>
                <input id="event-deadline" name="form[deadline]" type="datetime-local" required
                    value=default_deadline aria-describedby="deadline-hint"/>
                <p id="deadline-hint" class="hint">"At this time Whenly picks the meeting time; answers close."</p>
                {field_error("deadline")}

                <label for="event-duration">"Meeting length"</label>
                <select id="event-duration" name="form[duration_minutes]">
                    {DURATIONS.into_iter().map(|(minutes, label)| view! {
                        <option value=minutes.to_string() selected=minutes == 60>{label}</option>
                    }).collect_view()}
                </select>
                {field_error("duration_minutes")}

                <fieldset>
                    <legend>"When may it take place? " <span class="muted">"(optional)"</span></legend>
                    <div class="two-columns">
                        <div class="stack">
                            <label for="event-window-start">"Earliest start"</label>
                            <input id="event-window-start" name="form[window_start]" type="datetime-local"/>
                        </div>
                        <div class="stack">
                            <label for="event-window-end">"Latest end"</label>
                            <input id="event-window-end" name="form[window_end]" type="datetime-local"/>
                        </div>
                    </div>
                    {field_error("window_start")}
                    {field_error("window_end")}
                </fieldset>

                <label for="event-capacity">"Most participants " <span class="muted">"(optional)"</span></label>
                <input id="event-capacity" name="form[capacity]" type="number" min="1" max=CAPACITY_MAX inputmode="numeric"/>
                {field_error("capacity")}

                <label for="event-zone">"Time zone"</label>
                <input id="event-zone" name="form[time_zone]" type="text" required value=zone_name
                    autocapitalize="none" spellcheck="false" aria-describedby="zone-hint"/>
                <p id="zone-hint" class="hint">"The times above are read in this zone. Everyone sees times in their own zone."</p>
                {field_error("time_zone")}

                <label for="event-reminder">"Remind those who have not answered"</label>
                <select id="event-reminder" name="form[reminder]" aria-describedby="reminder-hint">
                    <option value="24h" selected=true>"24 hours before the deadline"</option>
                    <option value="1h">"1 hour before the deadline"</option>
                    <option value="none">"No reminder"</option>
                </select>
                <p id="reminder-hint" class="hint">"Sent only if the deadline is far enough away (the reminder's lead plus an hour)."</p>
                {field_error("reminder")}

                {other_error}
                <button type="submit" disabled=move || create.pending().get()>"Create event"</button>
            </ActionForm>
        </section>
    }
}
