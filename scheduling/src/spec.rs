//! What an event asks for ([`EventSpec`]) and what a participant says ([`Answer`]).

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

/// One participant's availability. A later `version` replaces an earlier one; `(participant,
/// version)` identifies the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub participant: ParticipantId,
    pub version: u64,
    pub availability: IntervalSet,
}
