//! What an event asks for ([`EventSpec`]) and what a participant says ([`Answer`]).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time::{Interval, IntervalSet, Minute};
use crate::{MAX_DURATION_MINUTES, MIN_DURATION_MINUTES};

/// A participant's stable id (the server's participant row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParticipantId(pub u64);

/// The scheduling-relevant part of an event, validated at construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EventSpecWire", into = "EventSpecWire")]
pub struct EventSpec {
    deadline: DateTime<Utc>,
    duration_minutes: u32,
    window: Option<Interval>,
}

#[derive(Serialize, Deserialize)]
struct EventSpecWire {
    deadline: DateTime<Utc>,
    duration_minutes: u32,
    window: Option<Interval>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("the meeting length must be between {MIN_DURATION_MINUTES} minutes and 24 hours")]
    Duration,
    #[error("the window is shorter than the meeting")]
    WindowTooShort,
    #[error("the window ends before the deadline: no meeting could fit")]
    WindowBeforeDeadline,
}

impl EventSpec {
    /// A spec whose duration is 5 min – 24 h and whose window, if any, can hold one meeting
    /// after the deadline.
    pub fn new(deadline: DateTime<Utc>, duration_minutes: u32, window: Option<Interval>) -> Result<Self, SpecError> {
        if !(MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&duration_minutes) {
            return Err(SpecError::Duration);
        }
        if let Some(window) = window {
            if window.minutes() < i64::from(duration_minutes) {
                return Err(SpecError::WindowTooShort);
            }
            if window.end() < Minute::ceil(deadline).plus(i64::from(duration_minutes)) {
                return Err(SpecError::WindowBeforeDeadline);
            }
        }
        Ok(Self { deadline, duration_minutes, window })
    }

    pub fn deadline(&self) -> DateTime<Utc> {
        self.deadline
    }

    pub fn duration_minutes(&self) -> u32 {
        self.duration_minutes
    }

    pub fn window(&self) -> Option<Interval> {
        self.window
    }

    /// The first minute a meeting may start: the deadline rounded up to a whole minute, or the
    /// window's start if later.
    pub fn earliest_start(&self) -> Minute {
        let after_deadline = Minute::ceil(self.deadline);
        self.window.map_or(after_deadline, |window| after_deadline.max(window.start()))
    }

    /// The minutes a meeting may occupy: from [`Self::earliest_start`] to the window's end
    /// (or the end of the supported range).
    pub fn bounds(&self) -> Option<Interval> {
        let end = self.window.map_or(crate::time::SUPPORTED_END, Interval::end);
        Interval::new(self.earliest_start(), end)
    }
}

impl TryFrom<EventSpecWire> for EventSpec {
    type Error = SpecError;
    fn try_from(wire: EventSpecWire) -> Result<Self, SpecError> {
        EventSpec::new(wire.deadline, wire.duration_minutes, wire.window)
    }
}

impl From<EventSpec> for EventSpecWire {
    fn from(spec: EventSpec) -> Self {
        Self { deadline: spec.deadline, duration_minutes: spec.duration_minutes, window: spec.window }
    }
}

/// What a participant says, before it becomes a versioned [`Answer`]: free minutes, and
/// minutes possible only if need be (never free ones: [`Availability::new`] takes those out).
///
/// Serialized (the server stores it so) as the free intervals alone when there is no
/// if-need-be time, the form every answer had before "if need be" existed, and as
/// `{"free": [...], "if_need_be": [...]}` otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AvailabilityWire", into = "AvailabilityWire")]
pub struct Availability {
    pub free: IntervalSet,
    pub if_need_be: IntervalSet,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum AvailabilityWire {
    Free(IntervalSet),
    Both { free: IntervalSet, if_need_be: IntervalSet },
}

impl From<AvailabilityWire> for Availability {
    fn from(wire: AvailabilityWire) -> Self {
        match wire {
            AvailabilityWire::Free(free) => Self { free, if_need_be: IntervalSet::new() },
            AvailabilityWire::Both { free, if_need_be } => Self::new(free, if_need_be),
        }
    }
}

impl From<Availability> for AvailabilityWire {
    fn from(availability: Availability) -> Self {
        if availability.if_need_be.is_empty() {
            Self::Free(availability.free)
        } else {
            Self::Both { free: availability.free, if_need_be: availability.if_need_be }
        }
    }
}

impl Availability {
    pub fn new(free: IntervalSet, if_need_be: IntervalSet) -> Self {
        let if_need_be = if if_need_be.is_empty() { if_need_be } else { if_need_be.difference(&free) };
        Self { free, if_need_be }
    }

    /// How many intervals it holds in all.
    pub fn len(&self) -> usize {
        self.free.intervals().len() + self.if_need_be.intervals().len()
    }

    pub fn is_empty(&self) -> bool {
        self.free.is_empty() && self.if_need_be.is_empty()
    }
}

/// One participant's answer: the minutes they are free, and the minutes they could make only
/// if need be. A later `version` replaces an earlier one; `(participant, version)` identifies
/// the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub participant: ParticipantId,
    pub version: u64,
    /// Free.
    pub availability: IntervalSet,
    /// Possible, if need be. [`Answer::new`] keeps it apart from `availability`; where the two
    /// overlap anyway, free counts. Answers stored before "if need be" existed have none.
    #[serde(default)]
    pub if_need_be: IntervalSet,
}

impl Answer {
    /// An answer whose if-need-be minutes are only those that are not free.
    pub fn new(participant: ParticipantId, version: u64, free: IntervalSet, if_need_be: IntervalSet) -> Self {
        Self::of(participant, version, Availability::new(free, if_need_be))
    }

    pub fn of(participant: ParticipantId, version: u64, availability: Availability) -> Self {
        Self { participant, version, availability: availability.free, if_need_be: availability.if_need_be }
    }

    /// An answer with free minutes only.
    pub fn free(participant: ParticipantId, version: u64, free: IntervalSet) -> Self {
        Self { participant, version, availability: free, if_need_be: IntervalSet::new() }
    }

    /// What the answer says, without its participant and version.
    pub fn availability(&self) -> Availability {
        Availability { free: self.availability.clone(), if_need_be: self.if_need_be.clone() }
    }

    /// The minutes the participant can make at all: free or if need be.
    pub fn possible(&self) -> Cow<'_, IntervalSet> {
        if self.if_need_be.is_empty() {
            Cow::Borrowed(&self.availability)
        } else {
            Cow::Owned(self.availability.union(&self.if_need_be))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Interval, Minute};

    fn set(pairs: &[(i64, i64)]) -> IntervalSet {
        pairs.iter().map(|&(s, e)| Interval::new(Minute(s), Minute(e)).unwrap()).collect()
    }

    #[test]
    fn availability_is_stored_as_before_without_if_need_be_time() {
        let free_only = Availability::new(set(&[(0, 60)]), IntervalSet::new());
        let json = serde_json::to_string(&free_only).unwrap();
        assert!(json.starts_with('['), "{json}");
        assert_eq!(serde_json::from_str::<Availability>(&json).unwrap(), free_only);
        let both = Availability::new(set(&[(0, 60)]), set(&[(30, 90)]));
        assert_eq!(both.if_need_be, set(&[(60, 90)]));
        let json = serde_json::to_string(&both).unwrap();
        assert_eq!(serde_json::from_str::<Availability>(&json).unwrap(), both);
        // A stored object with overlapping sets is read with free winning.
        let raw = r#"{"free":[{"start":0,"end":60}],"if_need_be":[{"start":0,"end":90}]}"#;
        assert_eq!(serde_json::from_str::<Availability>(raw).unwrap(), both);
    }
}
