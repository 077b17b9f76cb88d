//! Minutes, half-open intervals and normalized interval sets: the vocabulary of availability.
//!
//! Everything is UTC at minute resolution, so set operations are exact integer arithmetic and
//! the browser, the server and the nodes agree to the minute.

use std::fmt;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// An instant at minute resolution: whole minutes since 1970-01-01T00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Minute(pub i64);

/// The first instant Whenly accepts (2000-01-01T00:00Z).
pub const SUPPORTED_START: Minute = Minute(946_684_800 / 60);
/// The end of the instants Whenly accepts (2200-01-01T00:00Z, exclusive).
pub const SUPPORTED_END: Minute = Minute(7_258_118_400 / 60);

impl Minute {
    /// The minute containing `instant` (seconds dropped).
    pub fn floor(instant: DateTime<Utc>) -> Self {
        Self(instant.timestamp().div_euclid(60))
    }

    /// The first whole minute at or after `instant`.
    pub fn ceil(instant: DateTime<Utc>) -> Self {
        let floor = Self::floor(instant);
        if instant.second() == 0 && instant.nanosecond() == 0 { floor } else { Self(floor.0 + 1) }
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.0 * 60, 0).single().unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    pub fn plus(self, minutes: i64) -> Self {
        Self(self.0 + minutes)
    }

    /// Whether the instant is inside [`SUPPORTED_START`], [`SUPPORTED_END`].
    pub fn is_supported(self) -> bool {
        (SUPPORTED_START..=SUPPORTED_END).contains(&self)
    }
}

impl fmt::Display for Minute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_utc().format("%Y-%m-%dT%H:%MZ"))
    }
}

/// A non-empty half-open interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "IntervalWire", into = "IntervalWire")]
pub struct Interval {
    start: Minute,
    end: Minute,
}

#[derive(Serialize, Deserialize)]
struct IntervalWire {
    start: Minute,
    end: Minute,
}

impl TryFrom<IntervalWire> for Interval {
    type Error = &'static str;
    fn try_from(wire: IntervalWire) -> Result<Self, Self::Error> {
        Interval::new(wire.start, wire.end).ok_or("interval end must be after its start")
    }
}

impl From<Interval> for IntervalWire {
    fn from(interval: Interval) -> Self {
        Self { start: interval.start, end: interval.end }
    }
}

impl Interval {
    /// `[start, end)`, or `None` when it would be empty (`end <= start`).
    pub fn new(start: Minute, end: Minute) -> Option<Self> {
        (start < end).then_some(Self { start, end })
    }

    /// `[start, start + minutes)`, for `minutes > 0`.
    pub fn starting_at(start: Minute, minutes: i64) -> Option<Self> {
        Self::new(start, start.plus(minutes))
    }

    pub fn start(self) -> Minute {
        self.start
    }

    pub fn end(self) -> Minute {
        self.end
    }

    pub fn minutes(self) -> i64 {
        self.end.0 - self.start.0
    }

    pub fn contains(self, minute: Minute) -> bool {
        self.start <= minute && minute < self.end
    }

    /// Whether `other` lies wholly inside `self`.
    pub fn covers(self, other: Interval) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    pub fn intersection(self, other: Interval) -> Option<Interval> {
        Interval::new(self.start.max(other.start), self.end.min(other.end))
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// A normalized set of minutes: sorted, disjoint, non-touching intervals. Every constructor
/// normalizes, so two sets holding the same minutes are equal (`==`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<Interval>", into = "Vec<Interval>")]
pub struct IntervalSet {
    intervals: Vec<Interval>,
}

impl From<Vec<Interval>> for IntervalSet {
    fn from(intervals: Vec<Interval>) -> Self {
        Self::from_intervals(intervals)
    }
}

impl From<IntervalSet> for Vec<Interval> {
    fn from(set: IntervalSet) -> Self {
        set.intervals
    }
}

impl FromIterator<Interval> for IntervalSet {
    fn from_iter<I: IntoIterator<Item = Interval>>(iter: I) -> Self {
        Self::from_intervals(iter.into_iter().collect())
    }
}

impl IntervalSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sorts and merges overlapping and touching intervals.
    pub fn from_intervals(mut intervals: Vec<Interval>) -> Self {
        intervals.sort_unstable();
        let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
        for interval in intervals {
            match merged.last_mut() {
                Some(last) if interval.start <= last.end => last.end = last.end.max(interval.end),
                _ => merged.push(interval),
            }
        }
        Self { intervals: merged }
    }

    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// Total minutes covered.
    pub fn total_minutes(&self) -> i64 {
        self.intervals.iter().map(|interval| interval.minutes()).sum()
    }

    pub fn contains(&self, minute: Minute) -> bool {
        let index = self.intervals.partition_point(|interval| interval.end <= minute);
        self.intervals.get(index).is_some_and(|interval| interval.contains(minute))
    }

    /// Whether every minute of `slot` is in the set.
    pub fn covers(&self, slot: Interval) -> bool {
        let index = self.intervals.partition_point(|interval| interval.end <= slot.start);
        self.intervals.get(index).is_some_and(|interval| interval.covers(slot))
    }

    /// The minutes in either set, in one linear merge.
    pub fn union(&self, other: &IntervalSet) -> IntervalSet {
        let (mut left, mut right) = (self.intervals.iter().peekable(), other.intervals.iter().peekable());
        let mut merged: Vec<Interval> = Vec::with_capacity(self.intervals.len() + other.intervals.len());
        loop {
            let next = match (left.peek(), right.peek()) {
                (Some(a), Some(b)) if a.start <= b.start => left.next(),
                (Some(_), Some(_)) | (None, Some(_)) => right.next(),
                (Some(_), None) => left.next(),
                (None, None) => break,
            };
            let Some(&interval) = next else { break };
            match merged.last_mut() {
                Some(last) if interval.start <= last.end => last.end = last.end.max(interval.end),
                _ => merged.push(interval),
            }
        }
        Self { intervals: merged }
    }

    /// The minutes in both sets, in one linear merge.
    pub fn intersection(&self, other: &IntervalSet) -> IntervalSet {
        let (mut left, mut right) = (self.intervals.iter().peekable(), other.intervals.iter().peekable());
        let mut result = Vec::new();
        while let (Some(&&a), Some(&&b)) = (left.peek(), right.peek()) {
            if let Some(common) = a.intersection(b) {
                result.push(common);
            }
            if a.end <= b.end {
                left.next();
            } else {
                right.next();
            }
        }
        // Pieces of normalized inputs are already sorted and cannot touch each other.
        Self { intervals: result }
    }

    /// The minutes of this set that are not in `other`, in one linear merge.
    pub fn difference(&self, other: &IntervalSet) -> IntervalSet {
        let mut result = Vec::new();
        let mut cut = other.intervals.iter().peekable();
        for &interval in &self.intervals {
            let mut start = interval.start;
            while let Some(&&hole) = cut.peek() {
                if hole.end <= start {
                    cut.next();
                    continue;
                }
                if hole.start >= interval.end {
                    break;
                }
                if hole.start > start {
                    result.push(Interval { start, end: hole.start });
                }
                start = start.max(hole.end);
                if hole.end >= interval.end {
                    break;
                }
                cut.next();
            }
            if start < interval.end {
                result.push(Interval { start, end: interval.end });
            }
        }
        // Pieces of one normalized interval are separated by the holes between them.
        Self { intervals: result }
    }

    /// The part of the set inside `window`.
    pub fn clip(&self, window: Interval) -> IntervalSet {
        Self { intervals: self.clipped(window).collect() }
    }

    /// [`Self::clip`] without building a set: the pieces inside `window`, in order.
    pub fn clipped(&self, window: Interval) -> impl Iterator<Item = Interval> + '_ {
        let first = self.intervals.partition_point(|interval| interval.end <= window.start);
        self.intervals[first..]
            .iter()
            .take_while(move |interval| interval.start < window.end)
            .filter_map(move |interval| interval.intersection(window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: i64, end: i64) -> Interval {
        Interval::new(Minute(start), Minute(end)).unwrap()
    }

    fn set(pairs: &[(i64, i64)]) -> IntervalSet {
        pairs.iter().map(|&(s, e)| iv(s, e)).collect()
    }

    #[test]
    fn empty_intervals_cannot_exist() {
        assert_eq!(Interval::new(Minute(5), Minute(5)), None);
        assert_eq!(Interval::new(Minute(6), Minute(5)), None);
        assert!(serde_json::from_str::<Interval>(r#"{"start":5,"end":5}"#).is_err());
    }

    #[test]
    fn normalization_sorts_and_merges_overlapping_and_touching() {
        let normalized = set(&[(30, 40), (0, 10), (10, 20), (5, 8), (35, 50), (60, 61)]);
        assert_eq!(normalized.intervals(), &[iv(0, 20), iv(30, 50), iv(60, 61)]);
        assert_eq!(normalized.total_minutes(), 20 + 20 + 1);
    }

    #[test]
    fn union_and_intersection() {
        let a = set(&[(0, 10), (20, 30)]);
        let b = set(&[(5, 25), (30, 40)]);
        assert_eq!(a.union(&b), set(&[(0, 40)]));
        assert_eq!(a.intersection(&b), set(&[(5, 10), (20, 25)]));
        // Touching is not overlapping: [20,30) ∩ [30,40) is empty.
        assert_eq!(set(&[(20, 30)]).intersection(&set(&[(30, 40)])), IntervalSet::new());
        assert_eq!(a.intersection(&IntervalSet::new()), IntervalSet::new());
        assert_eq!(a.difference(&b), set(&[(0, 5), (25, 30)]));
        assert_eq!(set(&[(0, 100)]).difference(&set(&[(10, 20), (30, 40), (90, 120)])), set(&[(0, 10), (20, 30), (40, 90)]));
        assert_eq!(a.difference(&IntervalSet::new()), a);
    }

    #[test]
    fn clip_keeps_only_the_window() {
        let a = set(&[(0, 10), (20, 30), (40, 50)]);
        assert_eq!(a.clip(iv(5, 45)), set(&[(5, 10), (20, 30), (40, 45)]));
        assert_eq!(a.clip(iv(10, 20)), IntervalSet::new());
    }

    #[test]
    fn covers_and_contains_respect_half_open_ends() {
        let a = set(&[(0, 10)]);
        assert!(a.contains(Minute(0)) && a.contains(Minute(9)) && !a.contains(Minute(10)));
        assert!(a.covers(iv(0, 10)) && !a.covers(iv(5, 11)));
    }

    #[test]
    fn minute_rounding() {
        let exact = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
        assert_eq!(Minute::ceil(exact), Minute::floor(exact));
        let late = exact + chrono::Duration::seconds(1);
        assert_eq!(Minute::ceil(late), Minute::floor(exact).plus(1));
        assert_eq!(Minute::floor(late).to_utc(), exact);
    }
}
