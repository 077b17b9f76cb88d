//! Every page path, in one place: the router, links, redirects and (by the same literal
//! strings) the Playwright suite use these, so a rename is a one-line change here.

pub const HOME: &str = "/";
pub const SIGNUP: &str = "/signup";
pub const LOGIN: &str = "/login";
/// The signed-in user's dashboard: their events in four lists, and join-by-code.
pub const USER_AREA: &str = "/me";
/// The form that creates an event.
pub const NEW_EVENT: &str = "/new";
/// The segment before an event's code: `/e/{code}` is the event page and the share link.
pub const EVENT_SEGMENT: &str = "e";

/// The event page (and share link) path of `code`.
pub fn event(code: &str) -> String {
    format!("/{EVENT_SEGMENT}/{code}")
}

/// A page path with `?next=` telling the log-in or sign-up form where to go afterwards.
pub fn with_next(page: &str, next: &str) -> String {
    format!("{page}?next={next}")
}

/// Where to go after signing in: `next` if it is a path on this site (never another host:
/// `//evil.example` and `/\evil.example` are refused), else the dashboard.
pub fn after_sign_in(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") => path,
        _ => USER_AREA,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(after_sign_in(Some("/e/abcDEF1234")), "/e/abcDEF1234");
        for foreign in [None, Some(""), Some("https://evil.example"), Some("//evil.example"), Some("/\\evil.example"), Some("e/x")] {
            assert_eq!(after_sign_in(foreign), USER_AREA, "{foreign:?}");
        }
    }
}
