//! Account settings: the e-mail address (and whether it is verified), the zone of the times
//! in mails, which mails to get, the password, and deleting the account. Plain HTML forms (no
//! wasm): each posts to its server function, which sends the browser back here.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::accounts::{get_account_settings, AccountSettings, ChangePassword, DeleteAccount, ResendVerification, SaveSettings};
use crate::accounts::{PASSWORD_MAX, PASSWORD_MIN};
use crate::notifications::NotificationKind;
use crate::pages::{action_error, ErrorMessage, RequireUser};

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings · Whenly"/>
        <RequireUser>
            <Settings/>
        </RequireUser>
    }
}

#[component]
fn Settings() -> impl IntoView {
    let settings = Resource::new(|| (), |_| get_account_settings());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => view! {
                        <h1>"Settings"</h1>
                        <Saved/>
                        <MailSettings settings/>
                        <PasswordChange/>
                        <AccountDeletion/>
                    }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// What the last form did, from the address it sent the browser back to.
#[component]
fn Saved() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    move || {
        let done = query.with(|query| query.get("done"));
        let message = match done.as_deref() {
            Some("saved") => "Settings saved.",
            Some("sent") => "A new verification link is on its way.",
            Some("password") => "Password changed. You were logged out everywhere else.",
            _ => return None,
        };
        Some(view! { <p class="notice" role="status">{message}</p> })
    }
}

#[component]
fn MailSettings(settings: AccountSettings) -> impl IntoView {
    let save = ServerAction::<SaveSettings>::new();
    let resend = ServerAction::<ResendVerification>::new();
    let error = action_error(save);
    let resend_error = action_error(resend);
    let address_state = match (&settings.email, settings.email_verified) {
        (None, _) => None,
        (Some(_), true) => Some(view! { <p class="hint" data-testid="email-state">"Verified: notifications are mailed here."</p> }.into_any()),
        (Some(_), false) => Some(
            view! {
                <p class="hint" data-testid="email-state">"Not verified yet: open the link we mailed you. Until then nothing else is sent there."</p>
            }
            .into_any(),
        ),
    };
    let unverified = settings.email.is_some() && !settings.email_verified;
    let choices = settings.mail;
    view! {
        <section class="card">
            <h2>"E-mail and notifications"</h2>
            {(!settings.email_enabled).then(|| view! {
                <p class="notice" data-testid="email-off">"E-mail is off on this Whenly server: notifications appear on your dashboard only."</p>
            })}
            <ActionForm action=save attr:class="stack">
                <label for="settings-email">"E-mail address " <span class="muted">"(optional)"</span></label>
                <input id="settings-email" name="form[email]" type="email" autocomplete="email" maxlength="254"
                    value=settings.email.clone().unwrap_or_default()/>
                {address_state}
                <label for="settings-zone">"Time zone of the times in mails " <span class="muted">"(empty: each event's own)"</span></label>
                <input id="settings-zone" name="form[time_zone]" type="text" autocapitalize="none" spellcheck="false"
                    placeholder="e.g. Europe/Berlin" value=settings.time_zone.clone().unwrap_or_default()/>
                <fieldset>
                    <legend>"Mail me when"</legend>
                    {NotificationKind::ALL.into_iter().map(|kind| {
                        let id = format!("mail-{}", kind.as_str());
                        view! {
                            <div class="check">
                                <input type="checkbox" id=id.clone() name=format!("form[{}]", kind.as_str()) value="on" checked=choices.get(kind)/>
                                <label for=id>{kind.label()}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                {move || error().map(|error| view! { <ErrorMessage error/> })}
                <button type="submit">"Save settings"</button>
            </ActionForm>
            {unverified.then(|| view! {
                <ActionForm action=resend attr:class="inline">
                    <button type="submit" class="secondary">"Send the verification link again"</button>
                </ActionForm>
                {move || resend_error().map(|error| view! { <ErrorMessage error/> })}
            })}
        </section>
    }
}

#[component]
fn PasswordChange() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let error = action_error(change);
    view! {
        <section class="card">
            <h2>"Password"</h2>
            <ActionForm action=change attr:class="stack">
                <label for="current-password">"Current password"</label>
                <input id="current-password" name="current_password" type="password" required autocomplete="current-password" maxlength=PASSWORD_MAX/>
                <label for="new-password">"New password"</label>
                <input id="new-password" name="new_password" type="password" required autocomplete="new-password"
                    minlength=PASSWORD_MIN maxlength=PASSWORD_MAX aria-describedby="new-password-rule"/>
                <p id="new-password-rule" class="hint">"At least 8 characters. You stay logged in here; everywhere else you are logged out."</p>
                {move || error().map(|error| view! { <ErrorMessage error/> })}
                <button type="submit">"Change password"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn AccountDeletion() -> impl IntoView {
    let delete = ServerAction::<DeleteAccount>::new();
    let error = action_error(delete);
    view! {
        <section class="card danger-zone">
            <h2>"Delete your account"</h2>
            <p>"Your open events are cancelled (their participants are told), you leave the open events you joined, and your address and notifications are deleted. Finished events keep your answers under the name “(deleted)”. This cannot be undone."</p>
            <ActionForm action=delete attr:class="stack">
                <label for="delete-password">"Your password"</label>
                <input id="delete-password" name="password" type="password" required autocomplete="current-password" maxlength=PASSWORD_MAX/>
                {move || error().map(|error| view! { <ErrorMessage error/> })}
                <button type="submit" class="danger">"Delete my account"</button>
            </ActionForm>
        </section>
    }
}
