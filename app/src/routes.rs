//! Every page path, in one place: the router, links, redirects and (by the same literal
//! strings) the Playwright suite use these, so a rename is a one-line change here.

pub const HOME: &str = "/";
pub const SIGNUP: &str = "/signup";
pub const LOGIN: &str = "/login";
/// The signed-in user's dashboard: their events in four lists, and join-by-code.
pub const USER_AREA: &str = "/me";
/// The form that creates an event.
pub const NEW_EVENT: &str = "/new";
/// Account settings: e-mail address, time zone, which mails to get, password, deletion.
pub const SETTINGS: &str = "/settings";
/// Asks for a password reset link by e-mail.
pub const FORGOT_PASSWORD: &str = "/forgot-password";
/// A reset link's page (`?token=`): set a new password.
pub const RESET_PASSWORD: &str = "/reset-password";
/// A verification link's page (`?token=`).
pub const VERIFY_EMAIL: &str = "/verify-email";
/// An unsubscribe link's page (`?token=`); a mail client POSTs the same address (RFC 8058).
pub const UNSUBSCRIBE: &str = "/unsubscribe";

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

/// Where to go after signing in: `next` if it is one of this site's pages, else the
/// dashboard. Only page paths are followed, so no `next` leads off-site (`//evil.example`,
/// `/%09/evil.example`) or puts odd bytes (`%0A`) into a `Location` header.
pub fn after_sign_in(next: Option<&str>) -> &str {
    match next {
        Some(path) if is_page_path(path) => path,
        _ => USER_AREA,
    }
}

/// Whether `path` is a page of this site, exactly: a fixed page, or an event page with a code
/// of letters and digits.
pub fn is_page_path(path: &str) -> bool {
    if [HOME, USER_AREA, NEW_EVENT, SETTINGS].contains(&path) {
        return true;
    }
    path.strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(EVENT_SEGMENT))
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|code| (1..=32).contains(&code.len()) && code.bytes().all(|byte| byte.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(after_sign_in(Some("/e/abcDEF1234")), "/e/abcDEF1234");
        assert_eq!(after_sign_in(Some("/new")), "/new");
        for foreign in [
            None,
            Some(""),
            Some("https://evil.example"),
            Some("//evil.example"),
            Some("/\\evil.example"),
            Some("/\t/evil.example"),
            Some("/e/abc\n"),
            Some("/e/abc/../../x"),
            Some("/e/"),
            Some("e/x"),
            Some("/login"),
        ] {
            assert_eq!(after_sign_in(foreign), USER_AREA, "{foreign:?}");
        }
    }
}
