//! Whenly's time model and the one function that decides an event.
//!
//! Pure (no I/O, no async runtime) so the browser (wasm32), the server and the event nodes link
//! the same rules:
//! - [`time`]: UTC minutes, half-open intervals, normalized interval sets;
//! - [`text`]: the seed text format in an IANA time zone (a trailing `?`: if need be);
//! - [`spec`]: an event's spec and a participant's answer;
//! - [`outcome()`]: scheduled slot, best effort, or undefined;
//! - [`partial`]: a node's summary of the answers it holds, and how summaries merge.

pub mod outcome;
pub mod partial;
pub mod spec;
pub mod text;
pub mod time;

pub use outcome::{outcome, BestEffort, Outcome};
pub use partial::Partial;
pub use spec::{Answer, Availability, EventSpec, ParticipantId, SpecError};
pub use time::{Interval, IntervalSet, Minute};

/// Shortest meeting an organizer may ask for, in minutes.
pub const MIN_DURATION_MINUTES: u32 = 5;
/// Longest meeting an organizer may ask for, in minutes (24 h).
pub const MAX_DURATION_MINUTES: u32 = 24 * 60;

/// Whether `minutes` is an allowed meeting length.
pub fn is_valid_duration(minutes: u32) -> bool {
    (MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_bounds_are_inclusive() {
        assert!(!is_valid_duration(4));
        assert!(is_valid_duration(5));
        assert!(is_valid_duration(1440));
        assert!(!is_valid_duration(1441));
    }
}
