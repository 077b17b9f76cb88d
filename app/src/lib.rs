//! Whenly's UI. Pages render on the server (SSR) as plain HTML whose forms post to server
//! functions; only the `#[island]` components (the event screen, the password field) are
//! compiled to wasm and hydrate in the browser, which keeps the first load small. Every call
//! to the server goes through a server function that asks a port (see [`ports`]) for the
//! real work.

pub mod accounts;
pub mod events;
pub mod error;
pub mod notifications;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;
pub mod routes;
pub mod time;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Meta, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, SsrMode, StaticSegment,
};

use crate::pages::{
    event::EventPage,
    home::HomePage,
    login::LogInPage,
    mail_links::{UnsubscribePage, VerifyEmailPage},
    new_event::NewEventPage,
    password_reset::{ForgotPasswordPage, ResetPasswordPage},
    settings::SettingsPage,
    signup::SignUpPage,
    site_header::SiteHeader,
    user_area::UserAreaPage,
};

/// The HTML document around the app, rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <script nonce=leptos::nonce::use_nonce()>{crate::time::REMEMBER_ZONE_SCRIPT}</script>
                <AutoReload options=options.clone()/>
                // The site package's files carry a content hash in their names (cargo-leptos
                // `hash-files`), so browsers may keep them for good.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    time::provide_time_context();

    view! {
        <Title text="Whenly"/>
        <Meta name="description" content="Whenly finds a time that works for everyone."/>
        // Every page renders whole on the server (`SsrMode::Async`: the HTML is sent once its
        // data is loaded), so no fallback is swapped for content and nothing jumps.
        <Router>
            <SiteHeader/>
            <main class="page">
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::HOME) view=HomePage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::SIGNUP) view=SignUpPage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::LOGIN) view=LogInPage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::USER_AREA) view=UserAreaPage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::NEW_EVENT) view=NewEventPage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::SETTINGS) view=SettingsPage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::FORGOT_PASSWORD) view=ForgotPasswordPage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::RESET_PASSWORD) view=ResetPasswordPage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::VERIFY_EMAIL) view=VerifyEmailPage/>
                    <Route ssr=SsrMode::Async path=StaticSegment(routes::UNSUBSCRIBE) view=UnsubscribePage/>
                    <Route ssr=SsrMode::Async path=(StaticSegment(routes::EVENT_SEGMENT), ParamSegment("code")) view=EventPage/>
                </Routes>
            </main>
        </Router>
    }
}
