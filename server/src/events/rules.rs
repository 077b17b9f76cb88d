//! The input rules of events and answers, checked before any work: what a create may hold, and
//! an answer's two shapes (intervals, or the text format) turned into an interval set.

use app::error::{excerpt, AppError, LineProblem};
use app::events::{AvailabilityInput, CalendarFileQuery, CreateEventInput, EditEventInput, IntervalInput, Reminder, CAPACITY_MAX, DESCRIPTION_MAX, NAME_MAX, OPEN_ENDED_DAYS};
use chrono::{DateTime, NaiveTime, Timelike, Utc};

use super::busy::{local_instant, Reading};
use scheduling::{text, Availability, EventSpec, Interval, IntervalSet, Minute, SpecError};
use scheduling::time::SUPPORTED_END;

/// A create input that passed every rule.
pub(crate) struct ValidEvent {
    pub name: String,
    pub description: String,
    pub spec: EventSpec,
    pub capacity: Option<u32>,
    pub time_zone: String,
    pub reminder: Reminder,
}

/// A reminder is written only if the deadline is at least this much further away than the
/// reminder's lead when the event is created: people get time to answer before being reminded.
pub(crate) const REMINDER_GRACE: chrono::Duration = chrono::Duration::hours(1);

impl ValidEvent {
    /// When the reminder falls due, for an event created at `now` (`None`: no reminder).
    pub(crate) fn reminder_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let lead = chrono::Duration::minutes(i64::from(self.reminder.minutes()));
        let due = self.spec.deadline() - lead;
        (self.reminder != Reminder::None && due >= now + REMINDER_GRACE).then_some(due)
    }
}

pub(super) fn validate(input: CreateEventInput, now: DateTime<Utc>) -> Result<ValidEvent, AppError> {
    let name = valid_name(&input.name)?;
    let description = valid_description(input.description.as_deref().unwrap_or_default())?;
    valid_deadline(input.deadline, now)?;
    let window = valid_window(input.window_start, input.window_end)?;
    let spec = valid_spec(input.deadline, input.duration_minutes, window)?;
    if let Some(capacity) = input.capacity {
        if !(1..=CAPACITY_MAX).contains(&capacity) {
            return Err(AppError::invalid("capacity", format!("The capacity must be between 1 and {CAPACITY_MAX}.")));
        }
    }
    let time_zone = input.time_zone.unwrap_or_else(|| "UTC".to_owned());
    if time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(AppError::invalid("time_zone", format!("Unknown time zone {}; use an IANA name such as Europe/Berlin.", excerpt(&time_zone))));
    }
    Ok(ValidEvent { name, description, spec, capacity: input.capacity, time_zone, reminder: input.reminder })
}

/// What an organizer's edit leaves of the event: every field, the unchanged ones as they were.
#[derive(Clone, PartialEq)]
pub(crate) struct ValidEdit {
    pub name: String,
    pub description: String,
    pub spec: EventSpec,
    pub answers_hidden: bool,
}

/// The event as `current` (name, description, spec, hidden) changed by `input` at `now`.
pub(super) fn validate_edit(current: ValidEdit, input: EditEventInput, now: DateTime<Utc>) -> Result<ValidEdit, AppError> {
    let name = input.name.as_deref().map(valid_name).transpose()?.unwrap_or(current.name);
    let description = input.description.as_deref().map(valid_description).transpose()?.unwrap_or(current.description);
    let deadline = match input.deadline.as_deref().map(|text| instant("deadline", text)).transpose()? {
        Some(deadline) => valid_deadline(deadline, now).map(|()| deadline)?,
        None => current.spec.deadline(),
    };
    let window = match (input.window_start, input.window_end) {
        (None, None) => current.spec.window(),
        (Some(start), Some(end)) => {
            let start = start.as_deref().map(|text| instant("window_start", text)).transpose()?;
            let end = end.as_deref().map(|text| instant("window_end", text)).transpose()?;
            valid_window(start, end)?
        }
        _ => return Err(AppError::invalid("window_start", "Change the start and the end of the window together (both null: no window).")),
    };
    let duration = input.duration_minutes.unwrap_or(current.spec.duration_minutes());
    let spec = valid_spec(deadline, duration, window)?;
    Ok(ValidEdit { name, description, spec, answers_hidden: input.answers_hidden.unwrap_or(current.answers_hidden) })
}

/// An RFC 3339 instant of field `field`.
fn instant(field: &str, text: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(text)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| AppError::invalid(field, format!("{} is not a date and time (RFC 3339, such as 2030-01-08T09:00:00Z).", excerpt(text))))
}

fn valid_name(name: &str) -> Result<String, AppError> {
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(AppError::invalid("name", "Give the event a name."));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid("name", "The name cannot contain tabs, line breaks or other control characters."));
    }
    if name.chars().count() > NAME_MAX {
        return Err(AppError::invalid("name", format!("The name can be at most {NAME_MAX} characters long.")));
    }
    Ok(name)
}

fn valid_description(description: &str) -> Result<String, AppError> {
    // Browsers send a textarea's line breaks as CRLF: kept as LF.
    let description = description.replace("\r\n", "\n").trim().to_owned();
    if description.chars().any(|character| character.is_control() && character != '\n' && character != '\t') {
        return Err(AppError::invalid("description", "The description cannot contain control characters (line breaks and tabs are fine)."));
    }
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(AppError::invalid("description", format!("The description can be at most {DESCRIPTION_MAX} characters long.")));
    }
    Ok(description)
}

fn valid_deadline(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), AppError> {
    if deadline <= now {
        return Err(AppError::invalid("deadline", "The response deadline must be in the future."));
    }
    if !Minute::ceil(deadline).is_supported() || Minute::ceil(deadline) >= SUPPORTED_END {
        return Err(AppError::invalid("deadline", "The response deadline is too far in the future."));
    }
    real_instant("deadline", deadline)
}

/// chrono reads a leap second (`12:00:60`) and would echo it back, which most clients cannot
/// parse; no deadline or window needs one.
fn real_instant(field: &str, at: DateTime<Utc>) -> Result<(), AppError> {
    if at.nanosecond() >= 1_000_000_000 {
        return Err(AppError::invalid(field, "Seconds run from 00 to 59."));
    }
    Ok(())
}

/// A window from both ends, or none from neither.
fn valid_window(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Result<Option<Interval>, AppError> {
    match (start, end) {
        (None, None) => Ok(None),
        (Some(start), Some(end)) => {
            real_instant("window_start", start)?;
            real_instant("window_end", end)?;
            let (start, end) = (Minute::ceil(start), Minute::floor(end));
            if !(start.is_supported() && end.is_supported()) {
                return Err(AppError::invalid("window_start", "The window must lie between the years 2000 and 2199."));
            }
            Ok(Some(Interval::new(start, end).ok_or_else(|| AppError::invalid("window_end", "The window must end after it starts."))?))
        }
        _ => Err(AppError::invalid("window_start", "Give both the start and the end of the window, or neither.")),
    }
}

pub(super) fn valid_spec(deadline: DateTime<Utc>, duration_minutes: u32, window: Option<Interval>) -> Result<EventSpec, AppError> {
    EventSpec::new(deadline, duration_minutes, window).map_err(|error| match error {
        SpecError::Duration => AppError::invalid("duration_minutes", "The meeting length must be between 5 minutes and 24 hours."),
        SpecError::WindowTooShort => AppError::invalid("window_end", "The window is shorter than the meeting."),
        SpecError::WindowBeforeDeadline => AppError::invalid("window_end", "The window ends too soon: a meeting must fit in it after the deadline."),
    })
}

pub(super) fn parse_availability(input: AvailabilityInput) -> Result<Availability, AppError> {
    let availability = read_availability(input)?;
    // Counted as stored: if-need-be time around free time is kept in pieces.
    if availability.len() > text::MAX_INTERVALS {
        return Err(AppError::invalid(
            "intervals",
            format!("At most {} intervals in all (if-need-be time that free time splits counts once per piece).", text::MAX_INTERVALS),
        ));
    }
    Ok(availability)
}

fn read_availability(input: AvailabilityInput) -> Result<Availability, AppError> {
    match input {
        AvailabilityInput::Text { text, time_zone } => {
            let zone: chrono_tz::Tz = time_zone
                .parse()
                .map_err(|_| AppError::invalid("time_zone", format!("Unknown time zone {}.", excerpt(&time_zone))))?;
            if text.len() > text::MAX_TEXT_BYTES {
                return Err(AppError::invalid("text", format!("An answer can be at most {} KB of text.", text::MAX_TEXT_BYTES / 1024)));
            }
            if text.lines().filter(|line| !line.trim().is_empty()).nth(text::MAX_INTERVALS).is_some() {
                return Err(AppError::invalid("text", format!("An answer can have at most {} lines, one interval each.", text::MAX_INTERVALS)));
            }
            text::parse(&text, zone).map_err(|errors| AppError::InvalidLines {
                lines: errors
                    .0
                    .into_iter()
                    .map(|error| LineProblem { line: u32::try_from(error.line).unwrap_or(u32::MAX), message: error.kind.to_string() })
                    .collect(),
            })
        }
        AvailabilityInput::Intervals { intervals, if_need_be } => {
            if intervals.len() + if_need_be.len() > text::MAX_INTERVALS {
                return Err(AppError::invalid("intervals", format!("At most {} intervals in all.", text::MAX_INTERVALS)));
            }
            Ok(Availability::new(interval_set("intervals", &intervals)?, interval_set("if_need_be", &if_need_be)?))
        }
    }
}

/// The set `intervals` (the field `field`) make: only the whole minutes inside each count.
fn interval_set(field: &str, intervals: &[IntervalInput]) -> Result<IntervalSet, AppError> {
    intervals
        .iter()
        .enumerate()
        .map(|(index, interval)| {
            let (start, end) = (Minute::ceil(interval.start), Minute::floor(interval.end));
            if !(start.is_supported() && end.is_supported()) {
                return Err(AppError::invalid(field, format!("Interval {}: outside the supported dates.", index + 1)));
            }
            Interval::new(start, end)
                .ok_or_else(|| AppError::invalid(field, format!("Interval {}: the end must be at least a minute after the start.", index + 1)))
        })
        .collect()
}

/// How a calendar file is read for an event of `spec`: the query's zone and hours, over the
/// time a meeting may take as far as the grid shows it (its first 56 local days, counted from
/// the day the time starts, as the page lays them out), so nothing is suggested unseen.
pub(super) fn calendar_reading(query: &CalendarFileQuery, spec: &EventSpec) -> Result<Reading, AppError> {
    let zone: chrono_tz::Tz = query.time_zone.parse().map_err(|_| AppError::invalid("time_zone", format!("Unknown time zone {}.", excerpt(&query.time_zone))))?;
    let time = |field: &str, typed: Option<&str>, default: u32| -> Result<Option<NaiveTime>, AppError> {
        match typed {
            None => Ok(NaiveTime::from_hms_opt(default, 0, 0)),
            Some("24:00") if field == "day_end" => Ok(None),
            Some(typed) => (typed.len() == 5 && typed.as_bytes()[2] == b':' && typed.bytes().filter(u8::is_ascii_digit).count() == 4)
                .then(|| NaiveTime::parse_from_str(typed, "%H:%M").ok())
                .flatten()
                .map(Some)
                .ok_or_else(|| AppError::invalid(field, format!("{} is not a time of day like 08:00.", excerpt(typed)))),
        }
    };
    let day_start = time("day_start", query.day_start.as_deref(), 8)?.unwrap_or(NaiveTime::MIN);
    let day_end = time("day_end", query.day_end.as_deref(), 20)?;
    if day_end.is_some_and(|end| end <= day_start) {
        return Err(AppError::invalid("day_end", "The day must end after it starts."));
    }
    let start = spec.earliest_start();
    let first_day = start.to_utc().with_timezone(&zone).date_naive();
    let grid_end = first_day.checked_add_days(chrono::Days::new(OPEN_ENDED_DAYS.unsigned_abs())).map(|day| Minute::floor(local_instant(zone, day, NaiveTime::MIN)));
    let end = match (spec.window().map(Interval::end), grid_end) {
        (Some(window), Some(grid)) => window.min(grid),
        (window, grid) => window.or(grid).unwrap_or_else(|| start.plus(OPEN_ENDED_DAYS * 24 * 60)),
    }
    // An answer holds nothing past the supported dates.
    .min(SUPPORTED_END);
    let span = Interval::new(start, end).ok_or(AppError::DeadlinePassed)?;
    Ok(Reading { zone, span, day_start, day_end })
}
