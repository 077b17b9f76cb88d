//! The answer: the grid (paged, with every hour on demand, painted free or if need be, or
//! filled from a calendar file), the text form beside it, and the heatmap of everyone's
//! availability.

use leptos::prelude::*;

use super::calendar_file::CalendarFile;
use super::grid::{cells_of, in_day_hours, intervals_of, needs_all_hours, AnswerGrid, Bounds, HeatGrid, Layout, Mark};
use super::text_answer::TextAnswer;
use crate::events::calls::{SaveAvailability, SaveAvailabilityText};
use crate::events::{AnswerView, EventView, Heatmap};
use crate::pages::{action_error, ErrorMessage};
use crate::time::{use_hydrated, use_viewer_zone, ViewerZone};

#[component]
pub(super) fn AnswerSection(
    event: RwSignal<EventView>,
    my_answer: RwSignal<Option<AnswerView>>,
    heatmap: RwSignal<Option<Heatmap>>,
    open: Memo<bool>,
    refresh: Callback<()>,
) -> impl IntoView {
    let zone = use_viewer_zone();
    let hydrated = use_hydrated();
    let code = event.with_untracked(|e| e.code.clone());
    let bounds = event.with_untracked(Bounds::of);
    let answer_now = move || my_answer.get().unwrap_or_default();

    let page = RwSignal::new(0usize);
    let initial_answer = my_answer.get_untracked().unwrap_or_default();
    let all_hours = RwSignal::new(needs_all_hours(&initial_answer, &zone, bounds));
    let layout = {
        let zone = zone.clone();
        Memo::new(move |_| {
            hydrated.track();
            // The organizer may move the deadline or the window while the page is open.
            Layout::new(event.with(Bounds::of), &zone, page.get(), all_hours.get())
        })
    };
    let selected = RwSignal::new(cells_of(&initial_answer));
    let brush = RwSignal::new(Mark::Free);
    let dirty = RwSignal::new(false);
    // The server renders the text; in the browser the effect below fills the signal (in the
    // browser's zone) once hydrated.
    let initial_text = answer_text(&zone, &initial_answer);
    let text = RwSignal::new(String::new());
    // A saved answer (here, as text, or on another device) shows in the grid unless the grid
    // holds unsaved changes, and in the text form.
    {
        let zone = zone.clone();
        Effect::new(move |_| {
            let answer = answer_now();
            if !dirty.get_untracked() {
                selected.set(cells_of(&answer));
            }
            text.set(answer_text(&zone, &answer));
        });
    }

    let save = ServerAction::<SaveAvailability>::new();
    let save_text = ServerAction::<SaveAvailabilityText>::new();
    for version in [save.version(), save_text.version()] {
        Effect::new(move |previous: Option<usize>| {
            let current = version.get();
            if previous.is_some_and(|previous| previous != current) {
                dirty.set(false);
                refresh.run(());
            }
            current
        });
    }
    let save_error = action_error(save);
    let save_grid = {
        let code = code.clone();
        move |_| {
            let (intervals, if_need_be) = selected.with_untracked(|cells| (intervals_of(cells, Mark::Free), intervals_of(cells, Mark::IfNeedBe)));
            save.dispatch(SaveAvailability { code: code.clone(), intervals, if_need_be });
        }
    };
    let answered = move || my_answer.with(Option::is_some);
    let editable = Signal::derive(move || open.get());
    // While a calendar file is read, the grid waits: the suggestion would overwrite painting.
    let reading = RwSignal::new(false);
    let paintable = Signal::derive(move || open.get() && !reading.get());
    // The suggestion fills the hours it was read for; other cells keep what they had. It comes
    // too late once answers have closed.
    let fill_from_calendar = {
        let zone = zone.clone();
        Callback::new(move |answer: AnswerView| {
            if !open.get_untracked() {
                return;
            }
            let all = all_hours.get_untracked();
            page.set(0);
            selected.update(|cells| {
                cells.retain(|&key, _| !all && !in_day_hours(key, &zone));
                cells.extend(cells_of(&answer));
            });
            dirty.set(true);
        })
    };
    let heat = Signal::derive(move || heatmap.get().unwrap_or_default());
    let rows_for_placeholder = move || layout.with(|layout| layout.rows.len());

    view! {
        <section class="card answer" aria-labelledby="answer-heading">
            <h2 id="answer-heading">"When are you free?"</h2>
            <p class="muted" data-testid="answer-state">{move || match (answered(), dirty.get()) {
                (_, true) => "Unsaved changes.",
                (true, false) => "Your answer is saved. You can change it until the deadline.",
                (false, false) => "You have not answered yet.",
            }}</p>
            {move || (!open.get()).then(|| view! {
                <p class="notice" role="status">"Answers are closed: the deadline has passed, so your answer can no longer change."</p>
            })}
            <GridControls layout page all_hours/>
            <BrushChoice brush editable/>
            <div class="grid-scroll">
                {move || if hydrated.get() {
                    view! { <AnswerGrid layout=layout.into() selected brush=brush.into() editable=paintable on_change=move |_| dirty.set(true)/> }.into_any()
                } else {
                    view! { <div class="grid-placeholder" style=move || format!("--rows: {}", rows_for_placeholder())>"Loading the grid…"</div> }.into_any()
                }}
            </div>
            <div class="inline-fields">
                <button type="button" on:click=save_grid disabled=move || !open.get() || save.pending().get() || !hydrated.get()>
                    "Save availability"
                </button>
                <button type="button" class="secondary" disabled=move || !open.get() || !dirty.get()
                    on:click=move |_| { dirty.set(false); selected.set(cells_of(&answer_now())); }>
                    "Undo changes"
                </button>
            </div>
            {move || save_error().map(|error| view! { <ErrorMessage error/> })}
            <details class="calendar-file-box">
                <summary>"Fill from your calendar"</summary>
                <CalendarFile code=code.clone() all_hours editable unsaved=dirty reading on_suggestion=fill_from_calendar/>
            </details>
            <details class="text-answer-box">
                <summary>"Type your times instead"</summary>
                <TextAnswer code=code.clone() initial_text text editable action=save_text/>
            </details>
        </section>
        <section class="card heat" aria-labelledby="heat-heading">
            <h2 id="heat-heading">"Everyone's availability"</h2>
            <p class="muted">{move || heat.with(|heat| match heat.answered {
                0 => "Nobody has answered yet.".to_owned(),
                1 => "1 person has answered. Darker cells: more people free; striped: more could come if need be.".to_owned(),
                n => format!("{n} people have answered. Darker cells: more people free; striped: more could come if need be."),
            })}</p>
            <div class="grid-scroll">
                {move || if hydrated.get() {
                    view! { <HeatGrid layout=layout.into() heatmap=heat/> }.into_any()
                } else {
                    view! { <div class="grid-placeholder" style=move || format!("--rows: {}", rows_for_placeholder())></div> }.into_any()
                }}
            </div>
        </section>
    }
    .into_any()
}

/// Paging through days and choosing the hours shown.
#[component]
fn GridControls(layout: Memo<Layout>, page: RwSignal<usize>, all_hours: RwSignal<bool>) -> impl IntoView {
    let pages = move || layout.with(|layout| layout.pages);
    view! {
        <div class="grid-controls">
            <button type="button" class="secondary" disabled=move || page.get() == 0
                on:click=move |_| page.update(|page| *page = page.saturating_sub(1))>"← Earlier days"</button>
            <button type="button" class="secondary" disabled={move || page.get() + 1 >= pages()}
                on:click=move |_| page.update(|page| *page += 1)>"Later days →"</button>
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || all_hours.get()
                    on:change=move |event| all_hours.set(event_target_checked(&event))/>
                "Show all 24 hours"
            </label>
        </div>
    }
}

/// What the grid paints: free, or if need be.
#[component]
fn BrushChoice(brush: RwSignal<Mark>, editable: Signal<bool>) -> impl IntoView {
    let option = move |mark: Mark, value: &'static str, label: &'static str| {
        view! {
            <label class=format!("brush-option brush-{value}")>
                <input type="radio" name="brush" value=value prop:checked=move || brush.get() == mark
                    disabled=move || !editable.get() on:change=move |_| brush.set(mark)/>
                <span class="swatch" aria-hidden="true"></span>
                {label}
            </label>
        }
    };
    view! {
        <fieldset class="brush">
            <legend>"Paint times as"</legend>
            {option(Mark::Free, "free", "Free")}
            {option(Mark::IfNeedBe, "if-need-be", "If need be")}
        </fieldset>
    }
}

/// The answer as seed-format lines in the viewer's zone, in time order, if-need-be ones
/// marked with `?`.
fn answer_text(zone: &ViewerZone, answer: &AnswerView) -> String {
    let mut lines: Vec<(chrono::DateTime<chrono::Utc>, String)> = Vec::new();
    for (slots, mark) in [(&answer.free, ""), (&answer.if_need_be, " ?")] {
        lines.extend(slots.iter().map(|slot| (slot.start, format!("{} - {}{mark}\n", zone.text_format(slot.start), zone.text_format(slot.end)))));
    }
    lines.sort();
    lines.into_iter().map(|(_, line)| line).collect()
}
