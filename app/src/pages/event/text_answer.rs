//! The answer as text, in the seed format (one `YYYY-MM-DD HH:mm - YYYY-MM-DD HH:mm` per
//! line, in the viewer's zone, a trailing `?` for if need be). Lines the server cannot read are listed with the line itself,
//! so the problem is seen next to what was typed.

use leptos::prelude::*;

use crate::error::AppError;
use crate::events::calls::SaveAvailabilityText;
use crate::pages::{action_error, ErrorMessage};
use crate::time::{after_hydration, use_viewer_zone};

#[component]
pub fn TextAnswer(
    code: String,
    /// The server-rendered content; `text` holds it in the browser.
    initial_text: String,
    text: RwSignal<String>,
    editable: Signal<bool>,
    action: ServerAction<SaveAvailabilityText>,
) -> impl IntoView {
    let zone = use_viewer_zone();
    let zone_name = after_hydration(move || zone.name().to_owned());
    let error = action_error(action);
    let saved = move || matches!(action.value().get(), Some(Ok(_)));
    let line_errors = move || match error() {
        Some(AppError::InvalidLines { lines }) => Some(lines),
        _ => None,
    };
    let other_error = move || match error() {
        Some(AppError::InvalidLines { .. }) | None => None,
        Some(error) => Some(error),
    };
    view! {
        <ActionForm action=action attr:class="stack text-answer">
            <input type="hidden" name="code" value=code/>
            <input type="hidden" name="time_zone" value=zone_name.clone()/>
            <label for="answer-text">"Free times, one per line"</label>
            <p id="answer-text-hint" class="hint">
                "Like " <code>"2030-01-08 09:00 - 2030-01-08 12:30"</code> ", in your time zone ("
                {zone_name} "). End a line with " <code>"?"</code> " for a time you could make only if need be, like "
                <code>"2030-01-08 13:00 - 2030-01-08 14:00 ?"</code> ". Leave it empty if no time works for you."
            </p>
            <textarea id="answer-text" name="text" rows="5" spellcheck="false" autocapitalize="none"
                aria-describedby="answer-text-hint" aria-invalid=move || line_errors().is_some().to_string()
                prop:value=move || text.get() on:input=move |event| text.set(event_target_value(&event))
                disabled=move || !editable.get()>{initial_text}</textarea>
            {move || line_errors().map(|lines| view! {
                <ul class="line-errors" role="alert" aria-label="Lines that could not be read">
                    {lines.into_iter().map(|problem| {
                        let typed = text.with_untracked(|text| text.lines().nth(problem.line.saturating_sub(1) as usize).unwrap_or_default().to_owned());
                        view! {
                            <li data-line=problem.line>
                                <span class="line-number">"Line " {problem.line}</span>
                                <code>{typed}</code>
                                <span>{problem.message}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
            {move || other_error().map(|error| view! { <ErrorMessage error/> })}
            <div class="inline-fields">
                <button type="submit" class="secondary" disabled=move || !editable.get() || action.pending().get()>"Save text answer"</button>
                <span class="muted" role="status">{move || saved().then_some("Saved.")}</span>
            </div>
        </ActionForm>
    }
}
