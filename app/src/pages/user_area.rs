use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::pages::{use_current_user, ErrorMessage};
use crate::routes;

/// The signed-in user's area; anyone else is sent to the log-in page.
#[component]
pub fn UserAreaPage() -> impl IntoView {
    let user = use_current_user();
    view! {
        <Title text="Your events · Whenly"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => view! {
                        <section class="card">
                            <h1>"Hello, " <span data-testid="username">{user.username}</span></h1>
                            <p>"Your events will show up here: the ones you organize, the ones waiting for your answer, and the finished ones."</p>
                        </section>
                    }.into_any(),
                    Ok(None) => view! { <Redirect path=routes::LOGIN/> }.into_any(),
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
