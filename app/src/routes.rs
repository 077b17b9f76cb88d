//! Every page path, in one place: the router, links, redirects and (by the same literal
//! strings) the Playwright suite use these, so a rename is a one-line change here.

pub const HOME: &str = "/";
pub const SIGNUP: &str = "/signup";
pub const LOGIN: &str = "/login";
/// The signed-in user's area (the dashboard once events exist).
pub const USER_AREA: &str = "/me";
