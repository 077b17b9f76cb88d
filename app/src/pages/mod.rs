//! One module per page, plus the pieces several pages share.

pub mod credentials_form;
pub mod event;
pub mod home;
pub mod login;
pub mod mail_links;
pub mod new_event;
pub mod password_reset;
pub mod settings;
pub mod signup;
pub mod site_header;
pub mod user_area;

use leptos::prelude::*;

use crate::accounts::{current_user, UserView};
use crate::error::AppError;

/// Text for the inside of a `<title>` or `<textarea>`. Leptos writes those elements' children
/// unescaped on the server (to a browser they are raw text, yet `</title>` or `</textarea>`
/// still ends them and entities are still decoded), so a name holding `</title><meta …>` would
/// be markup on every invitee's page. The server escapes here; in the browser the text becomes
/// a text node, which needs nothing.
pub fn raw_text_child(text: &str) -> String {
    if cfg!(feature = "ssr") {
        text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    } else {
        text.to_owned()
    }
}

/// The signed-in user, for the page being rendered.
pub fn use_current_user() -> Resource<Result<Option<UserView>, AppError>> {
    Resource::new(|| (), |_| current_user())
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. "<a href=crate::routes::HOME>"Go to the start page"</a>"."</p>
        </section>
    }
}

/// The error a form action shows: the last dispatch's error once the page is hydrated, else the
/// error of a form posted before the wasm loaded (or with scripts off). For such a post the
/// server redirects back with the error in the URL, and the router puts it in context.
pub fn action_error<S>(action: ServerAction<S>) -> impl Fn() -> Option<AppError> + Send + Sync + Copy + 'static
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let posted = use_context::<leptos::server::ServerActionError>()
        .filter(|posted| posted.path() == S::PATH)
        .map(|posted| leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(posted.err()));
    let posted = StoredValue::new(posted);
    move || match action.value().get() {
        Some(result) => result.err(),
        None => posted.get_value(),
    }
}

/// A server error in words, announced to screen readers as it appears.
#[component]
pub fn ErrorMessage(error: AppError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}

/// Shows `children` to a signed-in user; sends anyone else to log in, and back here after.
#[component]
pub fn RequireUser(children: ChildrenFn) -> impl IntoView {
    let user = use_current_user();
    let location = leptos_router::hooks::use_location();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(_)) => children.read_value()().into_any(),
                    Ok(None) => {
                        let here = location.pathname.get_untracked();
                        view! { <leptos_router::components::Redirect path=crate::routes::with_next(crate::routes::LOGIN, &here)/> }.into_any()
                    }
                    Err(error) => view! { <ErrorMessage error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The `?next=` of the current page, carried through the sign-up and log-in forms.
#[component]
pub fn NextField() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    move || query.with(|query| query.get("next")).map(|next| view! { <input type="hidden" name="next" value=next/> })
}
