//! The event's head: name, description and the facts (deadline with countdown, length,
//! window, organizer, people).

use leptos::prelude::*;

use super::outcome::Deadline;
use crate::events::{EventStatus, EventView};
use crate::time::LocalTime;

/// Name, description and the facts: deadline with countdown, length, window, people.
#[component]
pub(super) fn EventHead(event: RwSignal<EventView>, status: Memo<EventStatus>, clock: ReadSignal<chrono::DateTime<chrono::Utc>>) -> impl IntoView {
    let details = move || event.get();
    view! {
        <section class="card event-head">
            <p class="eyebrow">{move || status.get().label()}</p>
            <h1>{move || details().name}</h1>
            {move || Some(details().description).filter(|d| !d.is_empty()).map(|d| view! { <p class="description">{d}</p> })}
            <dl class="facts">
                <dt>"Answers until"</dt>
                <dd>{move || { let deadline = event.with(|event| event.deadline); view! { <Deadline deadline now=clock/> } }}</dd>
                <dt>"Meeting length"</dt>
                <dd>{move || length_label(details().duration_minutes)}</dd>
                {move || details().window_start.zip(details().window_end).map(|(start, end)| view! {
                    <dt>"Between"</dt>
                    <dd><LocalTime at=start/> " and " <LocalTime at=end/></dd>
                })}
                <dt>"Organizer"</dt>
                <dd>{move || details().organizer}</dd>
                <dt>"Participants"</dt>
                <dd>{move || participants_label(&details())}</dd>
            </dl>
        </section>
    }
    .into_any()
}


fn length_label(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, minutes) => format!("{minutes} minutes"),
        (1, 0) => "1 hour".to_owned(),
        (hours, 0) => format!("{hours} hours"),
        (hours, minutes) => format!("{hours} h {minutes} min"),
    }
}

fn participants_label(event: &EventView) -> String {
    match event.capacity {
        Some(capacity) => format!("{} of at most {capacity}", event.participant_count),
        None => event.participant_count.to_string(),
    }
}

