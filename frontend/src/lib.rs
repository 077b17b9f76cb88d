//! The browser entry. Pages are rendered on the server and stay plain HTML (their forms post
//! to server functions without any script); only the `#[island]` components of `app` — the
//! event screen and the password field — are compiled into this wasm and brought to life.
//! cargo-leptos builds this crate; the page's islands script calls `hydrate()` and then each
//! island's exported function.

// The event screen's view types nest deeply; release builds (fat LTO) compute their layout here.
#![recursion_limit = "256"]

// Links the islands: `#[island]` exports each one from `app` for the islands script to call.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // There is no client-side router: a server function that redirects (join, leave, cancel)
    // sends the browser to the new page.
    let _ = leptos::server_fn::redirect::set_redirect_hook(|location: &str| {
        if let Some(window) = leptos::web_sys::window() {
            let _ = window.location().set_href(location);
        }
    });
    leptos::mount::hydrate_islands();
}
