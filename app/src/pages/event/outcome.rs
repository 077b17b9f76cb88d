//! The outcome as people read it, in their own zone.

use leptos::prelude::*;

use crate::events::{people, EventStatus, OutcomeView};
use crate::time::{after_hydration, use_viewer_zone, LocalTime, ViewerZone};

#[component]
pub fn OutcomeSection(code: String, status: EventStatus, outcome: Option<OutcomeView>) -> impl IntoView {
    let zone = use_viewer_zone();
    let span = |zone: ViewerZone, slot: crate::events::SlotView| after_hydration(move || zone.span(slot.start, slot.end));
    let body = match (status, outcome) {
        (EventStatus::Open, _) => return ().into_any(),
        (EventStatus::Cancelled, _) | (_, Some(OutcomeView::Cancelled)) => view! {
            <p class="outcome-headline">"Cancelled"</p>
            <p>"The organizer cancelled this event; there will be no meeting."</p>
        }
        .into_any(),
        (_, Some(OutcomeView::Scheduled { slot, common, if_need_be, if_need_be_count })) => view! {
            <p class="outcome-headline" data-testid="meeting-time">{span(zone.clone(), slot)}</p>
            {(if_need_be_count > 0).then(|| view! {
                <p data-testid="if-need-be-note">"No time suits everyone freely; this one suits everyone if need be. Coming only if need be: "
                    <span data-testid="comes-if-need-be">{people(&if_need_be, if_need_be_count)}</span></p>
            })}
            <p><a class="button" href=format!("/api/v1/events/{code}/calendar.ics") download=format!("whenly-{code}.ics")>
                "Add to calendar (.ics)"</a></p>
            <h3>{if if_need_be_count == 0 { "Time when everyone who answered is free" } else { "Time when everyone who answered can come, if need be" }}</h3>
            <ul class="plain">
                {common.into_iter().map(|free| view! { <li>{span(zone.clone(), free)}</li> }).collect_view()}
            </ul>
        }
        .into_any(),
        (_, Some(OutcomeView::NoSolution { best_effort })) => view! {
            <p class="outcome-headline">"No common time"</p>
            <p>"No time of that length suits everyone who answered."</p>
            {best_effort.map(|best| view! {
                <h3>"Best option"</h3>
                <p class="best-effort" data-testid="best-effort">{span(zone.clone(), best.slot)}</p>
                <p>"Can come: " <span data-testid="can-come">{people(&best.available, best.available_count)}</span></p>
                {(best.if_need_be_count > 0).then(|| view! {
                    <p>"Can come if need be: " <span data-testid="can-come-if-need-be">{people(&best.if_need_be, best.if_need_be_count)}</span></p>
                })}
                <p>"Cannot come: " <span data-testid="cannot-come">{people(&best.unavailable, best.unavailable_count)}</span></p>
            })}
        }
        .into_any(),
        (_, Some(OutcomeView::Undefined)) => view! {
            <p class="outcome-headline">"Nobody answered"</p>
            <p>"Nobody said when they are free, so there is no meeting time."</p>
        }
        .into_any(),
        (_, Some(OutcomeView::Pending) | None) => view! {
            <p class="outcome-headline">"Picking the time…"</p>
            <p>"Answers are closed; the meeting time appears here in a moment."</p>
        }
        .into_any(),
    };
    view! {
        <section class="card outcome" aria-labelledby="outcome-heading" aria-live="polite">
            <h2 id="outcome-heading">"Meeting time"</h2>
            {body}
        </section>
    }
    .into_any()
}

/// "closes in 2 days 3 h", "closes in 4 min 10 s", "closed".
pub fn countdown(seconds_left: i64) -> String {
    if seconds_left <= 0 {
        return "answers are closed".to_owned();
    }
    let (days, hours, minutes, seconds) =
        (seconds_left / 86_400, seconds_left / 3_600 % 24, seconds_left / 60 % 60, seconds_left % 60);
    let left = if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else if minutes > 0 {
        format!("{minutes} min {seconds} s")
    } else {
        format!("{seconds} s")
    };
    format!("closes in {left}")
}

/// The deadline with its countdown.
#[component]
pub fn Deadline(deadline: chrono::DateTime<chrono::Utc>, now: ReadSignal<chrono::DateTime<chrono::Utc>>) -> impl IntoView {
    view! {
        <LocalTime at=deadline/>
        // A line of its own: the text changes every second and must never re-wrap the page.
        <span class="countdown" data-testid="countdown">{move || countdown((deadline - now.get()).num_seconds())}</span>
    }
}

#[cfg(test)]
mod tests {
    use super::countdown;

    #[test]
    fn the_countdown_names_the_largest_units() {
        assert_eq!(countdown(2 * 86_400 + 3 * 3_600 + 59), "closes in 2 d 3 h");
        assert_eq!(countdown(3_600 + 120), "closes in 1 h 2 min");
        assert_eq!(countdown(250), "closes in 4 min 10 s");
        assert_eq!(countdown(9), "closes in 9 s");
        assert_eq!(countdown(0), "answers are closed");
    }
}
