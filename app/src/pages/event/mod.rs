//! The event page, `/e/{code}`: details and countdown, the share link, joining, the answer (grid
//! and text), everyone's availability, the participants, leaving and cancelling, and after the
//! deadline the outcome.
//!
//! The page loads once through a resource; after that its live stream keeps it current
//! ([`live`]), writing only what changed into signals, so an update never redraws the grid
//! someone is painting.

mod grid;
mod live;
mod outcome;
mod text_answer;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::error::AppError;
use crate::events::calls::{event_page, CancelEvent, JoinEvent, LeaveEvent, SaveAvailability, SaveAvailabilityText};
use crate::events::{EventPageData, EventStatus, EventView, Heatmap, ParticipantView, SlotView};
use crate::pages::{action_error, ErrorMessage};
use crate::routes;
use crate::time::{after_hydration, now, use_hydrated, use_viewer_zone, LocalTime, ViewerZone};
use grid::{cells_of, intervals_of, needs_all_hours, AnswerGrid, Bounds, HeatGrid, Layout};
use outcome::{Deadline, OutcomeSection};
use text_answer::TextAnswer;

#[component]
pub fn EventPage() -> impl IntoView {
    let params = use_params_map();
    let code = move || params.with(|params| params.get("code").unwrap_or_default());
    let data = Resource::new(code, event_page);
    // The error of a form posted without script (checked by the server: see
    // `server::http::form_errors`), handed to the island, which keeps no context of the page.
    let posted = StoredValue::new(
        use_context::<leptos::server::ServerActionError>().map(|posted| (posted.path().to_owned(), posted.err().to_owned())),
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! {
                        <Title text=format!("{} · Whenly", data.event.name)/>
                        <EventScreen data posted=posted.get_value()/>
                    }.into_any(),
                    Err(AppError::NotLoggedIn) => view! { <SignInToSee code=code()/> }.into_any(),
                    Err(AppError::EventNotFound) => view! {
                        <Title text="No such event · Whenly"/>
                        <section class="card">
                            <h1>"No such event"</h1>
                            <ErrorMessage error=AppError::EventNotFound/>
                            <p><a href=routes::USER_AREA>"Go to your events"</a></p>
                        </section>
                    }.into_any(),
                    Err(error) => view! { <section class="card"><ErrorMessage error/></section> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SignInToSee(code: String) -> impl IntoView {
    let here = routes::event(&code);
    view! {
        <Title text="You are invited · Whenly"/>
        <section class="card narrow">
            <h1>"You are invited to an event"</h1>
            <p>"Log in or create an account to see it, join it and say when you are free."</p>
            <p class="actions">
                <a class="button" href=routes::with_next(routes::LOGIN, &here)>"Log in"</a>
                <a class="button secondary" href=routes::with_next(routes::SIGNUP, &here)>"Sign up"</a>
            </p>
        </section>
    }
}

/// The loaded page, kept current by its live stream: the one island of the page (its data comes along
/// serialized in the HTML), so everything interactive about an event lives in here.
#[island]
fn EventScreen(data: EventPageData, posted: Option<(String, String)>) -> impl IntoView {
    // An island keeps no context from the server-rendered page around it: the time, and the
    // error of a form posted before the wasm loaded (so that the browser shows it as the
    // server did, instead of failing to hydrate).
    crate::time::provide_time_context();
    if let Some((path, error)) = posted {
        provide_context(leptos::server::ServerActionError::new(&path, &error));
    }
    let EventPageData { event: initial, my_answer: initial_answer, heatmap: initial_heatmap } = data;
    let code = initial.code.clone();
    let deadline = initial.deadline;
    let is_organizer = initial.is_organizer;
    let event = RwSignal::new(initial);
    let my_answer = RwSignal::new(initial_answer);
    let heatmap = RwSignal::new(initial_heatmap);
    let (clock, set_clock) = signal(now());

    let refresh = {
        let code = code.clone();
        Callback::new(move |_: ()| {
            let code = code.clone();
            spawn_local(async move {
                if let Ok(fresh) = event_page(code).await {
                    set_if_changed(event, fresh.event);
                    set_if_changed(my_answer, fresh.my_answer);
                    set_if_changed(heatmap, fresh.heatmap);
                }
            });
        })
    };
    // Past the deadline an open event is being decided: the clock says so, no server needed.
    let status = Memo::new(move |_| match event.with(|event| event.status) {
        EventStatus::Open if clock.get() >= deadline => EventStatus::Deciding,
        status => status,
    });
    let is_participant = Memo::new(move |_| event.with(|event| event.is_participant));
    let open = Memo::new(move |_| status.get() == EventStatus::Open);
    live::follow(code.clone(), deadline, live::LiveSignals { event, heatmap, refresh, set_clock });

    let join = ServerAction::<JoinEvent>::new();
    let cancel = ServerAction::<CancelEvent>::new();
    let leave = ServerAction::<LeaveEvent>::new();
    for version in [join.version(), cancel.version()] {
        Effect::new(move |previous: Option<usize>| {
            let current = version.get();
            if previous.is_some_and(|previous| previous != current) {
                refresh.run(());
            }
            current
        });
    }

    view! {
        <EventHead event status clock/>
        {move || (!is_participant.get()).then(|| view! { <JoinSection code=event.with_untracked(|e| e.code.clone()) open join/> })}

        {move || (status.get() != EventStatus::Open).then(|| event.with(|e| view! {
            <OutcomeSection code=e.code.clone() status=status.get() outcome=e.outcome.clone()/>
        }))}

        {move || is_participant.get().then(|| view! {
            {move || open.get().then(|| view! { <ShareSection code=event.with_untracked(|e| e.code.clone())/> })}
            <AnswerSection event my_answer heatmap open refresh/>
            <ParticipantsSection event/>
            <MembershipSection code=event.with_untracked(|e| e.code.clone()) is_organizer open cancel leave/>
        }.into_any())}
    }
}

/// Name, description and the facts: deadline with countdown, length, window, people.
#[component]
fn EventHead(event: RwSignal<EventView>, status: Memo<EventStatus>, clock: ReadSignal<chrono::DateTime<chrono::Utc>>) -> impl IntoView {
    let deadline = event.with_untracked(|event| event.deadline);
    let details = move || event.get();
    view! {
        <section class="card event-head">
            <p class="eyebrow">{move || status_label(status.get())}</p>
            <h1>{move || details().name}</h1>
            {move || Some(details().description).filter(|d| !d.is_empty()).map(|d| view! { <p class="description">{d}</p> })}
            <dl class="facts">
                <dt>"Answers until"</dt>
                <dd><Deadline deadline now=clock/></dd>
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

fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}

fn status_label(status: EventStatus) -> &'static str {
    match status {
        EventStatus::Open => "Open for answers",
        EventStatus::Deciding => "Picking the time",
        EventStatus::Finished => "Decided",
        EventStatus::Cancelled => "Cancelled",
    }
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

#[component]
fn JoinSection(code: String, open: Memo<bool>, join: ServerAction<JoinEvent>) -> impl IntoView {
    let error = action_error(join);
    view! {
        <section class="card">
            <h2>"Join this event"</h2>
            {move || if open.get() {
                let code = code.clone();
                view! {
                    <p>"Join to say when you are free and to see when the others are."</p>
                    <ActionForm action=join>
                        <input type="hidden" name="code" value=code/>
                        <button type="submit" disabled=move || join.pending().get()>"Join event"</button>
                    </ActionForm>
                }.into_any()
            } else {
                view! { <p>"Answers are closed: this event can no longer be joined."</p> }.into_any()
            }}
            {move || error().map(|error| view! { <ErrorMessage error/> })}
        </section>
    }
}

/// The code and the link to send to the others.
#[component]
fn ShareSection(code: String) -> impl IntoView {
    let path = routes::event(&code);
    let link = move || format!("{}{path}", site_origin());
    let copied = RwSignal::new(false);
    let copy = {
        let link = link.clone();
        move |_| {
            copy_to_clipboard(&link());
            copied.set(true);
        }
    };
    view! {
        <section class="card share" aria-labelledby="share-heading">
            <h2 id="share-heading">"Invite people"</h2>
            <p>"Code: " <strong class="code" data-testid="event-code">{code}</strong></p>
            <label for="share-link">"Share link"</label>
            <div class="inline-fields">
                <input id="share-link" type="text" readonly value=after_hydration(link.clone()) on:focus=|event| select_all(&event)/>
                <button type="button" class="secondary" on:click=copy>"Copy link"</button>
            </div>
            <p class="muted" role="status">{move || copied.get().then_some("Link copied.")}</p>
        </section>
    }
}

#[component]
fn AnswerSection(
    event: RwSignal<EventView>,
    my_answer: RwSignal<Option<Vec<SlotView>>>,
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
            Layout::new(bounds, &zone, page.get(), all_hours.get())
        })
    };
    let selected = RwSignal::new(cells_of(&initial_answer));
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
            let intervals = selected.with_untracked(intervals_of);
            save.dispatch(SaveAvailability { code: code.clone(), intervals });
        }
    };
    let answered = move || my_answer.with(Option::is_some);
    let editable = Signal::derive(move || open.get());
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
            <div class="grid-scroll">
                {move || if hydrated.get() {
                    view! { <AnswerGrid layout=layout.into() selected editable on_change=move |_| dirty.set(true)/> }.into_any()
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
            <details class="text-answer-box">
                <summary>"Type your times instead"</summary>
                <TextAnswer code=code.clone() initial_text text editable action=save_text/>
            </details>
        </section>
        <section class="card heat" aria-labelledby="heat-heading">
            <h2 id="heat-heading">"Everyone's availability"</h2>
            <p class="muted">{move || heat.with(|heat| match heat.answered {
                0 => "Nobody has answered yet.".to_owned(),
                1 => "1 person has answered. Darker cells: more people free.".to_owned(),
                n => format!("{n} people have answered. Darker cells: more people free."),
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

#[component]
fn ParticipantsSection(event: RwSignal<EventView>) -> impl IntoView {
    let people = move || event.with(|event| (event.participants.clone().unwrap_or_default(), event.organizer.clone()));
    view! {
        <section class="card" aria-labelledby="people-heading">
            <h2 id="people-heading">"Participants"</h2>
            <ul class="people" data-testid="participants">
                {move || {
                    let (people, organizer) = people();
                    people.into_iter().map(|ParticipantView { username, answered }| {
                        let is_organizer = username == organizer;
                        view! {
                            <li>
                                <span class="person">{username}</span>
                                {is_organizer.then(|| view! { <span class="tag">"organizer"</span> })}
                                <span class=if answered { "state answered" } else { "state" }>
                                    {if answered { "answered" } else { "no answer yet" }}
                                </span>
                            </li>
                        }
                    }).collect_view()
                }}
            </ul>
        </section>
    }
}

/// Leave (participants) or cancel (the organizer), each behind a second, explicit button.
#[component]
fn MembershipSection(
    code: String,
    is_organizer: bool,
    open: Memo<bool>,
    cancel: ServerAction<CancelEvent>,
    leave: ServerAction<LeaveEvent>,
) -> impl IntoView {
    let cancel_error = action_error(cancel);
    let leave_error = action_error(leave);
    let (summary, consequence, confirm) = if is_organizer {
        ("Cancel this event", "Everyone will see that the event is cancelled. This cannot be undone.", "Yes, cancel the event")
    } else {
        ("Leave this event", "Your answer is withdrawn. You can join again until the deadline.", "Yes, leave the event")
    };
    move || {
        if !open.get() {
            return None;
        }
        let code = code.clone();
        let form = if is_organizer {
            view! { <ActionForm action=cancel><ConfirmFields code confirm/></ActionForm> }.into_any()
        } else {
            view! { <ActionForm action=leave><ConfirmFields code confirm/></ActionForm> }.into_any()
        };
        Some(view! {
            <section class="card danger-zone">
                <details>
                    <summary>{summary}</summary>
                    <p>{consequence}</p>
                    {form}
                </details>
                {move || if is_organizer { cancel_error() } else { leave_error() }.map(|error| view! { <ErrorMessage error/> })}
            </section>
        })
    }
}

#[component]
fn ConfirmFields(code: String, confirm: &'static str) -> impl IntoView {
    view! {
        <input type="hidden" name="code" value=code/>
        <button type="submit" class="danger">{confirm}</button>
    }
}

/// The answer as seed-format lines in the viewer's zone.
fn answer_text(zone: &ViewerZone, answer: &[SlotView]) -> String {
    answer.iter().map(|slot| format!("{} - {}\n", zone.text_format(slot.start), zone.text_format(slot.end))).collect()
}

/// `scheme://host[:port]` of this site: the browser's location, or on the server the request's
/// Host header.
fn site_origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        leptos::prelude::window().location().origin().unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        #[cfg(feature = "ssr")]
        if let Some(host) = use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get(axum::http::header::HOST).and_then(|host| host.to_str().ok().map(str::to_owned)))
        {
            return format!("http://{host}");
        }
        String::new()
    }
}

fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _promise = leptos::prelude::window().navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

fn select_all(event: &leptos::ev::FocusEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(input) = event.target().and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok()) {
            input.select();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = event;
}
