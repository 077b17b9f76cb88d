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

/// What an organizer fills in to create an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateEventInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub deadline: DateTime<Utc>,
    pub duration_minutes: u32,
    #[serde(default)]
    pub window_start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub window_end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub capacity: Option<u32>,
    /// IANA time zone for display; default `UTC`.
    #[serde(default)]
    pub time_zone: Option<String>,
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
    pub status: EventStatus,
    pub participant_count: u32,
    pub is_participant: bool,
    pub is_organizer: bool,
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
    /// `slot` suits everyone who answered; `common` is all the time they share.
    Scheduled { slot: SlotView, common: Vec<SlotView> },
    /// No slot suits everyone; `best_effort` is the earliest slot with the most people free.
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
    /// Usernames of those free for the whole slot, and of those who answered but are not.
    pub available: Vec<String>,
    pub unavailable: Vec<String>,
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
            Outcome::Scheduled { slot, common } => {
                Self::Scheduled { slot: (*slot).into(), common: common.intervals().iter().copied().map(SlotView::from).collect() }
            }
            Outcome::NoSolution { best_effort } => Self::NoSolution {
                best_effort: best_effort.as_ref().map(|best| BestEffortView {
                    slot: best.slot.into(),
                    available: best.available.iter().copied().map(&username).collect(),
                    unavailable: best.unavailable.iter().copied().map(&username).collect(),
                }),
            },
        }
    }
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
/// answer, joined and answered, and finished (decided or cancelled), each by deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MyEvents {
    pub organized: Vec<EventSummary>,
    pub pending: Vec<EventSummary>,
    pub answered: Vec<EventSummary>,
    pub finished: Vec<EventSummary>,
}

/// An answer: intervals, or the seed text format read in a time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum AvailabilityInput {
    Intervals { intervals: Vec<IntervalInput> },
    Text { text: String, time_zone: String },
}

/// `[start, end)`; only the whole minutes inside count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IntervalInput {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// How many answered participants are free over time: a step function as sorted, disjoint
/// segments (times where nobody is free are left out). The page turns it into the heatmap.
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
    pub free: u32,
}

impl Heatmap {
    /// The fewest people free at any moment of `[start, end)`.
    pub fn free_throughout(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> u32 {
        let mut covered_until = start;
        let mut fewest = u32::MAX;
        for segment in self.segments.iter().filter(|segment| segment.end > start && segment.start < end) {
            if segment.start > covered_until {
                return 0;
            }
            fewest = fewest.min(segment.free);
            covered_until = segment.end;
        }
        if covered_until < end { 0 } else { fewest }
    }
}

/// Everything the event page shows, in one round trip. `my_answer` and `heatmap` are only
/// for participants (`my_answer` is `None` until they answer); the organizer is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPageData {
    pub event: EventView,
    pub my_answer: Option<Vec<SlotView>>,
    pub heatmap: Option<Heatmap>,
}
