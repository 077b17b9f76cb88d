//! The dashboard: the signed-in user's events in four lists (organized, waiting for their
//! answer, answered, finished with the outcome), each showing its first page with a link to all
//! of it; a search by name and status, paged; a way to join by code, and "new event". The
//! search is a plain GET form and the pages plain links (`/me?q=…&status=…&list=…&page=…`), so
//! they work before (or without) the wasm.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use leptos_router::hooks::use_query_map;

use crate::events::calls::{dashboard_events, find_events, JoinEvent};
use crate::events::{EventList as ListKind, EventResults, EventSearch, EventStatus, EventSummary, ListCounts, OutcomeView, QUERY_MAX};
use crate::notifications::{mark_notifications_read, my_notifications, NotificationList};
use crate::pages::{action_error, use_current_user, ErrorMessage};
use crate::routes;
use crate::time::{LocalTime, ViewerZone};

/// The signed-in user's area; anyone else is sent to the log-in page.
#[component]
pub fn UserAreaPage() -> impl IntoView {
    let user = use_current_user();
    let query = use_query_map();
    let search = move || {
        query.with(|query| EventSearch {
            q: query.get("q").filter(|q| !q.trim().is_empty()),
            status: query.get("status").as_deref().and_then(EventStatus::from_query),
            list: query.get("list").as_deref().and_then(ListKind::from_query),
            page: query.get("page").and_then(|page| page.parse().ok()),
        })
    };
    // The four lists are read only when no search is shown instead.
    let events = Resource::new(search, |search| async move {
        match search == EventSearch::default() {
            true => dashboard_events().await.map(Some),
            false => Ok(None),
        }
    });
    let found = Resource::new(search, |search| async move {
        match search == EventSearch::default() {
            true => None,
            false => Some(find_events(search).await),
        }
    });
    let notifications = Resource::new(|| (), |_| my_notifications());
    view! {
        <Title text="Your events · Whenly"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match (user.await, events.await) {
                    (Ok(Some(user)), Ok(events)) => {
                        let notifications = notifications.await.unwrap_or_default();
                        let lists = match found.await {
                            Some(Ok(results)) => view! { <Results results search=search()/> }.into_any(),
                            Some(Err(error)) => view! { <section class="card"><ErrorMessage error/></section> }.into_any(),
                            None => view! { <Lists events=events.unwrap_or_default()/> }.into_any(),
                        };
                        view! {
                        <section class="dashboard-head">
                            <h1>"Hello, " <span data-testid="username">{user.username}</span></h1>
                            <a class="button" href=routes::NEW_EVENT>"New event"</a>
                        </section>
                        <Notifications list=notifications/>
                        <JoinByCode/>
                        <SearchForm search=search()/>
                        {lists}
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

/// The four lists, each its first page.
#[component]
fn Lists(events: crate::events::MyEvents) -> impl IntoView {
    let ListCounts { organized, pending, answered, finished } = events.more;
    view! {
        <EventList title="Waiting for your answer" id="pending" events=events.pending more=pending
            empty="Nothing waits for your answer."/>
        <EventList title="You organize" id="organized" events=events.organized more=organized
            empty="You organize no open event. Create one with “New event”."/>
        <EventList title="Answered" id="answered" events=events.answered more=answered
            empty="No open event has your answer yet."/>
        <EventList title="Finished" id="finished" events=events.finished more=finished
            empty="No finished events yet."/>
    }
    .into_any()
}

/// Find events by name and status (a GET form: the search is in the address).
#[component]
fn SearchForm(search: EventSearch) -> impl IntoView {
    let status = search.status;
    view! {
        <section class="card" aria-labelledby="search-heading">
            <h2 id="search-heading">"Find an event"</h2>
            <form method="get" action=routes::USER_AREA class="search-form" role="search">
                {search.list.map(|list| view! { <input type="hidden" name="list" value=list.as_query()/> })}
                <div class="inline-fields">
                    <div class="stack">
                        <label for="search-name">"Name contains"</label>
                        <input id="search-name" name="q" type="search" maxlength=QUERY_MAX value=search.q.clone().unwrap_or_default()/>
                    </div>
                    <div class="stack">
                        <label for="search-status">"Status"</label>
                        <select id="search-status" name="status">
                            <option value="" selected=status.is_none()>"Any"</option>
                            {[EventStatus::Open, EventStatus::Deciding, EventStatus::Finished, EventStatus::Cancelled].into_iter().map(|option| view! {
                                <option value=option.as_query() selected=status == Some(option)>{option.label()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <button type="submit">"Find"</button>
                </div>
            </form>
        </section>
    }
    .into_any()
}

/// One page of found events, with links to the pages before and after.
#[component]
fn Results(results: EventResults, search: EventSearch) -> impl IntoView {
    let EventResults { items, total, page, pages } = results;
    let link = move |page: u32| {
        let mut parts: Vec<String> = Vec::new();
        if let Some(q) = &search.q {
            parts.push(format!("q={}", encode_component(q)));
        }
        if let Some(status) = search.status {
            parts.push(format!("status={}", status.as_query()));
        }
        if let Some(list) = search.list {
            parts.push(format!("list={}", list.as_query()));
        }
        parts.push(format!("page={page}"));
        format!("{}?{}", routes::USER_AREA, parts.join("&"))
    };
    let summary = match total {
        0 => "No event matches.".to_owned(),
        1 => "1 event.".to_owned(),
        total => format!("{total} events, page {page} of {pages}."),
    };
    view! {
        <section class="card event-list" aria-labelledby="results-heading" data-testid="results">
            <h2 id="results-heading">{search.list.map_or("Found", list_title)}</h2>
            <p class="muted" role="status">{summary} " " <a href=routes::USER_AREA>"Back to all lists"</a></p>
            <ul>{items.into_iter().map(|event| view! { <EventLine event/> }).collect_view()}</ul>
            <nav class="pager" aria-label="Pages">
                {(page > 1).then(|| view! { <a rel="prev" href=link(page - 1)>"← Previous"</a> })}
                {(page < pages).then(|| view! { <a rel="next" href=link(page + 1)>"Next →"</a> })}
            </nav>
        </section>
    }
    .into_any()
}

fn list_title(list: ListKind) -> &'static str {
    match list {
        ListKind::Organized => "You organize",
        ListKind::Pending => "Waiting for your answer",
        ListKind::Answered => "Answered",
        ListKind::Finished => "Finished",
    }
}

/// `text` as a URL query value.
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
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
fn EventList(title: &'static str, id: &'static str, events: Vec<EventSummary>, more: u32, empty: &'static str) -> impl IntoView {
    let heading = format!("{id}-heading");
    let all = format!("{}?list={id}", routes::USER_AREA);
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
            {(more > 0).then(|| view! { <p><a href=all>{format!("Show all ({more} more)")}</a></p> })}
        </section>
    }
    .into_any()
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
