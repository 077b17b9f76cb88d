//! The dashboard: the signed-in user's events in four lists (organized, waiting for their
//! answer, answered, finished with the outcome), a way to join by code, and "new event".

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::events::calls::{dashboard_events, JoinEvent};
use crate::events::{EventStatus, EventSummary, OutcomeView};
use crate::notifications::{mark_notifications_read, my_notifications, NotificationList};
use crate::pages::{action_error, use_current_user, ErrorMessage};
use crate::routes;
use crate::time::{LocalTime, ViewerZone};

/// The signed-in user's area; anyone else is sent to the log-in page.
#[component]
pub fn UserAreaPage() -> impl IntoView {
    let user = use_current_user();
    let events = Resource::new(|| (), |_| dashboard_events());
    let notifications = Resource::new(|| (), |_| my_notifications());
    view! {
        <Title text="Your events · Whenly"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match (user.await, events.await) {
                    (Ok(Some(user)), Ok(events)) => {
                        let notifications = notifications.await.unwrap_or_default();
                        view! {
                        <section class="dashboard-head">
                            <h1>"Hello, " <span data-testid="username">{user.username}</span></h1>
                            <a class="button" href=routes::NEW_EVENT>"New event"</a>
                        </section>
                        <Notifications list=notifications/>
                        <JoinByCode/>
                        <EventList title="Waiting for your answer" id="pending" events=events.pending
                            empty="Nothing waits for your answer."/>
                        <EventList title="You organize" id="organized" events=events.organized
                            empty="You organize no open event. Create one with “New event”."/>
                        <EventList title="Answered" id="answered" events=events.answered
                            empty="No open event has your answer yet."/>
                        <EventList title="Finished" id="finished" events=events.finished
                            empty="No finished events yet."/>
                    }.into_any()
                    }
                    (Ok(None), _) | (_, Err(crate::error::AppError::NotLoggedIn)) => {
                        view! { <Redirect path=routes::LOGIN/> }.into_any()
                    }
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Join with a code (or a pasted share link).
#[component]
fn JoinByCode() -> impl IntoView {
    let join = ServerAction::<JoinEvent>::new();
    let error = action_error(join);
    view! {
        <section class="card">
            <h2>"Join an event"</h2>
            <ActionForm action=join attr:class="join-form">
                <label for="join-code">"Event code or link"</label>
                <div class="inline-fields">
                    <input id="join-code" name="code" type="text" required autocomplete="off"
                        autocapitalize="none" spellcheck="false" placeholder="e.g. 7hQx3PZk2a"/>
                    <button type="submit" disabled=move || join.pending().get()>"Join"</button>
                </div>
                {move || error().map(|error| view! { <ErrorMessage error/> })}
            </ActionForm>
        </section>
    }
}

#[component]
fn EventList(title: &'static str, id: &'static str, events: Vec<EventSummary>, empty: &'static str) -> impl IntoView {
    let heading = format!("{id}-heading");
    let labelled_by = heading.clone();
    view! {
        <section class="card event-list" aria-labelledby=labelled_by data-testid=id>
            <h2 id=heading>{title}</h2>
            {if events.is_empty() {
                view! { <p class="muted">{empty}</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {events.into_iter().map(|event| view! { <EventLine event/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn EventLine(event: EventSummary) -> impl IntoView {
    let detail = match (&event.status, &event.outcome) {
        (EventStatus::Open, _) => view! { "Answers until " <LocalTime at=event.deadline/> }.into_any(),
        (EventStatus::Deciding, _) => "Deciding the time…".into_any(),
        (_, Some(OutcomeView::Scheduled { slot, .. })) => {
            let slot = *slot;
            view! { "Meeting: " <LocalTime at=slot.start/> " – " <LocalTime at=slot.end format=ViewerZone::clock/> }.into_any()
        }
        (_, Some(OutcomeView::NoSolution { .. })) => "No time suits everyone".into_any(),
        (_, Some(OutcomeView::Undefined)) => "Nobody answered".into_any(),
        (_, Some(OutcomeView::Cancelled)) | (EventStatus::Cancelled, _) => "Cancelled".into_any(),
        (_, _) => "Deciding the time…".into_any(),
    };
    view! {
        <li>
            <a href=routes::event(&event.code)>{event.name}</a>
            <span class="muted">{detail}</span>
        </li>
    }
}

/// The newest notifications, the unread ones marked; seeing them (the page hydrated in a
/// browser) marks them read.
#[component]
fn Notifications(list: NotificationList) -> impl IntoView {
    let newest_unread = list.items.iter().filter(|item| !item.read).map(|item| item.id).max();
    view! {
        <section class="card notifications" id="notifications" aria-labelledby="notifications-heading" data-testid="notifications">
            <h2 id="notifications-heading">"Notifications"</h2>
            {if list.items.is_empty() {
                view! { <p class="muted">"Nothing yet. You hear here when a time is decided, a deadline nears or an event is cancelled."</p> }.into_any()
            } else {
                view! {
                    <ul>
                        {list.items.into_iter().map(|item| view! {
                            <li class:unread=!item.read>
                                {(!item.read).then(|| view! { <span class="badge">"New"</span> " " })}
                                <a href=routes::event(&item.event_code)>{item.kind.headline(&item.event_name)}</a>
                                " " <span class="muted"><LocalTime at=item.created_at/></span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {newest_unread.map(|up_to| view! { <MarkSeen up_to/> })}
        </section>
    }
}

/// Marks the notifications up to `up_to` read once the list is on a screen, and takes the
/// count off the header's bell.
#[island]
fn MarkSeen(up_to: i64) -> impl IntoView {
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if mark_notifications_read(up_to).await.is_ok() {
                #[cfg(feature = "hydrate")]
                if let Some(count) = web_sys::window()
                    .and_then(|window| window.document())
                    .and_then(|document| document.query_selector("[data-testid=unread-count]").ok().flatten())
                {
                    count.remove();
                }
            }
        });
    });
}
