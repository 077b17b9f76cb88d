//! Events as the pages and the REST API show them. The server builds these from the database;
//! the wire shapes are the REST API's (DESIGN.md §4). The server functions the pages call are
//! in [`calls`].

pub mod calls;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest event name, in characters.
pub const NAME_MAX: usize = 120;
/// Longest event description, in characters.
pub const DESCRIPTION_MAX: usize = 2000;
/// Largest capacity an organizer may set.
pub const CAPACITY_MAX: u32 = 10_000;

// Instants in inputs carry a `pattern` in the OpenAPI schema (RFC 3339 with a `T` and an
// offset): OpenAPI 3.1's `format` is only an annotation, so without it `""` would be a valid
// date-time. It is written out on each field because utoipa takes attribute literals.

/// What an organizer fills in to create an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateEventInput {
    /// Trimmed; no control characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 120))]
    pub name: String,
    /// Trimmed; line breaks and tabs allowed, no other control characters.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 2000))]
    pub description: Option<String>,
    /// In the future, before 2200.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))]
    pub deadline: DateTime<Utc>,
    /// The meeting's length: 5 minutes to 24 hours.
    #[cfg_attr(feature = "ssr", schema(minimum = 5, maximum = 1440))]
    #[serde(deserialize_with = "whole_number::required")]
    pub duration_minutes: u32,
    /// With `window_end`, or neither: when the meeting may take place (years 2000–2199).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))]
    pub window_start: Option<DateTime<Utc>>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))]
    pub window_end: Option<DateTime<Utc>>,
    /// The most participants, organizer included.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10000))]
    pub capacity: Option<u32>,
    /// IANA time zone for display; default `UTC`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 64, example = "Europe/Berlin"))]
    pub time_zone: Option<String>,
    /// When participants who have not answered are reminded; default 24 hours before the
    /// deadline. No reminder is sent if the deadline is too close for it (less than the lead
    /// plus one hour after creation).
    #[serde(default)]
    pub reminder: Reminder,
}

/// What an organizer changes before the deadline; every field is optional and an absent one
/// stays as it is. Answers are kept whatever changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EditEventInput {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 120))]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 2000))]
    pub description: Option<String>,
    /// A new deadline in the future (later: extended; earlier: closes sooner). Instants here
    /// are RFC 3339 text, read by the server: one that does not exist is a 422 naming it.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))]
    pub deadline: Option<String>,
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[cfg_attr(feature = "ssr", schema(minimum = 5, maximum = 1440))]
    pub duration_minutes: Option<u32>,
    /// With `window_end`: both instants set the window, both `null` remove it, neither keeps it.
    #[serde(default, deserialize_with = "present::optional")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))]
    pub window_start: Option<Option<String>>,
    #[serde(default, deserialize_with = "present::optional")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))]
    pub window_end: Option<Option<String>>,
    /// Participants see only how many answered and how many can come, not who.
    #[serde(default)]
    pub answers_hidden: Option<bool>,
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
mod present {
    use serde::{Deserialize, Deserializer};

    pub fn optional<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// How long before the deadline the participants who have not answered are reminded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reminder {
    None,
    #[serde(rename = "1h")]
    OneHour,
    #[default]
    #[serde(rename = "24h")]
    OneDay,
}

impl Reminder {
    /// Minutes before the deadline (0: no reminder).
    pub const fn minutes(self) -> u32 {
        match self {
            Self::None => 0,
            Self::OneHour => 60,
            Self::OneDay => 24 * 60,
        }
    }

    /// The choice stored as `minutes` (anything unknown: none).
    pub const fn from_minutes(minutes: u32) -> Self {
        match minutes {
            60 => Self::OneHour,
            1440 => Self::OneDay,
            _ => Self::None,
        }
    }
}

/// Where an event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Before the deadline: answers can be given and changed.
    Open,
    /// The deadline passed; the outcome is being computed.
    Deciding,
    /// The outcome is stored.
    Finished,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ParticipantView {
    pub username: String,
    pub answered: bool,
}

/// One event. `participants` is only filled for its participants and organizer: anyone else
/// with the code sees what they need to decide whether to join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventView {
    pub code: String,
    pub name: String,
    pub description: String,
    pub organizer: String,
    pub deadline: DateTime<Utc>,
    pub duration_minutes: u32,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub capacity: Option<u32>,
    pub time_zone: String,
    /// The reminder the organizer chose (whether it is sent depends on the deadline's distance).
    pub reminder: Reminder,
    pub status: EventStatus,
    pub participant_count: u32,
    /// How many participants have answered (also when answers are hidden); 0 for those who
    /// have not joined.
    #[serde(default)]
    pub answered_count: u32,
    /// The organizer hides who answered and who can come: the other participants see counts.
    #[serde(default)]
    pub answers_hidden: bool,
    pub is_participant: bool,
    pub is_organizer: bool,
    /// Not for those who have not joined, nor for participants while answers are hidden.
    pub participants: Option<Vec<ParticipantView>>,
    /// Also only for participants and the organizer.
    pub outcome: Option<OutcomeView>,
}

/// An event's outcome as the pages and the REST API show it: tagged by `status`, times in
/// RFC 3339 UTC (pages convert to the viewer's zone), people by username.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OutcomeView {
    /// The deadline has not passed, or the outcome is being computed.
    Pending,
    /// Everyone who answered can come during `slot`. `if_need_be` names who would come only if
    /// need be (empty: everyone is free; a slot everyone is free for always wins over an earlier
    /// one that needs someone's if-need-be time). `common` is all the time they share: free
    /// time, or free-or-if-need-be time when someone is named in `if_need_be`.
    Scheduled {
        slot: SlotView,
        common: Vec<SlotView>,
        /// Empty for participants while answers are hidden; `if_need_be_count` says how many.
        #[serde(default)]
        if_need_be: Vec<String>,
        #[serde(default)]
        if_need_be_count: u32,
    },
    /// No slot suits everyone; `best_effort` is the slot the most people can come to (then the
    /// fewest of them only if need be, then the earliest).
    NoSolution { best_effort: Option<BestEffortView> },
    /// Nobody answered.
    Undefined,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SlotView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BestEffortView {
    pub slot: SlotView,
    /// Usernames of those free for the whole slot, of those who could come only if need be, and
    /// of those who answered but cannot come (empty for participants while answers are
    /// hidden: the counts say how many).
    pub available: Vec<String>,
    #[serde(default)]
    pub if_need_be: Vec<String>,
    pub unavailable: Vec<String>,
    #[serde(default)]
    pub available_count: u32,
    #[serde(default)]
    pub if_need_be_count: u32,
    #[serde(default)]
    pub unavailable_count: u32,
}

#[cfg(feature = "ssr")]
impl From<scheduling::Interval> for SlotView {
    fn from(interval: scheduling::Interval) -> Self {
        Self { start: interval.start().to_utc(), end: interval.end().to_utc() }
    }
}

#[cfg(feature = "ssr")]
impl OutcomeView {
    /// The view of a decided outcome; `username` names a participant id.
    pub fn decided(outcome: &scheduling::Outcome, username: impl Fn(scheduling::ParticipantId) -> String) -> Self {
        use scheduling::Outcome;
        match outcome {
            Outcome::Undefined => Self::Undefined,
            Outcome::Scheduled { slot, common, if_need_be } => Self::Scheduled {
                slot: (*slot).into(),
                common: common.intervals().iter().copied().map(SlotView::from).collect(),
                if_need_be: if_need_be.iter().copied().map(&username).collect(),
                if_need_be_count: count(if_need_be),
            },
            Outcome::NoSolution { best_effort } => Self::NoSolution {
                best_effort: best_effort.as_ref().map(|best| BestEffortView {
                    slot: best.slot.into(),
                    available: best.available.iter().copied().map(&username).collect(),
                    if_need_be: best.if_need_be.iter().copied().map(&username).collect(),
                    unavailable: best.unavailable.iter().copied().map(&username).collect(),
                    available_count: count(&best.available),
                    if_need_be_count: count(&best.if_need_be),
                    unavailable_count: count(&best.unavailable),
                }),
            },
        }
    }
}

/// People named in an outcome, or while the organizer hides the names, how many: "alice, bob",
/// "2 people", "nobody".
pub fn people(names: &[String], count: u32) -> String {
    match (names.is_empty(), count) {
        (false, _) => names.join(", "),
        (true, 0) => "nobody".to_owned(),
        (true, 1) => "1 person".to_owned(),
        (true, count) => format!("{count} people"),
    }
}

impl OutcomeView {
    /// The outcome with counts but no names, for participants while answers are hidden.
    pub fn without_names(mut self) -> Self {
        match &mut self {
            Self::Scheduled { if_need_be, .. } => if_need_be.clear(),
            Self::NoSolution { best_effort: Some(best) } => {
                best.available.clear();
                best.if_need_be.clear();
                best.unavailable.clear();
            }
            Self::NoSolution { best_effort: None } | Self::Pending | Self::Undefined | Self::Cancelled => {}
        }
        self
    }
}

#[cfg(feature = "ssr")]
fn count<T>(people: &[T]) -> u32 {
    u32::try_from(people.len()).unwrap_or(u32::MAX)
}

/// A line in the dashboard. `outcome` is filled for finished events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventSummary {
    pub code: String,
    pub name: String,
    pub deadline: DateTime<Utc>,
    pub status: EventStatus,
    pub answered: bool,
    pub outcome: Option<OutcomeView>,
}

/// The signed-in user's events: organized (and not finished), joined and waiting for their
/// answer, joined and answered (soonest deadline first), and finished (decided or cancelled,
/// newest first). Each list holds its first [`EVENTS_PER_PAGE`]; `more` says how many each
/// leaves out, to be read page by page from `GET /api/v1/me/events/search?list=…`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MyEvents {
    pub organized: Vec<EventSummary>,
    pub pending: Vec<EventSummary>,
    pub answered: Vec<EventSummary>,
    pub finished: Vec<EventSummary>,
    #[serde(default)]
    pub more: ListCounts,
}

/// A number per dashboard list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ListCounts {
    pub organized: u32,
    pub pending: u32,
    pub answered: u32,
    pub finished: u32,
}

/// Events per page of the dashboard's lists and of a search.
pub const EVENTS_PER_PAGE: u32 = 20;
/// The longest name filter, in characters.
pub const QUERY_MAX: usize = 120;

impl EventStatus {
    /// The status a query parameter names (`open`, `deciding`, `finished`, `cancelled`).
    pub fn from_query(text: &str) -> Option<Self> {
        [Self::Open, Self::Deciding, Self::Finished, Self::Cancelled].into_iter().find(|status| status.as_query() == text)
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open for answers",
            Self::Deciding => "Picking the time",
            Self::Finished => "Decided",
            Self::Cancelled => "Cancelled",
        }
    }

    pub fn as_query(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Deciding => "deciding",
            Self::Finished => "finished",
            Self::Cancelled => "cancelled",
        }
    }
}

impl EventList {
    /// The list a query parameter names (`organized`, `pending`, `answered`, `finished`).
    pub fn from_query(text: &str) -> Option<Self> {
        [Self::Organized, Self::Pending, Self::Answered, Self::Finished].into_iter().find(|list| list.as_query() == text)
    }

    pub fn as_query(self) -> &'static str {
        match self {
            Self::Organized => "organized",
            Self::Pending => "pending",
            Self::Answered => "answered",
            Self::Finished => "finished",
        }
    }
}

/// One of the dashboard's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventList {
    Organized,
    Pending,
    Answered,
    Finished,
}

/// Which of the user's events to find: every filter is optional; `page` counts from 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct EventSearch {
    /// Part of the name, any case.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(max_length = 120))]
    pub q: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(inline))]
    pub status: Option<EventStatus>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(inline))]
    pub list: Option<EventList>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 100000))]
    pub page: Option<u32>,
}

/// One page of found events, soonest deadline first (newest first when only finished or
/// cancelled ones can match).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventResults {
    pub items: Vec<EventSummary>,
    /// How many match in all.
    pub total: u32,
    pub page: u32,
    pub pages: u32,
}

/// How far ahead an event without a window can be answered in the grid, and how far a
/// calendar file is read for one (the text form has no limit).
pub const OPEN_ENDED_DAYS: i64 = 56;

/// The largest calendar file read (a busy calendar exported over years is a few MB).
pub const CALENDAR_FILE_MAX_BYTES: usize = 8 * 1024 * 1024;

/// How `POST /api/v1/events/{code}/availability/from-calendar` reads a calendar file: in the
/// participant's zone, offering each day's hours from `day_start` to `day_end` (the grid's
/// 08:00 to 20:00 unless given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct CalendarFileQuery {
    /// The participant's zone: for the file's times without one (and all-day dates) and for
    /// the day's hours.
    #[cfg_attr(feature = "ssr", param(max_length = 64, example = "Europe/Berlin"))]
    pub time_zone: String,
    /// `HH:MM`, default `08:00`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(pattern = r"^[0-9]{2}:[0-9]{2}$", example = "08:00"))]
    pub day_start: Option<String>,
    /// `HH:MM` (or `24:00`), after `day_start`; default `20:00`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", param(pattern = r"^[0-9]{2}:[0-9]{2}$", example = "20:00"))]
    pub day_end: Option<String>,
}

/// The answer a calendar file suggests, for review: nothing is saved. Free where the file has
/// nothing in the hours offered, if need be where it has only tentative events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CalendarSuggestion {
    pub free: Vec<SlotView>,
    pub if_need_be: Vec<SlotView>,
    /// Busy or tentative occurrences the file has in the event's time.
    pub events: u32,
    /// Events the file has that could not be read into the event's time (a date or rule that
    /// breaks the standard, or a series repeating too often to follow): their times are not in
    /// the suggestion, so the participant should check them.
    pub unread: u32,
    /// Set when the calendar leaves more separate times than an answer holds (200): the
    /// suggestion then covers only the time before this instant.
    pub filled_until: Option<DateTime<Utc>>,
}

/// An answer: intervals, or the seed text format read in a time zone. Time in neither is
/// busy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum AvailabilityInput {
    /// At most 200 intervals in all. Where an `if_need_be` interval overlaps a free one, free
    /// counts.
    Intervals {
        /// Free.
        #[cfg_attr(feature = "ssr", schema(max_items = 200))]
        intervals: Vec<IntervalInput>,
        /// Possible only if need be.
        #[serde(default)]
        #[cfg_attr(feature = "ssr", schema(max_items = 200))]
        if_need_be: Vec<IntervalInput>,
    },
    /// The seed text format: one `YYYY-MM-DD HH:mm - YYYY-MM-DD HH:mm` per line, followed by
    /// `?` for time possible only if need be; at most 200 non-blank lines and 64 KB, read in
    /// `time_zone`.
    Text {
        #[cfg_attr(feature = "ssr", schema(max_length = 65536))]
        text: String,
        #[cfg_attr(feature = "ssr", schema(max_length = 64, example = "Europe/Berlin"))]
        time_zone: String,
    },
}

/// `[start, end)`; only the whole minutes inside count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IntervalInput {
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))]
    pub start: DateTime<Utc>,
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))]
    pub end: DateTime<Utc>,
}

/// How many answered participants are free, and how many more only if need be, over time: a
/// step function as sorted, disjoint segments (times where nobody can come are left out). The
/// page turns it into the heatmap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Heatmap {
    /// How many participants have answered: the most anyone can see free at once.
    pub answered: u32,
    pub segments: Vec<HeatSegment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HeatSegment {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Free.
    pub free: u32,
    /// Not free, but able to come if need be.
    pub if_need_be: u32,
}

impl Heatmap {
    /// The fewest people free at any moment of `[start, end)`.
    pub fn free_throughout(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> u32 {
        self.throughout(start, end).0
    }

    /// The fewest people free, and the fewest able to come (free or if need be), at any
    /// moment of `[start, end)`.
    pub fn throughout(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> (u32, u32) {
        let mut covered_until = start;
        let (mut free, mut possible) = (u32::MAX, u32::MAX);
        for segment in self.segments.iter().filter(|segment| segment.end > start && segment.start < end) {
            if segment.start > covered_until {
                return (0, 0);
            }
            free = free.min(segment.free);
            possible = possible.min(segment.free.saturating_add(segment.if_need_be));
            covered_until = segment.end;
        }
        if covered_until < end { (0, 0) } else { (free, possible) }
    }
}

/// A participant's own answer as their page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerView {
    pub free: Vec<SlotView>,
    pub if_need_be: Vec<SlotView>,
}

/// Everything the event page shows, in one round trip. `my_answer` and `heatmap` are only
/// for participants (`my_answer` is `None` until they answer); the organizer is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPageData {
    pub event: EventView,
    pub my_answer: Option<AnswerView>,
    pub heatmap: Option<Heatmap>,
}

/// What every member's open event page shows alike, as one message of the event's live stream
/// (`GET /api/v1/events/{code}/live`, `event: update`, its `id` the generation). Sent when the
/// stream opens and after each change (a join, an answer, a leave, the cancellation, the
/// outcome), at most about four times a second; each message is the whole shared state, so a
/// client that missed some needs only the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveEvent {
    /// Grows with every change; the stream's event id (`Last-Event-ID` on reconnect).
    pub generation: i64,
    pub status: EventStatus,
    /// What the organizer may change before the deadline.
    pub name: String,
    pub description: String,
    pub deadline: DateTime<Utc>,
    pub duration_minutes: u32,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub answers_hidden: bool,
    pub participant_count: u32,
    pub answered_count: u32,
    /// Empty while answers are hidden (the organizer's page reads them from the event).
    pub participants: Vec<ParticipantView>,
    pub heatmap: Heatmap,
    /// Without names while answers are hidden.
    pub outcome: OutcomeView,
}

/// JSON numbers as JSON Schema's `integer` reads them: `860.0` is the whole number 860 (some
/// clients write every number with a fraction), `860.5` and out-of-range values are refused.
mod whole_number {
    use serde::de::{self, Deserializer, Visitor};

    struct WholeNumber;

    impl Visitor<'_> for WholeNumber {
        type Value = u32;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a whole number from 0 to 4294967295")
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<u32, E> {
            u32::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(value), &self))
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<u32, E> {
            u32::try_from(value).map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<u32, E> {
            let whole = value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value);
            if whole { Ok(value as u32) } else { Err(E::invalid_value(de::Unexpected::Float(value), &self)) }
        }
    }

    struct MaybeWholeNumber;

    impl<'de> Visitor<'de> for MaybeWholeNumber {
        type Value = Option<u32>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a whole number or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<u32>, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<u32>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u32>, D::Error> {
            required(deserializer).map(Some)
        }
    }

    pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        deserializer.deserialize_any(WholeNumber)
    }

    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
        deserializer.deserialize_option(MaybeWholeNumber)
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Deserialize)]
        struct Input {
            #[serde(deserialize_with = "super::required")]
            length: u32,
            #[serde(default, deserialize_with = "super::optional")]
            seats: Option<u32>,
        }

        fn read(json: &str) -> Option<(u32, Option<u32>)> {
            serde_json::from_str::<Input>(json).ok().map(|input| (input.length, input.seats))
        }

        #[test]
        fn whole_numbers_in_any_notation_and_nothing_else() {
            assert_eq!(read(r#"{"length": 60}"#), Some((60, None)));
            assert_eq!(read(r#"{"length": 860.0, "seats": 3.0}"#), Some((860, Some(3))));
            assert_eq!(read(r#"{"length": 60, "seats": null}"#), Some((60, None)));
            for bad in [r#"{"length": 60.5}"#, r#"{"length": -1}"#, r#"{"length": 4294967296}"#, r#"{"length": "60"}"#, r#"{"length": 1e300}"#] {
                assert_eq!(read(bad), None, "{bad}");
            }
        }
    }
}
