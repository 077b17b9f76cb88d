//! The event page, `/e/{code}`: details and countdown, the share link, joining, the answer (grid
//! and text), everyone's availability, the participants, leaving and cancelling, and after the
//! deadline the outcome.
//!
//! The page loads once through a resource; after that its live stream keeps it current
//! ([`live`]), writing only what changed into signals, so an update never redraws the grid
//! someone is painting.

mod answer;
mod calendar_file;
mod grid;
mod head;
mod live;
mod members;
mod organize;
mod outcome;
mod text_answer;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::error::AppError;
use crate::events::calls::{event_page, CancelEvent, JoinEvent, LeaveEvent};
use crate::events::{EventPageData, EventStatus};
use crate::pages::{raw_text_child, ErrorMessage};
use crate::routes;
use crate::time::now;
use answer::AnswerSection;
use head::EventHead;
use members::{JoinSection, MembershipSection, ParticipantsSection, ShareSection};
use organize::OrganizerSection;
use outcome::OutcomeSection;

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
                        <Title text=format!("{} · Whenly", raw_text_child(&data.event.name))/>
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
    let status = Memo::new(move |_| match event.with(|event| (event.status, event.deadline)) {
        (EventStatus::Open, deadline) if clock.get() >= deadline => EventStatus::Deciding,
        (status, _) => status,
    });
    let is_participant = Memo::new(move |_| event.with(|event| event.is_participant));
    let open = Memo::new(move |_| status.get() == EventStatus::Open);
    live::follow(code.clone(), live::LiveSignals { event, heatmap, refresh, set_clock });

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
            {move || (open.get() && is_organizer).then(|| view! { <OrganizerSection event refresh/> })}
            <AnswerSection event my_answer heatmap open refresh/>
            <ParticipantsSection event/>
            <MembershipSection code=event.with_untracked(|e| e.code.clone()) is_organizer open cancel leave/>
        }.into_any())}
    }
}

/// Writes `value` only if it differs, so nothing that reads the signal is redrawn in vain.
fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|current| *current != value) {
        signal.set(value);
    }
}

