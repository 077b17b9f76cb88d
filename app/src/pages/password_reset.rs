//! Forgotten passwords: ask for a reset link by address (the answer never says whether the
//! address belongs to anyone), then set a new password on the link's page. Plain HTML forms.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::accounts::{RequestPasswordReset, ResetPassword, PASSWORD_MAX, PASSWORD_MIN};
use crate::pages::{action_error, ErrorMessage};
use crate::routes;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let request = ServerAction::<RequestPasswordReset>::new();
    let error = action_error(request);
    let query = use_query_map();
    let sent = move || query.with(|query| query.get("sent").is_some());
    view! {
        <Title text="Forgot your password? · Whenly"/>
        <section class="card narrow">
            <h1>"Forgot your password?"</h1>
            {move || sent().then(|| view! {
                <p class="notice" role="status" data-testid="reset-sent">"If an account has this verified address, a link to set a new password is on its way. It works for an hour."</p>
            })}
            <ActionForm action=request attr:class="stack">
                <label for="reset-email">"Your verified e-mail address"</label>
                <input id="reset-email" name="email" type="email" required autocomplete="email" maxlength="254"/>
                {move || error().map(|error| view! { <ErrorMessage error/> })}
                <button type="submit">"Mail me a link"</button>
            </ActionForm>
            <p><a href=routes::LOGIN>"Back to log-in"</a></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let reset = ServerAction::<ResetPassword>::new();
    let error = action_error(reset);
    let token = use_query_map().with_untracked(|query| query.get("token")).unwrap_or_default();
    view! {
        <Title text="Set a new password · Whenly"/>
        <section class="card narrow">
            <h1>"Set a new password"</h1>
            <ActionForm action=reset attr:class="stack">
                <input type="hidden" name="token" value=token/>
                <label for="reset-password">"New password"</label>
                <input id="reset-password" name="password" type="password" required autocomplete="new-password"
                    minlength=PASSWORD_MIN maxlength=PASSWORD_MAX aria-describedby="reset-password-rule"/>
                <p id="reset-password-rule" class="hint">"At least 8 characters. Every other session of your account ends."</p>
                {move || error().map(|error| view! { <ErrorMessage error/> })}
                <button type="submit">"Set password"</button>
            </ActionForm>
            <p><a href=routes::FORGOT_PASSWORD>"Ask for a new link"</a></p>
        </section>
    }
}
