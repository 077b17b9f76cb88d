//! The server functions the event pages call. Each is a few lines over the
//! [`EventsPort`](crate::ports::EventsPort): the rules live in the server's event service,
//! shared with the REST API. The create form posts local date-times as typed; they are read in
//! the event's time zone here, on the server, so the form also works without the wasm.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::events::{EventPageData, EventView, IntervalInput, MyEvents};

/// The create form as posted: every field is the text of an `<input>`; empty means "not given".
/// Date-times are `datetime-local` values (`YYYY-MM-DDTHH:MM[:SS]`) in `time_zone`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEventForm {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub deadline: String,
    pub duration_minutes: String,
    #[serde(default)]
    pub window_start: String,
    #[serde(default)]
    pub window_end: String,
    #[serde(default)]
    pub capacity: String,
    pub time_zone: String,
    /// `none`, `1h` or `24h`; empty: the default (24 h).
    #[serde(default)]
    pub reminder: String,
}

#[cfg(feature = "ssr")]
impl NewEventForm {
    /// The API's input: times resolved in the form's zone, numbers parsed, each problem named
    /// by its field. The event rules themselves are checked by the service.
    pub fn into_input(self) -> Result<crate::events::CreateEventInput, AppError> {
        let zone: chrono_tz::Tz = self.time_zone.trim().parse().map_err(|_| {
            AppError::invalid("time_zone", format!("Unknown time zone {}; use a name such as Europe/Berlin.", crate::error::excerpt(&self.time_zone)))
        })?;
        let instant = |field: &str, label: &str, text: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
                .map_err(|_| AppError::invalid(field, format!("{label}: enter a date and a time.")))?;
            // A time skipped by a clock change is read by RFC 5545's rule, as in the text format.
            scheduling::text::resolve_local(local, zone)
                .map(Some)
                .ok_or_else(|| AppError::invalid(field, format!("{label}: that time cannot be read in {zone}.")))
        };
        let deadline = instant("deadline", "Deadline", &self.deadline)?
            .ok_or_else(|| AppError::invalid("deadline", "Give a response deadline."))?;
        let duration_minutes = self
            .duration_minutes
            .trim()
            .parse()
            .map_err(|_| AppError::invalid("duration_minutes", "The meeting length must be a whole number of minutes."))?;
        let capacity = match self.capacity.trim() {
            "" => None,
            text => Some(text.parse().map_err(|_| {
                AppError::invalid("capacity", "The maximum number of participants must be a whole number.")
            })?),
        };
        let description = Some(self.description).filter(|text| !text.trim().is_empty());
        let reminder = match self.reminder.trim() {
            "" | "24h" => crate::events::Reminder::OneDay,
            "1h" => crate::events::Reminder::OneHour,
            "none" => crate::events::Reminder::None,
            _ => return Err(AppError::invalid("reminder", "Choose no reminder, 1 hour or 24 hours.")),
        };
        Ok(crate::events::CreateEventInput {
            name: self.name,
            description,
            deadline,
            duration_minutes,
            window_start: instant("window_start", "Earliest start", &self.window_start)?,
            window_end: instant("window_end", "Latest end", &self.window_end)?,
            capacity,
            time_zone: Some(zone.name().to_owned()),
            reminder,
        })
    }
}

/// Creates the event and opens its page, where the organizer finds the code and share link.
#[server]
pub async fn create_event(form: NewEventForm) -> Result<EventView, AppError> {
    use crate::ports::{port, session, EventsPort};
    let input = form.into_input()?;
    let event = port::<dyn EventsPort>()?.create(&session().await?, input).await?;
    leptos_axum::redirect(&crate::routes::event(&event.code));
    Ok(event)
}

/// Everything the event page shows.
#[server]
pub async fn event_page(code: String) -> Result<EventPageData, AppError> {
    use crate::ports::{port, session, EventsPort};
    port::<dyn EventsPort>()?.page(&session().await?, code.trim()).await
}

/// Joins the event and opens its page. `code` may be typed by hand: spaces around it are
/// ignored, and so is a pasted share link's path.
#[server]
pub async fn join_event(code: String) -> Result<(), AppError> {
    use crate::ports::{port, session, EventsPort};
    let code = code_from_typed(&code);
    port::<dyn EventsPort>()?.join(&session().await?, code).await?;
    leptos_axum::redirect(&crate::routes::event(code));
    Ok(())
}

/// Leaves the event (withdrawing the answer) and goes back to the dashboard.
#[server]
pub async fn leave_event(code: String) -> Result<(), AppError> {
    use crate::ports::{port, session, EventsPort};
    port::<dyn EventsPort>()?.leave(&session().await?, &code).await?;
    leptos_axum::redirect(crate::routes::USER_AREA);
    Ok(())
}

/// The organizer cancels the event; everyone then sees "cancelled".
#[server]
pub async fn cancel_event(code: String) -> Result<(), AppError> {
    use crate::ports::{port, session, EventsPort};
    port::<dyn EventsPort>()?.cancel(&session().await?, &code).await
}

/// The organizer changes the event (only the fields given). JSON: instants and optional fields.
#[server(input = server_fn::codec::Json)]
pub async fn edit_event(code: String, input: crate::events::EditEventInput) -> Result<EventView, AppError> {
    use crate::ports::{port, session, EventsPort};
    port::<dyn EventsPort>()?.edit(&session().await?, &code, input).await
}

/// The organizer closes answers now: the deadline becomes this instant.
#[server]
pub async fn decide_now(code: String) -> Result<EventView, AppError> {
    use crate::ports::{port, session, EventsPort};
    port::<dyn EventsPort>()?.decide_now(&session().await?, &code).await
}

/// Saves the grid's answer. JSON: a list of intervals does not fit a URL-encoded form.
#[server(input = server_fn::codec::Json)]
pub async fn save_availability(code: String, intervals: Vec<IntervalInput>, if_need_be: Vec<IntervalInput>) -> Result<u64, AppError> {
    use crate::ports::{port, session, EventsPort};
    let input = crate::events::AvailabilityInput::Intervals { intervals, if_need_be };
    port::<dyn EventsPort>()?.put_availability(&session().await?, &code, input).await
}

/// Saves an answer typed in the seed text format, read in `time_zone`.
#[server]
pub async fn save_availability_text(code: String, text: String, time_zone: String) -> Result<u64, AppError> {
    use crate::ports::{port, session, EventsPort};
    let input = crate::events::AvailabilityInput::Text { text, time_zone };
    port::<dyn EventsPort>()?.put_availability(&session().await?, &code, input).await
}

/// The dashboard's four lists.
#[server]
pub async fn dashboard_events() -> Result<MyEvents, AppError> {
    use crate::ports::{port, session, EventsPort};
    port::<dyn EventsPort>()?.my_events(&session().await?).await
}

/// One page of the caller's events that `search` matches (the dashboard's search and "all").
#[server(input = server_fn::codec::Json)]
pub async fn find_events(search: crate::events::EventSearch) -> Result<crate::events::EventResults, AppError> {
    use crate::ports::{port, session, EventsPort};
    port::<dyn EventsPort>()?.search(&session().await?, search).await
}

/// The code in what someone typed into "join": a bare code, or a share link.
pub fn code_from_typed(typed: &str) -> &str {
    let typed = typed.trim().trim_end_matches('/');
    typed.rsplit('/').next().unwrap_or(typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_found_in_what_was_typed() {
        for typed in ["abcDEF1234", "  abcDEF1234 ", "http://127.0.0.1:3000/e/abcDEF1234", "https://whenly.example/e/abcDEF1234/"] {
            assert_eq!(code_from_typed(typed), "abcDEF1234", "{typed:?}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_form_is_read_in_its_time_zone_and_names_bad_fields() {
        use chrono::{TimeZone, Utc};
        let form = NewEventForm {
            name: "Team lunch".into(),
            deadline: "2030-01-07T09:30".into(),
            duration_minutes: "60".into(),
            window_start: "2030-01-08T08:00".into(),
            window_end: "2030-01-10T18:00:00".into(),
            time_zone: "Europe/Berlin".into(),
            ..NewEventForm::default()
        };
        let input = form.clone().into_input().unwrap();
        assert_eq!(input.deadline, Utc.with_ymd_and_hms(2030, 1, 7, 8, 30, 0).unwrap());
        assert_eq!(input.window_end, Some(Utc.with_ymd_and_hms(2030, 1, 10, 17, 0, 0).unwrap()));
        assert_eq!((input.description, input.capacity), (None, None));

        let field_of = |form: NewEventForm| match form.into_input() {
            Err(AppError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(field_of(NewEventForm { time_zone: "Mars/Olympus".into(), ..form.clone() }), "time_zone");
        assert_eq!(field_of(NewEventForm { deadline: "tomorrow".into(), ..form.clone() }), "deadline");
        assert_eq!(field_of(NewEventForm { deadline: "".into(), ..form.clone() }), "deadline");
        assert_eq!(field_of(NewEventForm { duration_minutes: "an hour".into(), ..form.clone() }), "duration_minutes");
        assert_eq!(field_of(NewEventForm { capacity: "-1".into(), ..form }), "capacity");
    }
}
