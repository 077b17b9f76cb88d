//! The username + password fields shared by the sign-up and log-in forms. The forms post to
//! server functions through `ActionForm`: plain HTML forms, which need no wasm.

use leptos::prelude::*;

use crate::accounts::{PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN};

/// `new_password` picks the browser's autocomplete hint and shows the rules. An island for
/// the show/hide button; the fields themselves are plain form inputs.
#[island]
pub fn CredentialFields(new_password: bool) -> impl IntoView {
    let password_visible = RwSignal::new(false);
    view! {
        <label for="username">"Username"</label>
        <input
            id="username"
            name="username"
            type="text"
            required
            autocomplete="username"
            autocapitalize="none"
            spellcheck="false"
            minlength=USERNAME_MIN
            maxlength=USERNAME_MAX
            aria-describedby=new_password.then_some("username-rule")
        />
        {new_password.then(|| view! {
            <p id="username-rule" class="hint">"3–32 characters: letters, digits, '_', '.' or '-'."</p>
        })}
        <label for="password">"Password"</label>
        <div class="password-field">
            <input
                id="password"
                name="password"
                type=move || if password_visible.get() { "text" } else { "password" }
                required
                autocomplete=if new_password { "new-password" } else { "current-password" }
                minlength=PASSWORD_MIN
                maxlength=PASSWORD_MAX
                aria-describedby=new_password.then_some("password-rule")
            />
            // Works only once hydrated: the Playwright suite uses it to prove the wasm runs.
            <button
                type="button"
                class="secondary"
                aria-controls="password"
                aria-label=move || if password_visible.get() { "Hide password" } else { "Show password" }
                on:click=move |_| password_visible.update(|visible| *visible = !*visible)
            >
                {move || if password_visible.get() { "Hide" } else { "Show" }}
            </button>
        </div>
        {new_password.then(|| view! {
            <p id="password-rule" class="hint">"At least 8 characters."</p>
        })}
    }
}
