//! The pages the links in mails open: confirming an address and unsubscribing from a kind of
//! mail. Opening either changes nothing; a button does, so a mail scanner that fetches every
//! link of a mail confirms and unsubscribes nobody.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::accounts::VerifyEmail;
use crate::notifications::{NotificationKind, Unsubscribe};
use crate::pages::{action_error, ErrorMessage};
use crate::routes;

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let verify = ServerAction::<VerifyEmail>::new();
    let error = action_error(verify);
    let query = use_query_map();
    let token = query.with_untracked(|query| query.get("token")).unwrap_or_default();
    let done = query.with_untracked(|query| query.get("done").is_some());
    view! {
        <Title text="Confirm your address · Whenly"/>
        <section class="card narrow">
            <h1>"Confirm your address"</h1>
            {match done {
                true => view! {
                    <p class="notice" role="status" data-testid="email-verified">"Your address is verified: notifications will be mailed there."</p>
                    <p><a href=routes::SETTINGS>"Your settings"</a></p>
                }.into_any(),
                false => view! {
                    <ActionForm action=verify attr:class="stack">
                        <input type="hidden" name="token" value=token/>
                        <p>"Is this your address, for your Whenly account?"</p>
                        {move || error().map(|error| view! {
                            <ErrorMessage error/>
                            <p><a href=routes::SETTINGS>"Send a new link from your settings"</a></p>
                        })}
                        <button type="submit">"Confirm my address"</button>
                    </ActionForm>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
pub fn UnsubscribePage() -> impl IntoView {
    let unsubscribe = ServerAction::<Unsubscribe>::new();
    let error = action_error(unsubscribe);
    let query = use_query_map();
    let token = query.with_untracked(|query| query.get("token")).unwrap_or_default();
    let done = query.with_untracked(|query| query.get("done")).and_then(|kind| NotificationKind::parse(&kind));
    view! {
        <Title text="Unsubscribe · Whenly"/>
        <section class="card narrow">
            <h1>"Unsubscribe"</h1>
            {match done {
                Some(kind) => view! {
                    <p class="notice" role="status" data-testid="unsubscribed">
                        "You will get no more mails of this kind: " {kind.label()} ". They still appear on your dashboard."
                    </p>
                    <p><a href=routes::SETTINGS>"Change this in your settings"</a></p>
                }.into_any(),
                None => view! {
                    <ActionForm action=unsubscribe attr:class="stack">
                        <input type="hidden" name="token" value=token/>
                        <p>"Stop this kind of mail from Whenly?"</p>
                        {move || error().map(|error| view! { <ErrorMessage error/> })}
                        <button type="submit">"Unsubscribe"</button>
                    </ActionForm>
                }.into_any(),
            }}
        </section>
    }
}
