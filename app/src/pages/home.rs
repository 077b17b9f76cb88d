use leptos::prelude::*;

use crate::pages::use_current_user;
use crate::routes;

/// What Whenly is, and the way in.
#[component]
pub fn HomePage() -> impl IntoView {
    let user = use_current_user();
    view! {
        <section class="hero">
            <h1>"Find a time that works for everyone."</h1>
            <p class="lead">
                "Create an event with a meeting length and a deadline, share its code, and let "
                "everyone mark when they are free. At the deadline Whenly picks the earliest slot "
                "that fits all of them — or the one that fits the most."
            </p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(user)) => view! {
                            <p class="actions">
                                <a class="button" href=routes::USER_AREA>"Go to your events, " {user.username}</a>
                            </p>
                        }.into_any(),
                        _ => view! {
                            <p class="actions">
                                <a class="button" href=routes::SIGNUP>"Sign up"</a>
                                <a class="button secondary" href=routes::LOGIN>"Log in"</a>
                            </p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
