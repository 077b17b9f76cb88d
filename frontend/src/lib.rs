//! The browser entry: cargo-leptos builds this crate to wasm and the page's hydration script
//! calls `hydrate()`, which attaches the `app` components to the server-rendered HTML.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
