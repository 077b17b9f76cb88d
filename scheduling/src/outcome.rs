//! `outcome()`: the one function that decides an event (DESIGN.md §1 "Outcome"). The event
//! nodes, the server's verification and the tests all call it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::{Answer, EventSpec, ParticipantId};
use crate::time::{Interval, IntervalSet, Minute};

/// Serialized in serde's default (externally tagged) form, which binary RPC formats support;
/// the REST API renders its own `status`-tagged DTO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Nobody answered.
    Undefined,
    /// Everyone who answered is free during `slot`, the earliest one; `common` is all the time
    /// they share where a meeting may be (after the deadline, inside the window).
    Scheduled { slot: Interval, common: IntervalSet },
    /// No slot suits everyone. `best_effort` is the earliest slot with the most people free,
    /// or `None` when nobody is free long enough.
    NoSolution { best_effort: Option<BestEffort> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BestEffort {
    pub slot: Interval,
    /// Free for the whole slot, by id.
    pub available: Vec<ParticipantId>,
    /// Answered but not free for the whole slot, by id.
    pub unavailable: Vec<ParticipantId>,
}

/// Decides an event from its answers. If several answers name one participant, the highest
/// version counts. Deterministic: the earliest slot wins, participants are listed by id.
pub fn outcome<'a>(spec: &EventSpec, answers: impl IntoIterator<Item = &'a Answer>) -> Outcome {
    let latest = latest_answers(answers);
    match intersect_all(latest.values().copied()) {
        Some(common) => decide(spec, &latest, &common),
        None => Outcome::Undefined,
    }
}

/// The minutes every answer shares; `None` when there are no answers.
pub(crate) fn intersect_all<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> Option<IntervalSet> {
    let mut answers = answers.into_iter();
    let first = answers.next()?.availability.clone();
    Some(answers.fold(first, |common, answer| common.intersection(&answer.availability)))
}

/// [`outcome`] when the caller already holds the answers' intersection (a node's partial).
pub(crate) fn decide(spec: &EventSpec, latest: &BTreeMap<ParticipantId, &Answer>, common: &IntervalSet) -> Outcome {
    if latest.is_empty() {
        return Outcome::Undefined;
    }
    let duration = i64::from(spec.duration_minutes());
    let Some(bounds) = spec.bounds() else {
        return Outcome::NoSolution { best_effort: None };
    };
    let common = common.clip(bounds);
    if let Some(start) = common.intervals().iter().find(|free| free.minutes() >= duration).map(|free| free.start()) {
        let slot = Interval::starting_at(start, duration).expect("duration is positive");
        return Outcome::Scheduled { slot, common };
    }
    Outcome::NoSolution { best_effort: best_effort(latest, bounds, duration) }
}

/// The highest version per participant.
pub(crate) fn latest_answers<'a>(answers: impl IntoIterator<Item = &'a Answer>) -> BTreeMap<ParticipantId, &'a Answer> {
    let mut latest: BTreeMap<ParticipantId, &Answer> = BTreeMap::new();
    for answer in answers {
        latest
            .entry(answer.participant)
            .and_modify(|held| {
                if answer.version > held.version {
                    *held = answer;
                }
            })
            .or_insert(answer);
    }
    latest
}

/// A sweep over slot *start* times. A participant free during `[s, e)` (within bounds) can
/// attend any slot starting in `[s, e - duration]`; the earliest start covered by the most
/// such ranges wins. Each participant's ranges are disjoint, so coverage counts people.
fn best_effort(latest: &BTreeMap<ParticipantId, &Answer>, bounds: Interval, duration: i64) -> Option<BestEffort> {
    // Events packed as (minute << 1) | kind, kind 0 = a range ends, 1 = a range starts, so one
    // integer sort orders them by time with ends first (ranges are half-open).
    let mut events: Vec<i64> = Vec::new();
    for answer in latest.values() {
        for free in answer.availability.clip(bounds).intervals() {
            if free.minutes() >= duration {
                let first_start = free.start().0;
                let past_last_start = free.end().0 - duration + 1;
                events.push((first_start << 1) | 1);
                events.push(past_last_start << 1);
            }
        }
    }
    events.sort_unstable();

    let (mut coverage, mut best_count, mut best_start) = (0usize, 0usize, None);
    let mut index = 0;
    while index < events.len() {
        let minute = events[index] >> 1;
        while index < events.len() && events[index] >> 1 == minute {
            if events[index] & 1 == 1 {
                coverage += 1;
            } else {
                coverage -= 1;
            }
            index += 1;
        }
        if coverage > best_count {
            best_count = coverage;
            best_start = Some(Minute(minute));
        }
    }

    let slot = Interval::starting_at(best_start?, duration)?;
    let (available, unavailable) = latest.iter().fold((Vec::new(), Vec::new()), |(mut yes, mut no), (id, answer)| {
        if answer.availability.covers(slot) { yes.push(*id) } else { no.push(*id) }
        (yes, no)
    });
    Some(BestEffort { slot, available, unavailable })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::spec::SpecError;

    /// Minutes after 2030-01-07 09:00Z (a Monday), the tests' origin.
    fn at(minutes: i64) -> Minute {
        Minute::floor(origin()).plus(minutes)
    }

    fn origin() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0).unwrap()
    }

    fn iv(start: i64, end: i64) -> Interval {
        Interval::new(at(start), at(end)).unwrap()
    }

    fn answer(id: u64, version: u64, free: &[(i64, i64)]) -> Answer {
        Answer {
            participant: ParticipantId(id),
            version,
            availability: free.iter().map(|&(s, e)| iv(s, e)).collect(),
        }
    }

    fn spec(duration: u32) -> EventSpec {
        EventSpec::new(origin(), duration, None).unwrap()
    }

    fn scheduled_slot(outcome: &Outcome) -> Interval {
        match outcome {
            Outcome::Scheduled { slot, .. } => *slot,
            other => panic!("expected scheduled, got {other:?}"),
        }
    }

    fn best(outcome: Outcome) -> Option<BestEffort> {
        match outcome {
            Outcome::NoSolution { best_effort } => best_effort,
            other => panic!("expected no solution, got {other:?}"),
        }
    }

    #[test]
    fn nobody_answered_is_undefined() {
        assert_eq!(outcome(&spec(30), &[]), Outcome::Undefined);
    }

    #[test]
    fn earliest_common_slot_and_the_whole_common_time() {
        let answers = [answer(1, 1, &[(0, 120), (300, 400)]), answer(2, 1, &[(60, 180), (320, 360)])];
        let decided = outcome(&spec(30), &answers);
        assert_eq!(decided, Outcome::Scheduled { slot: iv(60, 90), common: [iv(60, 120), iv(320, 360)].into_iter().collect() });
    }

    #[test]
    fn touching_intervals_join_into_one_long_enough() {
        // 0–30 and 30–60 are one free hour.
        let answers = [answer(1, 1, &[(0, 30), (30, 60)])];
        assert_eq!(scheduled_slot(&outcome(&spec(60), &answers)), iv(0, 60));
    }

    #[test]
    fn deadline_inside_a_free_interval_starts_at_the_next_whole_minute() {
        let deadline = origin() + chrono::Duration::seconds(20 * 60 + 30);
        let spec = EventSpec::new(deadline, 30, None).unwrap();
        let answers = [answer(1, 1, &[(-60, 60)])];
        assert_eq!(scheduled_slot(&outcome(&spec, &answers)), iv(21, 51));
        // Exactly on a minute: that minute.
        let on_minute = EventSpec::new(origin() + chrono::Duration::minutes(20), 30, None).unwrap();
        assert_eq!(scheduled_slot(&outcome(&on_minute, &answers)), iv(20, 50));
    }

    #[test]
    fn slot_may_end_exactly_at_the_window_end_but_not_past_it() {
        let window = iv(60, 120);
        let spec = EventSpec::new(origin(), 60, Some(window)).unwrap();
        assert_eq!(scheduled_slot(&outcome(&spec, &[answer(1, 1, &[(0, 240)])])), iv(60, 120));
        let late = [answer(1, 1, &[(90, 240)])];
        assert_eq!(best(outcome(&spec, &late)), None, "only 30 minutes inside the window");
    }

    #[test]
    fn duration_longer_than_any_common_time_gives_the_best_effort() {
        let answers = [answer(1, 1, &[(0, 60)]), answer(2, 1, &[(30, 120)]), answer(3, 1, &[(40, 100)])];
        let best = best(outcome(&spec(60), &answers)).unwrap();
        // 2 and 3 can both do 40–100; 1 and 2 can never both do an hour.
        assert_eq!(best.slot, iv(40, 100));
        assert_eq!(best.available, vec![ParticipantId(2), ParticipantId(3)]);
        assert_eq!(best.unavailable, vec![ParticipantId(1)]);
    }

    #[test]
    fn best_effort_ties_go_to_the_earliest_slot() {
        let answers = [answer(1, 1, &[(0, 30)]), answer(2, 1, &[(100, 130)]), answer(3, 1, &[])];
        let best = best(outcome(&spec(30), &answers)).unwrap();
        assert_eq!(best.slot, iv(0, 30));
        assert_eq!(best.available, vec![ParticipantId(1)]);
        assert_eq!(best.unavailable, vec![ParticipantId(2), ParticipantId(3)]);
    }

    #[test]
    fn an_empty_answer_makes_full_overlap_impossible() {
        let answers = [answer(1, 1, &[(0, 60)]), answer(2, 1, &[])];
        let best = best(outcome(&spec(30), &answers)).unwrap();
        assert_eq!(best.slot, iv(0, 30));
        assert_eq!(best.unavailable, vec![ParticipantId(2)]);
    }

    #[test]
    fn nobody_free_long_enough_has_no_best_effort() {
        let answers = [answer(1, 1, &[(0, 20)]), answer(2, 1, &[(40, 50)])];
        assert_eq!(best(outcome(&spec(30), &answers)), None);
    }

    #[test]
    fn time_before_the_deadline_does_not_count() {
        let answers = [answer(1, 1, &[(-120, 10)])];
        assert_eq!(best(outcome(&spec(30), &answers)), None);
    }

    #[test]
    fn the_highest_version_of_an_answer_counts_in_any_order() {
        let old = answer(1, 1, &[(0, 60)]);
        let new = answer(1, 2, &[(200, 260)]);
        let other = answer(2, 1, &[(200, 300)]);
        for answers in [[old.clone(), new.clone(), other.clone()], [new.clone(), other.clone(), old.clone()]] {
            assert_eq!(scheduled_slot(&outcome(&spec(60), &answers)), iv(200, 260));
        }
    }

    #[test]
    fn spec_rules() {
        assert_eq!(EventSpec::new(origin(), 4, None), Err(SpecError::Duration));
        assert_eq!(EventSpec::new(origin(), 1441, None), Err(SpecError::Duration));
        assert_eq!(EventSpec::new(origin(), 61, Some(iv(0, 60))), Err(SpecError::WindowTooShort));
        assert_eq!(EventSpec::new(origin(), 30, Some(iv(-100, 20))), Err(SpecError::WindowBeforeDeadline));
        assert!(EventSpec::new(origin(), 5, Some(iv(-100, 5))).is_ok());
    }
}
