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

/// Longest e-mail address (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;

/// Which kinds of notification also come by mail (`true`: send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MailChoices {
    pub outcome: bool,
    pub reminder: bool,
    pub everyone_answered: bool,
    pub cancelled: bool,
}

impl Default for MailChoices {
    fn default() -> Self {
        Self { outcome: true, reminder: true, everyone_answered: true, cancelled: true }
    }
}

impl MailChoices {
    pub fn get(&self, kind: crate::notifications::NotificationKind) -> bool {
        use crate::notifications::NotificationKind::*;
        match kind {
            Outcome => self.outcome,
            Reminder => self.reminder,
            EveryoneAnswered => self.everyone_answered,
            Cancelled => self.cancelled,
        }
    }

    pub fn set(&mut self, kind: crate::notifications::NotificationKind, send: bool) {
        use crate::notifications::NotificationKind::*;
        match kind {
            Outcome => self.outcome = send,
            Reminder => self.reminder = send,
            EveryoneAnswered => self.everyone_answered = send,
            Cancelled => self.cancelled = send,
        }
    }
}

/// An account's settings as the settings page and the REST API show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountSettings {
    pub username: String,
    pub email: Option<String>,
    /// Whether `email` was confirmed through the link mailed to it (only then does mail go there).
    pub email_verified: bool,
    /// The zone the times in mails are written in; unset: each event's own zone.
    pub time_zone: Option<String>,
    pub mail: MailChoices,
    /// Whether this server sends mail at all (an SMTP server is configured).
    pub email_enabled: bool,
}

/// A change of settings; what is left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SettingsInput {
    /// A new address (mailed a verification link), or `""` to remove it.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 254))]
    pub email: Option<String>,
    /// An IANA zone such as `Europe/Berlin`, or `""` for each event's own.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 64))]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub mail: Option<MailChoices>,
}

/// Checks the shape of an e-mail address (`local@domain`, no spaces, at most 254
/// characters); whether it exists is what the verification mail finds out.
pub fn validate_email(email: &str) -> Result<(), AppError> {
    let invalid = |message: &str| Err(AppError::invalid("email", message));
    if email.chars().count() > EMAIL_MAX {
        return invalid("An e-mail address can be at most 254 characters long.");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return invalid("Enter an e-mail address like name@example.org.");
    };
    if local.is_empty() || local.len() > 64 || domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') {
        return invalid("Enter an e-mail address like name@example.org.");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | ':' | '\\' | '"' | '[' | ']'))
        || local.contains('@')
    {
        return invalid("An e-mail address cannot contain spaces or any of < > ( ) , ; : \\ \" [ ] @ before the last @.");
    }
    Ok(())
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
pub async fn sign_up(username: String, password: String, email: Option<String>, next: Option<String>) -> Result<UserView, AppError> {
    use crate::ports::{client_address, port, session, AccountsPort};
    let (session, client) = (session().await?, client_address().await?);
    let email = email.filter(|email| !email.trim().is_empty());
    let user = port::<dyn AccountsPort>()?.sign_up(&session, client, username, password, email).await?;
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

/// The signed-in user's settings.
#[server]
pub async fn get_account_settings() -> Result<AccountSettings, AppError> {
    use crate::ports::{port, session, AccountsPort};
    port::<dyn AccountsPort>()?.settings(&session().await?).await
}

/// The settings form as posted: text fields, and a checkbox per kind of mail (present: on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub reminder: Option<String>,
    #[serde(default)]
    pub everyone_answered: Option<String>,
    #[serde(default)]
    pub cancelled: Option<String>,
}

impl SettingsForm {
    pub fn into_input(self) -> SettingsInput {
        let mail = MailChoices {
            outcome: self.outcome.is_some(),
            reminder: self.reminder.is_some(),
            everyone_answered: self.everyone_answered.is_some(),
            cancelled: self.cancelled.is_some(),
        };
        SettingsInput { email: Some(self.email.trim().to_owned()), time_zone: Some(self.time_zone.trim().to_owned()), mail: Some(mail) }
    }
}

/// Saves the settings form; a new address is mailed a verification link.
#[server]
pub async fn save_settings(form: SettingsForm) -> Result<AccountSettings, AppError> {
    use crate::ports::{port, session, AccountsPort};
    let settings = port::<dyn AccountsPort>()?.save_settings(&session().await?, form.into_input()).await?;
    leptos_axum::redirect(&format!("{}?done=saved", crate::routes::SETTINGS));
    Ok(settings)
}

/// Mails the verification link again.
#[server]
pub async fn resend_verification() -> Result<(), AppError> {
    use crate::ports::{port, session, AccountsPort};
    port::<dyn AccountsPort>()?.resend_verification(&session().await?).await?;
    leptos_axum::redirect(&format!("{}?done=sent", crate::routes::SETTINGS));
    Ok(())
}

/// Confirms the address the link in `token` was mailed to.
#[server]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    use crate::ports::{port, AccountsPort};
    port::<dyn AccountsPort>()?.verify_email(&token).await?;
    leptos_axum::redirect(&format!("{}?done=1", crate::routes::VERIFY_EMAIL));
    Ok(())
}

/// Mails a reset link to every account with this verified address; the answer is the same
/// whether or not there is one.
#[server]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use crate::ports::{port, AccountsPort};
    port::<dyn AccountsPort>()?.request_password_reset(email.trim()).await?;
    leptos_axum::redirect(&format!("{}?sent=1", crate::routes::FORGOT_PASSWORD));
    Ok(())
}

/// Sets a new password with the link's token, ends every session of the account, signs in here.
#[server]
pub async fn reset_password(token: String, password: String) -> Result<UserView, AppError> {
    use crate::ports::{port, session, AccountsPort};
    let user = port::<dyn AccountsPort>()?.reset_password(&session().await?, &token, password).await?;
    leptos_axum::redirect(crate::routes::USER_AREA);
    Ok(user)
}

/// Changes the password (the current one is asked again) and ends the account's other sessions.
#[server]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    use crate::ports::{client_address, port, session, AccountsPort};
    let (session, client) = (session().await?, client_address().await?);
    port::<dyn AccountsPort>()?.change_password(&session, client, current_password, new_password).await?;
    leptos_axum::redirect(&format!("{}?done=password", crate::routes::SETTINGS));
    Ok(())
}

/// Deletes the account (the password is asked again) and goes home.
#[server]
pub async fn delete_account(password: String) -> Result<(), AppError> {
    use crate::ports::{client_address, port, session, AccountsPort};
    let (session, client) = (session().await?, client_address().await?);
    port::<dyn AccountsPort>()?.delete_account(&session, client, password).await?;
    leptos_axum::redirect(crate::routes::HOME);
    Ok(())
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
