use leptos::prelude::*;
use leptos_meta::Title;

use crate::pages::{action_error, credentials_form::CredentialFields, ErrorMessage, NextField};
use crate::routes;

#[component]
pub fn LogInPage() -> impl IntoView {
    let action = ServerAction::<crate::accounts::LogIn>::new();
    let error = action_error(action);
    view! {
        <Title text="Log in · Whenly"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            <ActionForm action=action attr:class="stack">
                <NextField/>
                <CredentialFields new_password=false/>
                {move || error().map(|error| view! { <ErrorMessage error/> })}
                <button type="submit" disabled=move || action.pending().get()>"Log in"</button>
            </ActionForm>
            <p>"New here? "<a href=routes::SIGNUP>"Create an account"</a></p>
            <p><a href=routes::FORGOT_PASSWORD>"Forgot your password?"</a></p>
        </section>
    }
}
