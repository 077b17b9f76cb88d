use leptos::prelude::*;
use leptos_meta::Title;

use crate::pages::{action_error, credentials_form::CredentialFields, ErrorMessage, NextField};
use crate::routes;

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<crate::accounts::SignUp>::new();
    let error = action_error(action);
    view! {
        <Title text="Sign up · Whenly"/>
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <ActionForm action=action attr:class="stack">
                <NextField/>
                <CredentialFields new_password=true/>
                <label for="signup-email">"E-mail address " <span class="muted">"(optional)"</span></label>
                <input id="signup-email" name="email" type="email" autocomplete="email" maxlength="254" aria-describedby="signup-email-hint"/>
                <p id="signup-email-hint" class="hint">"For the decided time, reminders and password resets. We mail it a link to confirm it."</p>
                {move || error().map(|error| view! { <ErrorMessage error/> })}
                <button type="submit" disabled=move || action.pending().get()>"Sign up"</button>
            </ActionForm>
            <p>"Already have an account? "<a href=routes::LOGIN>"Log in"</a></p>
        </section>
    }
}
