//! Who takes part: joining, the share link, the participants list, and leaving or cancelling.

use leptos::prelude::*;

use crate::events::calls::{CancelEvent, JoinEvent, LeaveEvent};
use crate::events::{EventView, ParticipantView};
use crate::pages::{action_error, ErrorMessage};
use crate::routes;
use crate::time::after_hydration;

#[component]
pub(super) fn JoinSection(code: String, open: Memo<bool>, join: ServerAction<JoinEvent>) -> impl IntoView {
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
pub(super) fn ShareSection(code: String) -> impl IntoView {
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
pub(super) fn ParticipantsSection(event: RwSignal<EventView>) -> impl IntoView {
    let people = move || event.with(|event| (event.participants.clone().unwrap_or_default(), event.organizer.clone()));
    let hidden = move || event.with(|event| (event.answers_hidden && event.participants.is_none()).then(|| (event.participant_count, event.answered_count)));
    let organizer_hides = move || event.with(|event| event.answers_hidden && event.is_organizer);
    view! {
        <section class="card" aria-labelledby="people-heading">
            <h2 id="people-heading">"Participants"</h2>
            {move || hidden().map(|(count, answered)| view! {
                <p data-testid="answer-counts">{format!("{count} taking part, {answered} answered.")}
                    " The organizer keeps who answered and who can come private."</p>
            })}
            {move || organizer_hides().then(|| view! {
                <p class="muted">"Only you see who answered: the others see how many."</p>
            })}
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
    .into_any()
}

/// Leave (participants) or cancel (the organizer), each behind a second, explicit button.
#[component]
pub(super) fn MembershipSection(
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

