use leptos::prelude::*;

use crate::accounts::LogOut;
use crate::pages::use_current_user;
use crate::routes;

/// Brand and account links; shows who is signed in and offers log-out.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    let user = use_current_user();
    view! {
        <header class="site-header">
            <a class="brand" href=routes::HOME>"Whenly"</a>
            <nav aria-label="Account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(user)) => view! {
                                <a href=routes::USER_AREA>{user.username}</a>
                                <ActionForm action=log_out attr:class="inline">
                                    <button type="submit" class="link">"Log out"</button>
                                </ActionForm>
                            }.into_any(),
                            _ => view! {
                                <a href=routes::LOGIN>"Log in"</a>
                                <a href=routes::SIGNUP>"Sign up"</a>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}
