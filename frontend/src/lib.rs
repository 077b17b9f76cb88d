//! The browser entry: cargo-leptos builds this crate to wasm and the page's hydration script
//! calls `hydrate()`, which attaches the `app` components to the server-rendered HTML.

// The event page's view types nest deeply; release builds (fat LTO) compute their layout here.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
