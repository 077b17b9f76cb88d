use leptos::prelude::*;

use crate::accounts::LogOut;
use crate::notifications::unread_notifications;
use crate::pages::use_current_user;
use crate::routes;

/// Brand and account links; shows who is signed in and offers log-out.
#[component]
pub fn SiteHeader() -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    let user = use_current_user();
    let unread = Resource::new(|| (), |_| unread_notifications());
    view! {
        <header class="site-header">
            <a class="brand" href=routes::HOME>"Whenly"</a>
            <nav aria-label="Account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(user)) => view! {
                                <Bell unread=unread.await.unwrap_or(0)/>
                                <a href=routes::USER_AREA>{user.username}</a>
                                <a href=routes::SETTINGS>"Settings"</a>
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

/// The notifications link, with the number of unread ones (marked read when the dashboard's
/// list is seen).
#[component]
fn Bell(unread: u32) -> impl IntoView {
    let label = match unread {
        0 => "Notifications".to_owned(),
        1 => "Notifications, 1 unread".to_owned(),
        count => format!("Notifications, {count} unread"),
    };
    view! {
        <a href=format!("{}#notifications", routes::USER_AREA) class="bell" data-testid="bell" aria-label=label>
            <span aria-hidden="true">"🔔"</span>
            {(unread > 0).then(|| view! { <span class="count" data-testid="unread-count" aria-hidden="true">{unread}</span> })}
        </a>
    }
}
