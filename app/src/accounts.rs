//! Accounts: the rules for usernames and passwords (checked in the browser as a hint and on the
//! server as the law), the DTOs, and the server functions the pages call. Each server function
//! is one line over the [`AccountsPort`](crate::ports::AccountsPort) the server provides.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// A signed-in user as the pages and the REST API show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserView {
    pub username: String,
}

/// Checks a username against DESIGN.md's rule: 3–32 of `a-z 0-9 _ . -`. Letters may be typed
/// in either case; uniqueness and log-in ignore case, the display keeps what was typed.
pub fn validate_username(username: &str) -> Result<(), AppError> {
    let length = username.chars().count();
    if length < USERNAME_MIN {
        return Err(AppError::invalid(
            "username",
            format!("Username must be at least {USERNAME_MIN} characters long."),
        ));
    }
    if length > USERNAME_MAX {
        return Err(AppError::invalid(
            "username",
            format!("Username must be at most {USERNAME_MAX} characters long."),
        ));
    }
    if let Some(bad) = username
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        let shown = if bad.is_whitespace() { "a space".to_owned() } else { format!("'{bad}'") };
        return Err(AppError::invalid(
            "username",
            format!("Username may only contain letters a–z, digits, '_', '.' and '-', not {shown}."),
        ));
    }
    Ok(())
}

/// Checks a password's length (in characters, not bytes): 8–128.
pub fn validate_password(password: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    if length < PASSWORD_MIN {
        return Err(AppError::invalid(
            "password",
            format!("Password must be at least {PASSWORD_MIN} characters long."),
        ));
    }
    if length > PASSWORD_MAX {
        return Err(AppError::invalid(
            "password",
            format!("Password must be at most {PASSWORD_MAX} characters long."),
        ));
    }
    Ok(())
}

/// Creates the account, signs the new user in, and sends them on: to `next` (a page of this
/// site, such as the event they were invited to) or to their area.
#[server]
pub async fn sign_up(username: String, password: String, next: Option<String>) -> Result<UserView, AppError> {
    use crate::ports::{client_address, port, session, AccountsPort};
    let (session, client) = (session().await?, client_address().await?);
    let user = port::<dyn AccountsPort>()?.sign_up(&session, client, username, password).await?;
    leptos_axum::redirect(crate::routes::after_sign_in(next.as_deref()));
    Ok(user)
}

/// Signs in (rotating the session id) and sends the user on, like [`sign_up`].
#[server]
pub async fn log_in(username: String, password: String, next: Option<String>) -> Result<UserView, AppError> {
    use crate::ports::{client_address, port, session, AccountsPort};
    let (session, client) = (session().await?, client_address().await?);
    let user = port::<dyn AccountsPort>()?.log_in(&session, client, username, password).await?;
    leptos_axum::redirect(crate::routes::after_sign_in(next.as_deref()));
    Ok(user)
}

/// Destroys the session and goes home.
#[server]
pub async fn log_out() -> Result<(), AppError> {
    use crate::ports::{port, session, AccountsPort};
    port::<dyn AccountsPort>()?.log_out(&session().await?).await?;
    leptos_axum::redirect(crate::routes::HOME);
    Ok(())
}

/// The signed-in user, if any.
#[server]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    use crate::ports::{port, session, AccountsPort};
    port::<dyn AccountsPort>()?.current_user(&session().await?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules_name_the_violation() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ab", Some("at least 3")),
            ("abc", None),
            (&"a".repeat(32), None),
            (&"a".repeat(33), Some("at most 32")),
            ("Alice_1.x-y", None),
            ("al ice", Some("not a space")),
            ("alice!", Some("not '!'")),
            ("zoë", Some("not 'ë'")),
        ];
        for (input, expected) in cases {
            match (validate_username(input), expected) {
                (Ok(()), None) => {}
                (Err(AppError::Invalid { field, message }), Some(fragment)) => {
                    assert_eq!(field, "username");
                    assert!(message.contains(fragment), "{input:?}: {message}");
                }
                (got, _) => panic!("{input:?}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn password_length_counts_characters() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        // 8 characters, 16 bytes: allowed.
        assert!(validate_password("éééééééé").is_ok());
        assert!(validate_password(&"x".repeat(128)).is_ok());
        let too_long = validate_password(&"x".repeat(129)).unwrap_err();
        assert!(too_long.to_string().contains("at most 128"));
    }
}
