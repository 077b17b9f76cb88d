//! The organizer's controls while answers are open: close answers now (the cluster decides at
//! once), hide who answered from the others, and change the event (name, description,
//! deadline, length, window) with the answers kept. Times are typed in the viewer's zone.

use chrono::{DateTime, NaiveDateTime, Utc};
use leptos::prelude::*;

use crate::error::AppError;
use crate::events::calls::{DecideNow, EditEvent};
use crate::events::{EditEventInput, EventView, DESCRIPTION_MAX, NAME_MAX};
use crate::pages::{action_error, ErrorMessage};
use crate::time::{use_viewer_zone, ViewerZone};

#[component]
pub(super) fn OrganizerSection(event: RwSignal<EventView>, refresh: Callback<()>) -> impl IntoView {
    let code = event.with_untracked(|event| event.code.clone());
    let decide = ServerAction::<DecideNow>::new();
    let edit = ServerAction::<EditEvent>::new();
    let hide = ServerAction::<EditEvent>::new();
    for version in [decide.version(), edit.version(), hide.version()] {
        Effect::new(move |previous: Option<usize>| {
            let current = version.get();
            if previous.is_some_and(|previous| previous != current) {
                refresh.run(());
            }
            current
        });
    }
    let decide_error = action_error(decide);
    let hide_error = action_error(hide);
    let hidden = move || event.with(|event| event.answers_hidden);
    let toggle_hidden = {
        let code = code.clone();
        move |ev: leptos::ev::Event| {
            let input = EditEventInput { answers_hidden: Some(event_target_checked(&ev)), ..EditEventInput::default() };
            hide.dispatch(EditEvent { code: code.clone(), input });
        }
    };
    let close_now = {
        let code = code.clone();
        move |_| {
            decide.dispatch(DecideNow { code: code.clone() });
        }
    };
    view! {
        <section class="card organize" aria-labelledby="organize-heading">
            <h2 id="organize-heading">"Organizer"</h2>
            <label class="checkbox">
                <input type="checkbox" prop:checked=hidden on:change=toggle_hidden disabled=move || hide.pending().get()/>
                "Hide who answered and who can come from the others (they see how many)"
            </label>
            {move || hide_error().map(|error| view! { <ErrorMessage error/> })}
            <details class="close-now">
                <summary>"Close answers now"</summary>
                <p>"The meeting time is picked from the answers given so far, right away. Nobody can answer after that."</p>
                <button type="button" on:click=close_now disabled=move || decide.pending().get()>"Yes, close answers and pick the time"</button>
            </details>
            {move || decide_error().map(|error| view! { <ErrorMessage error/> })}
            <details class="edit-event">
                <summary>"Change the event"</summary>
                <EditForm event edit code=code.clone()/>
            </details>
        </section>
    }
    .into_any()
}

/// Name, description, deadline, length and window, filled with the event as it stands. Only
/// what differs from what the form was filled with is sent, so a change made meanwhile (in
/// another tab) to a field not touched here stays.
#[component]
fn EditForm(event: RwSignal<EventView>, edit: ServerAction<EditEvent>, code: String) -> impl IntoView {
    let zone = use_viewer_zone();
    let current = event.get_untracked();
    let baseline = StoredValue::new(current.clone());
    let name = RwSignal::new(current.name.clone());
    let description = RwSignal::new(current.description.clone());
    let deadline = RwSignal::new(zone.input_value(current.deadline));
    let duration = RwSignal::new(current.duration_minutes.to_string());
    let window_start = RwSignal::new(current.window_start.map(|at| zone.input_value(at)).unwrap_or_default());
    let window_end = RwSignal::new(current.window_end.map(|at| zone.input_value(at)).unwrap_or_default());
    // Saved: the form shows the event as the server has it now (with any change made
    // elsewhere meanwhile), and that is what the next save compares with.
    {
        let zone = zone.clone();
        Effect::new(move |_| {
            if let Some(Ok(saved)) = edit.value().get() {
                name.set(saved.name.clone());
                description.set(saved.description.clone());
                deadline.set(zone.input_value(saved.deadline));
                duration.set(saved.duration_minutes.to_string());
                window_start.set(saved.window_start.map(|at| zone.input_value(at)).unwrap_or_default());
                window_end.set(saved.window_end.map(|at| zone.input_value(at)).unwrap_or_default());
                baseline.set_value(saved);
            }
        });
    }
    let local_error = RwSignal::new(None::<AppError>);
    let server_error = action_error(edit);
    let error = move || local_error.get().or_else(server_error);
    let field_error = move |field: &'static str| {
        move || match error() {
            Some(AppError::Invalid { field: at, message }) if at == field => Some(view! { <p class="error" role="alert">{message}</p> }),
            _ => None,
        }
    };
    let other_error = move || match error() {
        Some(AppError::Invalid { field, .. }) if ["name", "description", "deadline", "duration_minutes", "window_start", "window_end"].contains(&field.as_str()) => None,
        Some(error) => Some(view! { <ErrorMessage error/> }),
        None => None,
    };
    let saved = move || matches!(edit.value().get(), Some(Ok(_)));
    let submit = {
        let zone = zone.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let typed = Typed {
                name: name.get_untracked(),
                description: description.get_untracked(),
                deadline: deadline.get_untracked(),
                duration: duration.get_untracked(),
                window_start: window_start.get_untracked(),
                window_end: window_end.get_untracked(),
            };
            match baseline.with_value(|filled| typed.changes(filled, &zone)) {
                Ok(input) => {
                    local_error.set(None);
                    edit.dispatch(EditEvent { code: code.clone(), input });
                }
                Err(problem) => local_error.set(Some(problem)),
            }
        }
    };
    view! {
        <form class="stack" on:submit=submit>
            <label for="edit-name">"Name"</label>
            <input id="edit-name" type="text" required maxlength=NAME_MAX prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
            {field_error("name")}
            <label for="edit-description">"Description"</label>
            <textarea id="edit-description" rows="3" maxlength=DESCRIPTION_MAX prop:value=description
                on:input=move |ev| description.set(event_target_value(&ev))>{crate::pages::raw_text_child(&current.description)}</textarea>
            {field_error("description")}
            <label for="edit-deadline">"Answers until"</label>
            <input id="edit-deadline" type="datetime-local" required prop:value=deadline on:input=move |ev| deadline.set(event_target_value(&ev))/>
            {field_error("deadline")}
            <label for="edit-duration">"Meeting length (minutes)"</label>
            <input id="edit-duration" type="number" min="5" max="1440" inputmode="numeric" required prop:value=duration
                on:input=move |ev| duration.set(event_target_value(&ev))/>
            {field_error("duration_minutes")}
            <fieldset>
                <legend>"When may it take place? " <span class="muted">"(both empty: any time)"</span></legend>
                <div class="two-columns">
                    <div class="stack">
                        <label for="edit-window-start">"Earliest start"</label>
                        <input id="edit-window-start" type="datetime-local" prop:value=window_start on:input=move |ev| window_start.set(event_target_value(&ev))/>
                    </div>
                    <div class="stack">
                        <label for="edit-window-end">"Latest end"</label>
                        <input id="edit-window-end" type="datetime-local" prop:value=window_end on:input=move |ev| window_end.set(event_target_value(&ev))/>
                    </div>
                </div>
                {field_error("window_start")}
                {field_error("window_end")}
            </fieldset>
            {other_error}
            <p class="hint">"Answers are kept. Times are in your time zone."</p>
            <div class="inline-fields">
                <button type="submit" disabled=move || edit.pending().get()>"Save changes"</button>
                <span class="muted" role="status">{move || saved().then_some("Saved.")}</span>
            </div>
        </form>
    }
    .into_any()
}

/// The form's fields as typed.
struct Typed {
    name: String,
    description: String,
    deadline: String,
    duration: String,
    window_start: String,
    window_end: String,
}

impl Typed {
    /// What differs from `current`, read in `zone`; a field that cannot be read is named.
    fn changes(&self, current: &EventView, zone: &ViewerZone) -> Result<EditEventInput, AppError> {
        let instant = |field: &str, text: &str| -> Result<Option<DateTime<Utc>>, AppError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
                .map(|local| Some(zone.instant(local)))
                .map_err(|_| AppError::invalid(field, "Enter a date and a time."))
        };
        let deadline = instant("deadline", &self.deadline)?.ok_or_else(|| AppError::invalid("deadline", "Give a response deadline."))?;
        let duration: u32 = self
            .duration
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("duration_minutes", "The meeting length must be a whole number of minutes."))?;
        let window = (instant("window_start", &self.window_start)?, instant("window_end", &self.window_end)?);
        // Unchanged instants are compared at the input's minute resolution.
        let same = |a: DateTime<Utc>, b: DateTime<Utc>| zone.input_value(a) == zone.input_value(b);
        let same_window = match (window, (current.window_start, current.window_end)) {
            ((Some(a), Some(b)), (Some(c), Some(d))) => same(a, c) && same(b, d),
            ((None, None), (None, None)) => true,
            _ => false,
        };
        let text = |at: DateTime<Utc>| at.to_rfc3339();
        Ok(EditEventInput {
            name: (self.name.trim() != current.name).then(|| self.name.clone()),
            description: (self.description.replace("\r\n", "\n").trim() != current.description).then(|| self.description.clone()),
            deadline: (!same(deadline, current.deadline)).then(|| text(deadline)),
            duration_minutes: (duration != current.duration_minutes).then_some(duration),
            window_start: (!same_window).then(|| window.0.map(text)),
            window_end: (!same_window).then(|| window.1.map(text)),
            answers_hidden: None,
        })
    }
}
